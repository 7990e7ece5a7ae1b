"""``historian serve --http``: the trend page alone, or beside Flight SQL in one process, as a
real subprocess stopped by SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import pyarrow.flight as flight
from trend_fixtures import get_json, make_store

from historian.acquisition.pki import make_pki
from historian.cli import main

CLI = "import sys; from historian.cli import main; sys.exit(main())"


def _start(*args):
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if m := re.search(r"trend page of .* at (\S+)", line):
                found["http"] = m.group(1)
            if m := re.search(r"over Flight SQL at (\S+)", line):
                found["flight"] = m.group(1)
            if "http" in found and ("flight" in found or "--listen" not in args):
                ready.set()
        ready.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert ready.wait(60), lines
    return proc, reader, found, lines


def _stop(proc, reader):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    reader.join(10)
    proc.stderr.close()
    return rc


def test_serve_http_alone_answers_and_stops_on_sigterm(tmp_path):
    store = str(tmp_path / "s.hist")
    tokens = make_store(store)
    proc, reader, found, lines = _start(store, "--http", "127.0.0.1:0", "--insecure-loopback")
    try:
        port = int(found["http"].rstrip("/").rsplit(":", 1)[1])
        status, body = get_json(port, "/api/tags?q=RUN", tokens["ops"])
        assert status == 200 and [t["name"] for t in body["tags"]] == ["RUN"]
    finally:
        rc = _stop(proc, reader)
    assert rc == 0, lines


def test_serve_flight_and_http_in_one_process_with_the_same_tls(tmp_path):
    store = str(tmp_path / "s.hist")
    tokens = make_store(store)
    pki = make_pki(tmp_path / "pki")
    tls = ["--tls-cert", pki["server_cert"], "--tls-key", pki["server_key"]]
    proc, reader, found, lines = _start(
        store, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", *tls
    )
    try:
        assert found["http"].startswith("https://127.0.0.1:")
        port = int(found["http"].rstrip("/").rsplit(":", 1)[1])
        status, body = get_json(port, "/api/whoami", tokens["all"], ca=pki["ca_cert"])
        assert status == 200 and body["token"] == "all"
        flight_port = int(found["flight"].rsplit(":", 1)[1])
        with open(pki["ca_cert"], "rb") as f:
            client = flight.FlightClient(
                f"grpc+tls://127.0.0.1:{flight_port}",
                tls_root_certs=f.read(),
                override_hostname="localhost",
            )
        with client:
            options = flight.FlightCallOptions(
                headers=[(b"authorization", f"Bearer {tokens['all']}".encode())]
            )
            actions = [a.type for a in client.list_actions(options)]
            assert "CreatePreparedStatement" in actions
    finally:
        rc = _stop(proc, reader)
    assert rc == 0, lines


def test_serve_without_listen_or_http_names_both(tmp_path, capsys):
    store = str(tmp_path / "s.hist")
    make_store(store)
    assert main(["serve", store]) != 0
    assert "--http" in capsys.readouterr().err


def test_serve_http_refuses_plaintext_off_loopback(tmp_path, capsys):
    store = str(tmp_path / "s.hist")
    make_store(store)
    assert main(["serve", store, "--http", "0.0.0.0:0", "--insecure-loopback"]) != 0
    assert "loopback" in capsys.readouterr().err
    assert main(["serve", store, "--http", "127.0.0.1:0"]) != 0
    assert "TLS" in capsys.readouterr().err


def test_serve_help_names_http(capsys):
    try:
        main(["serve", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "--http HOST:PORT" in out and "trend page" in out
