"""Write, read, flush, reopen: the store's everyday contract on a real folder."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian import testing
from historian.errors import (
    InvalidDataError,
    InvalidTagNameError,
    InvalidTimeError,
    TagNotFoundError,
)
from historian.model import quality as q

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000


def test_write_read_roundtrip_before_and_after_flush(h):
    h.define("TIC-101.PV", unit="degC")
    t = T0 + np.arange(100) * S
    v = np.round(np.linspace(20, 30, 100), 2)
    assert h.write("TIC-101.PV", t, v) == 100
    before = h.read("TIC-101.PV")
    h.flush()
    after = h.read("TIC-101.PV")
    assert before.equals(after)
    assert after.schema.names == ["tag", "time", "value", "quality"]
    assert after.column("time").type == pa.timestamp("ns", tz="UTC")
    np.testing.assert_array_equal(after.column("value").to_numpy(), v)
    np.testing.assert_array_equal(after.column("time").cast(pa.int64()).to_numpy(), t)


def test_reopen_sees_flushed_and_unflushed_points(store_path):
    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", [T0], [1.0])
        h.flush()
        h.write("A", [T0 + S], [2.0])
    with historian.open(store_path) as h:
        assert h.read("A").column("value").to_pylist() == [1.0, 2.0]


def test_time_window_is_half_open(h):
    h.define("A")
    h.write("A", T0 + np.arange(10) * S, np.arange(10.0))
    h.flush()
    got = h.read("A", T0 + 2 * S, T0 + 5 * S)
    assert got.column("value").to_pylist() == [2.0, 3.0, 4.0]
    assert h.read("A", "2026-01-01T00:00:02Z", "2026-01-01T00:00:05Z").equals(got)


def test_last_write_wins_everywhere(h):
    h.define("A")
    h.write("A", [T0, T0, T0 + S], [1.0, 2.0, 3.0])  # within one call: the last row wins
    assert h.read("A").column("value").to_pylist() == [2.0, 3.0]
    h.flush()
    h.write("A", [T0 + S], [30.0])  # memory over file
    assert h.read("A").column("value").to_pylist() == [2.0, 30.0]
    h.flush()
    h.write("A", [T0], [20.0])  # a newer file over an older one
    h.flush()
    assert h.read("A").column("value").to_pylist() == [20.0, 30.0]
    h.compact()
    assert h.read("A").column("value").to_pylist() == [20.0, 30.0]


def test_out_of_order_and_days_late_data_read_back_sorted(h):
    h.define("A")
    h.write("A", [T0 + 5 * S, T0 + 1 * S, T0 + 3 * S], [5.0, 1.0, 3.0])
    h.flush()
    late = T0 - 3 * 86_400 * S
    h.write("A", [late], [-3.0])
    h.flush()
    h.write("A", [T0 + 2 * S], [2.0])
    got = h.read("A")
    assert got.column("value").to_pylist() == [-3.0, 1.0, 2.0, 3.0, 5.0]
    times = got.column("time").cast(pa.int64()).to_numpy()
    assert np.all(np.diff(times) > 0)


def test_as_of_returns_what_the_store_held(h):
    h.define("A")
    h.write("A", [T0], [1.0])
    h.flush()
    between = dt.datetime.now(dt.UTC)
    import time

    time.sleep(0.002)
    h.write("A", [T0], [2.0])
    h.write("A", [T0 + S], [3.0])
    assert h.read("A").column("value").to_pylist() == [2.0, 3.0]
    assert h.read("A", as_of=between).column("value").to_pylist() == [1.0]
    h.flush()
    h.compact()  # superseded values inside the history window survive compaction
    assert h.read("A", as_of=between).column("value").to_pylist() == [1.0]
    assert h.read("A").column("value").to_pylist() == [2.0, 3.0]


def test_multiple_tags_sorted_by_tag_then_time(h):
    for name in ("B", "A", "C"):
        h.define(name)
    h.write_table(
        pa.table(
            {
                "tag": ["B", "A", "B", "A"],
                "time": pa.array([T0 + S, T0 + S, T0, T0], pa.int64()),
                "value": [4.0, 2.0, 3.0, 1.0],
            }
        )
    )
    got = h.read()
    assert got.column("tag").to_pylist() == ["A", "A", "B", "B"]
    assert got.column("value").to_pylist() == [1.0, 2.0, 3.0, 4.0]
    assert h.read(["B"]).num_rows == 2
    assert h.read("C").num_rows == 0


def test_write_table_from_pandas_and_polars(h):
    import pandas as pd
    import polars as pl

    h.define("A")
    h.define("B")
    df = pd.DataFrame(
        {
            "tag": ["A", "B"],
            "time": pd.to_datetime(["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"]),
            "value": [1.0, 2.0],
            "quality": [0, q.BAD_SENSOR_FAILURE],
        }
    )
    assert h.write_table(df) == 2
    assert h.write_table(pl.from_pandas(df).with_columns(pl.col("value") * 10)) == 2
    got = h.read()
    assert got.column("value").to_pylist() == [10.0, 20.0]
    assert got.column("quality").to_pylist() == [0, q.BAD_SENSOR_FAILURE]
    assert isinstance(got.to_pandas(), pd.DataFrame)
    assert pl.from_arrow(got).shape == (2, 4)


def test_time_inputs_of_every_kind(h):
    import pandas as pd

    h.define("A")
    h.write("A", [dt.datetime(2026, 1, 1)], [1.0])  # naive = UTC
    h.write("A", np.array(["2026-01-01T00:00:01"], dtype="datetime64[ns]"), [2.0])
    h.write("A", pd.DatetimeIndex(["2026-01-01T01:00:02+01:00"]), [3.0])
    h.write("A", [T0 + 3 * S], [4.0])
    h.write("A", ["2026-01-01T00:00:04.5Z"], [5.0])
    times = h.read("A").column("time").cast(pa.int64()).to_pylist()
    assert times == [T0, T0 + S, T0 + 2 * S, T0 + 3 * S, T0 + 4 * S + S // 2]


@pytest.mark.parametrize(
    "unit_ns",
    [1_000_000_000, 1_000_000, 1_000, 1],
    ids=["s", "ms", "us", "ns"],
)
def test_every_time_resolution_round_trips_exactly(h, unit_ns):
    h.define("A")
    rng = np.random.default_rng(1)
    t = T0 + np.sort(rng.choice(10**6, 1000, replace=False)).astype(np.int64) * unit_ns
    h.write("A", t, np.arange(1000.0))
    h.flush()
    np.testing.assert_array_equal(h.read("A").column("time").cast(pa.int64()).to_numpy(), t)


def test_nan_and_inf_are_kept_with_bad_quality(h):
    h.define("A")
    h.write("A", T0 + np.arange(4) * S, [1.0, np.nan, np.inf, -np.inf])
    h.flush()
    got = h.read("A")
    assert got.column("value").to_pylist() == [1.0, None, np.inf, -np.inf]
    assert got.column("quality").to_pylist() == [0, q.BAD, q.BAD_OUT_OF_RANGE, q.BAD_OUT_OF_RANGE]


def test_source_quality_is_kept(h):
    h.define("A")
    h.write(
        "A",
        T0 + np.arange(3) * S,
        [1.0, np.nan, 3.0],
        quality=[0, q.BAD_NO_COMMUNICATION, q.UNCERTAIN],
    )
    got = h.read("A")
    assert got.column("quality").to_pylist() == [0, q.BAD_NO_COMMUNICATION, q.UNCERTAIN]


# ---------------------------------------------------------------- bad input loses nothing
@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "a/../b",
        "/abs",
        "x'; DROP TABLE points; --",
        'q"uote',
        "nul\x00x",
        "",
        "x" * 201,
        " lead",
        "a b",
        "a\\b",
        ".hidden",
        "a//b",
        "tail/",
    ],
)
def test_hostile_tag_names_are_refused(h, name):
    with pytest.raises(InvalidTagNameError):
        h.define(name)
    with pytest.raises(InvalidTagNameError):
        h.write(name, [T0], [1.0])
    with pytest.raises(InvalidTagNameError):
        h.read(name)


def test_names_differing_only_by_case_are_refused(h):
    h.define("TIC-101.PV")
    with pytest.raises(InvalidTagNameError, match="only by case"):
        h.define("tic-101.pv")


def test_bad_input_gets_clear_errors_and_writes_nothing(h):
    h.define("A")
    h.write("A", [T0], [1.0])
    with pytest.raises(TagNotFoundError, match="define it first"):
        h.write("UNKNOWN", [T0], [1.0])
    with pytest.raises(InvalidDataError, match="same length"):
        h.write("A", [T0, T0 + S], [1.0])
    with pytest.raises(InvalidDataError, match="numbers"):
        h.write("A", [T0 + S], ["hot"])
    with pytest.raises(InvalidTimeError, match="cannot parse"):
        h.write("A", ["yesterday-ish"], [1.0])
    with pytest.raises(InvalidTimeError, match="float"):
        h.write("A", [1.5e18], [1.0])
    with pytest.raises(InvalidDataError, match="uint32"):
        h.write("A", [T0 + S], [1.0], quality=[-1])
    with pytest.raises(InvalidDataError):
        h.write("A", [T0 + S], [1.0], quality=[1.5])
    with pytest.raises(TagNotFoundError, match="nothing was written"):
        h.write_table(pa.table({"tag": ["A", "NOPE"], "time": [T0 + S, T0], "value": [1.0, 2.0]}))
    with pytest.raises(InvalidDataError, match="lacks column"):
        h.write_table(pa.table({"tag": ["A"], "value": [1.0]}))
    with pytest.raises(TagNotFoundError):
        h.read("UNKNOWN")
    assert h.read("A").column("value").to_pylist() == [1.0]


# read-only and closed stores: StoreTests.test_a_read_only_store_refuses_writes_and_a_closed_one_every_call
# (tests/storage/test_conformance.py, on a local folder and on S3)


def test_tags_listing_and_search(h):
    h.define("TIC-101.PV", unit="degC", lo=0, hi=200, description="reactor temperature")
    h.define("TIC-101.SP", unit="degC", kind="step")
    h.define("FIC-201.PV", unit="m3/h")
    assert h.tags().column("name").to_pylist() == ["FIC-201.PV", "TIC-101.PV", "TIC-101.SP"]
    assert h.tags("TIC-*").num_rows == 2
    assert h.tags(r"re:\.SP$").column("name").to_pylist() == ["TIC-101.SP"]
    assert h.tag("TIC-101.SP").kind == "step"
    assert h.define("TIC-101.PV", unit="K").version == 2


def test_repr_and_info(h):
    h.define("A")
    h.write("A", T0 + np.arange(10) * S, np.arange(10.0))
    h.flush()
    info = h.info()
    assert info["tags"] == 1 and info["points_in_files"] == 10 and info["files"] == 1
    assert "1 tag" in repr(h) and "10 points" in repr(h)


@pytest.mark.parametrize("layout", ["runs out of name order", "interleaved", "repeats"])
def test_write_table_layouts_give_the_same_store(h, layout):
    for name in ("B", "A", "C"):
        h.define(name)
    t = T0 + np.arange(5) * S
    runs = {"B": np.arange(5.0), "A": np.arange(5.0) + 10, "C": np.arange(5.0) + 20}
    if layout == "runs out of name order":
        tags = ["B"] * 5 + ["A"] * 5 + ["C"] * 5
        times = np.concatenate([t, t, t])
        values = np.concatenate([runs["B"], runs["A"], runs["C"]])
    elif layout == "interleaved":
        tags = ["B", "A", "C"] * 5
        times = np.repeat(t, 3)
        values = np.ravel(np.column_stack([runs["B"], runs["A"], runs["C"]]))
    else:  # every row twice, the second copy is the one that counts
        tags = ["B"] * 10 + ["A"] * 5 + ["C"] * 5
        times = np.concatenate([t, t, t, t])
        values = np.concatenate([runs["B"] - 100, runs["B"], runs["A"], runs["C"]])
    h.write_table(pa.table({"tag": tags, "time": pa.array(times), "value": values}))
    got = h.read()
    assert got.column("tag").to_pylist() == ["A"] * 5 + ["B"] * 5 + ["C"] * 5
    assert got.column("value").to_pylist() == [*runs["A"], *runs["B"], *runs["C"]]


# ---------------------------------------------------------------- the int64 time limits
def test_the_int64_time_limits_round_trip_through_read_compaction_and_retention(h):
    lo, hi = -(2**63) + 1, 2**63 - 1
    h.define("A")
    h.write("A", [hi, lo, 0], [1.0, 2.0, 3.0])
    for step in ("memory", "files", "compacted"):
        got = h.read("A")
        assert got.column("time").cast(pa.int64()).to_pylist() == [lo, 0, hi], step
        assert h.read("A", start=hi).num_rows == 1 and h.read("A", end=lo + 1).num_rows == 1
        if step == "memory":
            h.flush()
        elif step == "files":
            h.write("A", [hi, lo], [1.0, 2.0])  # the same points again: two files (cut by
            h.flush()  # size, each spanning 1677 to 2262), in the folder of their first day
            assert h.compact(full=True) == 2
    assert h.retain("1950-01-01") == 2  # the point of 1677: both versions (kept for as-of)
    assert h.read("A").column("time").cast(pa.int64()).to_pylist() == [0, hi]
    with pytest.raises(InvalidTimeError, match="NaT"):
        h.write("A", [-(2**63)], [1.0])


# ---------------------------------------------------------------- checksums
def _flip_index_digit(path) -> None:
    """Change one digit of the tag's first time inside the file's footer index (same length)."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    at = data.index(b'"tmin":[') + len(b'"tmin":[')
    digit = at + 3
    data[digit] = ord("9") if data[digit] != ord("9") else ord("8")
    with open(path, "wb") as f:
        f.write(data)


def test_a_changed_digit_in_a_file_index_is_an_error_naming_the_file(store_path):
    import os

    from historian.errors import CorruptDataError

    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", T0 + np.arange(1440) * 60 * S, np.arange(1440.0))
        h.flush()
        rel = testing.commit_log(h).snapshot().paths[0]
    path = os.path.join(store_path, "points", rel)
    _flip_index_digit(path)
    with historian.open(store_path, mode="r") as h:
        with pytest.raises(CorruptDataError, match=rf"{os.path.basename(rel)}.*SHA-256"):
            h.read("A")
        # other engines read the columns, which are intact: the metadata stays plain Parquet
        import pyarrow.parquet as pq

        assert pq.read_table(path).num_rows == 1440


@pytest.mark.parametrize("damage", ["flipped-byte", "changed-digit", "truncated"])
def test_a_damaged_tag_catalog_is_an_error_naming_the_file_and_the_fix(store_path, damage):
    import os

    from historian.errors import CorruptDataError

    with historian.open(store_path) as h:
        h.define("TIC-101.PV", unit="degC", lo=0, hi=150)
    path = os.path.join(store_path, "tags.json")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if damage == "flipped-byte":
        data[len(data) // 2] ^= 0xC0
    elif damage == "changed-digit":
        at = data.index(b"150")
        data[at : at + 3] = b"160"
    else:
        data = data[: len(data) // 2]
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(CorruptDataError, match=r"tags\.json is damaged.*historian repair"):
        historian.open(store_path)


# ---------------------------------------------------------------- messages and health
def test_a_deleted_data_file_is_reported_missing_not_vacuumed(store_path):
    import os

    from historian.errors import CorruptDataError

    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", [T0], [1.0])
        h.flush()
        rel = testing.commit_log(h).snapshot().paths[0]
    os.unlink(os.path.join(store_path, "points", rel))
    with historian.open(store_path, mode="r") as h, pytest.raises(CorruptDataError) as err:
        h.read("A")
    text = str(err.value)
    assert os.path.basename(rel) in text and "not vacuumed by historian" in text
    assert "historian repair" in text and "retry" not in text


def test_info_reports_health_and_the_cli_exits_1_on_a_damaged_store(store_path, capsys):
    import os
    import shutil

    from historian.cli import main

    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", [T0], [1.0])
        h.flush()
        assert h.info()["health"] == "ok" and h.info()["problems"] == []
    assert main(["info", str(store_path)]) == 0
    assert "health      ok" in capsys.readouterr().out
    shutil.rmtree(os.path.join(store_path, "points", "_delta_log"))
    with historian.open(store_path, mode="r") as h:
        info = h.info()
    assert info["health"] == "damaged" and "_delta_log is missing" in info["problems"][0]
    assert main(["info", str(store_path)]) == 1
    out = capsys.readouterr()
    assert "health      damaged" in out.out
    assert "historian repair" in out.err and "Traceback" not in out.err
    with open(os.path.join(store_path, "tags.json"), "r+b") as f:
        f.write(b"\xff")
    assert main(["info", str(store_path)]) == 1
    err = capsys.readouterr().err
    assert "tags.json is damaged" in err and "Traceback" not in err


# ---------------------------------------------------------------- permissions
def test_store_files_and_folders_are_owner_and_group_only_whatever_the_umask(tmp_path):
    import os
    import stat

    path = tmp_path / "open.hist"
    old = os.umask(0)
    try:
        with historian.open(path) as h:
            h.define("A")
            h.write("A", [T0], [1.0])
            h.flush()
            h.write("A", [T0 + S], [2.0])
            modes = {}
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    full = os.path.join(root, name)
                    if "_delta_log" not in full:  # written by delta-rs (inside 0o750 folders)
                        modes[os.path.relpath(full, path)] = stat.S_IMODE(os.lstat(full).st_mode)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o750
    assert any(k.endswith(".parquet") for k in modes) and any(k.endswith(".arrows") for k in modes)
    world = {k: oct(m) for k, m in modes.items() if m & 0o007}
    assert not world, f"world-accessible: {world}"


def test_the_writer_lock_is_never_opened_through_a_symlink(store_path, tmp_path):
    import os

    from historian.errors import StoreError

    with historian.open(store_path) as h:
        h.define("A")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    lock = os.path.join(store_path, "writer.lock")
    os.unlink(lock)
    os.symlink(victim, lock)
    with historian.open(store_path) as h, pytest.raises(StoreError, match="symbolic link"):
        h.write("A", [T0], [1.0])
    assert victim.read_text() == "keep me"
