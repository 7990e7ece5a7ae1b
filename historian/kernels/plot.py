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
from numba import njit

from historian.errors import InvalidArgumentError
from historian.kernels._config import prepare_series

__all__ = ["plot", "plot_indices"]


@njit(cache=True, nogil=True)
def _plot_nb(t, v, q, start, end, width, edges):  # pragma: no cover - compiled
    n = t.size
    out = np.empty(5 * width + 2, dtype=np.int64)
    m = 0
    lo = np.searchsorted(t, start)
    hi = np.searchsorted(t, end)
    if lo > 0:
        out[m] = lo - 1
        m += 1
    cand = np.empty(5, dtype=np.int64)
    i0 = lo
    for p in range(width):
        i1 = np.searchsorted(t[i0:hi], edges[p + 1]) + i0 if p + 1 < width else hi
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
            cand.sort()
            last = -1
            for c in cand:
                if c >= 0 and c != last:
                    out[m] = c
                    m += 1
                    last = c
        i0 = i1
    if hi < n:
        out[m] = hi
        m += 1
    return out[:m]


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
    idx, _s = _plot(t_ns, values, quality, start_ns, end_ns, width)
    return idx


def _plot(t_ns, values, quality, start_ns, end_ns, width):
    width = int(width)
    if width <= 0:
        raise InvalidArgumentError(f"width must be a positive number of pixels, got {width}")
    start_ns, end_ns = int(start_ns), int(end_ns)
    if end_ns <= start_ns:
        raise InvalidArgumentError(f"end ({end_ns}) must be after start ({start_ns})")
    s = prepare_series(t_ns, values, quality, drop_no_data=False)
    span = end_ns - start_ns
    edges = np.array([start_ns + (span * p) // width for p in range(width + 1)], dtype=np.int64)
    idx = _plot_nb(s.t_ns, s.values, s.quality, np.int64(start_ns), np.int64(end_ns), width, edges)
    return idx, s


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
    idx, s = _plot(t_ns, values, quality, start_ns, end_ns, width)
    return s.t_ns[idx], s.values[idx], s.quality[idx]
