"""Hypothesis properties: the qualification kernels against the plain-Python reference."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from historian.kernels import _qualify_jit as jit
from historian.kernels.qualify import QualificationRules, Qualifier, find_gaps, qualify_history

try:  # tests/kernels is not a package unless another module makes it one
    from .qualify_reference import (
        INT64_MAX,
        INT64_MIN,
        find_gaps_reference,
        hampel_is_spike,
        qualify_reference,
    )
except ImportError:
    from qualify_reference import (  # type: ignore[no-redef]
        INT64_MAX,
        INT64_MIN,
        find_gaps_reference,
        hampel_is_spike,
        qualify_reference,
    )

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
S = 1_000_000_000

QUALITIES = [0, 0, 0, 0, 0x40000000, 0x40940000, 0x80310000, 0x00300000, 0xC0000000]
values_st = st.one_of(
    st.sampled_from([0.0, 1.0, 1.5, -2.0, 100.0, float("nan"), float("inf"), -float("inf")]),
    st.floats(-1e3, 1e3),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)


@st.composite
def streams(draw, max_size=60):
    """(t, v, q): times near a random base (incl. int64 extremes), with duplicates, late points."""
    n = draw(st.integers(0, max_size))
    base = draw(st.sampled_from([0, 1_767_225_600 * S, INT64_MIN, INT64_MAX - 50 * S, -5 * S]))
    steps = draw(
        st.lists(
            st.one_of(
                st.integers(0, 3 * S),
                st.sampled_from([0, S, S, S, 10 * S]),
                st.integers(0, S),
                st.integers(-5 * S, 0),
            ),
            min_size=n,
            max_size=n,
        )
    )
    t, cur = [], base
    for s in steps:
        cur = min(max(cur + s, INT64_MIN), INT64_MAX)
        t.append(cur)
    if draw(st.booleans()) and n:  # sometimes sprinkle int64 extremes
        i = draw(st.integers(0, n - 1))
        t[i] = draw(st.sampled_from([INT64_MIN, INT64_MAX]))
    flat = st.sampled_from([1.0, 1.0, 1.0, 1.05, 2.0, float("nan")])  # stuck runs, small steps
    v = draw(st.lists(draw(st.sampled_from([values_st, flat])), min_size=n, max_size=n))
    q = draw(st.lists(st.sampled_from(QUALITIES), min_size=n, max_size=n))
    return t, v, q


durations = st.sampled_from(["0s", "1ns", "1s", "2s", "5s", "1h", 2.5])


@st.composite
def rule_dicts(draw):
    d: dict = {}
    if draw(st.booleans()):
        lo = draw(st.sampled_from([None, -1.0, 0.0]))
        d["range"] = {
            "lo": lo,
            "hi": draw(st.sampled_from([None, 1.0, 50.0])) if lo is not None else 50.0,
            "mode": draw(st.sampled_from(["hard", "engineering"])),
        }
    if draw(st.booleans()):
        d["roc"] = {"max_per_s": draw(st.sampled_from([0.0, 0.5, 10.0]))}
    if draw(st.booleans()):
        d["flatline"] = {"duration": draw(durations), "epsilon": draw(st.sampled_from([0, 0.1]))}
    if draw(st.booleans()):
        d["spike"] = {
            "window": draw(st.integers(3, 8)),
            "k": draw(st.sampled_from([0.5, 3.0])),
            "min_deviation": draw(st.sampled_from([0.0, 0.5])),
        }
    if draw(st.booleans()):
        d["gap"] = {"expected": draw(durations)}
    if draw(st.booleans()):
        d["nonfinite"] = False
    if draw(st.booleans()):
        d["future"] = {"tolerance": draw(durations)}
    if draw(st.booleans()):
        d["past"] = draw(
            st.sampled_from(
                [{"max_age": "1h"}, {"earliest": 0}, {"max_age": "1s", "earliest": -(10**18)}]
            )
        )
    if draw(st.booleans()):  # custom codes, including a Good one (reason bit only)
        rule = draw(st.sampled_from(sorted(d) or ["nonfinite"]))
        if isinstance(d.get(rule), dict):
            d[rule]["quality"] = draw(st.sampled_from(["Good", "Uncertain", "Bad_DataLost"]))
    return d


now_st = st.one_of(
    st.sampled_from([0, 1_767_225_600 * S, INT64_MAX, INT64_MIN]), st.integers(INT64_MIN, INT64_MAX)
)


def _arrays(t, v, q):
    return (
        np.array(t, dtype=np.int64),
        np.array(v, dtype=np.float64),
        np.array(q, dtype=np.uint32),
    )


@SETTINGS
@given(streams(), rule_dicts(), now_st)
def test_one_shot_matches_reference(stream, rules, now):
    t, v, q = _arrays(*stream)
    got_q, got_r = qualify_history(t, v, q, rules=rules, now_ns=now)
    ref_q, ref_r = qualify_reference(*stream, QualificationRules.from_dict(rules), now)
    assert got_r.tolist() == ref_r
    assert got_q.tolist() == ref_q
    assert got_q.dtype == np.uint32 and got_r.dtype == np.uint16


@SETTINGS
@given(streams(), rule_dicts(), now_st, st.data())
def test_batching_never_changes_the_result(stream, rules, now, data):
    t, v, q = _arrays(*stream)
    whole_q, whole_r = qualify_history(t, v, q, rules=rules, now_ns=now)
    n = len(t)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=6)))
    persist = data.draw(st.booleans())  # round-trip the state through JSON at every cut
    qual = Qualifier(rules)
    parts_q, parts_r = [], []
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        got_q, got_r = qual.qualify(t[a:b], v[a:b], q[a:b], now_ns=now)
        parts_q.append(got_q)
        parts_r.append(got_r)
        if persist:
            qual = Qualifier.from_state(json.loads(json.dumps(qual.state_dict())))
    assert np.concatenate(parts_r).tolist() == whole_r.tolist()
    assert np.concatenate(parts_q).tolist() == whole_q.tolist()


@SETTINGS
@given(streams(), rule_dicts(), now_st)
def test_only_downgrades_and_keeps_bad_source_codes(stream, rules, now):
    t, v, q = _arrays(*stream)
    got_q, got_r = qualify_history(t, v, q, rules=rules, now_ns=now)

    def rank(c):
        return 2 if c & 0x80000000 else (1 if c & 0x40000000 else 0)

    for src, out, r in zip(q.tolist(), got_q.tolist(), got_r.tolist(), strict=True):
        assert rank(out) >= rank(src)
        if out != src:
            assert r != 0 and rank(out) > rank(src)
        if rank(src) == 2:
            assert out == src


@SETTINGS
@given(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=40), st.data())
def test_median_mad_selection_matches_sorting(window, data):
    s = np.sort(np.array(window))
    m, mad = jit._median_mad(s, len(s))
    ref = sorted(window)
    h = len(ref) // 2
    ref_m = ref[h] if len(ref) % 2 else 0.5 * ref[h - 1] + 0.5 * ref[h]
    devs = sorted(abs(x - ref_m) for x in ref)
    ref_mad = devs[h] if len(devs) % 2 else 0.5 * devs[h - 1] + 0.5 * devs[h]
    assert (m, mad) == (ref_m, ref_mad)
    x = data.draw(st.sampled_from(window))
    assert hampel_is_spike(window, x, 3.0, 0.0) == (abs(x - m) > 3.0 * 1.4826 * mad)


@SETTINGS
@given(
    st.lists(
        st.one_of(st.sampled_from([0.0, 1.0, 2.0, 5.0]), st.floats(-1e3, 1e3)),
        min_size=3,
        max_size=40,
    ),
    st.sampled_from([0.1, 1.0, 1.4, 3.0, 5.0]),
    st.sampled_from([0.0, 0.5]),
    st.data(),
)
def test_counting_hampel_test_matches_the_exact_mad(window, k, min_dev, data):
    """The kernel decides most windows by counting deviations; it must agree exactly."""
    x = data.draw(st.sampled_from(window))
    s = np.sort(np.array(window))
    got = jit._is_spike(s, len(s), x, k * jit.HAMPEL_SCALE, min_dev)
    assert got == hampel_is_spike(window, x, k, min_dev)


@SETTINGS
@given(streams(), st.sampled_from([0, 1, S, 2 * S]))
def test_find_gaps_matches_reference(stream, gap):
    t = np.array(stream[0], dtype=np.int64)
    s, e = find_gaps(t, f"{gap}ns")
    ref_s, ref_e = find_gaps_reference(stream[0], gap)
    assert s.tolist() == ref_s and e.tolist() == ref_e
