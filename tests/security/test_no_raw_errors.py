"""Only HistorianError subclasses escape the public API (issue 10, item 6).

Every public ``Historian`` method, ``historian.open`` and ``historian.summarize`` is driven with
hostile and broken input (wrong types, NaN/inf, huge values, reversed windows) and against a
damaged store (a truncated Parquet file, a deleted data file, garbage tags.json, a folder the
writer cannot write). Whatever happens, the exception is a ``HistorianError``; where a dependency
raised first (OSError, ArrowInvalid, DeltaError, duckdb.Error), it is the ``__cause__``.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.errors import HistorianError

T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
S = 10**9
NAN, INF = math.nan, math.inf
BIG = 10**30


def outcome(fn: Callable[[], Any]) -> HistorianError | None:
    """The HistorianError ``fn`` raised, or None if it returned; any other exception fails."""
    try:
        fn()
    except HistorianError as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return exc
    except Exception as exc:  # the defect this file exists to find
        pytest.fail(f"raw {type(exc).__module__}.{type(exc).__name__} escaped: {exc!r}"[:800])
    return None


def refused(fn: Callable[[], Any]) -> HistorianError:
    exc = outcome(fn)
    assert exc is not None, "expected a HistorianError, the call returned"
    return exc


def mapped(fn: Callable[[], Any]) -> HistorianError:
    """Refused, and the dependency error that started it kept as ``__cause__``."""
    exc = refused(fn)
    cause = exc.__cause__
    assert cause is not None and not isinstance(cause, HistorianError), (
        f"{type(exc).__name__}({exc}) lost the original error (cause: {cause!r})"
    )
    return exc


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "plant.hist"
    with historian.open(path) as h:
        h.define("A", unit="degC")
        h.define("B")
        t = T0 + np.arange(600) * S
        h.write("A", t, np.sin(np.arange(600) / 30.0) * 50 + 50)
        h.write("B", t, np.cos(np.arange(600) / 30.0))
        h.flush()
        yield h


# ------------------------------------------------------------------ hostile arguments per method
WINDOW = (T0, T0 + 600 * S)
HOSTILE_TIMES = [
    NAN,
    INF,
    -INF,
    BIG,
    -BIG,
    "not a time",
    "2026-13-45",
    {},
    [1, 2],
    object(),
    b"\x00",
    "now-1e300d",
    1e300,
]
HOSTILE_DURATIONS = [
    0,
    -1,
    NAN,
    INF,
    -INF,
    BIG,
    1e300,
    "abc",
    "-5s",
    "1e300d",
    {},
    object(),
    [1],
    "0s",
]
HOSTILE_TAGS = [
    123,
    object(),
    [None],
    ["../etc/passwd"],
    ["A\x00B"],
    ["x" * 10_000],
    [b"A"],
    "NO-SUCH.TAG",
    [["A"]],
    {"A": 1},
]

CALLS: dict[str, Callable[[Any, Any], Any]] = {
    # name: (h, hostile value) -> call with the value in one argument
    "read.tags": lambda h, v: h.read(v),
    "read.start": lambda h, v: h.read("A", v, WINDOW[1]),
    "read.end": lambda h, v: h.read("A", WINDOW[0], v),
    "read.as_of": lambda h, v: h.read("A", *WINDOW, as_of=v),
    "read_wide.tags": lambda h, v: h.read_wide(v),
    "read_wide.start": lambda h, v: h.read_wide("A", v, WINDOW[1]),
    "summary.tags": lambda h, v: h.summary(v, *WINDOW, "1min"),
    "summary.start": lambda h, v: h.summary("A", v, WINDOW[1], "1min"),
    "summary.end": lambda h, v: h.summary("A", WINDOW[0], v, "1min"),
    "summary.every": lambda h, v: h.summary("A", *WINDOW, v),
    "summary.stats": lambda h, v: h.summary("A", *WINDOW, "1min", stats=v),
    "summary.config": lambda h, v: h.summary("A", *WINDOW, "1min", config=v),
    "interpolated.tags": lambda h, v: h.interpolated(v, *WINDOW, "1min"),
    "interpolated.start": lambda h, v: h.interpolated("A", v, WINDOW[1], "1d"),
    "interpolated.every": lambda h, v: h.interpolated("A", *WINDOW, v),
    "interpolated.max_gap": lambda h, v: h.interpolated("A", *WINDOW, "1min", max_gap=v),
    "interpolated.config": lambda h, v: h.interpolated("A", *WINDOW, "1min", config=v),
    "plot.tag": lambda h, v: h.plot(v, *WINDOW),
    "plot.start": lambda h, v: h.plot("A", v, WINDOW[1]),
    "plot.width": lambda h, v: h.plot("A", *WINDOW, width=v),
    "asof.events": lambda h, v: h.asof(v, "A"),
    "asof.tags": lambda h, v: h.asof([WINDOW[0]], v),
    "asof.tolerance": lambda h, v: h.asof([WINDOW[0]], "A", tolerance=v),
    "asof.direction": lambda h, v: h.asof([WINDOW[0]], "A", direction=v),
    "asof.on": lambda h, v: h.asof(pa.table({"time": [WINDOW[0]]}), "A", on=v),
    "correlate.tags": lambda h, v: h.correlate(v, *WINDOW, "10s", progress=False),
    "correlate.every": lambda h, v: h.correlate(["A", "B"], *WINDOW, v, progress=False),
    "correlate.max_lag": lambda h, v: h.correlate(["A", "B"], *WINDOW, "10s", v, progress=False),
    "correlate.method": lambda h, v: h.correlate(
        ["A", "B"], *WINDOW, "10s", method=v, progress=False
    ),
    "correlate.min_samples": lambda h, v: h.correlate(
        ["A", "B"], *WINDOW, "10s", min_samples=v, progress=False
    ),
    "correlate.threads": lambda h, v: h.correlate(
        ["A", "B"], *WINDOW, "10s", threads=v, progress=False
    ),
    "correlate.target": lambda h, v: h.correlate(
        ["A", "B"], *WINDOW, "10s", target=v, progress=False
    ),
    "events.condition": lambda h, v: h.events(v, *WINDOW),
    "events.start": lambda h, v: h.events("A > 50", v, WINDOW[1]),
    "events.every": lambda h, v: h.events("A > 50", *WINDOW, every=v),
    "events.min_duration": lambda h, v: h.events("A > 50", *WINDOW, min_duration=v),
    "events.stats": lambda h, v: h.events("A > 50", *WINDOW, stats=v),
    "events.stats_tags": lambda h, v: h.events("A > 50", *WINDOW, stats_tags=v),
    "sql.query": lambda h, v: h.sql(v).fetchall(),
    "sql.params": lambda h, v: h.sql("SELECT count(*) FROM points WHERE value > ?", v).fetchall(),
    "write.tag": lambda h, v: h.write(v, [WINDOW[0]], [1.0]),
    "write.times": lambda h, v: h.write("A", v, [1.0]),
    "write.values": lambda h, v: h.write("A", [WINDOW[0]], v),
    "write.quality": lambda h, v: h.write("A", [WINDOW[0]], [1.0], v),
    "write_table": lambda h, v: h.write_table(v),
    "define.name": lambda h, v: h.define(v),
    "define.unit": lambda h, v: h.define("C", unit=v),
    "define.kind": lambda h, v: h.define("C", kind=v),
    "define.lo": lambda h, v: h.define("C", lo=v, hi=1.0),
    "define.rules": lambda h, v: h.define("C", rules=v),
    "define.compression": lambda h, v: h.define("C", compression=v),
    "define.states": lambda h, v: h.define("C", states=v),
    "tag": lambda h, v: h.tag(v),
    "tag_versions": lambda h, v: h.tag_versions(v),
    "tags.pattern": lambda h, v: h.tags(v),
    "qualify.tags": lambda h, v: h.qualify(v),
    "qualify.rules": lambda h, v: h.qualify("A", rules=v),
    "qualify.now": lambda h, v: h.qualify("A", now=v),
    "compact.days": lambda h, v: h.compact(v),
    "retain.older_than": lambda h, v: h.retain(v),
    "limits": lambda h, v: setattr(h, "limits", v),
    "annotate.target": lambda h, v: h.annotate(v, WINDOW[0], "note"),
    "annotate.time": lambda h, v: h.annotate("A", v, "note"),
    "annotate.text": lambda h, v: h.annotate("A", WINDOW[0], v),
    "annotate.author": lambda h, v: h.annotate("A", WINDOW[0], "note", author=v),
    "annotate.end": lambda h, v: h.annotate("A", WINDOW[0], "note", end=v),
    "annotations.targets": lambda h, v: h.annotations(v),
    "annotations.start": lambda h, v: h.annotations("A", v, WINDOW[1]),
    "read.annotations": lambda h, v: h.read("A", v, WINDOW[1], annotations=True),
    "add_frame.name": lambda h, v: h.add_frame(v, *WINDOW),
    "add_frame.start": lambda h, v: h.add_frame("B-1", v, WINDOW[1]),
    "add_frame.end": lambda h, v: h.add_frame("B-1", WINDOW[0], v),
    "add_frame.asset": lambda h, v: h.add_frame("B-1", *WINDOW, asset=v),
    "add_frame.template": lambda h, v: h.add_frame("B-1", *WINDOW, template=v),
    "add_frame.attributes": lambda h, v: h.add_frame("B-1", *WINDOW, attributes=v),
    "frames.start": lambda h, v: h.frames(v, WINDOW[1]),
    "frames.asset": lambda h, v: h.frames(asset=v),
    "frames.name": lambda h, v: h.frames(name=v),
    "frames_from_events.name": lambda h, v: h.frames_from_events("A > 50", *WINDOW, name=v),
    "summary.frames": lambda h, v: h.summary("A", frames=v, stats=["twa", "annotation_count"]),
}

HOSTILE_VALUES = [
    *HOSTILE_TIMES,
    *HOSTILE_DURATIONS,
    *HOSTILE_TAGS,
    None,
    True,
    -1,
    2**64,
    -(2**63) - 1,
    "",
    "x" * 100_000,
    [],
    [NAN],
    [INF],
    [BIG],
    np.array([NAN]),
    np.array(["x"]),
    {"nope": 1},
    {"max_plot_width": -1},
    pa.table({"x": [1]}),
    "DROP TABLE points",
    "SELECT * FROM no_such_table",
    "COPY points TO '/tmp/x.csv'",
    "A > ",
    "(((((",
    "__import__('os').system('true')",
    "A >>> 5",
]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_hostile_arguments_raise_only_historian_errors(filled, name):
    raw = []
    for value in HOSTILE_VALUES:
        try:
            outcome(lambda value=value: CALLS[name](filled, value))
        except pytest.fail.Exception as failure:
            raw.append(f"{name} with {value!r:.60}: {str(failure)[:300]}")
    assert not raw, "\n".join(raw)


@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.summary("A", WINDOW[1], WINDOW[0], "1min"),
        lambda h: h.interpolated("A", WINDOW[1], WINDOW[0], "1min"),
        lambda h: h.plot("A", WINDOW[1], WINDOW[0]),
        lambda h: h.correlate(["A", "B"], WINDOW[1], WINDOW[0], "10s", progress=False),
        lambda h: h.events("A > 50", WINDOW[1], WINDOW[0]),
        lambda h: h.summary("A", *WINDOW, "1min", stats=["no-such-stat"]),
        lambda h: h.plot("A", *WINDOW, width=0),
        lambda h: h.summary("A", NAN, WINDOW[1], "1min"),
        lambda h: h.interpolated("A", *WINDOW, INF),
        lambda h: h.sql("SELECT * FROM no_such_table").fetchall(),
        lambda h: h.write("A", [T0, T0 + S], [1.0]),  # mismatched lengths
    ],
    ids=[
        "summary",
        "interpolated",
        "plot",
        "correlate",
        "events",
        "stat",
        "width",
        "nan-start",
        "inf-every",
        "sql",
        "lengths",
    ],
)
def test_reversed_windows_and_nonsense_are_refused(filled, call):
    refused(lambda: call(filled))


def test_sql_errors_keep_the_duckdb_cause(filled):
    exc = mapped(lambda: filled.sql("SELECT * FROM no_such_table").fetchall())
    assert "duckdb" in type(exc.__cause__).__module__


# ------------------------------------------------------------------ historian.open / summarize
@pytest.mark.parametrize(
    "args",
    [
        {"path": 123},
        {"path": "bad\x00path"},
        {"path": None},
        {"path": "{tmp}/file-not-folder"},
        {"path": "{tmp}/s", "mode": "x"},
        {"path": "{tmp}/s", "no_such_option": 1},
        {"path": "{tmp}/s", "limits": {"no_such_limit": 1}},
        {"path": "{tmp}/s", "limits": "lots"},
        {"path": "{tmp}/s", "flush_points": -1},
        {"path": "{tmp}/s", "history": "forever"},
        {"path": "s3://"},
    ],
    ids=lambda a: ",".join(f"{k}={v!r:.20}" for k, v in a.items()),
)
def test_open_with_broken_arguments(tmp_path, args):
    (tmp_path / "file-not-folder").write_text("x")
    args = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in args.items()}
    path = args.pop("path")

    def run() -> None:
        h = historian.open(path, **args)
        h.close()

    outcome(run)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"times": [0, 1], "values": [1.0]},
        {"times": ["garbage"], "values": [1.0]},
        {"times": [NAN], "values": [1.0]},
        {"times": [0], "values": ["x"]},
        {"times": [0], "values": [1.0], "quality": [-1]},
        {"times": [0], "values": [1.0], "quality": [2**40]},
        {"times": [0], "values": [1.0], "every": 0},
        {"times": [0], "values": [1.0], "every": NAN},
        {"times": [0], "values": [1.0], "start": 10, "end": 0},
        {"times": [0], "values": [1.0], "start": NAN},
        {"times": [0], "values": [1.0], "end": BIG},
        {"times": [0], "values": [1.0], "stats": "nope"},
        {"times": [0], "values": [1.0], "config": {"Nope": 1}},
        {"times": object(), "values": [1.0]},
        {"times": [[0]], "values": [[1.0]]},
    ],
)
def test_summarize_with_broken_arrays(kwargs):
    full = {"start": 0, "end": 4 * S, "every": "1s", "stats": ["twa"], **kwargs}
    outcome(lambda: historian.summarize(full.pop("times"), full.pop("values"), **full))


# ------------------------------------------------------------------ a damaged store
def _data_files(path: os.PathLike) -> list[str]:
    return sorted(glob.glob(os.path.join(path, "points", "day=*", "*.parquet")))


def _all_reads(h: Any) -> list[Callable[[], Any]]:
    return [
        lambda: h.read("A"),
        lambda: h.read(),
        lambda: h.read_wide(),
        lambda: h.summary("A", *WINDOW, "1min"),
        lambda: h.interpolated(["A", "B"], *WINDOW, "1min"),
        lambda: h.plot("A", *WINDOW),
        lambda: h.asof([WINDOW[0] + 5 * S], "A"),
        lambda: h.correlate(["A", "B"], *WINDOW, "10s", progress=False),
        lambda: h.events("A > 50", *WINDOW),
        lambda: h.sql("SELECT count(*) FROM points").fetchall(),
    ]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_damaged_data_file(filled, damage):
    path = filled.path
    filled.close()
    (victim,) = _data_files(path)
    if damage == "truncate":
        size = os.path.getsize(victim)
        with open(victim, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "garbage":
        with open(victim, "r+b") as f:
            f.seek(4)
            f.write(os.urandom(os.path.getsize(victim) - 12))
    else:
        os.remove(victim)
    with historian.open(path, mode="r") as h:
        for read in _all_reads(h):
            # the store's own size check finds a truncated or deleted file (no dependency
            # error to keep); a same-size garbled file fails in pyarrow, kept as the cause
            exc = refused(read)
            assert os.path.basename(victim) in str(exc) or "data file" in str(exc), str(exc)
            assert exc.__cause__ is None or not isinstance(exc.__cause__, HistorianError)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[1, 2, 3]",
        b'{"tags": 5}',
        b"\xff\xfe\x00garbage",
        b'{"A": {"kind": 12}}',
    ],
)
def test_garbage_tags_json(filled, content):
    path = filled.path
    filled.close()
    with open(os.path.join(path, "tags.json"), "wb") as f:
        f.write(content)

    def run() -> None:
        with historian.open(path) as h:
            h.tags()
            h.read("A")
            h.define("Z")

    refused(run)


@contextlib.contextmanager
def unwritable(path: os.PathLike) -> Iterator[None]:
    """The store folder cannot be written, even by root (immutable attribute), else chmod."""
    root = os.geteuid() == 0
    if root:
        subprocess.run(["chattr", "-R", "+i", os.fspath(path)], check=True)
    else:
        modes = {}
        for d, _, files in os.walk(path):
            for p in [d, *(os.path.join(d, f) for f in files)]:
                modes[p] = os.stat(p).st_mode
                os.chmod(p, 0o555 if p == d else 0o444)
    try:
        yield
    finally:
        if root:
            subprocess.run(["chattr", "-R", "-i", os.fspath(path)], check=True)
        else:
            for p, m in modes.items():
                os.chmod(p, m)


def test_read_only_folder_for_a_writer(filled):
    path = filled.path
    filled.close()
    with unwritable(path):
        mapped(lambda: historian.open(path, mode="w").close())

        def write() -> None:
            with historian.open(path) as h:
                h.write("A", [T0 + 10**12], [1.0])
                h.flush()

        mapped(write)
        with historian.open(path, mode="r") as h:  # reading still works
            assert h.read("A").num_rows == 600


def test_the_mapping_helper_maps_and_passes_through():
    from historian.errors import CorruptDataError, QueryError, StoreError, mapped_errors

    with pytest.raises(StoreError) as info, mapped_errors("x"):
        raise FileNotFoundError(2, "gone")
    assert isinstance(info.value.__cause__, FileNotFoundError)
    with pytest.raises(CorruptDataError), mapped_errors("x"):
        raise pa.ArrowInvalid("bad footer")
    import duckdb

    with pytest.raises(QueryError), mapped_errors("x"):
        raise duckdb.ParserException("syntax")
    with pytest.raises(KeyError), mapped_errors("x"):  # our own bugs are not disguised
        raise KeyError("k")


def test_no_rust_backtrace_in_messages(filled):
    path = filled.path
    filled.close()
    log = sorted(glob.glob(os.path.join(path, "points", "_delta_log", "*.json")))[-1]
    with open(log, "w") as f:
        f.write("{garbage")
    code = (
        "import historian, sys\n"
        f"h = historian.open({os.fspath(path)!r}, mode='r')\n"
        "try:\n    h.read('A')\nexcept historian.HistorianError as e:\n"
        "    print(type(e).__name__, '|', e)\nexcept BaseException as e:\n"
        "    print('RAW', type(e).__name__, '|', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "RAW" not in out.stdout, out.stdout + out.stderr
    assert "stack backtrace" not in out.stdout and "\n" not in out.stdout.strip()


def test_object_storage_that_does_not_answer(tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = {
        "endpoint_url": f"http://127.0.0.1:{port}",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "region": "us-east-1",
        "allow_http": "true",
    }

    def run() -> None:
        with historian.open(
            "s3://bucket/store", storage_options=opts, local_dir=str(tmp_path / "local")
        ) as h:
            h.read()

    exc = mapped(run)
    assert "127.0.0.1" in str(exc)
