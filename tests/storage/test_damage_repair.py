"""Damage and repair (issue 18, item 2): each case is the damage, the error or fallback the user
sees, a dry run that changes nothing (SHA-256 of every file before and after), and a repair after
which reads equal what was written.
"""

from __future__ import annotations

import glob
import logging
import os

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian import testing
from historian.cli import main
from historian.errors import CorruptDataError, HistorianError
from historian.storage.wal import WAL_SCHEMA, _crc, list_segments, read_segment, segment_name

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z
DAY = 86_400 * S


def _batch_points(k: int) -> tuple[list[int], list[float]]:
    t = [T0 + k * DAY // 2 + i * S for i in range(50)]
    return t, [k * 100.0 + i for i in range(50)]


def _make(path, flushes: int = 3) -> pa.Table:
    """One flush (one commit) per batch; returns everything written, as read back."""
    with historian.open(path, auto_compact_files=0) as h:
        h.define("A")
        for k in range(flushes):
            h.write("A", *_batch_points(k))
            h.flush()
        return h.read("A")


def _read_all(path) -> pa.Table:
    with historian.open(path, mode="r") as h:
        return h.read("A")


def _log(path, v: int) -> str:
    return os.path.join(path, "points", "_delta_log", f"{v:020d}.json")


def _rw(path, change) -> None:
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data = change(data)
    with open(path, "wb") as f:
        f.write(bytes(data))


@pytest.fixture
def dry_run(file_hashes, capsys):
    """``dry_run(path)``: ``historian repair --dry-run``, asserting that it changed no file."""

    def run(path) -> str:
        before = file_hashes(path)
        capsys.readouterr()
        assert main(["repair", str(path), "--dry-run"]) == 1  # 1: a repair is needed
        out = capsys.readouterr().out
        assert "would" in out and "nothing was changed" in out
        assert file_hashes(path) == before
        return out

    return run


def _flip(data: bytearray) -> bytearray:
    at = data.index(b'"size":') + 8  # a digit of the add action's size
    data[at] = ord("9") if data[at] != ord("9") else ord("1")
    return data


DAMAGE = {
    "flipped byte": _flip,
    "truncated": lambda d: d[: len(d) // 2],
    "garbage line": lambda d: d + b"\x00garbage{\n",
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_newest_commit_opens_read_only_at_the_last_good_version(
    store_path, damage, caplog, dry_run
):
    written = _make(store_path)
    _rw(_log(store_path, 3), DAMAGE[damage])
    with caplog.at_level(logging.WARNING), historian.open(store_path, mode="r") as h:
        info = h.info()
        assert info["version"] == 2  # the last good version
        assert any("commit 3" in p for p in info["problems"])
        got = h.read("A")
        assert got.num_rows == 100  # what versions 1-2 hold; no Rust backtrace, no DeltaError
    assert any("read-only at version 2" in r.getMessage() for r in caplog.records)
    with pytest.raises(CorruptDataError, match=r"commit .*3.*historian repair"):
        historian.open(store_path, mode="w")
    with historian.open(store_path) as h, pytest.raises(CorruptDataError, match="repair"):
        h.write("A", [T0 + 5 * DAY], [1.0])  # "auto" becomes the writer at the first write
    out = dry_run(store_path)
    assert "commit 3 is damaged" in out
    report = historian.repair(store_path, dry_run=False)
    assert report.version == 3 and report.points_recovered == 50
    assert os.path.exists(os.path.join(report.quarantine, "points", "_delta_log",
                                       f"{3:020d}.json"))  # fmt: skip
    assert _read_all(store_path).equals(written)
    assert historian.verify(store_path).ok
    with historian.open(store_path) as h:  # writable again
        h.write("A", [T0 + 5 * DAY], [1.0])
        assert h.info()["problems"] == []


def test_a_deleted_newest_commit_is_reported_and_its_files_come_back(store_path, capsys, dry_run):
    written = _make(store_path)
    os.remove(_log(store_path, 3))
    with historian.open(store_path, mode="r") as h:
        assert h.info()["version"] == 2
        assert any("commit 3 is missing" in p for p in h.info()["problems"])
    with pytest.raises(CorruptDataError, match="missing"):
        historian.open(store_path, mode="w")
    dry_run(store_path)
    capsys.readouterr()
    assert main(["repair", str(store_path)]) == 0
    assert "repaired" in capsys.readouterr().out
    assert _read_all(store_path).equals(written)


def test_a_lost_delta_log_is_an_error_and_repair_rebuilds_it(store_path, dry_run):
    written = _make(store_path)
    log_dir = os.path.join(store_path, "points", "_delta_log")
    for name in os.listdir(log_dir):
        os.remove(os.path.join(log_dir, name))
    os.rmdir(log_dir)
    with pytest.raises(HistorianError, match="repair"), historian.open(store_path) as h:
        h.read("A")
    out = dry_run(store_path)
    assert "missing or empty" in out and "create a new commit log" in out
    report = historian.repair(store_path, dry_run=False)
    assert report.points_recovered == 150
    assert _read_all(store_path).equals(written)
    assert historian.verify(store_path).ok


def test_files_not_in_the_log_come_back_only_when_their_checksums_hold(store_path, dry_run):
    written = _make(store_path)
    os.remove(_log(store_path, 3))
    os.remove(os.path.join(store_path, "points", "_historian", "head.json"))
    # A stray, damaged Parquet file (say, half copied): it is set aside, never added.
    stray = os.path.join(store_path, "points", "day=2026-01-01", "part-stray.parquet")
    good = sorted(glob.glob(os.path.join(store_path, "points", "day=*", "*.parquet")))[0]
    with open(good, "rb") as f, open(stray, "wb") as g:
        g.write(f.read()[:-100])
    out = dry_run(store_path)
    assert "part-stray.parquet is damaged" in out
    report = historian.repair(store_path, dry_run=False)
    assert report.points_recovered == 50
    assert not os.path.exists(stray)
    assert os.path.exists(os.path.join(report.quarantine, "points", "day=2026-01-01",
                                       "part-stray.parquet"))  # fmt: skip
    assert _read_all(store_path).equals(written)


def test_a_damaged_data_file_is_set_aside_and_the_rest_reads(store_path, dry_run):
    _make(store_path)
    files = sorted(glob.glob(os.path.join(store_path, "points", "day=*", "*.parquet")))
    _rw(files[0], lambda d: d + b"\0" * 10)  # a size the commit does not record
    with historian.open(store_path, mode="r") as h, pytest.raises(CorruptDataError, match="bytes"):
        h.read("A")
    out = dry_run(store_path)
    assert os.path.basename(files[0]) in out and "points lost" in out
    report = historian.repair(store_path, dry_run=False)
    assert report.points_lost == 50
    got = _read_all(store_path)
    assert got.num_rows == 100  # the other two flushes
    assert historian.verify(store_path).ok


def _wal_store(path, batches: int) -> str:
    """A writer killed with ``batches`` acknowledged writes in one WAL segment."""
    h = historian.open(path, flush_points=10**9, flush_seconds=3600)
    h.define("A")
    for k in range(batches):
        h.write("A", *_batch_points(k))
    seg = os.path.join(path, "wal", segment_name(testing.wal_segment_id(h)))
    testing.crash(h)  # as kill -9: no flush, no end-of-stream marker
    return seg


def _flip_batch(seg: str, k: int) -> None:
    """Flip one bit in the data (the ingest stamps, at the end) of the k-th batch of ``seg``."""
    from historian.storage.walread import _parse

    with open(seg, "rb") as f:
        data = memoryview(f.read())
    pos, ends = _parse(data, 0).end, []
    while pos < len(data):
        msg = _parse(data, pos)
        if msg.kind == 0:
            break
        ends.append(msg.end)
        pos = msg.end
    starts = [_parse(data, 0).end, *ends[:-1]]
    batch = pa.ipc.read_record_batch(
        pa.ipc.read_message(pa.py_buffer(bytes(data[starts[k] : ends[k]]))), WAL_SCHEMA
    )
    stamp = np.int64(batch.column(5)[0].as_py()).tobytes()  # one stamp per write call
    at = bytes(data[: ends[k]]).rfind(stamp) + 2
    data.release()

    def flip(d: bytearray) -> bytearray:
        d[at] ^= 0x10
        return d

    _rw(seg, flip)


def test_a_damaged_wal_batch_in_the_middle_is_skipped_and_the_later_ones_salvaged(
    store_path, caplog, dry_run
):
    seg = _wal_store(store_path, 4)
    _flip_batch(seg, 1)
    with caplog.at_level(logging.WARNING), historian.open(store_path, mode="r") as h:
        got = h.read("A")
        assert got.num_rows == 150  # batches 0, 2, 3 (before: every read of every tag failed)
        assert any("CRC32" in p for p in h.info()["problems"])
    assert any("CRC32" in r.getMessage() for r in caplog.records)
    out = dry_run(store_path)
    assert "3 valid batch(es)" in out
    report = historian.repair(store_path, dry_run=False)
    assert os.path.exists(os.path.join(report.quarantine, "wal", os.path.basename(seg)))
    segs = list_segments(os.path.join(store_path, "wal"))
    assert (
        len(segs) == 1
        and sum(
            len(p) for p in read_segment(os.path.join(store_path, "wal", segment_name(segs[0])))
        )
        == 150
    )
    with historian.open(store_path) as h:  # the writer replays the salvaged segment
        values = h.read("A").column("value").to_pylist()
    expected = [v for k in (0, 2, 3) for v in _batch_points(k)[1]]
    assert values == sorted(expected)


def test_bit_rot_in_the_last_acknowledged_batch_is_recorded(store_path):
    seg = _wal_store(store_path, 3)
    _flip_batch(seg, 2)
    with historian.open(store_path, mode="r") as h:
        assert h.read("A").num_rows == 100
        problems = h.info()["problems"]
    assert any(os.path.basename(seg) in p and "CRC32" in p for p in problems)
    report = historian.repair(store_path, dry_run=True)
    assert any("CRC32" in f for f in report.found)


def test_a_torn_last_batch_is_not_damage(store_path):
    seg = _wal_store(store_path, 3)
    _rw(seg, lambda d: d[:-30])  # kill -9 during the append: never acknowledged
    with historian.open(store_path, mode="r") as h:
        assert h.read("A").num_rows == 100
        assert h.info()["problems"] == []
    assert not historian.repair(store_path).needed


def test_a_wal_segment_with_no_valid_batch_is_an_error_naming_it(store_path):
    seg = _wal_store(store_path, 1)
    _flip_batch(seg, 0)
    with (
        historian.open(store_path, mode="r") as h,
        pytest.raises(CorruptDataError, match=os.path.basename(seg)),
    ):
        h.read("A")
    report = historian.repair(store_path, dry_run=False)
    assert report.points_lost == 0 and os.path.exists(
        os.path.join(report.quarantine, "wal", os.path.basename(seg))
    )
    with historian.open(store_path, mode="r") as h:
        assert h.read("A").num_rows == 0


def test_a_compressed_wal_batch_is_refused_not_decoded(tmp_path):
    # A decompression bomb: a tiny segment whose batch inflates when decoded.
    n = 1 << 20
    batch = pa.record_batch(
        [pa.array(["A"] * n), pa.array(np.zeros(n, np.int64)), pa.array(np.zeros(n)),
         pa.array(np.zeros(n, np.uint32)), pa.array(np.zeros(n, np.uint32)),
         pa.array(np.zeros(n, np.int64)), pa.nulls(n, pa.string())],
        schema=WAL_SCHEMA)  # fmt: skip
    path = str(tmp_path / segment_name(1))
    opts = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(path, "wb") as f, pa.ipc.new_stream(f, WAL_SCHEMA, options=opts) as w:
        w.write_batch(batch, custom_metadata={"crc32": _crc(batch)})
    assert os.path.getsize(path) * 5 < batch.nbytes  # far smaller than what it decodes to
    with pytest.raises(CorruptDataError, match="compressed"):
        list(read_segment(path))


def test_a_lost_commit_of_a_store_without_head_record_shows_as_a_wal_gap(store_path, caplog):
    # Each flush commits the WAL segment it covers, then deletes it.
    h = historian.open(store_path, flush_points=10**9, flush_seconds=3600, auto_compact_files=0)
    h.define("A")
    h.write("A", *_batch_points(0))
    h.flush()
    h.write("A", *_batch_points(1))
    h.flush()  # version 2 covers WAL segment 1 (the first flush covered segment 0)
    h.write("A", *_batch_points(2))  # in segment 3, not flushed
    testing.crash(h)  # killed
    # Commit 2 and the head record are lost (as an older store, without head record, would be).
    os.remove(_log(store_path, 2))
    os.remove(os.path.join(store_path, "points", "_historian", "head.json"))
    with caplog.at_level(logging.WARNING), historian.open(store_path, mode="r") as h:
        assert any("WAL segments 1..1 are missing" in p for p in h.info()["problems"])
    assert any("may have been lost" in r.getMessage() for r in caplog.records)
    report = historian.repair(store_path, dry_run=False)  # the files of commit 2 come back
    assert report.points_recovered == 50
    with historian.open(store_path) as h:
        assert h.read("A").num_rows == 150
        assert h.info()["problems"] == []  # the repair commit records the WAL position again


def test_a_damaged_tag_catalog_is_rebuilt_from_the_files_and_the_wal(store_path, dry_run):
    written = _make(store_path)
    with historian.open(store_path, flush_points=10**9) as h:
        h.define("B")
        h.write("B", [T0], [7.0])  # only in the WAL: flushed at close
    with historian.open(store_path, flush_points=10**9, flush_seconds=3600) as h:
        h.define("C")
        h.write("C", [T0], [8.0])
        testing.crash(h)  # killed: C's point stays in the WAL
    _rw(os.path.join(store_path, "tags.json"), lambda d: d[:10] + b"\xff" + d[11:])
    with pytest.raises(CorruptDataError, match="repair"):
        historian.open(store_path, mode="r")
    out = dry_run(store_path)
    assert "tags.json is damaged" in out and "define 3 tag(s)" in out
    report = historian.repair(store_path, dry_run=False)
    assert os.path.exists(os.path.join(report.quarantine, "tags.json"))
    with historian.open(store_path, mode="r") as h:
        assert h.tags().column("name").to_pylist() == ["A", "B", "C"]
        assert h.read("A").equals(written)
        assert h.read(["B", "C"]).column("value").to_pylist() == [7.0, 8.0]


def test_a_reader_following_the_store_stays_at_the_last_good_version(store_path, caplog):
    _make(store_path, flushes=2)
    with historian.open(store_path, mode="r") as reader:
        assert reader.read("A").num_rows == 100
        with historian.open(store_path, auto_compact_files=0) as writer:
            writer.write("A", *_batch_points(2))
            writer.flush()  # version 3: the reader follows it
            assert reader.read("A").num_rows == 150
            writer.write("A", *_batch_points(3))
            writer.flush()  # version 4, then damaged on disk
        _rw(_log(store_path, 4), DAMAGE["flipped byte"])
        with caplog.at_level(logging.WARNING):
            assert reader.read("A").num_rows == 150  # version 3, not an error
            assert reader.info()["version"] == 3
        assert any("commit 4" in p for p in reader.info()["problems"])
    assert any("read-only at version 3" in r.getMessage() for r in caplog.records)


def test_a_reader_open_during_a_repair_moves_on_once_it_is_done(store_path):
    written = _make(store_path)
    _rw(_log(store_path, 3), DAMAGE["garbage line"])
    with historian.open(store_path, mode="r") as reader:
        assert reader.info()["version"] == 2 and reader.info()["problems"]
        historian.repair(store_path, dry_run=False)  # as another process would
        assert reader.read("A").equals(written)
        assert reader.info()["version"] == 3 and reader.info()["problems"] == []
