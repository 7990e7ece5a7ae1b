"""kill -9 a process that writes annotations and frames (merges included): every acknowledged
one survives, every file left is whole, and the next writer goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

import historian
from historian.storage.records import decode, is_record_file

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
from _annotator_proc import T0, S  # noqa: E402

KILLS = int(os.environ.get("HISTORIAN_CRASH_KILLS", "4"))


def _run_and_kill(path: str, acks_before_kill: int) -> tuple[set[int], set[int]]:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "_annotator_proc.py"), path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    notes: set[int] = set()
    frames: set[int] = set()
    lines: list[str] = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        while len(lines) < acks_before_kill:  # wait for acknowledgements, not for a clock
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "the writer stopped"
            lines.append(line)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when an assert above failed
            proc.kill()
            proc.communicate()
    for raw in lines + out.splitlines(keepends=True):
        if not raw.endswith("\n"):
            continue  # a line cut by the kill was never fully acknowledged
        parts = raw.split()
        if len(parts) == 3 and parts[0] == "ack":
            (notes if parts[1] == "a" else frames).add(int(parts[2]))
    assert "Traceback" not in err, err
    return notes, frames


@pytest.mark.parametrize("round_no", range(KILLS))
def test_kill_9_loses_no_acknowledged_annotation_or_frame(tmp_path, round_no):
    path = str(tmp_path / "plant.hist")
    notes, frames = _run_and_kill(path, 15 + 7 * round_no)
    # acked before the kill, and the acks read before it (readline): at least those
    assert len(notes) >= 10
    for kind in ("annotations", "frames"):
        folder = os.path.join(path, kind)
        for name in os.listdir(folder):
            rel = f"{kind}/{name}"
            if not is_record_file(rel):
                assert name.endswith(".tmp"), name  # a temp name no reader lists
                continue
            with open(os.path.join(folder, name), "rb") as f:
                decode(kind, f.read(), rel)  # whole: header, count and CRC32 match
    with historian.open(path) as h:
        got = h.annotations().to_pylist()
        have = {(r["time"].value - T0) // S for r in got}
        assert notes <= have
        assert all(r["text"] == f"note {(r['time'].value - T0) // S}" for r in got)
        fr = {(f["start"].value - T0) // S for f in h.frames().to_pylist()}
        assert frames <= fr
        # the next writer goes on where the killed one stopped
        h.annotate("TIC-101.PV", T0 - S, "after the crash", author="op")
        assert h.annotations("TIC-101.PV", T0 - S, T0).column("text").to_pylist() == [
            "after the crash"
        ]
