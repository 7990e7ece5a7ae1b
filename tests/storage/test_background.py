"""Flushes off the caller's path: the store's own thread flushes and compacts, never write().

Faults are injected into the background flush (the file write fails with EIO): the failure is
retried with backoff, shown by info()["background"], raised once by the next explicit flush()
or by close(), and after a reopen every acknowledged point is there exactly once.
"""

from __future__ import annotations

import errno
import threading
import time

import numpy as np
import pytest

import historian
from historian.errors import BackgroundFlushError, StoreError
from historian.storage import flushing

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Fault:
    """flushing.write_files fails with EIO while ``on``; records the threads that flushed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = False
        self.threads: list[str] = []
        real = flushing.write_files

        def write_files(store, points):
            self.threads.append(threading.current_thread().name)
            if self.on:
                raise OSError(errno.EIO, "injected I/O error")
            return real(store, points)

        monkeypatch.setattr(flushing, "write_files", write_files)


def batch(i: int, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    t = T0 + (np.arange(n, dtype=np.int64) + i * n) * S
    return t, np.full(n, float(i))


def check_exactly_once(path, batches: int) -> None:
    with historian.open(path, mode="r") as r:
        got = r.read("A")
        t = np.concatenate([batch(i)[0] for i in range(batches)])
        v = np.concatenate([batch(i)[1] for i in range(batches)])
        assert got.num_rows == t.size  # none lost, none twice
        assert np.array_equal(got.column("time").cast("int64").to_numpy(), t)
        assert np.array_equal(got.column("value").to_numpy(), v)


def test_write_returns_before_the_flush_which_runs_on_the_store_thread(tmp_path, monkeypatch):
    fault = Fault(monkeypatch)
    with historian.open(tmp_path, flush_points=100) as h:
        h.define("A")
        for i in range(3):  # below BACKPRESSURE x flush_points even if no flush ran yet
            h.write("A", *batch(i))
        # pending reaches 0 at the commit; the flush's time is recorded just after it
        wait_for(
            lambda: h.info()["points_pending"] == 0 and h.info()["background"]["flush_ms_p99"],
            "the background flush",
        )
        assert fault.threads and set(fault.threads) == {"historian-flusher"}
        assert h.info()["background"]["state"] == "ok"
    check_exactly_once(tmp_path, 3)


def test_background_false_flushes_inside_write(tmp_path, monkeypatch):
    fault = Fault(monkeypatch)
    with historian.open(tmp_path, flush_points=100, background=False) as h:
        h.define("A")
        h.write("A", *batch(0))
        assert h.info()["points_pending"] == 0  # flushed before write() returned
        assert fault.threads == [threading.current_thread().name]


def test_background_failure_retried_surfaced_raised_once_nothing_lost(tmp_path, monkeypatch):
    fault = Fault(monkeypatch)
    h = historian.open(tmp_path, flush_points=100)
    try:
        h.define("A")
        fault.on = True
        h.write("A", *batch(0))
        wait_for(lambda: h.info()["background"]["failures"] >= 2, "two failed retries")
        state = h.info()["background"]
        assert state["state"] == "retrying" and "injected I/O error" in state["error"]
        for i in range(1, 3):  # writes go on, acknowledged into the WAL and memory
            assert h.write("A", *batch(i)) == 100
        assert h.read("A").num_rows == 300  # readable meanwhile
        fault.on = False
        # pending reaches 0 at the commit; the run (compaction too) is "ok" only once it ends
        wait_for(
            lambda: h.info()["points_pending"] == 0 and h.info()["background"]["state"] == "ok",
            "the retry after the fault",
        )
        with pytest.raises(BackgroundFlushError, match="injected I/O error"):
            h.flush()
        h.flush()  # raised once
    finally:
        h.close()
    check_exactly_once(tmp_path, 3)


def test_fault_still_there_at_close_raises_and_reopen_recovers(tmp_path, monkeypatch):
    fault = Fault(monkeypatch)
    h = historian.open(tmp_path, flush_points=100)
    h.define("A")
    fault.on = True
    for i in range(3):
        h.write("A", *batch(i))
    wait_for(lambda: h.info()["background"]["failures"] >= 1, "a failed background flush")
    with pytest.raises(StoreError, match="injected I/O error"):
        h.close()
    with pytest.raises(StoreError, match="closed"):
        h.read("A")
    fault.on = False
    with historian.open(tmp_path) as again:  # replays the WAL and commits it
        assert again.read("A").num_rows == 300
    check_exactly_once(tmp_path, 3)
