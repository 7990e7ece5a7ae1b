"""Automatic compaction by size tiers: a day written by many small flushes is rewritten about
log2(flushes) times, not once every ``auto_compact_files`` flushes (issue 13: 59-63x the live
bytes on disk after 3,000 flushes when every merge took in the whole day so far)."""

from __future__ import annotations

import glob
import os

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

import historian
from historian.storage.maintenance import size_tier

T0 = 1_767_225_600 * 10**9


def rows_on_disk(path) -> int:
    return sum(
        pq.ParquetFile(f).metadata.num_rows
        for f in glob.glob(os.path.join(path, "points", "day=*", "*.parquet"))
    )


def test_a_day_of_small_flushes_is_rewritten_log_times(tmp_path):
    flushes, per = 256, 100
    with historian.open(tmp_path, flush_points=per, background=False, fsync=False) as h:
        h.define("A")
        for i in range(flushes):
            t = T0 + (np.arange(per, dtype=np.int64) + i * per) * 10**9
            h.write("A", t, np.full(per, float(i)))
        live = h.info()["points_in_files"]
        files = h.info()["files"]
        got = h.read("A")
    assert live == flushes * per and got.num_rows == live  # nothing lost, nothing twice
    assert np.array_equal(got.column("value").to_numpy(), np.repeat(np.arange(flushes), per))
    # every row written once by its flush, then by ~log2(256 / 8) + 1 merges; retired files are
    # still on disk (grace period), so this counts what the compactions wrote in all
    written = rows_on_disk(tmp_path)
    assert written <= 8 * live, f"{written / live:.1f}x the live rows written"
    assert files <= 8 + 8  # tiers of doubling size, plus flushes not merged yet


def test_the_tier_takes_the_small_files_and_what_they_add_up_to():
    rows = {"a": 100, "b": 100, "c": 100, "d": 100, "big": 400, "bigger": 2000}
    assert size_tier(list(rows), rows) == ["a", "b", "c", "d", "big"]
    assert size_tier(["big", "bigger"], rows) == ["big"]  # one file: nothing to merge
    assert size_tier([], rows) == []


@given(st.lists(st.integers(1, 10_000), max_size=40))
def test_size_tier_is_a_prefix_by_size_each_no_bigger_than_those_before(sizes):
    rows = {f"f{i}": n for i, n in enumerate(sizes)}
    tier = size_tier(list(rows), rows)
    ordered = sorted(rows, key=lambda p: (rows[p], p))
    assert tier == ordered[: len(tier)]
    for k in range(1, len(tier)):
        assert rows[tier[k]] <= sum(rows[p] for p in tier[:k])
    if ordered and len(tier) < len(ordered):  # the first one left out was too big to join
        assert rows[ordered[len(tier)]] > sum(rows[p] for p in tier)


def test_a_failed_automatic_compaction_loses_nothing_and_is_retried(tmp_path, monkeypatch, caplog):
    """ENOSPC while an automatic (tiered) compaction writes its merged file: the flushes stay
    committed, the next due compaction merges them, a reopened store reads every point once."""
    import errno

    from historian.storage import maintenance

    real, failures = maintenance.rewrite_day, []

    def full_disk(store, relpaths):
        if len(failures) < 2:
            failures.append(len(relpaths))
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
        return real(store, relpaths)

    monkeypatch.setattr(maintenance, "rewrite_day", full_disk)
    per = 100
    with historian.open(tmp_path, flush_points=per, background=False, fsync=False) as h:
        h.define("A")
        for i in range(40):
            t = T0 + (np.arange(per, dtype=np.int64) + i * per) * 10**9
            assert h.write("A", t, np.full(per, float(i))) == per  # acknowledged meanwhile
        assert len(failures) == 2 and "automatic compaction" in caplog.text
        assert h.info()["files"] < 16  # later compactions merged what the failed ones left
    with historian.open(tmp_path, mode="r") as r:
        got = r.read("A")
    assert got.num_rows == 40 * per
    assert np.array_equal(got.column("value").to_numpy(), np.repeat(np.arange(40.0), per))
