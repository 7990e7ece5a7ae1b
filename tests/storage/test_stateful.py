"""A hypothesis state machine: the store against a dict model (write, late data, duplicates,
flush, reopen, compact, retain)."""

from __future__ import annotations

import shutil
import tempfile

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import historian

T0 = 1_767_225_600_000_000_000
DAY = 86_400 * 1_000_000_000
TAGS = ["A", "B.PV", "C:x/y"]

times_st = st.lists(
    st.one_of(
        st.integers(0, 50).map(lambda k: T0 + k * 1_000_000_000),  # dense, many repeats
        st.integers(-5, 5).map(lambda d: T0 + d * DAY + 7),  # other days, late data
        st.integers(0, 10**6).map(lambda k: T0 + k),  # ns resolution
    ),
    min_size=1,
    max_size=30,
)
values_st = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.sampled_from(
    [0.0, -0.0, 0.1, 1e308, 5e-324, 12.34]
)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.h = historian.open(self.dir, flush_points=10**9, bulk_points=40, auto_compact_files=0)
        for tag in TAGS:
            self.h.define(tag)
        self.model: dict[tuple[str, int], float] = {}

    def teardown(self) -> None:
        self.h.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(tag=st.sampled_from(TAGS), data=st.data())
    def write(self, tag, data):
        times = data.draw(times_st)
        values = data.draw(st.lists(values_st, min_size=len(times), max_size=len(times)))
        self.h.write(tag, times, values)
        for t, v in zip(times, values, strict=True):
            self.model[(tag, t)] = v

    @rule()
    def flush(self):
        self.h.flush()

    @rule()
    def reopen(self):
        self.h.close()
        self.h = historian.open(self.dir, flush_points=10**9, bulk_points=40, auto_compact_files=0)

    @rule()
    def compact(self):
        self.h.compact()

    @precondition(lambda self: len(self.model) > 0)
    @rule(days=st.integers(-6, 2))
    def retain(self, days):
        cutoff = T0 + days * DAY
        self.h.retain(cutoff)
        self.model = {k: v for k, v in self.model.items() if k[1] >= cutoff}

    @invariant()
    def reads_match_model(self):
        got = self.h.read(TAGS)
        tags = got.column("tag").to_pylist()
        times = got.column("time").cast("int64").to_pylist()
        values = got.column("value").to_numpy()
        expected = sorted(self.model)
        assert list(zip(tags, times, strict=True)) == expected
        exp_values = np.array([self.model[k] for k in expected], dtype=np.float64)
        # Bit-exact: -0.0, subnormals and 1e308 survive the scaled-integer encoding.
        assert values.tobytes() == exp_values.tobytes()


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(
    max_examples=40,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
