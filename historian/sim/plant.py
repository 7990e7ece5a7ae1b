"""A heated, stirred reactor with feed, level control and a pump: the process behind the sim.

The model (plant time in seconds; ``speed`` plant seconds pass per real second, 30 by default,
so a 5-minute process lag shows up as 10 s in a demo):

- A temperature setpoint steps through a cycle every ``sp_period_s``; a PI controller drives the
  heater power (0-100 %). The jacket follows the heater with a first-order lag (2 min), the
  reactor follows the jacket (5 min) and is cooled by cold feed; pressure follows the reactor
  temperature (vapour pressure, 30 s lag).
- A level controller moves the feed valve (10 s actuator lag); feed flow follows the valve. A
  pump empties the reactor on a duty cycle (10 min on, 5 min off), so level, valve and flow swing.
- Counters (pump starts, run time, feed total, heater energy), alarms (high temperature,
  high/low level) and two strings (state, batch id) complete the picture.

Measurements carry Gaussian noise. Everything is deterministic for a seed: the plant advances in
fixed steps of ``dt_s`` real seconds whatever the wall clock does.

Examples
--------
>>> p = Plant(seed=1)
>>> p.advance(60.0)                    # one real minute = 30 plant minutes; 600 steps
600
>>> v = p.values()
>>> 20 < v["TIC-101.PV"] < 120 and 0 <= v["LIC-105.PV"] <= 100
True
>>> Plant(seed=1).run_for(60.0) == v   # deterministic
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["TAGS", "Plant", "TagInfo"]


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What a plant signal is: unit, description, kind (analog/step), engineering range."""

    unit: str
    description: str
    kind: str = "analog"
    lo: float | None = None
    hi: float | None = None
    opcua: str = ""  # the OPC UA string NodeId (without namespace)


TAGS: dict[str, TagInfo] = {
    "TIC-101.PV": TagInfo("degC", "Reactor temperature", "analog", 0, 150, "Reactor.Temperature"),
    "TIC-101.SP": TagInfo(
        "degC", "Reactor temperature setpoint", "step", 0, 150, "Reactor.Setpoint"
    ),
    "TIC-101.OUT": TagInfo(
        "%", "Heater power (controller output)", "analog", 0, 100, "Reactor.HeaterPower"
    ),
    "TI-102.PV": TagInfo(
        "degC", "Jacket temperature", "analog", 0, 200, "Reactor.JacketTemperature"
    ),
    "PI-103.PV": TagInfo("bar", "Reactor pressure", "analog", 0, 16, "Reactor.Pressure"),
    "FIC-104.PV": TagInfo("m3/h", "Feed flow", "analog", 0, 15, "Feed.Flow"),
    "FV-104.POS": TagInfo("%", "Feed valve position", "analog", 0, 100, "Feed.ValvePosition"),
    "FQ-104.TOTAL": TagInfo("m3", "Feed total", "analog", 0, None, "Feed.Total"),
    "LIC-105.PV": TagInfo("%", "Reactor level", "analog", 0, 100, "Reactor.Level"),
    "P-106.RUN": TagInfo("", "Discharge pump running", "step", 0, 1, "Pump.Running"),
    "P-106.STARTS": TagInfo("", "Discharge pump starts", "step", 0, None, "Pump.Starts"),
    "P-106.RUNTIME": TagInfo("s", "Discharge pump run time", "step", 0, None, "Pump.RunTime"),
    "JQ-101.ENERGY": TagInfo("Wh", "Heater energy", "step", 0, None, "Reactor.HeaterEnergy"),
    "TAH-101": TagInfo("", "High temperature alarm", "step", 0, 1, "Alarms.HighTemperature"),
    "LAH-105": TagInfo("", "High level alarm", "step", 0, 1, "Alarms.HighLevel"),
    "LAL-105": TagInfo("", "Low level alarm", "step", 0, 1, "Alarms.LowLevel"),
    "REACTOR.STATE": TagInfo(
        "", "Reactor state (HEATING/COOLING/STABLE)", "step", None, None, "Reactor.State"
    ),
    "REACTOR.BATCH": TagInfo("", "Batch id", "step", None, None, "Reactor.Batch"),
}

_SETPOINTS = (65.0, 80.0, 70.0, 85.0)
_HEATER_KW = 60.0
_AREA_M2 = 2.0
_HEIGHT_M = 3.0


class Plant:
    """The reactor model. ``advance(real_seconds)`` moves it on; ``values()`` reads it.

    Parameters
    ----------
    seed : int
        Seed of the measurement noise and the disturbances.
    speed : float
        Plant seconds per real second.
    dt_s : float
        Real seconds per integration step.
    sp_period_s : float
        Plant seconds between setpoint steps.
    """

    def __init__(
        self, seed: int = 0, *, speed: float = 30.0, dt_s: float = 0.1, sp_period_s: float = 240.0
    ):
        self.seed = seed
        self.speed = float(speed)
        self.dt_s = float(dt_s)
        self.sp_period_s = float(sp_period_s)
        self._rng = np.random.default_rng(seed)
        self.steps = 0
        # state
        self.sp = _SETPOINTS[0]
        self.temp = 25.0
        self.jacket = 25.0
        self.pressure = self._p_eq(self.temp)
        self.power = 0.0
        self._ti = 0.0  # temperature PI integral
        self.level_m = 1.5
        self.valve_cmd = 40.0
        self.valve = 40.0
        self._li = 40.0  # level PI integral
        self.flow = 0.0
        self.pump = True
        self.pump_starts = 1
        self.pump_runtime_s = 0.0
        self.feed_total = 0.0
        self.energy_wh = 0.0
        self.batch = 1
        self._disturbance = 0.0
        self._last: dict[str, float | bool | str] | None = None

    @property
    def plant_time_s(self) -> float:
        """Plant seconds since start."""
        return self.steps * self.dt_s * self.speed

    @property
    def real_time_s(self) -> float:
        """Real seconds simulated since start (steps x dt_s)."""
        return self.steps * self.dt_s

    @staticmethod
    def _p_eq(temp: float) -> float:
        x = max(temp - 20.0, 0.0)
        return 1.0 + 0.05 * x + 0.0006 * x * x

    def step(self) -> None:
        """Advance by one step of ``dt_s`` real seconds."""
        h = self.dt_s * self.speed
        self.steps += 1
        t = self.plant_time_s
        cycle = int(t // self.sp_period_s)
        new_sp = _SETPOINTS[cycle % len(_SETPOINTS)]
        if new_sp != self.sp and cycle % len(_SETPOINTS) == 0:
            self.batch += 1
        self.sp = new_sp
        # pump duty cycle: 600 s on, 300 s off
        pump = (t % 900.0) < 600.0
        if pump and not self.pump:
            self.pump_starts += 1
        self.pump = pump
        if pump:
            self.pump_runtime_s += h
        # temperature PI -> heater power
        err = self.sp - self.temp
        self._ti = min(max(self._ti + 0.004 * err * h, 0.0), 100.0)
        self.power = min(max(4.0 * err + self._ti, 0.0), 100.0)
        self.energy_wh += _HEATER_KW * 1000 * self.power / 100 * h / 3600
        # jacket and reactor: first-order lags; cold feed cools the reactor
        self.jacket += h / 120.0 * ((20.0 + 1.4 * self.power) - self.jacket)
        volume = max(self.level_m * _AREA_M2, 0.2)
        feed_cooling = self.flow / 3600.0 / volume * (15.0 - self.temp)
        self.temp += h * ((self.jacket - self.temp) / 300.0 + feed_cooling)
        self.pressure += h / 30.0 * (self._p_eq(self.temp) - self.pressure)
        # level PI -> valve command; valve lags; flow follows valve (+ supply disturbance)
        level_pct = 100.0 * self.level_m / _HEIGHT_M
        lerr = 50.0 - level_pct
        self._li = min(max(self._li + 0.01 * lerr * h, 0.0), 100.0)
        self.valve_cmd = min(max(3.0 * lerr + self._li, 0.0), 100.0)
        self.valve += min(h / 10.0, 1.0) * (self.valve_cmd - self.valve)
        self._disturbance += h / 200.0 * (-self._disturbance) + 0.02 * math.sqrt(h) * float(
            self._rng.standard_normal()
        )
        self.flow = max(12.0 * self.valve / 100.0 * (1.0 + self._disturbance), 0.0)
        outflow = 7.0 * math.sqrt(max(self.level_m, 0.0) / 1.5) if pump else 0.0
        self.level_m += h * (self.flow - outflow) / 3600.0 / _AREA_M2
        self.level_m = min(max(self.level_m, 0.0), _HEIGHT_M)
        self.feed_total += self.flow * h / 3600.0
        self._last = None

    def advance(self, real_seconds: float) -> int:
        """Advance by ``real_seconds`` (whole steps); returns the number of steps taken."""
        n = round(real_seconds / self.dt_s)
        for _ in range(n):
            self.step()
        return n

    def advance_to(self, real_time_s: float) -> int:
        """Advance until ``real_time_s`` real seconds have been simulated since start."""
        n = int(real_time_s / self.dt_s) - self.steps
        for _ in range(max(n, 0)):
            self.step()
        return max(n, 0)

    def run_for(self, real_seconds: float) -> dict[str, float | bool | str]:
        """Advance and return :meth:`values` (handy in tests and notebooks)."""
        self.advance(real_seconds)
        return self.values()

    def values(self) -> dict[str, float | bool | str]:
        """The measured values now (noise drawn once per step, so repeated calls agree)."""
        if self._last is not None:
            return dict(self._last)
        noise = np.random.default_rng([self.seed, self.steps]).standard_normal(6).tolist()
        level_pct = 100.0 * self.level_m / _HEIGHT_M
        temp = self.temp + 0.05 * noise[0]
        if self.sp - self.temp > 2.0:
            state = "HEATING"
        elif self.temp - self.sp > 2.0:
            state = "COOLING"
        else:
            state = "STABLE"
        out: dict[str, float | bool | str] = {
            "TIC-101.PV": float(temp),
            "TIC-101.SP": self.sp,
            "TIC-101.OUT": self.power,
            "TI-102.PV": self.jacket + 0.1 * noise[1],
            "PI-103.PV": max(self.pressure + 0.01 * noise[2], 0.0),
            "FIC-104.PV": max(self.flow + 0.05 * noise[3], 0.0),
            "FV-104.POS": self.valve,
            "FQ-104.TOTAL": self.feed_total,
            "LIC-105.PV": min(max(level_pct + 0.1 * noise[4], 0.0), 100.0),
            "P-106.RUN": bool(self.pump),
            "P-106.STARTS": float(self.pump_starts),
            "P-106.RUNTIME": float(int(self.pump_runtime_s)),
            "JQ-101.ENERGY": float(int(self.energy_wh)),
            "TAH-101": self.temp > max(self.sp + 8.0, 95.0),
            "LAH-105": level_pct > 85.0,
            "LAL-105": level_pct < 15.0,
            "REACTOR.STATE": state,
            "REACTOR.BATCH": f"B-{self.batch:06d}",
        }
        self._last = out
        return dict(out)
