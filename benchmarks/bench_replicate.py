"""Replication benchmark: catching up a store (points/s, bytes/s) to a folder and to a TLS
receiver on loopback, and the lag while a writer keeps committing, in one run.

    python benchmarks/bench_replicate.py                       # 100 tags x 100,000 points (10 M)
    python benchmarks/bench_replicate.py --tags 20 --points 20000   # quick

Lag: a writer flushes a batch every ``--flush-s`` seconds for ``--seconds``; a following
replicator (poll 0.2 s) ships them; lag is the time from a source commit file appearing to the
same commit appearing in the copy (median and max), plus the versions behind seen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(__file__))
from datagen import polled, tag_names

import historian
from historian.acquisition.pki import make_pki
from historian.gateway.receive import Receiver
from historian.gateway.replicate import Replicator


def build(path: str, n_tags: int, n_points: int) -> int:
    names = tag_names(n_tags)
    total = 0
    with historian.open(path, fsync=False) as h:
        h.define_many({n: {} for n in names})
        for i, name in enumerate(names):
            t, v = polled(i, n_points)
            h.write_table(pa.table({"tag": pa.array([name] * len(t)),
                                    "time": pa.array(t, pa.timestamp("ns", tz="UTC")),
                                    "value": v}))  # fmt: skip
            total += len(t)
        h.flush()
    return total


def du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def log_times(store: str) -> dict[int, float]:
    d = os.path.join(store, "points", "_delta_log")
    return {int(n[:-5]): os.path.getmtime(os.path.join(d, n))
            for n in os.listdir(d) if n.endswith(".json") and n[:-5].isdigit()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=100)
    ap.add_argument("--points", type=int, default=100_000, help="per tag")
    ap.add_argument("--seconds", type=float, default=10.0, help="lag phase duration")
    ap.add_argument("--flush-s", type=float, default=0.5)
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bench-replicate-")
    try:
        ot = os.path.join(root, "ot.hist")
        t = time.perf_counter()
        n = build(ot, a.tags, a.points)
        print(f"source: {n:,} points, {du(os.path.join(ot, 'points')) / 1e6:.1f} MB, "
              f"built in {time.perf_counter() - t:.1f} s")  # fmt: skip
        pki = make_pki(os.path.join(root, "pki"))
        rcv = Receiver(os.path.join(root, "it-tls.hist"), "127.0.0.1", 0,
                       cert=pki["server_cert"], key=pki["server_key"],
                       client_ca=pki["ca_cert"])  # fmt: skip
        th = threading.Thread(target=rcv.serve_forever, daemon=True)
        th.start()
        tls = {"tls_cert": pki["client_cert"], "tls_key": pki["client_key"],
               "tls_ca": pki["ca_cert"]}  # fmt: skip
        print(f"{'catch-up to':<22}{'seconds':>9}{'points/s':>14}{'MB/s':>9}")
        for label, dst, opts in (("folder", os.path.join(root, "it.hist"), {}),
                                 ("tls://127.0.0.1", f"tls://localhost:{rcv.port}", tls)):  # fmt: skip
            t = time.perf_counter()
            st = historian.replicate(ot, dst, once=True, **opts)
            dt = time.perf_counter() - t
            print(f"{label:<22}{dt:>9.2f}{n / dt:>14,.0f}{st.bytes_sent / dt / 1e6:>9.1f}")
        # lag while a writer commits
        it = os.path.join(root, "it.hist")
        r = Replicator(ot, it, poll_s=0.2)
        rt = threading.Thread(target=r.run)
        rt.start()
        behind = []
        with historian.open(ot, fsync=False) as h:
            names = tag_names(a.tags)
            end = time.monotonic() + a.seconds
            k = 0
            while time.monotonic() < end:
                t_ns = historian.seconds([10**6 + k])
                for name in names:
                    h.write(name, t_ns, [float(k)])
                h.flush()
                k += 1
                behind.append(r.status.versions_behind)
                time.sleep(a.flush_s)
        target = max(log_times(ot))
        while r.status.replicated_version < target:
            time.sleep(0.05)
        r.stop()
        rt.join()
        src, dst = log_times(ot), log_times(it)
        lags = sorted(dst[v] - src[v] for v in src if v in dst and v > target - k)
        print(f"lag while writing ({k} commits of {a.tags} points, every {a.flush_s} s): "
              f"median {np.median(lags):.2f} s, max {max(lags):.2f} s, "
              f"max versions behind {max(behind)}")  # fmt: skip
        rcv.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
