"""Source compression: deadband and swinging door against the reference, and their guarantees."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from historian.errors import InvalidArgumentError
from historian.kernels.compress import (
    DeadbandCompressor,
    SwingingDoorCompressor,
    compressor_from_dict,
    deadband_mask,
    swinging_door_mask,
)

try:
    from .qualify_reference import (
        INT64_MAX,
        INT64_MIN,
        deadband_reference,
        swinging_door_reference,
    )
except ImportError:
    from qualify_reference import (  # type: ignore[no-redef]
        INT64_MAX,
        INT64_MIN,
        deadband_reference,
        swinging_door_reference,
    )

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
S = 1_000_000_000


@st.composite
def streams(draw, max_size=60, increasing=False):
    n = draw(st.integers(0, max_size))
    base = draw(st.sampled_from([0, 1_767_225_600 * S, INT64_MIN, INT64_MAX - 200 * S]))
    lo = 1 if increasing else -3 * S
    steps = draw(
        st.lists(
            st.one_of(st.integers(lo, 3 * S), st.sampled_from([S, S, 2 * S])),
            min_size=n,
            max_size=n,
        )
    )
    t, cur = [], base
    for s in steps:
        cur = min(max(cur + s, INT64_MIN), INT64_MAX)
        t.append(cur)
    if increasing:
        t = sorted(set(t))
        n = len(t)
    walk = st.floats(-2, 2)
    values = [0.0]
    for d in draw(st.lists(walk, min_size=n, max_size=n)):
        values.append(values[-1] + d)
    v = values[1:]
    if not increasing and draw(st.booleans()):
        odd = st.sampled_from([float("nan"), float("inf"), 1e300, -1e300])
        for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3)):
            if n:
                v[i] = draw(odd)
    if increasing:
        q = [0] * n
    else:
        q = draw(st.lists(st.sampled_from([0, 0, 0, 0x80310000]), min_size=n, max_size=n))
    return t, v, q


dev_st = st.sampled_from([0.0, 0.1, 0.5, 2.0])
max_st = st.sampled_from([None, 0, S, 3 * S, 3600 * S])
min_st = st.sampled_from([0, 0, S, 2 * S])


def _arr(t, v, q):
    return np.array(t, np.int64), np.array(v, np.float64), np.array(q, np.uint32)


def _ns(x):
    return None if x is None else f"{x}ns"


def _push_in_batches(comp, t, v, q, cuts):
    n = len(t)
    idx, tt, vv = [], [], []
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        e = comp.push(t[a:b], v[a:b], q[a:b])
        idx += e.indices.tolist()
        tt += e.t_ns.tolist()
        vv += e.values.tolist()
        comp = type(comp).from_state(json.loads(json.dumps(comp.state_dict())))
    e = comp.flush()
    return idx + e.indices.tolist(), tt + e.t_ns.tolist(), vv + e.values.tolist()


@SETTINGS
@given(streams(), dev_st, max_st, st.data())
def test_deadband_matches_reference_in_any_batching(stream, dev, mx, data):
    t, v, q = _arr(*stream)
    ref = deadband_reference(*stream, dev, mx)
    mask = deadband_mask(t, v, q, deviation=dev, max_time=_ns(mx))
    assert np.flatnonzero(mask).tolist() == sorted(ref)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(t)), max_size=5)))
    idx, tt, vv = _push_in_batches(DeadbandCompressor(dev, _ns(mx)), t, v, q, cuts)
    assert idx == ref
    assert tt == t[idx].tolist()
    np.testing.assert_array_equal(vv, v[idx])
    if len(t):
        assert mask[0] and mask[-1]


@SETTINGS
@given(streams(), dev_st, min_st, max_st, st.data())
def test_swinging_door_matches_reference_in_any_batching(stream, dev, mn, mx, data):
    t, v, q = _arr(*stream)
    ref = swinging_door_reference(*stream, dev, mn, mx)
    mask = swinging_door_mask(t, v, q, deviation=dev, min_time=_ns(mn), max_time=_ns(mx))
    assert np.flatnonzero(mask).tolist() == sorted(ref)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(t)), max_size=5)))
    comp = SwingingDoorCompressor(dev, _ns(mn), _ns(mx))
    idx, tt, vv = _push_in_batches(comp, t, v, q, cuts)
    assert idx == ref
    assert tt == t[idx].tolist()
    np.testing.assert_array_equal(vv, v[idx])
    if len(t):
        assert mask[0] and mask[-1]


def _tol(dev, *xs):
    return dev + 1e-9 * (1 + max(abs(x) for x in xs))


@SETTINGS
@given(streams(increasing=True), st.sampled_from([0.0, 0.1, 0.5, 2.0]), max_st)
def test_deadband_dropped_points_lie_within_deviation_of_last_kept(stream, dev, mx):
    t, v, q = _arr(*stream)
    mask = deadband_mask(t, v, q, deviation=dev, max_time=_ns(mx))
    last = None
    for i in range(len(t)):
        if mask[i]:
            last = v[i]
        else:
            assert abs(v[i] - last) <= dev


@SETTINGS
@given(streams(increasing=True), st.sampled_from([0.0, 0.1, 0.5, 2.0]), max_st)
def test_swinging_door_dropped_points_lie_within_deviation_of_the_line(stream, dev, mx):
    t, v, q = _arr(*stream)
    mask = swinging_door_mask(t, v, q, deviation=dev, max_time=_ns(mx))
    kept = np.flatnonzero(mask)
    for a, b in itertools.pairwise(kept):
        ta, tb = int(t[a]), int(t[b])
        for j in range(a + 1, b):
            line = v[a] + (v[b] - v[a]) * ((int(t[j]) - ta) / (tb - ta))
            assert abs(v[j] - line) <= _tol(dev, v[a], v[b], v[j])


def test_compression_reduces_a_slow_signal():
    t = np.arange(10_000, dtype=np.int64) * S
    v = np.sin(np.arange(10_000) / 500.0) * 10
    sdt = swinging_door_mask(t, v, deviation=0.05)
    db = deadband_mask(t, v, deviation=0.05)
    assert sdt.sum() < 10_000 / 20 and db.sum() < 10_000 / 2  # a ramp: exception sends pairs
    assert sdt[0] and sdt[-1] and db[0] and db[-1]


def test_quality_changes_and_nonfinite_are_always_kept():
    t = np.arange(6, dtype=np.int64) * S
    v = [1.0, 1.0, 1.0, np.nan, 1.0, 1.0]
    q = [0, 0, 0x80310000, 0, 0, 0]
    for mask in (deadband_mask(t, v, q, deviation=1), swinging_door_mask(t, v, q, deviation=1)):
        assert mask.tolist() == [True, True, True, True, True, True]


def test_max_time_forces_reports():
    t = np.arange(10, dtype=np.int64) * S
    v = np.zeros(10)
    assert np.flatnonzero(deadband_mask(t, v, deviation=1, max_time="3s")).tolist() == [
        0, 2, 3, 5, 6, 8, 9
    ]  # fmt: skip
    assert swinging_door_mask(t, v, deviation=1, max_time="3s").sum() < 10


def test_late_points_pass_through():
    c = DeadbandCompressor(deviation=1.0)
    e = c.push([10, 20, 15, 30], [0.0, 0.1, 99.0, 0.2])
    assert e.indices.tolist() == [0, 2]
    assert c.flush().t_ns.tolist() == [30]


def test_held_point_from_an_earlier_batch_is_emitted_with_its_values():
    c = SwingingDoorCompressor(deviation=0.1)
    c.push([0, S, 2 * S], [0.0, 1.0, 2.0], [0, 0, 0])
    e = c.push([3 * S], [0.0], [0])
    assert e.indices.tolist() == [2]
    assert (
        e.t_ns.tolist() == [2 * S] and e.values.tolist() == [2.0] and e.quality.dtype == np.uint32
    )


def test_config_parsing():
    c = compressor_from_dict({"deadband": {"deviation": 0.5, "max_time": "10min"}})
    assert isinstance(c, DeadbandCompressor) and c.max_ns == 600 * S
    assert compressor_from_dict({}) is None
    assert isinstance(compressor_from_dict({"swinging_door": 1}), SwingingDoorCompressor)
    for bad, match in [
        ({"sdt": 1}, "unknown compression 'sdt'"),
        ({"deadband": {"dev": 1}}, "unknown key 'dev'"),
        ({"deadband": {}}, "needs 'deviation'"),
        ({"deadband": -1}, "finite and >= 0"),
        ({"swinging_door": {"deviation": 1, "max_time": "often"}}, "'max_time' is not a duration"),
        ({"deadband": 1, "swinging_door": 1}, "compression must be one of"),
    ]:
        with pytest.raises(InvalidArgumentError, match=match):
            compressor_from_dict(bad)
    with pytest.raises(InvalidArgumentError, match="not a compressor state"):
        DeadbandCompressor.from_state({"kind": "zip"})
