"""Other engines read a store's committed files and get the same rows as h.read."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import historian

T0 = 1_767_225_600_000_000_000
S = 1_000_000_000


@pytest.fixture
def store(store_path):
    rng = np.random.default_rng(7)
    with historian.open(store_path) as h:
        for name in ("A", "B.PV", "C:x/y"):
            h.define(name)
        h.write("A", T0 + np.arange(100) * S, np.round(rng.normal(50, 5, 100), 2))
        h.write(
            "B.PV", T0 + np.arange(0, 100, 7) * S + 123_456, rng.normal(0, 1, 15)
        )  # ns times, noisy floats
        h.write("C:x/y", T0 + np.arange(5) * S, [1.0, np.nan, -0.0, np.inf, 2.5])
        h.flush()
        h.write("A", T0 + np.arange(10) * S, np.arange(10.0))  # corrections: last write wins
        h.write("A", [T0 - 2 * 86_400 * S], [99.0])  # late data, another day
        h.flush()
        expected = h.read()
    return store_path, expected


def _files(path) -> list[str]:
    from deltalake import DeltaTable

    return DeltaTable(str(path / "points")).file_uris()


def test_duckdb_reads_the_snapshot_like_h_read(store):
    path, expected = store
    got = duckdb.sql(
        """SELECT tag, epoch_ns(time) AS t, coalesce(value, value_int / pow(10, decimals)) AS value,
                  quality
           FROM read_parquet($files)
           QUALIFY row_number() OVER (PARTITION BY tag, time ORDER BY ingested DESC) = 1
           ORDER BY tag, time""",
        params={"files": _files(path)},
    ).fetchall()
    exp_t = expected.column("time").cast(pa.int64()).to_pylist()
    exp_v = expected.column("value").to_pylist()
    assert [r[0] for r in got] == expected.column("tag").to_pylist()
    # DuckDB reads timestamps at µs: compare at µs.
    assert [r[1] // 1000 for r in got] == [t // 1000 for t in exp_t]
    for (_, _, v, _), e in zip(got, exp_v, strict=True):
        assert (v is None and e is None) or v == e or (np.isnan(v) and e is None)
    assert [r[3] for r in got] == expected.column("quality").to_pylist()


def test_polars_reads_the_delta_table_like_h_read(store):
    import polars as pl

    path, expected = store
    df = (
        pl.scan_delta(str(path / "points"))
        .with_columns(
            pl.coalesce("value", pl.col("value_int") / 10.0 ** pl.col("decimals")).alias("value")
        )
        .sort("tag", "time", "ingested")
        .group_by("tag", "time", maintain_order=True)
        .last()
        .collect()
    )
    assert df["tag"].to_list() == expected.column("tag").to_pylist()
    got_v = df["value"].to_numpy()
    exp_v = expected.column("value").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(
        np.nan_to_num(got_v, nan=-1e300), np.nan_to_num(exp_v, nan=-1e300)
    )


def test_pyarrow_reads_every_file_with_checksums(store):
    import pyarrow.parquet as pq

    path, expected = store
    rows = sum(pq.read_table(f, page_checksum_verification=True).num_rows for f in _files(path))
    assert rows >= expected.num_rows  # superseded versions are kept for as-of reads
