"""Realistic plant data for benchmarks: what a historian really receives.

Tag kinds (cycled over the tags):

- ``drift``: a temperature-like value, random walk + daily cycle, quantized to 0.01
- ``flow``: a noisy flow around a set point, quantized to 0.01
- ``setpoint``: a step setpoint changing every ~1 h, quantized to 0.1
- ``state``: a 0/1 pump or valve state changing every ~10 min
- ``counter``: a totaliser that increases by 0..3 per second

Polled data: one sample per second with a few ms of scheduling jitter (timestamps at ms
resolution, as a poller records them) and rare communication gaps. Report-by-exception (RBE):
the same signals, but a sample is sent only when the value moved by more than a deadband (or at
least every 10 min), as OPC UA subscriptions and PI exception reporting do.

Usage: ``python benchmarks/datagen.py`` prints a small sample.
"""

from __future__ import annotations

import numpy as np
from numba import njit

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
KINDS = ("drift", "drift", "flow", "setpoint", "state", "counter")


def tag_names(n_tags: int) -> list[str]:
    return [f"U{i // 100:02d}.{KINDS[i % len(KINDS)].upper()}-{i:04d}.PV" for i in range(n_tags)]


def _values(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    k = np.arange(n)
    if kind == "drift":
        walk = np.cumsum(rng.normal(0, 0.02, n))
        return np.round(60 + walk + 5 * np.sin(2 * np.pi * k / 86_400), 2)
    if kind == "flow":
        return np.round(120 + rng.normal(0, 1.5, n) + 10 * np.sin(2 * np.pi * k / 7200), 2)
    if kind == "setpoint":
        steps = rng.uniform(50, 90, n // 3600 + 2)
        return np.round(np.repeat(steps, 3600)[:n], 1)
    if kind == "state":
        return np.repeat(rng.integers(0, 2, n // 600 + 2), 600)[:n].astype(np.float64)
    return np.cumsum(rng.integers(0, 4, n)).astype(np.float64)


def polled(tag_index: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(times ns, values) for one tag polled every second with jitter and rare gaps."""
    rng = np.random.default_rng(seed * 100_003 + tag_index)
    kind = KINDS[tag_index % len(KINDS)]
    jitter_ms = np.clip(np.round(rng.normal(0, 3, n)), -40, 40).astype(np.int64)
    t = T0 + (np.arange(n, dtype=np.int64) * 1000 + jitter_ms) * 1_000_000
    v = _values(kind, n, rng)
    gaps = rng.random(n) < 1e-4  # a lost poll now and then
    return t[~gaps], v[~gaps]


@njit(cache=True)
def _exceptions(t: np.ndarray, v: np.ndarray, deadband: float, max_ns: int) -> np.ndarray:
    keep = np.zeros(t.size, dtype=np.bool_)
    last_v, last_t = np.nan, -(2**62)
    for i in range(t.size):
        if not (abs(v[i] - last_v) <= deadband) or t[i] - last_t >= max_ns:
            keep[i] = True
            last_v, last_t = v[i], t[i]
    return keep


def rbe(tag_index: int, n_polls: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(times ns, values) for one tag reported by exception from an underlying 1 s signal."""
    t, v = polled(tag_index, n_polls, seed)
    kind = KINDS[tag_index % len(KINDS)]
    # Exception deviations at about twice the noise, as PI recommends.
    deadband = {"drift": 0.05, "flow": 3.0, "setpoint": 0.0, "state": 0.0, "counter": 5.0}[kind]
    keep = _exceptions(t, v, deadband, 600_000_000_000)
    return t[keep], v[keep]


if __name__ == "__main__":
    names = tag_names(6)
    for i, name in enumerate(names):
        t, v = polled(i, 5)
        print(name, (t - T0) / 1e9, v)
