"""Numba twins of Part 13's building blocks: severities, bisection, status bits, bounds.

The conventions of :mod:`historian.kernels._part13` hold here (``t`` int64 ns strictly
increasing, ``sev`` 0 Good / 1 Uncertain / 2 Bad, ``tuab`` TreatUncertainAsBad, ``de`` the end
of the known history). Simple bounds (``_simple_bound``) follow Part 13 5.4.2.3, interpolated
bounds (``_interp_point``) 5.4.2.2; the one-line helpers are inlined into their callers.
"""

from __future__ import annotations

import numpy as np

from historian.kernels._config import (
    BAD,
    BAD_NO_DATA,
    GOOD,
    INFO_DATA_VALUE,
    INTERPOLATED,
    UNCERTAIN_SUB_NORMAL,
)
from historian.kernels._jit import njit

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
