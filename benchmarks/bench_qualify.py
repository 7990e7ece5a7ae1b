"""Qualification and source compression: historian's kernels beside the pandas way, in one run.

    python benchmarks/bench_qualify.py [--n 10000000] [--repeat 3]

One tag of ``n`` irregular points (about 1 s apart, slow waves with noise, some NaN, spikes and
stuck stretches). Each row gives the best wall time of ``--repeat`` interleaved rounds, including
allocating the outputs, and points per second by wall time and by the thread's CPU time (robust
when other processes share the cores). The pandas rows are written as a skilled user would:
vectorised comparisons, ``diff``, a run id with ``cumsum`` + ``groupby().transform("first")`` for
the flatline, ``rolling(w).median()`` for the Hampel rule (pandas has no rolling MAD; the usual
``(x - med).abs().rolling(w).median()`` stand-in is used, which is cheaper than the exact MAD).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from historian.kernels.compress import deadband_mask, swinging_door_mask
from historian.kernels.qualify import Qualifier, Reason, qualify_history

S = 1_000_000_000
FAMILY = {"range": {"lo": 0, "hi": 200}, "roc": {"max_per_s": 5}, "flatline": {"duration": "10min"}}
TIMING = {"gap": {"expected": "5s"}, "future": {"tolerance": "5min"}, "past": {"max_age": "3650d"}}
SPIKE = {"spike": {"window": 11, "k": 5}}
ALL = {**FAMILY, **TIMING, **SPIKE}


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1_767_225_600 * S + np.cumsum(rng.integers(S // 2, 3 * S // 2, n, dtype=np.int64))
    i = np.arange(n)
    v = 100 + 30 * np.sin(i / 20_000) + 5 * np.sin(i / 700) + rng.normal(0, 0.05, n)
    v[rng.integers(0, n, n // 10_000)] += rng.choice([-15.0, 15.0], n // 10_000)  # spikes
    for start in rng.integers(0, n - 2000, max(n // 500_000, 1)):  # stuck sensor for ~30 min
        v[start : start + 2000] = v[start]
    v[rng.integers(0, n, n // 10_000)] = np.nan
    q = np.zeros(n, dtype=np.uint32)
    return t, v, q


def pandas_family(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    import pandas as pd

    s = pd.Series(v)
    ts = pd.Series(t)
    nonfinite = ~np.isfinite(v)
    rng = ((s < 0) | (s > 200)).to_numpy()
    roc = (s.diff().abs() / (ts.diff() / 1e9) > 5).to_numpy()
    run = (s.diff() != 0).cumsum()
    start = ts.groupby(run).transform("first")
    flat = ((ts - start) > 600 * S).to_numpy()
    return rng | roc | flat | nonfinite


def pandas_spike(v: np.ndarray, w: int = 11, k: float = 5) -> np.ndarray:
    import pandas as pd

    s = pd.Series(v)
    med = s.rolling(w).median()
    dev = (s - med).abs()
    mad = dev.rolling(w).median()
    return (dev > k * 1.4826 * mad).to_numpy()


def pandas_timing(t: np.ndarray, now: int) -> np.ndarray:
    import pandas as pd

    ts = pd.Series(t)
    gap = (ts.diff() > 5 * S).to_numpy()
    return gap | (t > now + 300 * S) | (t < now - 3650 * 86400 * S)


def streaming(t: np.ndarray, v: np.ndarray, q: np.ndarray, now: int, batch: int) -> None:
    qual = Qualifier(ALL)
    for a in range(0, t.shape[0], batch):
        qual.qualify(t[a : a + batch], v[a : a + batch], q[a : a + batch], now_ns=now)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-pandas", action="store_true")
    args = ap.parse_args()
    n = args.n
    t, v, q = make_data(n)
    now = int(t[-1]) + 60 * S

    warm = slice(0, 1000)  # compile (or load from cache) outside the timings
    qualify_history(t[warm], v[warm], q[warm], rules=ALL, now_ns=now)
    deadband_mask(t[warm], v[warm], deviation=0.5)
    swinging_door_mask(t[warm], v[warm], deviation=0.5)

    def run(rules):
        return lambda: qualify_history(t, v, q, rules=rules, now_ns=now)

    cases: list[tuple[str, str, object]] = [
        ("historian", "range+roc+flatline+nonfinite", run(FAMILY)),
        ("historian", "+ gap, future, past", run({**FAMILY, **TIMING})),
        ("historian", "spike (Hampel, window 11)", run(SPIKE)),
        ("historian", "spike (Hampel, window 101)", run({"spike": {"window": 101, "k": 5}})),
        ("historian", "all rules", run(ALL)),
        ("historian", "all rules, streaming 10,000-point batches",
         lambda: streaming(t, v, q, now, 10_000)),
    ]  # fmt: skip
    if not args.no_pandas:
        cases += [
            ("pandas", "range+roc+flatline+nonfinite", lambda: pandas_family(t, v)),
            ("pandas", "gap, future, past", lambda: pandas_timing(t, now)),
            ("pandas", "spike (rolling median + approx. MAD, w 11)", lambda: pandas_spike(v)),
            ("pandas", "all rules",
             lambda: pandas_family(t, v) | pandas_spike(v) | pandas_timing(t, now)),
        ]  # fmt: skip
    cases += [
        ("historian", "compress: exception deadband (dev 0.5)",
         lambda: deadband_mask(t, v, deviation=0.5)),
        ("historian", "compress: swinging door (dev 0.5)",
         lambda: swinging_door_mask(t, v, deviation=0.5)),
    ]  # fmt: skip

    # Rounds outside, cases inside: on a shared machine every case sees the same quiet moments.
    # Wall time and the thread's CPU time (user + system, page faults included): on a loaded
    # machine the CPU time is what one core really spends; the wall time includes waiting.
    times: list[list[float]] = [[] for _ in cases]
    cpu: list[list[float]] = [[] for _ in cases]
    results: list[object] = [None] * len(cases)
    for _ in range(args.repeat):
        for k, (_, _, fn) in enumerate(cases):
            t0, c0 = time.perf_counter(), time.thread_time()
            results[k] = fn()  # type: ignore[operator]
            cpu[k].append(time.thread_time() - c0)
            times[k].append(time.perf_counter() - t0)

    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(
        f"\nQualification and source compression, 1 tag x {n:,} points "
        f"({platform.machine()}, {os.cpu_count()} cores{load}, Python "
        f"{platform.python_version()}; {args.repeat} interleaved rounds)\n"
    )
    print(f"| {'engine':<9} | {'case':<45} | {'best s':>7} | {'M pts/s wall':>12} | "
          f"{'M pts/s CPU':>11} |")  # fmt: skip
    print(f"|{'-' * 11}|{'-' * 47}|{'-' * 9}|{'-' * 14}|{'-' * 13}|")
    for (engine, label, _), ts, cs in zip(cases, times, cpu, strict=True):
        best, best_cpu = min(ts), max(min(cs), 1e-9)
        print(f"| {engine:<9} | {label:<45} | {best:7.3f} | {n / best / 1e6:12.1f} | "
              f"{n / best_cpu / 1e6:11.1f} |")  # fmt: skip
    r_family = results[0][1]  # type: ignore[index]
    r_spike = results[2][1]  # type: ignore[index]
    if not args.no_pandas:
        p_family, p_spike = results[6], results[8]
    kept_db, kept_sdt = results[-2], results[-1]
    flagged = int(
        ((r_family & (Reason.RANGE | Reason.ROC | Reason.FLATLINE | Reason.NONFINITE)) != 0).sum()
    )
    print(f"\nflagged by range/roc/flatline/nonfinite: historian {flagged:,}", end="")
    if not args.no_pandas:
        print(f", pandas {int(p_family.sum()):,}", end="")  # type: ignore[union-attr]
    print(f"\nflagged as spikes: historian {int(((r_spike & Reason.SPIKE) != 0).sum()):,}", end="")
    if not args.no_pandas:
        print(f", pandas (approx. MAD) {int(p_spike.sum()):,}", end="")  # type: ignore[union-attr]
    print(
        f"\nkept by compression: deadband {int(kept_db.sum()):,}, "  # type: ignore[union-attr]
        f"swinging door {int(kept_sdt.sum()):,} of {n:,}"
    )  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
