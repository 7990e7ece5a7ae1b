"""Numba twins of the OPC UA Part 13 aggregates (general path: any quality, any config).

Conventions inside this module
------------------------------
* ``t`` int64 ns strictly increasing, ``v`` float64, ``code`` uint32 raw StatusCodes,
  ``sev`` int8 severity: 0 Good, 1 Uncertain, 2 Bad (non-finite values are Bad).
* A sample is *usable* when Good, or Uncertain while TreatUncertainAsBad is off.
* ``de`` is the end of the known history (exclusive); ``ds`` the first sample time.
* Simple bounds (``_simple_bound``) follow Part 13 5.4.2.3; interpolated bounds
  (``_interp_point``) follow 5.4.2.2 and are what Interpolative/TimeAverage use.

Compile cost (the first call on a fresh machine compiles what it calls): the aggregates are
grouped into a few kernels by the helpers they need (:func:`aggregate_general` picks one), so a
call compiles only its group; helpers are called with runtime values, never literal constants
(Numba compiles one specialisation per literal: ``f(x, True)`` and ``f(x, flag)`` are two), and
the one-line helpers are inlined into their callers (``inline="always"``) instead of being
compiled on their own.
"""

from __future__ import annotations

import numpy as np

from historian.kernels._config import (
    BAD,
    BAD_NO_DATA,
    CALCULATED,
    GOOD,
    INTERPOLATED,
    PARTIAL,
    UNCERTAIN_SUB_NORMAL,
)
from historian.kernels._jit import njit
from historian.kernels._part13_bounds import (
    _dt,
    _interp_point,
    _pct_status,
    _simple_bound,
    _status,
    _usable,
    bisect_left,
    severities,
)
from historian.kernels._part13_stats import (
    _count_status,
    _extreme,
    _extreme2,
    _good_stats,
    _regions,
    _time_average,
    _time_average2,
    _worst,
)

# What the other kernels use (the helpers are private to kernels/, shared by its modules).
__all__ = [
    "A_AVERAGE",
    "A_COUNT",
    "A_DELTA",
    "A_DELTA_BOUNDS",
    "A_DURATION_BAD",
    "A_DURATION_GOOD",
    "A_DURATION_IN_STATE_NON_ZERO",
    "A_DURATION_IN_STATE_ZERO",
    "A_END",
    "A_END_BOUND",
    "A_INTERPOLATIVE",
    "A_MAXIMUM",
    "A_MAXIMUM2",
    "A_MAXIMUM_ACTUAL_TIME",
    "A_MAXIMUM_ACTUAL_TIME2",
    "A_MINIMUM",
    "A_MINIMUM2",
    "A_MINIMUM_ACTUAL_TIME",
    "A_MINIMUM_ACTUAL_TIME2",
    "A_NUMBER_OF_TRANSITIONS",
    "A_PERCENT_BAD",
    "A_PERCENT_GOOD",
    "A_RANGE",
    "A_RANGE2",
    "A_START",
    "A_START_BOUND",
    "A_STD_POPULATION",
    "A_STD_SAMPLE",
    "A_TIME_AVERAGE",
    "A_TIME_AVERAGE2",
    "A_TOTAL",
    "A_TOTAL2",
    "A_VAR_POPULATION",
    "A_VAR_SAMPLE",
    "A_WORST_QUALITY",
    "A_WORST_QUALITY2",
    "_agg_time_average2",
    "_dt",
    "_interp_point",
    "_simple_bound",
    "_status",
    "_time_average2",
    "_usable",
    "aggregate_general",
    "bisect_left",
    "severities",
]

# Aggregate ids (the public names live in aggregates.py).
A_INTERPOLATIVE = 0
A_AVERAGE = 1
A_TIME_AVERAGE = 2
A_TIME_AVERAGE2 = 3
A_TOTAL = 4
A_TOTAL2 = 5
A_MINIMUM = 6
A_MAXIMUM = 7
A_MINIMUM_ACTUAL_TIME = 8
A_MAXIMUM_ACTUAL_TIME = 9
A_RANGE = 10
A_MINIMUM2 = 11
A_MAXIMUM2 = 12
A_MINIMUM_ACTUAL_TIME2 = 13
A_MAXIMUM_ACTUAL_TIME2 = 14
A_RANGE2 = 15
A_COUNT = 16
A_START = 17
A_END = 18
A_DELTA = 19
A_START_BOUND = 20
A_END_BOUND = 21
A_DELTA_BOUNDS = 22
A_DURATION_GOOD = 23
A_DURATION_BAD = 24
A_PERCENT_GOOD = 25
A_PERCENT_BAD = 26
A_WORST_QUALITY = 27
A_WORST_QUALITY2 = 28
A_DURATION_IN_STATE_ZERO = 29
A_DURATION_IN_STATE_NON_ZERO = 30
A_NUMBER_OF_TRANSITIONS = 31
A_STD_SAMPLE = 32
A_STD_POPULATION = 33
A_VAR_SAMPLE = 34
A_VAR_POPULATION = 35

_EPS = 1e-9


@njit(cache=True, nogil=True, inline="always")
def _outputs(edges):  # pragma: no cover - compiled
    """(values NaN, times = interval starts, status Bad_NoData) for the intervals of edges."""
    m = edges.size - 1
    out_v = np.empty(m)
    out_t = np.empty(m, dtype=np.int64)
    out_s = np.empty(m, dtype=np.uint32)
    for k in range(m):
        out_v[k] = np.nan
        out_t[k] = edges[k]
        out_s[k] = BAD_NO_DATA
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_interpolative(
    agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped, de
):  # pragma: no cover - compiled
    """Interpolative: the interpolated value at each interval start."""
    out_v, out_t, out_s = _outputs(edges)
    if t.size == 0:
        return out_v, out_t, out_s
    for k in range(edges.size - 1):
        val, c, bits, ok, _x = _interp_point(
            t, v, sev, code, edges[k], tuab, stepped, sloped_extrap, de
        )
        if ok:
            out_v[k] = val
            out_s[k] = _status(c, bits)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_samples(
    agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped, de
):  # pragma: no cover - compiled
    """The aggregates of the samples inside each interval (no bounding values): Average, Delta,
    StandardDeviation/Variance, Minimum/Maximum(ActualTime), Range, Count, NumberOfTransitions,
    Start, End."""
    out_v, out_t, out_s = _outputs(edges)
    n = t.size
    if n == 0:
        return out_v, out_t, out_s
    ds = t[0]
    no = agg < 0  # False as a runtime value (see the module docstring)
    for k in range(edges.size - 1):
        a = edges[k]
        b = edges[k + 1]
        i0 = idx[k]
        i1 = idx[k + 1]
        if a >= de or b <= ds:
            continue
        partial = PARTIAL if (a < ds or b > de) else 0
        if agg == A_AVERAGE:
            ng, allg, _f, _l, mean, _m2 = _good_stats(v, sev, i0, i1)
            if ng > 0:
                out_v[k] = mean
                out_s[k] = _status(GOOD if allg else UNCERTAIN_SUB_NORMAL, CALCULATED)
        elif agg in (A_MINIMUM, A_MAXIMUM, A_MINIMUM_ACTUAL_TIME, A_MAXIMUM_ACTUAL_TIME):
            want_max = agg in (A_MAXIMUM, A_MAXIMUM_ACTUAL_TIME)
            actual = agg in (A_MINIMUM_ACTUAL_TIME, A_MAXIMUM_ACTUAL_TIME)
            val, tt, base, bits = _extreme(t, v, sev, code, a, b, i0, i1, tuab, want_max, actual)
            out_t[k] = tt
            if np.isfinite(val):
                out_v[k] = val
                out_s[k] = _status(base, bits | partial)
        elif agg == A_RANGE:
            mn, _t1, b1, _bits1 = _extreme(t, v, sev, code, a, b, i0, i1, tuab, no, no)
            mx, _t2, _b2, _bits2 = _extreme(t, v, sev, code, a, b, i0, i1, tuab, not no, no)
            if np.isfinite(mn):
                out_v[k] = mx - mn
                out_s[k] = _status(b1, CALCULATED | partial)
        elif agg in (A_COUNT, A_NUMBER_OF_TRANSITIONS):
            ng = 0
            nb = 0
            for i in range(i0, i1):
                if sev[i] == 0:
                    ng += 1
                elif not _usable(sev[i], tuab):
                    nb += 1
            base = _count_status(i1 - i0, ng, nb, pdg, pdb)
            if base == -1 or base == BAD:
                out_s[k] = BAD
                continue
            if agg == A_COUNT:
                out_v[k] = float(ng)
            else:
                p = i0 - 1
                while p >= 0 and not _usable(sev[p], tuab):
                    p -= 1
                have = p >= 0
                prev = v[p] if have else 0.0
                trans = 0
                for i in range(i0, i1):
                    if not _usable(sev[i], tuab):
                        continue
                    if not have or v[i] != prev:
                        trans += 1
                    have = True
                    prev = v[i]
                out_v[k] = float(trans)
            out_s[k] = _status(base, CALCULATED | partial)
        elif agg in (A_START, A_END):
            if i1 > i0:
                i = i0 if agg == A_START else i1 - 1
                out_t[k] = t[i]
                out_v[k] = v[i] if sev[i] != 2 else np.nan
                out_s[k] = _status(np.int64(code[i]) & ~np.int64(0x41F), partial)
        elif agg == A_DELTA:
            ng, allg, first, last, _mean, _m2 = _good_stats(v, sev, i0, i1)
            if ng > 0:
                out_v[k] = last - first
                out_s[k] = _status(GOOD if allg else UNCERTAIN_SUB_NORMAL, CALCULATED | partial)
        elif agg in (A_STD_SAMPLE, A_STD_POPULATION, A_VAR_SAMPLE, A_VAR_POPULATION):
            ng, allg, _f, _l, _mean, m2 = _good_stats(v, sev, i0, i1)
            if ng > 0:
                if agg in (A_STD_SAMPLE, A_VAR_SAMPLE):
                    var = m2 / (ng - 1) if ng > 1 else 0.0
                else:
                    var = m2 / ng
                if var < 0.0:
                    var = 0.0
                out_v[k] = np.sqrt(var) if (agg in (A_STD_SAMPLE, A_STD_POPULATION)) else var
                out_s[k] = _status(GOOD if allg else UNCERTAIN_SUB_NORMAL, CALCULATED | partial)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_time_average(
    agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped, de
):  # pragma: no cover - compiled
    """TimeAverage and Total (interpolated bounds, Bad samples interpolated across)."""
    out_v, out_t, out_s = _outputs(edges)
    n = t.size
    if n == 0:
        return out_v, out_t, out_s
    ds = t[0]
    first_usable = -1
    for i in range(n):
        if _usable(sev[i], tuab):
            first_usable = i
            break
    # Part 13 v1.05: TimeAverage always uses sloped lines, Total follows Stepped.
    st = stepped and agg == A_TOTAL
    for k in range(edges.size - 1):
        a = edges[k]
        b = edges[k + 1]
        if a >= de or b <= ds:
            continue
        partial = PARTIAL if (a < ds or b > de) else 0
        area, cov, good, ok = _time_average(
            t, v, sev, code, a, b, idx[k], idx[k + 1], tuab, st, sloped_extrap, de, first_usable
        )
        if ok and cov > 0.0:
            out_v[k] = area / cov if agg == A_TIME_AVERAGE else area / 1e9
            base = GOOD if good else UNCERTAIN_SUB_NORMAL
            out_s[k] = _status(base, CALCULATED | partial)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_time_average2(
    agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped, de
):  # pragma: no cover - compiled
    """TimeAverage2 and Total2 (simple bounds, Bad time excluded)."""
    out_v, out_t, out_s = _outputs(edges)
    n = t.size
    if n == 0:
        return out_v, out_t, out_s
    ds = t[0]
    for k in range(edges.size - 1):
        a = edges[k]
        b = edges[k + 1]
        if a >= de or b <= ds:
            continue
        partial = PARTIAL if (a < ds or b > de) else 0
        area, inc, base, ok = _time_average2(
            t, v, sev, code, a, b, idx[k], idx[k + 1], tuab, stepped, sloped_extrap, de, pdg, pdb
        )
        if ok:
            if base != BAD:
                out_v[k] = area / inc if agg == A_TIME_AVERAGE2 else area / 1e9
            out_s[k] = _status(base, CALCULATED | partial)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_bounded(
    agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped, de
):  # pragma: no cover - compiled
    """The aggregates that use the simple bounding values: Minimum2/Maximum2(ActualTime2),
    Range2, StartBound, EndBound, DeltaBounds, DurationGood/Bad, PercentGood/Bad,
    DurationInStateZero/NonZero, WorstQuality(2)."""
    out_v, out_t, out_s = _outputs(edges)
    n = t.size
    if n == 0:
        return out_v, out_t, out_s
    ds = t[0]
    no = agg < 0  # False as a runtime value (see the module docstring)
    for k in range(edges.size - 1):
        a = edges[k]
        b = edges[k + 1]
        i0 = idx[k]
        i1 = idx[k + 1]
        if a >= de or b <= ds:
            continue
        partial = PARTIAL if (a < ds or b > de) else 0
        if agg in (A_MINIMUM2, A_MAXIMUM2, A_MINIMUM_ACTUAL_TIME2, A_MAXIMUM_ACTUAL_TIME2):
            want_max = agg in (A_MAXIMUM2, A_MAXIMUM_ACTUAL_TIME2)
            actual = agg in (A_MINIMUM_ACTUAL_TIME2, A_MAXIMUM_ACTUAL_TIME2)
            val, tt, base, bits = _extreme2(
                t, v, sev, code, a, b, i0, i1, tuab, stepped, de, pdg, pdb, want_max, actual
            )
            out_t[k] = tt
            if np.isfinite(val):
                out_v[k] = val if base != BAD else np.nan
                out_s[k] = _status(base, bits | partial)
        elif agg == A_RANGE2:
            mn, _t1, b1, _x1 = _extreme2(
                t, v, sev, code, a, b, i0, i1, tuab, stepped, de, pdg, pdb, no, no
            )
            mx, _t2, _b2, _x2 = _extreme2(
                t, v, sev, code, a, b, i0, i1, tuab, stepped, de, pdg, pdb, not no, no
            )
            if np.isfinite(mn):
                out_v[k] = mx - mn if b1 != BAD else np.nan
                out_s[k] = _status(b1, CALCULATED | partial)
        elif agg in (A_START_BOUND, A_END_BOUND, A_DELTA_BOUNDS):
            sv, sc, skind, ssev = _simple_bound(t, v, sev, code, a, tuab, stepped, de)
            ev, _ec, ekind, esev = _simple_bound(t, v, sev, code, b, tuab, stepped, de)
            s_ok = skind != -1 and _usable(ssev, tuab)
            e_ok = ekind != -1 and _usable(esev, tuab)
            if agg == A_START_BOUND:
                if s_ok:
                    out_v[k] = sv
                    if skind == 0:
                        base = sc & np.int64(0xFFFF0000)
                    elif ssev == 0:
                        base = np.int64(GOOD)
                    else:
                        base = np.int64(UNCERTAIN_SUB_NORMAL)
                    out_s[k] = _status(base, (INTERPOLATED if skind == 1 else 0) | partial)
                else:
                    out_s[k] = _status(BAD_NO_DATA, partial)
            elif agg == A_END_BOUND:
                if e_ok:
                    out_v[k] = ev
                    base = np.int64(GOOD) if esev == 0 else np.int64(UNCERTAIN_SUB_NORMAL)
                    out_s[k] = _status(base, CALCULATED | partial)
                else:
                    out_s[k] = _status(BAD_NO_DATA, partial)
            else:
                if s_ok and e_ok:
                    out_v[k] = ev - sv
                    base = GOOD if (ssev == 0 and esev == 0) else UNCERTAIN_SUB_NORMAL
                    out_s[k] = _status(base, CALCULATED | partial)
                else:
                    out_s[k] = _status(BAD_NO_DATA, partial)
        elif agg in (
            A_DURATION_GOOD,
            A_DURATION_BAD,
            A_PERCENT_GOOD,
            A_PERCENT_BAD,
            A_DURATION_IN_STATE_ZERO,
            A_DURATION_IN_STATE_NON_ZERO,
        ):
            g, u, bd, gz, gnz = _regions(t, v, sev, code, a, b, i0, i1, tuab, stepped, de)
            total = g + u + bd
            if agg == A_DURATION_GOOD:
                out_v[k] = g
            elif agg == A_DURATION_BAD:
                out_v[k] = bd
            elif agg == A_PERCENT_GOOD:
                out_v[k] = 100.0 * g / total if total > 0 else 0.0
            elif agg == A_PERCENT_BAD:
                out_v[k] = 100.0 * bd / total if total > 0 else 0.0
            elif agg == A_DURATION_IN_STATE_ZERO:
                out_v[k] = gz
            else:
                out_v[k] = gnz
            if agg in (A_DURATION_IN_STATE_ZERO, A_DURATION_IN_STATE_NON_ZERO):
                base = GOOD
                if total > 0:
                    base = _pct_status(100.0 * (g + u) / total, 100.0 * bd / total, pdg, pdb)
                out_s[k] = _status(base, CALCULATED | partial)
            else:
                out_s[k] = _status(GOOD, CALCULATED | partial)
        elif agg in (A_WORST_QUALITY, A_WORST_QUALITY2):
            val, bits, ok = _worst(
                t, v, sev, code, a, b, i0, i1, tuab, stepped, de, agg == A_WORST_QUALITY2
            )
            if ok:
                out_v[k] = val
                out_s[k] = _status(GOOD, CALCULATED | bits | partial)
    return out_v, out_t, out_s


_KERNEL_OF = {A_INTERPOLATIVE: _agg_interpolative}
for _a in (
    A_AVERAGE,
    A_MINIMUM,
    A_MAXIMUM,
    A_MINIMUM_ACTUAL_TIME,
    A_MAXIMUM_ACTUAL_TIME,
    A_RANGE,
    A_COUNT,
    A_NUMBER_OF_TRANSITIONS,
    A_START,
    A_END,
    A_DELTA,
    A_STD_SAMPLE,
    A_STD_POPULATION,
    A_VAR_SAMPLE,
    A_VAR_POPULATION,
):
    _KERNEL_OF[_a] = _agg_samples
for _a in (A_TIME_AVERAGE, A_TOTAL):
    _KERNEL_OF[_a] = _agg_time_average
for _a in (A_TIME_AVERAGE2, A_TOTAL2):
    _KERNEL_OF[_a] = _agg_time_average2
for _a in range(A_VAR_POPULATION + 1):
    _KERNEL_OF.setdefault(_a, _agg_bounded)


def aggregate_general(agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped, de):
    """All intervals of one aggregate: returns (values, times, status uint32).

    Runs the kernel of the aggregate's group, so the first call compiles that group only. The
    arguments are converted to the one set of types each kernel is compiled for.
    """
    return _KERNEL_OF[int(agg)](
        np.int64(agg),
        t,
        v,
        code,
        sev,
        edges,
        idx,
        bool(tuab),
        float(pdb),
        float(pdg),
        bool(sloped_extrap),
        bool(stepped),
        np.int64(de),
    )
