"""A TCP forwarder on 127.0.0.1 that a test can kill and freeze: an object-storage outage.

One thread with a selector forwards bytes between clients and the target (the moto server):

- :meth:`TcpProxy.kill`: the listening socket and every connection are closed; new connections
  are refused until :meth:`TcpProxy.restore` listens on the same port again.
- :meth:`TcpProxy.freeze`: connections are still accepted and read, but nothing is forwarded
  in either direction (a hung endpoint or a black-holing network; :attr:`TcpProxy.swallowed`
  counts the bytes dropped); :meth:`TcpProxy.thaw` closes the stalled connections (clients see
  them reset and reconnect) and forwards again. Stalled bytes are dropped, never delivered
  late, so a request that timed out did not reach the server.

Every state change is made by the proxy thread itself and acknowledged before the call returns.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import threading


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` (chosen by the OS) to ``target``.

    Examples
    --------
    >>> srv = socket.create_server(("127.0.0.1", 0))
    >>> proxy = TcpProxy(srv.getsockname())
    >>> proxy.url.startswith("http://127.0.0.1:")
    True
    >>> proxy.kill(); proxy.state
    'killed'
    >>> proxy.close(); srv.close()
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = (target[0], int(target[1]))
        self._sel = selectors.DefaultSelector()
        self._listener: socket.socket | None = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._peer: dict[socket.socket, socket.socket] = {}
        self._held: list[socket.socket] = []
        self.state = "up"
        self.accepted = 0  # connections accepted (any state)
        self.swallowed = 0  # bytes received while frozen (dropped)
        self._cmds: queue.Queue[tuple[str, threading.Event]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="s3-proxy", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ control
    def kill(self) -> None:
        """Close everything: connections are refused until :meth:`restore`."""
        self._command("kill")

    def restore(self) -> None:
        """Listen again on the same port after :meth:`kill`."""
        self._command("restore")

    def freeze(self) -> None:
        """Accept connections but forward nothing, until :meth:`thaw`."""
        self._command("freeze")

    def thaw(self) -> None:
        """Drop the stalled connections and forward again."""
        self._command("thaw")

    def close(self) -> None:
        """Stop the thread and close every socket."""
        if self._thread.is_alive():
            self._command("stop")
            self._thread.join(timeout=10)
        self._sel.close()

    def _command(self, what: str) -> None:
        done = threading.Event()
        self._cmds.put((what, done))
        if not done.wait(timeout=10):
            raise RuntimeError(f"the proxy did not {what} within 10 s")

    # ------------------------------------------------------------------ the thread
    def _listen(self, port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        s.setblocking(False)
        self._sel.register(s, selectors.EVENT_READ)
        return s

    def _close_all(self) -> None:
        for s in list(self._peer) + self._held:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(s)
            s.close()
        self._peer.clear()
        self._held.clear()

    def _apply(self, what: str) -> bool:
        if what in ("kill", "stop") and self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None
        if what in ("kill", "stop", "thaw"):
            self._close_all()
        if what == "restore" and self._listener is None:
            self._listener = self._listen(self.port)
        self.state = {"kill": "killed", "freeze": "frozen"}.get(what, "up")
        return what != "stop"

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        if self.state == "frozen":
            conn.setblocking(False)
            self._held.append(conn)
            self._sel.register(conn, selectors.EVENT_READ)
            return
        try:
            up = socket.create_connection(self.target, timeout=5)
        except OSError:
            conn.close()
            return
        for s in (conn, up):
            s.settimeout(5)  # sendall below may wait for a full buffer, not forever
            self._sel.register(s, selectors.EVENT_READ)
        self._peer[conn], self._peer[up] = up, conn

    def _swallow(self, s: socket.socket) -> None:
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        self.swallowed += len(data)
        if not data:  # closed by the other side: close the pair
            peer = self._peer.pop(s, None)
            for x in (s, peer):
                if x is None:
                    continue
                self._peer.pop(x, None)
                if x in self._held:
                    self._held.remove(x)
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(x)
                x.close()

    def _forward(self, s: socket.socket) -> None:
        peer = self._peer.get(s)
        try:
            data = s.recv(65536)
            if data and peer is not None:
                peer.sendall(data)
        except OSError:
            data = b""
        if not data or peer is None:
            for x in (s, peer):
                if x is not None and x in self._peer:
                    self._sel.unregister(x)
                    self._peer.pop(x, None)
                    x.close()

    def _run(self) -> None:
        try:
            while True:
                while not self._cmds.empty():
                    what, done = self._cmds.get()
                    running = self._apply(what)
                    done.set()
                    if not running:
                        return
                for key, _ in self._sel.select(timeout=0.05):
                    s = key.fileobj
                    if s is self._listener:
                        self._accept()
                    elif self.state == "frozen" and (s in self._peer or s in self._held):
                        self._swallow(s)  # type: ignore[arg-type]
                    elif isinstance(s, socket.socket) and s in self._peer:
                        self._forward(s)
        finally:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._close_all()
