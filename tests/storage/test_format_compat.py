"""Stores written before files were cut by size (format 1) open and read the same.

Format 1 (before 2026-12): one file per UTC day, the ``historian.index`` stored twice (key-value
metadata and inside ``ARROW:schema``), no ``dups`` flag, a time unit per file (ms, µs or ns).
The fixture writes such files through the real flush path with that writer, then the store is
reopened with today's code: reads, SQL, other engines, compaction, retention and verify.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

import historian
from historian.storage import files as files_mod
from historian.storage import store as store_mod
from historian.storage.format import INDEX_KEY, INDEX_SHA_KEY, VALUE_SQL

DAY = 86_400 * 10**9
T0 = 1_767_225_600 * 10**9  # 2026-01-01


def _format1_write_file(table_dir, tmp_dir, points, options, *, fs=None):
    """The writer of format 1: the day of the first row, the index in the schema metadata."""
    table, index = files_mod.encode(points)
    index.pop("dups")
    index["format"] = 1
    rg = options.row_group_rows
    n = len(points)
    starts = np.arange(0, n, rg)
    index["rg_rows"] = rg
    index["rg_tfirst"] = points.time[starts].tolist()
    index["rg_tlast"] = points.time[np.minimum(starts + rg, n) - 1].tolist()
    index["ingested"] = [int(points.ingested.min()), int(points.ingested.max())]
    raw = json.dumps(index, separators=(",", ":")).encode()
    schema = table.schema.with_metadata(
        {INDEX_KEY: raw, INDEX_SHA_KEY: hashlib.sha256(raw).hexdigest().encode()}
    )
    day = files_mod.day_string(int(points.time[0] // files_mod.NS_PER_DAY))
    name = f"part-old-{os.urandom(6).hex()}.parquet"
    os.makedirs(os.path.join(table_dir, f"day={day}"), exist_ok=True)
    path = os.path.join(table_dir, f"day={day}", name)
    pq.write_table(table.replace_schema_metadata(schema.metadata), path, row_group_size=rg,
                   compression="zstd", write_page_checksum=True, data_page_version="2.0",
                   use_dictionary=["tag", "decimals", "quality", "reasons", "text"],
                   column_encoding={"time": "DELTA_BINARY_PACKED", "value": "BYTE_STREAM_SPLIT",
                                    "value_int": "DELTA_BINARY_PACKED",
                                    "ingested": "DELTA_BINARY_PACKED"},
                   write_statistics=["tag", "time"],
                   sorting_columns=[pq.SortingColumn(0), pq.SortingColumn(1)])  # fmt: skip
    return files_mod.WrittenFile(
        relpath=f"day={day}/{name}",
        day=day,
        size=os.path.getsize(path),
        rows=n,
        tag_min=index["tags"][0],
        tag_max=index["tags"][-1],
        time_min_ns=int(points.time.min()),
        time_max_ns=int(points.time.max()),
        ingested_min_us=index["ingested"][0],
        ingested_max_us=index["ingested"][1],
    )


@pytest.fixture
def old_store(tmp_path, monkeypatch):
    """A store of day files in format 1: ms times on day 0, ns on day 1, a correction on day 0."""
    path = str(tmp_path / "old.hist")
    monkeypatch.setattr(store_mod, "write_file", _format1_write_file)
    with historian.open(path, auto_compact_files=0) as h:
        h.define_many({"A": {}, "B": {}})
        h.write("A", T0 + np.arange(100) * 10**9, np.arange(100) * 0.5)
        h.write("B", T0 + np.arange(50) * 60 * 10**9, np.full(50, 3.25))
        h.flush()
        h.write("A", T0 + DAY + np.arange(10) * 10**9 + 7, np.arange(10.0))  # ns times
        h.flush()
        h.write("A", [T0 + 3 * 10**9], [99.0])  # a correction: a second file on day 0
        h.flush()
    monkeypatch.undo()
    return path


def test_the_old_files_are_format_1(old_store):
    paths = glob.glob(os.path.join(old_store, "points", "day=*", "*.parquet"))
    assert len(paths) == 3 and all("part-old-" in p for p in paths)
    for p in paths:
        meta = pq.ParquetFile(p).metadata.metadata
        assert json.loads(meta[INDEX_KEY])["format"] == 1 and b"ARROW:schema" in meta


def test_a_format_1_store_reads_the_same_with_todays_code(old_store):
    with historian.open(old_store, mode="r") as h:
        got = h.read()
        a = h.read("A")
        assert got.num_rows == 100 + 50 + 10
        assert a.column("value").to_pylist()[3] == 99.0  # the correction wins
        assert a.column("time").cast(pa.int64()).to_pylist()[-1] == T0 + DAY + 9 * 10**9 + 7
        assert h.sql("SELECT count(*) FROM points").fetchall() == [(160,)]
        assert h.sql(
            "SELECT value FROM points WHERE tag = 'A' AND time_ns = $t", {"t": T0 + 3 * 10**9}
        ).fetchall() == [(99.0,)]
        batches = list(h.read_batches(None, batch_rows=40))
        assert pa.Table.from_batches(batches).equals(got)
        assert h.verify().ok
    # the documented DuckDB snippet over the old files gives the same rows
    files = DeltaTable(os.path.join(old_store, "points")).file_uris()
    rows = duckdb.sql(
        f"""SELECT tag, time, {VALUE_SQL} AS value FROM read_parquet($files, union_by_name = true)
            QUALIFY row_number() OVER (PARTITION BY tag, time ORDER BY ingested DESC) = 1
            ORDER BY tag, time""", params={"files": files}).to_arrow_table()  # fmt: skip
    assert rows.column("value").to_pylist() == got.column("value").to_pylist()
    assert rows.column("time").cast(pa.int64()).equals(got.column("time").cast(pa.int64()))


def test_compaction_and_retention_rewrite_format_1_files(old_store):
    with historian.open(old_store) as h:
        before = h.read()
        assert h.compact(full=True) == 2  # day 0's two files; day 1 has one
        after = h.read()
        assert after.equals(before)
        new = [p for p in h.scan_sources()[0] if "part-old-" not in p]
        assert (
            new
            and json.loads(pq.ParquetFile(new[0]).metadata.metadata[INDEX_KEY])["format"]
            == files_mod.FORMAT_VERSION
        )
        dropped = h.retain(np.datetime64(T0 + 50 * 10**9, "ns"))
        assert dropped == 50 + 1 + 50 // 60 + 1  # A's first 50 (and its old version), B's first
        assert h.read("A").num_rows == 60
        assert h.verify().ok
