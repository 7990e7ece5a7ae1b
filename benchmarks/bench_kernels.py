"""Aggregation kernels beside pandas, polars and DuckDB, in one run; plus plot() and import time.

    python benchmarks/bench_kernels.py [--n 10000000] [--tags 1000] [--per-tag 100000]
                                       [--repeat 3] [--peer-repeat 1] [--skip-peers]

Workloads (1-minute intervals, all samples Good, irregular times about 1 s apart):

* ``family``: min, max, first, last, mean, count together;
* ``twa``: time-weighted average, linear between samples and interpolated at interval edges.

Each on one tag of ``--n`` points and on ``--tags`` tags of ``--per-tag`` points. Every engine
runs on one thread (``POLARS_MAX_THREADS=1``, DuckDB ``SET threads=1``) so the figures compare
single-core work. Peers are written as a skilled user would: pandas ``resample().agg()`` and, for
many tags, ``groupby([tag, bucket]).agg()``; the pandas twa is numpy ``interp`` at the edges plus
trapezoids summed by ``bincount``; polars ``group_by_dynamic`` and, for twa, edge rows +
``interpolate_by`` + trapezoids; DuckDB ``GROUP BY`` with ``arg_min/arg_max`` for first/last and,
for twa, edge rows interpolated with ``last_value/first_value IGNORE NULLS`` windows. The twa
results of every peer are checked against historian's on the intervals inside the data.

Also: ``plot()`` of 10 M points into 2,000 pixels, and ``import historian`` + the first kernel
call in a fresh subprocess (Numba cache warmed by a previous subprocess).
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse
import platform
import subprocess
import sys
import time

import numpy as np

from historian.kernels import aggregate_many, plot_indices

S = 1_000_000_000
MIN = 60 * S
T0 = 1_767_225_600 * S
FAMILY = ["min", "max", "first", "last", "mean", "count"]


def make_tag(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T0 + np.cumsum(rng.integers(S // 2, 3 * S // 2, n, dtype=np.int64))
    v = 100 + np.cumsum(rng.normal(0, 0.1, n))
    return t, v


CPU_SECONDS: list[float] = []  # CPU time of the last best_of, read by add()


def best_of(fn, repeat: int):
    """Best wall time of ``repeat`` runs (and, in CPU_SECONDS, the best process CPU time)."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    CPU_SECONDS[:] = [best_cpu]
    return best, out


def window(t: np.ndarray) -> tuple[int, int]:
    start = int(t[0]) // MIN * MIN
    end = (int(t[-1]) // MIN + 1) * MIN
    return start, end


# ----------------------------------------------------------------------------- historian
def hist_one(t, v, stats):
    start, end = window(t)
    return aggregate_many(t, v, None, start_ns=start, end_ns=end, every_ns=MIN, stats=stats)


def hist_many(tags, stats, start, end):
    return [
        aggregate_many(t, v, None, start_ns=start, end_ns=end, every_ns=MIN, stats=stats)
        for t, v in tags
    ]


# ----------------------------------------------------------------------------- pandas
def pandas_family_one(s):
    return s.resample("1min").agg(["min", "max", "first", "last", "mean", "count"])


def numpy_twa(t, v, start, end):
    edges = np.arange(start, end + 1, MIN, dtype=np.int64)
    # merge the edge times into the (sorted) sample times; a shared time only adds a 0-length piece
    ti = np.sort(np.concatenate([t, edges[(edges >= t[0]) & (edges <= t[-1])]]), kind="stable")
    vi = np.interp(ti, t, v)
    area = (vi[1:] + vi[:-1]) * 0.5 * np.diff(ti)
    bucket = (ti[:-1] - start) // MIN
    return np.bincount(bucket, weights=area, minlength=len(edges) - 1) / MIN


def pandas_family_many(df):
    import pandas as pd

    bucket = pd.Series(df["time"].to_numpy().astype(np.int64) // MIN, index=df.index)
    return df.groupby([df["tag"], bucket], sort=False)["value"].agg(
        ["min", "max", "first", "last", "mean", "count"]
    )


# ----------------------------------------------------------------------------- polars
def polars_family(df, many: bool):
    import polars as pl

    kw = {"group_by": "tag"} if many else {}
    return df.group_by_dynamic("time", every="1m", **kw).agg(
        pl.col("value").min().alias("min"),
        pl.col("value").max().alias("max"),
        pl.col("value").first().alias("first"),
        pl.col("value").last().alias("last"),
        pl.col("value").mean().alias("mean"),
        pl.len().alias("count"),
    )


def polars_twa(df, edges_df, start, many: bool):
    import polars as pl

    def per_tag(e):  # window expressions per tag only when there are several tags
        return e.over("tag") if many else e

    u = pl.concat([df, edges_df], how="vertical").sort(["tag", "t"] if many else "t")
    u = u.with_columns(per_tag(pl.col("value").interpolate_by("t")))
    u = u.with_columns(
        area=(pl.col("value") + per_tag(pl.col("value").shift(-1)))
        * 0.5
        * (per_tag(pl.col("t").shift(-1)) - pl.col("t")),
        bucket=(pl.col("t") - start) // MIN,
    )
    return u.group_by(["tag", "bucket"]).agg((pl.col("area").sum() / MIN).alias("twa"))


# ----------------------------------------------------------------------------- duckdb
DUCK_FAMILY = """
SELECT tag, time // {every} AS b, min(value), max(value), arg_min(value, time) AS first,
       arg_max(value, time) AS last, avg(value), count(*)
FROM pts GROUP BY ALL
"""
DUCK_TWA = """
WITH e AS (SELECT tag, range AS time, NULL::DOUBLE AS value
           FROM (SELECT tag, min(time) AS lo, max(time) AS hi FROM pts GROUP BY tag) x,
                range({start}, {end} + 1, {every}) WHERE range BETWEEN lo AND hi),
u AS (SELECT tag, time, value FROM pts UNION ALL SELECT * FROM e),
w AS (SELECT tag, time, value,
        last_value(CASE WHEN value IS NOT NULL THEN time END IGNORE NULLS)
            OVER (PARTITION BY tag ORDER BY time ROWS UNBOUNDED PRECEDING) AS tp,
        last_value(value IGNORE NULLS)
            OVER (PARTITION BY tag ORDER BY time ROWS UNBOUNDED PRECEDING) AS vp,
        first_value(CASE WHEN value IS NOT NULL THEN time END IGNORE NULLS)
            OVER (PARTITION BY tag ORDER BY time ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
            AS tn,
        first_value(value IGNORE NULLS)
            OVER (PARTITION BY tag ORDER BY time ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
            AS vn
      FROM u),
i AS (SELECT tag, time, COALESCE(value, CASE WHEN tn = tp THEN vp
                                           ELSE vp + (vn - vp) * (time - tp) / (tn - tp) END) AS v
      FROM w),
s AS (SELECT tag, time, v, lead(time) OVER (PARTITION BY tag ORDER BY time) AS t2,
             lead(v) OVER (PARTITION BY tag ORDER BY time) AS v2 FROM i)
SELECT tag, (time - {start}) // {every} AS b, sum((v + v2) * 0.5 * (t2 - time)) / {every} AS twa
FROM s WHERE t2 IS NOT NULL GROUP BY ALL
"""


def duck_connect():
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads=1")
    return con


# ----------------------------------------------------------------------------- import time
IMPORT_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
import historian
from historian.kernels import aggregate_many
t = np.arange(1000, dtype=np.int64) * 10**9
aggregate_many(t, np.sin(np.arange(1000.0)), None, start_ns=0, end_ns=10**12, every_ns=6 * 10**10,
               stats=["twa", "min", "max", "first", "last", "mean", "count"])
print(time.perf_counter() - t0)
"""


def import_time() -> float:
    cmd = [sys.executable, "-c", IMPORT_SNIPPET]
    subprocess.run(cmd, check=True, capture_output=True)  # warm the Numba cache
    runs = [
        float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    return min(runs)


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--per-tag", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer-repeat", type=int, default=1)
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()
    rows: list[tuple[str, str, str, float, float, int]] = []

    def add(workload, data, engine, seconds, points):
        cpu = CPU_SECONDS[0]
        rows.append((workload, data, engine, seconds, cpu, points))
        print(
            f"  {workload:<7} {data:<22} {engine:<12} wall {seconds:8.3f} s  cpu {cpu:8.3f} s "
            f"{points / seconds / 1e6:9.1f} M pts/s (wall)",
            flush=True,
        )

    print(
        f"python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cpus; one thread per engine",
        flush=True,
    )

    # --- one tag -------------------------------------------------------------------------
    n = args.n
    t, v = make_tag(n, 0)
    start, end = window(t)
    one = f"1 tag x {n / 1e6:g} M"
    hist_one(t[:1000], v[:1000], [*FAMILY, "twa"])  # compile / load cache
    sec, _ = best_of(lambda: hist_one(t, v, FAMILY), args.repeat)
    add("family", one, "historian", sec, n)
    sec, ours = best_of(lambda: hist_one(t, v, ["twa"]), args.repeat)
    add("twa", one, "historian", sec, n)
    ours_twa = ours["twa"].values
    inside = slice(1, len(ours_twa) - 1)
    checks = {}
    if not args.skip_peers:
        import duckdb  # noqa: F401
        import pandas as pd
        import polars as pl

        s = pd.Series(v, index=pd.DatetimeIndex(t))
        sec, _ = best_of(lambda: pandas_family_one(s), args.peer_repeat)
        add("family", one, "pandas", sec, n)
        sec, tw = best_of(lambda: numpy_twa(t, v, start, end), args.peer_repeat)
        add("twa", one, "pandas/numpy", sec, n)
        checks["pandas/numpy"] = float(np.nanmax(np.abs(tw[inside] - ours_twa[inside])))
        pdf = pl.DataFrame({"time": t.astype("datetime64[ns]"), "value": v}).set_sorted("time")
        sec, _ = best_of(lambda: polars_family(pdf, False), args.peer_repeat)
        add("family", one, "polars", sec, n)
        tdf = pl.DataFrame({"tag": np.zeros(n, np.int32), "t": t, "value": v})
        e = np.arange(start, end + 1, MIN, dtype=np.int64)
        e = e[(e >= t[0]) & (e <= t[-1])]
        edf = pl.DataFrame({"tag": np.zeros(e.size, np.int32), "t": e}).with_columns(
            value=pl.lit(None, dtype=pl.Float64)
        )
        sec, res = best_of(lambda: polars_twa(tdf, edf, start, False), args.peer_repeat)
        add("twa", one, "polars", sec, n)
        got = res.sort("bucket")["twa"].to_numpy()
        checks["polars"] = float(np.nanmax(np.abs(got[1:-1] - ours_twa[1 : 1 + got.size - 2])))
        con = duck_connect()
        arrow = pa_table(np.zeros(n, np.int32), t, v)
        con.register("pts", arrow)
        q_fam = DUCK_FAMILY.format(every=MIN)
        sec, _ = best_of(lambda: con.execute(q_fam).fetchnumpy(), args.peer_repeat)
        add("family", one, "duckdb", sec, n)
        q_twa = DUCK_TWA.format(start=start, end=end, every=MIN)
        sec, res = best_of(
            lambda: con.execute(q_twa + " ORDER BY b").fetchnumpy(), args.peer_repeat
        )
        add("twa", one, "duckdb", sec, n)
        got = np.asarray(res["twa"], dtype=float)
        checks["duckdb"] = float(np.nanmax(np.abs(got[1:-1] - ours_twa[1 : 1 + got.size - 2])))
        con.close()
        s = pdf = tdf = arrow = None
    t = v = None  # free memory before the next workload

    # --- many tags -----------------------------------------------------------------------
    k, m = args.tags, args.per_tag
    many = f"{k} tags x {m / 1e3:g} k"
    tags = [make_tag(m, 1 + i) for i in range(k)]
    lo = min(int(t[0]) for t, _ in tags) // MIN * MIN
    hi = (max(int(t[-1]) for t, _ in tags) // MIN + 1) * MIN
    total = k * m
    sec, _ = best_of(lambda: hist_many(tags, FAMILY, lo, hi), args.repeat)
    add("family", many, "historian", sec, total)
    sec, _ = best_of(lambda: hist_many(tags, ["twa"], lo, hi), args.repeat)
    add("twa", many, "historian", sec, total)
    if not args.skip_peers:
        import pandas as pd
        import polars as pl

        tag_col = np.repeat(np.arange(k, dtype=np.int32), m)
        t_all = np.concatenate([t for t, _ in tags])
        v_all = np.concatenate([v for _, v in tags])
        df = pd.DataFrame({"tag": tag_col, "time": t_all.astype("datetime64[ns]"), "value": v_all})
        sec, _ = best_of(lambda: pandas_family_many(df), args.peer_repeat)
        add("family", many, "pandas", sec, total)
        sec, _ = best_of(lambda: [numpy_twa(t, v, lo, hi) for t, v in tags], args.peer_repeat)
        add("twa", many, "pandas/numpy", sec, total)
        df = None
        pdf = pl.DataFrame(
            {"tag": tag_col, "time": t_all.astype("datetime64[ns]"), "value": v_all}
        ).sort(["tag", "time"])
        sec, _ = best_of(lambda: polars_family(pdf.set_sorted("time"), True), args.peer_repeat)
        add("family", many, "polars", sec, total)
        pdf = None
        tdf = pl.DataFrame({"tag": tag_col, "t": t_all, "value": v_all})
        e_parts = []
        for i, (t, _) in enumerate(tags):
            e = np.arange(lo, hi + 1, MIN, dtype=np.int64)
            e = e[(e >= t[0]) & (e <= t[-1])]
            e_parts.append((np.full(e.size, i, np.int32), e))
        edf = pl.DataFrame(
            {
                "tag": np.concatenate([a for a, _ in e_parts]),
                "t": np.concatenate([b for _, b in e_parts]),
            }
        ).with_columns(value=pl.lit(None, dtype=pl.Float64))
        sec, _ = best_of(lambda: polars_twa(tdf, edf, lo, True), args.peer_repeat)
        add("twa", many, "polars", sec, total)
        tdf = edf = None
        con = duck_connect()
        con.register("pts", pa_table(tag_col, t_all, v_all))
        sec, _ = best_of(
            lambda: con.execute(DUCK_FAMILY.format(every=MIN)).fetchnumpy(), args.peer_repeat
        )
        add("family", many, "duckdb", sec, total)
        sec, _ = best_of(
            lambda: con.execute(DUCK_TWA.format(start=lo, end=hi, every=MIN)).fetchnumpy(),
            args.peer_repeat,
        )
        add("twa", many, "duckdb", sec, total)
        con.close()
    tags = None

    # --- plot ----------------------------------------------------------------------------
    t, v = make_tag(10_000_000, 7)
    plot_indices(t[:1000], v[:1000], None, start_ns=int(t[0]), end_ns=int(t[999]) + 1, width=10)
    sec, idx = best_of(
        lambda: plot_indices(t, v, None, start_ns=int(t[0]), end_ns=int(t[-1]) + 1, width=2000),
        args.repeat,
    )
    add("plot", f"10 M -> 2000 px ({idx.size} pts)", "historian", sec, t.size)
    t = v = None

    imp = import_time()
    print(f"\nimport historian + first kernel call (warm Numba cache): {imp:.3f} s")

    # --- table ---------------------------------------------------------------------------
    print(
        "\n| workload | data | engine | wall s | CPU s | M points/s (wall) | M points/s (CPU) "
        "| historian faster by (wall) |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    ours = {(w, d): s for w, d, e, s, _c, _p in rows if e == "historian"}
    for w, d, e, s, c, p in rows:
        ratio = s / ours[(w, d)] if (w, d) in ours else float("nan")
        extra = "" if e == "historian" else f"{ratio:.1f}x"
        print(
            f"| {w} | {d} | {e} | {s:.3f} | {c:.3f} | {p / s / 1e6:.0f} | {p / c / 1e6:.0f} "
            f"| {extra} |"
        )
    if checks:
        print(
            "\nmax |twa difference| vs historian on inner intervals (1 tag): "
            + ", ".join(f"{k} {v:.2e}" for k, v in checks.items())
        )


def pa_table(tag, t, v):
    import pyarrow as pa

    return pa.table({"tag": tag, "time": t, "value": v})


if __name__ == "__main__":
    main()
