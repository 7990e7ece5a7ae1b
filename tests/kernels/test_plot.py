"""Plot values (M4 + Bad points): the numba kernel against the plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_aggregates_properties import QUALITIES, VALUES

from historian.errors import InvalidArgumentError
from historian.kernels import plot, plot_indices


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 40),
    data=st.data(),
    width=st.integers(1, 9),
)
def test_plot_matches_reference(n, data, width):
    t = data.draw(st.lists(st.integers(-20, 120), min_size=n, max_size=n))
    v = data.draw(st.lists(VALUES, min_size=n, max_size=n))
    q = data.draw(st.lists(st.sampled_from(QUALITIES), min_size=n, max_size=n))
    start = data.draw(st.integers(-10, 50))
    end = start + data.draw(st.integers(1, 80))
    got = plot_indices(
        np.array(t, np.int64),
        np.array(v),
        np.array(q, np.uint32),
        start_ns=start,
        end_ns=end,
        width=width,
    )
    want = ref.plot_indices(t, v, q, start=start, end=end, width=width)
    assert got.tolist() == want


def test_plot_returns_sorted_unique_samples():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 10_000, 5000).astype(np.int64)
    v = rng.normal(size=t.size)
    tt, vv, _qq = plot(t, v, None, start_ns=0, end_ns=10_000, width=100)
    assert np.all(np.diff(tt) > 0) and tt.size <= 4 * 100
    latest = dict(zip(t.tolist(), v.tolist(), strict=True))  # last of duplicate times wins
    assert vv.max() == max(latest.values()) and vv.min() == min(latest.values())


def test_plot_width_must_be_positive():
    with pytest.raises(InvalidArgumentError):
        plot_indices(np.array([1], np.int64), np.array([1.0]), start_ns=0, end_ns=2, width=0)
