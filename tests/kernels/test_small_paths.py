"""The numpy paths for small inputs (kernels/_small.py) against the Numba kernels and the
plain-Python reference: same StatusCodes, times and indices; values to the last bits."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import reference as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_aggregates_properties import QUALITIES, VALUES, _compare

from historian.kernels import _prep, _small, aggregate_many, plot_indices
from historian.kernels import plot as plot_module
from historian.kernels._config import AggregateConfig

FAST = [
    "Count",
    "Average",
    "Minimum",
    "Maximum",
    "MinimumActualTime",
    "MaximumActualTime",
    "Start",
    "End",
    "Range",
    "TimeAverage",
    "TimeAverage2",
    "Total",
    "Total2",
]
NO_TIME_AVERAGE = [n for n in FAST if n not in ("TimeAverage", "Total")]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextlib.contextmanager
def kernels_only():
    """Every input takes the Numba kernels (no numpy path)."""
    saved = _small.MAX_POINTS
    _small.MAX_POINTS = plot_module.MAX_POINTS = 0
    try:
        yield
    finally:
        _small.MAX_POINTS = plot_module.MAX_POINTS = saved


@st.composite
def good_series(draw):
    n = draw(st.integers(1, 30))
    scale = draw(st.sampled_from([1, 7, 1_000_000_000]))
    offsets = sorted(set(draw(st.lists(st.integers(0, 300), min_size=n, max_size=n))))
    t = [o * scale for o in offsets]
    v = draw(
        st.lists(
            st.one_of(
                st.integers(-3, 3).map(float),
                st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
            ),
            min_size=len(t),
            max_size=len(t),
        )
    )
    lo = draw(st.integers(-40, 300)) * scale
    every = draw(st.integers(1, 60)) * scale
    n_int = draw(st.integers(1, 10))
    end = lo + every * n_int - draw(st.integers(0, max(0, every - 1)))
    cfg = {
        "TreatUncertainAsBad": draw(st.booleans()),
        "PercentDataBad": draw(st.sampled_from([0.0, 50.0, 100.0])),
        "PercentDataGood": draw(st.sampled_from([0.0, 50.0, 80.0, 100.0])),
        "UseSlopedExtrapolation": draw(st.booleans()),
    }
    stepped = draw(st.booleans())
    data_end = draw(st.sampled_from([None, t[-1] + 1, t[-1] + 50 * scale]))
    return t, v, lo, end, every, cfg, stepped, data_end


def _both(t, v, q, lo, end, every, cfg, stepped, data_end, stats=FAST):
    args = dict(
        start_ns=lo,
        end_ns=end,
        every_ns=every,
        stats=stats,
        config=cfg,
        stepped=stepped,
        data_end_ns=data_end,
    )
    t, v = np.array(t, dtype=np.int64), np.array(v, dtype=np.float64)
    small = aggregate_many(t, v, q, **args)
    with kernels_only():
        kern = aggregate_many(t, v, q, **args)
    return small, kern


def _assert_same(small, kern, ctx):
    for name in small:
        a, b = small[name], kern[name]
        np.testing.assert_array_equal(a.status, b.status, err_msg=f"{name} {ctx}")
        np.testing.assert_array_equal(a.time_ns, b.time_ns, err_msg=f"{name} {ctx}")
        np.testing.assert_array_equal(np.isnan(a.values), np.isnan(b.values), err_msg=name)
        np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=1e-12, err_msg=name)


@SETTINGS
@given(data=good_series())
def test_numpy_path_equals_kernels(data):
    t, v, lo, end, every, cfg, stepped, data_end = data
    for stats in (FAST, NO_TIME_AVERAGE):  # TimeAverage/Total at the data's edges: kernels
        small, kern = _both(t, v, None, lo, end, every, cfg, stepped, data_end, stats)
        _assert_same(small, kern, data)


@SETTINGS
@given(data=good_series())
def test_numpy_path_matches_reference(data):
    t, v, lo, end, every, cfg, stepped, data_end = data
    if data_end is not None:
        return  # the reference takes the data end from the samples
    small, _kern = _both(t, v, None, lo, end, every, cfg, stepped, data_end, NO_TIME_AVERAGE)
    q = [0] * len(t)
    for name in NO_TIME_AVERAGE:
        want = ref.aggregate(
            name,
            t,
            v,
            q,
            start=lo,
            end=end,
            every=every,
            tuab=cfg["TreatUncertainAsBad"],
            pdb=cfg["PercentDataBad"],
            pdg=cfg["PercentDataGood"],
            sloped_extrap=cfg["UseSlopedExtrapolation"],
            stepped=stepped,
        )
        _compare(name, small[name], want, data)


def test_numpy_path_is_taken_for_small_good_data_only():
    t = np.arange(0, 100, 10, dtype=np.int64)
    v = np.linspace(0.0, 9.0, t.size)
    edges = np.array([-5, 25, 55, 95, 125], dtype=np.int64)
    wanted = [(n, n) for n in NO_TIME_AVERAGE]
    cfg = AggregateConfig()
    got = _small.fast_stats(t, v, np.empty(0, np.uint32), edges, wanted, cfg, False, 91)
    assert got is not None and set(got) == {g for g, _p in wanted}
    # a TimeAverage interval at the data's edge, a Bad sample, unsorted times, too many points
    assert (
        _small.fast_stats(
            t, v, np.empty(0, np.uint32), edges, [("ta", "TimeAverage")], cfg, False, 91
        )
        is None
    )
    q = np.zeros(t.size, np.uint32)
    q[3] = 0x80000000
    assert _small.fast_stats(t, v, q, edges, wanted, cfg, False, 91) is None
    assert _small.fast_stats(t[::-1].copy(), v, q[:0], edges, wanted, cfg, False, 91) is None
    big = np.arange(_small.MAX_POINTS + 1, dtype=np.int64)
    assert (
        _small.fast_stats(big, big * 1.0, q[:0], edges, wanted, cfg, False, int(big[-1]) + 1)
        is None
    )


@pytest.mark.parametrize("stepped", [False, True])
def test_numpy_path_equals_kernels_at_the_size_limit(stepped):
    rng = np.random.default_rng(7)
    t = np.unique(rng.integers(0, 10**9, _small.MAX_POINTS)).astype(np.int64)
    v = rng.normal(size=t.size) * 100
    small, kern = _both(t, v, None, -(10**7), 10**9 + 3 * 10**7, 7 * 10**6, None, stepped, None)
    _assert_same(small, kern, stepped)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 40), data=st.data(), width=st.integers(1, 9))
def test_plot_numpy_path_equals_kernel_and_reference(n, data, width):
    t = sorted(set(data.draw(st.lists(st.integers(-20, 120), min_size=n, max_size=n))))
    v = data.draw(st.lists(VALUES, min_size=len(t), max_size=len(t)))
    q = data.draw(st.lists(st.sampled_from(QUALITIES), min_size=len(t), max_size=len(t)))
    start = data.draw(st.integers(-10, 50))
    end = start + data.draw(st.integers(1, 80))
    with_q = data.draw(st.booleans())
    args = (np.array(t, np.int64), np.array(v), np.array(q, np.uint32) if with_q else None)
    small = plot_indices(*args, start_ns=start, end_ns=end, width=width)
    with kernels_only():
        kern = plot_indices(*args, start_ns=start, end_ns=end, width=width)
    assert small.tolist() == kern.tolist()
    want = ref.plot_indices(t, v, q if with_q else [0] * len(t), start=start, end=end, width=width)
    assert small.tolist() == want


def test_plot_numpy_path_declines_unsorted_times():
    t = np.array([0, 2, 1], dtype=np.int64)
    edges = np.array([0, 3], dtype=np.int64)
    assert _small.plot_indices_small(t, np.zeros(3), np.empty(0, np.uint32), edges) is None


@settings(max_examples=200, deadline=None)
@given(t=st.lists(st.integers(-5, 5), max_size=12), data=st.data())
def test_scan_small_equals_the_kernel(t, data):
    v = data.draw(st.lists(VALUES, min_size=len(t), max_size=len(t)))
    q = data.draw(st.lists(st.sampled_from(QUALITIES), min_size=len(t), max_size=len(t)))
    args = np.array(t, np.int64), np.array(v), np.array(q, np.uint32)
    assert _small.scan_small(*args) == tuple(_prep.scan(*args))


RULES = st.fixed_dictionaries(
    {},
    optional={
        "range": st.sampled_from(
            [{"lo": -1.0, "hi": 1.0}, {"lo": 0.0}, {"hi": 2.0, "mode": "engineering"}]
        ),
        "nonfinite": st.sampled_from([True, False]),
        "future": st.just({"tolerance": "1min"}),
        "past": st.sampled_from([{"max_age": "1h"}, {"earliest": 0}]),
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=RULES, data=st.data())
def test_qualify_numpy_path_equals_the_kernel_across_batches(rules, data):
    from historian.kernels import Qualifier

    now = 10**13
    batches = []
    for _ in range(data.draw(st.integers(1, 3))):
        n = data.draw(st.integers(0, 12))
        t = data.draw(
            st.lists(st.integers(now - 2 * 3600 * 10**9, now + 120 * 10**9), min_size=n, max_size=n)
        )
        v = data.draw(st.lists(VALUES, min_size=n, max_size=n))
        q = data.draw(st.lists(st.sampled_from(QUALITIES), min_size=n, max_size=n))
        batches.append((np.array(t, np.int64), np.array(v), np.array(q, np.uint32)))
    small, kern = Qualifier(rules), Qualifier(rules)
    for t, v, q in batches:
        got = small.qualify(t, v, q, now_ns=now)
        with kernels_only():
            want = kern.qualify(t, v, q, now_ns=now)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[0].dtype == want[0].dtype and got[1].dtype == want[1].dtype
        assert small.state_dict() == kern.state_dict()
