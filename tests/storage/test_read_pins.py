"""Reads of other processes pin their snapshots: vacuum (grace 0) deletes a replaced file only
once no live read of any process holds a snapshot that lists it (historian.storage.pins)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest

import historian
from historian import testing
from historian.errors import InvalidArgumentError
from historian.storage import pins

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000

# A reader in its own process: streams tag A 10 rows at a time, stops after the first batch
# until it reads a line on stdin, then prints how many rows its snapshot held.
_STREAMING_READER = """
import sys, historian
with historian.open(sys.argv[1], mode="r") as r:
    batches = r.read_batches("A", batch_rows=10)
    first = next(batches)
    print("held", flush=True)
    sys.stdin.readline()
    print(first.num_rows + sum(b.num_rows for b in batches), flush=True)
"""

# A reader that reads everything, again and again, while the writer compacts and vacuums.
_LOOPING_READER = """
import sys, historian
counts = []
with historian.open(sys.argv[1], mode="r") as r:
    for _ in range(int(sys.argv[2])):
        counts.append(r.read("A").num_rows)
print(",".join(map(str, counts)), flush=True)
"""


def _reader(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _three_flushes(h: historian.Historian) -> list[str]:
    h.define("A")
    for i in range(3):
        h.write("A", T0 + (np.arange(10) + 10 * i) * S, np.full(10, float(i)))
        h.flush()
    return list(testing.commit_log(h).snapshot().paths)


def _replace_them(h: historian.Historian) -> None:
    """Compact the three files into one, then commit once more (vacuum keeps the previous
    state of the newest commit)."""
    assert h.compact() == 3
    h.write("A", [T0 + 100 * S], [9.0])
    h.flush()


def _exist(store, rels: list[str]) -> list[bool]:
    return [os.path.exists(os.path.join(store, "points", p)) for p in rels]


def _pin_files(store) -> list[str]:
    folder = os.path.join(store, pins.PIN_DIR)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _reader_holding_replaced_files(h: historian.Historian, store) -> tuple[Any, list[str]]:
    """Three flush files read by a stream of another process, then replaced: the reader and
    the old files, once vacuum has been seen to leave them."""
    old = _three_flushes(h)
    reader = _reader(_STREAMING_READER, str(store))
    try:
        assert reader.stdout.readline().strip() == "held"
        assert len(_pin_files(store)) == 1
        _replace_them(h)
        assert testing.commit_log(h).vacuum(0) == []  # the other process holds them
        assert all(_exist(store, old))
    except BaseException:
        reader.kill()
        reader.wait()
        raise
    return reader, old


def test_another_process_s_streaming_read_keeps_its_files_until_it_ends(tmp_path):
    with historian.open(tmp_path, auto_compact_files=0, background=False) as h:
        reader, old = _reader_holding_replaced_files(h, tmp_path)
        try:
            out, err = reader.communicate("go\n", timeout=60)
        finally:
            reader.kill()
            reader.wait()
        assert reader.returncode == 0, err
        assert out.strip() == "30"  # its own snapshot, read to the end: not the newer point
        assert _pin_files(tmp_path) == []  # a reader that closes removes its pin
        assert sorted(testing.commit_log(h).vacuum(0)) == sorted(old)
        assert not any(_exist(tmp_path, old))
        assert h.read("A").num_rows == 31


def test_a_killed_reader_s_pin_is_dropped_by_the_next_vacuum(tmp_path):
    with historian.open(tmp_path, auto_compact_files=0, background=False) as h:
        reader, old = _reader_holding_replaced_files(h, tmp_path)
        reader.send_signal(signal.SIGKILL)
        reader.communicate(timeout=60)
        assert len(_pin_files(tmp_path)) == 1  # left behind by the kill
        assert sorted(testing.commit_log(h).vacuum(0)) == sorted(old)
        assert _pin_files(tmp_path) == []


def test_reads_of_another_process_never_fail_while_the_writer_compacts_and_vacuums(tmp_path):
    """The pin protocol under churn: every read of the other process succeeds and sees a
    growing store, while replaced files are deleted as soon as no read holds them."""
    rounds = 60
    with historian.open(tmp_path, auto_compact_files=2, background=False, fsync=False) as h:
        h.define("A")
        h.write("A", [T0], [0.0])
        h.flush()
        reader = _reader(_LOOPING_READER, str(tmp_path), str(rounds))
        k = 1
        try:
            while reader.poll() is None and k < 20_000:  # until the reader is done
                h.write("A", T0 + (np.arange(20) + 20 * k) * S, np.full(20, float(k)))
                h.flush()  # each flush commits; every second one compacts and vacuums
                k += 1
            out, err = reader.communicate(timeout=120)
        finally:
            reader.kill()
            reader.wait()
        assert reader.returncode == 0, err
        counts = [int(c) for c in out.strip().split(",")]
        assert len(counts) == rounds
        assert counts == sorted(counts) and counts[-1] > counts[0]  # never went back
        assert k > 20  # the writer really changed the store under the reads
        live = set(testing.commit_log(h).snapshot().paths)
        on_disk = {
            f"{d}/{f}"
            for d in os.listdir(tmp_path / "points")
            if d.startswith("day=")
            for f in os.listdir(tmp_path / "points" / d)
        }
        assert len(on_disk) <= len(live) + 12, "replaced files were not vacuumed"


def _write_pin(store, name: str, record: dict) -> str:
    folder = os.path.join(store, pins.PIN_DIR)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        json.dump(record, f)
    return path


def test_a_pin_from_another_host_counts_until_it_expires(tmp_path):
    with historian.open(tmp_path, auto_compact_files=0, background=False) as h:
        old = _three_flushes(h)
        record = {"version": 0, "host": "elsewhere", "pid": 1, "expires": time.time() + 600}
        path = _write_pin(tmp_path, "remote.pin", record)
        _replace_them(h)
        assert testing.commit_log(h).vacuum(0) == []
        _write_pin(tmp_path, "remote.pin", {**record, "expires": time.time() - 1})
        assert sorted(testing.commit_log(h).vacuum(0)) == sorted(old)
        assert not os.path.exists(path)


def test_an_unreadable_pin_holds_everything_until_it_is_old(tmp_path):
    with historian.open(tmp_path, auto_compact_files=0, background=False) as h:
        old = _three_flushes(h)
        folder = tmp_path / pins.PIN_DIR
        folder.mkdir()
        junk = folder / "torn.pin"
        junk.write_bytes(b'{"version": 3, "ho')
        _replace_them(h)
        assert testing.commit_log(h).vacuum(0) == []
        past = time.time() - pins.PIN_TTL_S - 60
        os.utime(junk, (past, past))
        assert sorted(testing.commit_log(h).vacuum(0)) == sorted(old)
        assert not junk.exists()


def test_a_reader_that_cannot_write_its_pin_still_reads(tmp_path, caplog):
    with historian.open(tmp_path, auto_compact_files=0, background=False) as h:
        _three_flushes(h)
    (tmp_path / pins.PIN_DIR).write_text("not a folder")  # no pin file can be created
    with historian.open(tmp_path, mode="r") as r, caplog.at_level("WARNING"):
        assert r.read("A").num_rows == 30
        assert r.read("A").num_rows == 30
    warned = [m for m in caplog.messages if "cannot write the read pin" in m]
    assert len(warned) == 1 and "grace_hours" in warned[0]


def test_replaced_files_leave_the_disk_as_a_collector_writes(tmp_path):
    """Grace 0 (the default): after many small flushes with automatic compaction the data
    files on disk stay within 1.5x the live ones (issue 13's disk target, data files)."""
    with historian.open(tmp_path, flush_points=100, fsync=False, background=False) as h:
        h.define("A")
        h.define("B")
        for k in range(200):
            t = T0 + (np.arange(50) + 50 * k) * S
            h.write("A", t, np.sin(t / 1e12))
            h.write("B", t, np.cos(t / 1e12))  # 100 points: one flush
        snap = testing.commit_log(h).snapshot()
        live = int(snap.sizes.sum())
        data = sum(
            e.stat().st_size
            for d in (tmp_path / "points").iterdir()
            if d.name.startswith("day=")
            for e in os.scandir(d)
        )
        assert data <= 1.5 * live, (data, live)
        assert h.read(["A", "B"]).num_rows == 20_000


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "1", True])
def test_grace_hours_must_be_a_number_of_hours(tmp_path, bad):
    with pytest.raises(InvalidArgumentError, match="grace_hours"):
        historian.open(tmp_path, grace_hours=bad)
