"""Hypothesis strategies for historian data: tag names, times, and batches of points.

Needs the ``test`` extra (``hypothesis``). Times are int nanoseconds inside the range a store
accepts; values are finite floats (NaN and inf are stored with Bad quality, a separate case);
quality codes are Good, Uncertain or Bad OPC UA StatusCodes.

Examples
--------
>>> from hypothesis import given, settings
>>> from historian.testing.strategies import point_batches
>>> @settings(max_examples=5)
... @given(point_batches())
... def check(batch):
...     times, values, quality = batch
...     assert len(times) == len(values) == len(quality)
>>> check()
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from historian.model.quality import BAD, GOOD, UNCERTAIN

__all__ = ["TIME_MAX", "TIME_MIN", "point_batches", "qualities", "tag_names", "times_ns"]

#: The times the strategies draw from: 1990-01-01 .. 2100-01-01 in ns.
TIME_MIN = 631_152_000 * 10**9
TIME_MAX = 4_102_444_800 * 10**9


def tag_names() -> st.SearchStrategy[str]:
    """Valid tag names in the ISA style (``TIC-101.PV``, ``Area_2/Pump-1.Speed``)."""
    part = st.from_regex(r"[A-Z][A-Za-z0-9_-]{0,11}", fullmatch=True)
    return st.builds(lambda a, b: f"{a}.{b}", part, part)


def times_ns(*, min_ns: int = TIME_MIN, max_ns: int = TIME_MAX) -> st.SearchStrategy[int]:
    """Times as int nanoseconds in ``[min_ns, max_ns]``."""
    return st.integers(min_value=min_ns, max_value=max_ns)


def qualities() -> st.SearchStrategy[int]:
    """OPC UA StatusCodes: mostly Good, some Uncertain and Bad."""
    return st.sampled_from([GOOD, GOOD, GOOD, UNCERTAIN, BAD])


def point_batches(
    *,
    min_size: int = 1,
    max_size: int = 50,
    unique_times: bool = True,
    span_ns: int = 10 * 86_400 * 10**9,
) -> st.SearchStrategy[Any]:
    """One write call's points: ``(times, values, quality)`` numpy arrays of equal length,
    the times within ``span_ns`` of each other (a few days: several files per flush), unique
    unless ``unique_times=False`` (then a repeated time is a correction: the last one wins)."""

    def build(
        start: int, offsets: list[int], values: list[float], quality: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = min(len(offsets), len(values), len(quality))
        times = np.asarray(offsets[:n], dtype=np.int64) + start
        return times, np.asarray(values[:n], dtype=np.float64), np.asarray(quality[:n], np.uint32)

    offsets = st.lists(
        st.integers(0, span_ns), min_size=min_size, max_size=max_size, unique=unique_times
    )
    return st.builds(
        build,
        times_ns(max_ns=TIME_MAX - span_ns),
        offsets,
        st.lists(
            st.floats(-1e12, 1e12, allow_nan=False, width=64), min_size=max_size, max_size=max_size
        ),
        st.lists(qualities(), min_size=max_size, max_size=max_size),
    )
