"""Qualification: each rule on hand-made data, rule parsing, state, and pandas as an oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.kernels.qualify import (
    REASONS_DTYPE,
    QualificationRules,
    Qualifier,
    Reason,
    find_gaps,
    qualify_history,
    reason_names,
)
from historian.model import Tag
from historian.model import quality as Q

S = 1_000_000_000
NOW = 1_767_225_600 * S  # 2026-01-01


def secs(*xs):
    return NOW + np.array(xs, dtype=np.int64) * S


def run(rules, t, v, q=None, now=NOW):
    return qualify_history(t, v, q, rules=rules, now_ns=now)


def test_range_hard_and_engineering():
    t = secs(0, 1, 2)
    q, r = run({"range": {"lo": 0, "hi": 10}}, t, [-1.0, 5.0, 11.0])
    assert q.tolist() == [Q.BAD_OUT_OF_RANGE, Q.GOOD, Q.BAD_OUT_OF_RANGE]
    assert r.tolist() == [Reason.RANGE, 0, Reason.RANGE]
    q, _ = run({"range": {"hi": 10, "mode": "engineering"}}, t, [-1.0, 5.0, 11.0])
    assert q.tolist() == [Q.GOOD, Q.GOOD, Q.UNCERTAIN_ENGINEERING_UNITS_EXCEEDED]
    assert r.dtype == REASONS_DTYPE


def test_the_raw_value_is_never_touched():
    v = np.array([1.0, np.nan, 1e9])
    before = v.copy()
    run({"range": {"lo": 0, "hi": 10}, "spike": {"window": 3}}, secs(0, 1, 2), v)
    np.testing.assert_array_equal(v, before)


def test_rate_of_change_uses_seconds_and_skips_duplicate_times():
    t = secs(0, 1, 3, 3, 4)
    _, r = run({"roc": {"max_per_s": 2}}, t, [0.0, 2.0, 7.0, 100.0, 101.0])
    # 2/s ok; 5/2s = 2.5/s fires; same time: no rate; 1/s ok
    assert r.tolist() == [0, 0, Reason.ROC, 0, 0]


def test_flatline_flags_points_after_the_duration():
    t = secs(0, 1, 2, 3, 4, 5, 6)
    _, r = run(
        {"flatline": {"duration": "2s", "epsilon": 0.1}}, t, [5.0, 5.05, 4.95, 5.1, 5.0, 6.0, 6.0]
    )
    assert r.tolist() == [0, 0, 0, Reason.FLATLINE, Reason.FLATLINE, 0, 0]
    q, _ = run({"flatline": {"duration": "2s"}}, secs(0, 1, 2, 3), [1.0] * 4)
    assert q.tolist()[-1] == Q.UNCERTAIN_LAST_USABLE_VALUE


def test_spike_hampel():
    rng = np.random.default_rng(1)
    v = 20 + rng.normal(0, 0.1, 200)
    v[100] = 25.0
    t = NOW + np.arange(200, dtype=np.int64) * S
    _, r = run({"spike": {"window": 11, "k": 5}}, t, v)
    assert 100 in np.flatnonzero(r).tolist()  # plus a few noise points: MAD over 11 is noisy
    q, r = run({"spike": {"window": 11, "k": 5, "min_deviation": 1.0}}, t, v)
    assert np.flatnonzero(r).tolist() == [100]
    assert q[100] == Q.UNCERTAIN_SENSOR_NOT_ACCURATE


def test_spike_matches_pandas_rolling_median_and_mad():
    import pandas as pd

    rng = np.random.default_rng(7)
    v = np.cumsum(rng.normal(0, 1, 2000))
    v[rng.integers(0, 2000, 40)] += rng.choice([-8.0, 8.0], 40)
    w, k = 9, 3.0
    s = pd.Series(v)
    med = s.rolling(w).median()
    mad = s.rolling(w).apply(lambda x: np.median(np.abs(x - np.median(x))), raw=True)
    expected = (np.abs(s - med) > k * 1.4826 * mad).to_numpy()
    t = NOW + np.arange(v.size, dtype=np.int64) * S
    _, r = run({"spike": {"window": w, "k": k}}, t, v)
    np.testing.assert_array_equal((r & Reason.SPIKE) != 0, expected)


def test_gap_marks_the_first_point_after_and_find_gaps_reports_the_interval():
    t = secs(0, 1, 2, 10, 11)
    q, r = run({"gap": {"expected": "5s"}}, t, [1.0] * 5)
    assert r.tolist() == [0, 0, 0, Reason.GAP, 0]
    assert q[3] == Q.UNCERTAIN_DATA_SUB_NORMAL
    s, e = find_gaps(t, "5s", end_ns=NOW + 30 * S)
    assert ((s - NOW) // S).tolist() == [2, 11]
    assert ((e - NOW) // S).tolist() == [10, 30]
    s, e = find_gaps(t, "5s", start_ns=NOW - 10 * S, end_ns=NOW + 12 * S)
    assert ((s - NOW) // S).tolist() == [-10, 2]
    assert find_gaps(np.zeros(0, dtype=np.int64), "1s")[0].size == 0


def test_nonfinite_is_bad_by_default_and_can_be_disabled():
    t = secs(0, 1, 2)
    q, r = run({}, t, [np.nan, np.inf, 1.0])
    assert q.tolist() == [Q.BAD_SENSOR_FAILURE, Q.BAD_SENSOR_FAILURE, Q.GOOD]
    assert r.tolist() == [Reason.NONFINITE, Reason.NONFINITE, 0]
    q, r = run({"nonfinite": False}, t, [np.nan, np.inf, 1.0])
    assert q.tolist() == [0, 0, 0] and r.tolist() == [0, 0, 0]


def test_future_and_past_timestamps():
    t = np.array([NOW - 400 * 86400 * S, NOW, NOW + 4 * 60 * S, NOW + 6 * 60 * S])
    q, r = run({"future": {"tolerance": "5min"}, "past": {"max_age": "365d"}}, t, [1.0] * 4)
    assert r.tolist() == [Reason.PAST, 0, 0, Reason.FUTURE]
    assert q.tolist() == [Q.BAD_INVALID_TIMESTAMP, 0, 0, Q.BAD_INVALID_TIMESTAMP]
    _, r = run({"past": {"earliest": "2000-01-01"}}, np.array([0, NOW]), [1.0, 1.0])
    assert r.tolist() == [Reason.PAST, 0]


def test_a_future_point_does_not_freeze_the_stream():
    """A clock glitch far in the future must not make every later point 'late'."""
    t = np.array([NOW, NOW + 10**17, NOW + S, NOW + 2 * S])
    _, r = run({"future": {"tolerance": "1min"}, "roc": {"max_per_s": 1}}, t, [0.0, 0.0, 5.0, 5.5])
    assert r.tolist() == [0, Reason.FUTURE, Reason.ROC, 0]


def test_source_bad_is_never_upgraded_and_worst_severity_wins():
    t = secs(0, 1, 2, 3)
    src = np.array(
        [Q.BAD_NO_COMMUNICATION, Q.UNCERTAIN, Q.GOOD, Q.UNCERTAIN_SENSOR_NOT_ACCURATE],
        dtype=np.uint32,
    )
    rules = {"range": {"hi": 10, "mode": "engineering"}}
    q, r = run(rules, t, [50.0, 50.0, 50.0, 5.0], src)
    assert q.tolist() == [
        Q.BAD_NO_COMMUNICATION,
        Q.UNCERTAIN,
        Q.UNCERTAIN_ENGINEERING_UNITS_EXCEEDED,
        Q.UNCERTAIN_SENSOR_NOT_ACCURATE,
    ]
    assert r.tolist() == [Reason.RANGE, Reason.RANGE, Reason.RANGE, 0]
    # range (Uncertain) and non-finite (Bad) on the same rule set: Bad wins
    q, r = run(
        {"range": {"hi": 10, "mode": "engineering"}, "roc": {"max_per_s": 0.1}},
        secs(0, 1),
        [1.0, 50.0],
    )
    assert r.tolist() == [0, Reason.RANGE | Reason.ROC]
    assert q[1] == Q.UNCERTAIN_ENGINEERING_UNITS_EXCEEDED  # RANGE has priority over ROC


def test_custom_quality_per_rule():
    q, r = run(
        {
            "range": {"hi": 1, "quality": "Bad_SensorFailure"},
            "gap": {"expected": "1s", "quality": "Good"},
        },
        secs(0, 5),
        [5.0, 0.0],
    )
    assert q.tolist() == [Q.BAD_SENSOR_FAILURE, Q.GOOD]
    assert r.tolist() == [Reason.RANGE, Reason.GAP]


def test_late_points_get_stateless_rules_only():
    t = secs(0, 10, 5, 11)
    _, r = run(
        {"roc": {"max_per_s": 1}, "gap": {"expected": "2s"}, "range": {"hi": 50}},
        t,
        [0.0, 1.0, 100.0, 1.5],
    )
    # t=10: gap; t=5 is late: range only, it neither triggers nor feeds the rate rule
    assert r.tolist() == [0, Reason.GAP, Reason.RANGE, 0]


def test_state_roundtrip_and_rule_change():
    rules = {"spike": {"window": 5}, "roc": {"max_per_s": 1}, "flatline": {"duration": "3s"}}
    qual = Qualifier(rules)
    qual.qualify(secs(0, 1, 2, 3), [1.0, 1.0, 1.0, 1.0])
    state = json.loads(json.dumps(qual.state_dict()))
    assert state["rules_version"] == QualificationRules.from_dict(rules).version
    assert state["spike_window"] == [1.0] * 4 and state["last_t_ns"] == NOW + 3 * S
    again = Qualifier.from_state(state)
    assert again.state_dict() == qual.state_dict()
    smaller = Qualifier.from_state(state, {"spike": {"window": 3}})
    assert smaller.state_dict()["spike_window"] == [1.0] * 3
    with pytest.raises(InvalidArgumentError, match="not a Qualifier state"):
        Qualifier.from_state({"x": 1})
    qual.reset()
    assert qual.state_dict()["last_t_ns"] is None and qual.state_dict()["spike_window"] == []


def test_for_tag_takes_the_engineering_range_and_rules_are_json():
    tag = Tag("TIC-101.PV", lo=0, hi=200, rules={"range": {"mode": "engineering"}})
    qual = Qualifier.for_tag(tag)
    assert qual.rules.range_lo == 0 and qual.rules.range_hi == 200
    d = qual.rules.to_dict()
    assert QualificationRules.from_dict(json.loads(json.dumps(d))) == qual.rules
    with pytest.raises(InvalidArgumentError, match="no lo/hi"):
        Qualifier.for_tag(Tag("X", rules={"range": {}}))


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        ({"rnage": {}}, "unknown qualification rule 'rnage'"),
        ({"range": {"lo": 0, "hi": 1, "low": 3}}, "unknown key 'low'"),
        ({"range": {}}, "needs 'lo' and/or 'hi'"),
        ({"range": {"lo": 5, "hi": 1}}, "lo .5. is above hi"),
        ({"range": {"lo": 0, "mode": "soft"}}, "'mode' must be 'hard'"),
        ({"roc": {}}, "needs 'max_per_s'"),
        ({"roc": {"max_per_s": "fast"}}, "'max_per_s' must be a number"),
        ({"roc": {"max_per_s": -1}}, "'max_per_s' must be >= 0"),
        ({"flatline": {"duration": "ten minutes"}}, "'duration' is not a duration"),
        ({"spike": {"window": 2}}, "'window' must be an int from 3"),
        ({"spike": {"k": 0}}, "'k' must be > 0"),
        ({"gap": {}}, "needs 'expected'"),
        ({"past": {}}, "needs 'max_age'"),
        ({"past": {"earliest": "yesterday-ish"}}, "'earliest' is not a time"),
        ({"range": {"hi": 1, "quality": "Bad_Broken"}}, "unknown quality 'Bad_Broken'"),
        ({"roc": 5}, "must be a dict of settings"),
        ([1, 2], "must be a dict"),
    ],
)
def test_rule_errors_name_the_key_and_the_fix(rules, match):
    with pytest.raises(InvalidArgumentError, match=match):
        QualificationRules.from_dict(rules)


def test_version_is_stable_and_changes_with_meaning():
    a = QualificationRules.from_dict({"gap": {"expected": "60s"}, "range": {"lo": 0, "hi": 1}})
    b = QualificationRules.from_dict({"range": {"hi": 1.0, "lo": 0.0}, "gap": {"expected": "1min"}})
    c = QualificationRules.from_dict({"gap": {"expected": "61s"}, "range": {"lo": 0, "hi": 1}})
    assert a.version == b.version != c.version
    assert len(a.version) == 12 and int(a.version, 16) >= 0


def test_input_validation():
    with pytest.raises(InvalidDataError, match="3 times but 2 values"):
        qualify_history(secs(0, 1, 2), [1.0, 2.0], rules={})
    with pytest.raises(InvalidDataError, match="quality"):
        qualify_history(secs(0), [1.0], [-1], rules={})
    with pytest.raises(InvalidDataError, match="quality must be uint32"):
        qualify_history(secs(0), [1.0], [0.5], rules={})
    q, r = qualify_history(np.zeros(0, dtype=np.int64), [], rules={"spike": {}})
    assert q.size == r.size == 0
    # datetime64 and lists are accepted for times
    q, _ = qualify_history(np.array(["2026-01-01T00:00:00"], dtype="datetime64[ns]"), [1], rules={})
    assert q.tolist() == [0]


def test_reason_names_and_bits():
    assert [int(b) for b in Reason] == [1 << i for i in range(8)]
    assert reason_names(0) == []
    assert reason_names(Reason.GAP | Reason.PAST) == ["gap", "past"]


def test_now_defaults_to_the_clock_and_for_tag_without_rules():
    from historian.model import now_ns

    t = np.array([now_ns(), now_ns() + 3600 * S], dtype=np.int64)
    _, r = qualify_history(t, [1.0, 1.0], rules={"future": {"tolerance": "5min"}})
    assert r.tolist() == [0, Reason.FUTURE]
    _, r = Qualifier.for_tag(Tag("FI-7.PV")).qualify(t, [np.nan, 1.0])
    assert r.tolist() == [Reason.NONFINITE, 0]


def test_hampel_odd_and_even_windows_are_batch_invariant_on_long_streams():
    """Long stream, even window: the counting shortcut and exact MAD paths both run."""
    rng = np.random.default_rng(3)
    v = np.round(rng.normal(0, 1, 5000), 1)  # ties make the even-window exact path run
    t = NOW + np.arange(v.size, dtype=np.int64) * S
    for w in (4, 10, 33):
        whole = run({"spike": {"window": w, "k": 2}}, t, v)[1]
        qual = Qualifier({"spike": {"window": w, "k": 2}})
        parts = [
            qual.qualify(t[a : a + 777], v[a : a + 777], now_ns=NOW)[1]
            for a in range(0, v.size, 777)
        ]
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_range_roc_flatline_match_pandas_oracle():
    import pandas as pd

    rng = np.random.default_rng(11)
    n = 5000
    t = NOW + np.cumsum(rng.integers(S // 2, 2 * S, n))
    v = np.round(np.cumsum(rng.normal(0, 1, n)), 0)  # rounding makes flat runs
    s, ts = pd.Series(v), pd.Series(t)
    rules = {
        "range": {"lo": -20, "hi": 20},
        "roc": {"max_per_s": 1.5},
        "flatline": {"duration": "4s"},
    }
    _, r = run(rules, t, v)
    expect_range = ((s < -20) | (s > 20)).to_numpy()
    expect_roc = (s.diff().abs() / (ts.diff() / 1e9) > 1.5).to_numpy()
    start = ts.groupby((s.diff() != 0).cumsum()).transform("first")
    expect_flat = ((ts - start) > 4 * S).to_numpy()
    np.testing.assert_array_equal((r & Reason.RANGE) != 0, expect_range)
    np.testing.assert_array_equal((r & Reason.ROC) != 0, expect_roc)
    np.testing.assert_array_equal((r & Reason.FLATLINE) != 0, expect_flat)
    assert expect_range.any() and expect_roc.any() and expect_flat.any()
