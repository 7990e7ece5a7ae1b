"""What a new user does, the way they do it (issue 11): the documented commands exactly, run in
a shell, and the notebook calls of the README and the quickstart on a real store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pyarrow as pa
import pytest

import historian

BIN = Path(sys.executable).parent  # the venv's `historian` script lives beside python


def shell(cmd: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A command line as a user types it into bash (redirects included)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONWARNINGS": "ignore"}  # fmt: skip
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


def wait_for(cond, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# ----------------------------------------------------------------------------- item 1
def test_sim_print_config_redirected_to_a_file_is_a_config_collect_accepts(tmp_path):
    # docs/cli.md: `historian sim --print-config > plant.toml`, then `historian collect
    # plant.toml --seconds 60` in another terminal. Free ports (0) instead of 5020/4840 so the
    # test never collides with another server on this machine; everything else as documented.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONWARNINGS": "ignore"}  # fmt: skip
    toml_path = tmp_path / "plant.toml"
    with subprocess.Popen(
        ["bash", "-c", "exec historian sim --modbus-port 0 --opcua-port 0 --print-config "
         "--seconds 60 > plant.toml"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    ) as sim:  # fmt: skip
        try:
            wait_for(lambda: toml_path.exists()
                     and "# end of collector config" in toml_path.read_text(), 60,
                     "the printed config")  # fmt: skip
            config = tomllib.loads(toml_path.read_text())  # only TOML in the file
            assert config["store"]["path"] == "plant.hist"
            r = shell("historian collect plant.toml --seconds 3", tmp_path)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "collector health:" in r.stdout
        finally:
            sim.send_signal(signal.SIGINT)
            _, err = sim.communicate(timeout=30)
    assert "simulated plant serving on 127.0.0.1" in err  # the banner went to the terminal
    assert "stopped" in err
    text = toml_path.read_text()
    assert text.startswith("# collector config")
    assert "serving" not in text and "stopped" not in text
    tomllib.loads(text)
    with historian.open(tmp_path / "plant.hist", mode="r") as h:
        assert h.read().num_rows > 0


# ----------------------------------------------------------------------------- item 3
def test_open_expands_the_home_folder(tmp_path, monkeypatch):
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir(), cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    with historian.open("~/plant.hist") as h:
        h.define("TIC-101.PV", unit="degC")
        assert h.path == str(home / "plant.hist")
    assert (home / "plant.hist" / "tags.json").exists()
    assert list(cwd.iterdir()) == []  # no folder literally named "~"
    with historian.open("~/plant.hist", mode="r") as h:
        assert h.tags().column("name").to_pylist() == ["TIC-101.PV"]


# ----------------------------------------------------------------------------- item 4
def test_define_on_an_existing_tag_changes_only_what_is_given(tmp_path):
    import numpy as np

    from historian.model.quality import is_good

    with historian.open(tmp_path / "plant.hist") as h:
        h.define("TIC-101.PV", unit="degC", lo=0, hi=100, description="Reactor temperature",
                 rules={"range": {}})  # fmt: skip
        t = h.define("TIC-101.PV", unit="K")  # what the user did
        assert (t.unit, t.lo, t.hi, t.description) == ("K", 0.0, 100.0, "Reactor temperature")
        assert t.rules == {"range": {}} and t.version == 2
        h.write("TIC-101.PV", [10**18, 10**18 + 10**9], [50.0, 150.0])
        q = h.read("TIC-101.PV").column("quality").to_numpy()
        assert is_good(q[0]) and not is_good(q[1])  # 150 is above hi=100: not stored Good
        h.define("TIC-101.PV", lo=None)  # an explicit None clears a field
        assert h.tag("TIC-101.PV").lo is None and h.tag("TIC-101.PV").hi == 100.0
        r = h.define("TIC-101.PV", unit="K", replace=True)  # replacing is explicit
        assert (r.hi, r.rules, r.description, r.version) == (None, {}, "", 4)
        versions = h.tag_versions("TIC-101.PV")
        assert [v.version for v in versions] == [1, 2, 3, 4]
        assert [v.unit for v in versions] == ["degC", "K", "K", "K"]
        assert versions[0].hi == 100.0 and versions[0].rules == {"range": {}}
        assert h.define("TIC-101.PV", unit="K").version == 4  # no change, no new version
    with historian.open(tmp_path / "plant.hist", mode="r") as h:  # the history is stored
        assert [v.hi for v in h.tag_versions("TIC-101.PV")] == [100.0, 100.0, 100.0, None]
        np.testing.assert_array_equal(h.read("TIC-101.PV").column("value").to_numpy(),
                                      [50.0, 150.0])  # fmt: skip


# ----------------------------------------------------------------------------- item 10
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
S = 10**9

#: One call per public method, as a notebook user would make it after h.close().
CLOSED_CALLS = {
    "add_frame": lambda h: h.add_frame("B-1", T0, T0 + S),
    "annotate": lambda h: h.annotate("A", T0, "note"),
    "annotations": lambda h: h.annotations(),
    "frames": lambda h: h.frames(),
    "frames_from_events": lambda h: h.frames_from_events("A > 1", T0, T0 + 10 * S, name="{n}"),
    "asof": lambda h: h.asof([T0 + S], "A"),
    "bounded_series": lambda h: h.bounded_series(["A"], T0, T0 + 10 * S),
    "is_stepped": lambda h: h.is_stepped(["A"]),
    "resolve_tags": lambda h: h.resolve_tags("A"),
    "compact": lambda h: h.compact(),
    "correlate": lambda h: h.correlate(["A", "B"], T0, T0 + 10 * S, "1s", progress=False),
    "define": lambda h: h.define("C"),
    "define_many": lambda h: h.define_many({"C": {"unit": "K"}}),
    "delete": lambda h: h.delete("A"),
    "delete_tag": lambda h: h.delete_tag("A"),
    "rename_tag": lambda h: h.rename_tag("A", "Z"),
    "events": lambda h: h.events("A > 1", T0, T0 + 10 * S),
    "flush": lambda h: h.flush(),
    "info": lambda h: h.info(),
    "interpolated": lambda h: h.interpolated("A", T0, T0 + 10 * S, "1s"),
    "plot": lambda h: h.plot("A", T0, T0 + 10 * S),
    "qualify": lambda h: h.qualify("A"),
    "read": lambda h: h.read("A"),
    "read_batches": lambda h: next(h.read_batches("A")),
    "read_wide": lambda h: h.read_wide(),
    "retain": lambda h: h.retain("30d"),
    "scan_sources": lambda h: h.scan_sources(),
    "sql": lambda h: h.sql("SELECT count(*) FROM points"),
    "summary": lambda h: h.summary("A", T0, T0 + 10 * S, "5s"),
    "tag": lambda h: h.tag("A"),
    "tag_versions": lambda h: h.tag_versions("A"),
    "tags": lambda h: h.tags(),
    "verify": lambda h: h.verify(),
    "write": lambda h: h.write("A", [T0], [1.0]),
    "write_table": lambda h: h.write_table(pa.table({"tag": ["A"], "time": [T0], "value": [1.0]})),
}


def test_every_call_on_a_closed_store_raises_store_closed(tmp_path):
    import numpy as np

    from historian.errors import StoreClosedError
    from historian.plotting import plot_tag

    H = historian.Historian
    public = {n for n in dir(H) if not n.startswith("_") and callable(getattr(H, n))}
    assert public - {"close"} <= set(CLOSED_CALLS)  # a new method needs a line here
    h = historian.open(tmp_path / "plant.hist")
    h.define("A"), h.define("B")
    h.write("A", T0 + np.arange(10) * S, np.arange(10.0))
    h.write("B", T0 + np.arange(10) * S, np.arange(10.0) ** 2)
    h.close()
    for name, call in CLOSED_CALLS.items():
        if name not in public:
            continue
        with pytest.raises(StoreClosedError, match="closed; open it again"):
            call(h)
            pytest.fail(f"h.{name}() returned on a closed store")
    with pytest.raises(StoreClosedError):
        plot_tag(h, "A", T0, T0 + 10 * S)
    assert "closed" in repr(h)
    h.close()  # closing twice stays harmless


# ----------------------------------------------------------------------------- item 11
def test_a_reversed_window_is_refused_everywhere_naming_both_times(tmp_path, capsys):
    import numpy as np

    import historian.dask
    from historian.cli import main
    from historian.errors import InvalidTimeError, InvalidWindowError
    from historian.plotting import plot_tag

    start, end = "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z"
    with historian.open(tmp_path / "plant.hist") as h:
        h.define("A"), h.define("B")
        h.write("A", T0 + np.arange(10) * S, np.arange(10.0))
        h.write("B", T0 + np.arange(10) * S, np.arange(10.0) ** 2)
        calls = {
            "read": lambda a, b: h.read("A", a, b),
            "read_batches": lambda a, b: next(h.read_batches("A", a, b)),
            "read_wide": lambda a, b: h.read_wide(["A", "B"], a, b),
            "summary": lambda a, b: h.summary("A", a, b, "5s"),
            "interpolated": lambda a, b: h.interpolated("A", a, b, "1s"),
            "plot": lambda a, b: h.plot("A", a, b),
            "plot_tag": lambda a, b: plot_tag(h, "A", a, b),
            "correlate": lambda a, b: h.correlate(["A", "B"], a, b, "1s", progress=False),
            "events": lambda a, b: h.events("A > 1", a, b),
            "qualify": lambda a, b: h.qualify("A", a, b),
            "delete": lambda a, b: h.delete("A", a, b),
            "dask.read_dask": lambda a, b: historian.dask.read_dask(h, "A", a, b),
            "dask.summary": lambda a, b: historian.dask.summary(h, "A", a, b, "5s"),
        }
        for name, call in calls.items():
            with pytest.raises(InvalidWindowError) as err:  # h.read(tag, end, start)
                call(end, start)
            msg = str(err.value)
            assert start in msg and end in msg and "swap" in msg, (name, msg)
            assert isinstance(err.value, InvalidTimeError)
        assert h.read("A", start, start).num_rows == 0  # an empty window is just empty
        for name in ("summary", "interpolated", "plot", "events"):
            with pytest.raises(InvalidWindowError, match="is empty"):
                calls[name](start, start)
        assert h.read("A", start, end).num_rows == 10
    assert main(["export", str(tmp_path / "plant.hist"), str(tmp_path / "out.csv"),
                 "--start", end, "--end", start]) == 2  # fmt: skip
    assert "must be after start" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


# ----------------------------------------------------------------------------- item 5
def test_int_epoch_seconds_are_refused_with_how_to_pass_them(tmp_path):
    import numpy as np

    from historian.errors import InvalidTimeError

    now_s = 1796304525  # time.time() as an int, as the user had it
    with historian.open(tmp_path / "plant.hist") as h:
        h.define("TIC-101.PV")
        with pytest.raises(InvalidTimeError, match=r"looks like epoch seconds \(2026-12-03T"
                           r".*historian\.seconds\(t\)"):  # fmt: skip
            h.read("TIC-101.PV", now_s - 3600, now_s)
        with pytest.raises(InvalidTimeError, match=r"epoch milliseconds.*historian\.milliseconds"):
            h.summary("TIC-101.PV", (now_s - 3600) * 1000 + 1, now_s * 1000 + 1, 60)
        with pytest.raises(InvalidTimeError, match="look like epoch seconds"):
            h.write("TIC-101.PV", now_s + np.arange(3), [1.0, 2.0, 3.0])
        with pytest.raises(InvalidTimeError, match="look like epoch seconds"):
            h.write_table(pa.table({"tag": ["TIC-101.PV"] * 2, "time": [now_s, now_s + 1],
                                    "value": [1.0, 2.0]}))  # fmt: skip
        assert h.read("TIC-101.PV").num_rows == 0  # nothing written by the refused calls
        # the ways the message names all work, and mean the same moment
        h.write("TIC-101.PV", historian.seconds(now_s + np.arange(3)), [1.0, 2.0, 3.0])
        h.write("TIC-101.PV", np.array([now_s + 3], dtype="datetime64[s]"), [4.0])
        a = h.read("TIC-101.PV", historian.seconds(now_s),
                   historian.milliseconds(now_s * 1000 + 3500))  # fmt: skip
        b = h.read("TIC-101.PV", np.datetime64(now_s, "s"), (now_s + 4) * 10**9)
        assert a.num_rows == b.num_rows == 4 and a.equals(b)
        assert str(a.column("time")[0].as_py()) == "2026-12-03 13:28:45+00:00"
        s = h.summary("TIC-101.PV", historian.seconds(now_s), historian.seconds(now_s + 4), 2)
        assert s.num_rows == 2 * 4  # every=2 stays seconds: two intervals of four stats
        # small round ints stay nanoseconds, as in the docs and tests
        h.define("A")
        h.write("A", [0, 10**9, 2 * 10**9, 3 * 10**9], [0.0, 10.0, 10.0, 0.0])
        assert h.read("A", 0, 2 * 10**9).num_rows == 2
        assert h.read("A", np.datetime64(1_500_000_001, "ns")).num_rows == 2  # never questioned


# ----------------------------------------------------------------------------- item 12
def test_statuscode_names_are_accepted_wherever_a_statuscode_is(tmp_path):
    import numpy as np
    import pandas as pd
    import polars as pl

    from historian.errors import InvalidDataError
    from historian.model import quality as q

    with historian.open(tmp_path / "plant.hist") as h:
        h.define("FIC-201.PV")
        t = T0 + np.arange(8) * S
        h.write("FIC-201.PV", t[:1], [1.0], quality="Bad")  # "got shape ()" before
        h.write("FIC-201.PV", t[1:3], [2.0, 3.0], quality=["Bad_NoCommunication", "Good"])
        h.write_table(
            pd.DataFrame(
                {
                    "tag": ["FIC-201.PV"] * 2,
                    "time": t[3:5],
                    "value": [4.0, 5.0],
                    "quality": ["Uncertain", 0],
                }
            )
        )  # object dtype, mixed
        h.write_table(pa.table({"tag": ["FIC-201.PV"], "time": t[5:6], "value": [6.0],
                                "quality": ["0x808C0000"]}))  # fmt: skip
        h.write_table(
            pl.DataFrame(
                {
                    "tag": ["FIC-201.PV"] * 2,
                    "time": t[6:8],
                    "value": [7.0, 8.0],
                    "quality": ["GoodLocalOverride", "BadSecurityChecksFailed"],
                }
            )
        )
        got = h.read("FIC-201.PV").column("quality").to_pylist()
        assert got == [q.BAD, q.BAD_NO_COMMUNICATION, q.GOOD, q.UNCERTAIN, q.GOOD,
                       q.BAD_SENSOR_FAILURE, 0x00960000, 0x80130000]  # fmt: skip
        with pytest.raises(InvalidDataError, match=r"'bad_nocommunication' \(did you mean "
                           r"'BadNoCommunication'\?\).*'Bad_NoCommunication'"):  # fmt: skip
            h.write("FIC-201.PV", t[:1], [1.0], quality="bad_nocommunication")
        with pytest.raises(InvalidDataError, match="'Bda'"):
            h.write_table(pd.DataFrame({"tag": ["FIC-201.PV"], "time": t[:1], "value": [1.0],
                                        "quality": ["Bda"]}))  # fmt: skip
        assert h.read("FIC-201.PV").num_rows == 8  # the refused calls wrote nothing
        # historian.summarize takes them too (arrays that never entered a store)
        s = historian.summarize(
            t[:4],
            [1.0, 2.0, 3.0, 4.0],
            ["Good", "Bad", "Good", 0],
            start=t[0],
            end=t[0] + 4 * S,
            every="2s",
            stats=["pct_good"],
        )
        assert s.column("value").to_pylist() == [50.0, 100.0]
        # the same names as import_history takes
        csv = tmp_path / "q.csv"
        csv.write_text(
            "tag,time,value,quality\nFIC-201.PV,2026-01-02T00:00:00Z,1,BadNodeIdUnknown\n"
        )
        report = historian.import_history(h, csv, progress=False)
        assert report.written == 1
        assert h.read("FIC-201.PV", "2026-01-02").column("quality").to_pylist() == [0x80340000]


# ----------------------------------------------------------------------------- item 16
def test_the_statuscode_table_is_the_opc_foundation_list_as_asyncua_ships_it():
    import subprocess

    from asyncua.ua.status_codes import code_to_name_doc

    from historian.model import quality as q
    from historian.model._status_codes import STATUS_CODES

    assert {c: (n, " ".join(d.split())) for c, (n, d) in code_to_name_doc.items()} == STATUS_CODES
    for code_, (name_, _) in STATUS_CODES.items():  # every code named and found by its name
        assert q.name(code_) == name_ and q.code(name_) == code_
    for name_ in ("BadSecurityChecksFailed", "BadNodeIdUnknown", "GoodLocalOverride"):
        assert q.code(name_) in q.NAMES  # codes historian itself stores
    for const in dir(q):  # the module's own constants agree with the table
        if const.startswith(("GOOD_", "UNCERTAIN_", "BAD_")):
            camel = "".join(w.capitalize() for w in const.split("_"))
            assert q.NAMES[getattr(q, const)].casefold() == camel.casefold(), const
    code = "import sys, historian.model.quality as q; print('asyncua' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr  # no asyncua at run time for the names


# ----------------------------------------------------------------------------- item 8
def test_a_notebook_cell_that_opens_the_store_run_twice_says_this_process(tmp_path):
    import numpy as np

    from historian.errors import StoreLockedError

    path = tmp_path / "plant.hist"
    first = historian.open(path)  # the cell, first run
    first.define("A")
    second = historian.open(path)  # the same cell again: the first object is still alive
    try:
        with pytest.raises(StoreLockedError) as err:
            second.write("A", [T0], [1.0])
        msg = str(err.value)
        assert f"this process (pid {os.getpid()})" in msg and "another process" not in msg
        assert "h.close()" in msg and "reuse" in msg
        first.close()  # the fix the message names
        second.write("A", T0 + np.arange(2) * S, [1.0, 2.0])
        assert second.read("A").num_rows == 2
    finally:
        first.close(), second.close()


def test_a_typo_in_the_store_path_is_named_as_such(tmp_path):
    from historian.errors import StoreError, TagNotFoundError

    with historian.open(tmp_path / "demo.hist") as h:
        h.define("TIC-101.PV")
    with pytest.raises(StoreError, match=r"no store at .*demo\.hsit.*does not exist.*check the"):
        historian.open(tmp_path / "demo.hsit", mode="r")
    assert not (tmp_path / "demo.hsit").exists()  # reading creates nothing
    with (
        historian.open(tmp_path / "demo.hsit") as h,  # the default mode creates an empty store
        pytest.raises(
            TagNotFoundError,
            match=r"define it first.*has no tags at all: this "
            r"historian\.open\(\) just created it, empty - is the path right\?",
        ),
    ):
        h.read("TIC-101.PV")
    with (
        historian.open(tmp_path / "demo.hsit") as h,  # an existing store without tags
        pytest.raises(
            TagNotFoundError, match=re.escape("has no tags at all (nothing was ever defined")
        ),
    ):
        h.read("TIC-101.PV")
    with historian.open(tmp_path / "demo.hist") as h:  # a store with tags: the usual message
        with pytest.raises(TagNotFoundError, match=re.escape("Did you mean 'TIC-101.PV'?")) as err:
            h.read("tic-101.pv")
        assert "no tags" not in str(err.value)


# ----------------------------------------------------------------------------- item 9
def _long_calls(h, tmp_path, csv_name: str) -> None:
    """The quickstart's long calls, each with its default progress."""
    import numpy as np

    t = T0 + np.arange(2000) * S
    for name in ("A", "B", "C"):
        h.define(name)
        h.write(name, t, np.sin(np.arange(2000) / (10.0 + len(name))))
    h.flush()
    h.correlate(["A", "B", "C"], t[0], t[-1], "1s", max_lag="20s", threads=1)
    csv = tmp_path / csv_name
    csv.write_text("tag,time,value\nA,2026-01-02T00:00:00Z,1\n")
    historian.import_history(h, csv)
    h.compact(full=True)
    h.qualify("A")


@pytest.fixture
def in_a_notebook_without_ipywidgets(monkeypatch):
    """Jupyter as the quickstart sets it up (jupyterlab, no ipywidgets): historian.progress's
    notebook detection says yes; ipywidgets is not installed in this venv."""
    import importlib.util

    import historian.progress

    assert importlib.util.find_spec("ipywidgets") is None
    monkeypatch.setattr(historian.progress, "_in_notebook", lambda: True)
    before = historian.options()["progress"]
    yield
    historian.options(progress=before)


def test_progress_off_is_one_switch_and_draws_nothing(
    tmp_path, capsys, in_a_notebook_without_ipywidgets
):
    historian.options(progress=False)
    with historian.open(tmp_path / "plant.hist") as h:
        _long_calls(h, tmp_path, "a.csv")  # filterwarnings=error: a TqdmWarning would fail
    assert capsys.readouterr().err == ""
    # on again: the text bar (never the widget one that needs ipywidgets), and still no warning
    historian.options(progress=True)
    with historian.open(tmp_path / "plant2.hist") as h:
        _long_calls(h, tmp_path, "b.csv")
    err = capsys.readouterr().err
    assert "importing b.csv" in err and "compacting" in err and "qualifying" in err, err
    with pytest.raises(historian.errors.InvalidArgumentError, match="unknown option 'progess'"):
        historian.options(progess=False)


def _run_with_stderr_on_a_terminal(cmd: str, cwd: Path, env: dict[str, str]) -> str:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    try:
        r = subprocess.run(["bash", "-c", cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=slave,
                           env=env, timeout=120)  # fmt: skip
    finally:
        os.close(slave)
    out = b""
    try:
        while chunk := os.read(master, 65536):
            out += chunk
    except OSError:  # EIO: the terminal has no writer left
        pass
    finally:
        os.close(master)
    assert r.returncode == 0, out
    return out.decode(errors="replace")


def test_commands_write_no_bars_into_logs_and_bars_on_a_terminal(tmp_path):
    csv = tmp_path / "readings.csv"
    csv.write_text("tag,time,value\n" + "".join(
        f"FIC-201.PV,2026-01-05T08:00:{i:02d}Z,{i}\n" for i in range(50)))  # fmt: skip
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONWARNINGS": "ignore"}  # fmt: skip
    env.pop("HISTORIAN_PROGRESS", None)
    # stderr into a log file: no bar, no \r
    r = shell("historian import plant.hist readings.csv --define 2> import.log && "
              "historian compact plant.hist --full 2> compact.log", tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "50 row(s) written" in r.stdout
    for log in ("import.log", "compact.log"):
        assert "\r" not in (tmp_path / log).read_text(), log
    # stderr on a terminal: the bar is there; HISTORIAN_PROGRESS=0 or --no-progress remove it
    tty = _run_with_stderr_on_a_terminal("historian import plant.hist readings.csv", tmp_path, env)
    assert "importing readings.csv" in tty and "\r" in tty
    for cmd, extra in (
        ("historian import plant.hist readings.csv", {"HISTORIAN_PROGRESS": "0"}),
        ("historian import plant.hist readings.csv --no-progress", {}),
    ):
        tty = _run_with_stderr_on_a_terminal(cmd, tmp_path, {**env, **extra})
        assert "importing" not in tty and "\r" not in tty, (cmd, tty)


def test_demo_writes_no_bar_into_a_log(tmp_path):
    r = shell("historian demo --seconds 2 --store demo.hist > demo.out 2> demo.log", tmp_path,
              timeout=180)  # fmt: skip
    assert r.returncode == 0, (tmp_path / "demo.log").read_text()
    report = (tmp_path / "demo.out").read_text()
    assert "== Collected" in report
    # item 13: the summary's legend says why a twa may lie outside [min, max]
    legend = report.split("== Summary")[1].split("==")[0]
    assert "twa is the area under the line" in legend and "outside [min, max]" in legend
    assert "\r" not in (tmp_path / "demo.log").read_text()
    assert "\r" not in report


# ----------------------------------------------------------------------------- item 7
ROOT = Path(__file__).resolve().parents[1]


def _engine_snippet() -> str:
    text = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    section = text[text.index("## Reading a store with other engines") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("\n```\n", start)]


def _mixed_units_store(path: Path) -> None:
    import numpy as np

    with historian.open(path) as h:
        h.define("A"), h.define("B")
        h.write("A", T0 + np.arange(6) * S, np.arange(6.0) * 1.25)  # a ms file
        h.flush()
        h.write(
            "A", np.array([T0 + S, T0 + 2 * S + 123, T0 + 3 * S + 456_789]), [10.0, 20.0, np.nan]
        )  # ns: a correction, two new points (one NaN, Bad)
        h.write("B", [T0 + 7], [0.1])
        h.flush()
        h.write("A", np.array([T0 + 2 * S, T0 + 5 * S]), [2.5, 55.5])  # ms again, listed first
        h.write("B", [T0 + 2 * S], [1e300])  # a value that is not a scaled int
        h.flush()


def test_every_other_engine_snippet_gives_h_read_rows_exactly(tmp_path):
    import duckdb
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    path = tmp_path / "plant.hist"
    _mixed_units_store(path)
    files = DeltaTable(f"{path}/points").file_uris()
    units = [pq.read_schema(f).field("time").type.unit for f in files]
    assert units[0] == "ms" and "ns" in units  # the case that truncated before
    with historian.open(path, mode="r") as h:
        want = h.read()
    want_rows = list(
        zip(
            want["tag"].to_pylist(),
            want["time"].cast(pa.int64()).to_pylist(),
            want["value"].to_pylist(),
            want["quality"].to_pylist(),
            strict=True,
        )
    )
    assert len(want_rows) == 10
    code = _engine_snippet()
    assert 'path = "plant.hist"' in code
    ns: dict = {}
    exec(compile(code.replace('path = "plant.hist"', f"path = {str(path)!r}"), "format.md",
                 "exec"), ns)  # fmt: skip
    for name in ("by_duckdb", "by_polars", "by_pyarrow"):
        got = ns[name]
        got = got if isinstance(got, pa.Table) else got.to_arrow()
        rows = list(
            zip(
                got["tag"].to_pylist(),
                got["time"].cast(pa.int64()).to_pylist(),
                got["value"].to_pylist(),
                got["quality"].to_pylist(),
                strict=True,
            )
        )
        assert rows == want_rows, name
    # the snippet as it was (no union_by_name) gives other rows on this store: the test can fail
    old = duckdb.sql(
        """SELECT tag, epoch_ns(time) FROM read_parquet($files)
           QUALIFY row_number() OVER (PARTITION BY tag, time ORDER BY ingested DESC) = 1
           ORDER BY 1, 2""", params={"files": files}).fetchall()  # fmt: skip
    assert old != [(r[0], r[1]) for r in want_rows]


# ----------------------------------------------------------------------------- item 14 (cli)
@pytest.fixture
def demo_store(tmp_path):
    import numpy as np

    with historian.open(tmp_path / "demo.hist") as h:
        h.define("TIC-101.PV", unit="degC")
        now = historian.model.now_ns() // S * S
        t = now - np.arange(20, 0, -1) * 3600 * S  # the last 20 hours
        h.write("TIC-101.PV", t + 123_456_789, np.arange(20.0))
    return tmp_path


def test_query_help_example_runs_as_printed(demo_store):
    r = shell("historian query --help", demo_store)
    example = r.stdout.split("example:\n")[1].splitlines()[0].strip()
    assert "'SELECT count(*) FROM points WHERE tag = $tag'" in example
    r = shell(example, demo_store)  # pasted into bash as printed
    assert r.returncode == 0, r.stderr
    assert "20" in r.stdout.split("\n")[2]  # the count, not a binder error about 'tag = '


def test_query_csv_json_and_export_print_times_the_same_way(demo_store):
    import csv
    import io
    import json as jsonlib

    sql = "'SELECT tag, time, value FROM points ORDER BY time LIMIT 3'"
    as_csv = shell(f"historian query demo.hist {sql} --format csv", demo_store)
    as_json = shell(f"historian query demo.hist {sql} --format json", demo_store)
    exported = shell("historian export demo.hist out.csv --tags TIC-101.PV", demo_store)
    assert as_csv.returncode == as_json.returncode == exported.returncode == 0
    csv_times = [row["time"] for row in csv.DictReader(io.StringIO(as_csv.stdout))]
    json_times = [row["time"] for row in jsonlib.loads(as_json.stdout)]
    with open(demo_store / "out.csv") as f:
        export_times = [row["time"] for row in csv.DictReader(f)][:3]
    assert csv_times == json_times == export_times
    assert csv_times[0].endswith(".123456789Z") and "T" in csv_times[0]


def test_retain_older_than_one_week_as_typed(demo_store):
    r = shell("historian retain demo.hist --older-than 1 week", demo_store)
    assert r.returncode == 0, r.stderr
    assert "dropped 0 point(s) older than 1 week; 20 left" in r.stdout
    r = shell("historian retain demo.hist --older-than '10.5 hours'", demo_store)
    assert r.returncode == 0, r.stderr
    assert "older than 10.5 hours; 10 left" in r.stdout


# ----------------------------------------------------------------------------- item 16 (collect)
def test_collect_says_so_and_exits_1_when_a_source_never_connected(tmp_path):
    import socket

    from historian.sim import plant_config_toml

    ports = []
    for _ in range(2):  # free loopback ports nobody listens on
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    (tmp_path / "plant.toml").write_text(plant_config_toml(*ports, store="plant.hist"))
    r = shell("historian collect plant.toml --seconds 2", tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    for name in ("plc1", "reactor"):
        assert f"source {name} never delivered a Good value (never connected?)" in r.stdout
    assert "last good value never" in r.stdout


# ----------------------------------------------------------------------------- item 14 (docs)
def test_the_walkthrough_story_says_what_it_prints(tmp_path):
    import re

    script = ROOT / "docs" / "examples" / "walkthrough.py"
    story = script.read_text(encoding="utf-8").split('"""')[1]
    told = re.search(r"jacket leading the reactor by about (\d+) minutes\s+and the heater by "
                     r"about (\d+)", story)  # fmt: skip
    assert told, story
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    printed = dict(re.findall(r"^(\S+)\s+leads TIC-101.PV by\s+(\d+) min", out.stdout, re.M))
    assert (printed["TI-102.PV"], printed["TIC-101.OUT"]) == told.groups(), out.stdout


def test_the_aggregates_guide_runs_in_an_empty_folder(tmp_path, monkeypatch):
    import re

    monkeypatch.chdir(tmp_path)  # no demo.hist, no plant.hist: as a reader has it
    text = (ROOT / "docs" / "aggregates.md").read_text(encoding="utf-8")
    ns: dict = {}
    for block in re.findall(r"^```python\s*\n(.*?)^```", text, re.S | re.M):
        exec(compile(block, "aggregates.md", "exec"), ns)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- item 15
def test_a_tag_listing_has_an_html_view_and_stays_an_arrow_table(tmp_path):
    from historian.display import tags_html

    with historian.open(tmp_path / "plant.hist") as h:
        h.define("TIC-101.PV", unit="degC", lo=0, hi=200, description="Reactor temperature")
        h.define("XV-101.ST", kind="step")
        tags = h.tags()
    assert isinstance(tags, pa.Table)  # to_pandas(), polars and DuckDB take it as it is
    page = historian.display.tags_html(tags)._repr_html_()
    assert "<th style='text-align:left'>unit</th>" in page and "<td>degC</td>" in page
    assert "<td>Reactor temperature</td>" in page and "<td>200</td>" in page
    assert page.count("<tr>") == 3 and "2 tags" in page
    assert "1 more tag(s)" in tags_html(tags, max_rows=1)._repr_html_()
    assert "no tags" in tags_html(tags.slice(0, 0))._repr_html_()


# ----------------------------------------------------------------------------- item 17 (API)
def _operations(path: Path) -> list[str]:
    from deltalake import DeltaTable

    return [c.get("historian.operation") for c in DeltaTable(f"{path}/points").history()]


def test_take_back_an_import_and_only_it(tmp_path):
    import numpy as np

    path = tmp_path / "plant.hist"
    csv = tmp_path / "wrong.csv"
    csv.write_text("tag,time,value\n" + "".join(
        f"FIC-201.PV,2026-01-01T00:00:{i:02d}Z,{1000 + i}\n" for i in range(0, 20, 2)))  # fmt: skip
    with historian.open(path) as h:
        h.define("FIC-201.PV", unit="m3/h")
        h.write("FIC-201.PV", T0 + np.arange(1, 20, 2) * S, np.arange(10.0))  # the collector's
        report = historian.import_history(h, csv, progress=False)  # the wrong file
        assert report.written == 10 and len(report.ingested) == 1
        h.write("FIC-201.PV", [T0 + 30 * S], [99.0])  # written after the import
        assert h.read("FIC-201.PV").num_rows == 21
        assert h.delete(report.tags, ingested=report.ingested) == 10
        assert h.read("FIC-201.PV").num_rows == 11
    with historian.open(path, mode="r") as h:  # reopened: the import is gone, nothing else
        values = h.read("FIC-201.PV").column("value").to_pylist()
        assert values == [*np.arange(10.0).tolist(), 99.0]
    assert _operations(path)[0] == "delete"


def test_delete_and_rename_tags_keep_the_story_in_the_store(tmp_path):
    import numpy as np

    path = tmp_path / "plant.hist"
    with historian.open(path) as h:
        h.define("TI-1", unit="degC", hi=150, description="typo'd name")
        h.define("JUNK", unit="")
        h.write("TI-1", T0 + np.arange(5) * S, np.arange(5.0))
        h.flush()
        before_correction = historian.model.now_ns()
        h.write("TI-1", [T0 + 2 * S], [22.0])  # a correction: two versions of one point
        h.write("JUNK", [T0], [0.0])
        t = h.rename_tag("TI-1", "TI-101.PV")
        assert (t.unit, t.hi, t.metadata["renamed_from"]) == ("degC", 150.0, "TI-1")
        assert h.delete_tag("JUNK") == 1
        assert h.tags().column("name").to_pylist() == ["TI-101.PV"]
        with pytest.raises(historian.errors.InvalidArgumentError, match="already defined"):
            h.rename_tag("TI-101.PV", "TI-101.PV")
    with historian.open(path, mode="r") as h:
        assert h.read("TI-101.PV").column("value").to_pylist() == [0.0, 1.0, 22.0, 3.0, 4.0]
        old = h.read("TI-101.PV", as_of=before_correction).column("value").to_pylist()
        assert old == [0.0, 1.0, 2.0, 3.0, 4.0]  # versions and ingest stamps moved with it
        with pytest.raises(historian.errors.TagNotFoundError):
            h.read("TI-1")
        assert [v.unit for v in h.tag_versions("TI-1")] == ["degC"]  # the history keeps it
        assert [v.name for v in h.tag_versions("JUNK")] == ["JUNK"]
    doc = __import__("json").loads((path / "tags.json").read_text())
    assert doc["history"]["TI-1"][-1]["renamed_to"] == "TI-101.PV"
    assert "deleted_at" in doc["history"]["JUNK"][-1]
    assert _operations(path)[:2] == ["delete", "rename"]


def test_a_delete_whose_commit_fails_loses_nothing(tmp_path, monkeypatch):
    import numpy as np

    from historian.storage.table import CommitLog

    path = tmp_path / "plant.hist"
    with historian.open(path) as h:
        h.define("A")
        h.write("A", T0 + np.arange(10) * S, np.arange(10.0))
        real = CommitLog.commit

        def failing(self, added, removed=None, **kw):
            if kw.get("operation") == "delete":
                raise OSError(28, "No space left on device")
            return real(self, added, removed, **kw)

        monkeypatch.setattr(CommitLog, "commit", failing)
        with pytest.raises(historian.errors.StoreError, match="nothing was deleted"):
            h.delete("A", T0, T0 + 5 * S)
        monkeypatch.setattr(CommitLog, "commit", real)
        assert h.read("A").num_rows == 10
    with historian.open(path) as h:  # reopened: every acknowledged point is there
        assert h.read("A").column("value").to_pylist() == np.arange(10.0).tolist()
        assert h.delete("A", T0, T0 + 5 * S) == 5  # and the deletion works when run again


# ----------------------------------------------------------------------------- item 17 (helpers)
def test_column_helpers_and_local_plant_time(tmp_path):
    import numpy as np

    from historian.errors import InvalidTimeError
    from historian.kernels import reason_labels

    with historian.open(tmp_path / "plant.hist") as h:
        h.define("TIC-101.PV", lo=0, hi=100, rules={"range": {}})
        start = historian.local_time("2026-01-05 08:00", "Europe/Berlin")  # 07:00 UTC
        h.write("TIC-101.PV", start + np.arange(3) * S, [50.0, 150.0, np.nan])
        raw = h.read("TIC-101.PV", reasons=True)
        assert historian.quality.names(raw["quality"]) == ["Good", "BadOutOfRange", "Bad"]
        assert reason_labels(raw["reasons"]) == ["", "range", "nonfinite"]
        assert str(raw["time"][0].as_py()) == "2026-01-05 07:00:00+00:00"
        assert h.read("TIC-101.PV", "2026-01-05 08:00").num_rows == 0  # naive = UTC, as documented
    with pytest.raises(InvalidTimeError, match="ambiguous"):
        historian.local_time("2026-10-25 02:30", "Europe/Berlin")
    with pytest.raises(InvalidTimeError, match="does not exist"):
        historian.local_time("2026-03-29 02:30", "Europe/Berlin")


def test_an_import_of_epoch_seconds_rejects_the_rows_saying_why(tmp_path):
    (tmp_path / "s.csv").write_text("tag,time,value\nA,1796304525,1\nA,1796304526000000000,2\n")
    r = shell("historian import plant.hist s.csv --define", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr  # one row written, one rejected
    assert "1 row(s) written, 1 rejected" in r.stdout
    assert "line 2: unparseable time '1796304525' (time 1796304525 looks like epoch seconds" in (
        r.stdout
    )
