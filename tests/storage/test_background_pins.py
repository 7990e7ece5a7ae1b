"""Vacuum never deletes a replaced file that a read of this process still holds (pins)."""

from __future__ import annotations

import os
import time

import numpy as np

import historian
from historian import testing

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000


def test_pinned_files_survive_vacuum_until_the_read_ends(tmp_path):
    with historian.open(tmp_path, auto_compact_files=0, background=False) as h:
        h.define("A")
        for i in range(3):
            h.write("A", T0 + (np.arange(10) + 10 * i) * S, np.full(10, float(i)))
            h.flush()
        log = testing.commit_log(h)
        old = [os.path.join(tmp_path, "points", p) for p in log.snapshot().paths]
        assert len(old) == 3
        r = historian.open(tmp_path, mode="r")
        try:
            batches = r.read_batches("A", batch_rows=10)
            first = next(batches)  # the iterator now pins the three files it reads
            assert first.num_rows == 10
            assert h.compact() == 3
            h.write("A", [T0 + 100 * S], [9.0])  # a newer commit: vacuum may act on the
            h.flush()  # compaction's removes (the newest commit's previous state is kept)
            past = time.time() - 3 * 3600  # older than grace and vacuum's own margin
            for p in old:
                os.utime(p, (past, past))
            assert log.vacuum(0) == []  # every replaced file is still pinned
            assert all(os.path.exists(p) for p in old)
            rest = sum(b.num_rows for b in batches)  # the old snapshot reads to its end
            assert first.num_rows + rest == 30  # its snapshot: not the newer point
            assert sorted(log.vacuum(0)) == sorted(
                os.path.relpath(p, os.path.join(tmp_path, "points")) for p in old
            )
            assert not any(os.path.exists(p) for p in old)
            assert r.read("A").num_rows == 31
        finally:
            r.close()
