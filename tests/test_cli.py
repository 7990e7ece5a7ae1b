"""The ``historian`` command: real stores in tmp_path, the real simulated plant on 127.0.0.1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import historian
from historian.cli import build_parser, main

COMMANDS = ("demo", "sim", "collect", "browse", "info", "query", "compact", "retain", "import",
            "export")  # fmt: skip
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
BAD_NO_COMM = historian.quality.BAD_NO_COMMUNICATION


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a new process, its exit code, stdout and stderr."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "historian.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)  # fmt: skip


@pytest.fixture
def store(tmp_path):
    """A small store: two tags, 100 points each, written over several flushes."""
    path = tmp_path / "plant.hist"
    with historian.open(path) as h:
        h.define("TIC-101.PV", unit="degC", lo=0, hi=200, description="Reactor temperature")
        h.define("FIC-104.PV", unit="m3/h")
        t = T0 + np.arange(100, dtype=np.int64) * 10**9
        for part in np.array_split(np.arange(100), 4):
            h.write("TIC-101.PV", t[part], 20.0 + part * 0.1)
            h.write("FIC-104.PV", t[part], 5.0 + np.sin(part))
            h.flush()
    return path


# ----------------------------------------------------------------------------- help, errors
def test_every_command_has_help_with_an_example(capsys):
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    for name in COMMANDS:
        assert name in top
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert "example:" in out and f"historian {name}" in out, name
    parser = build_parser()
    assert parser.prog == "historian"


def test_version_and_no_command(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("historian ")
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_library_error_is_one_line_on_stderr_with_exit_2(store, capsys):
    # an unknown tag: TagNotFoundError from the store
    assert main(["export", str(store), str(store.parent / "x.parquet"), "--tags", "NOPE"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("historian export: error: ")
    assert "NOPE" in err and "Traceback" not in err
    # an unparseable time: InvalidTimeError
    assert main(["retain", str(store), "--older-than", "garbage"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "garbage" in err
    # --debug shows the traceback
    assert main(["retain", str(store), "--older-than", "garbage", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_missing_store_and_bad_usage_exit_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.hist")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no store" in err
    assert main(["retain", str(tmp_path)]) == 2  # --older-than is required (argparse)
    assert main(["collect", str(tmp_path / "missing.toml")]) == 2  # ConfigError
    err = capsys.readouterr().err
    assert "missing.toml" in err and "Traceback" not in err


def test_error_from_a_real_process_is_one_line(tmp_path):
    r = run_cli("info", str(tmp_path / "nope.hist"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "historian info: error:" in r.stderr


# ----------------------------------------------------------------------------- store commands
def test_info(store, capsys):
    assert main(["info", str(store)]) == 0
    out = capsys.readouterr().out
    assert str(store) in out
    assert re.search(r"^tags\s+2$", out, re.M) and re.search(r"^points\s+200\b", out, re.M)
    assert "bytes/point" in out and "2026-01-01T00:00:00.000Z .. 2026-01-01T00:01:39.000Z" in out
    assert "Reactor temperature" in out


def test_export_parquet_and_csv_then_import_round_trip(store, tmp_path, capsys):
    out_pq = tmp_path / "all.parquet"
    assert main(["export", str(store), str(out_pq)]) == 0
    assert "exported 200 point(s) of 2 tag(s)" in capsys.readouterr().out
    t = pq.read_table(out_pq)
    assert t.num_rows == 200 and t.column_names[:4] == ["tag", "time", "value", "quality"]

    out_csv = tmp_path / "tic.csv"
    assert main(["export", str(store), str(out_csv), "--tags", "TIC-*",
                 "--start", "2026-01-01T00:00:10Z",
                 "--end", "2026-01-01T00:00:20Z"]) == 0  # fmt: skip
    assert "exported 10 point(s) of 1 tag(s)" in capsys.readouterr().out
    lines = out_csv.read_text().splitlines()
    assert len(lines) == 11 and "2026-01-01T00:00:10" in lines[1]

    # into a new store: unknown tags need --define
    new = tmp_path / "new.hist"
    assert main(["import", str(new), str(out_pq)]) == 1
    assert "unknown tag" in capsys.readouterr().out
    assert main(["import", str(new), str(out_pq), "--define"]) == 0
    assert "200 row(s) written, 0 rejected" in capsys.readouterr().out
    assert main(["import", str(new), str(out_csv)]) == 0  # CSV: same points again, last wins
    with historian.open(new, mode="r") as h:
        back = h.read()
    with historian.open(store, mode="r") as h:
        orig = h.read()
    assert back.select(["tag", "time", "value", "quality"]).equals(orig)


def test_import_rejects_bad_rows_one_by_one(store, tmp_path, capsys):
    csv = tmp_path / "in.csv"
    csv.write_text(
        "tag,time,value,quality\n"
        "TIC-101.PV,2026-01-02T00:00:00Z,1.5,0\n"  # ok
        "TIC-101.PV,2026-01-02T00:00:01Z,abc,0\n"  # non-numeric value
        "TIC-101.PV,yesterday-ish,2.5,\n"  # unparseable time
        "NEW.TAG,2026-01-02T00:00:02Z,3.5,\n"  # unknown tag
        "../etc,2026-01-02T00:00:03Z,1,0\n"  # invalid tag name
        "FIC-104.PV,2026-01-02T00:00:04Z,,0\n"  # empty value (Good)
        f"FIC-104.PV,2026-01-02T00:00:05Z,,{BAD_NO_COMM}\n"  # no value, Bad: ok
        "FIC-104.PV,1767312006000000000,7.0,\n"  # int ns, empty quality = Good: ok
    )
    assert main(["import", str(store), str(csv)]) == 0
    out = capsys.readouterr().out
    assert "3 row(s) written, 5 rejected, of 8" in out
    for line, why in ((3, "non-numeric value 'abc'"), (4, "unparseable time 'yesterday-ish'"),
                      (5, "unknown tag"), (6, "invalid tag name"), (7, "empty value")):  # fmt: skip
        assert f"line {line}: {why}" in out, (line, out)
    with historian.open(store, mode="r") as h:
        new = h.read(None, "2026-01-02", "2026-01-03")
    assert new.column("tag").to_pylist() == ["FIC-104.PV", "FIC-104.PV", "TIC-101.PV"]
    assert new.column("value").to_pylist() == [None, 7.0, 1.5]
    assert new.column("quality").to_pylist() == [historian.quality.BAD_NO_COMMUNICATION, 0, 0]


def test_import_custom_columns_and_define(tmp_path, capsys):
    src = tmp_path / "wide.parquet"
    pq.write_table(pa.table({
        "name": ["A", "B"], "ts": pa.array([T0, T0], pa.timestamp("ns", tz="UTC")),
        "v": [1.0, 2.0],
    }), src)  # fmt: skip
    dst = tmp_path / "s.hist"
    assert main(["import", str(dst), str(src), "--define", "--tag-column", "name",
                 "--time-column", "ts", "--value-column", "v"]) == 0  # fmt: skip
    assert "2 row(s) written" in capsys.readouterr().out
    assert main(["import", str(dst), str(src)]) == 2  # no 'tag' column: a one-line usage error
    assert "--tag-column" in capsys.readouterr().err


def test_compact_and_retain(store, capsys):
    with historian.open(store, mode="r") as h:
        files = h.info()["files"]
    assert files >= 2
    assert main(["compact", str(store), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"files {files} -> 1" in out
    with historian.open(store, mode="r") as h:
        assert h.read().num_rows == 200
    assert main(["retain", str(store), "--older-than", "2026-01-01T00:00:50Z"]) == 0
    assert "dropped 100 point(s)" in capsys.readouterr().out
    with historian.open(store, mode="r") as h:
        assert h.read().num_rows == 100


def test_query_binds_parameters(store, capsys):
    sql = "SELECT tag, count(*) AS n, max(value) AS top FROM points WHERE tag = $tag GROUP BY tag"
    assert main(["query", str(store), sql, "--param", "tag=TIC-101.PV"]) == 0
    out = capsys.readouterr().out
    assert "TIC-101.PV" in out and "100" in out and "FIC-104.PV" not in out
    # a value that would inject SQL if pasted in is just a string that matches nothing
    assert main(["query", str(store), sql, "--param", "tag=x' OR '1'='1", "--format", "json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main(["query", str(store), "SELECT tag, value FROM points ORDER BY time, tag LIMIT 2",
                 "--format", "csv"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines()[0] == '"tag","value"'
    assert main(["query", str(store), "SELEC nonsense"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["query", str(store), "SELECT 1", "--param", "novalue"]) == 2


# ----------------------------------------------------------------------------- plant commands
def test_sim_collect_and_browse_against_the_simulated_plant(tmp_path, capsys):
    with subprocess.Popen(
        [sys.executable, "-m", "historian.cli", "sim", "--modbus-port", "0", "--opcua-port", "0",
         "--print-config", "--store", str(tmp_path / "plant.hist"), "--seconds", "25"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ) as sim:  # fmt: skip
        _use_the_plant(sim, tmp_path, capsys)
    with historian.open(tmp_path / "plant.hist", mode="r") as h:
        t = h.read()
    assert {"FIC-104.PV", "TIC-101.PV"} <= set(t.column("tag").to_pylist())


def _use_the_plant(sim, tmp_path, capsys):
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert sim.stdout is not None
        while time.monotonic() < deadline:
            line = sim.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("# end of collector config"):
                break
        text = "".join(lines)
        assert text.startswith("# collector config"), text  # stdout is the config only
        opcua_url = re.search(r"opc\.tcp://127\.0\.0\.1:\d+/\S*", text).group(0)
        cfg = tmp_path / "plant.toml"
        cfg.write_text(text)

        assert main(["browse", opcua_url, "--allow-insecure"]) == 0
        out = capsys.readouterr().out
        assert "Reactor.Temperature" in out and "variable(s)" in out
        assert main(["browse", opcua_url, "--allow-insecure", "--config-stub"]) == 0
        assert "[[opcua]]" in capsys.readouterr().out
        assert main(["browse", opcua_url]) == 2  # SecurityPolicy None refused by default
        assert "insecure" in capsys.readouterr().err.lower()

        assert main(["collect", str(cfg), "--seconds", "2.5"]) == 0
        out = capsys.readouterr().out
        assert re.search(r"collecting from 2 source\(s\) \((plc1, reactor|reactor, plc1)\)", out)
        assert "plc1:" in out and "reactor:" in out and "dropped=0" in out
    finally:
        sim.terminate()
        sim.wait(10)


def test_demo_runs_end_to_end_over_both_protocols(tmp_path):
    store = tmp_path / "demo.hist"
    r = run_cli("demo", "--seconds", "6", "--store", str(store), "--no-progress", timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for section in ("== Collected", "== Quality and qualification", "== Summary",
                    "== Strongest lagged correlations", "historian.open("):  # fmt: skip
        assert section in out, (section, out)
    assert "Basic256Sha256 SignAndEncrypt" in out
    m = re.search(r"Modbus TCP\s+(\d+) tags\s+([\d,]+) points", out)
    assert m and int(m.group(1)) >= 10 and int(m.group(2).replace(",", "")) > 50
    m = re.search(r"OPC UA\s+(\d+) tags\s+([\d,]+) points", out)
    assert m and int(m.group(1)) >= 5 and int(m.group(2).replace(",", "")) > 20
    assert re.search(r"[\d.]+ bytes/point", out)
    assert re.search(r"rules flagged [\d,]+ point", out)
    assert "TIC-101.PV" in out.split("== Summary")[1]
    with historian.open(store, mode="r") as h:
        assert h.read().num_rows > 100


def test_demo_never_deletes_a_folder_that_is_not_a_store(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    assert main(["demo", "--store", str(folder), "--fresh", "--seconds", "1"]) == 2
    assert "not a historian store" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text() == "keep me"
