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
    INFO_DATA_VALUE,
    INTERPOLATED,
    MULTI_VALUE,
    PARTIAL,
    UNCERTAIN_SUB_NORMAL,
)
from historian.kernels._jit import njit

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


@njit(cache=True, nogil=True)
def severities(v, code):  # pragma: no cover - compiled
    n = v.size
    sev = np.empty(n, dtype=np.int8)
    for i in range(n):
        c = code[i]
        if (c & 0x80000000) != 0 or not np.isfinite(v[i]):
            sev[i] = 2
        elif (c & 0x40000000) != 0:
            sev[i] = 1
        else:
            sev[i] = 0
    return sev


@njit(cache=True, nogil=True, inline="always")
def bisect_left(t, x):  # pragma: no cover - compiled
    """``np.searchsorted(t, x)`` (side left) for sorted ``t``; cheaper to compile."""
    lo = 0
    n = t.size
    while n > 0:  # branch-free halving (a conditional move per step)
        half = n >> 1
        go = t[lo + half] < x
        lo = lo + half + 1 if go else lo
        n = n - half - 1 if go else half
    return lo


@njit(cache=True, nogil=True, inline="always")
def _status(base, bits):
    if bits != 0:
        return np.int64(base) | np.int64(bits) | np.int64(INFO_DATA_VALUE)
    return np.int64(base)


@njit(cache=True, nogil=True, inline="always")
def _dt(a, b):
    """float(b - a) for a <= b without int64 overflow."""
    d = b - a
    if d < 0:
        return float(b) - float(a)
    return float(d)


@njit(cache=True, nogil=True, inline="always")
def _usable(s, tuab):
    return s == 0 or (s == 1 and not tuab)


@njit(cache=True, nogil=True, inline="always")
def _lerp(t0, v0, t1, v1, x):
    return v0 + (v1 - v0) * (_dt(t0, x) / _dt(t0, t1))


@njit(cache=True, nogil=True)
def _simple_bound(t, v, sev, code, x, tuab, stepped, de):
    """Simple bounding value at x -> (value, code, kind, severity).

    kind: 0 raw sample at x, 1 derived (interpolated or held), -1 none (Bad_NoData).
    """
    n = t.size
    j = bisect_left(t, x)
    if j < n and t[j] == x:
        if sev[j] == 2:
            return np.nan, np.int64(code[j]), 0, 2
        return v[j], np.int64(code[j]), 0, int(sev[j])
    if x >= de:
        return np.nan, np.int64(BAD_NO_DATA), -1, 2
    p = j - 1
    if p < 0:
        return np.nan, np.int64(BAD_NO_DATA), -1, 2
    if stepped:
        if sev[p] == 2:
            return np.nan, np.int64(BAD_NO_DATA), -1, 2
        return v[p], np.int64(code[p]), 1, int(sev[p])
    if not _usable(sev[p], tuab):
        return np.nan, np.int64(BAD_NO_DATA), -1, 2
    if j >= n or not _usable(sev[j], tuab):
        return v[p], np.int64(UNCERTAIN_SUB_NORMAL), 1, 1
    val = _lerp(t[p], v[p], t[j], v[j], x)
    if sev[p] == 0 and sev[j] == 0:
        return val, np.int64(GOOD), 1, 0
    return val, np.int64(UNCERTAIN_SUB_NORMAL), 1, 1


@njit(cache=True, nogil=True, inline="always")
def _last_usable(sev, i, tuab):
    """The last usable sample at or before index i (-1: none)."""
    while i >= 0 and not _usable(sev[i], tuab):
        i -= 1
    return i


@njit(cache=True, nogil=True, inline="always")
def _past_end(t, v, sev, p, x, tuab, sloped):
    """The value at x past the last usable sample p: held, or along the slope of the last two
    usable samples (``sloped``, when there are two)."""
    if sloped:
        pp = _last_usable(sev, p - 1, tuab)
        if pp >= 0:
            return _lerp(t[pp], v[pp], t[p], v[p], x)
    return v[p]


@njit(cache=True, nogil=True)
def _interp_point(t, v, sev, code, x, tuab, stepped, sloped_extrap, de):
    """Interpolated bounding value at x -> (value, base code, bits, ok, extrapolated).

    Interpolates across unusable samples (status UncertainDataSubNormal), extrapolates past the
    last usable sample (Uncertain, ``extrapolated``), never before the first one. A caller that
    does not extrapolate discards the extrapolated results (one specialisation for both).
    """
    n = t.size
    j = bisect_left(t, x)
    exact_unusable = False
    if j < n and t[j] == x:
        if _usable(sev[j], tuab) and x < de:
            return v[j], np.int64(code[j]), 0, True, False
        exact_unusable = True
    p = _last_usable(sev, j - 1, tuab)
    if p < 0:
        return np.nan, np.int64(BAD_NO_DATA), 0, False, False
    k = j + 1 if exact_unusable else j
    while k < n and not _usable(sev[k], tuab):
        k += 1
    if k >= n or x >= de:
        val = _past_end(t, v, sev, p, x, tuab, sloped_extrap and not stepped)
        return val, np.int64(UNCERTAIN_SUB_NORMAL), INTERPOLATED, True, True
    if stepped:
        good = sev[p] == 0 and p == j - 1 and not exact_unusable
        return v[p], np.int64(GOOD if good else UNCERTAIN_SUB_NORMAL), INTERPOLATED, True, False
    val = _lerp(t[p], v[p], t[k], v[k], x)
    good = sev[p] == 0 and sev[k] == 0 and k == p + 1
    return val, np.int64(GOOD if good else UNCERTAIN_SUB_NORMAL), INTERPOLATED, True, False


@njit(cache=True, nogil=True, inline="always")
def _pct_status(good_pct, bad_pct, pdg, pdb):
    if good_pct + _EPS >= pdg:
        return GOOD
    if bad_pct + _EPS >= pdb:
        return BAD
    return UNCERTAIN_SUB_NORMAL


@njit(cache=True, nogil=True)
def _regions(t, v, sev, code, a, b, i0, i1, tuab, stepped, de):
    """Time split of [a, min(b, de)) into Good / Uncertain / Bad ns, plus zero/non-zero Good ns.

    The part before the first sample of the interval takes the status of the simple bound at a;
    each sample's status holds until the next sample. Uncertain counts as Bad when tuab.
    """
    end = b if b < de else de
    g = 0.0
    u = 0.0
    bd = 0.0
    gz = 0.0
    gnz = 0.0
    if a >= end:
        return g, u, bd, gz, gnz
    if not (i0 < i1 and t[i0] == a):
        r_end = t[i0] if i0 < i1 else end
        if r_end > end:
            r_end = end
        bval, _bc, bkind, bsev = _simple_bound(t, v, sev, code, a, tuab, stepped, de)
        s = 2 if bkind == -1 else bsev
        d = _dt(a, r_end)
        if s == 0:
            g += d
            if bval == 0.0:
                gz += d
            else:
                gnz += d
        elif s == 1 and not tuab:
            u += d
        else:
            bd += d
    for i in range(i0, i1):
        if t[i] >= end:
            break
        nxt = t[i + 1] if i + 1 < i1 else end
        if nxt > end:
            nxt = end
        d = _dt(t[i], nxt)
        s = sev[i]
        if s == 0:
            g += d
            if v[i] == 0.0:
                gz += d
            else:
                gnz += d
        elif s == 1 and not tuab:
            u += d
        else:
            bd += d
    return g, u, bd, gz, gnz


@njit(cache=True, nogil=True)
def _time_status(t, v, sev, code, a, b, i0, i1, tuab, stepped, de, pdg, pdb):
    g, u, bd, _gz, _gnz = _regions(t, v, sev, code, a, b, i0, i1, tuab, stepped, de)
    total = g + u + bd
    if total <= 0.0:
        return GOOD
    return _pct_status(100.0 * (g + u) / total, 100.0 * bd / total, pdg, pdb)


@njit(cache=True, nogil=True, inline="always")
def _count_status(n, ng, nb, pdg, pdb):
    """Sample-count status (Count, NumberOfTransitions); -1 means plain Bad."""
    if n == 0:
        return GOOD
    if ng == 0 and nb == n:
        return -1
    return _pct_status(100.0 * ng / n, 100.0 * nb / n, pdg, pdb)


@njit(cache=True, nogil=True)
def _extreme(t, v, sev, code, a, b, i0, i1, tuab, want_max, actual_time):
    """Minimum/Maximum(ActualTime) over Good samples."""
    best = np.nan
    bi = -1
    cnt = 0
    all_usable = True
    for i in range(i0, i1):
        s = sev[i]
        if not _usable(s, tuab):
            all_usable = False
        if s != 0:
            continue
        x = v[i]
        if bi < 0 or (x > best if want_max else x < best):
            best = x
            bi = i
            cnt = 1
        elif x == best:
            cnt += 1
    if bi < 0:
        return np.nan, a, np.int64(BAD_NO_DATA), 0
    base = GOOD if all_usable else UNCERTAIN_SUB_NORMAL
    bits = 0
    if cnt > 1:
        bits |= MULTI_VALUE
    if actual_time:
        return best, t[bi], np.int64(base), bits
    if t[bi] != a:
        bits |= CALCULATED
    return best, a, np.int64(base), bits


@njit(cache=True, nogil=True)
def _good_stats(v, sev, i0, i1):
    """(n_good, n_all_good_flag, first, last, mean, m2) over Good samples (Welford)."""
    n = 0
    mean = 0.0
    m2 = 0.0
    first = np.nan
    last = np.nan
    all_good = True
    for i in range(i0, i1):
        if sev[i] != 0:
            all_good = False
            continue
        x = v[i]
        if n == 0:
            first = x
        last = x
        n += 1
        d = x - mean
        mean += d / n
        m2 += d * (x - mean)
    return n, all_good, first, last, mean, m2


@njit(cache=True, nogil=True)
def _extreme2(t, v, sev, code, a, b, i0, i1, tuab, stepped, de, pdg, pdb, want_max, actual_time):
    """Minimum2/Maximum2(ActualTime2): includes the simple bounding values."""
    best = np.nan
    where = -2  # -1 start bound, i sample, n end bound
    cnt = 0
    sb_kind = 0
    n = t.size
    raw_at_a = i0 < i1 and t[i0] == a
    if not raw_at_a:
        bval, _bc, bkind, bsev = _simple_bound(t, v, sev, code, a, tuab, stepped, de)
        if bkind != -1 and _usable(bsev, tuab):
            best = bval
            where = -1
            cnt = 1
            sb_kind = bkind
    for i in range(i0, i1):
        if not _usable(sev[i], tuab):
            continue
        x = v[i]
        if where == -2 or (x > best if want_max else x < best):
            best = x
            where = i
            cnt = 1
        elif x == best:
            cnt += 1
    eb_kind = 0
    if not stepped:
        eval_, _ec, ekind, esev = _simple_bound(t, v, sev, code, b, tuab, stepped, de)
        if ekind != -1 and _usable(esev, tuab):
            if where == -2 or (eval_ > best if want_max else eval_ < best):
                best = eval_
                where = n
                cnt = 1
                eb_kind = ekind
            elif eval_ == best:
                cnt += 1
    if where == -2:
        return np.nan, a, np.int64(BAD_NO_DATA), 0
    base = _time_status(t, v, sev, code, a, b, i0, i1, tuab, stepped, de, pdg, pdb)
    bits = MULTI_VALUE if cnt > 1 else 0
    if actual_time:
        if where == -1:
            return best, a, np.int64(base), bits | (INTERPOLATED if sb_kind == 1 else 0)
        if where == n:
            return best, b - 1, np.int64(base), bits | INTERPOLATED
        return best, t[where], np.int64(base), bits
    if where == -1:
        bits |= INTERPOLATED if sb_kind == 1 else 0
        if raw_at_a:
            bits |= 0
    elif where == n:
        bits |= INTERPOLATED if eb_kind == 1 else CALCULATED
    elif t[where] == a:
        pass
    else:
        bits |= CALCULATED
    return best, a, np.int64(base), bits


@njit(cache=True, nogil=True)
def _time_average(t, v, sev, code, a, b, i0, i1, tuab, stepped, sloped_extrap, de, first_usable):
    """TimeAverage/Total: interpolated bounds, Bad samples interpolated across.

    Returns (integral value*ns, covered ns, good_flag, ok).
    """
    if first_usable < 0:
        return 0.0, 0.0, False, False
    lo = a
    if t[first_usable] > lo:
        lo = t[first_usable]
    if lo >= b:
        return 0.0, 0.0, False, False
    v0, c0, _bits0, ok0, _x0 = _interp_point(t, v, sev, code, lo, tuab, stepped, sloped_extrap, de)
    if not ok0:
        return 0.0, 0.0, False, False
    v1, c1, _bits1, ok1, _x1 = _interp_point(t, v, sev, code, b, tuab, stepped, sloped_extrap, de)
    good = lo == a and (c0 & 0xC0000000) == 0 and ok1 and (c1 & 0xC0000000) == 0
    area = 0.0
    pt = lo
    pv = v0
    for i in range(i0, i1):
        if t[i] <= lo:
            if sev[i] != 0:
                good = False
            continue
        if sev[i] != 0:
            good = False
        if not _usable(sev[i], tuab):
            continue
        area += (pv if stepped else 0.5 * (pv + v[i])) * _dt(pt, t[i])
        pt = t[i]
        pv = v[i]
    area += (pv if stepped else 0.5 * (pv + v1)) * _dt(pt, b)
    return area, _dt(lo, b), good, True


@njit(cache=True, nogil=True, inline="always")
def _node_sev(s, tuab):
    if s == 1 and tuab:
        return 2
    return s


@njit(cache=True, nogil=True)
def _time_average2(t, v, sev, code, a, b, i0, i1, tuab, stepped, sloped_extrap, de, pdg, pdb):
    """TimeAverage2/Total2: simple bounds, Bad time excluded from value and denominator.

    Returns (integral value*ns, included ns, base status, ok).
    """
    extrap = sloped_extrap and not stepped and b > de
    end = b if (b <= de or extrap) else de
    if a >= end:
        return 0.0, 0.0, np.int64(BAD_NO_DATA), False
    # start node
    if i0 < i1 and t[i0] == a:
        lv = v[i0]
        ls = _node_sev(sev[i0], tuab)
        k0 = i0 + 1
    else:
        bval, _bc, bkind, bsev = _simple_bound(t, v, sev, code, a, tuab, stepped, de)
        lv = bval
        ls = 2 if bkind == -1 else bsev
        k0 = i0
    lt = a
    g = 0.0
    u = 0.0
    bd = 0.0
    area = 0.0
    k = k0
    while True:
        # next node
        if k < i1 and t[k] < end:
            rt = t[k]
            rv = v[k] if sev[k] != 2 else np.nan
            rs = _node_sev(sev[k], tuab)
            r_bound = False
        else:
            rt = end
            r_bound = True
            rs = 0
            rv = np.nan
            if extrap:  # along the slope past the data end (as _interp_point, which this
                # saves compiling for TimeAverage2: the common summaries do not need it)
                p = _last_usable(sev, bisect_left(t, b) - 1, tuab)
                rv = _past_end(t, v, sev, p, b, tuab, sloped_extrap) if p >= 0 else np.nan
                rs = 1 if p >= 0 else 2
            elif end == b:
                j = bisect_left(t, b)
                if j < t.size and t[j] == b:
                    r_bound = False  # a raw sample at b: belongs to the next interval
                    rv = v[j] if sev[j] != 2 else np.nan
                else:
                    ev, _ec, ekind, esev = _simple_bound(t, v, sev, code, b, tuab, stepped, de)
                    rv = ev
                    rs = 2 if ekind == -1 else esev
            else:
                r_bound = False  # end of data: no bound status
        s = ls
        if r_bound and rs > s:
            s = rs
        d = _dt(lt, rt)
        if s == 2:
            bd += d
        else:
            if s == 0:
                g += d
            else:
                u += d
            if stepped or not np.isfinite(rv):
                area += lv * d
            else:
                area += 0.5 * (lv + rv) * d
        if rt >= end:
            break
        lt = rt
        lv = rv
        ls = rs
        k += 1
    total = g + u + bd
    inc = g + u
    if inc <= 0.0:
        return 0.0, 0.0, np.int64(BAD_NO_DATA), False
    if tuab:
        base = _pct_status(100.0 * g / total, 100.0 * (bd + u) / total, pdg, pdb)
    else:
        base = _pct_status(100.0 * (g + u) / total, 100.0 * bd / total, pdg, pdb)
    return area, inc, np.int64(base), True


@njit(cache=True, nogil=True)
def _worst(t, v, sev, code, a, b, i0, i1, tuab, stepped, de, with_bounds):
    worst_rank = -1
    worst_code = np.int64(BAD_NO_DATA)
    cnt = 0
    for step in range(3):
        if step == 1:
            lo = i0
            hi = i1
        else:
            lo = 0
            hi = 0
            if with_bounds:
                hi = 1
        for i in range(lo, hi):
            if step == 1:
                c = np.int64(code[i])
                r = int(sev[i])
            else:
                x = a if step == 0 else b
                if step == 0 and i0 < i1 and t[i0] == a:
                    continue
                _bv, c, bkind, bsev = _simple_bound(t, v, sev, code, x, tuab, stepped, de)
                r = 2 if bkind == -1 else bsev
            if r > worst_rank:
                worst_rank = r
                worst_code = c
                cnt = 1
            elif r == worst_rank:
                cnt += 1
    if worst_rank < 0:
        return np.nan, np.int64(BAD_NO_DATA), False
    return float(worst_code), np.int64(MULTI_VALUE if (cnt > 1 and worst_rank > 0) else 0), True


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
def _agg_interpolative(agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped,
                       de):  # pragma: no cover - compiled
    """Interpolative: the interpolated value at each interval start."""
    out_v, out_t, out_s = _outputs(edges)
    if t.size == 0:
        return out_v, out_t, out_s
    for k in range(edges.size - 1):
        val, c, bits, ok, _x = _interp_point(t, v, sev, code, edges[k], tuab, stepped,
                                             sloped_extrap, de)
        if ok:
            out_v[k] = val
            out_s[k] = _status(c, bits)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_samples(agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped,
                 de):  # pragma: no cover - compiled
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
                out_v[k] = np.sqrt(var) if (agg in (A_STD_SAMPLE, A_STD_POPULATION)) \
                    else var
                out_s[k] = _status(GOOD if allg else UNCERTAIN_SUB_NORMAL, CALCULATED | partial)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_time_average(agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped,
                      de):  # pragma: no cover - compiled
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
        area, cov, good, ok = _time_average(t, v, sev, code, a, b, idx[k], idx[k + 1], tuab, st,
                                            sloped_extrap, de, first_usable)
        if ok and cov > 0.0:
            out_v[k] = area / cov if agg == A_TIME_AVERAGE else area / 1e9
            base = GOOD if good else UNCERTAIN_SUB_NORMAL
            out_s[k] = _status(base, CALCULATED | partial)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_time_average2(agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped,
                       de):  # pragma: no cover - compiled
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
        area, inc, base, ok = _time_average2(t, v, sev, code, a, b, idx[k], idx[k + 1], tuab,
                                             stepped, sloped_extrap, de, pdg, pdb)
        if ok:
            if base != BAD:
                out_v[k] = area / inc if agg == A_TIME_AVERAGE2 else area / 1e9
            out_s[k] = _status(base, CALCULATED | partial)
    return out_v, out_t, out_s


@njit(cache=True, nogil=True)
def _agg_bounded(agg, t, v, code, sev, edges, idx, tuab, pdb, pdg, sloped_extrap, stepped,
                 de):  # pragma: no cover - compiled
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
            val, tt, base, bits = _extreme2(t, v, sev, code, a, b, i0, i1, tuab, stepped, de,
                                            pdg, pdb, want_max, actual)
            out_t[k] = tt
            if np.isfinite(val):
                out_v[k] = val if base != BAD else np.nan
                out_s[k] = _status(base, bits | partial)
        elif agg == A_RANGE2:
            mn, _t1, b1, _x1 = _extreme2(t, v, sev, code, a, b, i0, i1, tuab, stepped, de,
                                         pdg, pdb, no, no)
            mx, _t2, _b2, _x2 = _extreme2(t, v, sev, code, a, b, i0, i1, tuab, stepped, de,
                                          pdg, pdb, not no, no)
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
        elif agg in (A_DURATION_GOOD, A_DURATION_BAD, A_PERCENT_GOOD, A_PERCENT_BAD,
                     A_DURATION_IN_STATE_ZERO, A_DURATION_IN_STATE_NON_ZERO):
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
            val, bits, ok = _worst(t, v, sev, code, a, b, i0, i1, tuab, stepped, de,
                                   agg == A_WORST_QUALITY2)
            if ok:
                out_v[k] = val
                out_s[k] = _status(GOOD, CALCULATED | bits | partial)
    return out_v, out_t, out_s


_KERNEL_OF = {A_INTERPOLATIVE: _agg_interpolative}
for _a in (A_AVERAGE, A_MINIMUM, A_MAXIMUM, A_MINIMUM_ACTUAL_TIME, A_MAXIMUM_ACTUAL_TIME, A_RANGE,
           A_COUNT, A_NUMBER_OF_TRANSITIONS, A_START, A_END, A_DELTA, A_STD_SAMPLE,
           A_STD_POPULATION, A_VAR_SAMPLE, A_VAR_POPULATION):
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
        np.int64(agg), t, v, code, sev, edges, idx, bool(tuab), float(pdb), float(pdg),
        bool(sloped_extrap), bool(stepped), np.int64(de),
    )
