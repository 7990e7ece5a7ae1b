"""The IT-side receiver (``historian receive STORE --listen HOST:PORT``): TLS 1.3, mTLS, push only.

It accepts a connection only from a sender whose client certificate the given CA signed, then
applies what the sender pushes through :class:`~historian.gateway.sink.FolderSink` (hashes checked
before anything is committed). It answers with ``resume``, ``ack`` and ``error`` frames only:
there is no message that asks it for data, so a connection to it can never read the store.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from typing import Any

from historian.errors import HistorianError, StoreError
from historian.gateway import protocol
from historian.gateway.protocol import ProtocolError
from historian.gateway.sink import FolderSink

log = logging.getLogger(__name__)


def server_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    """TLS 1.3 only, this receiver's certificate, and a client certificate signed by ``client_ca``
    required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cafile=client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise StoreError(f"cannot load the TLS certificate, key or client CA ({exc})") from exc
    return ctx


class Receiver:
    """Listen on ``host:port`` and apply pushes to the copy at ``store``; one sender at a time.

    Examples
    --------
    >>> import tempfile, os
    >>> from historian.acquisition.pki import make_pki
    >>> d = tempfile.mkdtemp()
    >>> p = make_pki(os.path.join(d, "pki"))
    >>> r = Receiver(os.path.join(d, "it.hist"), "127.0.0.1", 0,
    ...              cert=p["server_cert"], key=p["server_key"], client_ca=p["ca_cert"])
    >>> r.port > 0
    True
    >>> r.close()
    """

    def __init__(self, store: Any, host: str, port: int, *, cert: str, key: str, client_ca: str,
                 storage_options: dict[str, Any] | None = None,
                 timeout: float = 60.0) -> None:  # fmt: skip
        self.store = store
        self.storage_options = storage_options
        self.timeout = timeout
        self.ctx = server_context(cert, key, client_ca)
        try:
            self.sock = socket.create_server((host, port))
        except OSError as exc:
            raise StoreError(f"cannot listen on {host}:{port} ({exc})") from exc
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.sessions = 0
        self.refused = 0

    def serve_forever(self) -> None:
        """Accept senders until :meth:`close` (each handled to its end before the next)."""
        self.sock.settimeout(0.5)
        while not self._stop.is_set():
            try:
                raw, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                raise
            raw.settimeout(self.timeout)
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                self.refused += 1
                log.warning("refused a connection from %s: %s", addr[0], exc)
                raw.close()
                continue
            with conn:
                self.sessions += 1
                self._session(conn, addr)

    def _session(self, conn: ssl.SSLSocket, addr: Any) -> None:
        peer = conn.getpeercert() or {}
        subject: Any = peer.get("subject", ())  # ((("commonName", "x"),), ...)
        who = dict(x[0] for x in subject if x).get("commonName", "?")
        log.info("sender %r connected from %s", who, addr[0])
        sink = None
        try:
            hello = protocol.recv(conn, ("hello",))
            sink = FolderSink(self.store, self.storage_options)
            sink.bind(str(hello.get("table_id")))
            v, sha = sink.newest()
            protocol.send(conn, {"op": "resume", "version": v, "sha256": sha})
            while True:
                msg = protocol.recv(conn, ("file", "aux", "commit", "seed", "delete", "bye"))
                op = msg["op"]
                if op == "bye":
                    return
                if op == "delete":
                    done = sink.delete(str(msg.get("path")))
                    protocol.send(conn, {"op": "ack", "deleted": done})
                    continue
                size = int(msg.get("size", -1))
                if not 0 <= size <= 1 << 40:
                    raise ProtocolError(f"a {op} frame with size {size}")
                if op == "file":
                    sink.put_file(str(msg.get("path")), size, msg.get("sha256"),
                                  _body(conn, size))  # fmt: skip
                elif op == "seed":
                    cp_size = int(msg.get("checkpoint_size", -1))
                    if not 0 <= cp_size <= 1 << 32:
                        raise ProtocolError(f"a seed frame with checkpoint size {cp_size}")
                    data = protocol.recv_exact(conn, size)
                    sink.seed(int(msg.get("version", -1)), data, protocol.recv_exact(conn, cp_size))
                    protocol.send(conn, {"op": "ack", "sha256": sink.newest()[1]})
                elif op == "aux":
                    sink.put_aux(str(msg.get("path")), protocol.recv_exact(conn, size))
                    protocol.send(conn, {"op": "ack"})
                else:
                    version = int(msg.get("version", -1))
                    sink.commit(version, protocol.recv_exact(conn, size))
                    protocol.send(conn, {"op": "ack", "version": version,
                                         "sha256": sink.newest()[1]})  # fmt: skip
        except HistorianError as exc:
            log.warning("sender %r from %s: %s (connection closed)", who, addr[0], exc)
            with contextlib.suppress(OSError):
                protocol.send(conn, {"op": "error", "message": str(exc)})
        except OSError as exc:
            log.warning("sender %r from %s went away: %s", who, addr[0], exc)
        finally:
            if sink is not None:
                sink.close()

    def close(self) -> None:
        """Stop accepting and close the listening socket."""
        self._stop.set()
        self.sock.close()


def _body(conn: ssl.SSLSocket, size: int) -> Any:
    left = size
    while left:
        chunk = conn.recv(min(left, protocol.CHUNK))
        if not chunk:
            raise ProtocolError(f"the sender closed the connection inside a file ({left} left)")
        left -= len(chunk)
        yield chunk


def receive(store: Any, listen: str, *, cert: str, key: str, client_ca: str,
            **options: Any) -> None:  # fmt: skip
    """Run a receiver for the copy ``store`` on ``listen`` (``HOST:PORT``) until interrupted."""
    host, _, port = listen.rpartition(":")
    r = Receiver(store, host.strip("[]") or "127.0.0.1", int(port), cert=cert, key=key,
                 client_ca=client_ca, **options)  # fmt: skip
    log.info("receiving pushes into %s on %s:%d (TLS 1.3, client certificates required)",
             store, host, r.port)  # fmt: skip
    try:
        r.serve_forever()
    finally:
        r.close()
