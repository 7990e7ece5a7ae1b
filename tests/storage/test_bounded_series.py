"""h.bounded_series against its contract, computed in plain Python from every point of a tag.

Before the window: every point back to and including the second-latest Good one (all of them
when fewer than two are Good); inside [start, end): every point; after: every point up to and
including the first Good one (all when none is). Gaps of hours to years make the search reach
past its first hour, points in files and in memory make it merge, and Bad/Uncertain points make
"Good" matter.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import historian

H = 3600 * 10**9
T0 = 1_767_225_600 * 10**9
QUALITIES = [0, 0, 0, 0x40000000, 0x80000000]  # mostly Good


def reference(times: list[int], quality: list[int], start: int, end: int) -> list[int]:
    """The times the contract says bounded_series returns for one tag."""
    before = [i for i, t in enumerate(times) if t < start]
    inside = [i for i, t in enumerate(times) if start <= t < end]
    after = [i for i, t in enumerate(times) if t >= end]
    good_before = [i for i in before if quality[i] == 0]
    first = good_before[-2] if len(good_before) >= 2 else (before[0] if before else None)
    keep_before = [i for i in before if first is not None and i >= first]
    good_after = [i for i in after if quality[i] == 0]
    last = good_after[0] if good_after else (after[-1] if after else None)
    keep_after = [i for i in after if last is not None and i <= last]
    return [times[i] for i in keep_before + inside + keep_after]


gaps = st.sampled_from([1, 60, 1800, 2 * 3600, 40 * 3600, 60 * 86400, 2 * 365 * 86400])
tag_points = st.lists(st.tuples(gaps, st.sampled_from(QUALITIES)), max_size=25)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    series=st.lists(tag_points, min_size=1, max_size=4),
    flushed=st.integers(0, 25),
    start_at=st.integers(0, 30),
    length=st.sampled_from([1, 30, 3600, 3 * 86400]),
)
def test_bounded_series_matches_the_contract(tmp_path_factory, series, flushed, start_at, length):
    path = tmp_path_factory.mktemp("bounded")
    expected_inputs = {}
    with historian.open(path, flush_points=10**9, background=False) as h:
        names = [f"T{i}" for i in range(len(series))]
        h.define_many({n: {} for n in names})
        for name, pts in zip(names, series, strict=True):
            times = (T0 + np.cumsum([g for g, _ in pts], dtype=np.int64) * 10**9).tolist()
            quality = [q for _, q in pts]
            expected_inputs[name] = (times, quality)
            if not pts:
                continue
            cut = min(flushed, len(pts))  # the first `cut` points in a file, the rest in memory
            if cut:
                h.write(name, times[:cut], np.arange(cut, dtype=float), quality[:cut])
                h.flush()
            if cut < len(pts):
                h.write(name, times[cut:], np.arange(cut, len(pts), dtype=float), quality[cut:])
        every = sorted({t for ts, _ in expected_inputs.values() for t in ts}) or [T0]
        start = every[min(start_at, len(every) - 1)] - 10**9 // 2
        end = start + length * 10**9
        got = h.bounded_series(names, start, end)
    for name in names:
        times, quality = expected_inputs[name]
        want = reference(times, quality, start, end)
        sl = got[name]
        assert (sl.time.tolist() if sl is not None else []) == want, name
        if sl is not None:  # values and qualities travel with their times
            idx = [times.index(t) for t in want]
            assert sl.quality.tolist() == [quality[i] for i in idx]
            assert sl.value.tolist() == [float(i) for i in idx]


@pytest.mark.parametrize("gap_h", [0.5, 5, 100, 24 * 800])
def test_a_value_held_from_long_before_is_found(tmp_path, gap_h):
    """The search reaches past its first hour (30 h, 900 h, ... then everything)."""
    gap = int(gap_h * H)
    with historian.open(tmp_path, background=False) as h:
        h.define("A")
        h.write("A", [T0 - gap - 10**9, T0 - gap, T0 + 10 * H + gap], [1.0, 2.0, 3.0])
        sl = h.bounded_series(["A"], T0, T0 + 10 * H)["A"]
    assert sl.time.tolist() == [T0 - gap - 10**9, T0 - gap, T0 + 10 * H + gap]
