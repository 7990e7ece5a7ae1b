"""Interpolated values at grid times (OPC UA Part 13 Interpolative), with a staleness bound.

Examples
--------
>>> import numpy as np
>>> t = np.array([0, 10, 20], dtype=np.int64) * 10**9
>>> vals, status = interpolate(t, np.array([0.0, 10.0, 20.0]),
...                            grid_ns=np.array([5, 15, 25], dtype=np.int64) * 10**9)
>>> vals.tolist()
[5.0, 15.0, nan]
>>> [hex(s) for s in status]
['0x402', '0x402', '0x809b0000']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.kernels import _part13
from historian.kernels._config import (
    BAD_NO_DATA,
    GOOD,
    INFO_DATA_VALUE,
    INTERPOLATED,
    UNCERTAIN_SUB_NORMAL,
    AggregateConfig,
    prepare_series,
)
from historian.kernels._jit import njit

__all__ = ["grid", "interpolate"]


@njit(cache=True, nogil=True)
def _interpolate_nb(  # pragma: no cover - compiled
    t: np.ndarray,
    v: np.ndarray,
    code: np.ndarray,
    sev: np.ndarray,
    grid_t: np.ndarray,
    tuab: bool,
    stepped: bool,
    sloped_extrap: bool,
    de: int | np.integer,
    extrapolate: bool,
    max_gap: int | np.integer,
) -> tuple[np.ndarray, np.ndarray]:
    m = grid_t.size
    out_v = np.empty(m)
    out_s = np.empty(m, dtype=np.uint32)
    for g in range(m):
        out_v[g] = np.nan
        out_s[g] = BAD_NO_DATA
    n = t.size
    if n == 0:
        return out_v, out_s
    for g in range(m):
        x = grid_t[g]
        val, c, bits, ok, extrapolated = _part13._interp_point(
            t, v, sev, code, x, tuab, stepped, sloped_extrap, de
        )
        if not ok or (extrapolated and not extrapolate):
            continue
        if max_gap >= 0 and bits != 0:
            # staleness: the samples around x (usable ones) must be at most max_gap apart
            j = _part13.bisect_left(t, x)
            p = j - 1
            while p >= 0 and not _part13._usable(sev[p], tuab):
                p -= 1
            k = j
            while k < n and not _part13._usable(sev[k], tuab):
                k += 1
            if p < 0:
                continue
            if k >= n or x >= de:
                if _part13._dt(t[p], x) > max_gap:
                    continue
            elif _part13._dt(t[p], t[k]) > max_gap:
                continue
        out_v[g] = val
        out_s[g] = _part13._status(c, bits)
    return out_v, out_s


def _span(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float(b - a) for a <= b without int64 overflow (as ``_part13._dt``)."""
    d = b - a
    return np.where(d < 0, b.astype(np.float64) - a.astype(np.float64), d.astype(np.float64))


def _interpolate_good(
    t: np.ndarray,
    v: np.ndarray,
    g: np.ndarray,
    stepped: bool,
    sloped_extrap: bool,
    extrapolate: bool,
    max_gap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`interpolate` when every sample is Good (code 0) and finite, ``t`` strictly increasing
    and the data end after the last sample: numpy only, so nothing is compiled; the results are
    identical to the kernel's (``tests/kernels/test_interpolate.py`` checks it)."""
    n = t.size
    j = np.searchsorted(t, g)  # first sample at or after each grid time
    exact = t[np.minimum(j, n - 1)] == g
    p = np.maximum(j - 1, 0)  # the sample before (where there is one)
    k = np.minimum(j, n - 1)  # the sample after (where there is one)
    ok = exact | (j > 0)
    after = ~exact & (j >= n)  # past the last sample: extrapolated
    if stepped:
        val = v[p]
    else:
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 only where not used
            val = v[p] + (v[k] - v[p]) * (_span(t[p], g) / _span(t[p], t[k]))
            if sloped_extrap and n > 1:
                pp = np.maximum(p - 1, 0)
                slope = v[pp] + (v[p] - v[pp]) * (_span(t[pp], g) / _span(t[pp], t[p]))
                val = np.where(after & (p > 0), slope, np.where(after, v[p], val))
            else:
                val = np.where(after, v[p], val)
    val = np.where(exact, v[k], val)
    status = np.where(after, UNCERTAIN_SUB_NORMAL, GOOD) | (INTERPOLATED | INFO_DATA_VALUE)
    status = np.where(exact, GOOD, status).astype(np.uint32)
    if not extrapolate:
        ok &= ~after
    if max_gap >= 0:
        far = np.where(after, _span(t[p], g), _span(t[p], t[k])) > max_gap
        ok &= exact | ~far
    return np.where(ok, val, np.nan), np.where(ok, status, np.uint32(BAD_NO_DATA))


def grid(start_ns: int, end_ns: int, every_ns: int) -> np.ndarray:
    """Grid times ``start, start+every, ...`` up to and including ``end``.

    >>> grid(0, 30, 10).tolist()
    [0, 10, 20, 30]
    """
    start_ns, end_ns, every_ns = int(start_ns), int(end_ns), int(every_ns)
    if every_ns <= 0:
        raise InvalidArgumentError(f"every must be positive, got {every_ns} ns")
    if end_ns < start_ns:
        raise InvalidArgumentError(f"end ({end_ns}) must not be before start ({start_ns})")
    n = (end_ns - start_ns) // every_ns + 1
    from historian.limits import current  # the one place for budgets (a stdlib-only module)

    current().check(
        "max_result_cells",
        n,
        "grid points of [start, end) at this `every`",
        "use a larger `every` or a shorter window",
    )
    return (
        np.array([start_ns + k * every_ns for k in range(n)], dtype=np.int64)
        if (end_ns - start_ns >= 2**62)
        else start_ns + np.arange(n, dtype=np.int64) * every_ns
    )


def interpolate(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    grid_ns: Any,
    stepped: bool = False,
    config: Any = None,
    max_gap_ns: int | None = None,
    extrapolate: bool = False,
    data_end_ns: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Values and StatusCodes at ``grid_ns`` from the usable samples around each grid time.

    Linear between samples (``stepped=False``) or held (``stepped=True``); Bad samples are
    interpolated across (status ``UncertainDataSubNormal``). Past the last usable sample the
    result is null (``Bad_NoData``) unless ``extrapolate`` (then Uncertain, held or sloped per
    ``UseSlopedExtrapolation``); before the first one it is always null. With ``max_gap_ns``,
    a value interpolated (or held) between samples further apart than that is null instead.

    Returns
    -------
    (values float64 with NaN where null, status uint32)
    """
    g = np.asarray(grid_ns)
    if g.ndim != 1 or g.dtype.kind not in "iu":
        raise InvalidDataError("grid_ns must be a 1-D int64 array of nanoseconds")
    g = g.astype(np.int64, copy=False)
    if max_gap_ns is not None and int(max_gap_ns) < 0:
        raise InvalidArgumentError(f"max_gap must not be negative, got {max_gap_ns}")
    cfg = AggregateConfig.from_any(config)
    s = prepare_series(t_ns, values, quality, data_end_ns=data_end_ns)
    max_gap = -1 if max_gap_ns is None else int(max_gap_ns)
    if s.all_good and s.t_ns.size and s.data_end_ns > s.t_ns[-1]:
        return _interpolate_good(
            s.t_ns,
            s.values,
            g,
            bool(stepped),
            cfg.use_sloped_extrapolation,
            bool(extrapolate),
            max_gap,
        )
    sev = _part13.severities(s.values, s.quality)
    out: tuple[np.ndarray, np.ndarray] = _interpolate_nb(
        s.t_ns,
        s.values,
        s.quality,
        sev,
        g,
        cfg.treat_uncertain_as_bad,
        bool(stepped),
        cfg.use_sloped_extrapolation,
        np.int64(s.data_end_ns),
        bool(extrapolate),
        np.int64(max_gap),
    )
    return out
