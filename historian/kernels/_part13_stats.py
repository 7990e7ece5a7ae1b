"""Numba twins of Part 13's per-interval statistics: good/bad regions, extremes, time averages,
worst quality, and the status of counts and durations.

One interval at a time, over the samples ``i0..i1`` between its edges ``a`` and ``b``, with the
conventions of :mod:`historian.kernels._part13`; :mod:`historian.kernels._part13`'s aggregate
kernels call these in their loop over the intervals.
"""

from __future__ import annotations

import numpy as np

from historian.kernels._config import (
    BAD_NO_DATA,
    CALCULATED,
    GOOD,
    INTERPOLATED,
    MULTI_VALUE,
    UNCERTAIN_SUB_NORMAL,
)
from historian.kernels._jit import njit
from historian.kernels._part13_bounds import (
    _dt,
    _interp_point,
    _last_usable,
    _past_end,
    _pct_status,
    _simple_bound,
    _usable,
    bisect_left,
)

_EPS = 1e-9


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
