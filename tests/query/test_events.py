"""Events: the condition language (tokenizer, safety, three-valued logic) and h.events on a real
store against a brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import historian
from historian.errors import InvalidArgumentError
from historian.query.events import event_periods, parse_condition

S = 1_000_000_000
T0 = 1_767_225_600 * S


# ------------------------------------------------------------------------------ the language
def test_tag_names_with_punctuation_are_identifiers():
    c = parse_condition("TIC-101.PV > 80 and PLC1:R/40001 <= -2.5e1 or 'FIC 7' != 3")
    assert c.tags == ["TIC-101.PV", "PLC1:R/40001", "FIC 7"]
    c = parse_condition('"and" = 1 OR NOT x_1 < 2')
    assert c.tags == ["and", "x_1"]


def test_evaluation_and_three_valued_logic():
    nan = math.nan
    a = np.array([1.0, 5.0, nan, nan, 9.0])
    b = np.array([0.0, 0.0, 0.0, 1.0, nan])
    cols = {"A": a, "B": b}
    assert parse_condition("A > 2").holds(cols).tolist() == [False, True, False, False, True]
    assert parse_condition("not A > 2").holds(cols).tolist() == [True, False, False, False, False]
    # unknown and false = false -> not(...) = true where B is 1 (known false)
    assert parse_condition("not (A > 2 and B < 1)").holds(cols).tolist() == [
        True,
        False,
        False,
        True,
        False,
    ]
    assert parse_condition("A > 2 or B == 0").holds(cols).tolist() == [
        True,
        True,
        True,
        False,
        True,
    ]
    assert parse_condition("0 < A <= 5").holds(cols).tolist() == [True, True, False, False, False]
    assert parse_condition("B").holds(cols).tolist() == [False, False, False, True, False]
    assert parse_condition("A > B").holds(cols).tolist() == [True, True, False, False, False]
    assert parse_condition("true").holds(cols).tolist() == [True]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "A + 1 > 2",
        "A > 1; B",
        "f(A) > 1",
        "A[0] > 1",
        "lambda: 1",
        "A if B else C",
        "A > 1 $",
        "",
        "A > -B",
        "A is None",
        "A in (1, 2)",
        "1 > ",
        "(A > 1",
    ],
)
def test_rejects_anything_else(text):
    with pytest.raises(InvalidArgumentError):
        parse_condition(text)


def test_names_are_data():
    assert parse_condition("'a) or (1' > 0").tags == ["a) or (1"]
    assert parse_condition("A.__class__ > 1").tags == ["A.__class__"]  # a (strange) tag name


def test_no_eval_or_exec_in_the_query_layer():
    import pathlib
    import re

    root = pathlib.Path(historian.__file__).parent / "query"
    for p in root.glob("*.py"):
        text = p.read_text()
        assert not re.search(r"\b(eval|exec)\(", text), p


# --------------------------------------------------------------------------- brute force
def ref_events(times, holds, end):
    out = []
    i = 0
    while i < len(times):
        if holds[i]:
            j = i
            while j + 1 < len(times) and holds[j + 1]:
                j += 1
            stop = times[j + 1] if j + 1 < len(times) else end
            out.append((times[i], stop, j + 1 >= len(times)))
            i = j + 1
        else:
            i += 1
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), max_size=30))
def test_event_periods_match_brute_force(flags):
    t = np.arange(len(flags), dtype=np.int64) * 10
    s, e, ongoing = event_periods(t, np.array(flags, bool), 1000)
    assert list(zip(s.tolist(), e.tolist(), ongoing.tolist(), strict=True)) == ref_events(
        t.tolist(), flags, 1000
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(7)
    h = historian.open(tmp_path_factory.mktemp("ev") / "p.hist")
    n = 3000
    t = T0 + np.arange(n) * S
    temp = 80 + 10 * np.sin(np.arange(n) / 40.0) + rng.normal(0, 1, n)
    flow = 5 + 2 * np.cos(np.arange(n) / 25.0)
    q = np.zeros(n, np.uint32)
    q[1000:1100] = 0x80000000  # Bad stretch in temperature
    h.define("TIC-101.PV")
    h.define("FIC-101.PV")
    h.define("PUMP:1/RUN", kind="step")
    h.write("TIC-101.PV", t, temp, quality=q)
    h.write("FIC-101.PV", t[::2] + S // 2, flow[::2])  # other sample times
    h.write("PUMP:1/RUN", t[::300], (np.arange(n // 300) % 2).astype(float))
    yield h
    h.close()


def _brute(store, text, start, end, every):
    wide = store.interpolated(
        ["TIC-101.PV", "FIC-101.PV", "PUMP:1/RUN"], start, end, every, quality=True
    ).to_pylist()
    times, holds = [], []
    for row in wide:
        t = row["time"].value
        if t >= end:
            continue
        vals = {}
        for n in ("TIC-101.PV", "FIC-101.PV", "PUMP:1/RUN"):
            good = row[n] is not None and (row[f"{n}.quality"] & 0xC0000000) == 0
            vals[n] = row[n] if good else None
        tic, fic, run = vals["TIC-101.PV"], vals["FIC-101.PV"], vals["PUMP:1/RUN"]
        if text == "TIC-101.PV > 85 and FIC-101.PV < 6":
            h = tic is not None and fic is not None and tic > 85 and fic < 6
        else:  # "PUMP:1/RUN or TIC-101.PV < 72"
            h = (run is not None and run != 0) or (tic is not None and tic < 72)
        times.append(t)
        holds.append(h)
    return ref_events(times, holds, end)


@pytest.mark.parametrize(
    "text", ["TIC-101.PV > 85 and FIC-101.PV < 6", "PUMP:1/RUN or TIC-101.PV < 72"]
)
def test_events_on_a_grid_match_brute_force(store, text):
    start, end = T0, T0 + 3000 * S
    got = store.events(text, start, end, every="5s", stats=())
    want = _brute(store, text, start, end, "5s")
    assert [(r["start"].value, r["end"].value, r["ongoing"]) for r in got.to_pylist()] == want
    assert len(want) > 3


def test_events_on_raw_times_and_stats(store):
    start, end = T0, T0 + 3000 * S
    got = store.events(
        "TIC-101.PV > 88",
        start,
        end,
        min_duration="5s",
        stats=("min", "max", "mean", "count", "first", "last", "std", "range"),
    )
    assert got.num_rows > 3
    assert min(d.total_seconds() for d in got.column("duration").to_pylist()) >= 5
    raw = store.read("TIC-101.PV", start, end)
    t = raw.column("time").cast("int64").to_numpy()
    v = raw.column("value").to_numpy(zero_copy_only=False)
    q = raw.column("quality").to_numpy()
    for r in got.to_pylist():
        s, e = r["start"].value, r["end"].value
        sel = (t >= s) & (t < e) & (q == 0)
        assert r["TIC-101.PV.count"] == sel.sum()
        assert r["TIC-101.PV.min"] == pytest.approx(v[sel].min())
        assert r["TIC-101.PV.max"] == pytest.approx(v[sel].max())
        assert r["TIC-101.PV.mean"] == pytest.approx(v[sel].mean())
        assert r["TIC-101.PV.first"] == v[sel][0] and r["TIC-101.PV.last"] == v[sel][-1]
        if sel.sum() > 1:
            assert r["TIC-101.PV.std"] == pytest.approx(v[sel].std(ddof=1), rel=1e-6)
        assert r["TIC-101.PV.min"] > 88  # raw times: each sample inside an event satisfies it
    # the Bad stretch is never inside an event
    bad_t = t[1000:1100]
    for r in got.to_pylist():
        assert not ((bad_t >= r["start"].value) & (bad_t < r["end"].value)).any()


def test_callable_condition_and_stats_tags(store):
    start, end = T0, T0 + 3000 * S
    by_text = store.events(
        "TIC-101.PV > 85", start, end, every="10s", stats_tags=["FIC-101.PV"], stats=["mean"]
    )
    by_fn = store.events(
        lambda tbl: pc.greater(tbl.column("TIC-101.PV"), 85),
        start,
        end,
        every="10s",
        tags=["TIC-101.PV"],
        stats_tags="FIC-101.PV",
        stats=["mean"],
    )
    assert by_text.equals(by_fn)
    assert by_text.column_names == ["start", "end", "duration", "ongoing", "FIC-101.PV.mean"]
    with pytest.raises(InvalidArgumentError):
        store.events(lambda tbl: True, start, end)
    with pytest.raises(historian.HistorianError):
        store.events("NOPE-1 > 3", start, end)
    with pytest.raises(InvalidArgumentError):
        store.events("TIC-101.PV > 3", start, end, stats=["median"])


@pytest.mark.parametrize(
    "hostile",
    ["(" * 300 + "A > 1" + ")" * 300, "not " * 2400 + "A > 1", "-" * 9000 + "1 < A"],
    ids=["parentheses", "not-chain", "unary-minus"],
)
def test_deeply_nested_conditions_are_refused_before_parsing(hostile):
    # Python's parser and the recursive evaluator raised RecursionError/MemoryError here.
    with pytest.raises(InvalidArgumentError, match="levels deep; at most 50"):
        parse_condition(hostile)
    assert parse_condition("(" * 20 + "A > 1" + ")" * 20).tags == ["A"]


def test_events_with_and_without_every_agree_on_a_value_held_from_long_before(tmp_path):
    # The step tag's samples are two hours before and after the window: its value holds.
    # Raw-time alignment used to look back a fixed hour (0 events) while every= used the
    # store's bounding values (1 event); both now use Store.bounded_series.
    with historian.open(tmp_path / "h") as h:
        h.define("RUN", kind="step")
        h.define("TIC")
        h.write("RUN", [T0 - 7200 * S, T0 + 10800 * S], [1.0, 0.0])
        h.write("TIC", T0 + np.arange(60) * 60 * S, np.full(60, 90.0))
        start, end = T0, T0 + 3600 * S
        raw = h.events("RUN > 0 and TIC > 80", start, end, stats=())
        grid = h.events("RUN > 0 and TIC > 80", start, end, every="1min", stats=())
        assert raw.num_rows == grid.num_rows == 1
        assert raw.to_pylist() == grid.to_pylist()
