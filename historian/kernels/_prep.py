"""Numba helpers for input preparation: sortedness checks and duplicate removal."""

from __future__ import annotations

import numpy as np
from numba import njit


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
def last_of_duplicates(t):  # pragma: no cover - compiled
    """Mask keeping the last sample of each run of equal (sorted) times."""
    n = t.size
    keep = np.ones(n, dtype=np.bool_)
    for i in range(n - 1):
        if t[i] == t[i + 1]:
            keep[i] = False
    return keep
