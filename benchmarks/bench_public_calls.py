"""Public calls beside their own kernels (and polars/pandas on the same arrays), in one run.

    python benchmarks/bench_public_calls.py [--n 10000000] [--repeat 7] [--tags 1000]
                                            [--store-points 7200] [--skip-store]

Arrays (``--n`` points of one tag, irregular times about 1 s apart, 1-minute intervals):

* ``family`` (min, max, first, last, mean, count) and ``twa``: the kernel alone
  (``historian.kernels.aggregate_many`` on int64 ns times) against ``historian.summarize`` with
  the times as int64, ``datetime64[ns]`` and a pandas ``DatetimeIndex``, and against polars
  (``group_by_dynamic``; for twa, edge rows + ``interpolate_by`` + trapezoids, as in
  ``bench_kernels.py``) and pandas ``resample().agg()`` on the same arrays.

A store (``--tags`` tags x ``--store-points`` points, 1 s apart, in a temporary folder):

* ``h.read`` of all tags x 1 h against the store's own read of the same points (``_series``,
  the file I/O and merge, no table built), with ``tag_type="string"`` and ``"dictionary"``;
* ``h.summary`` (100 tags x 1 h, family, 1 min), ``h.interpolated`` (100 tags x 1 h, 1 s) and
  ``h.plot`` (1 tag x 2 h, 2,000 px) against I/O (``bounded_series``) + kernels on the
  arrays read; polars ``group_by_dynamic`` on the same points for the summary.

Every case runs once per round, the rounds interleave the cases (the machine is shared, so
they see the same load), and the figures are the median over ``--repeat`` rounds; ratios are
taken between medians of the same run. Polars runs on one thread (``POLARS_MAX_THREADS=1``), as
the kernels do.
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import FAMILY, MIN, make_tag, polars_family, polars_twa, window

import historian
from historian.kernels import aggregate_many, interpolate, plot
from historian.kernels.interpolate import grid

S = 1_000_000_000
T0 = 1_767_225_600 * S


def rounds(cases: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds per case over ``repeat`` interleaved rounds (one warm-up round first)."""
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    order = list(cases)
    for r in range(repeat):
        for name in order[r % len(order) :] + order[: r % len(order)]:  # rotated each round
            t0 = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def report(title: str, med: dict[str, float], base: str, points: int | None = None) -> None:
    print(f"\n{title}")
    print(
        f"  {'case':44s} {'median ms':>10s} {'vs ' + base:>14s}"
        + (f" {'M points/s':>11s}" if points else "")
    )
    for name, sec in med.items():
        line = f"  {name:44s} {sec * 1e3:10.1f} {sec / med[base]:13.2f}x"
        if points:
            line += f" {points / sec / 1e6:11.0f}"
        print(line)


def arrays(n: int, repeat: int) -> None:
    import pandas as pd
    import polars as pl

    t, v = make_tag(n, 7)
    start, end = window(t)
    tdt = t.view("datetime64[ns]")
    tpd = pd.DatetimeIndex(tdt)

    def kernel(stats: list[str]) -> Callable[[], object]:
        return lambda: aggregate_many(
            t, v, None, start_ns=start, end_ns=end, every_ns=MIN, stats=stats
        )

    def public(times: object, stats: list[str]) -> Callable[[], object]:
        return lambda: historian.summarize(
            times, v, start=start, end=end, every="1min", stats=stats
        )

    pdf = pl.DataFrame({"time": tdt, "value": v}).set_sorted("time")
    series = pd.Series(v, index=tpd)
    fam = rounds(
        {
            "kernel aggregate_many (int64)": kernel(FAMILY),
            "historian.summarize, int64 times": public(t, FAMILY),
            "historian.summarize, datetime64[ns] times": public(tdt, FAMILY),
            "historian.summarize, pandas DatetimeIndex": public(tpd, FAMILY),
            "polars group_by_dynamic": lambda: polars_family(pdf, False),
            "pandas resample().agg()": lambda: series.resample("1min").agg(
                ["min", "max", "first", "last", "mean", "count"]
            ),
        },
        repeat,
    )
    report(
        f"family (min max first last mean count), 1 tag x {n / 1e6:g} M points, 1 min",
        fam,
        "kernel aggregate_many (int64)",
        n,
    )
    pub = fam["historian.summarize, datetime64[ns] times"]
    print(f"  polars / summarize(datetime64): {fam['polars group_by_dynamic'] / pub:.1f}x")

    tdf = pl.DataFrame({"tag": np.zeros(n, np.int32), "t": t, "value": v})
    e = np.arange(start, end + 1, MIN, dtype=np.int64)
    e = e[(e >= t[0]) & (e <= t[-1])]
    edf = pl.DataFrame({"tag": np.zeros(e.size, np.int32), "t": e}).with_columns(
        value=pl.lit(None, dtype=pl.Float64)
    )
    twa = rounds(
        {
            "kernel aggregate_many (int64)": kernel(["twa"]),
            "historian.summarize, int64 times": public(t, ["twa"]),
            "historian.summarize, datetime64[ns] times": public(tdt, ["twa"]),
            "polars edges + interpolate_by + trapezoids": lambda: polars_twa(
                tdf, edf, start, False
            ),
        },
        repeat,
    )
    report(f"twa, 1 tag x {n / 1e6:g} M points, 1 min", twa, "kernel aggregate_many (int64)", n)
    pub = twa["historian.summarize, datetime64[ns] times"]
    print(
        f"  polars / summarize(datetime64): "
        f"{twa['polars edges + interpolate_by + trapezoids'] / pub:.1f}x"
    )


def make_store(path: str, n_tags: int, n: int) -> list[str]:
    import pyarrow as pa

    names = [f"AREA{i // 100:02d}.TIC-{i:04d}.PV" for i in range(n_tags)]
    rng = np.random.default_rng(1)
    with historian.open(path) as h:
        h.define_many({x: {} for x in names})
        for k in range(0, n_tags, 100):
            sub = names[k : k + 100]
            tag = np.repeat(np.array(sub), n)
            tt = np.tile(T0 + np.arange(n, dtype=np.int64) * S, len(sub))
            h.write_table(
                pa.table(
                    {
                        "tag": tag,
                        "time": pa.array(tt, pa.timestamp("ns", "UTC")),
                        "value": rng.normal(size=tt.size).round(2),
                    }
                )
            )
        h.compact()
    return names


def store(n_tags: int, n: int, repeat: int) -> None:
    import polars as pl

    from historian.query.retrieval import summary_for_tags

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        names = make_store(d, n_tags, n)
        print(
            f"\nstore: {n_tags} tags x {n} points written and compacted in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        with historian.open(d) as h:
            a, b = T0 + (n // 4) * S, T0 + (n // 4 + 3600) * S
            every = 60 * S
            ordered = sorted(names)
            read = rounds(
                {
                    "I/O only: store._series (no table)": lambda: h._series(ordered, a, b),
                    "h.read (tag string)": lambda: h.read(None, a, b),
                    "h.read (tag_type='dictionary')": lambda: h.read(
                        None, a, b, tag_type="dictionary"
                    ),
                },
                repeat,
            )
            rows = h.read(None, a, b).num_rows
            report(
                f"h.read, all {n_tags} tags x 1 h ({rows:,} rows)",
                read,
                "I/O only: store._series (no table)",
            )

            few = ordered[:100]
            pts = pl.from_arrow(h.read(few, a, b)).sort("tag", "time").set_sorted("time")

            def io_kernels_summary() -> object:
                s = h.bounded_series(few, a, b)
                return summary_for_tags(
                    {x: (s[x].time, s[x].value, s[x].quality) for x in few},
                    start_ns=a,
                    end_ns=b,
                    every_ns=every,
                    stats=FAMILY,
                )

            def io_kernels_only() -> object:
                s = h.bounded_series(few, a, b)
                return [
                    aggregate_many(
                        s[x].time,
                        s[x].value,
                        s[x].quality,
                        start_ns=a,
                        end_ns=b,
                        every_ns=every,
                        stats=FAMILY,
                    )
                    for x in few
                ]

            held = h.bounded_series(few, a, b)

            def kernels_in_memory() -> object:
                return [
                    aggregate_many(
                        held[x].time,
                        held[x].value,
                        held[x].quality,
                        start_ns=a,
                        end_ns=b,
                        every_ns=every,
                        stats=FAMILY,
                    )
                    for x in few
                ]

            summ = rounds(
                {
                    "I/O + kernels (bounded_series + aggregate_many)": io_kernels_only,
                    "kernels only, on the points in memory": kernels_in_memory,
                    "I/O + kernels + result table (summary_for_tags)": io_kernels_summary,
                    "h.summary": lambda: h.summary(few, a, b, "1min", stats=FAMILY),
                    "polars group_by_dynamic on the points in memory": lambda: pts.group_by_dynamic(
                        "time", every="1m", group_by="tag"
                    ).agg(
                        pl.col("value").min(),
                        pl.col("value").max().alias("max"),
                        pl.col("value").first().alias("first"),
                        pl.col("value").last().alias("last"),
                        pl.col("value").mean().alias("mean"),
                        pl.len(),
                    ),
                },
                repeat,
            )
            report(
                "h.summary, 100 tags x 1 h, family, 1 min",
                summ,
                "I/O + kernels (bounded_series + aggregate_many)",
            )

            g = grid(a, b, S)

            def io_interp() -> object:
                s = h.bounded_series(few, a, b + 1)
                return [interpolate(s[x].time, s[x].value, s[x].quality, grid_ns=g) for x in few]

            interp = rounds(
                {
                    "I/O + kernel (bounded_series + interpolate)": io_interp,
                    "h.interpolated": lambda: h.interpolated(few, a, b, "1s"),
                },
                repeat,
            )
            report(
                "h.interpolated, 100 tags x 1 h, 1 s grid",
                interp,
                "I/O + kernel (bounded_series + interpolate)",
            )

            one = ordered[0]
            lo, hi = T0, T0 + min(n, 7200) * S

            def io_plot() -> object:
                s = h.bounded_series([one], lo, hi)[one]
                return plot(s.time, s.value, s.quality, start_ns=lo, end_ns=hi, width=2000)

            pl_med = rounds(
                {
                    "I/O + kernel (bounded_series + plot)": io_plot,
                    "h.plot": lambda: h.plot(one, lo, hi, width=2000),
                },
                repeat,
            )
            report("h.plot, 1 tag x 2 h, 2,000 px", pl_med, "I/O + kernel (bounded_series + plot)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="points of the array workloads")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds (median)")
    ap.add_argument("--tags", type=int, default=1000, help="tags of the store")
    ap.add_argument("--store-points", type=int, default=7200, help="points per tag, 1 s apart")
    ap.add_argument("--skip-store", action="store_true", help="only the array workloads")
    args = ap.parse_args()
    print(
        f"python {sys.version.split()[0]}, historian {historian.__version__}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    arrays(args.n, args.repeat)
    if not args.skip_store:
        store(args.tags, args.store_points, args.repeat)


if __name__ == "__main__":
    main()
