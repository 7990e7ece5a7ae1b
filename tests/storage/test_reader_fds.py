"""A long-lived reader keeps a flat count of open files while a writer replaces them.

A reader caches opened data files (their footers and indexes); files replaced by compactions
used to stay in that cache, one descriptor each, until every read failed with EMFILE. The
reader here lives across hundreds of flushes and compactions by a writer of the same store,
under a descriptor limit far below what the old cache would have held.
"""

from __future__ import annotations

import os
import resource

import numpy as np
import pytest

import historian

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000
FLUSHES = 200
BATCH = 50


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def low_fd_limit():
    """The soft descriptor limit lowered to 150 above what is open now, restored after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, open_fds() + 150), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_reader_fds_stay_flat_across_compactions(tmp_path, low_fd_limit):
    w = historian.open(tmp_path, mode="w", fsync=False, auto_compact_files=3, grace_hours=0)
    r = historian.open(tmp_path, mode="r")
    try:
        w.define("A")
        w.define("B")
        counts, versions = [], set()
        for i in range(FLUSHES):
            t = T0 + (np.arange(BATCH, dtype=np.int64) + i * BATCH) * S
            w.write("A", t, np.full(BATCH, float(i)))
            w.write("B", t, np.full(BATCH, -float(i)))
            w.flush()
            got = r.read(["A", "B"], T0, T0 + (i + 1) * BATCH * S)  # never EMFILE
            assert got.num_rows == 2 * (i + 1) * BATCH
            versions.add(r.info()["version"])
            counts.append(open_fds())
        # hundreds of versions, each compaction replacing files the reader had open
        assert len(versions) == FLUSHES and max(versions) > FLUSHES + FLUSHES // 4
        assert w.info()["files"] < 10
        # flat: no growth from the first quarter to the last (one per replaced file before),
        # and never more than a few dozen above the least (transient threads and log reads)
        early, late = np.median(counts[20:60]), np.median(counts[-40:])
        assert late <= early + 4, counts[::20]
        assert max(counts) <= min(counts) + 40, counts[::20]
    finally:
        r.close()
        w.close()
