"""Plot values (PI PlotValues / M4): the few raw samples that draw the same chart.

For each of ``width`` equal pixel intervals of ``[start, end)`` keep the first, last, minimum and
maximum sample and the first non-Good one; plus the last sample before ``start`` and the first
at or after ``end`` (so lines run to the chart edges). The result is indices into the sorted,
de-duplicated input, ascending and unique.

Examples
--------
>>> import numpy as np
>>> t = np.arange(10, dtype=np.int64)
>>> v = np.array([0, 5, 1, 9, 2, 3, 8, 4, 6, 7], dtype=float)
>>> plot_indices(t, v, start_ns=0, end_ns=10, width=2).tolist()
[0, 3, 4, 5, 6, 9]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError
from historian.kernels._config import prepare_series, validate_arrays
from historian.kernels._fast import _sum_min_max, edge_index
from historian.kernels._jit import njit
from historian.kernels._part13 import bisect_left
from historian.kernels._prep import increasing_state
from historian.kernels._small import MAX_POINTS, plot_indices_small

__all__ = ["plot", "plot_indices"]


@njit(cache=True, nogil=True, inline="always")
def _emit_sorted_unique(cand: np.ndarray, out: np.ndarray, m: int) -> int:  # pragma: no cover
    """Append the non-negative entries of the 5 candidates to ``out[m:]`` sorted, without
    repeats; returns the new length (an insertion sort: ``cand.sort()`` costs ~1 s to compile)."""
    for i in range(1, 5):
        x = cand[i]
        j = i - 1
        while j >= 0 and cand[j] > x:
            cand[j + 1] = cand[j]
            j -= 1
        cand[j + 1] = x
    last = -1
    for i in range(5):
        c = cand[i]
        if c >= 0 and c != last:
            out[m] = c
            m += 1
            last = c
    return m


@njit(cache=True, nogil=True)
def _plot_nb(  # pragma: no cover - compiled
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    start: Any,
    end: Any,
    width: int,
    edges: np.ndarray,
) -> np.ndarray:
    n = t.size
    out = np.empty(5 * width + 2, dtype=np.int64)
    m = 0
    lo = bisect_left(t, start)
    hi = bisect_left(t, end)
    if lo > 0:
        out[m] = lo - 1
        m += 1
    cand = np.empty(5, dtype=np.int64)
    i0 = lo
    for p in range(width):
        i1 = bisect_left(t[i0:hi], edges[p + 1]) + i0 if p + 1 < width else hi
        if i1 > i0:
            # vectorisable reductions first, then locate the extremes
            mn = np.inf
            mx = -np.inf
            bad = np.uint32(0)
            for i in range(i0, i1):
                x = v[i]
                mn = x if x < mn else mn
                mx = x if x > mx else mx
                bad |= q[i]
            imn = -1
            imx = -1
            ibad = -1
            if mn <= mx:
                for i in range(i0, i1):
                    if v[i] == mn:
                        imn = i
                        break
                for i in range(i0, i1):
                    if v[i] == mx:
                        imx = i
                        break
            if bad != 0 or mn > mx or not (np.isfinite(mn) and np.isfinite(mx)):
                for i in range(i0, i1):
                    if q[i] != 0 or not np.isfinite(v[i]):
                        ibad = i
                        break
            # emit sorted unique: first, min/max/bad in order, last
            cand[0] = i0
            cand[1] = imn
            cand[2] = imx
            cand[3] = ibad
            cand[4] = i1 - 1
            m = _emit_sorted_unique(cand, out, m)
        i0 = i1
    if hi < n:
        out[m] = hi
        m += 1
    return out[:m]


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _scan_pixel(  # pragma: no cover - compiled
    tw: np.ndarray, tprev: Any, w: np.ndarray, qw: np.ndarray
) -> tuple[bool, bool, Any]:
    """(times strictly increasing, every value finite, OR of the qualities) -- branch-free."""
    bad_t = 0
    fin = 0.0
    for i in range(w.size):
        fin += w[i] - w[i]  # NaN as soon as one value is NaN or +-inf
        prev = tw[i - 1] if i > 0 else tprev
        bad_t += tw[i] <= prev
    qor = np.uint32(0)
    for i in range(qw.size):
        qor |= qw[i]
    return bad_t == 0, fin == 0.0, qor


@njit(cache=True, nogil=True)
def _first_eq(w: np.ndarray, lo: Any, hi: Any) -> tuple[int, int]:  # pragma: no cover
    n = w.size
    f_mn = n
    f_mx = n
    for i in range(n):
        x = w[i]
        f_mn = min(f_mn, i if x == lo else n)
        f_mx = min(f_mx, i if x == hi else n)
    return f_mn, f_mx


@njit(cache=True, nogil=True)
def _plot_fast_nb(  # pragma: no cover - compiled
    t: np.ndarray, v: np.ndarray, q: np.ndarray, idx: np.ndarray, width: int
) -> tuple[bool, np.ndarray]:
    """Like _plot_nb for interval starts ``idx`` (galloped, so times need not be verified
    beforehand): returns ok=False if the times inside the window are not strictly increasing."""
    n = t.size
    out = np.empty(5 * width + 2, dtype=np.int64)
    m = 0
    lo = idx[0]
    hi = idx[width]
    if lo > 0:
        out[m] = lo - 1
        m += 1
    cand = np.empty(5, dtype=np.int64)
    for p in range(width):
        i0 = idx[p]
        i1 = idx[p + 1]
        if i1 <= i0:
            continue
        w = v[i0:i1]
        tprev = t[i0 - 1] if i0 > 0 else t[i0] - 1
        inc, finite, qor = _scan_pixel(t[i0:i1], tprev, w, q[i0:i1])
        if not inc:
            return False, out[:0]
        imn = -1
        imx = -1
        ibad = -1
        if finite:
            _s, mn, mx = _sum_min_max(w)
            f_mn, f_mx = _first_eq(w, mn, mx)
            imn = i0 + f_mn
            imx = i0 + f_mx
            if qor != 0:
                for i in range(i0, i1):
                    if q[i] != 0:
                        ibad = i
                        break
        else:
            mn = np.inf
            mx = -np.inf
            for i in range(i0, i1):
                x = v[i]
                mn = x if x < mn else mn
                mx = x if x > mx else mx
            if mn <= mx:
                for i in range(i0, i1):
                    if v[i] == mn:
                        imn = i
                        break
                for i in range(i0, i1):
                    if v[i] == mx:
                        imx = i
                        break
            for i in range(i0, i1):
                if (q.size and q[i] != 0) or not np.isfinite(v[i]):
                    ibad = i
                    break
        cand[0] = i0
        cand[1] = imn
        cand[2] = imx
        cand[3] = ibad
        cand[4] = i1 - 1
        m = _emit_sorted_unique(cand, out, m)
    if hi < n:
        out[m] = hi
        m += 1
    return True, out[:m]


def plot_indices(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    start_ns: int,
    end_ns: int,
    width: int,
) -> np.ndarray:
    """Indices (into the sorted, de-duplicated input) of the samples a chart needs."""
    return _plot(t_ns, values, quality, start_ns, end_ns, width)[0]


def _plot(
    t_ns: Any, values: Any, quality: Any, start_ns: Any, end_ns: Any, width: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(indices, t, v, q) where the indices point into the returned (sorted, unique) arrays."""
    width = int(width)
    if width <= 0:
        raise InvalidArgumentError(f"width must be a positive number of pixels, got {width}")
    from historian.limits import current  # the one place for budgets (a stdlib-only module)

    current().check(
        "max_plot_width",
        width,
        "plot width (pixels)",
        "a screen is a few thousand pixels wide: ask for fewer",
    )
    start_ns, end_ns = int(start_ns), int(end_ns)
    if end_ns <= start_ns:
        raise InvalidArgumentError(f"end ({end_ns}) must be after start ({start_ns})")
    span = end_ns - start_ns
    edges = np.array([start_ns + (span * p) // width for p in range(width + 1)], dtype=np.int64)
    t, v, q = validate_arrays(t_ns, values, quality)
    if quality is None:
        q = np.empty(0, dtype=np.uint32)
    if 0 < t.size <= MAX_POINTS:  # numpy: nothing to compile for a first, small call
        small = plot_indices_small(t, v, q, edges)
        if small is not None:
            return small, t, v, (q if q.size else np.zeros(t.size, dtype=np.uint32))
    if t.size:
        # common case: sorted input, checked while the pixels are scanned (no separate pass)
        idx = edge_index(t, edges)
        lo, hi, n = int(idx[0]), int(idx[-1]), t.size
        sorted_outside = all(
            increasing_state(t[a:b]) == 0
            for a, b in ((0, min(lo + 1, n)), (max(hi - 1, 0), n))
            if b > a
        )
        if sorted_outside:
            ok, out = _plot_fast_nb(t, v, q, idx, width)
            if ok:
                return out, t, v, (q if q.size else np.zeros(n, dtype=np.uint32))
    s = prepare_series(t_ns, values, quality, drop_no_data=False)
    idx = _plot_nb(s.t_ns, s.values, s.quality, np.int64(start_ns), np.int64(end_ns), width, edges)
    return idx, s.t_ns, s.values, s.quality


def plot(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    start_ns: int,
    end_ns: int,
    width: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plot samples themselves: ``(t_ns, values, quality)``, sorted and unique."""
    idx, t, v, q = _plot(t_ns, values, quality, start_ns, end_ns, width)
    return t[idx], v[idx], q[idx]
