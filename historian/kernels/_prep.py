"""Numba helpers for input preparation: sortedness and quality checks."""

from __future__ import annotations

import numpy as np

from historian.kernels._jit import njit


@njit(cache=True, nogil=True)
def increasing_state(t):  # pragma: no cover - compiled
    """0: strictly increasing, 1: non-decreasing with duplicates, 2: unsorted."""
    state = 0
    for i in range(1, t.size):
        if t[i] < t[i - 1]:
            return 2
        if t[i] == t[i - 1]:
            state = 1
    return state


@njit(cache=True, nogil=True)
def scan(t, v, q):  # pragma: no cover - compiled
    """One pass: (order state as in increasing_state, every quality Good and value finite)."""
    n = t.size
    unsorted = False
    dups = False
    for i in range(1, n):
        d = t[i] - t[i - 1]
        unsorted |= t[i] < t[i - 1]
        dups |= d == 0
    acc = 0.0
    qor = np.uint32(0)
    for i in range(n):
        acc += v[i] - v[i]
        qor |= q[i]
    state = 2 if unsorted else (1 if dups else 0)
    return state, qor == 0 and acc == 0.0
