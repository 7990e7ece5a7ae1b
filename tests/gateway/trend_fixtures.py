"""Helpers of the trend page tests: a store with known data and tokens, the server in a thread,
and HTTP(S) requests (TLS checked against the test CA, the server named ``localhost``)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

import historian
from historian.gateway.tokens import TokenFile
from historian.gateway.webserver import TrendServer, make_http_server

T0_S = 1_767_225_600  # 2026-01-01T00:00:00Z
T0 = T0_S * 10**9
START, END = "2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00.000Z"
BAD = (1000, 1200)  # seconds after T0 where TIC-101.PV is Bad_NoCommunication
UNCERTAIN = (2000, 2010)  # seconds after T0 where it is Uncertain_LastUsableValue
TAGS = ("TIC-101.PV", "RUN", "FIC-200.PV", "SECRET-1.PV")
#: (target, seconds after T0, text): on a tag, on the asset, on a tag no scoped token sees
NOTES = (
    ("TIC-101.PV", 1050, "sensor cable cut"),
    ("SiteA/Area1/R-1", 1500, "batch started late"),
    ("SECRET-1.PV", 1300, "secret note"),
)
#: (name, asset, from, to) in seconds after T0: one on the reactor, one elsewhere
FRAMES = (("B-1042", "SiteA/Area1/R-1", 600, 2400), ("B-9", "SiteB/X-1", 300, 900))


def make_store(path: str) -> dict[str, str]:
    """One hour at 1 s of TIC-101.PV (with a Bad and an Uncertain stretch), a step tag RUN, a tag
    in another unit and a tag no scoped token sees; a reactor asset holding three of them, the
    annotations NOTES and the event frames FRAMES; returns the tokens by name."""
    with historian.open(path) as h:
        h.define("TIC-101.PV", unit="degC", description="reactor temperature")
        h.define("RUN", kind="step", description="agitator running")
        h.define("FIC-200.PV", unit="m3/h", description="feed flow")
        h.define("SECRET-1.PV", unit="bar", description="not for operators")
        h.define("LIVE-1.PV", unit="degC", description="written while the page follows it")
        t = T0 + np.arange(3600, dtype=np.int64) * 10**9
        q = np.zeros(3600, np.uint32)
        q[BAD[0] : BAD[1]] = 0x80310000
        q[UNCERTAIN[0] : UNCERTAIN[1]] = 0x40900000
        h.write("TIC-101.PV", t, 50 + 10 * np.sin(np.arange(3600) / 100), quality=q)
        h.write("RUN", t[::600], (np.arange(6) % 2).astype(float))
        h.write("FIC-200.PV", t, np.arange(3600) * 1.0)
        h.write("SECRET-1.PV", t[::60], np.ones(60))
        h.flush()
        model = h.assets
        model.define_template("Reactor", attributes={
            "Temperature": {"tag": "TIC-101.PV", "unit": "CEL"},
            "Agitator": {"tag": "RUN"},
            "Pressure": {"tag": "SECRET-1.PV", "unit": "BAR"},
        })  # fmt: skip
        for asset in ("SiteA", "SiteA/Area1"):
            model.add(asset)
        model.add("SiteA/Area1/R-1", template="Reactor")
        for target, at, text in NOTES:
            h.annotate(target, T0 + at * 10**9, text, author="jo")
        for name, asset, a, b in FRAMES:
            h.add_frame(name, T0 + a * 10**9, T0 + b * 10**9, asset=asset, template="Batch",
                        attributes={"product": "PX-7"})  # fmt: skip
    tokens = TokenFile(path)
    out = {
        "all": tokens.add("all", ["*"]),
        "ops": tokens.add("ops", ["TIC-*", "RUN", "FIC-*", "LIVE-*"]),
        "gone": tokens.add("gone", ["*"]),
    }
    tokens.revoke("gone")
    return out


@contextlib.contextmanager
def running(store: str, **options: Any) -> Iterator[TrendServer]:
    """The trend server of ``store`` on 127.0.0.1 (a random port), serving in a thread."""
    server = make_http_server(store, "127.0.0.1:0", **options)
    thread = threading.Thread(target=server.serve, name="trend-test-server")
    thread.start()
    try:
        yield server
    finally:
        server.close()
        thread.join(10)
        assert not thread.is_alive()


class _Https(http.client.HTTPSConnection):
    """Connects to 127.0.0.1 but checks the certificate for the name ``localhost``."""

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname="localhost")  # type: ignore[attr-defined]


def tls_context(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def request(
    port: int,
    path: str,
    token: str | None = None,
    *,
    ca: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of one request (HTTPS when ``ca`` is given)."""
    if ca is None:
        conn: http.client.HTTPConnection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    else:
        conn = _Https("127.0.0.1", port, timeout=30, context=tls_context(ca))
    try:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=sent)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def get_json(port: int, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
    status, _headers, body = request(port, path, token, **kw)
    return status, json.loads(body)
