"""Readers in other processes, a second writer, and threads sharing one Historian."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import historian
from historian.errors import StoreLockedError

HERE = os.path.dirname(__file__)
T0 = 1_767_225_600_000_000_000


def _values(t: np.ndarray) -> np.ndarray:
    return np.round(t / 1e9 % 1000, 3)


def test_reader_process_never_fails_during_writes_flushes_and_compaction(store_path):
    h = historian.open(store_path, flush_points=500, flush_seconds=0.05, auto_compact_files=4)
    tags = [f"R{i}" for i in range(3)]
    for tag in tags:
        h.define(tag)
    h.write(tags[0], [T0], [_values(np.array([T0]))[0]])
    h.flush()
    reader = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "_reader_proc.py"), str(store_path), "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    k = 1
    import time

    deadline = time.monotonic() + 6.5
    while time.monotonic() < deadline:
        for tag in tags:
            t = T0 + (np.arange(k, k + 97) * 1_000_000_000) + (hash(tag) % 1000)
            h.write(tag, t, _values(t))
        k += 97
        if k % (97 * 20) == 1:
            h.compact()
    out, _err = reader.communicate(timeout=60)
    h.close()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["failures"] == 0, result["errors"]
    assert result["reads"] > 20
    assert result["max_rows"] > 1000


def test_second_writer_gets_a_clear_error_and_readers_still_read(store_path):
    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", [T0], [1.0])
        h.flush()
        h.write("A", [T0 + 1], [2.0])  # unflushed: other processes read it from the WAL
        code = (
            "import historian, sys\n"
            f"h = historian.open({str(store_path)!r})\n"
            "print(h.read('A').num_rows)\n"
            "try:\n"
            "    h.write('A', [5], [1.0])\n"
            "except historian.HistorianError as e:\n"
            "    print(type(e).__name__, e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        lines = out.stdout.strip().splitlines()
        assert lines[0] == "2", out.stderr
        assert lines[1].startswith("StoreLockedError")
        assert f"pid {os.getpid()}" in lines[1] and "mode='r'" in lines[1]
    with historian.open(store_path, mode="w"), pytest.raises(StoreLockedError):
        historian.open(store_path, mode="w")


def test_lock_is_freed_when_the_holder_dies(store_path):
    code = (
        "import historian, os\n"
        f"h = historian.open({str(store_path)!r}, mode='w')\n"
        "os._exit(0)\n"  # no close: the kernel frees the flock
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with historian.open(store_path, mode="w") as h:
        assert h.writable


def test_threads_share_one_historian(h):
    tags = [f"TH{i}" for i in range(4)]
    for tag in tags:
        h.define(tag)
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for k in range(50):
                t = T0 + np.arange(k * 20, k * 20 + 20) * 1_000_000_000
                h.write(tag, t, _values(t))
                if k % 10 == 0:
                    h.flush()
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                t = h.read(tags)
                assert t.num_rows <= 4000
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in tags] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    got = h.read(tags)
    assert got.num_rows == 4000
