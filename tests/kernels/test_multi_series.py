"""The multi-series fast path (kernels/_multi.py): one kernel call for many tags gives the same
bits as ``aggregate_many`` per tag, and leaves to the caller exactly the series it cannot cover;
``summary_for_tags`` over many tags equals the per-tag computation."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_small_paths import kernels_only

from historian.kernels import aggregate_many
from historian.kernels._config import interval_edges
from historian.kernels._multi import aggregate_series
from historian.query.retrieval import summary_for_tags

STATS = [
    "Count",
    "Average",
    "Minimum",
    "Maximum",
    "MinimumActualTime",
    "MaximumActualTime",
    "Start",
    "End",
    "Range",
    "TimeAverage",
    "TimeAverage2",
    "Total",
    "Total2",
]


@st.composite
def many_series(draw):
    n_series = draw(st.integers(1, 6))
    out = []
    for _ in range(n_series):
        n = draw(st.integers(0, 25))
        offsets = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
        kind = draw(st.sampled_from(["sorted", "sorted", "sorted", "raw"]))
        t = sorted(set(offsets)) if kind == "sorted" else offsets
        v = draw(
            st.lists(
                st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([np.nan, np.inf])),
                min_size=len(t),
                max_size=len(t),
            )
        )
        q = draw(
            st.lists(
                st.sampled_from([0, 0, 0, 0, 0x40000000, 0x80000000]),
                min_size=len(t),
                max_size=len(t),
            )
        )
        out.append(
            (
                np.array(t, np.int64),
                np.array(v, np.float64),
                np.array(q, np.uint32),
                draw(st.booleans()),
            )
        )
    lo = draw(st.integers(-20, 200))
    every = draw(st.integers(1, 80))
    end = lo + every * draw(st.integers(1, 6))
    stats = draw(st.lists(st.sampled_from(STATS), min_size=1, max_size=5, unique=True))
    return out, lo, end, every, stats


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=many_series())
def test_multi_series_equals_aggregate_many_per_series(data):
    series, lo, end, every, stats = data
    edges = interval_edges(lo, end, every)
    offsets = np.cumsum([0] + [t.size for t, _v, _q, _s in series]).astype(np.int64)
    vals, times, status, covered = aggregate_series(
        np.concatenate([s[0] for s in series]),
        np.concatenate([s[1] for s in series]),
        np.concatenate([s[2] for s in series]),
        offsets,
        edges,
        stats,
        np.array([s[3] for s in series]),
    )
    for i, (t, v, q, stepped) in enumerate(series):
        with kernels_only():
            want = aggregate_many(
                t, v, q, start_ns=lo, end_ns=end, every_ns=every, stats=stats, stepped=stepped
            )
        fits = (
            t.size > 0
            and bool((t[1:] > t[:-1]).all())
            and not q.any()
            and bool(np.isfinite(v).all())
        )
        if not fits:
            assert not covered[i], (i, t, v, q)
            continue
        twa = any(s in ("TimeAverage", "TimeAverage2", "Total", "Total2") for s in stats)
        inside = edges[0] >= t[0] and edges[-1] <= t[-1]
        assert covered[i] == (inside or not twa), (i, t, edges)
        if not covered[i]:
            continue
        for j, name in enumerate(stats):
            np.testing.assert_array_equal(status[i, j], want[name].status, err_msg=name)
            np.testing.assert_array_equal(times[i, j], want[name].time_ns, err_msg=name)
            np.testing.assert_array_equal(vals[i, j], want[name].values, err_msg=name)


def test_summary_for_tags_over_many_tags_equals_one_tag_at_a_time():
    rng = np.random.default_rng(3)
    s = 1_000_000_000
    series = {}
    for i in range(120):
        t = np.unique(rng.integers(0, 3600, int(rng.integers(1, 80)))).astype(np.int64) * s
        q = None if i % 2 else np.zeros(t.size, np.uint32)
        series[f"T{i:03d}"] = (t, rng.normal(size=t.size).round(2), q)
    t, v, _q = series["T004"]  # one Bad sample: that tag goes through aggregate_many
    q = np.zeros(t.size, np.uint32)
    q[0] = 0x80000000
    series["T004"] = (t, v, q)
    series["T006"] = (t[:0], v[:0], None)  # no samples at all
    args = dict(
        start_ns=100 * s,
        end_ns=3500 * s,
        every_ns=300 * s,
        stats=["twa", "min", "max", "mean", "count", "first", "total", "time_average"],
        stepped_by_tag={"T010": True, "T011": True},
    )
    assert sum(x[0].size for x in series.values()) > 4096  # the multi-series path is taken
    together = summary_for_tags(series, **args)
    with kernels_only():
        apart = [summary_for_tags({tag: item}, **args) for tag, item in series.items()]
    import pyarrow as pa

    assert together.equals(pa.concat_tables(apart))
