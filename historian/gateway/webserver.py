"""The trend page over HTTPS: a small web page and its JSON API, beside the Flight SQL service.

``historian serve STORE --http HOST:PORT --tls-cert CERT --tls-key KEY`` (or
:func:`make_http_server`) serves, read-only:

- ``/`` and ``/static/...``: the page (files of ``historian/gateway/web/``, loaded once at
  start; nothing else on disk is reachable). The page holds no data and needs no token.
- ``/api/whoami``, ``/api/tags?q=``, ``/api/plot?tags=&start=&end=&width=``,
  ``/api/annotations?tags=&start=&end=``, ``/api/frames?start=&end=``,
  ``/api/export.csv?tags=&start=&end=&width=``: the answers of :mod:`historian.gateway.trend`.
  Every API request carries ``Authorization: Bearer hist_...`` (the tokens of
  ``historian token add``; the page keeps it in ``sessionStorage``, never in a URL), is
  limited to the token's tag patterns (a tag outside them is 403, and absent from searches),
  and is one line of the store's audit log (:mod:`historian.gateway.audit`), accepted or
  refused. The token file is read at every request: a revoked token is refused at once.
- GET only (anything else is 405, a request body is 413, a URL over 8 KiB is 414; at most
  ``max_connections`` connections at once, each idle one closed after 30 s);
  ``Content-Security-Policy`` without ``unsafe-inline`` (scripts and styles from the page's
  own origin only), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, no
  CORS headers (a page of another origin cannot read the answers).
- TLS (1.2 or newer) with the same PEM certificate and key as the Flight SQL service;
  plaintext only with ``insecure_loopback=True`` on a loopback address.

Examples
--------
>>> import historian, tempfile, threading, urllib.request
>>> from historian.gateway.webserver import make_http_server
>>> store = tempfile.mkdtemp()
>>> historian.open(store).close()
>>> server = make_http_server(store, "127.0.0.1:0", insecure_loopback=True)
>>> thread = threading.Thread(target=server.serve); thread.start()
>>> with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/") as page:
...     page.status, page.headers["X-Content-Type-Options"]
(200, 'nosniff')
>>> server.close(); thread.join()
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from historian.errors import (
    HistorianError,
    InvalidArgumentError,
    InvalidTimeError,
    TagNotFoundError,
)
from historian.gateway import trend
from historian.gateway.audit import AuditLog
from historian.gateway.serve import check_listen
from historian.gateway.tokens import Token, TokenFile

__all__ = ["TrendServer", "make_http_server"]

log = logging.getLogger(__name__)

_MAX_URL = 8192
_TIMEOUT_S = 30.0
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = (
    ("Content-Security-Policy", _CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
_PARAMS = ("q", "tags", "start", "end", "width")
_TOKEN_LIKE = re.compile(r"hist_[A-Za-z0-9_-]{8,}")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


class _Refusal(Exception):
    """An HTTP error answer (status and message), audited before it is sent."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def _load_static() -> dict[str, tuple[bytes, str]]:
    """Every file under ``web/``: URL path -> (bytes, content type)."""
    files: dict[str, tuple[bytes, str]] = {}
    root = resources.files("historian.gateway") / "web"

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif not entry.name.startswith("."):
                ext = os.path.splitext(entry.name)[1]
                kind = _TYPES.get(ext) or mimetypes.guess_type(entry.name)[0] or "text/plain"
                if kind.startswith("text/"):
                    kind += "; charset=utf-8"
                files[f"/static/{prefix}{entry.name}"] = (entry.read_bytes(), kind)

    walk(root, "")
    files["/"] = files["/static/index.html"]
    return files


class _Handler(BaseHTTPRequestHandler):
    """One connection; every method but GET is refused."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = _TIMEOUT_S
    server_version = "historian"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def do_GET(self) -> None:
        self.server.app.handle(self)

    def _not_allowed(self) -> None:
        self.close_connection = True
        self.server.app.send(
            self, HTTPStatus.METHOD_NOT_ALLOWED, b"only GET is served\n", "text/plain", allow=True
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _not_allowed

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0][:200]  # never the query string
        log.debug("%s %s %s %s", self.client_address[0], self.command, path, code)

    def log_error(self, format: str, *args: Any) -> None:
        log.debug("refused a malformed request from %s", self.client_address[0])


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(
        self, host: str, port: int, app: TrendServer, tls: ssl.SSLContext | None, max_conns: int
    ):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.max_conns = max_conns
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((host, port), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            full = len(self._conns) >= self.max_conns
            if not full:
                self._conns.add(request)
        if full:  # one thread per connection: refuse more than max_conns at once
            log.warning("trend page: %d connections open, refusing %s", self.max_conns,
                        client_address[0])  # fmt: skip
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Unblock every connection thread (idle keep-alive connections wait on a read)."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address[0], exc_info=True)


class TrendServer:
    """The trend page's HTTP(S) service over one store; made by :func:`make_http_server`."""

    def __init__(
        self, store: str, host: str, port: int, tls: ssl.SSLContext | None, max_connections: int
    ):
        import historian

        self._path = store
        self._static = _load_static()
        self._tokens = TokenFile(store)
        self._tokens.load()  # a damaged or shared tokens file stops the start, not a request
        self._audit = AuditLog(store)
        self._tls = tls is not None
        self._store = historian.open(store, mode="r")
        try:
            self._httpd = _HTTPServer(host, port, self, tls, max_connections)
        except OSError as exc:
            self._store.close()
            raise InvalidArgumentError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (a port in use?)"
            ) from exc
        except BaseException:
            self._store.close()
            raise
        self._serving = threading.Event()
        self._state_lock = threading.Lock()
        self._closed = False
        self._routes: dict[str, Callable[[Token, dict[str, str]], tuple[Any, int | None]]] = {
            "/api/whoami": self._whoami,
            "/api/tags": self._tags,
            "/api/plot": self._plot,
            "/api/annotations": self._annotations,
            "/api/frames": self._frames,
            "/api/export.csv": self._export,
        }

    @property
    def port(self) -> int:
        """The port listened on (the one picked when asked for port 0)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``https://HOST:PORT/`` (``http://`` without TLS)."""
        host = str(self._httpd.server_address[0])
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}/"

    # ------------------------------------------------------------------ lifecycle
    def serve(self) -> None:
        """Answer requests until :meth:`close` (call it from another thread)."""
        with self._state_lock:
            if self._closed:
                return
            self._serving.set()  # (a shutdown() from now on waits for serve_forever to end)
        self._httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        """Stop serving, end open connections, wait for their threads, close the store."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            serving = self._serving.is_set()
        if serving:
            self._httpd.shutdown()
        self._httpd.drop_connections()
        self._httpd.server_close()  # joins the connection threads
        self._store.close()

    def __enter__(self) -> TrendServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ answering
    def send(
        self,
        handler: BaseHTTPRequestHandler,
        status: HTTPStatus,
        body: bytes,
        kind: str,
        *,
        allow: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Write one answer with the security headers."""
        handler.send_response(status)
        for name, value in _HEADERS + extra:
            handler.send_header(name, value)
        if self._tls:
            handler.send_header("Strict-Transport-Security", "max-age=31536000")
        if allow:
            handler.send_header("Allow", "GET")
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Route one GET request."""
        if len(handler.path) > _MAX_URL:
            handler.close_connection = True
            self._error(handler, HTTPStatus.REQUEST_URI_TOO_LONG, f"URLs are at most {_MAX_URL}")
            return
        length = handler.headers.get("Content-Length", "0").strip()
        if length not in ("", "0") or handler.headers.get("Transfer-Encoding"):
            handler.close_connection = True
            self._error(handler, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "a GET carries no body")
            return
        url = urllib.parse.urlsplit(handler.path)
        if url.path.startswith("/api/"):
            self._api(handler, url)
            return
        found = self._static.get(url.path)
        if found is None:
            self._error(handler, HTTPStatus.NOT_FOUND, f"no page {url.path[:100]!r}")
            return
        self.send(handler, HTTPStatus.OK, found[0], found[1])

    def _error(self, handler: BaseHTTPRequestHandler, status: HTTPStatus, message: str) -> None:
        body = json.dumps({"error": message}).encode("utf-8")
        extra: tuple[tuple[str, str], ...] = ()
        if status == HTTPStatus.UNAUTHORIZED:
            extra = (("WWW-Authenticate", 'Bearer realm="historian"'),)
        self.send(handler, status, body, "application/json", extra=extra)

    def _api(self, handler: BaseHTTPRequestHandler, url: urllib.parse.SplitResult) -> None:
        started = time.perf_counter()
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        record: dict[str, Any] = {
            "token": None,
            "peer": f"http:{handler.client_address[0]}:{handler.client_address[1]}",
            "method": "GET",
            "command": url.path[:100],
            "sql": None,
            "params": _audit_params(params),
            "rows": None,
        }
        try:
            token = self._authenticate(handler, record)
            route = self._routes.get(url.path)
            if route is None:
                raise _Refusal(HTTPStatus.NOT_FOUND, f"no API {url.path[:100]!r}")
            body, record["rows"] = route(token, params)
        except _Refusal as exc:
            if not self._audited(record, started, str(exc)):
                exc = _Refusal(HTTPStatus.SERVICE_UNAVAILABLE, "the audit log cannot be written")
            self._error(handler, exc.status, str(exc))
            return
        if not self._audited(record, started, None):
            self._error(handler, HTTPStatus.SERVICE_UNAVAILABLE, "the audit log cannot be written")
            return
        if isinstance(body, str):
            self.send(
                handler,
                HTTPStatus.OK,
                body.encode("utf-8"),
                "text/csv; charset=utf-8",
                extra=(("Content-Disposition", 'attachment; filename="trend.csv"'),),
            )
        else:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            self.send(handler, HTTPStatus.OK, data, "application/json")

    def _authenticate(self, handler: BaseHTTPRequestHandler, record: dict[str, Any]) -> Token:
        header = handler.headers.get("Authorization") or ""
        presented = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            token = self._tokens.check(presented)
        except HistorianError as exc:
            log.error("trend page cannot check tokens: %s", exc)
            raise _Refusal(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "the service cannot check tokens right now (its operator sees why in the log)",
            ) from None
        if token is None:
            if presented is None:
                reason = "no bearer token"
            else:
                known = self._tokens.find(presented)
                reason = "revoked token" if known is not None else "unknown token"
                record["token"] = known.name if known is not None else None
            raise _Refusal(HTTPStatus.UNAUTHORIZED, f"{reason}: log in with a live token")
        record["token"] = token.name
        return token

    def _audited(self, record: dict[str, Any], started: float, reason: str | None) -> bool:
        record["ms"] = round((time.perf_counter() - started) * 1000, 3)
        record["refused"] = reason is not None
        record["reason"] = reason
        try:
            self._audit.append(record)
        except HistorianError:
            log.exception("trend page: the audit log cannot be written")
            return False
        return True

    # ------------------------------------------------------------------ the API
    def _answer(self, fn: Callable[[], Any]) -> Any:
        """Run one API call, mapping errors to HTTP answers."""
        try:
            return fn()
        except trend.OutOfScopeError as exc:
            raise _Refusal(HTTPStatus.FORBIDDEN, str(exc)) from None
        except TagNotFoundError as exc:
            raise _Refusal(HTTPStatus.NOT_FOUND, str(exc.args[0] if exc.args else exc)) from None
        except (InvalidArgumentError, InvalidTimeError) as exc:
            raise _Refusal(HTTPStatus.BAD_REQUEST, str(exc)) from None
        except HistorianError as exc:
            log.error("trend page: the store could not answer: %s", exc)
            raise _Refusal(HTTPStatus.INTERNAL_SERVER_ERROR, "the store could not answer") from None

    def _whoami(self, token: Token, p: dict[str, str]) -> tuple[Any, int | None]:
        body = {
            "token": token.name,
            "scope": list(token.tags),
            "store": os.path.basename(os.path.normpath(self._path)),
            "features": trend.features(self._store),
            "limits": {"tags": trend.MAX_TREND_TAGS, "width": trend.MAX_WIDTH},
        }
        return body, None

    def _tags(self, token: Token, p: dict[str, str]) -> tuple[Any, int | None]:
        found = self._answer(lambda: trend.search_tags(self._store, token, p.get("q")))
        return {"tags": found}, len(found)

    def _plot(self, token: Token, p: dict[str, str]) -> tuple[Any, int | None]:
        body = self._answer(
            lambda: trend.plot_payload(
                self._store, token, p.get("tags"), p.get("start"), p.get("end"), p.get("width")
            )
        )
        return body, sum(len(s["t"]) for s in body["series"])

    def _annotations(self, token: Token, p: dict[str, str]) -> tuple[Any, int | None]:
        body = self._answer(
            lambda: trend.annotations_payload(
                self._store, token, p.get("tags"), p.get("start"), p.get("end")
            )
        )
        return body, len(body["annotations"])

    def _frames(self, token: Token, p: dict[str, str]) -> tuple[Any, int | None]:
        body = self._answer(
            lambda: trend.frames_payload(self._store, token, p.get("start"), p.get("end"))
        )
        return body, len(body["frames"])

    def _export(self, token: Token, p: dict[str, str]) -> tuple[Any, int | None]:
        return self._answer(
            lambda: trend.export_csv(
                self._store, token, p.get("tags"), p.get("start"), p.get("end"), p.get("width")
            )
        )


def _audit_params(params: dict[str, str]) -> dict[str, str] | None:
    """The known parameters for the audit line, cut short, with anything like a token masked
    (a token pasted into a URL by mistake must not end up in the log)."""
    kept = {k: _TOKEN_LIKE.sub("hist_<masked>", v[:500]) for k, v in params.items() if k in _PARAMS}
    return kept or None


def _tls_context(cert: str | os.PathLike[str], key: str | os.PathLike[str]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(os.fspath(cert), os.fspath(key))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgumentError(
            f"cannot load the TLS certificate {os.fspath(cert)!r} and key {os.fspath(key)!r}: "
            f"{exc} (PEM files: the certificate chain and its private key)"
        ) from exc
    return ctx


def make_http_server(
    store: str | os.PathLike[str],
    listen: str,
    *,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    insecure_loopback: bool = False,
    max_connections: int = 64,
) -> TrendServer:
    """Start the trend page of ``store`` on ``listen`` (``HOST:PORT``; port 0 picks one).

    It listens when this returns (``server.port``, ``server.url``); ``server.serve()`` blocks
    until ``server.close()``. ``tls_cert``/``tls_key`` are PEM files (the same as the Flight SQL
    service's); without them only ``insecure_loopback=True`` on a loopback address is accepted.
    ``max_connections``: connections served at once (each has a thread; more are closed at
    once, idle ones time out after 30 s).
    """
    path, host, port = check_listen(
        store, listen, tls_cert, tls_key, insecure_loopback, "the trend page"
    )
    tls = None
    if tls_cert is not None and tls_key is not None:
        tls = _tls_context(tls_cert, tls_key)
    if not isinstance(max_connections, int) or max_connections < 1:
        raise InvalidArgumentError(
            f"max_connections must be a positive int, not {max_connections!r}"
        )
    server = TrendServer(path, host, port, tls, max_connections)
    log.info("trend page of %s at %s (%s)", path, server.url, "TLS" if tls else "plaintext")
    return server
