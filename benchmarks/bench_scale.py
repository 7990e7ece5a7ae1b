"""Scale-out figures: a summary on a Dask LocalCluster vs one process, and reads from S3 vs disk.

1. Summary: ``--tags`` tags x ``--points`` polled points (1 s) each, written to a local store;
   ``h.summary`` (one process) against ``historian.dask.summary`` on a LocalCluster with
   ``--workers`` worker processes (1 thread each), both over the whole span at ``--every``.
   The two tables are checked to be equal (bit for bit).
2. Reads: the same store written to a moto S3 server on 127.0.0.1 (``moto[server]>=5.2.5``), then
   ``h.read`` of every tag from a fresh reader, from S3 and from local disk.

Usage::

    python benchmarks/bench_scale.py                       # 200 tags x 200,000 points
    python benchmarks/bench_scale.py --tags 1000 --points 1000000   # the full size (hours here)

All traffic stays on 127.0.0.1. Timings are the best of ``--repeat`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from datagen import polled, tag_names

import historian

S = 1_000_000_000


def best(fn, repeat: int, cpu=time.process_time) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` runs, the CPU seconds of that run (``cpu()`` deltas), result."""
    runs, out = [], None
    for _ in range(repeat):
        c0, t0 = cpu(), time.perf_counter()
        out = fn()
        runs.append((time.perf_counter() - t0, cpu() - c0))
    wall, used = min(runs)
    return wall, used, out


def _worker_cpu() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def fill(h, names: list[str], points: int) -> int:  # type: ignore[no-untyped-def]
    total = 0
    for i, name in enumerate(names):
        h.define(name)
        t, v = polled(i, points)
        total += h.write(name, t, v)
    h.flush()
    return total


_MOTO = """
import sys
from moto.server import ThreadedMotoServer
s = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
s.start()
print(s.get_host_and_port()[1], flush=True)
sys.stdin.read()
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tags", type=int, default=200)
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--every", default="1h")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--s3-tags", type=int, default=None, help="tags for the S3 read test (default: all)"
    )
    ap.add_argument("--skip-s3", action="store_true")
    ap.add_argument(
        "--malloc-trim",
        action="store_true",
        help="keep distributed's default MALLOC_TRIM_THRESHOLD_=65536 in the workers",
    )
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()

    import historian.dask as hd

    names = tag_names(args.tags)
    root = tempfile.mkdtemp(prefix="bench_scale_")
    local = os.path.join(root, "plant.hist")
    figures: dict[str, object] = {
        "tags": args.tags,
        "points_per_tag": args.points,
        "malloc_trim_threshold": args.malloc_trim,
    }

    t0 = time.perf_counter()
    with historian.open(local, bulk_points=100_000) as h:
        n = fill(h, names, args.points)
        info = h.info()
    figures["write_s"] = time.perf_counter() - t0
    figures["points"] = n
    figures["bytes"] = info["bytes"]
    print(
        f"store: {n:,} points, {info['files']} files, {info['bytes'] / 1e6:.1f} MB "
        f"(written in {figures['write_s']:.1f} s)"
    )
    start, end = int(info["first_ns"]), int(info["last_ns"]) + 1
    stats = ["twa", "min", "max", "count"]

    # -- 1. summary: one process vs a LocalCluster, rounds interleaved (the machine is shared)
    import dask
    from distributed import Client, LocalCluster

    # distributed starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's
    # dynamic mmap threshold: every large array is then a fresh mmap and page-faulted again.
    # Measured here: 2-3x the workers' system time. Keep the other defaults.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    if not args.malloc_trim:
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)

    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        historian.open(local, mode="r") as h,
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):

        def workers_cpu() -> float:  # CPU seconds of all worker processes
            return sum(client.run(_worker_cpu).values())

        def run_single():  # type: ignore[no-untyped-def]
            return h.summary(names, start, end, args.every, stats=stats)

        def run_dask():  # type: ignore[no-untyped-def]
            return hd.summary(local, names, start, end, args.every, stats=stats)

        run_single()  # warm-up: JIT, files opened, page cache
        run_dask()  # warm-up: every worker opens the store and its files
        singles, dasks = [], []
        for _ in range(args.repeat):
            singles.append(best(run_single, 1))
            dasks.append(best(run_dask, 1, workers_cpu))
        single_s, single_cpu, single = min(singles, key=lambda r: r[0])
        dask_s, dask_cpu, dist = min(dasks, key=lambda r: r[0])
    equal = dist.equals(single)
    figures.update(
        summary_single_s=single_s,
        summary_dask_s=dask_s,
        summary_single_cpu_s=single_cpu,
        summary_dask_workers_cpu_s=dask_cpu,
        summary_equal=equal,
        summary_rows=single.num_rows,
        workers=args.workers,
    )
    print(f"summary {args.every}, {len(stats)} stats, {single.num_rows:,} rows:")
    print(
        f"  one process        {single_s:8.2f} s  {n / single_s / 1e6:7.1f} M points/s"
        f"  (CPU {single_cpu:.2f} s)"
    )
    print(
        f"  LocalCluster x{args.workers}    {dask_s:8.2f} s  {n / dask_s / 1e6:7.1f} M points/s"
        f"  speed-up {single_s / dask_s:.2f}x  (workers' CPU {dask_cpu:.2f} s)  equal: {equal}"
    )

    # -- 2. reads: S3 (moto on 127.0.0.1) vs local disk
    if not args.skip_s3:
        read_names = names[: args.s3_tags] if args.s3_tags else names
        proc = subprocess.Popen(
            [sys.executable, "-c", _MOTO],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            port = int(proc.stdout.readline())  # type: ignore[union-attr]
            opts = {
                "endpoint_url": f"http://127.0.0.1:{port}",
                "allow_http": "true",
                "access_key_id": "bench",
                "secret_access_key": "bench",
                "region": "us-east-1",
            }
            import boto3

            boto3.client(
                "s3",
                endpoint_url=opts["endpoint_url"],
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            ).create_bucket(Bucket="bench")
            uri = "s3://bench/plant.hist"
            t0 = time.perf_counter()
            with historian.open(
                uri,
                storage_options=opts,
                local_dir=os.path.join(root, "s3cache"),
                bulk_points=100_000,
            ) as h:
                fill(h, read_names, args.points)
            figures["s3_write_s"] = time.perf_counter() - t0
            k = 0

            def read_s3() -> int:
                nonlocal k
                k += 1  # a fresh reader each time: no file handle or footer cached
                with historian.open(
                    uri, mode="r", storage_options=opts, local_dir=os.path.join(root, f"r{k}")
                ) as r:
                    return r.read(read_names).num_rows

            def read_local() -> int:
                with historian.open(local, mode="r") as r:
                    return r.read(read_names).num_rows

            s3_s, s3_cpu, rows = best(read_s3, args.repeat)
            local_s, local_cpu, rows_local = best(read_local, args.repeat)
            assert rows == rows_local
            figures.update(
                read_rows=rows,
                read_s3_s=s3_s,
                read_local_s=local_s,
                read_s3_cpu_s=s3_cpu,
                read_local_cpu_s=local_cpu,
            )
            print(f"read {len(read_names)} tags, {rows:,} points, fresh reader:")
            print(
                f"  local disk   {local_s:8.2f} s  {rows / local_s / 1e6:7.1f} M points/s"
                f"  (CPU {local_cpu:.2f} s)"
            )
            print(
                f"  moto S3      {s3_s:8.2f} s  {rows / s3_s / 1e6:7.1f} M points/s"
                f"  (CPU {s3_cpu:.2f} s; {figures['s3_write_s']:.1f} s to write)"
            )
        finally:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.stdout.close()  # type: ignore[union-attr]
            proc.wait(timeout=30)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
