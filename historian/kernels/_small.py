"""numpy twins of the fast paths for small inputs: nothing to compile on a first call.

A first session (a few thousand points: the README's demo, a notebook's first cell, a test)
would otherwise wait seconds for Numba to compile the fast-path kernels (and the general
TimeAverage2 kernel for the intervals at the edges of the data). Below :data:`MAX_POINTS` samples
the same results come from vectorised numpy:

* :func:`fast_stats`: the fast-path aggregates (count, mean, min, max and their actual times,
  first, last, range, TimeAverage/TimeAverage2/Total/Total2) on all-Good, finite, strictly
  increasing data, including the TimeAverage2/Total2 intervals at the edges of the data;
* :func:`plot_indices_small`: the plot samples of strictly increasing data;
* :func:`qualify_small`: the range, non-finite, future and past rules (the stateless ones;
  with a rate-of-change, flatline, gap or spike rule the kernel runs).

Counts, extremes, reported times, indices and StatusCodes are identical to the kernels'; sums
(mean, time averages, totals) are the same sums taken in another order, so they agree to the
last bits (the kernels add in SIMD order, which depends on the CPU), as the fast path agrees
with the general path. Anything else (a Bad sample, unsorted times, sloped extrapolation, a
TimeAverage interval at the data's edge, more points) returns ``None`` and the caller runs the
kernels. numpy only: importing this module compiles nothing.

Examples
--------
>>> import numpy as np
>>> from historian.kernels._config import AggregateConfig
>>> t = np.array([0, 10, 20, 30], dtype=np.int64)
>>> edges = np.array([0, 20, 40], dtype=np.int64)
>>> out = fast_stats(t, np.array([1.0, 2.0, 3.0, 4.0]), np.empty(0, np.uint32), edges,
...                  [("max", "Maximum")], AggregateConfig(), stepped=False, de=31)
>>> out["max"][0].tolist()
[2.0, 4.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.kernels._config import (
    BAD,
    BAD_NO_DATA,
    CALCULATED,
    GOOD,
    INFO_DATA_VALUE,
    MULTI_VALUE,
    PARTIAL,
    UNCERTAIN_SUB_NORMAL,
    AggregateConfig,
)

__all__ = ["MAX_POINTS", "fast_stats", "plot_indices_small", "qualify_small", "scan_small"]

#: Inputs of at most this many samples (per call) take the numpy paths.
MAX_POINTS = 4096
#: At most this many TimeAverage2/Total2 intervals at the data's edges are computed here.
_MAX_EDGE_INTERVALS = 64
_EPS = 1e-9  # as in _part13
_I64_MAX = 2**63 - 1
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

Result = tuple[np.ndarray, np.ndarray, np.ndarray]


def all_good_increasing(t: np.ndarray, v: np.ndarray, q: np.ndarray) -> bool:
    """Every quality Good (``q`` may be empty), every value finite, times strictly increasing."""
    if q.size and q.any():
        return False
    return bool(np.isfinite(v).all()) and bool((t[1:] > t[:-1]).all())


def scan_small(t: np.ndarray, v: np.ndarray, q: np.ndarray) -> tuple[int, bool]:
    """``_prep.scan``: (0 strictly increasing, 1 sorted with duplicates, 2 unsorted; every
    quality Good and value finite)."""
    d = t[1:] - t[:-1] if t.size > 1 else np.empty(0, dtype=np.int64)
    unsorted = bool((t[1:] < t[:-1]).any())
    state = 2 if unsorted else (1 if bool((d == 0).any()) else 0)
    return state, not bool(q.any()) and bool(np.isfinite(v).all())


def _segments(x: np.ndarray, starts: np.ndarray, ufunc: Any) -> np.ndarray:
    """``ufunc`` over ``x[starts[j]:starts[j+1]]`` (the last to the end): ``starts`` ascending,
    each segment non-empty."""
    if starts.size == 0:
        return np.empty(0, dtype=x.dtype)
    out: np.ndarray = ufunc.reduceat(x, starts)
    return out


def _first_where(mask: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Per segment (as in :func:`_segments`) the first index where ``mask``, else ``size``."""
    pos = np.where(mask, np.arange(mask.size), size)
    return _segments(pos, starts, np.minimum)


class _Basics:
    """The basic aggregates as ``_fast._basic_fused`` computes them, sharing the interval
    bookkeeping and the reductions between the stats of one call."""

    def __init__(
        self, t: np.ndarray, v: np.ndarray, edges: np.ndarray, idx: np.ndarray, de: int
    ) -> None:
        self.t, self.v, self.idx = t, v, idx
        self.m = edges.size - 1
        self.a = edges[:-1]
        b = edges[1:]
        self.cnt = idx[1:] - idx[:-1]
        self.ne = np.flatnonzero(self.cnt > 0)
        self.lo_i = int(idx[0])
        self.w = v[self.lo_i : int(idx[-1])]
        self.starts = idx[:-1][self.ne] - self.lo_i
        self.out = (self.a >= de) | (b <= t[0])
        self.part = np.where((self.a < t[0]) | (b > de), np.uint32(PARTIAL), np.uint32(0))
        self.ok = ~self.out & (self.cnt > 0)
        self.sel = self.ok[self.ne]  # the non-empty intervals that report a value
        self.k = self.ne[self.sel]
        self._ext: dict[bool, np.ndarray] = {}

    def extreme(self, is_min: bool) -> np.ndarray:
        if is_min not in self._ext:
            self._ext[is_min] = _segments(self.w, self.starts, np.minimum if is_min else np.maximum)
        return self._ext[is_min]

    def result(self, name: str) -> Result:
        """One basic aggregate (a Part 13 name of ``_BASIC``)."""
        t, v, k, sel = self.t, self.v, self.k, self.sel
        vals = np.full(self.m, np.nan)
        times = self.a.copy()
        status = np.full(self.m, BAD_NO_DATA, dtype=np.uint32)
        calc = np.uint32(CALCULATED)
        ok = self.ok
        bits = self.part.copy()
        if name == "Count":
            ok = ~self.out
            vals[ok] = self.cnt[ok].astype(np.float64)
            bits |= calc
        elif name == "Average":
            vals[k] = _segments(self.w, self.starts, np.add)[sel] / self.cnt[k]
            bits = np.full(self.m, calc, dtype=np.uint32)
        elif name == "Range":
            vals[k] = (self.extreme(False) - self.extreme(True))[sel]
            bits |= calc
        elif name in ("Start", "End"):
            e = self.idx[:-1][k] if name == "Start" else self.idx[1:][k] - 1
            vals[k] = v[e]
            times[k] = t[e]
        else:
            is_min = name in ("Minimum", "MinimumActualTime")
            ext = self.extreme(is_min)
            eq = self.w == np.repeat(ext, self.cnt[self.ne])
            first = _first_where(eq, self.starts, self.w.size)
            many = _segments(eq.astype(np.int64), self.starts, np.add) > 1
            vals[k] = ext[sel]
            at = t[self.lo_i + first[sel]]
            bits[k[many[sel]]] |= np.uint32(MULTI_VALUE)
            if name.endswith("ActualTime"):
                times[k] = at
            else:
                bits[k[at != self.a[k]]] |= calc
        info = np.where(bits != 0, np.uint32(INFO_DATA_VALUE), np.uint32(0))
        status[ok] = (np.uint32(GOOD) | bits | info)[ok]
        return vals, times, status


def _interior_area(
    t: np.ndarray, v: np.ndarray, edges: np.ndarray, idx: np.ndarray, ks: np.ndarray, stepped: bool
) -> np.ndarray:
    """``_fast._twa_nb``'s integral (value x ns) over the intervals ``ks``, each inside
    ``[t[0], t[-1]]``."""
    a, b = edges[ks], edges[ks + 1]
    i0, i1 = idx[ks], idx[ks + 1]
    on_a = t[i0] == a
    on_b = t[i1] == b
    p0, p1 = np.maximum(i0 - 1, 0), np.maximum(i1 - 1, 0)
    if stepped:
        va = np.where(on_a, v[i0], v[p0])
        vb = np.where(on_b, v[i1], v[p1])
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            va = np.where(on_a, v[i0], v[p0] + (v[i0] - v[p0]) * ((a - t[p0]) / (t[i0] - t[p0])))
            vb = np.where(on_b, v[i1], v[p1] + (v[i1] - v[p1]) * ((b - t[p1]) / (t[i1] - t[p1])))
    # the trapezoids (or steps) between consecutive samples of each interval
    dt = (t[1:] - t[:-1]).astype(np.float64)
    seg = v[:-1] * dt if stepped else (v[:-1] + v[1:]) * dt
    seg = np.append(seg, 0.0)
    inner = np.zeros(ks.size)
    has = np.flatnonzero(i1 - i0 > 1)
    if has.size:
        pairs = np.empty(2 * has.size, dtype=np.int64)
        pairs[0::2] = i0[has]
        pairs[1::2] = i1[has] - 1
        inner[has] = np.add.reduceat(seg, pairs)[0::2]
    span = (b - a).astype(np.float64)
    empty = i1 <= i0
    with np.errstate(invalid="ignore"):
        head = (t[i0] - a).astype(np.float64)
        tail = (b - t[p1]).astype(np.float64)
        if stepped:
            full = va * head + inner + v[p1] * tail
            none = va * span
        else:
            full = (va + v[i0]) * head + inner
            full += (v[p1] + vb) * tail
            full *= 0.5
            none = 0.5 * (va + vb) * span
    area: np.ndarray = np.where(empty, none, full)
    return area


def _dt(a: int, b: int) -> float:
    """``_part13._dt``: float(b - a) as int64 arithmetic gives it."""
    d = b - a  # exact; the kernel's int64 difference is negative where this is out of range
    if d < 0 or d > _I64_MAX:
        return float(b) - float(a)
    return float(d)


def _bound(t: np.ndarray, v: np.ndarray, x: int, stepped: bool, de: int) -> tuple[float, int]:
    """``_part13._simple_bound`` on all-Good data: (value, severity; 2 = no bound)."""
    n = t.size
    j = int(np.searchsorted(t, x))
    if j < n and int(t[j]) == x:
        return float(v[j]), 0
    if x >= de or j == 0:
        return float("nan"), 2
    p = j - 1
    if stepped:
        return float(v[p]), 0
    if j >= n:
        return float(v[p]), 1
    t0, t1 = int(t[p]), int(t[j])
    return float(v[p] + (v[j] - v[p]) * (_dt(t0, x) / _dt(t0, t1))), 0


def _time_average2(
    t: np.ndarray,
    v: np.ndarray,
    a: int,
    b: int,
    i0: int,
    i1: int,
    stepped: bool,
    de: int,
    tuab: bool,
    pdg: float,
    pdb: float,
) -> tuple[float, float, int] | None:
    """``_part13._time_average2`` on all-Good data without sloped extrapolation:
    (integral value x ns, included ns, base status) or None (no value)."""
    end = b if b <= de else de
    if a >= end:
        return None
    if i0 < i1 and int(t[i0]) == a:
        lv, ls, k0 = float(v[i0]), 0, i0 + 1
    else:
        lv, ls = _bound(t, v, a, stepped, de)
        k0 = i0
    rv, rs, r_bound = float("nan"), 0, True
    if end == b:
        j = int(np.searchsorted(t, b))
        if j < t.size and int(t[j]) == b:
            r_bound, rv = False, float(v[j])
        else:
            rv, rs = _bound(t, v, b, stepped, de)
    else:
        r_bound = False  # end of data: no bound status
    # nodes: the start, the samples inside (all before ``end``: de > t[-1]), the end
    nt = np.concatenate(([a], t[k0:i1], [end])).astype(np.int64)
    nv = np.concatenate(([lv], v[k0:i1], [rv]))
    sev = np.zeros(nt.size - 1, dtype=np.int8)
    sev[0] = ls
    if r_bound and rs > sev[-1]:
        sev[-1] = rs
    diff = nt[1:] - nt[:-1]  # int64, wrapping as the kernel's does; then as _dt
    d = np.where(
        diff < 0, nt[1:].astype(np.float64) - nt[:-1].astype(np.float64), diff.astype(np.float64)
    )
    lvs, rvs = nv[:-1], nv[1:]
    with np.errstate(invalid="ignore"):
        piece = lvs * d if stepped else np.where(np.isfinite(rvs), 0.5 * (lvs + rvs) * d, lvs * d)
    use = sev != 2
    # sequential sums from 0.0, in the kernel's order (cumsum adds one term at a time)
    g = _seq_sum(np.where(sev == 0, d, 0.0))
    u = _seq_sum(np.where(sev == 1, d, 0.0))
    bd = _seq_sum(np.where(sev == 2, d, 0.0))
    area = _seq_sum(np.where(use, piece, 0.0))
    total = g + u + bd
    inc = g + u
    if inc <= 0.0:
        return None
    if tuab:
        good_pct, bad_pct = 100.0 * g / total, 100.0 * (bd + u) / total
    else:
        good_pct, bad_pct = 100.0 * (g + u) / total, 100.0 * bd / total
    if good_pct + _EPS >= pdg:
        base = GOOD
    elif bad_pct + _EPS >= pdb:
        base = BAD
    else:
        base = UNCERTAIN_SUB_NORMAL
    return area, inc, base


def _seq_sum(x: np.ndarray) -> float:
    return float(np.cumsum(np.concatenate(([0.0], x)))[-1])


def _edge_ta2(
    t: np.ndarray,
    v: np.ndarray,
    edges: np.ndarray,
    idx: np.ndarray,
    ks: range,
    name: str,
    stepped: bool,
    de: int,
    cfg: tuple[bool, float, float],
    out: Result,
) -> None:
    """``_part13._agg_time_average2`` on the intervals ``ks`` into ``out`` (values, _, status)."""
    tuab, pdg, pdb = cfg
    ds = int(t[0])
    for k in ks:
        a, b = int(edges[k]), int(edges[k + 1])
        out[0][k], out[2][k] = np.nan, BAD_NO_DATA
        if a >= de or b <= ds:
            continue
        partial = PARTIAL if (a < ds or b > de) else 0
        got = _time_average2(t, v, a, b, int(idx[k]), int(idx[k + 1]), stepped, de, tuab, pdg, pdb)
        if got is None:
            continue
        area, inc, base = got
        if base != BAD:
            out[0][k] = area / inc if name == "TimeAverage2" else area / 1e9
        out[2][k] = base | CALCULATED | partial | INFO_DATA_VALUE


def _twa(
    t: np.ndarray,
    v: np.ndarray,
    edges: np.ndarray,
    idx: np.ndarray,
    name: str,
    stepped: bool,
    de: int,
    cfg: tuple[bool, float, float],
    sloped: bool,
) -> Result | None:
    """``FastPath._compute_twa``: interior intervals as ``_twa_nb``, the edges as the general
    TimeAverage2/Total2 (None for TimeAverage/Total edges or sloped extrapolation)."""
    m = edges.size - 1
    k_lo = int(np.searchsorted(edges[:-1], t[0], side="left"))
    k_hi = max(int(np.searchsorted(edges[1:], t[-1], side="right")), k_lo)
    edge_ks = [*range(0, k_lo), *range(k_hi, m)]
    if edge_ks:
        needed = [k for k in edge_ks if not (edges[k] >= de or edges[k + 1] <= t[0])]
        if name not in ("TimeAverage2", "Total2") or len(needed) > _MAX_EDGE_INTERVALS:
            return None
        if sloped and not stepped and any(edges[k + 1] > de for k in needed):
            return None
    step = stepped and name in ("TimeAverage2", "Total2", "Total")
    area = np.zeros(m)
    ks = np.arange(k_lo, k_hi)
    if ks.size:
        area[k_lo:k_hi] = _interior_area(t, v, edges, idx, ks, step)
    span = (edges[1:] - edges[:-1]).astype(np.float64)
    vals = area / span if name in ("TimeAverage", "TimeAverage2") else area / 1000000000.0
    status = np.full(m, GOOD | CALCULATED | INFO_DATA_VALUE, dtype=np.uint32)
    out = (vals, edges[:-1].copy(), status)
    _edge_ta2(t, v, edges, idx, range(0, k_lo), name, stepped, de, cfg, out)
    _edge_ta2(t, v, edges, idx, range(k_hi, m), name, stepped, de, cfg, out)
    return out


def fast_stats(
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    edges: np.ndarray,
    wanted: list[tuple[str, str]],
    cfg: AggregateConfig,
    stepped: bool,
    de: int,
) -> dict[str, Result] | None:
    """The fast-path aggregates ``wanted`` ((given name, Part 13 name) pairs) over ``edges``, or
    None when this path does not apply (see the module docstring)."""
    if t.size == 0 or t.size > MAX_POINTS or de <= int(t[-1]):
        return None
    if not all_good_increasing(t, v, q):
        return None
    idx = np.searchsorted(t, edges, side="left").astype(np.int64)
    out: dict[str, Result] = {}
    basics = _Basics(t, v, edges, idx, de) if any(p in _BASIC for _g, p in wanted) else None
    for given, p13 in wanted:
        if basics is not None and p13 in _BASIC:
            out[given] = basics.result(p13)
            continue
        res = _twa(
            t,
            v,
            edges,
            idx,
            p13,
            stepped,
            de,
            (cfg.treat_uncertain_as_bad, cfg.percent_data_good, cfg.percent_data_bad),
            cfg.use_sloped_extrapolation,
        )
        if res is None:
            return None
        out[given] = res
    return out


def plot_indices_small(
    t: np.ndarray, v: np.ndarray, q: np.ndarray, edges: np.ndarray
) -> np.ndarray | None:
    """``plot._plot_fast_nb``'s indices for strictly increasing ``t`` (else None): per pixel
    the first, minimum, maximum, first non-Good or non-finite and last sample, plus the samples
    just outside the window."""
    n = t.size
    if n > MAX_POINTS or not bool((t[1:] > t[:-1]).all()):
        return None
    idx = np.searchsorted(t, edges, side="left").astype(np.int64)
    lo, hi = int(idx[0]), int(idx[-1])
    cnt = idx[1:] - idx[:-1]
    ne = np.flatnonzero(cnt > 0)
    i0, i1 = idx[:-1][ne], idx[1:][ne]
    w = v[lo:hi]
    starts = i0 - lo
    cand = np.full((ne.size, 5), n, dtype=np.int64)  # n: no candidate
    if ne.size:
        with np.errstate(invalid="ignore"):
            mn = _segments(w, starts, np.fmin)  # NaN ignored, as the kernel's comparisons do
            mx = _segments(w, starts, np.fmax)
            rep = np.repeat
            imn = _first_where(w == rep(mn, cnt[ne]), starts, w.size)
            imx = _first_where(w == rep(mx, cnt[ne]), starts, w.size)
        bad = ~np.isfinite(w)
        if q.size:
            bad |= q[lo:hi] != 0
        ibad = _first_where(bad, starts, w.size)
        cand[:, 0] = i0
        for col, found in ((1, imn), (2, imx), (3, ibad)):
            cand[:, col] = np.where(found < w.size, found + lo, n)
        cand[:, 4] = i1 - 1
        cand.sort(axis=1)
    keep = cand < n
    keep[:, 1:] &= cand[:, 1:] != cand[:, :-1]
    parts = [
        np.array([lo - 1] if lo > 0 else [], dtype=np.int64),
        cand[keep],
        np.array([hi] if hi < n else [], dtype=np.int64),
    ]
    return np.concatenate(parts)


def qualify_small(
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    rng: tuple[float, float] | None,
    nonfinite: bool,
    future_limit: int,
    past_limit: int,
    lut_code: np.ndarray,
    lut_rank: np.ndarray,
    istate: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``_qualify_jit._qualify_core`` with only the range, non-finite, future and past rules:
    (quality out, reasons); updates the stream state ``istate`` (last accepted time) as the
    kernel does."""
    from historian.kernels import _qualify_jit as j

    fin = np.isfinite(v)
    r = np.zeros(t.size, dtype=np.int64)
    if nonfinite:
        r[~fin] |= j.R_NONFINITE
    if rng is not None:
        with np.errstate(invalid="ignore"):
            r[fin & ((v < rng[0]) | (v > rng[1]))] |= j.R_RANGE
    future, past = t > future_limit, t < past_limit
    r[future] |= j.R_FUTURE
    r[past] |= j.R_PAST
    accepted = t[~(future | past)]
    if accepted.size:
        last = int(accepted.max())
        if istate[j.S_HAS_LAST] != 0:
            last = max(last, int(istate[j.S_LAST_T]))
        istate[j.S_LAST_T] = last
        istate[j.S_HAS_LAST] = 1
    rank = np.where(q & np.uint32(0x80000000), 2, np.where(q & np.uint32(0x40000000), 1, 0))
    worse = (r != 0) & (lut_rank[r] > rank)
    out_q = np.where(worse, lut_code[r], q).astype(np.uint32)
    return out_q, r.astype(np.uint16)
