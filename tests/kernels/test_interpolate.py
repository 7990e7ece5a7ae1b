"""Interpolated values: the numba kernel against the plain-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_aggregates_properties import QUALITIES, VALUES

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.kernels import grid, interpolate


def ref_interpolate(t, v, q, grid_t, *, stepped, tuab, sloped, max_gap, extrapolate):
    s = ref.Series(t, v, q, None, tuab)
    out = []
    for x in grid_t:
        p = ref.interp_point(s, x, stepped, sloped, extrapolate)
        if p is None:
            out.append((math.nan, ref.BAD_NO_DATA))
            continue
        if max_gap is not None and p[2]:
            prev = [i for i in range(s.n) if s.t[i] < x and s.usable(i)]
            nxt = [i for i in range(s.n) if s.t[i] > x and s.usable(i)]
            span = (x - s.t[prev[-1]]) if (not nxt or x >= s.de) else (s.t[nxt[0]] - s.t[prev[-1]])
            if span > max_gap:
                out.append((math.nan, ref.BAD_NO_DATA))
                continue
        out.append((p[0], ref.status(p[1], p[2])))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 12),
    data=st.data(),
    stepped=st.booleans(),
    tuab=st.booleans(),
    sloped=st.booleans(),
    extrapolate=st.booleans(),
    max_gap=st.one_of(st.none(), st.integers(0, 80)),
)
def test_interpolate_matches_reference(n, data, stepped, tuab, sloped, extrapolate, max_gap):
    t = data.draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
    v = data.draw(st.lists(VALUES, min_size=n, max_size=n))
    q = data.draw(st.lists(st.sampled_from(QUALITIES), min_size=n, max_size=n))
    g = data.draw(st.lists(st.integers(-10, 120), min_size=1, max_size=12))
    vals, status = interpolate(
        np.array(t, np.int64),
        np.array(v),
        np.array(q, np.uint32),
        grid_ns=np.array(g, np.int64),
        stepped=stepped,
        config={"TreatUncertainAsBad": tuab, "UseSlopedExtrapolation": sloped},
        max_gap_ns=max_gap,
        extrapolate=extrapolate,
    )
    want = ref_interpolate(
        t,
        v,
        q,
        g,
        stepped=stepped,
        tuab=tuab,
        sloped=sloped,
        max_gap=max_gap,
        extrapolate=extrapolate,
    )
    for k, (wv, ws) in enumerate(want):
        assert int(status[k]) == ws, (k, hex(int(status[k])), hex(ws))
        gv = float(vals[k])
        assert (
            (math.isnan(gv) and math.isnan(wv))
            or gv == wv
            or abs(gv - wv) <= 1e-9 * max(1, abs(wv))
        ), (k, gv, wv)


def test_linear_step_and_no_extrapolation():
    t = np.array([0, 10], np.int64)
    v = np.array([0.0, 10.0])
    vals, _st = interpolate(t, v, grid_ns=np.array([-5, 0, 5, 10, 15], np.int64))
    assert vals[1:4].tolist() == [0.0, 5.0, 10.0]
    assert math.isnan(vals[0]) and math.isnan(vals[4])
    vals, _ = interpolate(t, v, grid_ns=np.array([5, 15], np.int64), stepped=True, extrapolate=True)
    assert vals.tolist() == [0.0, 10.0]


def test_max_gap_nulls_stale_values():
    t = np.array([0, 100], np.int64)
    vals, st_ = interpolate(
        t, np.array([1.0, 2.0]), grid_ns=np.array([0, 50, 100], np.int64), max_gap_ns=60
    )
    assert vals[0] == 1.0 and vals[2] == 2.0 and math.isnan(vals[1])
    assert st_[1] == ref.BAD_NO_DATA


def test_grid_and_errors():
    assert grid(0, 10, 5).tolist() == [0, 5, 10]
    assert grid(2**63 - 11, 2**63 - 1, 5).tolist()[-1] == 2**63 - 1
    with pytest.raises(InvalidArgumentError):
        grid(0, 10, 0)
    with pytest.raises(InvalidDataError):
        interpolate(np.array([0], np.int64), np.array([1.0]), grid_ns=np.array([0.5]))
    with pytest.raises(InvalidDataError):
        interpolate(np.array([0, 1], np.int64), np.array([1.0]), grid_ns=np.array([0]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    stepped=st.booleans(),
    sloped=st.booleans(),
    extrapolate=st.booleans(),
    max_gap=st.one_of(st.none(), st.integers(0, 2**62)),
)
def test_all_good_numpy_path_equals_kernel(data, stepped, sloped, extrapolate, max_gap):
    """All-Good data takes a numpy path (nothing to compile): bit for bit the kernel's results."""
    from historian.kernels import _part13
    from historian.kernels.interpolate import _interpolate_nb

    times = st.integers(-(2**62), 2**62)
    t = np.unique(np.array(data.draw(st.lists(times, min_size=1, max_size=12)), np.int64))
    v = np.array(data.draw(st.lists(st.floats(-1e6, 1e6), min_size=t.size, max_size=t.size)))
    g = np.array(
        data.draw(st.lists(times, min_size=1, max_size=12))
        + data.draw(st.lists(st.sampled_from(t.tolist()), max_size=3)),
        np.int64,
    )
    got = interpolate(
        t,
        v,
        grid_ns=g,
        stepped=stepped,
        max_gap_ns=max_gap,
        extrapolate=extrapolate,
        config={"UseSlopedExtrapolation": sloped},
    )
    q = np.zeros(t.size, np.uint32)
    want = _interpolate_nb(
        t,
        v,
        q,
        _part13.severities(v, q),
        g,
        False,
        stepped,
        sloped,
        np.int64(t[-1] + 1),
        extrapolate,
        np.int64(-1 if max_gap is None else max_gap),
    )
    assert got[1].dtype == np.uint32 and got[1].tolist() == want[1].tolist()
    np.testing.assert_array_equal(got[0], want[0])
