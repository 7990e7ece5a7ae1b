"""Reads at every scale, by historian and by other engines, plus size on real data and read memory.

One run prints three tables (issues #17, #13 section 2, #19 item 2), peers interleaved:

1. **Reads** on a ``--tags`` x ``--points`` store (1 s polled data, bulk written, fully
   compacted): ``h.read`` for 1 tag x 1 h / 1 day (warm, and a fresh reader), all tags x 1 h
   (string and dictionary tag column), one tag x ``--long-points`` (a year is 31.5 M) against
   ``pq.read_table`` of one plain file, ArcticDB (LMDB, own venv: ``--arcticdb-python``),
   DuckDB / polars / pyarrow dataset over the store's live files (as docs/format.md shows)
   against the same engine over plain tuned files holding the same points, and ``h.sql``'s
   last-write-wins view against the same query without de-duplication.
2. **Size** of real series shipped by PyPI packages (statsmodels: weekly CO2, Nile flows,
   sunspots; vega_datasets: Seattle hourly temperatures) and of sparse data, bytes/point of the
   store against one plain tuned Parquet file.
3. **Read memory**: peak RSS of a fresh process reading one tag of N points over the
   result's ``nbytes`` (``--memory-points``, e.g. 1e6,1e7,1e8).

    python benchmarks/bench_reads.py                                  # 1,000 tags x 100,000
    python benchmarks/bench_reads.py --tags 50 --points 20000 --long-points 2000000 \\
        --memory-points 1000000                                       # quick
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datagen

import historian

HOUR = 3600 * 1_000_000_000
DAY = 24 * HOUR
PLAIN = {  # "plain tuned Parquet": the encodings a careful user picks by hand
    "compression": "zstd",
    "use_dictionary": ["tag"],
    "column_encoding": {"time": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT"},
    "write_statistics": ["tag", "time"],
    "sorting_columns": [pq.SortingColumn(0), pq.SortingColumn(1)],
}


def med(fn: Callable[[], Any], k: int = 9) -> float:
    """Median wall time of ``fn`` in ms, after one warm call."""
    fn()
    s = []
    for _ in range(k):
        t0 = time.perf_counter()
        fn()
        s.append(time.perf_counter() - t0)
    return float(np.median(s)) * 1e3


def polled_table(names: list[str], n: int, t0: int = datagen.T0) -> pa.Table:
    ts, vs, codes = [], [], []
    for i in range(len(names)):
        t, v = datagen.polled(i, n)
        ts.append(t - datagen.T0 + t0)
        vs.append(v)
        codes.append(np.full(t.size, i, dtype=np.int32))
    tag = pa.DictionaryArray.from_arrays(pa.array(np.concatenate(codes)), pa.array(names))
    return pa.table({"tag": tag,
                     "time": pa.array(np.concatenate(ts) // 1_000_000, pa.timestamp("ms", tz="UTC")),
                     "value": pa.array(np.concatenate(vs))})  # fmt: skip


def write_store(path: str, table: pa.Table) -> historian.Historian:
    names = table.column("tag").combine_chunks().dictionary.to_pylist()
    with historian.open(path, mode="w") as h:
        h.define_many({n: {} for n in names})
        h.write_table(table)
        h.compact(full=True)
    return historian.open(path, mode="r")


def store_files(path: str) -> list[str]:
    from deltalake import DeltaTable

    return [u.removeprefix("file://") for u in DeltaTable(os.path.join(path, "points")).file_uris()]


def plain_files(table: pa.Table, folder: str, n_files: int) -> list[str]:
    """The same points in ``n_files`` plain tuned files, cut by time like the store's."""
    os.makedirs(folder)
    t = table.column("time").cast(pa.int64()).to_numpy()
    edges = np.quantile(t, np.linspace(0, 1, n_files + 1)) if n_files > 1 else None
    out = []
    for k in range(n_files):
        if edges is None:
            part = table
        else:
            hi = t <= edges[k + 1] if k == n_files - 1 else t < edges[k + 1]
            part = table.filter(pa.array((t >= edges[k]) & hi))
        f = os.path.join(folder, f"p{k}.parquet")
        plain = pa.schema(
            [("tag", pa.string()), table.schema.field("time"), ("value", pa.float64())]
        )
        pq.write_table(part.cast(plain), f, row_group_size=1 << 20, **PLAIN)
        out.append(f)
    return out


def engines(files: list[str], plain: list[str], tag: str, a: int, b: int) -> dict[str, float]:
    """DuckDB, polars, pyarrow dataset: one tag x [a, b) over the store's files and plain ones."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as pads

    from historian.storage.format import VALUE_SQL

    con = duckdb.connect()
    ta, tb = (np.datetime64(a, "ns").astype("datetime64[us]"),
              np.datetime64(b, "ns").astype("datetime64[us]"))  # fmt: skip
    ours_sql = (
        f"SELECT tag, time, {VALUE_SQL} AS value, quality FROM read_parquet($f, "
        "union_by_name = true) WHERE tag = $tag AND time >= $a AND time < $b"
    )
    plain_sql = (
        "SELECT tag, time, value FROM read_parquet($f) WHERE tag = $tag AND "
        "time >= $a AND time < $b"
    )
    prm = {"tag": tag, "a": ta, "b": tb}
    out = {
        "duckdb ours": med(lambda: con.sql(ours_sql, params={"f": files, **prm}).to_arrow_table()),
        "duckdb plain": med(
            lambda: con.sql(plain_sql, params={"f": plain, **prm}).to_arrow_table()
        ),
    }
    pa_a, pa_b = (
        pa.scalar(a, pa.timestamp("ns", tz="UTC")),
        pa.scalar(b, pa.timestamp("ns", tz="UTC")),
    )
    flt = (pads.field("tag") == tag) & (pads.field("time") >= pa_a) & (pads.field("time") < pa_b)
    from historian.storage.format import FILE_SCHEMA

    ds_ours = pads.dataset(files, schema=FILE_SCHEMA, format="parquet")
    ds_plain = pads.dataset(plain, format="parquet")
    out["pyarrow dataset ours"] = med(lambda: ds_ours.to_table(filter=flt))
    out["pyarrow dataset plain"] = med(lambda: ds_plain.to_table(filter=flt))
    la, lb = (np.datetime64(a, "ns").astype("datetime64[ms]").item(),
              np.datetime64(b, "ns").astype("datetime64[ms]").item())  # fmt: skip
    import datetime as dt

    la, lb = la.replace(tzinfo=dt.UTC), lb.replace(tzinfo=dt.UTC)

    def pl_read(fs: list[str], ours: bool) -> Any:
        lf = pl.concat([pl.scan_parquet(f).with_columns(pl.col("time").dt.cast_time_unit("ns"))
                        for f in fs]) if ours else pl.scan_parquet(fs)  # fmt: skip
        q = lf.filter((pl.col("tag") == tag) & (pl.col("time") >= la) & (pl.col("time") < lb))
        if ours:
            q = q.select(
                "tag",
                "time",
                pl.coalesce("value", pl.col("value_int") / 10.0 ** pl.col("decimals")).alias(
                    "value"
                ),
            )
        return q.collect()

    out["polars ours"] = med(lambda: pl_read(files, True))
    out["polars plain"] = med(lambda: pl_read(plain, False))
    return out


ARCTIC = r"""
import json, sys, time
import numpy as np, pandas as pd, pyarrow.parquet as pq
from arcticdb import Arctic, WritePayload
src, uri, a1, b1, ad, bd = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
tab = pq.read_table(src)
ac = Arctic(uri); lib = ac.get_library("bench", create_if_missing=True)
tags = tab.column("tag").to_numpy(zero_copy_only=False)
t = tab.column("time").cast("int64").to_numpy(); v = tab.column("value").to_numpy()
cut = np.flatnonzero(tags[1:] != tags[:-1]) + 1
bounds = [0, *cut.tolist(), len(tags)]
names = [str(tags[i]) for i in bounds[:-1]]
lib.write_batch([WritePayload(n, pd.DataFrame({"value": v[a:b]},
                 index=pd.DatetimeIndex(t[a:b].astype("datetime64[ns]"))))
                 for n, a, b in zip(names, bounds[:-1], bounds[1:])])
def med(fn, k=9):
    fn(); s = []
    for _ in range(k):
        x = time.perf_counter(); fn(); s.append(time.perf_counter() - x)
    return float(np.median(s)) * 1e3
one = names[len(names) // 2]
r = lambda a, b: (pd.Timestamp(a, tz="UTC"), pd.Timestamp(b - 1, tz="UTC"))
out = {"1 tag x 1 h": med(lambda: lib.read(one, date_range=r(a1, b1)).data),
       "1 tag x 1 day": med(lambda: lib.read(one, date_range=r(ad, bd)).data)}
ac2 = Arctic(uri); lib2 = ac2.get_library("bench")
x = time.perf_counter(); lib2.read(one, date_range=r(a1, b1)).data
out["1 tag x 1 h, fresh reader"] = (time.perf_counter() - x) * 1e3
from arcticdb import ReadRequest
out["all tags x 1 h"] = med(lambda: lib.read_batch([ReadRequest(n, date_range=r(a1, b1)) for n in names]), k=3)
print(json.dumps(out))
"""

ARCTIC_LONG = r"""
import json, sys, time
import numpy as np, pandas as pd, pyarrow.parquet as pq
from arcticdb import Arctic
src, uri = sys.argv[1], sys.argv[2]
tab = pq.read_table(src)
t = tab.column("time").cast("int64").to_numpy(); v = tab.column("value").to_numpy()
ac = Arctic(uri); lib = ac.get_library("long", create_if_missing=True)
lib.write("A", pd.DataFrame({"value": v}, index=pd.DatetimeIndex(t.astype("datetime64[ns]"))))
def med(fn, k=3):
    fn(); s = []
    for _ in range(k):
        x = time.perf_counter(); fn(); s.append(time.perf_counter() - x)
    return float(np.median(s)) * 1e3
print(json.dumps({"long": med(lambda: lib.read("A").data)}))
"""


def arctic(python: str | None, script: str, *args: str) -> dict[str, float]:
    if not python:
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        proc = subprocess.run([python, f.name, *args], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        print("ArcticDB failed:", proc.stderr[-1500:])
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reads(root: str, args: argparse.Namespace) -> list[tuple[str, float, str, float | None]]:
    names = datagen.tag_names(args.tags)
    table = polled_table(names, args.points)
    h = write_store(os.path.join(root, "store"), table)
    files = store_files(h.path)
    plain_one = plain_files(table, os.path.join(root, "plain1"), 1)
    plain_n = plain_files(table, os.path.join(root, "plainN"), len(files))
    tag = names[len(names) // 2]
    hour = min(10, args.points // 3600 // 2)  # an hour inside the data
    a1, b1 = datagen.T0 + hour * HOUR, datagen.T0 + (hour + 1) * HOUR
    ad, bd = datagen.T0, datagen.T0 + DAY
    ac = arctic(
        args.arcticdb_python,
        ARCTIC,
        plain_one[0],
        "lmdb://" + os.path.join(root, "arctic") + "?map_size=20GB",
        *map(str, (a1, b1, ad, bd)),
    )
    rows: list[tuple[str, float, str, float | None]] = []
    rows.append(("1 tag x 1 h", med(lambda: h.read(tag, a1, b1)),
                 "ArcticDB", ac.get("1 tag x 1 h")))  # fmt: skip
    rows.append(("1 tag x 1 day", med(lambda: h.read(tag, ad, bd)),
                 "ArcticDB", ac.get("1 tag x 1 day")))  # fmt: skip
    fresh = historian.open(h.path, mode="r")
    t0 = time.perf_counter()
    fresh.read(tag, a1, b1)
    rows.append(("1 tag x 1 h, fresh reader", (time.perf_counter() - t0) * 1e3,
                 "ArcticDB", ac.get("1 tag x 1 h, fresh reader")))  # fmt: skip
    fresh.close()
    n_all = h.read(None, a1, b1).num_rows
    rows.append((f"all tags x 1 h ({n_all:,} rows)", med(lambda: h.read(None, a1, b1), k=5),
                 "ArcticDB", ac.get("all tags x 1 h")))  # fmt: skip
    rows.append(
        (
            "  same, tag_type='dictionary'",
            med(lambda: h.read(None, a1, b1, tag_type="dictionary"), k=5),
            "",
            None,
        )
    )
    eng = engines(files, plain_n, tag, a1, b1)
    for e in ("duckdb", "polars", "pyarrow dataset"):
        rows.append((f"{e} over the store's files, 1 tag x 1 h", eng[f"{e} ours"],
                     f"{e}, plain tuned files", eng[f"{e} plain"]))  # fmt: skip
    dedup = med(
        lambda: h.sql(
            "SELECT * FROM points WHERE time_ns >= $a AND time_ns < $b", {"a": a1, "b": b1}
        ).to_arrow_table(),
        k=3,
    )
    nodup = med(
        lambda: h.sql(
            "SELECT * FROM points_all WHERE time_ns >= $a AND time_ns < $b", {"a": a1, "b": b1}
        ).to_arrow_table(),
        k=3,
    )
    rows.append(("h.sql last-write-wins, all tags x 1 h", dedup, "same without dedup", nodup))
    h.close()
    del table
    gc.collect()
    # one tag x a long span: h.read against pq.read_table of one plain file
    long = polled_table(["A"], args.long_points)
    hl = write_store(os.path.join(root, "long"), long)
    plain_long = plain_files(long, os.path.join(root, "plainL"), 1)[0]
    acl = arctic(
        args.arcticdb_python,
        ARCTIC_LONG,
        plain_long,
        "lmdb://" + os.path.join(root, "arcticL") + "?map_size=20GB",
    )
    n_files = len(store_files(hl.path))
    ours = med(lambda: hl.read("A"), k=3)
    theirs = med(lambda: pq.read_table(plain_long), k=3)
    rows.append((f"1 tag x {args.long_points:,} points ({n_files} files)", ours,
                 "pq.read_table, one plain file", theirs))  # fmt: skip
    if acl:
        rows.append(("  (same)", ours, "ArcticDB", acl["long"]))
    hl.close()
    return rows


def real_series() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Real series shipped by installed packages (no network): name -> (time ns, value)."""
    out = {}
    from statsmodels.datasets import co2, nile, sunspots
    from vega_datasets import local_data

    c = co2.load_pandas().data.dropna()
    out["weekly CO2 (statsmodels co2)"] = (c.index.values.astype("datetime64[ns]").astype(np.int64),
                                           c["co2"].to_numpy(float))  # fmt: skip
    nl = nile.load_pandas().data
    out["yearly Nile flow (statsmodels nile)"] = (
        (nl["year"].to_numpy(int) - 1970)
        .astype("datetime64[Y]")
        .astype("datetime64[ns]")
        .astype(np.int64),
        nl["volume"].to_numpy(float),
    )
    s = sunspots.load_pandas().data
    out["yearly sunspots (statsmodels)"] = (
        (s["YEAR"].to_numpy(int) - 1970)
        .astype("datetime64[Y]")
        .astype("datetime64[ns]")
        .astype(np.int64),
        s["SUNACTIVITY"].to_numpy(float),
    )
    st = local_data.seattle_temps()
    out["hourly temperatures (vega seattle-temps)"] = (
        st["date"].to_numpy().astype("datetime64[ns]").astype(np.int64),
        st["temp"].to_numpy(float),
    )
    return out


def sizes(root: str) -> list[tuple[str, int, float, float, float]]:
    data = real_series()
    rng = np.random.default_rng(1)
    year = 365 * DAY
    t = np.sort(rng.integers(0, year, (10_000, 100)), axis=1) // 1_000_000 * 1_000_000
    data["10,000 tags x 100 points over a year"] = (t, np.round(rng.normal(50, 10, t.shape), 2))
    tp, vp = datagen.polled(0, 200_000)
    data["polled, 1 s, 20 ms jitter (200,000)"] = (tp, vp)
    out = []
    for k, (label, (t, v)) in enumerate(data.items()):
        multi = t.ndim == 2
        names = [f"T{i:05d}" for i in range(t.shape[0])] if multi else ["A"]
        tt = t.reshape(-1)
        codes = np.repeat(np.arange(len(names), dtype=np.int32), t.shape[1] if multi else tt.size)
        table = pa.table({
            "tag": pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names)),
            "time": pa.array(tt, pa.timestamp("ns", tz="UTC")),
            "value": pa.array(v.reshape(-1), pa.float64())})  # fmt: skip
        path = os.path.join(root, f"size{k}")
        h = write_store(path, table)
        info = h.info()
        log_bytes = sum(os.path.getsize(os.path.join(r, f))
                        for r, _, fs in os.walk(os.path.join(path, "points", "_delta_log")) for f in fs)  # fmt: skip
        h.close()
        f = os.path.join(root, f"plain{k}.parquet")
        pq.write_table(table.cast(pa.schema([("tag", pa.string()), ("time", pa.timestamp("ms", tz="UTC"))
                                             if not np.any(tt % 1_000_000) else ("time", pa.timestamp("ns", tz="UTC")),
                                             ("value", pa.float64())])), f, **PLAIN)  # fmt: skip
        n = tt.size
        out.append(
            (label, n, info["bytes"] / n, (info["bytes"] + log_bytes) / n, os.path.getsize(f) / n)
        )
    return out


MEM = r"""
import json, sys, threading
import psutil
import historian
path, first = sys.argv[1], int(sys.argv[2])
h = historian.open(path, mode="r")
h.read("A", first, first + 60 * 10**9)  # files opened, footers cached, code paths warm
proc = psutil.Process()
rss0 = proc.memory_info().rss
peak = [rss0]
done = threading.Event()
def sample():  # the peak RSS while the read runs (ru_maxrss would include earlier peaks)
    while not done.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        done.wait(0.002)
th = threading.Thread(target=sample); th.start()
t = h.read("A", tag_type="dictionary")
peak[0] = max(peak[0], proc.memory_info().rss)
done.set(); th.join()
print(json.dumps({"nbytes": t.nbytes, "peak_over": peak[0] - rss0, "rows": t.num_rows}))
"""


def memory(root: str, counts: list[int]) -> list[tuple[int, float, float]]:
    out = []
    for n in counts:
        path = os.path.join(root, f"mem{n}")
        h = write_store(path, polled_table(["A"], n))
        h.close()
        gc.collect()
        proc = subprocess.run([sys.executable, "-c", MEM, path, str(datagen.T0)],
                              capture_output=True, text=True,
                              check=True)  # fmt: skip
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        out.append((r["rows"], r["nbytes"] / r["rows"], r["peak_over"] / r["nbytes"]))
        shutil.rmtree(path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--long-points", type=int, default=31_536_000)
    ap.add_argument("--memory-points", default="1000000,10000000,100000000")
    ap.add_argument(
        "--arcticdb-python",
        default=os.environ.get(
            "ARCTICDB_PYTHON",
            "/work/venv-arctic/bin/python" if os.path.exists("/work/venv-arctic") else None,
        ),
    )
    ap.add_argument("--skip", default="", help="comma list of: reads,sizes,memory")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    root = tempfile.mkdtemp(prefix="bench_reads-")
    try:
        if "reads" not in skip:
            print(
                f"\n## Reads ({args.tags:,} tags x {args.points:,} points, compacted; ms, median)\n"
            )
            print("| read | historian | peer | peer ms | ratio |\n|---|---|---|---|---|")
            for label, ours, peer, theirs in reads(root, args):
                ratio = f"{ours / theirs:.2f}" if theirs else ""
                t = f"{theirs:.2f}" if theirs is not None else ""
                print(f"| {label} | {ours:.2f} | {peer} | {t} | {ratio} |", flush=True)
        if "sizes" not in skip:
            print("\n## Size (bytes/point)\n")
            print(
                "| data | points | store (Parquet) | store + Delta log | plain tuned Parquet, "
                "one file | ratio |\n|---|---|---|---|---|---|"
            )
            for label, n, b, bl, p in sizes(root):
                print(
                    f"| {label} | {n:,} | {b:.2f} | {bl:.2f} | {p:.2f} | {b / p:.2f} |", flush=True
                )
        if "memory" not in skip:
            print("\n## Read memory (one tag, tag_type='dictionary', fresh process)\n")
            print(
                "| points | result bytes/point | peak RSS growth / result nbytes |\n|---|---|---|"
            )
            for n, bpp, ratio in memory(
                root, [int(float(x)) for x in args.memory_points.split(",")]
            ):
                print(f"| {n:,} | {bpp:.1f} | {ratio:.2f} |", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
