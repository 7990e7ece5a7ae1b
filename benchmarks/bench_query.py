"""Query benchmarks: lagged correlation matrix and events, historian vs pandas vs DuckDB SQL.

    python benchmarks/bench_query.py            # 50 tags x 1 week at 1 s; events over 10 M points
    python benchmarks/bench_query.py --quick    # 10 tags x 1 day; events over 1 M points

One run each (the machine is shared: figures are indicative). Every contender starts from the
same store. Correlation: every pair of tags on a 1-minute grid, lags -30..+30 minutes, strongest
lag per pair.

- historian: ``h.correlate(tags, start, end, "1min", max_lag="30min")`` (Part 13 interpolation on
  the grid, numba lagged correlation).
- pandas: ``h.read(...)`` -> pivot -> ``resample("1min").mean()`` -> for each lag ``shift`` +
  ``corr`` (pairwise NaN handling), strongest lag per pair.
- DuckDB SQL alone: ``h.sql`` over the ``points`` view: ``time_bucket`` averages, then a self
  join on ``bucket + lag`` with ``corr()`` per (pair, lag).

The analysis stage alone (from raw points already in memory) is timed too: historian's
interpolate kernel + lagged_corr against pandas pivot + resample + shift/corr.

Events: ``h.events("A > 1 and B < 0", ...)`` with min/max/mean of A per event over raw sample
times, against pandas (read, pivot, condition, run ids with ``cumsum``, ``groupby().agg``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import historian
from historian.kernels.correlate import lagged_corr
from historian.kernels.interpolate import grid, interpolate
from historian.query.events import _split

S = 1_000_000_000
MIN = 60 * S
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def make_corr_store(path: str, n_tags: int, seconds: int) -> list[str]:
    """Tags driven by a few smooth random walks with known lags (in minutes) plus noise."""
    rng = np.random.default_rng(0)
    h = historian.open(path, fsync=False)
    t = T0 + np.arange(seconds, dtype=np.int64) * S
    pad = 3600
    drivers = [
        np.convolve(
            rng.standard_normal(seconds + 2 * pad).cumsum(), np.ones(120) / 120, mode="same"
        )
        for _ in range(5)
    ]
    names = []
    for i in range(n_tags):
        name = f"U{i // 10:02d}-TAG{i:03d}.PV"
        lag_s = 60 * int(rng.integers(0, 25))
        d = drivers[i % 5]
        v = rng.uniform(0.5, 2) * d[pad - lag_s : pad - lag_s + seconds] + rng.normal(
            0, 0.2, seconds
        )
        h.define(name)
        h.write(name, t, np.round(v, 3))
        names.append(name)
    h.flush()
    h.close()
    return names


def pandas_corr(long: pd.DataFrame, max_lag: int) -> pd.DataFrame:
    wide = long.pivot(index="time", columns="tag", values="value")
    rs = wide.resample("1min").mean()
    cols = list(rs.columns)
    best = {}
    for k in range(max_lag + 1):
        shifted = rs.shift(k).add_suffix("@lag")
        c = pd.concat([rs, shifted], axis=1).corr()
        # c.loc[a, b@lag] = corr(a(t), b(t - k)): b leads a by k -> a lags b
        for i, a in enumerate(cols):
            for b in cols[i + 1 :]:
                for lag, r in ((-k, c.loc[a, b + "@lag"]), (k, c.loc[b, a + "@lag"])):
                    key = (a, b)
                    if key not in best or abs(r) > abs(best[key][1]):
                        best[key] = (lag, r)
    return pd.DataFrame(
        [(a, b, lag, r) for (a, b), (lag, r) in best.items()],
        columns=["tag_a", "tag_b", "lag", "r"],
    )


DUCK_LAGGED = """
WITH r AS (
    SELECT tag, time_bucket(INTERVAL 1 MINUTE, time) AS b, avg(value) AS v
    FROM points WHERE good AND time >= $start AND time < $end
    GROUP BY ALL
),
lags AS (SELECT range AS k FROM range(-$max_lag, $max_lag + 1)),
c AS (
    SELECT a.tag AS tag_a, o.tag AS tag_b, l.k, corr(a.v, o.v) AS r
    FROM r a, lags l, r o
    WHERE a.tag < o.tag AND o.b = a.b + l.k * INTERVAL 1 MINUTE
    GROUP BY ALL
)
SELECT tag_a, tag_b, arg_max(k, abs(r)) AS lag, arg_max(r, abs(r)) AS r
FROM c GROUP BY ALL
"""

DUCK_LAG0 = """
WITH r AS (
    SELECT tag, time_bucket(INTERVAL 1 MINUTE, time) AS b, avg(value) AS v
    FROM points WHERE good AND time >= $start AND time < $end
    GROUP BY ALL
)
SELECT a.tag AS tag_a, o.tag AS tag_b, corr(a.v, o.v) AS r
FROM r a JOIN r o ON a.b = o.b AND a.tag < o.tag
GROUP BY ALL
"""


def historian_stage(long, names, start, end, max_lag):
    """Analysis only: interpolate kernel on the 1-min grid + lagged_corr, from raw arrays."""
    g = grid(start, end - MIN, MIN)
    raw = _split(long, names)
    x = np.empty((len(names), g.size))
    for i, n in enumerate(names):
        vals, st = interpolate(*raw[n], grid_ns=g)
        x[i] = np.where((st & np.uint32(0xC0000000)) == 0, vals, np.nan)
    return lagged_corr(x, max_lag)


def bench_correlation(path, n_tags, seconds, max_lag_min, duck_lags):
    rows = []
    t_make, names = timed(lambda: make_corr_store(path, n_tags, seconds))
    print(
        f"# store: {n_tags} tags x {seconds} s at 1 s = {n_tags * seconds:,} points "
        f"(written in {t_make:.1f} s)",
        file=sys.stderr,
    )
    start, end = T0, T0 + seconds * S
    # the DuckDB contenders run for minutes over 30 M points: no SQL time limit, room in memory
    h = historian.open(path, duckdb_threads=2, sql_timeout=None, duckdb_memory_limit="16GB")
    h.correlate(names[:2], start, start + 60 * MIN, "1min", max_lag="2min", progress=False)  # jit
    t_hist, res = timed(
        lambda: h.correlate(names, start, end, "1min", max_lag=f"{max_lag_min}min", progress=False)
    )
    t_read, long_tbl = timed(lambda: h.read(names, start, end))
    t_topd, long = timed(lambda: long_tbl.to_pandas())
    t_pd, pdres = timed(lambda: pandas_corr(long, max_lag_min))
    t_stage, _ = timed(lambda: historian_stage(long_tbl, names, start, end, max_lag_min))
    t_stage_pd = t_pd
    rows.append(("corr matrix, from the store", "historian h.correlate", t_hist))
    rows.append(
        (
            "corr matrix, from the store",
            "pandas read+pivot+resample+shift/corr",
            t_read + t_topd + t_pd,
        )
    )
    t_duck0, _ = timed(
        lambda: h.sql(
            DUCK_LAG0, {"start": pd.Timestamp(start, tz="UTC"), "end": pd.Timestamp(end, tz="UTC")}
        ).fetchall()
    )
    rows.append(("corr matrix, from the store", "DuckDB SQL, lag 0 only", t_duck0))
    if duck_lags:
        t_duck, _ = timed(
            lambda: h.sql(
                DUCK_LAGGED,
                {
                    "start": pd.Timestamp(start, tz="UTC"),
                    "end": pd.Timestamp(end, tz="UTC"),
                    "max_lag": max_lag_min,
                },
            ).fetchall()
        )
        rows.append(("corr matrix, from the store", f"DuckDB SQL, lags +-{max_lag_min}", t_duck))
    rows.append(("corr analysis stage (raw points in memory)", "historian kernels", t_stage))
    rows.append(("corr analysis stage (raw points in memory)", "pandas", t_stage_pd))
    t_interp, _ = timed(lambda: h.interpolated(names, start, end, "1min", quality=True))
    rows.append(("(context)", "h.read of all points", t_read))
    rows.append(("(context)", "h.interpolated of all tags on the 1-min grid", t_interp))
    # agreement: the strongest lags
    mine = {(r["tag_a"], r["tag_b"]): r["lag_steps"] for r in res.to_pylist()}
    agree = np.mean(
        [
            mine[(a, b)] == lag
            for a, b, lag in pdres[["tag_a", "tag_b", "lag"]].itertuples(index=False)
        ]
    )
    print(
        f"# best lag agreement historian vs pandas: {agree:.0%} of {len(pdres)} pairs",
        file=sys.stderr,
    )
    h.close()
    return rows


def make_events_store(path: str, n_points: int) -> None:
    rng = np.random.default_rng(1)
    h = historian.open(path, fsync=False)
    n = n_points // 2
    t = T0 + np.arange(n, dtype=np.int64) * S
    for name, scale in (("A", 1.0), ("B", 1.0)):
        h.define(name)
        v = np.convolve(rng.standard_normal(n + 200), np.ones(60) / 8, mode="same")[100 : 100 + n]
        h.write(name, t, np.round(v * scale, 3))
    h.flush()
    h.close()


def pandas_events(long: pd.DataFrame) -> pd.DataFrame:
    wide = long.pivot(index="time", columns="tag", values="value")
    cond = (wide["A"] > 1) & (wide["B"] < 0)
    run = (cond != cond.shift()).cumsum()
    g = wide.loc[cond, "A"].groupby(run[cond])
    out = g.agg(["min", "max", "mean"])
    out["start"] = wide.index.to_series()[cond].groupby(run[cond]).first()
    return out


def bench_events(path, n_points):
    t_make, _ = timed(lambda: make_events_store(path, n_points))
    print(
        f"# events store: 2 tags, {n_points:,} points (written in {t_make:.1f} s)", file=sys.stderr
    )
    h = historian.open(path)
    end = T0 + (n_points // 2) * S
    h.events("A > 1", T0, T0 + 100 * S)  # warm-up
    t_hist, ev = timed(lambda: h.events("A > 1 and B < 0", T0, end, stats_tags=["A"]))
    t_read, long_tbl = timed(lambda: h.read(["A", "B"], T0, end))
    t_pd, pdev = timed(lambda: pandas_events(long_tbl.to_pandas()))
    print(f"# events: historian {ev.num_rows}, pandas {len(pdev)}", file=sys.stderr)
    h.close()
    return [
        (f"events over {n_points / 1e6:g} M points", "historian h.events", t_hist),
        (
            f"events over {n_points / 1e6:g} M points",
            "pandas read+pivot+runs+groupby",
            t_read + t_pd,
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--no-duckdb-lags", action="store_true", help="skip the (slow) DuckDB lagged self-join"
    )
    args = ap.parse_args()
    n_tags, seconds, n_events = (
        (10, 86_400, 1_000_000) if args.quick else (50, 7 * 86_400, 10_000_000)
    )
    rows = []
    with tempfile.TemporaryDirectory() as d:
        rows += bench_correlation(
            os.path.join(d, "corr.hist"), n_tags, seconds, 30, not args.no_duckdb_lags
        )
        rows += bench_events(os.path.join(d, "events.hist"), n_events)
    print(f"{'case':<44} {'contender':<42} {'seconds':>8} {'vs first':>9}")
    first: dict[str, float] = {}
    for case, who, sec in rows:
        base = first.setdefault(case, sec)
        print(f"{case:<44} {who:<42} {sec:8.2f} {sec / base:8.1f}x")


if __name__ == "__main__":
    main()
