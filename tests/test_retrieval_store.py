"""Store-level summary/interpolated/plot equal the array-level functions on the same points,
whatever the window: the store supplies the bounding values outside it."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, given, settings

import historian
from historian.model import quality as q
from historian.query.retrieval import interpolated_for_tags, plot_for_tag

S = 1_000_000_000
T0 = 1_767_225_600_000_000_000
STATS = [
    "twa",
    "mean",
    "min",
    "max",
    "count",
    "first",
    "last",
    "pct_good",
    "delta",
    "TimeAverage",
    "Total2",
]


@st.composite
def series(draw):
    n = draw(st.integers(0, 40))
    t = np.array(
        sorted(set(draw(st.lists(st.integers(0, 200), min_size=n, max_size=n)))), dtype=np.int64
    )
    v = np.array(
        draw(st.lists(st.floats(-100, 100), min_size=t.size, max_size=t.size)), dtype=np.float64
    )
    qual = np.array(
        draw(
            st.lists(
                st.sampled_from([0, 0, 0, q.UNCERTAIN, q.BAD_SENSOR_FAILURE]),
                min_size=t.size,
                max_size=t.size,
            )
        ),
        dtype=np.uint32,
    )
    return T0 + t * S, np.round(v, 2), qual


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=series(),
    a=st.integers(-20, 220),
    width=st.integers(1, 100),
    every=st.integers(1, 60),
    kind=st.sampled_from(["analog", "step"]),
    config=st.sampled_from([None, {"UseSlopedExtrapolation": True}, {"TreatUncertainAsBad": True}]),
)
def test_store_level_calls_match_array_level_functions(
    tmp_path_factory, data, a, width, every, kind, config
):
    t, v, qual = data
    start, end = T0 + a * S, T0 + (a + width) * S
    with historian.open(tmp_path_factory.mktemp("h"), flush_points=10**9) as h:
        h.define("A", kind=kind)
        h.write("A", t, v, quality=qual)
        h.flush()
        # NaN-free data: the store keeps quality as given.
        got = h.summary("A", start, end, every, stats=STATS, config=config)  # every: seconds
        want = historian.summarize(
            t,
            v,
            qual,
            start=start,
            end=end,
            every=every,
            stats=STATS,
            config=config,
            stepped=kind == "step",
            tag="A",
        )
        assert got.drop(["value"]).equals(want.drop(["value"]))
        # Sums may round differently when the store passes fewer points outside the window.
        np.testing.assert_allclose(
            got.column("value").to_numpy(zero_copy_only=False),
            want.column("value").to_numpy(zero_copy_only=False),
            rtol=1e-9,
            atol=1e-9,
        )
        assert got.column("value").is_null().equals(want.column("value").is_null())
        got_i = h.interpolated("A", start, end, every, quality=True)
        want_i = interpolated_for_tags(
            {"A": (t, v, qual)},
            start_ns=start,
            end_ns=end,
            every_ns=every * S,
            stepped_by_tag={"A": kind == "step"},
            quality=True,
        )
        assert got_i.equals(want_i)
        got_p = h.plot("A", start, end, width=min(width, 50))
        want_p = plot_for_tag(t, v, qual, start_ns=start, end_ns=end, width=min(width, 50), tag="A")
        assert got_p.equals(want_p)


def test_summary_of_several_tags_and_unknown_stat(h):
    import pytest

    from historian.errors import InvalidArgumentError

    h.define("A")
    h.define("B", kind="step")
    h.write("A", T0 + np.arange(60) * S, np.arange(60.0))
    h.write("B", T0 + np.arange(0, 60, 10) * S, np.arange(6.0))
    s = h.summary(["A", "B"], T0, T0 + 60 * S, "30s", stats=["twa", "max"])
    assert s.num_rows == 2 * 2 * 2
    assert s.column("tag").to_pylist()[:4] == ["A"] * 4
    with pytest.raises(InvalidArgumentError):
        h.summary("A", T0, T0 + 60 * S, "30s", stats=["nonsense"])
    with pytest.raises(InvalidArgumentError):
        h.summary("A", T0 + 60 * S, T0, "30s")
