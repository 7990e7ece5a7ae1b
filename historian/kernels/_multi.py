"""The fast path over many series at once: one call for all tags, no Python per tag.

The series are concatenated (each sorted, with its bounding samples) and cut by ``offsets``;
every series gets the same intervals. For each series the kernel runs exactly what
``aggregate_many``'s fast path runs for it alone (``_fast._basic_fused`` and ``_fast._twa_nb``,
the same compiled helpers on the same slices), so the results are the same bits. A series the
fast path does not cover (a sample not Good or not finite, unsorted times, no samples, a time
average interval at the edges of its data) is marked and left to the caller, who runs
``aggregate_many`` for it.
"""

from __future__ import annotations

import numpy as np

from historian.kernels._config import CALCULATED, GOOD, INFO_DATA_VALUE
from historian.kernels._fast import _BASIC_CODES, _TWA, _basic_fused, _twa_nb, edge_index
from historian.kernels._jit import njit

__all__ = ["MULTI_NAMES", "aggregate_series"]

#: The Part 13 names this path computes.
MULTI_NAMES = frozenset(_BASIC_CODES) | frozenset(_TWA)
# twa kinds: 0 TimeAverage, 1 TimeAverage2, 2 Total, 3 Total2
_TWA_KIND = {"TimeAverage": 0, "TimeAverage2": 1, "Total": 2, "Total2": 3}


@njit(cache=True, nogil=True)
def _good_run(  # pragma: no cover - compiled
    t: np.ndarray, v: np.ndarray, q: np.ndarray, a: int, b: int
) -> bool:
    """Samples a..b-1: times strictly increasing, values finite, quality Good (``q`` may be
    empty). Small loops: np.isfinite/np.zeros here would cost seconds of compiling."""
    for i in range(a, b):
        x = v[i]
        if x - x != 0.0:  # NaN or +-inf
            return False
        if i > a and t[i] <= t[i - 1]:
            return False
        if q.size and q[i] != 0:
            return False
    return True


@njit(cache=True, nogil=True)
def _outside_ok(  # pragma: no cover - compiled
    t: np.ndarray, v: np.ndarray, q: np.ndarray, lo: int, hi: int
) -> bool:
    """FastPath.verify_outside: the bounding samples before and after the intervals."""
    n = t.size
    ok: bool = _good_run(t, v, q, 0, min(lo + 1, n)) and _good_run(t, v, q, max(hi - 1, 0), n)
    return ok


@njit(cache=True, nogil=True)
def _series_twa(  # pragma: no cover - compiled
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    edges: np.ndarray,
    idx: np.ndarray,
    stepped: bool,
    kinds: np.ndarray,
    jt: np.ndarray,
    i: int,
    vals: np.ndarray,
    times: np.ndarray,
    status: np.ndarray,
    lin: np.ndarray,
    stp: np.ndarray,
) -> bool:
    """The twa kinds of series ``i`` into rows ``jt`` of vals/times/status (scalar loops:
    array-valued assignments cost seconds of compiling); False: not covered."""
    m = edges.size - 1
    if edges[0] < t[0] or edges[m] > t[-1]:
        return False  # intervals at the data's edges: the general path's rules
    done_lin = False
    done_step = False
    st = GOOD | CALCULATED | INFO_DATA_VALUE
    for j in range(kinds.size):
        kind = kinds[j]
        step = stepped and kind != 0
        if step and not done_step:
            if not _twa_nb(t, v, q, edges, idx, True, 0, m, stp):
                return False
            done_step = True
        if not step and not done_lin:
            if not _twa_nb(t, v, q, edges, idx, False, 0, m, lin):
                return False
            done_lin = True
        row = jt[j]
        for k in range(m):
            a = stp[k] if step else lin[k]
            if kind <= 1:
                vals[i, row, k] = a / float(edges[k + 1] - edges[k])
            else:
                vals[i, row, k] = a / 1000000000.0
            times[i, row, k] = edges[k]
            status[i, row, k] = st
    return True


@njit(cache=True, nogil=True)
def _many(  # pragma: no cover - compiled
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    offsets: np.ndarray,
    edges: np.ndarray,
    want: np.ndarray,
    jb: np.ndarray,
    kinds: np.ndarray,
    jt: np.ndarray,
    stepped: np.ndarray,
    vals: np.ndarray,
    times: np.ndarray,
    status: np.ndarray,
    bv: np.ndarray,
    bt: np.ndarray,
    bs: np.ndarray,
    lin: np.ndarray,
    stp: np.ndarray,
) -> np.ndarray:
    """Every series ``i``: ``vals[i]`` etc. are (stats, intervals); returns covered[i].
    ``bv``, ``bt``, ``bs`` (basic stats x intervals), ``lin``, ``stp`` (intervals) are scratch."""
    n_series = offsets.size - 1
    m = edges.size - 1
    covered = np.zeros(n_series, dtype=np.bool_)
    nb = want.size
    for i in range(n_series):
        o0 = offsets[i]
        o1 = offsets[i + 1]
        if o1 <= o0:
            continue
        ti = t[o0:o1]
        vi = v[o0:o1]
        qi = q[o0:o1] if q.size else q[0:0]
        idx = edge_index(ti, edges)
        if not _outside_ok(ti, vi, qi, idx[0], idx[m]):
            continue
        if nb:
            if not _basic_fused(
                ti, vi, qi, edges, idx, want, ti[0], ti[o1 - o0 - 1] + 1, bv, bt, bs
            ):
                continue
            for j in range(nb):
                r = jb[j]
                for k in range(m):
                    vals[i, r, k] = bv[j, k]
                    times[i, r, k] = bt[j, k]
                    status[i, r, k] = bs[j, k]
        if kinds.size and not _series_twa(
            ti, vi, qi, edges, idx, stepped[i], kinds, jt, i, vals, times, status, lin, stp
        ):
            continue
        covered[i] = True
    return covered


def aggregate_series(
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    offsets: np.ndarray,
    edges: np.ndarray,
    stats: list[str],
    stepped: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(values, times, status) shaped (series, stats, intervals) and ``covered`` per series.

    ``t``, ``v``, ``q``: the series one after another (``q`` may be empty: all Good),
    ``offsets``: where each starts (and the end), ``stats``: Part 13 names of
    :data:`MULTI_NAMES`, ``stepped``: bool per series. Rows of series not covered are garbage.
    """
    basic = [(j, _BASIC_CODES[s]) for j, s in enumerate(stats) if s in _BASIC_CODES]
    twa = [(j, _TWA_KIND[s]) for j, s in enumerate(stats) if s in _TWA_KIND]
    shape = (offsets.size - 1, len(stats), edges.size - 1)
    vals, times = np.empty(shape), np.empty(shape, dtype=np.int64)
    status = np.empty(shape, dtype=np.uint32)
    m = edges.size - 1
    covered = _many(
        t,
        v,
        q,
        offsets.astype(np.int64),
        edges,
        np.array([c for _j, c in basic], dtype=np.int64),
        np.array([j for j, _c in basic], dtype=np.int64),
        np.array([c for _j, c in twa], dtype=np.int64),
        np.array([j for j, _c in twa], dtype=np.int64),
        stepped.astype(np.bool_),
        vals,
        times,
        status,
        np.empty((len(basic), m)),
        np.empty((len(basic), m), dtype=np.int64),
        np.empty((len(basic), m), dtype=np.uint32),
        np.empty(m),
        np.empty(m),
    )
    return vals, times, status, covered
