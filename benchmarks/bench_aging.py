"""Aging benchmark (#13 §3/§5): a store written like a collector, measured as it ages.

A writer writes batches of ``--batch`` points (``--tags`` tags) with ``flush_points`` equal to
the batch, so the store's background thread commits each batch (and compacts after it); the
benchmark waits for each commit before the next batch (one commit per batch, the collector's
pace). At every checkpoint of ``--commits`` it prints one row of the curve:

- disk / live: bytes of ``points/`` (data files, replaced ones not yet vacuumed, and the
  Delta log) over the bytes of the newest snapshot's files; ``log MB``: the Delta log alone;
  data / live: the data files alone, now and (``max``) the largest of the samples taken after
  every 10th commit since the start (the "at any time" of the target);
- open ms: ``historian.open(path, mode="r")`` of a fresh reader plus its first snapshot;
- cold ms: that fresh reader's first read of 1 tag x 1 h (the newest hour);
- write() p50/p99 ms over the batches since the last checkpoint (the caller's path only);
- flush p99 / compact p99 ms (background thread, since the last checkpoint);
- writer RSS MB, and the open descriptors of a reader that lives through the whole run
  (it reads the newest hour after every 10th commit).

    python benchmarks/bench_aging.py                 # 10, 100 commits (about 15 s)
    python benchmarks/bench_aging.py --long          # 10, 100, 1,000 commits
    python benchmarks/bench_aging.py --commits 10,100,1000,10000
    python benchmarks/bench_aging.py --inline        # background=False: flushes in write()
    python benchmarks/bench_aging.py --grace-hours 1 # replaced files kept an hour (pre-pins)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

import historian
from historian.testing import engine

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000
HOUR = 3600 * S


def folder_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # vacuumed meanwhile
                total += os.path.getsize(os.path.join(root, name))
    return total


def data_bytes(points_dir: str) -> int:
    """Bytes of the data files (``day=`` folders), replaced ones not yet vacuumed included."""
    return sum(
        folder_bytes(os.path.join(points_dir, d)) for d in os.listdir(points_dir)
        if d.startswith("day=")
    )  # fmt: skip


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def batch_table(k: int, tags: int, per_batch: int) -> pa.Table:
    """Batch ``k``: ``per_batch`` points, ``per_batch // tags`` per tag at 1 s, time-ordered."""
    n = per_batch // tags
    times = T0 + (np.arange(n, dtype=np.int64) + k * n) * S
    rng = np.random.default_rng(k)
    return pa.table(
        {
            "tag": pa.array(np.repeat([f"T{j:03d}" for j in range(tags)], n)),
            "time": pa.array(np.tile(times, tags), pa.timestamp("ns", tz="UTC")),
            "value": pa.array(np.round(rng.normal(50, 5, n * tags), 2)),
        }
    )


def wait_committed(h: historian.Historian) -> None:
    e = engine(h)
    deadline = time.monotonic() + 120
    while len(e._active) or e._frozen is not None:
        if time.monotonic() > deadline:
            raise RuntimeError("the background flush did not commit within 120 s")
        time.sleep(0.001)


def measure_fresh_reader(path: str, newest_ns: int) -> tuple[float, float]:
    t = time.perf_counter()
    r = historian.open(path, mode="r")
    try:
        engine(r)._log.snapshot()  # type: ignore[union-attr]
        opened = time.perf_counter() - t
        t = time.perf_counter()
        got = r.read("T000", newest_ns - HOUR, newest_ns)
        cold = time.perf_counter() - t
        assert got.num_rows > 0
    finally:
        r.close()
    return opened * 1e3, cold * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--commits", default="10,100", help="checkpoints (comma separated)")
    ap.add_argument("--long", action="store_true", help="checkpoints 10, 100, 1000")
    ap.add_argument("--batch", type=int, default=1000, help="points per write (and flush)")
    ap.add_argument("--tags", type=int, default=10, help="tags per batch")
    ap.add_argument("--fsync", action="store_true", help="fsync (off by default: tmpfs-like)")
    ap.add_argument(
        "--inline",
        action="store_true",
        help="background=False: each write() flushes and compacts itself",
    )
    ap.add_argument("--grace-hours", type=float, default=0.0, help="the store's grace_hours")
    args = ap.parse_args()
    checkpoints = [10, 100, 1000] if args.long else [int(c) for c in args.commits.split(",")]
    path = tempfile.mkdtemp(prefix="aging-")
    h = historian.open(
        path,
        mode="w",
        flush_points=args.batch,
        fsync=args.fsync,
        background=not args.inline,
        grace_hours=args.grace_hours,
    )
    for j in range(args.tags):
        h.define(f"T{j:03d}")
    reader = historian.open(path, mode="r")
    bg = engine(h)._background
    per_tag = args.batch // args.tags
    print(
        f"store {path}: {args.batch} points per commit, {args.tags} tags, "
        f"fd limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}"
    )
    head = (
        f"{'commits':>8} {'points':>10} {'disk/live':>9} {'data/live':>9} {'max':>5} "
        f"{'live MB':>8} {'files':>6} "
        f"{'log MB':>7} {'open ms':>8} {'cold ms':>8} {'wr p50':>7} {'wr p99':>7} {'fl p99':>7} "
        f"{'cp p99':>7} {'RSS MB':>7} {'rd fds':>7}"
    )
    print(head)
    write_ms: list[float] = []
    done = 0
    worst = 0.0  # the largest data/live sampled so far
    points_dir = os.path.join(path, "points")
    for goal in checkpoints:
        bg.flush_ms.clear()
        bg.compact_ms.clear()
        write_ms.clear()
        while done < goal:
            table = batch_table(done, args.tags, args.batch)
            t = time.perf_counter()
            h.write_table(table)
            write_ms.append((time.perf_counter() - t) * 1e3)
            wait_committed(h)
            done += 1
            if done % 10 == 0:
                newest = T0 + done * per_tag * S
                reader.read("T000", newest - HOUR, newest)
                sizes = engine(h)._log.snapshot().sizes  # type: ignore[union-attr]
                worst = max(worst, data_bytes(points_dir) / max(1, int(sizes.sum())))
        newest = T0 + done * per_tag * S
        snap = engine(h)._log.snapshot()  # type: ignore[union-attr]
        live = int(snap.sizes.sum())
        disk = folder_bytes(points_dir)
        data = data_bytes(points_dir)
        worst = max(worst, data / live)
        log_mb = folder_bytes(os.path.join(path, "points", "_delta_log")) / 1e6
        opened_ms, cold_ms = measure_fresh_reader(path, newest)
        fl = np.percentile(list(bg.flush_ms), 99) if bg.flush_ms else float("nan")
        cp = np.percentile(list(bg.compact_ms), 99) if bg.compact_ms else float("nan")
        print(
            f"{done:>8} {done * args.batch:>10,} {disk / live:>9.2f} {data / live:>9.2f} "
            f"{worst:>5.2f} {live / 1e6:>8.2f} "
            f"{len(snap.paths):>6} {log_mb:>7.2f} {opened_ms:>8.1f} {cold_ms:>8.1f} "
            f"{np.percentile(write_ms, 50):>7.2f} {np.percentile(write_ms, 99):>7.2f} "
            f"{fl:>7.1f} {cp:>7.1f} {rss_mb():>7.0f} {open_fds():>7}",
            flush=True,
        )
    reader.close()
    h.close()
    print(
        "targets: disk/live <= 1.5 at any time, open <= 100 ms, cold <= 20 ms, flush p99 <= 200 ms, "
        "write() p99 <= 20 ms, RSS bounded, no fd growth (rd fds: this process's count)"
    )


if __name__ == "__main__":
    sys.exit(main())
