"""Numba twins of the qualification kernels (private; see :mod:`historian.kernels.qualify`).

All loops are sequential over the arrival order of the points, and every piece of streaming state
lives in small arrays passed in and updated in place, so a stream cut into batches gives the same
result as one call over the whole stream.

Integer time differences are taken in uint64 (``t - t0`` with ``t >= t0`` is exact modulo 2**64),
so int64 extremes never overflow.
"""

from __future__ import annotations

import numpy as np

from historian.kernels._jit import njit

# Reason bits (mirrors historian.kernels.qualify.Reason; kept here so the kernels import nothing).
R_RANGE = 1 << 0
R_ROC = 1 << 1
R_FLATLINE = 1 << 2
R_SPIKE = 1 << 3
R_GAP = 1 << 4
R_NONFINITE = 1 << 5
R_FUTURE = 1 << 6
R_PAST = 1 << 7

# Layout of the int64 state vector.
S_HAS_LAST, S_LAST_T, S_HAS_ROC, S_ROC_T, S_HAS_RUN, S_RUN_T, S_HEAD, S_COUNT = range(8)
ISTATE_SIZE = 8
# Layout of the float64 state vector.
F_ROC_V, F_RUN_V = range(2)
FSTATE_SIZE = 2

HAMPEL_SCALE = 1.4826


@njit(cache=True, nogil=True, inline="always")
def _rank(q):
    if q & np.uint32(0x80000000):
        return 2
    if q & np.uint32(0x40000000):
        return 1
    return 0


@njit(cache=True, nogil=True)
def _qualify_core(
    t,
    v,
    q,
    out_q,
    out_r,
    elig,
    rng,
    roc,
    flat,
    use_gap,
    gap_ns,
    use_nonfinite,
    future_limit,
    past_limit,
    lut_code,
    lut_rank,
    istate,
    fstate,
):
    """Every rule except the spike rule, plus the combination of reasons into a quality code.

    The three value rules are passed as ``None`` when off: Numba then compiles (and caches) a
    version without them, so the hot loop carries no test for rules that are off (8 variants;
    ~30 % faster than runtime flags). ``rng`` is ``(lo, hi)``, ``roc`` the maximum change per
    second, ``flat`` ``(duration_ns, epsilon)``. The limits are int64 ns (int64 extremes when off).
    ``elig`` (uint8, length n or 0) receives 1 for the points the spike rule must look at.
    """
    n = t.shape[0]
    mark_elig = elig.shape[0] == n
    gap_u = np.uint64(gap_ns)
    has_last = istate[S_HAS_LAST]
    last_t = istate[S_LAST_T]
    has_roc = istate[S_HAS_ROC]
    roc_t = istate[S_ROC_T]
    roc_v = fstate[F_ROC_V]
    has_run = istate[S_HAS_RUN]
    run_t = istate[S_RUN_T]
    run_v = fstate[F_RUN_V]
    for i in range(n):
        ti = t[i]
        vi = v[i]
        qi = q[i]
        r = 0
        fin = np.isfinite(vi)
        if not fin:
            if use_nonfinite:
                r |= R_NONFINITE
        elif rng is not None:  # noqa: SIM102 (kept apart so Numba prunes it)
            if vi < rng[0] or vi > rng[1]:
                r |= R_RANGE
        bad_time = False
        if ti > future_limit:
            r |= R_FUTURE
            bad_time = True
        if ti < past_limit:
            r |= R_PAST
            bad_time = True
        if not bad_time and (has_last == 0 or ti >= last_t):
            if use_gap and has_last != 0 and np.uint64(ti) - np.uint64(last_t) > gap_u:
                r |= R_GAP
            last_t = ti
            has_last = 1
            if fin and (qi & np.uint32(0x80000000)) == 0:
                if mark_elig:
                    elig[i] = 1
                if roc is not None:
                    if has_roc != 0 and ti != roc_t:
                        d = ti - roc_t  # wraps only beyond 292 years: then take it unsigned
                        dt = (
                            np.float64(d) if d > 0 else np.float64(np.uint64(ti) - np.uint64(roc_t))
                        )
                        if abs(vi - roc_v) * 1e9 > roc * dt:
                            r |= R_ROC
                    roc_t = ti
                    roc_v = vi
                    has_roc = 1
                if flat is not None:
                    if has_run != 0 and abs(vi - run_v) <= flat[1]:
                        if np.uint64(ti) - np.uint64(run_t) > np.uint64(flat[0]):
                            r |= R_FLATLINE
                    else:
                        run_t = ti
                        run_v = vi
                        has_run = 1
        out_r[i] = r
        if r != 0 and lut_rank[r] > _rank(qi):
            out_q[i] = lut_code[r]
        else:
            out_q[i] = qi
    istate[S_HAS_LAST] = has_last
    istate[S_LAST_T] = last_t
    istate[S_HAS_ROC] = has_roc
    istate[S_ROC_T] = roc_t
    fstate[F_ROC_V] = roc_v
    istate[S_HAS_RUN] = has_run
    istate[S_RUN_T] = run_t
    fstate[F_RUN_V] = run_v


@njit(cache=True, nogil=True, inline="always")
def _kth_deviation(s, w, c, m, k):
    """The k-th smallest (0-based) of |s - m| over the sorted window ``s`` of length ``w``.

    Left of the split ``c`` the deviations ``m - s[c-1-x]`` increase with x; right of it
    ``s[c+y] - m`` increase with y: two sorted runs, selected by binary search in O(log w).
    Returns the k-th and the (k+1)-th smallest (the latter +inf if there is none).
    """
    a = c
    b = w - c
    lo = max(0, k + 1 - b)
    hi = min(k + 1, a)
    while lo < hi:
        i = (lo + hi) // 2
        j = k + 1 - i
        # predicate: A[i] >= B[j-1]
        ai = m - s[c - 1 - i]  # i < a here since i < hi <= a
        bj = s[c + j - 1] - m if j > 0 else -np.inf
        if ai >= bj:
            hi = i
        else:
            lo = i + 1
    i = lo
    j = k + 1 - i
    left = m - s[c - i] if i > 0 else -np.inf  # A[i-1]
    right = s[c + j - 1] - m if j > 0 else -np.inf  # B[j-1]
    kth = left if left > right else right
    na = m - s[c - 1 - i] if i < a else np.inf  # A[i]
    nb = s[c + j] - m if j < b else np.inf  # B[j]
    nxt = na if na < nb else nb
    return kth, nxt


@njit(cache=True, nogil=True)
def _median_mad(s, w):
    """Median and MAD (unscaled) of the sorted window ``s[:w]``."""
    h = w // 2
    m = s[h] if w % 2 == 1 else 0.5 * s[h - 1] + 0.5 * s[h]
    # split: first index with s[c] >= m
    lo = 0
    hi = w
    while lo < hi:
        mid = (lo + hi) // 2
        if s[mid] < m:
            lo = mid + 1
        else:
            hi = mid
    c = lo
    if w % 2 == 1:
        mad, _ = _kth_deviation(s, w, c, m, h)
    else:
        a, b = _kth_deviation(s, w, c, m, h - 1)
        mad = 0.5 * a + 0.5 * b
    return m, mad


@njit(cache=True, nogil=True, inline="always")
def _is_spike(s, w, x, kc, min_dev):
    """Hampel test ``|x - m| > kc * MAD`` without selecting the MAD in most cases.

    The deviations ``kc * |s_j - m|`` are monotone in ``|s_j - m|``, so with ``c`` the number of
    them below ``dev``: for an odd window the test is exactly ``c > w // 2``; for an even one
    (MAD = mean of the two middle deviations) it is decided unless ``c == w // 2``, where the MAD
    is computed exactly. The count is a branch-free loop the compiler vectorises.
    """
    h = w // 2
    m = s[h] if w % 2 == 1 else 0.5 * s[h - 1] + 0.5 * s[h]
    dev = abs(x - m)
    if not dev > min_dev:
        return False
    c = 0
    for j in range(w):
        c += dev > kc * abs(s[j] - m)
    if w % 2 == 1 or c != h:
        return c > h
    _, mad = _median_mad(s, w)
    return dev > kc * mad


@njit(cache=True, nogil=True)
def _spike_pass(
    v, q, elig, out_q, out_r, window, kc, min_dev, ring, sorted_w, istate, lut_code, lut_rank
):
    """Hampel rule over the eligible points; ``ring`` holds the window in arrival order and
    ``sorted_w`` the same values sorted (updated by one removal and one insertion per point)."""
    n = v.shape[0]
    head = istate[S_HEAD]
    count = istate[S_COUNT]
    w = window
    for i in range(n):
        if elig[i] == 0:
            continue
        x = v[i]
        if count == w:
            old = ring[head]
            ring[head] = x
            head += 1
            if head == w:
                head = 0
            # find old in sorted_w (binary search, any equal element)
            lo = 0
            hi = w - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if sorted_w[mid] < old:
                    lo = mid + 1
                else:
                    hi = mid
            p = lo
            if x >= old:
                while p + 1 < w and sorted_w[p + 1] < x:
                    sorted_w[p] = sorted_w[p + 1]
                    p += 1
            else:
                while p > 0 and sorted_w[p - 1] > x:
                    sorted_w[p] = sorted_w[p - 1]
                    p -= 1
            sorted_w[p] = x
        else:
            pos = head + count
            if pos >= w:
                pos -= w
            ring[pos] = x
            p = count
            while p > 0 and sorted_w[p - 1] > x:
                sorted_w[p] = sorted_w[p - 1]
                p -= 1
            sorted_w[p] = x
            count += 1
        if count == w and _is_spike(sorted_w, w, x, kc, min_dev):
            r = out_r[i] | R_SPIKE
            out_r[i] = r
            if lut_rank[r] > _rank(q[i]):
                out_q[i] = lut_code[r]
    istate[S_HEAD] = head
    istate[S_COUNT] = count


@njit(cache=True, nogil=True)
def _find_gaps(t_sorted, gap_ns, out_start, out_end):
    """Gaps longer than ``gap_ns`` between consecutive sorted times; returns their number."""
    n = t_sorted.shape[0]
    g = np.uint64(gap_ns)
    k = 0
    for i in range(1, n):
        if np.uint64(t_sorted[i]) - np.uint64(t_sorted[i - 1]) > g:
            out_start[k] = t_sorted[i - 1]
            out_end[k] = t_sorted[i]
            k += 1
    return k
