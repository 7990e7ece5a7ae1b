"""Text values end to end: write, WAL, files, read, SQL, summaries, old stores, kill -9."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import hypothesis.strategies as st
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

import historian
from historian import testing
from historian.errors import InvalidDataError, TextAggregateError
from historian.model.schema import POINTS_SCHEMA
from historian.model.text import MAX_TEXT_BYTES
from historian.query.textstats import TEXT_STATS, summary_with_texts
from historian.storage.points import WAL_SCHEMA_V1
from historian.storage.wal import list_segments, read_segment, segment_name

HERE = os.path.dirname(__file__)
OLD_STORE = os.path.join(HERE, "..", "data", "store-before-text")
S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01
TEXTS = ["B-001", "", "Recette \u00e9t\u00e9 \u2603", "tab\there\nnewline\x00nul", "B-001"]


def _store(path, **kw):
    h = historian.open(path, **kw)
    h.define_many({"BATCH.ID": {"type": "string"}, "TIC-101.PV": {"unit": "degC"}})
    return h


def _texts(h, tag="BATCH.ID", **kw):
    return h.read(tag, **kw).column("text").to_pylist()


def _parquet_files(path):
    return sorted(glob.glob(os.path.join(str(path), "points", "**", "*.parquet"), recursive=True))


def _engine(h):
    return testing.engine(h)


def test_a_text_tag_is_a_step_tag_and_says_so_in_the_catalog(store_path):
    with _store(store_path) as h:
        tag = h.tag("BATCH.ID")
        assert (tag.type, tag.kind, tag.is_text) == ("string", "step", True)
        assert h.tags().to_pylist()[0]["type"] == "string"
        assert h.is_stepped(["BATCH.ID", "TIC-101.PV"]) == {"BATCH.ID": True, "TIC-101.PV": False}
    with historian.open(store_path) as h:  # kept in the catalog
        assert h.tag("BATCH.ID").is_text and not h.tag("TIC-101.PV").is_text


def test_texts_survive_the_wal_a_flush_a_reopen_and_a_compaction(store_path):
    times = T0 + np.arange(len(TEXTS)) * S
    h = _store(store_path, flush_points=10**9, flush_seconds=3600)
    h.write("BATCH.ID", times, TEXTS)
    got = h.read("BATCH.ID")
    assert got.column("text").to_pylist() == TEXTS  # from memory
    assert got.column("value").null_count == len(TEXTS)
    assert got.column("quality").to_pylist() == [0] * len(TEXTS)  # a text is Good, not NaN-Bad
    testing.crash(h)  # kill -9: only the WAL holds them
    with historian.open(store_path, flush_points=10**9, flush_seconds=3600) as h:
        assert _texts(h) == TEXTS  # replayed from the WAL
        h.flush()
        assert _texts(h) == TEXTS  # from a file
        h.write("BATCH.ID", [times[-1] + S], ["B-002"])
        h.flush()
        h.compact()
        assert _texts(h) == [*TEXTS, "B-002"]  # merged by compaction, texts kept
        before = time.time_ns()
        h.write("BATCH.ID", [times[1]], ["corrected"])  # last write wins, for texts too
        assert _texts(h)[1] == "corrected"
        assert _texts(h, as_of=before)[1] == ""  # and as_of sees the text it replaced


def test_numeric_reads_keep_their_schema_exactly(store_path):
    with _store(store_path) as h:
        h.write("TIC-101.PV", [T0, T0 + S], [1.0, 2.0])
        h.write("BATCH.ID", [T0], ["B-001"])
        assert h.read("TIC-101.PV").schema == POINTS_SCHEMA
        h.flush()
        assert h.read("TIC-101.PV").schema == POINTS_SCHEMA
        both = h.read(["BATCH.ID", "TIC-101.PV"])
        assert both.schema.names == [*POINTS_SCHEMA.names, "text"]
        assert both.column("text").to_pylist() == ["B-001", None, None]
        assert h.read(["BATCH.ID", "TIC-101.PV"], tag_type="dictionary").column(
            "text").to_pylist() == ["B-001", None, None]  # fmt: skip


def test_files_of_numbers_only_are_written_as_before_text_values(store_path):
    from historian.storage.format import FILE_SCHEMA

    with _store(store_path) as h:
        h.write("TIC-101.PV", [T0, T0 + S], [1.0, 2.0])
        h.flush()
        (numbers,) = _parquet_files(store_path)
        h.write("BATCH.ID", [T0], ["B-1"])
        h.flush()
        (texts,) = [f for f in _parquet_files(store_path) if f != numbers]
        assert pq.read_schema(numbers).names == FILE_SCHEMA.names  # no text column, no cost
        assert pq.read_schema(texts).names == [*FILE_SCHEMA.names, "text"]
        assert h.sql("SELECT tag, text FROM points ORDER BY tag").fetchall() == [
            ("BATCH.ID", "B-1"), ("TIC-101.PV", None), ("TIC-101.PV", None)]  # fmt: skip


def test_a_text_column_cannot_decode_past_the_read_budget(store_path):
    from historian.errors import ResourceLimitError

    n = 2_000
    with _store(store_path) as h:
        h.write("BATCH.ID", T0 + np.arange(n) * S, ["x" * 1_000] * n)  # 2 MB of text, 1 kB on disk
        h.write("TIC-101.PV", T0 + np.arange(n) * S, np.ones(n))
        h.flush()
        with historian.limits.using(max_file_decoded_bytes=1_000_000):
            with pytest.raises(ResourceLimitError, match="decoded texts"):
                h.read("BATCH.ID")
            assert h.read("TIC-101.PV").num_rows == n  # numbers never decode the texts
        assert _texts(h) == ["x" * 1_000] * n


def test_a_numeric_point_may_carry_a_text_as_an_enumeration_does(store_path):
    with _store(store_path) as h:
        h.define("MODE", kind="step", states={0: "manual", 1: "auto"})
        table = pa.table({"tag": ["MODE", "MODE"], "time": pa.array([T0, T0 + S], pa.int64()),
                          "value": [1.0, 0.0], "text": ["auto", "manual"]})  # fmt: skip
        h.write_table(table)
        h.flush()
        got = h.read("MODE")
        assert got.column("value").to_pylist() == [1.0, 0.0]
        assert got.column("text").to_pylist() == ["auto", "manual"]


@pytest.mark.parametrize("kind", ["arrow", "pandas", "polars"])
def test_write_table_with_a_text_column(store_path, kind):
    rows = {
        "tag": ["BATCH.ID", "TIC-101.PV", "BATCH.ID"],
        "time": [T0, T0, T0 + S],
        "text": ["B-1", None, "B-2"],
        "value": [None, 3.5, None],
    }
    table = {"arrow": pa.table, "pandas": pd.DataFrame, "polars": pl.DataFrame}[kind](rows)
    with _store(store_path) as h:
        assert h.write_table(table) == 3
        got = h.read()
        assert got.column("text").to_pylist() == ["B-1", "B-2", None]
        assert got.column("value").to_pylist() == [None, None, 3.5]
        no_value = pa.table({"tag": ["BATCH.ID"], "time": [T0 + 2 * S], "text": ["B-3"]})
        h.write_table(no_value)  # a text-only table needs no value column
        assert _texts(h)[-1] == "B-3"


def test_sql_points_has_the_text_from_files_and_memory(store_path):
    with _store(store_path) as h:
        h.write("BATCH.ID", [T0, T0 + S], ["B-1", "B-2"])
        h.write("TIC-101.PV", [T0], [20.5])
        h.flush()
        h.write("BATCH.ID", [T0 + 2 * S], ["B-3"])  # still in memory
        rows = h.sql("SELECT tag, value, text FROM points ORDER BY tag, time").fetchall()
        assert rows == [("BATCH.ID", None, "B-1"), ("BATCH.ID", None, "B-2"),
                        ("BATCH.ID", None, "B-3"), ("TIC-101.PV", 20.5, None)]  # fmt: skip
        assert h.sql("SELECT count(*) FROM points WHERE text LIKE 'B-%'").fetchall() == [(3,)]


def test_duckdb_and_polars_read_the_same_texts_from_the_files(store_path):
    times = T0 + np.arange(len(TEXTS)) * S
    with _store(store_path) as h:
        h.write("BATCH.ID", times, TEXTS)
        h.write("TIC-101.PV", times, np.arange(len(TEXTS), dtype=float))
        h.flush()
        expected = h.read("BATCH.ID").column("text").to_pylist()
    files = _parquet_files(store_path)
    assert files
    meta = pq.ParquetFile(files[0]).metadata
    column = meta.schema.names.index("text")
    assert "RLE_DICTIONARY" in meta.row_group(0).column(column).encodings  # dictionary on disk
    with duckdb.connect() as con:
        got = con.execute(
            "SELECT text FROM read_parquet(?) WHERE tag = 'BATCH.ID' ORDER BY time", [files]
        ).fetchall()
    assert [r[0] for r in got] == expected == TEXTS
    frame = pl.read_parquet(files).filter(pl.col("tag") == "BATCH.ID").sort("time")
    assert frame["text"].cast(pl.String).to_list() == TEXTS
    numeric = pl.read_parquet(files).filter(pl.col("tag") == "TIC-101.PV")
    assert numeric["text"].null_count() == len(TEXTS)


def test_a_store_written_before_text_values_opens_reads_and_takes_texts(tmp_path):
    path = tmp_path / "old.hist"
    shutil.copytree(OLD_STORE, path)
    files = _parquet_files(path)
    assert files and "text" not in pq.read_schema(files[0]).names  # a file without the column
    (seg,) = list_segments(os.path.join(path, "wal"))  # a WAL segment of the old schema
    with pa.ipc.open_stream(os.path.join(path, "wal", segment_name(seg))) as r:
        assert r.schema.equals(WAL_SCHEMA_V1)
    with historian.open(path) as h:  # replays the old segment, reads the old file
        tic = h.read("TIC-101.PV")
        assert tic.schema == POINTS_SCHEMA
        assert tic.column("value").to_pylist() == [k * 1.5 for k in range(15)]
        assert h.read("PUMP-1.RUN").column("value").to_pylist() == [0, 1, 0, 1, 0]
        assert h.tag("TIC-101.PV").type == "number"
        h.define("BATCH.ID", type="string")
        h.write("BATCH.ID", [T0, T0 + S], ["B-1", "B-2"])
        h.flush()
        assert _texts(h) == ["B-1", "B-2"]
        rows = h.sql("SELECT tag, count(*), count(text) FROM points GROUP BY tag ORDER BY tag")
        assert rows.fetchall() == [("BATCH.ID", 2, 2), ("PUMP-1.RUN", 5, 0),
                                   ("TIC-101.PV", 15, 0)]  # fmt: skip
        h.compact()  # old and new files merged into one with the column
        assert h.read("TIC-101.PV").num_rows == 15 and _texts(h) == ["B-1", "B-2"]


def test_texts_longer_than_the_limit_or_not_unicode_are_refused_and_nothing_written(store_path):
    with _store(store_path) as h:
        h.write("BATCH.ID", [T0], ["\u00e9" * (MAX_TEXT_BYTES // 2)])  # exactly the limit
        with pytest.raises(InvalidDataError, match="65,536 bytes"):
            h.write("BATCH.ID", [T0 + S, T0 + 2 * S], ["ok", "x" * (MAX_TEXT_BYTES + 1)])
        with pytest.raises(InvalidDataError, match="not valid Unicode"):
            h.write("BATCH.ID", [T0 + S], ["\ud800"])
        with pytest.raises(InvalidDataError, match="takes str or None"):
            h.write("BATCH.ID", [T0 + S], [12])
        with pytest.raises(InvalidDataError, match="limit"):
            h.write_table(pa.table({"tag": ["BATCH.ID"], "time": [T0 + S],
                                    "text": ["y" * (MAX_TEXT_BYTES + 1)]}))  # fmt: skip
        assert h.read("BATCH.ID").num_rows == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=300)), min_size=1, max_size=30), st.booleans()
)
def test_any_unicode_text_round_trips(tmp_path_factory, texts, flush):
    path = tmp_path_factory.mktemp("t") / "s.hist"
    times = T0 + np.arange(len(texts)) * S
    h = _store(path, flush_points=10**9, flush_seconds=3600)
    h.write("BATCH.ID", times, texts)
    if flush:
        h.flush()
    testing.crash(h)
    with historian.open(path) as h:
        got = h.read("BATCH.ID")
        assert got.column("text").to_pylist() == texts
        assert h.sql("SELECT text FROM points ORDER BY time").fetchall() == [(t,) for t in texts]


def test_a_damaged_text_in_the_wal_is_caught_by_the_batch_crc(store_path):
    h = _store(store_path, flush_points=10**9, flush_seconds=3600)
    h.write("BATCH.ID", [T0], ["first-batch"])
    h.write("BATCH.ID", [T0 + S], ["SECOND-BATCH"])
    seg = os.path.join(store_path, "wal", segment_name(testing.wal_segment_id(h)))
    testing.crash(h)
    with open(seg, "rb") as f:
        data = bytearray(f.read())
    at = data.rfind(b"SECOND-BATCH")
    data[at] = ord("X")  # same length: the batch still decodes, only the CRC can tell
    with open(seg, "wb") as f:
        f.write(data)
    assert [p.text.tolist() for p in read_segment(seg)] == [["first-batch"]]


def test_summary_of_a_text_tag_count_first_last_and_state_durations(store_path):
    with _store(store_path) as h:
        h.write("BATCH.ID", T0 + np.array([0, 4, 6, 12]) * S, ["A", "B", "A", "C"])
        h.write("BATCH.ID", [T0 + 8 * S], ["bad"], quality=["Bad"])
        engine = _engine(h)
        table = summary_with_texts(engine, ["BATCH.ID"], T0 + 2 * S, T0 + 12 * S, 10 * S,
                                   list(TEXT_STATS))  # fmt: skip
        rows = [(r["stat"], r["value"], r["text"]) for r in table.to_pylist()]
        assert rows == [
            ("count", 2.0, None),  # 4 s and 6 s; the Bad point at 8 s is not counted
            ("first", None, "B"),
            ("last", None, "bad"),
            ("duration_in_state", 4.0, "A"),  # 2-4 and 6-8: the Bad point holds no state
            ("duration_in_state", 2.0, "B"),
        ]
        last = table.to_pylist()[2]
        assert last["status"] == historian.model.quality.BAD
        assert int(last["time"].value) == T0 + 8 * S


def test_numeric_statistics_on_a_text_tag_are_refused_naming_tag_and_working_stats(store_path):
    with _store(store_path) as h:
        h.write("BATCH.ID", [T0], ["A"])
        engine = _engine(h)
        with pytest.raises(TextAggregateError, match=r"BATCH\.ID") as err:
            summary_with_texts(engine, ["TIC-101.PV", "BATCH.ID"], T0, T0 + 10 * S, 10 * S,
                               ["count", "twa", "max"])  # fmt: skip
        assert err.value.stats == ("twa", "max") and err.value.tag == "BATCH.ID"
        assert "count, first, last, duration_in_state" in str(err.value)
        assert summary_with_texts(engine, ["TIC-101.PV"], T0, T0 + S, S, ["twa"]) is None


def test_kill_9_while_writing_texts_loses_no_acknowledged_text(store_path):
    from _text_writer_proc import TAG, text_of

    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "_text_writer_proc.py"), str(store_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    acked: list[tuple[int, int]] = []
    while len(acked) < 60:  # enough writes for flushes and a compaction to have run
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "writer ended"
        _, first, n = line.split()
        acked.append((int(first), int(n)))
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    for raw in out.splitlines(keepends=True):
        if raw.endswith("\n") and raw.startswith("ack "):
            acked.append((int(raw.split()[1]), int(raw.split()[2])))
    assert "Traceback" not in err, err
    assert _parquet_files(store_path)  # the killed writer had flushed some to files already
    upto = max(a + n for a, n in acked)
    with historian.open(store_path) as h:
        got = h.read(TAG)
        texts = dict(zip(((t.value - T0) // S for t in got.column("time").to_pandas()),
                         got.column("text").to_pylist(), strict=True))  # fmt: skip
    assert all(texts[i] == text_of(i) for i in range(upto))


def test_h_summary_of_text_and_numeric_tags_and_the_refusals(store_path):
    with _store(store_path) as h:
        h.write("BATCH.ID", T0 + np.array([0, 5]) * S, ["A", "B"])
        h.write("TIC-101.PV", T0 + np.array([0, 5]) * S, [1.0, 3.0])
        table = h.summary(["BATCH.ID", "TIC-101.PV"], T0, T0 + 10 * S, "10s",
                          stats=["count", "last"])  # fmt: skip
        assert table.schema.names[-1] == "text"
        assert [(r["tag"], r["stat"], r["value"], r["text"]) for r in table.to_pylist()] == [
            ("BATCH.ID", "count", 2.0, None), ("BATCH.ID", "last", None, "B"),
            ("TIC-101.PV", "count", 2.0, None), ("TIC-101.PV", "last", 3.0, None)]  # fmt: skip
        states = h.summary("BATCH.ID", T0, T0 + 10 * S, "10s", stats="duration_in_state")
        assert dict(zip(states.column("text").to_pylist(), states.column("value").to_pylist(),
                        strict=True)) == {"A": 5.0, "B": 5.0}  # fmt: skip
        numeric = h.summary("TIC-101.PV", T0, T0 + 10 * S, "10s", stats=["twa"])
        assert "text" not in numeric.schema.names  # numeric summaries are unchanged
        with pytest.raises(TextAggregateError, match=r"'twa'.*count, first, last"):
            h.summary("BATCH.ID", T0, T0 + 10 * S, "10s", stats=["twa"])
        with pytest.raises(TextAggregateError, match="interpolated"):
            h.interpolated(["TIC-101.PV", "BATCH.ID"], T0, T0 + 10 * S, "1s")
        with pytest.raises(TextAggregateError, match="plot"):
            h.plot("BATCH.ID", T0, T0 + 10 * S)
        with pytest.raises(TextAggregateError, match="calendar"):
            h.summary("BATCH.ID", T0, T0 + 10 * S, "1d", stats=["count"], tz="Europe/Paris")
        assert h.define("LOT", type="string").is_text  # define takes the type too


sys.path.insert(0, HERE)
