"""Annotations and event frames: write latency, read cost, and summaries per frame.

    python benchmarks/bench_annotations.py [--notes 1000] [--frames 1000] [--days 1]

In a temporary store (local disk, fsync on):

* ``h.annotate``: the latency of one durable write (median and p95 over ``--notes`` calls,
  merges every 256 files included), beside ``h.write`` of one point (WAL, group fsync);
* ``h.annotations()`` over ``--notes`` annotations: in the writing process (its cache) and in a
  fresh reader (every file read and CRC-checked);
* ``h.summary(tag, frames=..., stats=4)`` over ``--frames`` frames of a 1 s series of ``--days``
  days, against one ``h.summary(tag, start, end, every)`` per frame (the loop a user would
  write without frames) and against ``historian.summarize`` per frame on arrays already in
  memory (kernels only, no I/O).

Figures are medians; the machine may be shared, so compare ratios taken in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

import historian

T0 = 1_767_225_600_000_000_000
S = 1_000_000_000
STATS = ["twa", "min", "max", "count"]


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1e3:.2f} ms, p95 {xs[int(0.95 * (len(xs) - 1))] * 1e3:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--days", type=int, default=1)
    a = ap.parse_args()
    path = tempfile.mkdtemp() + "/bench.hist"
    with historian.open(path) as h:
        h.define("TIC-101.PV")
        n = a.days * 86_400
        t = T0 + np.arange(n, dtype=np.int64) * S
        v = 60 + 20 * np.sin(np.arange(n) / 600)
        h.write("TIC-101.PV", t, v)
        h.flush()
        lat, pts = [], []
        for i in range(a.notes):
            t0 = time.perf_counter()
            h.annotate("TIC-101.PV", T0 + i * 37 * S, f"note {i}", author="bench")
            lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            h.write("TIC-101.PV", [T0 + n * S + i * S], [1.0])
            pts.append(time.perf_counter() - t0)
        print(f"h.annotate (durable, one file each): {_ms(lat)}")
        print(f"h.write of one point (WAL):          {_ms(pts)}")
        warm = []
        for _ in range(5):
            t0 = time.perf_counter()
            h.annotations()
            warm.append(time.perf_counter() - t0)
        print(
            f"h.annotations() of {a.notes} in the writer (cached files): "
            f"{statistics.median(warm) * 1e3:.1f} ms"
        )
        with historian.open(path, mode="r") as r:
            t0 = time.perf_counter()
            r.annotations()
            print(
                f"h.annotations() of {a.notes} in a fresh reader: "
                f"{(time.perf_counter() - t0) * 1e3:.1f} ms"
            )
        rng = np.random.default_rng(1)
        starts = np.sort(rng.integers(0, n - 3600, a.frames))
        lengths = rng.integers(60, 3600, a.frames)
        for i, (s0, ln) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
            h.add_frame(f"F{i}", T0 + s0 * S + 123, T0 + (s0 + ln) * S + 456, template="Batch")
        frames = h.frames(template="Batch")
        t0 = time.perf_counter()
        by_frames = h.summary("TIC-101.PV", frames=frames, stats=STATS)
        dt_frames = time.perf_counter() - t0
        sub = frames.slice(0, min(100, a.frames)).to_pylist()
        t0 = time.perf_counter()
        for f in sub:
            length = f["end"].value - f["start"].value
            h.summary(
                "TIC-101.PV",
                f["start"].value,
                f["end"].value,
                np.timedelta64(length, "ns"),
                stats=STATS,
            )
        dt_loop = (time.perf_counter() - t0) / len(sub) * a.frames
        t0 = time.perf_counter()
        for f in sub:
            length = f["end"].value - f["start"].value
            historian.summarize(
                t,
                v,
                start=f["start"].value,
                end=f["end"].value,
                every=np.timedelta64(length, "ns"),
                stats=STATS,
            )
        dt_arrays = (time.perf_counter() - t0) / len(sub) * a.frames
        print(
            f"h.summary(frames=) {a.frames} frames x {len(STATS)} stats, {n:,} points: "
            f"{dt_frames * 1e3:.0f} ms ({by_frames.num_rows} rows)"
        )
        print(
            f"  one h.summary per frame (x{a.frames}, from {len(sub)}): {dt_loop * 1e3:.0f} ms "
            f"= {dt_loop / dt_frames:.1f}x"
        )
        print(
            f"  historian.summarize per frame on arrays in memory: {dt_arrays * 1e3:.0f} ms "
            f"= {dt_arrays / dt_frames:.1f}x"
        )


if __name__ == "__main__":
    main()
