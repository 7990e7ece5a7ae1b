"""The demo application (historian.sim.demo): runs in-process, passes the simulator's login to
the collector explicitly and leaves os.environ as it found it."""

from __future__ import annotations

import os
import re

from historian.sim.demo import DemoOptions, run_demo
from historian.sim.servers import PASSWORD_ENV, USER_ENV


def test_demo_passes_credentials_explicitly_and_never_sets_the_environment(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    before = dict(os.environ)
    run_demo(str(tmp_path / "demo.hist"), DemoOptions(seconds=3, secure=True, faults=False,
                                                       progress=False))  # fmt: skip
    assert dict(os.environ) == before
    out = capsys.readouterr().out
    assert "Basic256Sha256 SignAndEncrypt, certificates + user/password" in out
    # the OPC UA source logged in with the login it was handed (no env var was set)
    m = re.search(r"OPC UA\s+(\d+) tags\s+([\d,]+) points", out)
    assert m and int(m.group(1)) >= 5 and int(m.group(2).replace(",", "")) > 5, out
