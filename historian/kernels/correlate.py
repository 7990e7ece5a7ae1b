"""Lagged correlation of many aligned series (numba), with missing samples excluded pairwise.

Series are the rows of a 2-D float64 array, sampled on one regular grid; NaN marks a missing or
Bad sample. For a pair (a, b) and a lag of ``k`` steps the coefficient is computed over the grid
indices ``t`` where both ``a[t]`` and ``b[t + k]`` are present:

    r_ab(k) = corr(a[t], b[t + k])

so a positive ``k`` means **b lags a by k steps** (a leads b: what a does now, b does k steps
later). ``r_ab(-k) == r_ba(k)``.

Pearson is exact per pair and lag (pairwise deletion, as pandas ``DataFrame.corr``). Spearman
ranks each series once over its own present samples and correlates the ranks; this equals pandas'
Spearman when the pair has no missing samples, and :func:`pair_corr` gives the exact pairwise
Spearman (re-ranked on the pair's common samples) for reported figures.

A coefficient is NaN when fewer than ``min_count`` samples pair up or when either side is
constant over them.

Examples
--------
>>> import numpy as np
>>> a = np.sin(np.arange(200) / 7.0)
>>> b = np.roll(a, 3)            # b[t] = a[t - 3]: b lags a by 3 steps
>>> r, n = lagged_corr(np.vstack([a, b]), max_lag=5)
>>> int(np.argmax(r[0])) - 5, round(float(r[0].max()), 3)
(3, 1.0)
"""

from __future__ import annotations

import numpy as np

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.kernels._jit import njit

__all__ = ["lagged_corr", "pair_corr", "rank_average"]

_CONSTANT_RTOL = 1e-12


@njit(cache=True, nogil=True)
def _rank_average_nb(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Average ranks (1-based) of the finite entries of x; NaN stays NaN."""
    n = x.size
    out = np.full(n, np.nan)
    idx = np.flatnonzero(np.isfinite(x))
    m = idx.size
    if m == 0:
        return out
    vals = x[idx]
    order = np.argsort(vals, kind="mergesort")
    i = 0
    while i < m:
        j = i
        while j + 1 < m and vals[order[j + 1]] == vals[order[i]]:
            j += 1
        r = 0.5 * (i + j) + 1.0
        for k in range(i, j + 1):
            out[idx[order[k]]] = r
        i = j + 1
    return out


@njit(cache=True, nogil=True)
def _prepare_nb(  # pragma: no cover - compiled
    series: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shifted values (0 where missing), their squares and the presence mask, row by row.

    Each row is shifted by its first present value, so a constant row becomes exactly zero.
    """
    k, n = series.shape
    x = np.zeros((k, n))
    x2 = np.zeros((k, n))
    m = np.zeros((k, n))
    for i in range(k):
        ref = np.nan
        for t in range(n):
            v = series[i, t]
            if np.isfinite(v):
                if not np.isfinite(ref):
                    ref = v
                d = v - ref
                x[i, t] = d
                x2[i, t] = d * d
                m[i, t] = 1.0
    return x, x2, m


@njit(cache=True, nogil=True)
def _coef(  # pragma: no cover - compiled
    cnt: float | np.integer,
    sx: float,
    sy: float,
    sxx: float,
    syy: float,
    sxy: float,
    min_count: int,
) -> float:
    if cnt < min_count or cnt < 2:
        return np.nan
    vx = cnt * sxx - sx * sx
    vy = cnt * syy - sy * sy
    if vx <= _CONSTANT_RTOL * cnt * sxx or vy <= _CONSTANT_RTOL * cnt * syy:
        return np.nan
    r: float = (cnt * sxy - sx * sy) / np.sqrt(vx * vy)
    if r > 1.0:
        return 1.0
    if r < -1.0:
        return -1.0
    return r


_FM = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, fastmath=_FM)
def _sums6_nb(  # pragma: no cover - compiled
    a: np.ndarray,
    a2: np.ndarray,
    am: np.ndarray,
    b: np.ndarray,
    b2: np.ndarray,
    bm: np.ndarray,
) -> tuple[float, float, float, float, float, float]:
    c = 0.0
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for t in range(a.size):
        c += am[t] * bm[t]
        sx += a[t] * bm[t]
        sy += b[t] * am[t]
        sxx += a2[t] * bm[t]
        syy += b2[t] * am[t]
        sxy += a[t] * b[t]
    return c, sx, sy, sxx, syy, sxy


@njit(cache=True, nogil=True, fastmath=_FM)
def _dot_nb(a: np.ndarray, b: np.ndarray) -> float:  # pragma: no cover - compiled
    s = 0.0
    for t in range(a.size):
        s += a[t] * b[t]
    return s


@njit(cache=True, nogil=True)
def _lagged_nb(  # pragma: no cover - compiled
    x: np.ndarray,
    x2: np.ndarray,
    m: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    max_lag: int,
    min_count: int,
) -> tuple[np.ndarray, np.ndarray]:
    """r and counts of every pair at lags -max_lag..max_lag.

    Pairs of complete rows (no missing sample) need only the cross product per lag (the other
    sums come from prefix sums); other pairs reduce six sums per lag.
    """
    p = ia.size
    k_rows, n = x.shape
    nl = 2 * max_lag + 1
    r = np.full((p, nl), np.nan)
    cnt = np.zeros((p, nl), dtype=np.int64)
    complete = np.zeros(k_rows, dtype=np.bool_)
    ps = np.zeros((k_rows, n + 1))
    ps2 = np.zeros((k_rows, n + 1))
    for i in range(k_rows):
        complete[i] = m[i].sum() == n
        for t in range(n):
            ps[i, t + 1] = ps[i, t] + x[i, t]
            ps2[i, t + 1] = ps2[i, t] + x2[i, t]
    for q in range(p):
        a = ia[q]
        b = ib[q]
        both = complete[a] and complete[b]
        for li in range(nl):
            k = li - max_lag
            t0 = 0 if k >= 0 else -k
            t1 = n - k if k >= 0 else n
            if t1 <= t0:
                continue
            if both:
                c = float(t1 - t0)
                sx = ps[a, t1] - ps[a, t0]
                sxx = ps2[a, t1] - ps2[a, t0]
                sy = ps[b, t1 + k] - ps[b, t0 + k]
                syy = ps2[b, t1 + k] - ps2[b, t0 + k]
                sxy = _dot_nb(x[a, t0:t1], x[b, t0 + k : t1 + k])
            else:
                c, sx, sy, sxx, syy, sxy = _sums6_nb(
                    x[a, t0:t1],
                    x2[a, t0:t1],
                    m[a, t0:t1],
                    x[b, t0 + k : t1 + k],
                    x2[b, t0 + k : t1 + k],
                    m[b, t0 + k : t1 + k],
                )
            ci = np.int64(c + 0.5)
            cnt[q, li] = ci
            r[q, li] = _coef(ci, sx, sy, sxx, syy, sxy, min_count)
    return r, cnt


@njit(cache=True, nogil=True)
def _pair_nb(  # pragma: no cover - compiled
    xa: np.ndarray, xb: np.ndarray, spearman: bool, min_count: int
) -> tuple[float, int]:
    n = xa.size
    keep = np.zeros(n, dtype=np.bool_)
    for t in range(n):
        keep[t] = np.isfinite(xa[t]) and np.isfinite(xb[t])
    a = xa[keep]
    b = xb[keep]
    c = a.size
    if c < min_count or c < 2:
        return np.nan, c
    if spearman:
        a = _rank_average_nb(a)
        b = _rank_average_nb(b)
    ra = a[0]
    rb = b[0]
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for t in range(c):
        u = a[t] - ra
        v = b[t] - rb
        sx += u
        sy += v
        sxx += u * u
        syy += v * v
        sxy += u * v
    return _coef(c, sx, sy, sxx, syy, sxy, min_count), c


def _check_series(series: np.ndarray) -> np.ndarray:
    arr = np.asarray(series)
    if arr.ndim != 2:
        raise InvalidDataError(f"series must be 2-D (one row per series), got {arr.ndim}-D")
    if not np.issubdtype(arr.dtype, np.number):
        raise InvalidDataError(f"series must be numeric, got {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def rank_average(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) of the finite values; NaN kept.

    >>> rank_average(np.array([3.0, np.nan, 1.0, 3.0])).tolist()
    [2.5, nan, 1.0, 2.5]
    """
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidDataError("rank_average takes a 1-D array")
    ranks: np.ndarray = _rank_average_nb(arr)
    return ranks


def lagged_corr(
    series: np.ndarray,
    max_lag: int = 0,
    ia: np.ndarray | None = None,
    ib: np.ndarray | None = None,
    *,
    method: str = "pearson",
    min_count: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation of row pairs at lags ``-max_lag .. +max_lag`` (steps).

    Parameters
    ----------
    series : ndarray, shape (n_series, n_samples)
        Aligned series, NaN where missing.
    max_lag : int
        Largest lag in steps (>= 0).
    ia, ib : int arrays, optional
        The pairs (row ``ia[p]``, row ``ib[p]``); default every pair ``a < b``.
    method : {"pearson", "spearman"}
    min_count : int
        Fewer paired samples give NaN.

    Returns
    -------
    r : ndarray, shape (n_pairs, 2 * max_lag + 1)
        ``r[p, max_lag + k]`` = corr(a[t], b[t + k]); positive ``k``: b lags a.
    n : ndarray of int64, same shape
        The number of paired (present) samples.
    """
    arr = _check_series(series)
    if method not in ("pearson", "spearman"):
        raise InvalidArgumentError(f"method must be 'pearson' or 'spearman', not {method!r}")
    max_lag = int(max_lag)
    if max_lag < 0:
        raise InvalidArgumentError(f"max_lag must be >= 0, got {max_lag}")
    k = arr.shape[0]
    if ia is None or ib is None:
        ia, ib = np.triu_indices(k, 1)
    ia = np.ascontiguousarray(ia, dtype=np.int64)
    ib = np.ascontiguousarray(ib, dtype=np.int64)
    if ia.shape != ib.shape or ia.ndim != 1:
        raise InvalidArgumentError("ia and ib must be 1-D arrays of the same length")
    if ia.size and (min(ia.min(), ib.min()) < 0 or max(ia.max(), ib.max()) >= k):
        raise InvalidArgumentError(f"pair indices must be in [0, {k})")
    if method == "spearman":
        arr = np.vstack([_rank_average_nb(row) for row in arr]) if k else arr
    x, x2, m = _prepare_nb(arr)
    r, cnt = _lagged_nb(x, x2, m, ia, ib, max_lag, int(min_count))
    return r, cnt


def pair_corr(
    a: np.ndarray, b: np.ndarray, *, method: str = "pearson", lag: int = 0, min_count: int = 2
) -> tuple[float, int]:
    """Exact coefficient of ``a[t]`` and ``b[t + lag]`` over their common present samples.

    Spearman re-ranks on the common samples (as pandas does). Returns ``(r, n)``.

    >>> pair_corr(np.array([1.0, 2, 3, 4]), np.array([1.0, 4, 9, np.nan]), method="spearman")
    (1.0, 3)
    """
    if method not in ("pearson", "spearman"):
        raise InvalidArgumentError(f"method must be 'pearson' or 'spearman', not {method!r}")
    xa = np.ascontiguousarray(a, dtype=np.float64)
    xb = np.ascontiguousarray(b, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != xb.shape:
        raise InvalidDataError("a and b must be 1-D arrays of the same length")
    lag = int(lag)
    n = xa.size
    if lag >= 0:
        xa, xb = xa[: max(n - lag, 0)], xb[lag:]
    else:
        xa, xb = xa[-lag:], xb[: max(n + lag, 0)]
    r, c = _pair_nb(
        np.ascontiguousarray(xa), np.ascontiguousarray(xb), method == "spearman", int(min_count)
    )
    return float(r), int(c)
