"""Fast path for the common case: every sample Good and finite, sorted, no duplicates.

One pass over the samples of ``[start, end)`` gives count/mean/min/max/first/last/range (and
checks the preconditions on the way); another gives the time-weighted averages and totals.
Results are identical to the general Part 13 path on such data; intervals at the edges of the
data (before the first sample, after the last) are recomputed by the general path, which owns
those rules.
"""

from __future__ import annotations

import numpy as np

from historian.kernels import _part13
from historian.kernels._config import (
    BAD_NO_DATA,
    CALCULATED,
    GOOD,
    INFO_DATA_VALUE,
    MULTI_VALUE,
    PARTIAL,
)
from historian.kernels._jit import njit
from historian.kernels._prep import scan

_BASIC = {
    "Count",
    "Average",
    "Minimum",
    "Maximum",
    "MinimumActualTime",
    "MaximumActualTime",
    "Start",
    "End",
    "Range",
}
_TWA = {"TimeAverage", "TimeAverage2", "Total", "Total2"}
FAST_NAMES = frozenset(_BASIC | _TWA)


@njit(cache=True, nogil=True)
def edge_index(t, edges):  # pragma: no cover - compiled
    """searchsorted(t, edges, 'left') for sorted edges by galloping from the previous edge."""
    m = edges.size
    n = t.size
    out = np.empty(m, dtype=np.int64)
    lo = 0
    for k in range(m):
        x = edges[k]
        if lo >= n or t[lo] >= x:
            out[k] = lo
            continue
        # t[lo] < x: gallop to find hi with t[hi] >= x
        step = 1
        hi = lo + 1
        while hi < n and t[hi] < x:
            lo = hi
            step *= 2
            hi = lo + step
        if hi > n:
            hi = n
        # t[lo] < x <= t[hi] (or hi == n): binary search in (lo, hi]
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if t[mid] < x:
                lo = mid
            else:
                hi = mid
        lo = hi
        out[k] = lo
    return out


@njit(cache=True, nogil=True, fastmath=True)
def _sum_min_max(w):  # pragma: no cover - compiled
    # fastmath lets LLVM vectorise the reductions. It may assume no NaN/inf here, so finiteness is
    # verified separately (_checks_count, without those flags) and results are discarded if not.
    # Loops run over views with range(size): then no negative-index wraparound blocks SIMD.
    s = 0.0
    lo = w[0]
    hi = w[0]
    for i in range(w.size):
        x = w[i]
        s += x
        lo = min(lo, x)
        hi = max(hi, x)
    return s, lo, hi


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _sum(w):  # pragma: no cover - compiled
    s = 0.0
    for i in range(w.size):
        s += w[i]
    return s


@njit(cache=True, nogil=True)
def _checks(tw, tprev, qw):  # pragma: no cover - compiled
    qor = np.uint32(0)
    for i in range(qw.size):
        qor |= qw[i]
    bad = 0
    for i in range(1, tw.size):
        bad += tw[i] <= tw[i - 1]
    bad += tw[0] <= tprev
    return qor == 0 and bad == 0


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _checks_count(tw, tprev, qw, w, lo, hi):  # pragma: no cover - compiled
    """Values finite, times increasing and quality Good (``qw`` may be empty: no quality given),
    plus how often lo and hi occur in w and where first -- one branch-free loop that vectorises.
    Only "reassoc" here: no-NaN/no-inf assumptions would let LLVM fold the finiteness test."""
    qor = np.uint32(0)
    for i in range(qw.size):
        qor |= qw[i]
    n = w.size
    fin = 0.0
    bad = 0
    c_mn = 0
    c_mx = 0
    f_mn = n
    f_mx = n
    for i in range(n):
        x = w[i]
        fin += x - x  # NaN as soon as one value is NaN or +-inf
        prev = tw[i - 1] if i > 0 else tprev
        bad += tw[i] <= prev
        e_mn = x == lo
        e_mx = x == hi
        c_mn += e_mn
        c_mx += e_mx
        f_mn = min(f_mn, i if e_mn else n)
        f_mx = min(f_mx, i if e_mx else n)
    return qor == 0 and bad == 0 and fin == 0.0, c_mn, c_mx, f_mn, f_mx


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _trap2(tw, w):  # pragma: no cover - compiled
    acc = 0.0
    for i in range(tw.size - 1):
        acc += (w[i] + w[i + 1]) * float(tw[i + 1] - tw[i])
    return acc


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _step_area(tw, w):  # pragma: no cover - compiled
    acc = 0.0
    for i in range(tw.size - 1):
        acc += w[i] * float(tw[i + 1] - tw[i])
    return acc


@njit(cache=True, nogil=True)
def _twa_nb(t, v, q, edges, idx, stepped, k_lo, k_hi, area):  # pragma: no cover - compiled
    """ok; fills ``area`` with the integral (value*ns) per interval k in [k_lo, k_hi).

    Intervals k_lo..k_hi-1 must satisfy t[0] <= a and b <= t[-1]. Every slice is also verified
    (times increasing, quality Good, values finite); ok=False means: use the general path.
    """
    m = edges.size - 1
    for k in range(m):
        area[k] = 0.0
        i0 = idx[k]
        i1 = idx[k + 1]
        if i1 > i0:
            tprev = t[i0 - 1] if i0 > 0 else t[i0] - 1
            if not _checks(t[i0:i1], tprev, q[i0:i1]) or not np.isfinite(_sum(v[i0:i1])):
                return False
        if k < k_lo or k >= k_hi:
            continue
        a = edges[k]
        b = edges[k + 1]
        # value at a
        if t[i0] == a:
            va = v[i0]
        elif stepped:
            va = v[i0 - 1]
        else:
            va = v[i0 - 1] + (v[i0] - v[i0 - 1]) * ((a - t[i0 - 1]) / (t[i0] - t[i0 - 1]))
        if t[i1] == b:
            vb = v[i1]
        elif stepped:
            vb = v[i1 - 1]
        else:
            vb = v[i1 - 1] + (v[i1] - v[i1 - 1]) * ((b - t[i1 - 1]) / (t[i1] - t[i1 - 1]))
        if i1 <= i0:
            area[k] = (va if stepped else 0.5 * (va + vb)) * float(b - a)
            continue
        tw = t[i0:i1]
        w = v[i0:i1]
        if stepped:
            acc = va * float(t[i0] - a) + _step_area(tw, w) + v[i1 - 1] * float(b - t[i1 - 1])
        else:
            acc = (va + v[i0]) * float(t[i0] - a) + _trap2(tw, w)
            acc += (v[i1 - 1] + vb) * float(b - t[i1 - 1])
            acc *= 0.5
        area[k] = acc
    return True


_BASIC_CODES = {
    "Count": 0,
    "Average": 1,
    "Minimum": 2,
    "Maximum": 3,
    "MinimumActualTime": 4,
    "MaximumActualTime": 5,
    "Start": 6,
    "End": 7,
    "Range": 8,
}


@njit(cache=True, nogil=True)
def _basic_fused(
    t, v, q, edges, idx, want, ds, de, vals, times, status
):  # pragma: no cover - compiled
    """One pass: verify each interval's samples and write the wanted kinds (see _BASIC_CODES)
    into ``vals``, ``times``, ``status`` (shaped (len(want), m), allocated by the caller: numpy
    asks for huge pages, which makes first touch of large outputs several times cheaper).

    Returns ok=False when a sample is not Good/finite or times are not strictly increasing
    (the caller falls back to the general path).
    """
    m = edges.size - 1
    nk = want.size
    info = np.uint32(INFO_DATA_VALUE)
    calc = np.uint32(CALCULATED)
    zero = np.uint32(0)
    for k in range(m):
        a = edges[k]
        b = edges[k + 1]
        i0 = idx[k]
        i1 = idx[k + 1]
        n = i1 - i0
        s = 0.0
        lo = 0.0
        hi = 0.0
        c_mn = 0
        c_mx = 0
        t_mn = a
        t_mx = a
        if n > 0:
            w = v[i0:i1]
            s, lo, hi = _sum_min_max(w)
            tprev = t[i0 - 1] if i0 > 0 else t[i0] - 1
            ok, c_mn, c_mx, f_mn, f_mx = _checks_count(t[i0:i1], tprev, q[i0:i1], w, lo, hi)
            if not ok:
                return False
            t_mn = t[i0 + f_mn]
            t_mx = t[i0 + f_mx]
        out = a >= de or b <= ds
        part = np.uint32(PARTIAL) if (a < ds or b > de) else zero
        for j in range(nk):
            kind = want[j]
            tt = a
            val = np.nan
            st = np.uint32(BAD_NO_DATA)
            if not out and (n > 0 or kind == 0):
                if kind == 0:
                    val = float(n)
                    bits = calc | part
                elif kind == 1:
                    val = s / n
                    bits = calc
                elif kind == 8:
                    val = hi - lo
                    bits = calc | part
                elif kind <= 5:
                    is_min = kind == 2 or kind == 4
                    at = t_mn if is_min else t_mx
                    val = lo if is_min else hi
                    bits = part
                    if (c_mn if is_min else c_mx) > 1:
                        bits |= np.uint32(MULTI_VALUE)
                    if kind >= 4:
                        tt = at
                    elif at != a:
                        bits |= calc
                else:
                    e = i0 if kind == 6 else i1 - 1
                    val = v[e]
                    tt = t[e]
                    bits = part
                st = GOOD | bits | (info if bits != 0 else zero)
            vals[j, k] = val
            times[j, k] = tt
            status[j, k] = st
    return True


class FastPath:
    """Cached fast-path results for one series and one set of intervals (all-Good data)."""

    def __init__(self, t, v, q, edges, idx, data_end_ns, stepped, general, wanted=()):
        self.t, self.v, self.q, self.edges, self.idx = t, v, q, edges, idx
        self.de, self.stepped = int(data_end_ns), bool(stepped)
        self.general = general  # callable(p13_name, k_lo, k_hi) -> (values, times, status)
        self._results = None
        self.wanted = list(wanted)
        self.ok = True
        self.m = edges.size - 1

    def verify_outside(self) -> bool:
        """Check the samples outside the intervals (bounding values) the basic kernel skips."""
        lo, hi = int(self.idx[0]), int(self.idx[-1])
        for a, b in ((0, min(lo + 1, self.t.size)), (max(hi - 1, 0), self.t.size)):
            if b - a > 0:
                q = self.q[a:b] if self.q.size else np.zeros(b - a, dtype=np.uint32)
                state, good = scan(self.t[a:b], self.v[a:b], q)
                if state != 0 or not good:
                    return False
        return True

    def compute(self, name: str):
        if name in _BASIC:
            return self._compute_basic(name)
        if name in _TWA:
            return self._compute_twa(name)
        return None

    def _compute_basic(self, name):
        if self._results is None:
            kinds = [_BASIC_CODES[n] for n in self.wanted if n in _BASIC_CODES]
            if _BASIC_CODES[name] not in kinds:
                kinds.append(_BASIC_CODES[name])
            want = np.array(kinds, dtype=np.int64)
            shape = (len(kinds), self.m)
            out = (
                np.empty(shape),
                np.empty(shape, dtype=np.int64),
                np.empty(shape, dtype=np.uint32),
            )
            ok = _basic_fused(
                self.t, self.v, self.q, self.edges, self.idx, want, self.t[0], self.de, *out
            )
            self._results = (kinds, (ok, *out))
        kinds, (ok, vals, times, status) = self._results
        if not ok:
            self.ok = False
            return None
        j = kinds.index(_BASIC_CODES[name])
        return vals[j], times[j], status[j]

    def _compute_twa(self, name):
        t, edges = self.t, self.edges
        # interior intervals: t[0] <= a and b <= t[-1]
        k_lo = int(np.searchsorted(edges[:-1], t[0], side="left"))
        k_hi = int(np.searchsorted(edges[1:], t[-1], side="right"))
        k_hi = max(k_hi, k_lo)
        stepped = self.stepped and name in ("TimeAverage2", "Total2", "Total")
        area = np.empty(self.m)
        ok = _twa_nb(t, self.v, self.q, edges, self.idx, stepped, k_lo, k_hi, area)
        if not ok:
            return None
        span = (edges[1:] - edges[:-1]).astype(np.float64)
        vals = area / span if name in ("TimeAverage", "TimeAverage2") else area / 1000000000.0
        status = np.full(self.m, GOOD | CALCULATED | INFO_DATA_VALUE, dtype=np.uint32)
        times = edges[:-1].copy()
        if k_lo > 0:
            gv, _gt, gs = self.general(name, 0, k_lo)
            vals[:k_lo], status[:k_lo] = gv, gs
        if k_hi < self.m:
            gv, _gt, gs = self.general(name, k_hi, self.m)
            vals[k_hi:], status[k_hi:] = gv, gs
        return vals, times, status


def general_slice(p13_id, t, v, q, sev, edges, idx, cfg, stepped, de):
    """The general kernel on the intervals of ``edges`` (samples and idx already cut to them)."""
    return _part13.aggregate_general(
        np.int64(p13_id),
        t,
        v,
        q,
        sev,
        edges,
        idx,
        cfg.treat_uncertain_as_bad,
        cfg.percent_data_bad,
        cfg.percent_data_good,
        cfg.use_sloped_extrapolation,
        bool(stepped),
        np.int64(de),
    )
