"""docs/examples/walkthrough.py runs as a user would run it: a plain script, no network."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "examples" / "walkthrough.py"


def test_walkthrough_runs_offline(tmp_path):
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "NO_PROXY": "*",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }  # any network use would fail
    out = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "Historian(" in text and "9 tags, 129,600 points" in text
    # qualification caught the frozen transmitter and the wild readings
    assert "'flatline'" in text and "'spike'" in text
    # the summary shows the lost flow-meter link as less good data
    assert "pct_good" in text and "66.67" in text
    # the jacket leads the reactor temperature
    first_lead = next(line for line in text.splitlines() if "leads TIC-101.PV" in line)
    assert first_lead.startswith("TI-102.PV")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no chart" in text
    else:
        assert (tmp_path / "walkthrough.png").stat().st_size > 10_000
    assert (tmp_path / "walkthrough.hist").is_dir()
