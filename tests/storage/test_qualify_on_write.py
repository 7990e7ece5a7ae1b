"""Qualification rules run on write; the raw value is kept, quality and reason bits are set."""

from __future__ import annotations

import numpy as np
import pytest

from historian.errors import InvalidArgumentError
from historian.kernels.qualify import Reason
from historian.model import quality as q

T0 = 1_767_225_600_000_000_000
S = 1_000_000_000


def test_rules_set_quality_and_reasons_and_keep_raw_values(h):
    h.define("TIC-101.PV", lo=0, hi=200, rules={"range": {}, "roc": {"max_per_s": 5}})
    h.write("TIC-101.PV", T0 + np.arange(4) * S, [10.0, 12.0, 250.0, 11.0])
    got = h.read("TIC-101.PV", reasons=True)
    assert got.column("value").to_pylist() == [10.0, 12.0, 250.0, 11.0]
    qual = got.column("quality").to_pylist()
    assert q.is_good(qual[0]) and q.is_good(qual[1]) and q.is_bad(qual[2])
    assert got.column("reasons").to_pylist()[2] & Reason.RANGE


def test_streaming_state_carries_across_writes_and_flushes(h):
    h.define("A", rules={"roc": {"max_per_s": 1}})
    h.write("A", [T0], [0.0])
    h.flush()
    h.write("A", [T0 + S], [5.0])  # jump of 5/s against the previous write's point
    reasons = h.read("A", reasons=True).column("reasons").to_pylist()
    assert reasons[0] == 0 and reasons[1] & Reason.ROC


def test_malformed_rules_are_refused_at_define(h):
    with pytest.raises(InvalidArgumentError):
        h.define("A", rules={"range": {"lo": "cold"}})
    with pytest.raises(InvalidArgumentError):
        h.define("A", rules={"no_such_rule": {}})


def test_tags_without_rules_are_untouched(h):
    h.define("A")
    h.write("A", [T0, T0 + S], [1.0, 1e9])
    assert h.read("A").column("quality").to_pylist() == [0, 0]


def test_requalify_history_and_apply(h):
    h.define("A")
    h.write("A", T0 + np.arange(5) * S, [1.0, 2.0, 300.0, 3.0, -50.0])
    h.flush()
    preview = h.qualify("A", rules={"range": {"lo": 0, "hi": 100}})
    assert preview.column("reasons").to_pylist() == [0, 0, Reason.RANGE, 0, Reason.RANGE]
    assert preview.column("previous_quality").to_pylist() == [0] * 5
    assert h.read("A").column("quality").to_pylist() == [0] * 5  # a preview changes nothing
    h.define("A", lo=0, hi=100, rules={"range": {}})
    h.qualify("A", apply=True)
    got = h.read("A", reasons=True)
    assert got.column("value").to_pylist() == [1.0, 2.0, 300.0, 3.0, -50.0]
    assert [q.is_bad(c) for c in got.column("quality").to_pylist()] == [
        False,
        False,
        True,
        False,
        True,
    ]
