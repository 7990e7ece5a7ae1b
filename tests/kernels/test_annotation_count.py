"""AnnotationCount (Part 13 5.4.3.20) against a plain-Python reference, by hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from historian.errors import InvalidDataError
from historian.kernels import aggregate, aggregate_many
from historian.kernels.annotations import annotation_count

NO_DATA = 0x809B0000


def reference(samples, annotations, start, end, every, data_end=None):
    """Rows (value, time, status) by the words of Part 13: count the annotations in
    [a, b); Good + Calculated; Partial when the interval is not wholly inside the data;
    Bad_NoData before the first real sample or from the end of the history on (by default
    1 ns after the last real sample: Bad_NoData samples are markers, not data)."""
    real = sorted(t for t, q in samples if (q & 0xFFFF0000) != NO_DATA)
    de = (real[-1] + 1 if real else None) if data_end is None else data_end
    rows = []
    a = start
    while a < end:
        b = min(a + every, end)
        if not real or a >= de or b <= real[0]:
            rows.append((math.nan, a, NO_DATA))
        else:
            n = sum(1 for x in annotations if a <= x < b)
            partial = 0x4 if (a < real[0] or b > de) else 0
            rows.append((float(n), a, 0x401 | partial))
        a = b
    return rows


@st.composite
def cases(draw):
    n = draw(st.integers(0, 12))
    times = draw(st.lists(st.integers(-50, 150), min_size=n, max_size=n, unique=True))
    codes = draw(
        st.lists(st.sampled_from([0, 0x40000000, 0x80000000, NO_DATA]), min_size=n, max_size=n)
    )
    annotations = draw(st.lists(st.integers(-80, 180), max_size=15))
    start = draw(st.integers(-60, 100))
    every = draw(st.integers(1, 40))
    end = start + draw(st.integers(1, 160))
    return list(zip(times, codes, strict=True)), annotations, start, end, every


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_kernel_matches_reference(case):
    samples, annotations, start, end, every = case
    t = np.array([s[0] for s in samples], dtype=np.int64)
    q = np.array([s[1] for s in samples], dtype=np.uint32)
    got = aggregate(
        t,
        np.ones(t.size),
        q,
        start_ns=start,
        end_ns=end,
        every_ns=every,
        stat="annotation_count",
        annotations_ns=np.array(annotations, np.int64),
    )
    want = reference(samples, annotations, start, end, every)
    assert len(got.values) == len(want)
    for k, (wv, wt, ws) in enumerate(want):
        assert int(got.status[k]) == ws, (k, hex(int(got.status[k])), hex(ws))
        assert int(got.time_ns[k]) == wt
        gv = float(got.values[k])
        assert (math.isnan(gv) and math.isnan(wv)) or gv == wv


def test_with_other_stats_the_other_results_are_unchanged():
    t = np.arange(10, dtype=np.int64) * 10
    v = np.arange(10.0)
    both = aggregate_many(
        t,
        v,
        None,
        start_ns=0,
        end_ns=100,
        every_ns=25,
        stats=["twa", "AnnotationCount", "count"],
        annotations_ns=[5, 6, 70],
    )
    alone = aggregate_many(t, v, None, start_ns=0, end_ns=100, every_ns=25, stats=["twa", "count"])
    assert list(both) == ["twa", "AnnotationCount", "count"]
    for name in ("twa", "count"):
        np.testing.assert_array_equal(both[name].values, alone[name].values)
        np.testing.assert_array_equal(both[name].status, alone[name].status)
    assert both["AnnotationCount"].values.tolist() == [2.0, 0.0, 1.0, 0.0]


def test_no_annotations_counts_zero_and_no_data_is_bad_no_data():
    t = np.array([10, 20], dtype=np.int64)
    r = aggregate(t, [1.0, 2.0], None, start_ns=0, end_ns=40, every_ns=10, stat="annotation_count")
    assert r.values.tolist()[1:3] == [0.0, 0.0] and np.isnan(r.values[[0, 3]]).all()
    empty = annotation_count(np.array([0, 10]), [3], data_start_ns=None, data_end_ns=None)
    assert math.isnan(empty[0][0]) and int(empty[2][0]) == NO_DATA


def test_datetime64_annotations_and_bad_input():
    t = np.array([0, 10**9], dtype=np.int64)
    r = aggregate(
        t,
        [1.0, 2.0],
        None,
        start_ns=0,
        end_ns=2 * 10**9,
        every_ns=10**9,
        stat="AnnotationCount",
        annotations_ns=np.array([500], "datetime64[ms]"),
    )
    assert r.values.tolist() == [1.0, 0.0]
    with pytest.raises(InvalidDataError, match="1-D array of int64 ns"):
        aggregate(
            t,
            [1.0, 2.0],
            None,
            start_ns=0,
            end_ns=10,
            every_ns=5,
            stat="AnnotationCount",
            annotations_ns=np.array([[1.5]]),
        )
