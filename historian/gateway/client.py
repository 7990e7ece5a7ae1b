"""The sender's side of a TLS receiver (``tls://HOST:PORT``): the same calls as a folder sink."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterable
from typing import Any

from historian.errors import StoreError
from historian.gateway import protocol
from historian.gateway.protocol import ProtocolError


def client_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """TLS 1.3 with this sender's client certificate, trusting only ``ca`` for the receiver."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        ctx.load_verify_locations(cafile=ca)
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise StoreError(f"cannot load the TLS certificate, key or CA ({exc})") from exc
    return ctx


class TLSSink:
    """A pushed connection to ``historian receive``; opened by the OT side."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext, timeout: float = 30.0) -> None:
        self.where = f"tls://{host}:{port}"
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise StoreError(f"cannot connect to the receiver {self.where} ({exc})") from exc
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=host)
        except (OSError, ssl.SSLError) as exc:
            raw.close()
            raise StoreError(f"TLS handshake with {self.where} failed ({exc})") from exc
        self._newest: tuple[int, str | None] = (-1, None)

    def _reply(self, allowed: tuple[str, ...]) -> dict[str, Any]:
        try:
            msg = protocol.recv(self.sock, (*allowed, "error"))
        except OSError as exc:
            raise StoreError(f"the receiver {self.where} went away ({exc})") from exc
        if msg["op"] == "error":
            raise StoreError(f"the receiver {self.where} refused: {msg.get('message')}")
        return msg

    def _send(self, header: dict[str, Any], body: bytes = b"") -> None:
        try:
            protocol.send(self.sock, header, body)
        except OSError as exc:
            raise StoreError(f"the receiver {self.where} went away ({exc})") from exc

    def bind(self, table_id: str) -> None:
        self._send({"op": "hello", "table_id": table_id})
        msg = self._reply(("resume",))
        self._newest = (int(msg["version"]), msg.get("sha256"))

    def newest(self) -> tuple[int, str | None]:
        return self._newest

    def has_file(self, rel: str, size: int) -> bool:
        return False  # the receiver says only where to resume; a redone version is resent

    def put_file(self, rel: str, size: int, sha256: str | None, chunks: Iterable[bytes]) -> int:
        self._send({"op": "file", "path": rel, "size": size, "sha256": sha256})
        n = 0
        try:
            for chunk in chunks:
                self.sock.sendall(chunk)
                n += len(chunk)
        except OSError as exc:
            raise StoreError(f"the receiver {self.where} went away ({exc})") from exc
        if n != size:
            raise StoreError(f"source file {rel} changed size while sent ({n} of {size})")
        return n

    def put_aux(self, rel: str, data: bytes) -> None:
        self._send({"op": "aux", "path": rel, "size": len(data)}, data)
        self._reply(("ack",))

    def commit(self, version: int, data: bytes) -> None:
        self._send({"op": "commit", "version": version, "size": len(data)}, data)
        msg = self._reply(("ack",))
        if msg.get("version") != version:
            raise ProtocolError(f"the receiver acked version {msg.get('version')}, not {version}")
        self._newest = (version, msg.get("sha256"))

    def seed(self, version: int, data: bytes, checkpoint: bytes) -> None:
        self._send({"op": "seed", "version": version, "size": len(data),
                    "checkpoint_size": len(checkpoint)}, data + checkpoint)  # fmt: skip
        msg = self._reply(("ack",))
        self._newest = (version, msg.get("sha256"))

    def delete(self, rel: str) -> bool:
        self._send({"op": "delete", "path": rel})
        return bool(self._reply(("ack",)).get("deleted"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            protocol.send(self.sock, {"op": "bye"})
        self.sock.close()
