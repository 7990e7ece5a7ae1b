"""kill -9 a writing process at random moments: every acknowledged point survives exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

import historian
from historian.storage.table import CommitLog
from historian.storage.wal import list_segments, read_segment, segment_name

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
from _writer_proc import T0, TAGS, value  # noqa: E402

KILLS = int(os.environ.get("HISTORIAN_CRASH_KILLS", "20"))


def _run_and_kill(path: str, seed: int, after_s: float) -> dict[str, set[int]]:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "_writer_proc.py"), path, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    acked: dict[str, set[int]] = {t: set() for t in TAGS}
    for raw in out.splitlines(keepends=True):
        if not raw.endswith("\n"):
            continue  # a line cut by the kill was never fully acknowledged
        parts = raw.split()
        if len(parts) == 3 and parts[0] == "ack":
            acked[parts[1]].update(int(x) for x in parts[2].split(","))
    assert "Traceback" not in err, err
    return acked


def _points_waiting_in_wal(path: str) -> int:
    """Acknowledged points that only the WAL holds (what the next open must replay)."""
    snap = CommitLog(os.path.join(path, "points"), create=False).snapshot()
    wal = os.path.join(path, "wal")
    return sum(
        len(p)
        for seg in list_segments(wal)
        if seg > snap.wal_upto
        for p in read_segment(os.path.join(wal, segment_name(seg)))
    )


def _check_store(path: str, acked: dict[str, set[int]]) -> None:
    with historian.open(path, mode="w") as h:  # the next open recovers
        for k, tag in enumerate(TAGS):
            got = h.read(tag)
            times = got.column("time").cast("int64").to_numpy()
            idx = (times - T0) // 1_000_000_000
            assert len(np.unique(idx)) == len(idx), f"{tag}: a point appears twice"
            missing = acked[tag] - set(idx.tolist())
            assert not missing, (
                f"{tag}: {len(missing)} acknowledged points lost, e.g. {sorted(missing)[:5]}"
            )
            np.testing.assert_array_equal(got.column("value").to_numpy(), value(k, idx))
    # Every committed file opens with page-checksum verification, and DuckDB agrees on the count.
    log = CommitLog(os.path.join(path, "points"), create=False)
    snap = log.snapshot()
    files = [os.path.join(path, "points", p) for p in snap.paths]
    rows = 0
    for f in files:
        rows += pq.read_table(f, page_checksum_verification=True).num_rows
    if files:
        con = duckdb.connect()
        (n,) = con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()
        assert n == rows == int(snap.rows.sum())


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_point(tmp_path):
    path = str(tmp_path / "crash.hist")
    rng = np.random.default_rng(20261125)
    acked_total: dict[str, set[int]] = {t: set() for t in TAGS}
    total_acks = replayed = 0
    for i in range(KILLS):
        acked = _run_and_kill(path, seed=i, after_s=float(rng.uniform(0.05, 1.2)))
        for t in TAGS:
            acked_total[t] |= acked[t]
            total_acks += len(acked[t])
        replayed += _points_waiting_in_wal(path)
        _check_store(path, acked_total)
    assert total_acks > 1000  # the writers really wrote between kills
    assert replayed > 0  # some kills left acknowledged points only in the WAL
