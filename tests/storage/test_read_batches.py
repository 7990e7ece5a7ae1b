"""h.read_batches: the rows of h.read as bounded record batches, from one pinned snapshot."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.errors import InvalidArgumentError, StoreClosedError, TagNotFoundError
from historian.storage.reader import _windows, snapshot_and_pending

S = 10**9


@pytest.fixture
def h(tmp_path):
    store = historian.open(tmp_path / "plant.hist", part_rows=30_000, auto_compact_files=0)
    store.define_many({"A": {}, "B": {}, "C": {}})
    t = np.arange(100_000, dtype=np.int64) * S
    store.write("A", t, np.arange(100_000.0))
    store.write("B", t[:500], np.ones(500))
    store.flush()
    store.write("A", t[:10], np.zeros(10))  # corrections, in a second file
    store.flush()
    store.write("A", t[5:15], np.full(10, 7.0))  # unflushed corrections
    yield store
    store.close()


def test_batches_hold_exactly_the_rows_of_read_and_are_bounded(h):
    for tags, start, end in ((None, None, None), (["A", "C"], 17 * S, 70_001 * S),
                             ("B", 499 * S, None)):  # fmt: skip
        full = h.read(tags, start, end)
        batches = list(h.read_batches(tags, start, end, batch_rows=7_000))
        assert all(b.num_rows <= 7_000 for b in batches)
        assert pa.Table.from_batches(batches, schema=full.schema).equals(full)
    assert h.read("A", 0, 20 * S).column("value").to_pylist()[4:16] == [0.0] + [7.0] * 10 + [15.0]


def test_each_window_decodes_about_batch_rows_of_stored_rows(h):
    """Memory is bounded by the batch: no window spans more stored rows than about batch_rows
    (one file's share of a tag at most), whatever the length of the read."""
    snap, _ = snapshot_and_pending(h._store)
    windows = _windows(h._store, snap, "A", historian.storage.reader.MIN_NS,
                       historian.storage.reader.MAX_NS, 7_000)  # fmt: skip
    assert len(windows) >= 100_000 // 7_000
    for lo, hi in windows:
        assert (
            h.read("A", lo, hi if hi < historian.storage.reader.MAX_NS else None).num_rows <= 7_700
        )


def test_batches_come_from_the_snapshot_of_the_first_batch(h):
    expected = h.read("A")
    it = h.read_batches("A", batch_rows=10_000)
    first = next(it)
    h.write("A", [5 * S, 99_999 * S], [-1.0, -2.0])  # written while the reader streams
    h.flush()
    h.compact(full=True)  # the files the reader pinned are replaced (kept for the grace period)
    got = pa.Table.from_batches([first, *it])
    assert got.column("time").equals(expected.column("time"))
    assert got.column("value").to_pylist()[5] == expected.column("value").to_pylist()[5]
    assert got.column("value").to_pylist()[-1] == 99_999.0  # not -2.0: written after the pin


def test_tag_type_reasons_and_errors(h):
    b = next(h.read_batches("B", tag_type="dictionary", reasons=True))
    assert b.schema.field("tag").type == pa.dictionary(pa.int32(), pa.string())
    assert "reasons" in b.schema.names
    with pytest.raises(InvalidArgumentError, match="batch_rows"):
        next(h.read_batches("A", batch_rows=0))
    with pytest.raises(InvalidArgumentError, match="tag_type"):
        next(h.read_batches("A", tag_type="categorical"))
    with pytest.raises(TagNotFoundError):
        next(h.read_batches("nope"))
    it = h.read_batches("A", batch_rows=1_000)
    next(it)
    h.close()
    with pytest.raises(StoreClosedError):
        next(it)
