"""How long ``historian verify`` takes: the hash chain plus a SHA-256 of every data file.

    python benchmarks/bench_verify.py [--points 20000000] [--tags 20] [--store PATH]

Builds a store of ``--points`` points (``--tags`` tags at 1 s, bulk writes: one commit per day
of files, compacted), then times ``historian.verify(path)`` (full: chain + SHA-256 of every file)
and ``hashes=False`` (chain + sizes only), twice each, and prints MB/s and seconds. The second
run reads from the page cache; the first may too (the store was just written): for a cold-cache
figure, drop the caches between building and verifying (``--store`` reuses a built store).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pyarrow as pa

import historian

T0 = 1_767_225_600 * 10**9  # 2026-01-01


def build(path: str, points: int, tags: int) -> None:
    per_tag = points // tags
    chunk = 86_400  # one day of 1 s points per tag and write
    with historian.open(path, fsync=False) as h:
        names = [f"T{i:03d}.PV" for i in range(tags)]
        for n in names:
            h.define(n)
        rng = np.random.default_rng(1)
        for start in range(0, per_tag, chunk):
            n = min(chunk, per_tag - start)
            t = T0 + (start + np.arange(n, dtype=np.int64)) * 10**9
            cols = {"tag": [], "time": [], "value": []}
            for name in names:
                cols["tag"].append(pa.array([name] * n))
                cols["time"].append(pa.array(t))
                cols["value"].append(pa.array(np.round(50 + rng.standard_normal(n).cumsum(), 2)))
            h.write_table(pa.table({k: pa.concat_arrays(v) for k, v in cols.items()}))
        h.compact()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20_000_000)
    ap.add_argument("--tags", type=int, default=20)
    ap.add_argument("--store", help="a store to verify (built there when missing)")
    args = ap.parse_args()
    path = args.store or os.path.join(tempfile.mkdtemp(), "bench.hist")
    if not os.path.isdir(path):
        t = time.perf_counter()
        build(path, args.points, args.tags)
        print(f"built {args.points:,} points in {time.perf_counter() - t:.1f} s: {path}")
    with historian.open(path, mode="r") as h:
        info = h.info()
    print(f"store: {info['points_in_files']:,} points, {info['files']} files, "
          f"{info['bytes'] / 1e6:.1f} MB, version {info['version']}")  # fmt: skip
    for label, hashes in (("full (SHA-256)", True), ("sizes only", False)):
        for run in (1, 2):
            t = time.perf_counter()
            report = historian.verify(path, hashes=hashes)
            s = time.perf_counter() - t
            assert report.ok, report
            mb = info["bytes"] / 1e6
            print(f"{label:15s} run {run}: {s:6.2f} s  {mb / s:8.0f} MB/s  "
                  f"{info['points_in_files'] / s / 1e6:7.1f} M points/s")  # fmt: skip


if __name__ == "__main__":
    main()
