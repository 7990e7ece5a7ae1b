"""The write-ahead log: torn tails, flipped bits, and disk errors."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

import historian
from historian import testing
from historian.errors import CorruptDataError, StoreError
from historian.storage.points import Points
from historian.storage.wal import WalWriter, list_segments, read_segment, segment_name

T0 = 1_767_225_600_000_000_000


def _points(n: int, start: int = 0) -> Points:
    t = T0 + np.arange(start, start + n, dtype=np.int64)
    return Points.of_tag(
        "A",
        t,
        t.astype(np.float64),
        np.zeros(n, np.uint32),
        np.zeros(n, np.uint32),
        np.full(n, 7, np.int64),
    )


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _crash(h) -> None:
    """Leave ``h`` as a killed process would: no flush, no end-of-stream marker, lock freed.

    The WAL's file descriptor is closed (as the kernel does for a dead process) so that no
    test leaks an open file into the next one's garbage collection.
    """
    testing.crash(h)


def _segment(tmp_path, batches: int) -> str:
    w = WalWriter(str(tmp_path), 1)
    for i in range(batches):
        w.append(_points(10, i * 10))
    w.close()
    return os.path.join(str(tmp_path), segment_name(1))


def test_segments_are_plain_arrow_ipc_streams(tmp_path):
    import pyarrow as pa

    path = _segment(tmp_path, 3)
    with pa.ipc.open_stream(path) as r:
        assert r.read_all().num_rows == 30
    assert list_segments(str(tmp_path)) == [1]


def test_every_cut_of_the_tail_leaves_a_clean_prefix(tmp_path):
    path = _segment(tmp_path, 5)
    data = _read(path)
    for cut in range(0, len(data), 37):
        with open(path, "wb") as f:
            f.write(data[:cut])
        got = [len(p) for p in read_segment(path)]
        assert all(n == 10 for n in got) and len(got) <= 5


def test_a_flipped_bit_skips_that_batch_and_keeps_the_others(tmp_path):
    # (Salvage in detail, with repair, is in tests/storage/test_damage_repair.py.)
    path = _segment(tmp_path, 3)
    data = bytearray(_read(path))
    # Flip a byte inside the float values of the last batch (found by the last value's bytes).
    last = bytearray(data)
    last[data.rfind(np.float64(T0 + 29).tobytes()) + 3] ^= 0xFF
    _write(path, last)
    assert sum(len(p) for p in read_segment(path)) == 20
    middle = bytearray(data)
    middle[len(data) // 3] ^= 0x01
    _write(path, middle)
    got = [int(p.time[0] - T0) for p in read_segment(path)]
    assert len(got) == 2 and set(got) < {0, 10, 20}  # the damaged batch alone is skipped
    only = _segment(tmp_path / "one", 1)
    one = bytearray(_read(only))
    one[one.rfind(np.float64(T0 + 9).tobytes()) + 3] ^= 0xFF
    _write(only, one)
    with pytest.raises(CorruptDataError, match="CRC32"):  # nothing left to salvage
        list(read_segment(only))


def test_replay_after_a_torn_tail(store_path):
    with historian.open(store_path, flush_points=10**9) as h:
        h.define("A")
        for i in range(5):
            h.write("A", [T0 + i], [float(i)])
        seg = list_segments(os.path.join(store_path, "wal"))[-1]
        path = os.path.join(store_path, "wal", segment_name(seg))
        data = _read(path)
        _crash(h)
    with open(path, "wb") as f:
        f.write(data[:-20])  # the last batch is torn
    with historian.open(store_path) as h:
        assert h.read("A").column("value").to_pylist() == [0.0, 1.0, 2.0, 3.0]


def test_disk_full_during_wal_append_raises_and_keeps_what_was_acknowledged(
    store_path, monkeypatch
):
    h = historian.open(store_path, flush_points=10**9)
    h.define("A")
    h.write("A", [T0], [1.0])
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StoreError, match="fsync"):
        h.write("A", [T0 + 1], [2.0])
    monkeypatch.setattr(os, "fsync", real_fsync)
    _crash(h)  # the process gives up after a failed fsync
    with historian.open(store_path) as h2:
        values = h2.read("A").column("value").to_pylist()
        assert values[0] == 1.0  # acknowledged; the failed one may or may not have reached disk


def test_disk_full_during_flush_keeps_points_readable_and_in_the_wal(store_path, monkeypatch):
    import pyarrow.parquet as pq

    h = historian.open(store_path, flush_points=10**9)
    h.define("A")
    h.write("A", [T0, T0 + 1], [1.0, 2.0])

    class Full(pq.ParquetWriter):
        def write_table(self, *a, **k):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "ParquetWriter", Full)
    with pytest.raises(OSError):
        h.flush()
    assert h.read("A").column("value").to_pylist() == [1.0, 2.0]
    assert not os.listdir(os.path.join(store_path, "tmp"))  # no half-written file left behind
    monkeypatch.undo()
    h.flush()
    h.close()
    with historian.open(store_path) as h2:
        assert h2.read("A").column("value").to_pylist() == [1.0, 2.0]


def test_a_failed_fsync_abandons_the_segment_and_the_next_write_starts_a_new_one(
    tmp_path, monkeypatch
):
    """fsyncgate: never fsync the failed file again; write the unsynced batch again."""
    w = WalWriter(str(tmp_path), 1)
    w.append(_points(10, 0))  # durable
    real_fsync = os.fsync
    failed: set[int] = set()  # inodes whose fsync failed

    def fsync(fd):
        st = os.fstat(fd)
        if st.st_ino in failed:
            raise AssertionError("a failed fsync was retried on the same file")
        if not failed and os.path.isfile(f"/proc/self/fd/{fd}"):
            failed.add(st.st_ino)
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    ticket = w.write(_points(10, 10))  # written, then its fsync fails
    with pytest.raises(StoreError, match="fsync of the write-ahead log failed"):
        w.sync(ticket)
    with pytest.raises(StoreError, match="not acknowledged"):
        w.sync(ticket)  # asking again never turns the failed write into a success
    assert not w.is_open
    w.append(_points(10, 20))  # a new segment: the unsynced batch first, then this one
    w.close()
    assert list_segments(str(tmp_path)) == [1, 2]
    first = [int(p.time[0] - T0) for p in read_segment(str(tmp_path / segment_name(1)))]
    second = [int(p.time[0] - T0) for p in read_segment(str(tmp_path / segment_name(2)))]
    assert first[0] == 0 and second == [10, 20]


def test_a_full_disk_leaves_a_torn_tail_and_the_log_continues_once_space_is_freed(
    tmp_path, monkeypatch
):
    full = False
    real_fdopen = os.fdopen

    class Disk:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            if full:
                self._f.write(bytes(data)[:7])
                raise OSError(errno.ENOSPC, "No space left on device")
            return self._f.write(data)

        def __getattr__(self, name):
            return getattr(self._f, name)

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Disk(real_fdopen(fd, *a, **k)))
    w = WalWriter(str(tmp_path), 1)
    w.append(_points(10, 0))
    full = True
    with pytest.raises(StoreError, match="No space left"):
        w.append(_points(10, 10))
    with pytest.raises(StoreError, match="No space left"):
        w.append(_points(10, 10))  # still full: creating the next segment fails too
    full = False
    w.append(_points(10, 20))  # space is back: no "Destination already closed"
    w.close()
    got = [int(p.time[0] - T0) for seg in list_segments(str(tmp_path))
           for p in read_segment(str(tmp_path / segment_name(seg)))]  # fmt: skip
    assert got == [0, 20]
