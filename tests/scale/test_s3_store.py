"""historian.open("s3://...") against a real S3 API (moto server on 127.0.0.1)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian import testing
from historian.errors import StoreLockedError

S = 1_000_000_000
T0 = 1_767_225_600 * S


def _open(uri, opts, local, **kw):
    return historian.open(uri, storage_options=opts, local_dir=str(local), **kw)


def test_round_trip_write_flush_reopen_compact(s3_uri, s3_options, tmp_path):
    rng = np.random.default_rng(3)
    t = T0 + np.arange(2_000) * S
    v = np.round(rng.normal(50, 5, t.size), 2)
    with _open(s3_uri, s3_options, tmp_path / "a") as h:
        h.define("TIC-101.PV", unit="degC")
        h.define("XV-101.ST", kind="step")
        assert h.write("TIC-101.PV", t, v) == t.size  # in the local WAL, durable
        assert h.read("TIC-101.PV").num_rows == t.size  # read your own writes before a flush
        h.flush()
        h.write("TIC-101.PV", t[:10], np.arange(10.0))  # corrections: last write wins
        h.write("XV-101.ST", [T0, T0 + 86_400 * S], [1.0, 0.0])  # two days
        h.flush()
        expected = h.read()
        single = h.summary("TIC-101.PV", T0, T0 + 2_000 * S, "5min", stats=["twa", "max"])
        assert h.info()["files"] == 2  # one file per flush: files are cut by size, not by day
    # Reopen elsewhere (another local folder: nothing local is needed to read).
    with _open(s3_uri, s3_options, tmp_path / "b", mode="r") as r:
        assert [t.name for t in testing.catalog(r).all()] == ["TIC-101.PV", "XV-101.ST"]
        assert r.tag("TIC-101.PV").unit == "degC"
        assert r.read().equals(expected)
        assert r.summary("TIC-101.PV", T0, T0 + 2_000 * S, "5min", stats=["twa", "max"]).equals(
            single
        )
    with _open(s3_uri, s3_options, tmp_path / "c") as h:
        assert h.compact() == 2  # the two files starting on 2026-01-01 become one
        assert h.read().equals(expected)
        assert h.info()["files"] == 1
    with _open(s3_uri, s3_options, tmp_path / "d", mode="r") as r:
        assert r.read().equals(expected)


def test_bulk_write_goes_straight_to_s3(s3_uri, s3_options, tmp_path):
    with _open(s3_uri, s3_options, tmp_path, bulk_points=1_000) as h:
        h.define("A")
        h.write("A", T0 + np.arange(5_000) * S, np.arange(5_000.0))
        assert h.info()["points_pending"] == 0
    with _open(s3_uri, s3_options, tmp_path / "r", mode="r") as r:
        assert r.read("A").num_rows == 5_000


def test_a_second_writer_is_refused_by_the_lease(s3_uri, s3_options, tmp_path):
    h1 = _open(s3_uri, s3_options, tmp_path / "one")
    h1.define("A")
    h2 = _open(s3_uri, s3_options, tmp_path / "two")
    try:
        with pytest.raises(StoreLockedError, match="another process"):
            h2.write("A", [T0], [1.0])
        h1.write("A", [T0], [1.0])
        h1.close()  # releases the lease at once
        h2.write("A", [T0 + S], [2.0])
        h2.flush()
        assert h2.read("A").num_rows == 2
    finally:
        h1.close()
        h2.close()


_CRASH = """
import os, sys, historian, numpy as np
uri, endpoint, local = sys.argv[1:4]
opts = {"endpoint_url": endpoint, "access_key_id": "testing", "secret_access_key": "testing",
        "allow_http": "true", "region": "us-east-1"}
h = historian.open(uri, storage_options=opts, local_dir=local, lease_ttl=2.0)
h.define("A")
h.write("A", np.arange(100) * 10**9, np.arange(100.0))
h.flush()
h.write("A", (100 + np.arange(50)) * 10**9, 100 + np.arange(50.0))  # acknowledged, WAL only
print("acked", flush=True)
os.kill(os.getpid(), 9)
"""


def test_writer_killed_recovers_from_the_local_wal_after_the_lease_expires(
    s3_uri, s3_options, tmp_path
):
    local = tmp_path / "local"
    out = subprocess.run(
        [sys.executable, "-c", _CRASH, s3_uri, s3_options["endpoint_url"], str(local)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "acked" in out.stdout, out.stderr
    assert out.returncode == -9
    with _open(s3_uri, s3_options, tmp_path / "reader", mode="r") as r:
        assert r.read("A").num_rows == 100  # only the committed flush is on S3
    h = _open(s3_uri, s3_options, local, lease_ttl=2.0)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                h.flush() if h.writable else testing.become_writer(h)
                break
            except StoreLockedError:  # the dead writer's lease has not expired yet
                assert time.monotonic() < deadline
                time.sleep(0.3)
        assert testing.writer_lock(h).epoch == 2
        got = h.read("A")
        assert got.num_rows == 150
        assert got.column("value").to_pylist() == [float(i) for i in range(150)]
    finally:
        h.close()


def test_a_reader_during_writes_sees_only_whole_commits(s3_uri, s3_options, tmp_path):
    batch = 500
    stop = threading.Event()
    errors: list[str] = []
    seen: list[int] = []
    with _open(s3_uri, s3_options, tmp_path / "w") as h:
        h.define("A")
        h.write("A", np.arange(batch) * S, np.arange(float(batch)))
        h.flush()

        def reader():
            with _open(s3_uri, s3_options, tmp_path / "r", mode="r") as r:
                while not stop.is_set():
                    v = r.read("A").column("value").to_numpy()
                    if v.size % batch or not np.array_equal(v, np.arange(float(v.size))):
                        errors.append(f"partial snapshot: {v.size} rows")
                    seen.append(v.size)

        th = threading.Thread(target=reader)
        th.start()
        try:
            for k in range(1, 7):
                t = (k * batch + np.arange(batch)) * S
                h.write("A", t, k * batch + np.arange(float(batch)))
                h.flush()
                if k == 4:
                    h.compact()
        finally:
            stop.set()
            th.join(timeout=60)
    assert not errors
    assert len(seen) >= 3 and max(seen) <= 7 * batch


def test_no_partial_object_is_visible_and_stale_uploads_are_aborted(s3_uri, s3_options):
    from historian.storage.fs import StoreFS

    fs = StoreFS.from_uri(s3_uri, s3_options)
    client = fs.s3.boto3_client()
    key = fs._key("points/day=2026-01-01/part-crashed.parquet")
    up = client.create_multipart_upload(Bucket=fs.bucket, Key=key)
    client.upload_part(
        Bucket=fs.bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 100
    )
    # The writer "died" here: nothing is visible under the store ...
    assert not fs.exists("points/day=2026-01-01/part-crashed.parquet")
    assert fs.list("points", recursive=True) == []
    # ... and the next writer aborts the incomplete upload.
    assert fs.abort_stale_uploads() == 1
    assert (
        client.list_multipart_uploads(Bucket=fs.bucket, Prefix=fs._key("")).get("Uploads", []) == []
    )


def test_other_engines_read_the_s3_store(s3_uri, s3_options, tmp_path):
    """pyarrow and polars read the committed files on S3 and get h.read's rows."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    from historian.storage.fs import StoreFS

    rng = np.random.default_rng(5)
    with _open(s3_uri, s3_options, tmp_path) as h:
        h.define("A")
        h.define("B.PV")
        h.write("A", T0 + np.arange(100) * S, np.round(rng.normal(50, 5, 100), 2))
        h.write("B.PV", T0 + np.arange(0, 100, 7) * S + 123_456, rng.normal(0, 1, 15))
        h.flush()
        h.write("A", T0 + np.arange(10) * S, np.arange(10.0))  # corrections
        h.flush()
        expected = h.read()
    fs = StoreFS.from_uri(s3_uri, s3_options)
    so = fs.delta_storage_options()
    dt = DeltaTable(f"{s3_uri}/points", storage_options=so)
    files = dt.file_uris()
    assert files and all(f.startswith("s3://") for f in files)
    # pyarrow: every committed file, page checksums verified.
    rows = 0
    for f in files:
        rows += pq.ParquetFile(
            fs.filesystem.open_input_file(f.removeprefix("s3://")), page_checksum_verification=True
        ).metadata.num_rows
    assert rows == expected.num_rows + 10  # the 10 superseded versions are kept for as-of reads
    # polars: scan_delta with the same storage options.
    import polars as pl

    df = (
        pl.scan_delta(f"{s3_uri}/points", storage_options=so)
        .with_columns(
            pl.coalesce("value", pl.col("value_int") / 10.0 ** pl.col("decimals")).alias("value")
        )
        .sort("tag", "time", "ingested")
        .group_by("tag", "time", maintain_order=True)
        .last()
        .collect()
    )
    assert df["tag"].to_list() == expected.column("tag").to_pylist()
    np.testing.assert_array_equal(
        df["value"].to_numpy(), expected.column("value").to_numpy(zero_copy_only=False)
    )
    # DuckDB over the snapshot as an Arrow dataset (DuckDB's own s3:// needs the httpfs extension).
    import duckdb

    ds = dt.to_pyarrow_dataset()
    n = duckdb.sql("SELECT count(*) FROM ds").fetchall()[0][0]  # DuckDB finds `ds` by name
    assert ds is not None
    assert n == rows
    assert isinstance(expected, pa.Table)


def test_dask_summary_and_read_of_an_s3_store(s3_uri, s3_options, tmp_path, dask_client):
    """Workers (other processes) open the S3 store read-only and give the single-process answer."""
    import historian.dask as hd

    rng = np.random.default_rng(11)
    with _open(s3_uri, s3_options, tmp_path / "w") as h:
        for name in ("A", "B"):
            h.define(name)
            t = T0 + np.sort(rng.choice(2 * 86_400, 5_000, replace=False)) * S
            q = np.where(rng.random(t.size) < 0.05, 0x80000000, 0).astype(np.uint32)
            h.write(name, t, np.round(rng.normal(0, 1, t.size).cumsum(), 2), q)
        h.flush()
    with _open(s3_uri, s3_options, tmp_path / "r", mode="r") as r:
        single = r.summary(
            ["A", "B"],
            T0 + 7 * S,
            T0 + 2 * 86_400 * S,
            "15min",
            stats=["twa", "min", "max", "count", "std"],
        )
        expected = r.read(["A", "B"])
    got = hd.summary(
        s3_uri,
        ["A", "B"],
        T0 + 7 * S,
        T0 + 2 * 86_400 * S,
        "15min",
        stats=["twa", "min", "max", "count", "std"],
        storage_options=s3_options,
        partition="5h",
        tags_per_task=1,
    )
    assert got.equals(single)
    ddf = hd.read_dask(s3_uri, ["A", "B"], storage_options=s3_options, partition="12h")
    assert ddf.known_divisions and ddf.npartitions >= 4
    assert len(ddf) == expected.num_rows


def test_a_writer_that_lost_its_lease_cannot_commit(s3_uri, s3_options, tmp_path):
    """Fencing: a paused writer whose lease expired and was taken over is refused at commit."""
    from historian.storage.lease import LeaseLostError

    h1 = _open(s3_uri, s3_options, tmp_path / "one", lease_ttl=1.5)
    h1.define("A")
    h1.write("A", [T0], [1.0])
    h1.flush()
    testing.pause_lease(h1)  # the process "pauses": no more renewals
    time.sleep(1.8)
    with _open(s3_uri, s3_options, tmp_path / "two", lease_ttl=1.5) as h2:
        h2.write("A", [T0 + S], [2.0])
        h2.flush()
        assert testing.writer_lock(h2).epoch == 2
    h1.write("A", [T0 + 2 * S], [3.0])  # accepted into its local WAL ...
    with pytest.raises(LeaseLostError):
        h1.flush()  # ... but never committed
    with pytest.raises(LeaseLostError, match="local write-ahead log"):
        h1.close()  # says so (never returns as if flushed); the point stays in its local WAL
    assert testing.is_closed(h1)
    with _open(s3_uri, s3_options, tmp_path / "r", mode="r") as r:
        assert r.read("A").column("value").to_pylist() == [1.0, 2.0]


def test_the_same_notebook_calls_give_the_same_answers_on_s3_and_on_disk(
    s3_uri, s3_options, tmp_path
):
    rng = np.random.default_rng(21)
    t = T0 + np.arange(3_000) * 10 * S
    a = np.round(np.sin(np.arange(3_000) / 50.0) * 10 + rng.normal(0, 0.1, 3_000), 3)
    b = np.round(np.roll(a, 30) * 2, 3)

    def fill(h):  # type: ignore[no-untyped-def]
        h.define("A")
        h.define("B")
        h.write("A", t, a)
        h.write("B", t, b)
        h.flush()
        h.write("A", t[-5:] + 10 * S, a[-5:])  # unflushed tail

    results = []
    for h in (historian.open(tmp_path / "disk.hist"), _open(s3_uri, s3_options, tmp_path / "s3")):
        with h:
            fill(h)
            end = T0 + 30_000 * S
            results.append(
                [
                    h.read(),
                    h.summary(None, T0, end, "10min", stats=["twa", "min", "max", "std"]),
                    h.interpolated(["A", "B"], T0, end, "1min", quality=True),
                    h.plot("A", T0, end, width=50),
                    h.correlate(["A", "B"], T0, end, "1min", max_lag="10min", progress=False),
                    h.events("A > 5", T0, end),
                    h.asof([T0 + 15 * S, T0 + 1_000 * S], ["A", "B"]),
                    h.tags(),
                    h.sql(
                        "SELECT tag, count(*) AS n, max(value) AS top, min(time_ns) AS t0 "
                        "FROM points WHERE time_ns >= $t GROUP BY tag ORDER BY tag",
                        {"t": T0 + 100 * S},
                    ).to_arrow_table(),
                ]
            )
    for disk, s3 in zip(*results, strict=True):
        assert s3.equals(disk)
