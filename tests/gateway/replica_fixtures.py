"""Helpers of the replication tests: an OT store with many versions, a comparison of two stores,
the CLI as a subprocess (so it can be killed with SIGKILL), and waiting on conditions."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

import historian

T0 = np.datetime64("2026-03-01T00:00:00", "ns")
CLI = "import sys; from historian.cli import main; sys.exit(main())"


# The sources here are written before their replication starts, so the versions it ships
# must outlive the compactions meanwhile: a grace period, as docs/gateway.md says.
GRACE_H = 1


def write_versions(path: str, n: int, *, start: int = 0, points: int = 200, seed: int = 0) -> None:
    """``n`` flushed commits of two tags (bad quality and out-of-range values included)."""
    rng = np.random.default_rng(seed + start)
    with historian.open(path, grace_hours=GRACE_H) as h:
        if not len(h.tags()):
            h.define("TIC-101.PV", unit="degC", lo=0.0, hi=100.0)
            h.define("FIC-7.PV", unit="m3/h")
        for i in range(start, start + n):
            t = T0 + np.timedelta64(i * 60, "s") + np.arange(points) * np.timedelta64(100, "ms")
            v = rng.normal(50, 30, points)  # some outside lo/hi: reasons set
            q = np.where(rng.random(points) < 0.05, 0x80000000, 0).astype(np.uint32)
            h.write("TIC-101.PV", t, v, q)
            h.write("FIC-7.PV", t, np.round(rng.random(points) * 10, 2))
            h.flush()


def late_and_compact(path: str) -> None:
    """Late data (an hour before everything, and a correction of existing times), then a full
    compaction: both are ordinary commits on the OT side."""
    with historian.open(path, grace_hours=GRACE_H) as h:
        t = T0 - np.timedelta64(3600, "s") + np.arange(50) * np.timedelta64(1, "s")
        h.write("TIC-101.PV", t, np.full(50, 20.0))
        h.write("FIC-7.PV", T0 + np.arange(10) * np.timedelta64(100, "ms"), np.full(10, -1.0))
        h.flush()
        h.compact(full=True)


def newest_version(store: str) -> int:
    log = os.path.join(store, "points", "_delta_log")
    try:
        names = os.listdir(log)
    except FileNotFoundError:
        return -1
    vs = [int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()]
    return max(vs, default=-1)


def assert_same(ot: str, it: str) -> None:
    """The copy answers read, read(reasons), read(as_of), summary and every stored row version
    (ingest times included) exactly like the source."""
    with historian.open(ot, mode="r") as a, historian.open(it, mode="r") as b:
        assert a.tags().equals(b.tags())
        assert a.read().num_rows > 0
        assert a.read().equals(b.read())
        assert a.read(reasons=True).equals(b.read(reasons=True))
        start, end = T0 - np.timedelta64(2, "h"), T0 + np.timedelta64(2, "D")
        sa = a.summary(None, start, end, every="1h")
        assert sa.equals(b.summary(None, start, end, every="1h"))
        q = "SELECT tag, time, value, quality, ingested FROM points_all ORDER BY ALL"
        rows = a.sql(q).to_arrow_table()
        assert rows.equals(b.sql(q).to_arrow_table())
        ingested = np.unique(rows.column("ingested").to_numpy())
        for at in ingested[:: max(1, len(ingested) // 4)]:
            assert a.read(as_of=at).equals(b.read(as_of=at))
    assert historian.verify(it).ok


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **kw)  # fmt: skip


def kill9(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_for(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def clean_up_early_log(ot: str) -> int:
    """What Delta's log cleanup does after 7 days: the JSONs before the newest checkpoint go."""
    log = os.path.join(ot, "points", "_delta_log")
    cps = sorted(int(n.split(".")[0]) for n in os.listdir(log) if n.endswith(".checkpoint.parquet"))
    assert cps, "no checkpoint yet: write more versions"
    for n in os.listdir(log):
        if n.endswith(".json") and n[:-5].isdigit() and int(n[:-5]) < cps[-1]:
            os.unlink(os.path.join(log, n))
    return cps[-1]


def replicate_over_mtls(ot: str, it: str, pki: dict[str, str]) -> None:
    """One ``historian.replicate(..., once=True)`` of ``ot`` to a mutual-TLS receiver on
    127.0.0.1 writing ``it``, started and stopped around the call."""
    import threading

    import historian
    from historian.gateway.receive import Receiver

    r = Receiver(it, "127.0.0.1", 0, cert=pki["server_cert"], key=pki["server_key"],
                 client_ca=pki["ca_cert"], timeout=10)  # fmt: skip
    t = threading.Thread(target=r.serve_forever)
    t.start()
    try:
        historian.replicate(ot, f"tls://localhost:{r.port}", once=True,
                            tls_cert=pki["client_cert"], tls_key=pki["client_key"],
                            tls_ca=pki["ca_cert"])  # fmt: skip
    finally:
        r.close()
        t.join()
