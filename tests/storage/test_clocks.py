"""Clocks that jump: last-write-wins and retention must not trust the wall clock blindly.

The ingest stamp of a write is the wall clock in µs, but never less than one more than anything
already stored (committed files, from their statistics, and the WAL), so a clock set back across
a restart cannot let an older value shadow a correction. A relative retention age that would
drop every stored point (the clock implausibly ahead of the newest data) is refused.
"""

from __future__ import annotations

import time

import pytest

import historian
from historian import testing
from historian.errors import InvalidArgumentError

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000
HOUR_NS = 3600 * S
YEAR_NS = 365 * 24 * HOUR_NS


def _shift_clock(monkeypatch: pytest.MonkeyPatch, offset_ns: int) -> None:
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + offset_ns)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + offset_ns / 1e9)


@pytest.mark.parametrize("first_value_in", ["files", "wal"])
def test_a_correction_written_with_the_clock_1h_behind_after_a_restart_still_wins(
    store_path, monkeypatch, first_value_in
):
    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", [T0, T0 + S], [1.0, 10.0])
        if first_value_in == "files":
            h.flush()
        else:  # the process dies before a flush: the value is only in the WAL
            testing.crash(h)
    _shift_clock(monkeypatch, -HOUR_NS)
    with historian.open(store_path) as h:
        h.write("A", [T0], [2.0])  # the correction, stamped by a clock 1 h behind
        assert h.read("A").column("value").to_pylist() == [2.0, 10.0]
        h.flush()
        h.compact(full=True)
        assert h.read("A").column("value").to_pylist() == [2.0, 10.0]
    with historian.open(store_path, mode="r") as h:
        assert h.read("A").column("value").to_pylist() == [2.0, 10.0]


def test_retention_by_age_refuses_when_the_clock_is_10_years_ahead(store_path, monkeypatch):
    now = time.time_ns()
    with historian.open(store_path) as h:
        h.define("A")
        times = [now - k * 24 * HOUR_NS for k in range(720, 0, -1)]  # two years, one a day
        h.write("A", times, [float(k) for k in range(720)])
        h.flush()
    _shift_clock(monkeypatch, 10 * YEAR_NS)
    with historian.open(store_path) as h:
        with pytest.raises(InvalidArgumentError, match=r"would drop every stored point.*clock"):
            h.retain("365d")
        assert h.read("A").num_rows == 720  # nothing dropped
        assert h.retain("7300d") == 0  # an age that keeps some history is applied as asked
        assert h.retain("365d", force=True) == 720  # the operator confirmed the clock
        assert h.read("A").num_rows == 0


def test_an_absolute_cutoff_is_never_second_guessed(store_path):
    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", [T0, T0 + S], [1.0, 2.0])
        assert h.retain(T0 + 2 * S) == 2
