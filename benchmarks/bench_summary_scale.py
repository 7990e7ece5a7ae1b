"""Store-level ``h.summary`` from 1 to 10,000 tags: does it scale with points or with tags?

    python benchmarks/bench_summary_scale.py [--points 2000000] [--tags 1,100,1000,10000]
                                             [--repeat 3] [--every 60]

For each tag count a store is written in a temporary folder (``--points`` points in all, split
evenly over the tags, 1 s apart, compacted), and one summary of every tag (twa, min, max,
mean, count; ``--every`` seconds) over the data minus a minute at each end (so every interval
has bounding values) is timed three ways, interleaved, best of ``--repeat``:

* ``h.summary``: the public call (bounded reads from the files, kernels, the result table);
* ``kernel``: the kernels' own time on the same arrays, already in memory and concatenated:
  one multi-series call (``kernels._multi.aggregate_series``, what ``h.summary`` runs);
  ``per tag``: ``historian.kernels.aggregate_many`` once per tag on the same arrays; ``I/O``:
  ``h.bounded_series`` alone (the store's bounded reads from the files);
* ``DuckDB``: one SQL over the store's files (the snapshot's Parquet files, last write wins, as
  in docs/format.md), per (tag, interval) a trapezoid twa of the samples inside (no bounding
  values: less work than Part 13's), min, max, avg, count; DuckDB on its default threads.

Printed per tag count: milliseconds and ns per point, ``h.summary`` / kernel and
``h.summary`` / DuckDB. The same numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

import historian
from historian.kernels import aggregate_many, resolve_stat
from historian.kernels._config import interval_edges
from historian.kernels._multi import aggregate_series

S = 1_000_000_000
T0 = 1_767_225_600 * S
STATS = ["twa", "min", "max", "mean", "count"]

DUCKDB_SQL = """
WITH pts AS (
    SELECT tag, epoch_ns(time) AS t, coalesce(value, value_int / pow(10, decimals)) AS v
    FROM read_parquet($files, union_by_name = true)
    WHERE epoch_ns(time) >= $a AND epoch_ns(time) < $b
    QUALIFY row_number() OVER (PARTITION BY tag, time ORDER BY ingested DESC) = 1),
seg AS (
    SELECT tag, t, v, lead(t) OVER w AS t2, lead(v) OVER w AS v2
    FROM pts WINDOW w AS (PARTITION BY tag ORDER BY t))
SELECT tag, (t - $a) // $every AS k,
       sum((v + v2) / 2 * (t2 - t)) / sum(t2 - t) AS twa,
       min(v) AS min, max(v) AS max, avg(v) AS mean, count(*) AS count
FROM seg GROUP BY tag, k
"""


def make_store(path: str, n_tags: int, per_tag: int) -> list[str]:
    """``n_tags`` tags x ``per_tag`` points 1 s apart, written in batches and compacted."""
    names = [f"AREA{i // 100:03d}.TIC-{i:05d}.PV" for i in range(n_tags)]
    rng = np.random.default_rng(1)
    batch = max(1, 1_000_000 // per_tag)
    with historian.open(path) as h:
        h.define_many({x: {} for x in names})
        for k in range(0, n_tags, batch):
            sub = names[k : k + batch]
            tt = np.tile(T0 + np.arange(per_tag, dtype=np.int64) * S, len(sub))
            h.write_table(
                pa.table(
                    {
                        "tag": np.repeat(np.array(sub), per_tag),
                        "time": pa.array(tt, pa.timestamp("ns", "UTC")),
                        "value": rng.normal(size=tt.size).round(2),
                    }
                )
            )
        h.compact()
    return names


def best(cases: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best seconds per case over ``repeat`` interleaved rounds (after one warm-up round)."""
    for fn in cases.values():
        fn()
    out = {k: float("inf") for k in cases}
    for _ in range(repeat):
        for k, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            out[k] = min(out[k], time.perf_counter() - t0)
    return out


def one(n_tags: int, points: int, every_s: int, repeat: int) -> dict[str, float]:
    import duckdb
    from deltalake import DeltaTable

    per_tag = max(points // n_tags, 3 * every_s)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        names = make_store(d, n_tags, per_tag)
        built = time.perf_counter() - t0
        a, b = T0 + 60 * S, T0 + (per_tag - 60) * S
        every = every_s * S
        files = DeltaTable(os.path.join(d, "points")).file_uris()
        con = duckdb.connect()
        with historian.open(d) as h:
            held = h.bounded_series(names, a, b)
            arrays = [(held[x].time, held[x].value, held[x].quality) for x in names]

            def tag_by_tag() -> object:
                return [
                    aggregate_many(t, v, q, start_ns=a, end_ns=b, every_ns=every, stats=STATS)
                    for t, v, q in arrays
                ]

            edges = interval_edges(a, b, every)
            p13 = [resolve_stat(x) for x in STATS]
            cat = [np.concatenate([x[i] for x in arrays]) for i in range(3)]
            offsets = np.cumsum([0] + [x[0].size for x in arrays]).astype(np.int64)
            flat = np.zeros(len(names), dtype=bool)

            def kernel() -> object:
                return aggregate_series(*cat, offsets, edges, p13, flat)

            def by_duckdb() -> object:
                return con.sql(
                    DUCKDB_SQL, params={"files": files, "a": a, "b": b, "every": every}
                ).to_arrow_table()

            got = best(
                {
                    "h.summary": lambda: h.summary(names, a, b, every_s, stats=STATS),
                    "kernel": kernel,
                    "per tag": tag_by_tag,
                    "I/O": lambda: h.bounded_series(names, a, b),
                    "DuckDB": by_duckdb,
                },
                repeat,
            )
            rows = h.summary(names, a, b, every_s, stats=STATS).num_rows
            duck_rows = by_duckdb().num_rows
        con.close()
    n_pts = n_tags * (per_tag - 120)
    print(
        f"{n_tags:>6} tags x {per_tag:>9,} points (store built in {built:5.1f} s); "
        f"{rows:,} summary rows, DuckDB {duck_rows:,} groups",
        file=sys.stderr,
    )
    return got | {"points": float(n_pts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2_000_000, help="points in all, per store")
    ap.add_argument("--tags", default="1,100,1000,10000", help="tag counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (best of)")
    ap.add_argument("--every", type=int, default=60, help="interval length in seconds")
    args = ap.parse_args()
    counts = [int(x) for x in args.tags.split(",")]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load "
        f"{os.getloadavg()[0]:.2f}; {args.points:,} points per store, stats {STATS}, "
        f"every {args.every} s; best of {args.repeat}; ms (ns per point)"
    )
    head = ["h.summary", "kernel", "per tag", "I/O", "DuckDB"]
    print(
        f"{'tags':>6} " + "".join(f"{h:>20}" for h in head) + f"{'summary/kernel':>16}"
        f"{'summary/DuckDB':>16}"
    )
    for n in counts:
        r = one(n, args.points, args.every, args.repeat)
        cells = "".join(f"{r[h] * 1e3:>10.1f} ({r[h] * 1e9 / r['points']:>5.1f})  " for h in head)
        print(
            f"{n:>6} {cells}{r['h.summary'] / r['kernel']:>14.2f}x"
            f"{r['h.summary'] / r['DuckDB']:>15.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
