"""The framed push protocol between ``historian replicate`` and ``historian receive``.

A frame is a 4-byte big-endian length and a UTF-8 JSON header; a header with ``"size"`` is
followed by that many raw bytes (a file or a commit). The sender speaks first and pushes:

``hello`` (the source's table id and newest version) -> ``resume`` (the copy's newest version);
then per version ``file`` (path, size, SHA-256, bytes) ..., optional ``aux`` (checkpoint, head
record, tag catalog), ``commit`` (version, size, SHA-256, bytes) -> ``ack`` (version).
The receiver answers only ``resume``, ``ack`` and ``error``: there is no request for data.
"""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

from historian.errors import ReplicationProtocolError as ProtocolError

MAX_HEADER = 1 << 20  # a header is small JSON; anything larger is refused
CHUNK = 1 << 20
PUSH_OPS = ("hello", "file", "aux", "commit", "seed", "delete", "bye")
REPLY_OPS = ("resume", "ack", "error")
__all__ = ["ProtocolError", "recv", "recv_exact", "send"]


def send(sock: socket.socket | ssl.SSLSocket, header: dict[str, Any], body: bytes = b"") -> None:
    """Send one frame (``header`` and, when given, ``body`` whose length is ``header["size"]``)."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(len(raw).to_bytes(4, "big") + raw + body)


def recv_exact(sock: socket.socket | ssl.SSLSocket, n: int) -> bytes:
    """Exactly ``n`` bytes; :class:`ProtocolError` when the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), CHUNK))
        if not chunk:
            raise ProtocolError(f"the peer closed the connection ({len(buf)} of {n} bytes read)")
        buf += chunk
    return bytes(buf)


def recv(sock: socket.socket | ssl.SSLSocket, allowed: tuple[str, ...]) -> dict[str, Any]:
    """One header whose ``op`` is in ``allowed`` (anything else is a :class:`ProtocolError`)."""
    n = int.from_bytes(recv_exact(sock, 4), "big")
    if n > MAX_HEADER:
        raise ProtocolError(f"a frame header of {n} bytes is over the limit of {MAX_HEADER}")
    try:
        header = json.loads(recv_exact(sock, n))
    except ValueError as exc:
        raise ProtocolError(f"a frame header is not JSON ({exc})") from exc
    if not isinstance(header, dict) or header.get("op") not in allowed:
        op = header.get("op") if isinstance(header, dict) else None
        raise ProtocolError(f"unexpected message {op!r} (this side accepts {', '.join(allowed)})")
    return header
