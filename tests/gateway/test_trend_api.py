"""The trend page's JSON API over real HTTPS (the test CA) and plain loopback HTTP (urllib).

Every attack is a real request: no token, a wrong or revoked token, a tag outside the token's
scope, a method other than GET, a body, an oversized URL or width, a path out of the web folder,
plaintext to the TLS port; every API request is in the audit log and no token is ever written.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from trend_fixtures import BAD, END, START, T0_S, get_json, make_store, request, running

import historian
from historian.acquisition.pki import make_pki
from historian.errors import InvalidArgumentError, StoreError
from historian.gateway import trend
from historian.gateway.audit import AuditLog
from historian.gateway.webserver import make_http_server


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("trend")
    store = str(root / "it.hist")
    tokens = make_store(store)
    pki = make_pki(root / "pki")
    with running(store, tls_cert=pki["server_cert"], tls_key=pki["server_key"]) as server:
        yield {"store": store, "port": server.port, "ca": pki["ca_cert"], "pki": pki, **tokens}


def _q(**params) -> str:
    return urllib.parse.urlencode(params)


def _get(site, path, token=None, **kw):
    return get_json(site["port"], path, token, ca=site["ca"], **kw)


def test_the_page_and_its_files_load_without_a_token(site):
    status, headers, body = request(site["port"], "/", ca=site["ca"])
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'src="/static/trend.js"' in body
    for path in re.findall(rb'(?:src|href)="(/static/[^"]+)"', body):
        status, headers, _ = request(site["port"], path.decode(), ca=site["ca"])
        assert status == 200, path


def test_security_headers_and_no_cors(site):
    for path in ("/", "/api/whoami"):
        _, headers, _ = request(
            site["port"],
            path,
            site["all"],
            ca=site["ca"],
            headers={"Origin": "https://evil.example"},
        )
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert not [h for h in headers if h.startswith("access-control-")]


def test_no_token_wrong_token_revoked_token_are_401(site):
    for token in (None, "hist_" + "A" * 43, site["gone"], ""):
        status, headers, body = request(site["port"], "/api/tags", token, ca=site["ca"])
        assert status == 401, token
        assert headers["www-authenticate"].startswith("Bearer")
        assert b"hist_" not in body
    status, _h, _b = request(
        site["port"], "/api/tags", ca=site["ca"], headers={"Authorization": f"Basic {site['all']}"}
    )
    assert status == 401


def test_a_token_in_the_url_is_not_a_login_and_is_not_audited(site):
    status, _h, _b = request(site["port"], f"/api/tags?{_q(token=site['all'])}", ca=site["ca"])
    assert status == 401
    path = f"/api/tags?{_q(q=site['all'])}"  # pasted into the search box by mistake
    assert _get(site, path, site["ops"]) == (200, {"tags": []})
    last = AuditLog(site["store"]).records()[-2:]
    assert last[0]["params"] is None and last[1]["params"] == {"q": "hist_<masked>"}


def test_search_is_scoped_to_the_token(site):
    status, body = _get(site, "/api/tags", site["ops"])
    assert status == 200
    names = [t["name"] for t in body["tags"]]
    assert names == ["FIC-200.PV", "LIVE-1.PV", "RUN", "TIC-101.PV"]
    status, body = _get(site, f"/api/tags?{_q(q='not for operators')}", site["ops"])
    assert body["tags"] == []
    status, body = _get(site, f"/api/tags?{_q(q='not for operators')}", site["all"])
    assert [t["name"] for t in body["tags"]] == ["SECRET-1.PV"]
    status, body = _get(site, f"/api/tags?{_q(q='REACTOR temp')}", site["ops"])
    assert [(t["name"], t["unit"]) for t in body["tags"]] == [("TIC-101.PV", "degC")]


def test_a_tag_outside_the_scope_is_403_whether_or_not_it_exists(site):
    for tag in ("SECRET-1.PV", "SECRET-2.PV"):
        path = f"/api/plot?{_q(tags=tag, start=START, end=END, width=100)}"
        status, body = _get(site, path, site["ops"])
        assert status == 403 and "outside the read scope" in body["error"]
        assert "value" not in json.dumps(body)
    path = f"/api/plot?{_q(tags='TIC-101.PV,SECRET-1.PV', start=START, end=END, width=100)}"
    assert _get(site, path, site["ops"])[0] == 403
    path = f"/api/export.csv?{_q(tags='SECRET-1.PV', start=START, end=END, width=100)}"
    assert _get(site, path, site["ops"])[0] == 403
    path = f"/api/plot?{_q(tags='TIC-999.PV', start=START, end=END, width=100)}"
    assert _get(site, path, site["ops"])[0] == 404


def test_plot_returns_exactly_the_plot_values(site):
    path = f"/api/plot?{_q(tags='TIC-101.PV,RUN', start=START, end=END, width=500)}"
    status, body = _get(site, path, site["ops"])
    assert status == 200
    with historian.open(site["store"], mode="r") as h:
        want = h.plot("TIC-101.PV", START, END, width=500)
        run = h.plot("RUN", START, END, width=500)
    tic, step = body["series"]
    assert len(tic["t"]) == want.num_rows
    assert np.array_equal(
        np.round(np.array(tic["t"]) * 1e9).astype(np.int64),
        want.column("time").cast("int64").to_numpy(),
    )
    assert tic["v"] == want.column("value").to_pylist()
    assert tic["q"] == want.column("quality").to_pylist()
    assert (tic["unit"], tic["stepped"], step["stepped"]) == ("degC", False, True)
    assert len(step["t"]) == run.num_rows
    # one Bad period, starting at the first Bad point, ending at the next plot value after it
    ((a, b),) = tic["bad"]
    assert a == T0_S + BAD[0]
    assert T0_S + BAD[1] <= b <= T0_S + BAD[1] + 3600 / 500 + 1
    assert step["bad"] == []


def test_plot_of_a_year_asks_for_no_more_points_than_an_hour(site):
    year = _q(
        tags="TIC-101.PV", start="2025-07-01T00:00:00Z", end="2026-07-01T00:00:00Z", width=800
    )
    status, body = _get(site, f"/api/plot?{year}", site["ops"])
    assert status == 200 and 0 < len(body["series"][0]["t"]) <= 4 * 800 + 2


def test_export_csv_equals_h_plot_for_the_window(site):
    path = f"/api/export.csv?{_q(tags='TIC-101.PV,FIC-200.PV', start=START, end=END, width=300)}"
    status, headers, body = request(site["port"], path, site["ops"], ca=site["ca"])
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert "attachment" in headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    with historian.open(site["store"], mode="r") as h:
        want = [h.plot(tag, START, END, width=300) for tag in ("TIC-101.PV", "FIC-200.PV")]
    assert len(rows) == sum(t.num_rows for t in want)
    got_t = [int(np.datetime64(r["time"].rstrip("Z"), "ns").astype(np.int64)) for r in rows]
    want_t = [t for w in want for t in w.column("time").cast("int64").to_pylist()]
    assert got_t == want_t
    got_v = [None if r["value"] == "" else float(r["value"]) for r in rows]
    assert got_v == [v for w in want for v in w.column("value").to_pylist()]
    assert [int(r["quality"]) for r in rows] == [q for w in want for q in w["quality"].to_pylist()]
    assert {r["tag"] for r in rows[: want[0].num_rows]} == {"TIC-101.PV"}


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        (_q(tags="TIC-101.PV", start=START, end=END, width=10**6), "limit"),
        (_q(tags="TIC-101.PV", start=START, end=END, width="wide"), "pixels"),
        (_q(tags="TIC-101.PV", start=END, end=START, width=10), "after start"),
        (_q(tags="TIC-101.PV", start="yesterday-ish", end=END, width=10), "time"),
        (_q(tags="TIC-101.PV", width=10), "start="),
        (_q(tags=",".join(f"TIC-{i}" for i in range(20)), start=START, end=END), "at most 16"),
        (_q(tags="", start=START, end=END), "at least one tag"),
    ],
)
def test_bad_parameters_are_400_naming_the_fix(site, query, needle):
    status, body = _get(site, f"/api/plot?{query}", site["ops"])
    assert status == 400 and needle in body["error"], body


def test_a_text_tag_is_found_marked_and_refused_by_plot_with_a_400(tmp_path):
    store = str(tmp_path / "s.hist")
    tokens = make_store(store)
    with historian.open(store) as h:
        h.define("MODE.ST", type="string", description="operating mode")
        h.write("MODE.ST", [np.datetime64("2026-01-01T00:10:00", "ns")], ["heating"])
    with running(store, insecure_loopback=True) as server:
        status, body = get_json(server.port, f"/api/tags?{_q(q='operating mode')}", tokens["all"])
        assert [(t["name"], t["type"]) for t in body["tags"]] == [("MODE.ST", "string")]
        path = f"/api/plot?{_q(tags='MODE.ST', start=START, end=END, width=100)}"
        status, body = get_json(server.port, path, tokens["all"])
        assert status == 400 and "MODE.ST" in body["error"]


def test_a_long_search_text_is_refused(site):
    status, body = _get(site, f"/api/tags?{_q(q='x' * 500)}", site["ops"])
    assert status == 400 and "at most" in body["error"]


def test_only_get_no_body_no_long_url_no_path_out_of_the_folder(site):
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        status, headers, _ = request(
            site["port"], "/api/tags", site["all"], ca=site["ca"], method=method, body=b"{}"
        )
        assert status == 405 and headers["allow"] == "GET", method
    status, _h, _b = request(site["port"], "/api/tags", site["all"], ca=site["ca"], body=b"x" * 10)
    assert status == 413
    status, _h, _b = request(site["port"], "/api/tags?q=" + "a" * 9000, site["all"], ca=site["ca"])
    assert status == 414
    for path in (
        "/static/../webserver.py",
        "/static/%2e%2e/trend.py",
        "/etc/passwd",
        "/static/vendor/../../tokens.py",
        "/api/../static/trend.js",
        "/api/nothing",
    ):
        status, _h, body = request(site["port"], path, site["all"], ca=site["ca"])
        assert status == 404, path
        assert b"import" not in body


def test_whoami_names_the_token_and_the_features(site):
    status, body = _get(site, "/api/whoami", site["ops"])
    assert status == 200 and body["token"] == "ops" and "LIVE-*" in body["scope"]
    assert set(body["features"]) == {"assets", "annotations", "frames"}


def test_search_by_asset_path_and_template_stays_in_scope(site):
    status, body = _get(site, f"/api/tags?{_q(q='SiteA/Area1/R-1')}", site["ops"])
    assert status == 200 and [t["name"] for t in body["tags"]] == ["RUN", "TIC-101.PV"]
    assert body["tags"][1]["assets"] == ["SiteA/Area1/R-1.Temperature (Reactor)"]
    status, body = _get(site, f"/api/tags?{_q(q='reactor pressure')}", site["ops"])
    assert body["tags"] == []  # SECRET-1.PV is the reactor's Pressure: not for this token
    status, body = _get(site, f"/api/tags?{_q(q='reactor pressure')}", site["all"])
    assert [t["name"] for t in body["tags"]] == ["SECRET-1.PV"]


def test_annotations_of_the_tags_and_their_asset_never_of_other_tags(site):
    path = f"/api/annotations?{_q(tags='TIC-101.PV,RUN', start=START, end=END)}"
    status, body = _get(site, path, site["ops"])
    assert status == 200 and body["available"] is True
    got = [(a["target"], a["time"] - T0_S, a["text"], a["author"]) for a in body["annotations"]]
    assert sorted(got) == [
        ("SiteA/Area1/R-1", 1500, "batch started late", "jo"),
        ("TIC-101.PV", 1050, "sensor cable cut", "jo"),
    ]
    path = f"/api/annotations?{_q(tags='SECRET-1.PV', start=START, end=END)}"
    assert _get(site, path, site["ops"])[0] == 403
    path = f"/api/annotations?{_q(tags='FIC-200.PV', start=START, end=END)}"
    assert _get(site, path, site["ops"])[1]["annotations"] == []


def test_frames_of_the_assets_the_token_sees(site):
    status, body = _get(site, f"/api/frames?{_q(start=START, end=END)}", site["ops"])
    assert status == 200 and body["available"] is True
    assert [(f["name"], f["asset"], f["start"] - T0_S, f["end"] - T0_S, f["attributes"])
            for f in body["frames"]] == [("B-1042", "SiteA/Area1/R-1", 600, 2400,
                                          {"product": "PX-7"})]  # fmt: skip
    status, body = _get(site, f"/api/frames?{_q(start=START, end=END)}", site["all"])
    assert sorted(f["name"] for f in body["frames"]) == ["B-1042", "B-9"]
    late = _q(start="2026-01-01T00:45:00Z", end=END)
    assert _get(site, f"/api/frames?{late}", site["all"])[1]["frames"] == []


def test_every_api_request_is_audited_and_no_token_is_written(site):
    before = AuditLog(site["store"]).verify()
    _get(site, "/api/tags", site["ops"])
    _get(site, f"/api/plot?{_q(tags='SECRET-1.PV', start=START, end=END)}", site["ops"])
    _get(site, "/api/tags", site["gone"])
    _get(site, "/api/tags")
    audit = AuditLog(site["store"])
    assert audit.verify() == before + 4
    last = audit.records()[-4:]
    assert [(r["token"], r["command"], r["refused"]) for r in last] == [
        ("ops", "/api/tags", False),
        ("ops", "/api/plot", True),
        ("gone", "/api/tags", True),
        (None, "/api/tags", True),
    ]
    assert last[0]["rows"] == 4 and last[1]["params"]["tags"] == "SECRET-1.PV"
    assert "outside the read scope" in last[1]["reason"]
    assert last[2]["reason"].startswith("revoked token") and last[3]["reason"].startswith(
        "no bearer"
    )
    with open(audit.path, "rb") as f:
        text = f.read()
    for name in ("all", "ops", "gone"):
        assert site[name].encode() not in text


def test_a_revoked_token_is_refused_at_its_next_request(site):
    from historian.gateway.tokens import TokenFile

    tokens = TokenFile(site["store"])
    secret = tokens.add("brief", ["TIC-*"])
    assert _get(site, "/api/tags", secret)[0] == 200
    tokens.revoke("brief")
    assert _get(site, "/api/tags", secret)[0] == 401


def test_plaintext_to_the_tls_port_gets_no_data(site):
    with socket.create_connection(("127.0.0.1", site["port"]), timeout=10) as sock:
        sock.sendall(
            f"GET /api/tags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {site['all']}\r\n\r\n".encode()
        )
        got = b""
        with contextlib.suppress(OSError):  # the server drops it (or resets it)
            while chunk := sock.recv(4096):
                got += chunk
    assert b"TIC-101" not in got and b"HTTP/1.1 200" not in got


def test_an_untrusted_server_certificate_is_refused_by_the_client(site, tmp_path):
    other = make_pki(tmp_path / "other", ca_name="another CA")
    with pytest.raises(ssl.SSLCertVerificationError):
        request(site["port"], "/", ca=other["ca_cert"])


def test_plain_http_on_loopback_with_urllib(tmp_path):
    store = str(tmp_path / "s.hist")
    tokens = make_store(store)
    with running(store, insecure_loopback=True) as server:
        url = f"http://127.0.0.1:{server.port}/api/tags?{_q(q='flow')}"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {tokens['ops']}"})
        with urllib.request.urlopen(req, timeout=30) as res:
            assert [t["name"] for t in json.load(res)["tags"]] == ["FIC-200.PV"]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=30)
        assert err.value.code == 401
        err.value.close()
        assert "strict-transport-security" not in {k.lower() for k in err.value.headers}


def test_plaintext_is_refused_unless_explicit_and_on_loopback(tmp_path):
    store = str(tmp_path / "s.hist")
    historian.open(store).close()
    with pytest.raises(InvalidArgumentError, match="needs TLS"):
        make_http_server(store, "127.0.0.1:0")
    with pytest.raises(InvalidArgumentError, match="loopback address only"):
        make_http_server(store, "0.0.0.0:0", insecure_loopback=True)
    with pytest.raises(InvalidArgumentError, match="exclude each other"):
        make_http_server(store, "127.0.0.1:0", insecure_loopback=True, tls_cert="c", tls_key="k")
    with pytest.raises(InvalidArgumentError, match="cannot load the TLS"):
        make_http_server(store, "127.0.0.1:0", tls_cert=tmp_path / "no.pem", tls_key="no.key")
    with pytest.raises(InvalidArgumentError, match="no store"):
        make_http_server(tmp_path / "missing", "127.0.0.1:0", insecure_loopback=True)
    with pytest.raises(InvalidArgumentError, match="HOST:PORT"):
        make_http_server(store, "127.0.0.1", insecure_loopback=True)


def test_a_port_in_use_is_a_clear_error(tmp_path):
    store = str(tmp_path / "s.hist")
    historian.open(store).close()
    with (
        running(store, insecure_loopback=True) as server,
        pytest.raises(InvalidArgumentError, match="cannot listen"),
    ):
        make_http_server(store, f"127.0.0.1:{server.port}", insecure_loopback=True)


def test_a_damaged_tokens_file_stops_the_start_and_a_broken_audit_log_answers_nothing(tmp_path):
    store = str(tmp_path / "s.hist")
    tokens = make_store(store)
    with running(store, insecure_loopback=True) as server:
        assert get_json(server.port, "/api/tags", tokens["ops"])[0] == 200
        audit = os.path.join(store, "_gateway", "audit.jsonl")
        os.chmod(audit, 0o644)  # a shared audit log is refused: the service answers nothing
        status, body = get_json(server.port, "/api/tags", tokens["ops"])
        assert status == 503 and "audit" in body["error"] and "tags" not in body
        os.chmod(audit, 0o600)
        tokens_file = os.path.join(store, "_gateway", "tokens.json")
        with open(tokens_file, "r+b") as f:
            good = f.read()
            f.seek(0)
            f.write(b"{not json")
        status, body = get_json(server.port, "/api/tags", tokens["ops"])
        assert status == 503 and "tokens" in body["error"]
        with open(tokens_file, "wb") as f:
            f.write(good)
        assert get_json(server.port, "/api/tags", tokens["ops"])[0] == 200
    with open(tokens_file, "wb") as f:
        f.write(b"[]")
    with pytest.raises(StoreError, match="not a valid tokens file"):
        make_http_server(store, "127.0.0.1:0", insecure_loopback=True)
    assert AuditLog(store).verify() >= 3


def test_close_ends_idle_keep_alive_connections_and_their_threads(tmp_path):
    store = str(tmp_path / "s.hist")
    historian.open(store).close()
    before = set(threading.enumerate())
    server = make_http_server(store, "127.0.0.1:0", insecure_loopback=True)
    thread = threading.Thread(target=server.serve)
    thread.start()
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(12) == b"HTTP/1.1 200"  # the connection stays open (keep-alive)
    server.close()
    thread.join(10)
    idle.close()
    assert set(threading.enumerate()) <= before
    server.close()  # twice is fine


def _served(port: int) -> bool:
    """True when a new connection gets an answer (False: closed at once, over the cap)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            return sock.recv(12) == b"HTTP/1.1 200"
        except ConnectionResetError:
            return False


def _eventually(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_connections_are_capped_and_chunked_bodies_refused(tmp_path):
    store = str(tmp_path / "s.hist")
    tokens = make_store(store)
    with running(store, insecure_loopback=True, max_connections=2) as server:
        held = []
        try:
            for _ in range(2):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                held.append(sock)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # kept alive, then idle
                assert sock.recv(12) == b"HTTP/1.1 200"
            assert not _served(server.port)  # two are open already: closed at once
        finally:
            for sock in held:
                sock.close()
        _eventually(lambda: _served(server.port), "a connection is served again")
        status, _h, _b = request(server.port, "/api/tags", tokens["ops"],
                                 headers={"Transfer-Encoding": "chunked"}, body=b"0\r\n\r\n")  # fmt: skip
        assert status == 413
    with pytest.raises(InvalidArgumentError, match="max_connections"):
        make_http_server(store, "127.0.0.1:0", insecure_loopback=True, max_connections=0)


def test_close_without_serving_returns(tmp_path):
    store = str(tmp_path / "s.hist")
    historian.open(store).close()
    make_http_server(store, "127.0.0.1:0", insecure_loopback=True).close()


def test_the_vendored_chart_library_matches_its_notice():
    web = os.path.join(os.path.dirname(trend.__file__), "web")
    with open(os.path.join(web, "README.md"), encoding="utf-8") as f:
        notice = f.read()
    listed = re.findall(r"^([0-9a-f]{64})  (vendor/\S+)$", notice, re.M)
    assert len(listed) == 2
    for digest, rel in listed:
        with open(os.path.join(web, rel), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, rel
    with open(os.path.join(web, "vendor", "uplot", "LICENSE"), encoding="utf-8") as f:
        assert "MIT License" in f.read()
    with open(os.path.join(web, "vendor", "uplot", "uPlot.iife.min.js"), encoding="utf-8") as f:
        assert "(v1.6.32)" in f.readline()
    with open(os.path.join(web, "index.html"), encoding="utf-8") as f:
        page = f.read()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from another origin
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script
    assert not re.search(r"\s(style|on[a-z]+)=", page)  # no inline style or handler


def test_a_lost_data_file_is_a_500_that_names_no_detail_and_is_audited(tmp_path):
    import glob

    store = str(tmp_path / "s.hist")
    tokens = make_store(store)
    with running(store, insecure_loopback=True) as server:
        window = _q(tags="TIC-101.PV", start=START, end=END, width=100)
        assert get_json(server.port, "/api/whoami", tokens["ops"])[0] == 200
        files = glob.glob(os.path.join(store, "**", "*.parquet"), recursive=True)
        assert files
        for path in files:
            os.remove(path)  # the fault: the data files are gone under the running service
        status, body = get_json(server.port, f"/api/plot?{window}", tokens["ops"])
        assert status == 500 and body == {"error": "the store could not answer"}
        assert get_json(server.port, "/api/whoami", tokens["ops"])[0] == 200  # still serving
    last = [r for r in AuditLog(store).records() if r["command"] == "/api/plot"][-1]
    assert last["refused"] and last["reason"] == "the store could not answer"


def test_close_right_after_the_serving_thread_starts_never_hangs(tmp_path):
    store = str(tmp_path / "s.hist")
    historian.open(store).close()
    for _ in range(20):
        server = make_http_server(store, "127.0.0.1:0", insecure_loopback=True)
        thread = threading.Thread(target=server.serve)
        thread.start()
        server.close()
        thread.join(10)
        assert not thread.is_alive()


def test_every_file_of_the_page_ships_in_the_wheel():
    import fnmatch
    import tomllib

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["historian.gateway"]
    gateway = os.path.dirname(trend.__file__)
    for folder, _dirs, names in os.walk(os.path.join(gateway, "web")):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), gateway)
            parts = rel.split(os.sep)
            assert any(  # glob semantics, as setuptools: '*' stays inside one folder
                len(parts) == len(p.split("/"))
                and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, p.split("/"), strict=True))
                for p in patterns
            ), rel
