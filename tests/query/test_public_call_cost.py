"""The public calls cost little more than their kernels, and give the same tables as before.

Checked here (the timings are in ``benchmarks/bench_public_calls.py``):

* ``historian.summarize`` gives one table, identical to a row-by-row oracle built from the
  kernel's results (the contract of ``SUMMARY_SCHEMA``: ``string`` tag and stat columns,
  interval-major rows, durations scaled, null where Bad), for every form of times it accepts:
  int64 ns, ``datetime64[ns]``, ``datetime64[us]``, pandas, pyarrow, lists of ints and strings;
* a contiguous int64 or ``datetime64[ns]`` time array (or a pandas ``DatetimeIndex``), a float64
  value array and uint32 qualities reach the kernel as views of the caller's memory (a spy on
  the kernel entry, and the traced allocations stay well below one copy of the times), while a
  ``datetime64[us]`` array is converted once;
* the label columns are built from buffers and split into chunks, never into another type,
  when their bytes would overflow 32-bit offsets;
* ``h.read(tag_type="dictionary")`` gives the same rows with a ``dictionary<int32, string>`` tag
  column (pandas and polars in one call), and pandas is never imported by these calls.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.errors import InvalidArgumentError
from historian.kernels import aggregate_many
from historian.model.labels import repeated_strings, tiled_strings
from historian.model.schema import SUMMARY_SCHEMA
from historian.query import retrieval

S = 1_000_000_000
T0 = 1_767_225_600 * S
STATS = ["min", "max", "first", "last", "mean", "count", "twa", "duration_good", "DurationBad"]


def _oracle(series: dict, start: int, end: int, every: int, stats: list[str]) -> pa.Table:
    """The summary table built row by row in Python from the kernel's own results."""
    rows: dict[str, list] = {f.name: [] for f in SUMMARY_SCHEMA}
    for tag, (t, v, q) in series.items():
        res = aggregate_many(t, v, q, start_ns=start, end_ns=end, every_ns=every, stats=stats)
        starts = res[stats[0]].start_ns
        for k in range(starts.size):
            for name in stats:
                r = res[name]
                scale = 1e-9 if name == "duration_good" else 1e-6 if name == "DurationBad" else 1.0
                value = float(r.values[k]) * scale
                bad = bool(int(r.status[k]) & 0x80000000) or not np.isfinite(value)
                rows["tag"].append(tag)
                rows["start"].append(int(starts[k]))
                rows["stat"].append(name)
                rows["value"].append(None if bad else value)
                rows["time"].append(int(r.time_ns[k]))
                rows["status"].append(int(r.status[k]))
    arrays = [
        pa.array(rows[f.name], pa.int64() if pa.types.is_timestamp(f.type) else f.type)
        for f in SUMMARY_SCHEMA
    ]
    arrays = [a.cast(f.type) for a, f in zip(arrays, SUMMARY_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=SUMMARY_SCHEMA)


def _data(n: int = 5_000, seed: int = 3):
    rng = np.random.default_rng(seed)
    t = T0 + np.cumsum(rng.integers(S // 2, 3 * S // 2, n, dtype=np.int64))
    v = 100 + np.cumsum(rng.normal(0, 0.1, n))
    q = np.where(rng.random(n) < 0.02, np.uint32(0x80000000), np.uint32(0))
    return t, v, q


def _window(t: np.ndarray) -> tuple[int, int]:
    return int(t[0]) // (60 * S) * 60 * S + 30 * S, (int(t[-1]) // (60 * S)) * 60 * S


def _time_forms(t: np.ndarray) -> dict[str, object]:
    import pandas as pd

    dt = t.view("datetime64[ns]")
    return {
        "int64": t,
        "datetime64[ns]": dt,
        "datetime64[ns] strided": np.repeat(dt, 2)[::2],
        "datetime64[us]": dt.astype("datetime64[us]"),  # the data are whole microseconds
        "pandas DatetimeIndex": pd.DatetimeIndex(dt),
        "pandas Series, tz-aware": pd.Series(pd.DatetimeIndex(dt).tz_localize("UTC")),
        "pyarrow timestamps": pa.array(t, pa.timestamp("ns", "UTC")),
        "list of ints": t.tolist(),
        "list of ISO strings": [str(x) + "Z" for x in dt[:800]],
    }


@pytest.mark.parametrize("stats", [STATS, ["twa"], ["duration_good"]])
def test_summarize_gives_the_oracle_table_for_every_form_of_times(stats):
    t, v, q = _data()
    t = t // 1000 * 1000  # whole microseconds: the datetime64[us] form holds the same times
    start, end = _window(t)
    for form, times in _time_forms(t).items():
        k = len(times)
        got = historian.summarize(
            times, v[:k], q[:k], start=start, end=end, every="1min", stats=stats, tag="TIC-101.PV"
        )
        want = _oracle({"TIC-101.PV": (t[:k], v[:k], q[:k])}, start, end, 60 * S, stats)
        assert got.schema == SUMMARY_SCHEMA, form
        assert got.num_rows == want.num_rows > 0, form
        assert got.equals(want), form


def test_several_tags_and_no_tags_keep_their_order_and_schema():
    series = {}
    for i, name in enumerate(["B.PV", "A.PV", "C-long-name.PV"]):
        t, v, q = _data(2_000 + 500 * i, seed=i)
        series[name] = (t, v, q)
    start, end = T0 + 60 * S, T0 + 1_800 * S
    got = retrieval.summary_for_tags(
        series, start_ns=start, end_ns=end, every_ns=300 * S, stats=STATS
    )
    assert got.equals(_oracle(series, start, end, 300 * S, STATS))
    assert list(dict.fromkeys(got.column("tag").to_pylist())) == ["B.PV", "A.PV", "C-long-name.PV"]
    empty = retrieval.summary_for_tags({}, start_ns=start, end_ns=end, every_ns=S, stats="twa")
    assert empty.schema == SUMMARY_SCHEMA and empty.num_rows == 0


@pytest.mark.parametrize("dtype", ["int64", "datetime64[ns]", "pandas"])
def test_summarize_hands_the_callers_arrays_to_the_kernel(monkeypatch, dtype):
    import pandas as pd

    t, v, q = _data(200_000)
    times = {
        "int64": t,
        "datetime64[ns]": t.view("datetime64[ns]"),
        "pandas": pd.DatetimeIndex(t.view("datetime64[ns]")),
    }[dtype]
    seen = []
    real = retrieval.aggregate_many

    def spy(t_ns, values, quality, **kw):
        seen.append((t_ns, values, quality))
        return real(t_ns, values, quality, **kw)

    monkeypatch.setattr(retrieval, "aggregate_many", spy)
    start, end = _window(t)
    historian.summarize(times, v, q, start=start, end=end, every="1h", stats=["min", "twa"])
    ((got_t, got_v, got_q),) = seen
    memory = times.asi8 if dtype == "pandas" else times
    assert np.shares_memory(got_t, memory) and np.shares_memory(got_v, v)
    assert np.shares_memory(got_q, q)


@pytest.mark.parametrize(
    "dtype, copies", [("int64", 0), ("datetime64[ns]", 0), ("datetime64[us]", 1)]
)
def test_summarize_allocates_no_copy_of_the_times(dtype, copies):
    n = 1_000_000
    t = T0 + np.arange(n, dtype=np.int64) * S
    v = np.sin(np.arange(n) / 100.0)
    times = t if dtype == "int64" else t.view("datetime64[ns]").astype(dtype)
    kw = {"start": T0, "end": T0 + n * S, "every": "1h", "stats": ["min", "max", "mean", "twa"]}
    historian.summarize(times, v, **kw)  # warm: kernels loaded
    tracemalloc.start()
    try:
        historian.summarize(times, v, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # what remains besides a copy: all-Good qualities (4 B/pt) and the small result
    assert copies <= peak / t.nbytes < copies + 0.75


def test_label_columns_split_into_chunks_instead_of_overflowing():
    names, counts = ["A", "BB", "", "CCC"], [3, 2, 4, 1]
    want = [x for x, c in zip(names, counts, strict=True) for _ in range(c)]
    whole = repeated_strings(names, counts)
    assert isinstance(whole, pa.Array) and whole.type == pa.string()
    whole.validate(full=True)
    assert whole.to_pylist() == want
    for max_bytes in (1, 2, 3, 5):
        chunked = repeated_strings(names, counts, max_bytes=max_bytes)
        assert isinstance(chunked, pa.ChunkedArray) and chunked.type == pa.string()
        chunked.validate(full=True)
        assert chunked.to_pylist() == want
        assert all(
            c.buffers()[2] is None or c.buffers()[2].size <= max(max_bytes, 3)
            for c in chunked.chunks
        )
        tiled = tiled_strings(["twa", "max"], 5, max_bytes=max_bytes + 4)
        tiled.validate(full=True)
        assert tiled.to_pylist() == ["twa", "max"] * 5 and tiled.type == pa.string()
    d = repeated_strings(names, counts, dictionary=True)
    assert d.type == pa.dictionary(pa.int32(), pa.string()) and d.to_pylist() == want


@pytest.fixture
def h(tmp_path):
    with historian.open(tmp_path / "plant.hist") as store:
        for i, name in enumerate(["TIC-101.PV", "FIC-104.PV", "LIC-7.PV"]):
            store.define(name)
            t = T0 + np.arange(100 + 50 * i, dtype=np.int64) * S
            v = np.where(np.arange(t.size) % 17 == 3, np.nan, np.arange(t.size, dtype=float))
            store.write(name, t, v)
        yield store


def test_read_with_a_dictionary_tag_column_gives_the_same_rows(h):
    plain = h.read(None, T0 + 10 * S, T0 + 120 * S)
    coded = h.read(None, T0 + 10 * S, T0 + 120 * S, tag_type="dictionary")
    assert plain.schema.field("tag").type == pa.string()
    assert coded.schema.field("tag").type == pa.dictionary(pa.int32(), pa.string())
    assert coded.schema.field("tag").nullable is False
    assert coded.to_pylist() == plain.to_pylist() and plain.num_rows == 90 + 110 + 110
    assert coded.drop_columns(["tag"]).equals(plain.drop_columns(["tag"]))
    assert coded.column("value").null_count == plain.column("value").null_count > 0
    with_reasons = h.read("LIC-7.PV", tag_type="dictionary", reasons=True)
    assert with_reasons.column_names == ["tag", "time", "value", "quality", "reasons"]
    assert with_reasons.column("tag").to_pylist() == ["LIC-7.PV"] * 200
    empty = h.read("LIC-7.PV", T0 - 10 * S, T0, tag_type="dictionary")
    assert empty.num_rows == 0 and empty.schema == coded.schema
    import polars as pl

    frame = coded.to_pandas()
    assert str(frame["tag"].dtype) == "category"
    assert frame["tag"].tolist() == plain.column("tag").to_pylist()
    assert pl.from_arrow(coded)["tag"].cast(pl.String).to_list() == frame["tag"].tolist()


def test_read_refuses_an_unknown_tag_type(h):
    with pytest.raises(InvalidArgumentError, match="tag_type must be 'string' or 'dictionary'"):
        h.read("TIC-101.PV", tag_type="categorical")


def test_the_fast_paths_import_no_pandas(tmp_path):
    code = """
import sys, numpy as np, historian
S = 10**9; T0 = 1_767_225_600 * S
t = (T0 + np.arange(1000) * S).view("datetime64[ns]")
s = historian.summarize(t, np.arange(1000.0), start=T0, end=T0 + 1000 * S, every="1min",
                        stats=["min", "twa"], tag="A")
with historian.open(sys.argv[1]) as h:
    h.define("A")
    h.write("A", t.view(np.int64), np.arange(1000.0))
    r = h.read("A", tag_type="dictionary")
    assert r.num_rows == 1000 and s.num_rows == 2 * 17
print("pandas" in sys.modules)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.hist")],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"
