"""Hypothesis properties: the numba aggregate kernels against the plain-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from historian.kernels import PART13_NAMES, aggregate, aggregate_many

QUALITIES = [0, 0, 0, 0x00300000, 0x40000000, 0x40A40000, 0x80000000, 0x80310000, 0x809B0000]
VALUES = st.one_of(
    st.integers(-3, 3).map(float),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@st.composite
def series_and_window(draw, extremes=False):
    n = draw(st.integers(0, 14))
    base = draw(st.sampled_from([0, -(2**63) + 10, 2**63 - 3000])) if extremes else 0
    scale = 1 if extremes else draw(st.sampled_from([1, 7, 1_000_000_000]))
    offsets = draw(st.lists(st.integers(0, 200), min_size=n, max_size=n))
    t = [base + o * scale for o in offsets]
    v = draw(st.lists(VALUES, min_size=n, max_size=n))
    q = draw(st.lists(st.sampled_from(QUALITIES), min_size=n, max_size=n))
    lo = max(base + draw(st.integers(-20, 200)) * scale, -(2**63))
    n_int = draw(st.integers(1, 8))
    every = draw(st.integers(1, 60)) * scale
    if extremes:
        every = max(1, min(every, (2**63 - 1 - lo) // (n_int + 1)))
    end = min(lo + every * n_int - draw(st.integers(0, max(0, every - 1))), 2**63 - 1)
    cfg = {
        "tuab": draw(st.booleans()),
        "pdb": draw(st.sampled_from([0.0, 50.0, 80.0, 100.0])),
        "pdg": draw(st.sampled_from([0.0, 50.0, 80.0, 100.0])),
        "sloped_extrap": draw(st.booleans()),
        "stepped": draw(st.booleans()),
    }
    return t, v, q, lo, end, every, cfg


def _kernel(name, t, v, q, lo, end, every, cfg, data_end=None):
    return aggregate(
        np.array(t, dtype=np.int64),
        np.array(v, dtype=np.float64),
        np.array(q, dtype=np.uint32),
        start_ns=lo,
        end_ns=end,
        every_ns=every,
        stat=name,
        stepped=cfg["stepped"],
        config={
            "TreatUncertainAsBad": cfg["tuab"],
            "PercentDataBad": cfg["pdb"],
            "PercentDataGood": cfg["pdg"],
            "UseSlopedExtrapolation": cfg["sloped_extrap"],
        },
        data_end_ns=data_end,
    )


def _close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _compare(name, got, want, ctx):
    assert len(got.values) == len(want), ctx
    for k, (wv, wt, ws) in enumerate(want):
        gv, gt, gs = float(got.values[k]), int(got.time_ns[k]), int(got.status[k])
        assert gs == ws, f"{name} interval {k}: status {gs:#x} != {ws:#x}; {ctx}"
        assert gt == wt, f"{name} interval {k}: time {gt} != {wt}; {ctx}"
        assert _close(gv, wv), f"{name} interval {k}: value {gv} != {wv}; {ctx}"


@pytest.mark.parametrize("name", list(PART13_NAMES))
@SETTINGS
@given(data=series_and_window())
def test_kernel_matches_reference(name, data):
    t, v, q, lo, end, every, cfg = data
    got = _kernel(name, t, v, q, lo, end, every, cfg)
    want = ref.aggregate(
        name,
        t,
        v,
        q,
        start=lo,
        end=end,
        every=every,
        tuab=cfg["tuab"],
        pdb=cfg["pdb"],
        pdg=cfg["pdg"],
        sloped_extrap=cfg["sloped_extrap"],
        stepped=cfg["stepped"],
    )
    _compare(name, got, want, (t, v, q, lo, end, every, cfg))


@pytest.mark.parametrize(
    "name",
    [
        "TimeAverage2",
        "Minimum2",
        "Interpolative",
        "DurationGood",
        "Count",
        "NumberOfTransitions",
        "WorstQuality2",
    ],
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=series_and_window(extremes=True))
def test_int64_extremes(name, data):
    t, v, q, lo, end, every, cfg = data
    got = _kernel(name, t, v, q, lo, end, every, cfg)
    want = ref.aggregate(
        name,
        t,
        v,
        q,
        start=lo,
        end=end,
        every=every,
        tuab=cfg["tuab"],
        pdb=cfg["pdb"],
        pdg=cfg["pdg"],
        sloped_extrap=cfg["sloped_extrap"],
        stepped=cfg["stepped"],
    )
    for k, (wv, wt, ws) in enumerate(want):
        assert int(got.status[k]) == ws and int(got.time_ns[k]) == wt
        gv = float(got.values[k])
        assert _close(gv, wv), (name, k, gv, wv)


def _trim(t, v, q, lo, end, goods_needed_before=1):
    """What the store passes: the window plus bounding samples out to the nearest Good one
    (the second-nearest before ``start`` when UseSlopedExtrapolation needs a slope)."""
    latest = {}
    for ti, vi, qi in zip(t, v, q, strict=True):
        latest[ti] = (vi, qi)
    ts = sorted(latest)

    def good(x):
        vi, qi = latest[x]
        return (qi & 0xC0000000) == 0 and math.isfinite(vi) and (qi & 0xFFFF0000) != 0x809B0000

    before = [x for x in ts if x < lo]
    goods_before = [x for x in before if good(x)]
    if len(goods_before) >= goods_needed_before:
        before = [x for x in before if x >= goods_before[-goods_needed_before]]
    after = [x for x in ts if x >= end]
    goods_after = [x for x in after if good(x)]
    if goods_after:
        after = [x for x in after if x <= goods_after[0]]
    keep = before + [x for x in ts if lo <= x < end] + after
    return keep, [latest[x][0] for x in keep], [latest[x][1] for x in keep]


@pytest.mark.parametrize("name", list(PART13_NAMES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=series_and_window())
def test_extra_outside_points_do_not_change_the_result(name, data):
    t, v, q, lo, end, every, cfg = data
    full = _kernel(name, t, v, q, lo, end, every, cfg)
    tt, vv, qq = _trim(t, v, q, lo, end, 2 if cfg["sloped_extrap"] else 1)
    part = _kernel(name, tt, vv, qq, lo, end, every, cfg)
    np.testing.assert_array_equal(full.status, part.status)
    np.testing.assert_array_equal(full.time_ns, part.time_ns)
    np.testing.assert_allclose(full.values, part.values, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(data=series_and_window())
def test_unsorted_and_duplicates_equal_sorted_last_wins(data):
    t, v, q, lo, end, every, _cfg = data
    rng = np.random.default_rng(len(t))
    latest = {}
    for i in range(len(t)):
        latest[t[i]] = (v[i], q[i])
    ts = sorted(latest)
    # shuffle the distinct times; equal times keep their input order, so "last wins" is stable
    key = {x: rng.random() for x in ts}
    perm = sorted(range(len(t)), key=lambda i: (key[t[i]], i))
    names = ["Count", "TimeAverage2", "Minimum", "WorstQuality", "Interpolative", "End"]
    a = aggregate_many(
        np.array([t[i] for i in perm], dtype=np.int64),
        np.array([v[i] for i in perm]),
        np.array([q[i] for i in perm], np.uint32),
        start_ns=lo,
        end_ns=end,
        every_ns=every,
        stats=names,
    )
    b = aggregate_many(
        np.array(ts, dtype=np.int64),
        np.array([latest[x][0] for x in ts]),
        np.array([latest[x][1] for x in ts], np.uint32),
        start_ns=lo,
        end_ns=end,
        every_ns=every,
        stats=names,
    )
    for n in names:
        np.testing.assert_array_equal(a[n].status, b[n].status)
        np.testing.assert_allclose(a[n].values, b[n].values, rtol=1e-12)


@SETTINGS
@given(data=series_and_window())
def test_nan_with_good_quality_is_bad(data):
    t, v, q, lo, end, every, cfg = data
    v2 = [x if math.isfinite(x) else 1.0 for x in v]
    q2 = [
        0x80000000 if not math.isfinite(x) and (qi & 0xFFFF0000) != 0x809B0000 else qi
        for x, qi in zip(v, q, strict=True)
    ]
    for name in ("TimeAverage2", "Count", "Maximum2", "DurationBad", "Average"):
        a = _kernel(name, t, v, q, lo, end, every, cfg)
        b = _kernel(name, t, v2, q2, lo, end, every, cfg)
        np.testing.assert_allclose(a.values, b.values, rtol=1e-12)


def test_empty_and_one_point():
    names = list(PART13_NAMES)
    empty = aggregate_many(
        np.array([], np.int64), np.array([]), None, start_ns=0, end_ns=10, every_ns=5, stats=names
    )
    for n in names:
        assert np.isnan(empty[n].values).all() and (empty[n].status == 0x809B0000).all()
    one = aggregate_many(
        np.array([3], np.int64),
        np.array([7.0]),
        None,
        start_ns=0,
        end_ns=10,
        every_ns=5,
        stats=names,
    )
    assert one["Count"].values.tolist()[0] == 1.0
    assert np.isnan(one["Count"].values[1])  # after the end of data: Bad_NoData
    assert one["Interpolative"].values.tolist()[1] == 7.0  # extrapolated, Uncertain
    assert one["Start"].time_ns.tolist()[0] == 3


def test_intervals_before_and_after_the_data_are_bad_no_data():
    t = np.array([100, 110, 120], np.int64)
    r = aggregate_many(
        t,
        np.array([1.0, 2.0, 3.0]),
        None,
        start_ns=0,
        end_ns=300,
        every_ns=50,
        stats=["twa", "count", "min"],
    )
    for name in r:
        assert (r[name].status[[0, 3, 4, 5]] == 0x809B0000).all()
        assert np.isnan(r[name].values[[0, 3, 4, 5]]).all()


@pytest.mark.parametrize("n", [1, 2, 1000])
def test_fast_path_equals_general_path(n):
    rng = np.random.default_rng(n)
    t = np.unique(rng.integers(0, 10**6, n)).astype(np.int64)
    v = rng.normal(size=t.size).round(1)
    names = [
        "Count",
        "Average",
        "Minimum",
        "MaximumActualTime",
        "Start",
        "End",
        "Range",
        "TimeAverage",
        "TimeAverage2",
        "Total",
        "Total2",
    ]
    for stepped in (False, True):
        fast = aggregate_many(
            t,
            v,
            None,
            start_ns=-5000,
            end_ns=10**6 + 5000,
            every_ns=40_000,
            stats=names,
            stepped=stepped,
        )
        # one far Bad sample forces the general path without changing the semantics
        t2 = np.append(t, 10**9)
        v2 = np.append(v, np.nan)
        q2 = np.zeros(t2.size, np.uint32)
        q2[-1] = 0x80000000
        general = aggregate_many(
            t2,
            v2,
            q2,
            start_ns=-5000,
            end_ns=10**6 + 5000,
            every_ns=40_000,
            stats=names,
            stepped=stepped,
            data_end_ns=int(t[-1]) + 1,
        )
        for name in names:
            np.testing.assert_array_equal(fast[name].status, general[name].status, err_msg=name)
            np.testing.assert_array_equal(fast[name].time_ns, general[name].time_ns)
            np.testing.assert_allclose(fast[name].values, general[name].values, rtol=1e-9)


@pytest.mark.parametrize(
    "name",
    [
        "TimeAverage",
        "TimeAverage2",
        "Total2",
        "Interpolative",
        "DurationGood",
        "PercentGood",
        "Maximum2",
        "Count",
    ],
)
def test_span_wider_than_int64(name):
    lo, hi = -(2**63) + 1, 2**63 - 1
    t = [lo, -5, 0, 7, hi - 1]
    v = [1.0, 2.0, math.nan, 4.0, 8.0]
    q = [0, 0, 0x80000000, 0x40000000, 0]
    start, end, every = lo, hi, 2**62
    got = aggregate(
        np.array(t, np.int64),
        np.array(v),
        np.array(q, np.uint32),
        start_ns=start,
        end_ns=end,
        every_ns=every,
        stat=name,
    )
    want = ref.aggregate(name, t, v, q, start=start, end=end, every=every)
    assert len(want) == 4
    for k, (wv, wt, ws) in enumerate(want):
        assert int(got.status[k]) == ws and int(got.time_ns[k]) == wt
        assert _close(float(got.values[k]), wv), (k, got.values[k], wv)


def test_input_validation_errors():
    from historian.errors import InvalidArgumentError, InvalidDataError

    t = np.array([0, 1, 2], np.int64)
    with pytest.raises(InvalidDataError, match="int64"):
        aggregate(t.astype(float), np.ones(3), start_ns=0, end_ns=3, every_ns=1, stat="twa")
    with pytest.raises(InvalidDataError, match="lengths differ"):
        aggregate(t, np.ones(2), start_ns=0, end_ns=3, every_ns=1, stat="twa")
    with pytest.raises(InvalidDataError, match="quality"):
        aggregate(t, np.ones(3), np.ones(3), start_ns=0, end_ns=3, every_ns=1, stat="twa")
    with pytest.raises(InvalidArgumentError, match="every"):
        aggregate(t, np.ones(3), start_ns=0, end_ns=3, every_ns=0, stat="twa")
    with pytest.raises(InvalidArgumentError, match="TimeAverage2"):
        aggregate(t, np.ones(3), start_ns=0, end_ns=3, every_ns=1, stat="average_please")
    with pytest.raises(InvalidArgumentError, match="PercentDataGood"):
        aggregate(
            t,
            np.ones(3),
            start_ns=0,
            end_ns=3,
            every_ns=1,
            stat="twa",
            config={"PercentGoodish": 5},
        )
