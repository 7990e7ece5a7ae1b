"""The plant model: deterministic, physically plausible, with lags a correlation can find."""

from __future__ import annotations

import numpy as np
import pytest

from historian.sim.plant import TAGS, Plant


def run(seed: int = 0, steps: int = 3000, every: int = 5) -> dict[str, np.ndarray]:
    p = Plant(seed=seed)
    rows = []
    for i in range(steps):
        p.step()
        if i % every == 0:
            rows.append(p.values())
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def lag_of_best_correlation(x: np.ndarray, y: np.ndarray, max_lag: int = 60) -> int:
    dx, dy = np.diff(x), np.diff(y)
    corr = [np.corrcoef(dx[: len(dx) - k], dy[k:])[0, 1] for k in range(max_lag)]
    return int(np.argmax(corr))


def test_deterministic_for_a_seed():
    a, b, c = Plant(seed=5), Plant(seed=5), Plant(seed=6)
    for p in (a, b, c):
        p.advance(30.0)
    assert a.values() == b.values()
    assert a.values() != c.values()
    assert a.values() == a.values()  # reading does not draw new noise
    assert set(a.values()) == set(TAGS)


def test_advance_to_catches_up_in_whole_steps():
    p = Plant(dt_s=0.1)
    assert p.advance_to(1.05) == 10 and p.real_time_s == pytest.approx(1.0)
    assert p.advance_to(0.5) == 0  # never goes back
    assert p.plant_time_s == pytest.approx(30.0)


def test_signals_stay_in_their_ranges():
    s = run()
    for tag, info in TAGS.items():
        if s[tag].dtype.kind in "fb" and info.lo is not None:
            assert s[tag].min() >= info.lo, tag
        if s[tag].dtype.kind in "fb" and info.hi is not None:
            assert s[tag].max() <= info.hi, tag
    assert s["LIC-105.PV"].min() > 30 and s["LIC-105.PV"].max() < 70  # level control works
    assert set(s["P-106.RUN"].tolist()) == {True, False}  # pump cycles
    assert len(set(s["TIC-101.SP"].tolist())) == 4  # setpoint steps
    assert np.all(np.diff(s["FQ-104.TOTAL"]) >= 0) and np.all(np.diff(s["P-106.STARTS"]) >= 0)
    assert set(s["REACTOR.STATE"].tolist()) == {"HEATING", "COOLING", "STABLE"}


def test_correlated_signals_with_realistic_lags():
    s = run()  # one sample per 0.5 real s
    assert np.corrcoef(s["TIC-101.PV"], s["PI-103.PV"])[0, 1] > 0.9
    heater_to_jacket = lag_of_best_correlation(s["TIC-101.OUT"], s["TI-102.PV"])
    jacket_to_reactor = lag_of_best_correlation(s["TI-102.PV"], s["TIC-101.PV"])
    heater_to_reactor = lag_of_best_correlation(s["TIC-101.OUT"], s["TIC-101.PV"])
    assert 1 <= heater_to_jacket < heater_to_reactor  # temperature lags heater power
    assert 2 <= jacket_to_reactor <= 20
    assert 4 <= heater_to_reactor <= 30  # 2-15 real s: minutes of plant time
