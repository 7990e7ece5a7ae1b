"""Storage benchmark: write speed, bytes/point and read latency, historian vs its peers, one run.

Peers: plain pyarrow dataset (default Parquet settings, partitioned by day), DuckDB over those
Parquet files (and DuckDB's own COPY writer), and ArcticDB (LMDB) when ``--arcticdb-python``
points at an interpreter that has it (ArcticDB pins pandas < 3, so it lives in its own venv).

    python benchmarks/bench_storage.py                  # 1,000 tags x 100,000 points (100 M)
    python benchmarks/bench_storage.py --tags 100 --points 20000   # quick

Prints a table: write points/s, bytes/point (polled and report-by-exception), and warm read
latency for 1 tag x 1 hour, 1 tag x 1 day, all tags x 1 hour (median of repeats).
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

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

sys.path.insert(0, os.path.dirname(__file__))
import itertools

import datagen

import historian

HOUR = 3600 * 1_000_000_000
DAY = 24 * HOUR


def folder_bytes(path: str, suffix: str = ".parquet") -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            if f.endswith(suffix):
                total += os.path.getsize(os.path.join(root, f))
    return total


def make_table(names: list[str], gen, n: int) -> pa.Table:  # type: ignore[no-untyped-def]
    ts, vs, codes = [], [], []
    for i in range(len(names)):
        t, v = gen(i, n)
        ts.append(t)
        vs.append(v)
        codes.append(np.full(t.size, i, dtype=np.int32))
    tag = pa.DictionaryArray.from_arrays(pa.array(np.concatenate(codes)), pa.array(names))
    return pa.table(
        {
            "tag": tag,
            "time": pa.array(np.concatenate(ts), pa.timestamp("ns", tz="UTC")),
            "value": pa.array(np.concatenate(vs)),
        }
    )


def timed(fn, repeat: int = 15) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples))


def bench_historian(root: str, table: pa.Table, chunk_tags: int, names: list[str]) -> dict:
    path = os.path.join(root, "hist")
    out: dict = {}
    with historian.open(path, mode="w") as h:
        for n in names:
            h.define(n)
        codes = table.column("tag").combine_chunks().indices.to_numpy()
        bounds = np.searchsorted(codes, np.arange(0, len(names) + chunk_tags, chunk_tags))
        chunks = [table.slice(a, b - a) for a, b in itertools.pairwise(bounds) if b > a]
        gc.collect()
        t0 = time.perf_counter()
        for c in chunks:
            h.write_table(c)
        out["write_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        h.compact(full=True)
        out["compact_s"] = time.perf_counter() - t0
    h = historian.open(path, mode="r")
    out["bytes"] = h.info()[
        "bytes"
    ]  # the files of the current snapshot (replaced ones await vacuum)
    out["reader"] = h
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--chunk-tags", type=int, default=50, help="tags per write_table call")
    ap.add_argument("--arcticdb-python", default=os.environ.get("ARCTICDB_PYTHON"))
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    names = datagen.tag_names(args.tags)
    n_points = args.tags * args.points
    root = tempfile.mkdtemp(prefix="bench-storage-")
    try:
        print(
            f"generating {args.tags} tags x {args.points} points (1 s polling with jitter) ...",
            flush=True,
        )
        table = make_table(names, datagen.polled, args.points)
        n_points = table.num_rows

        # ---- historian
        hres = bench_historian(root, table, args.chunk_tags, names)
        h = hres.pop("reader")
        # ---- pyarrow dataset, defaults
        pa_dir = os.path.join(root, "peer-pyarrow")
        tday = table.append_column(
            "day",
            pa.compute.cast(pa.compute.cast(table.column("time"), pa.timestamp("ns")), pa.date32()),
        )
        tday = tday.set_column(0, "tag", tday.column("tag").cast(pa.string()))
        t0 = time.perf_counter()
        ds.write_dataset(
            tday,
            pa_dir,
            format="parquet",
            partitioning=["day"],
            partitioning_flavor="hive",
            existing_data_behavior="overwrite_or_ignore",
        )
        pa_write = time.perf_counter() - t0
        pa_bytes = folder_bytes(pa_dir)
        # ---- DuckDB writer
        import duckdb

        con = duckdb.connect()
        con.execute("SET threads TO 2")
        duck_dir = os.path.join(root, "peer-duckdb")
        con.register("src", tday)
        t0 = time.perf_counter()
        con.execute(
            f"COPY (SELECT * FROM src ORDER BY tag, time) TO '{duck_dir}' (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd)"
        )
        duck_write = time.perf_counter() - t0
        duck_bytes = folder_bytes(duck_dir)
        con.unregister("src")

        # ---- report-by-exception bytes/point
        rbe_n = min(args.points, 100_000)
        rbe_tags = min(args.tags, 200)
        rbe_table = make_table(names[:rbe_tags], datagen.rbe, rbe_n)
        rbe_path = os.path.join(root, "rbe")
        with historian.open(rbe_path, mode="w") as hr:
            for n in names[:rbe_tags]:
                hr.define(n)
            hr.write_table(rbe_table)
            hr.compact(full=True)
        with historian.open(rbe_path, mode="r") as hr:
            rbe_bytes = hr.info()["bytes"]
        rbe_pa_dir = os.path.join(root, "rbe-pyarrow")
        rt = rbe_table.set_column(0, "tag", rbe_table.column("tag").cast(pa.string()))
        ds.write_dataset(rt, rbe_pa_dir, format="parquet")
        rbe_pa_bytes = folder_bytes(rbe_pa_dir)

        # ---- reads (warm)
        t_first = datagen.T0
        one_tag = names[len(names) // 2]
        hour_at = t_first + min(10 * HOUR, (args.points * 1_000_000_000) // 2)
        q_hour = (one_tag, hour_at, hour_at + HOUR)
        q_day = (one_tag, t_first, t_first + DAY)
        dataset = ds.dataset(pa_dir, format="parquet", partitioning="hive")

        def pa_read(tag, a, b):  # type: ignore[no-untyped-def]
            f = (ds.field("time") >= pa.scalar(a, pa.timestamp("ns", tz="UTC"))) & (
                ds.field("time") < pa.scalar(b, pa.timestamp("ns", tz="UTC"))
            )
            if tag is not None:
                f = f & (ds.field("tag") == tag)
            return dataset.to_table(filter=f)

        duck_glob = os.path.join(duck_dir, "**", "*.parquet")

        def duck_read(tag, a, b):  # type: ignore[no-untyped-def]
            sql = f"SELECT tag, time, value FROM read_parquet('{duck_glob}', hive_partitioning=true) WHERE time >= to_timestamp($a::BIGINT / 1e9) AND time < to_timestamp($b::BIGINT / 1e9)"
            params = {"a": a, "b": b}
            if tag is not None:
                sql += " AND tag = $tag"
                params["tag"] = tag
            return con.execute(sql + " ORDER BY tag, time", params).to_arrow_table()

        reads = {}
        for label, (tag, a, b) in {
            "1 tag x 1 hour": q_hour,
            "1 tag x 1 day": q_day,
            "all tags x 1 hour": (None, hour_at, hour_at + HOUR),
        }.items():
            expect = h.read(tag if tag else None, a, b).num_rows
            reads[label] = {
                "historian": timed(lambda tag=tag, a=a, b=b: h.read(tag if tag else None, a, b)),
                "pyarrow": timed(lambda tag=tag, a=a, b=b: pa_read(tag, a, b), repeat=5),
                "duckdb": timed(lambda tag=tag, a=a, b=b: duck_read(tag, a, b), repeat=5),
                "rows": expect,
            }
            assert pa_read(tag, a, b).num_rows == expect, label
        h.close()

        arctic = None
        if args.arcticdb_python:
            arctic = run_arcticdb(args.arcticdb_python, args.tags, args.points, root)

        # ---- print
        print()
        print(
            f"## Storage: {args.tags:,} tags x {args.points:,} points = {n_points:,} points (1 s polled)"
        )
        print()
        print("| | write M points/s | bytes/point (polled) | bytes/point (RBE) |")
        print("|---|---:|---:|---:|")
        print(
            f"| historian | {n_points / hres['write_s'] / 1e6:.1f} (+ full compaction {hres['compact_s']:.1f} s) | {hres['bytes'] / n_points:.3f} | {rbe_bytes / rbe_table.num_rows:.3f} |"
        )
        print(
            f"| pyarrow dataset (defaults) | {n_points / pa_write / 1e6:.1f} | {pa_bytes / n_points:.3f} | {rbe_pa_bytes / rbe_table.num_rows:.3f} |"
        )
        print(
            f"| DuckDB COPY (zstd) | {n_points / duck_write / 1e6:.1f} | {duck_bytes / n_points:.3f} | |"
        )
        if arctic:
            print(
                f"| ArcticDB (LMDB) | {arctic['write_mpts']:.1f} | {arctic['bytes_per_point']:.3f} | |"
            )
        print()
        print(
            "| warm read latency (median) | rows | historian | pyarrow dataset | DuckDB | historian vs best peer |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for label, r in reads.items():
            peer = min(r["pyarrow"], r["duckdb"])
            line = f"| {label} | {r['rows']:,} | {r['historian'] * 1e3:.2f} ms | {r['pyarrow'] * 1e3:.1f} ms | {r['duckdb'] * 1e3:.1f} ms | {peer / r['historian']:.1f}x faster |"
            print(line)
        if arctic:
            print()
            print("| ArcticDB read | ms |")
            print("|---|---:|")
            for label, ms in arctic["reads_ms"].items():
                print(f"| {label} | {ms:.2f} |")
        elif args.arcticdb_python is None:
            print(
                "\nArcticDB: skipped (pass --arcticdb-python /path/to/venv/bin/python with arcticdb installed)"
            )
        if args.json:
            with open(args.json, "w") as f:
                json.dump(
                    {
                        "points": n_points,
                        "historian": {k: v for k, v in hres.items()},
                        "reads": reads,
                        "pyarrow_bytes": pa_bytes,
                        "duck_bytes": duck_bytes,
                        "rbe_bytes": rbe_bytes,
                        "rbe_points": rbe_table.num_rows,
                        "arcticdb": arctic,
                    },
                    f,
                    indent=1,
                    default=float,
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)


ARCTIC_SCRIPT = r"""
import json, os, sys, time, shutil
import numpy as np, pandas as pd
sys.path.insert(0, sys.argv[4])
import datagen
from arcticdb import Arctic
n_tags, n_points, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
names = datagen.tag_names(n_tags)
uri = "lmdb://" + os.path.join(root, "arctic") + "?map_size=50GB"
ac = Arctic(uri); lib = ac.get_library("bench", create_if_missing=True)
frames = []
for i, name in enumerate(names):
    t, v = datagen.polled(i, n_points)
    frames.append((name, pd.DataFrame({"value": v}, index=pd.DatetimeIndex(t.astype("datetime64[ns]")))))
total = sum(len(f) for _, f in frames)
t0 = time.perf_counter()
from arcticdb import WritePayload
lib.write_batch([WritePayload(n, f) for n, f in frames])
w = time.perf_counter() - t0
size = 0
for r, _, fs in os.walk(os.path.join(root, "arctic")):
    for f in fs: size += os.path.getsize(os.path.join(r, f))
T0 = datagen.T0; H = 3600 * 10**9
def med(fn, k=15):
    fn(); s = []
    for _ in range(k):
        a = time.perf_counter(); fn(); s.append(time.perf_counter() - a)
    return float(np.median(s)) * 1e3
one = names[len(names) // 2]
rng = lambda a, b: (pd.Timestamp(a), pd.Timestamp(b - 1))
reads = {
  "1 tag x 1 hour": med(lambda: lib.read(one, date_range=rng(T0 + 10*H, T0 + 11*H)).data),
  "1 tag x 1 day": med(lambda: lib.read(one, date_range=rng(T0, T0 + 24*H)).data),
  "all tags x 1 hour": med(lambda: lib.read_batch(names, query_builder=None) if False else [lib.read(n, date_range=rng(T0 + 10*H, T0 + 11*H)).data for n in names], k=3),
}
print(json.dumps({"write_mpts": total / w / 1e6, "bytes_per_point": size / total, "reads_ms": reads}))
"""


def run_arcticdb(python: str, tags: int, points: int, root: str) -> dict | None:
    script = os.path.join(root, "arctic_bench.py")
    with open(script, "w") as f:
        f.write(ARCTIC_SCRIPT)
    proc = subprocess.run(
        [python, script, str(tags), str(points), root, os.path.dirname(os.path.abspath(__file__))],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        print("ArcticDB run failed:", proc.stderr[-2000:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
