"""Plain-Python references for the qualification and compression kernels.

Written for clarity, not speed: Python ints for times (no overflow), Python floats for values,
``sorted`` for the rolling median. The kernels must match these exactly.
"""

from __future__ import annotations

import itertools
import math
from collections import deque

from historian.kernels.qualify import _PRIORITY, QualificationRules, Reason

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _rank(code: int) -> int:
    if code & 0x80000000:
        return 2
    return 1 if code & 0x40000000 else 0


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    h = n // 2
    if n % 2:
        return sorted_values[h]
    return 0.5 * sorted_values[h - 1] + 0.5 * sorted_values[h]


def hampel_is_spike(window: list[float], x: float, k: float, min_dev: float) -> bool:
    """Hampel test of ``x`` (the newest value of ``window``)."""
    s = sorted(window)
    m = _median(s)
    mad = _median(sorted(abs(y - m) for y in s))
    dev = abs(x - m)
    return dev > (k * 1.4826) * mad and dev > min_dev


def qualify_reference(
    t: list[int], v: list[float], q: list[int], rules: QualificationRules, now_ns: int
) -> tuple[list[int], list[int]]:
    """Qualify a whole stream point by point; returns (quality_out, reasons)."""
    r_ = rules
    future_limit = None if r_.future_tolerance_ns is None else now_ns + r_.future_tolerance_ns
    past_limit = None
    if r_.past_max_age_ns is not None:
        past_limit = now_ns - r_.past_max_age_ns
    if r_.past_earliest_ns is not None:
        past_limit = (
            r_.past_earliest_ns if past_limit is None else max(past_limit, r_.past_earliest_ns)
        )
    lo = -math.inf if r_.range_lo is None else r_.range_lo
    hi = math.inf if r_.range_hi is None else r_.range_hi
    codes = {
        Reason.RANGE: r_.range_quality,
        Reason.ROC: r_.roc_quality,
        Reason.FLATLINE: r_.flatline_quality,
        Reason.SPIKE: r_.spike_quality,
        Reason.GAP: r_.gap_quality,
        Reason.NONFINITE: r_.nonfinite_quality,
        Reason.FUTURE: r_.future_quality,
        Reason.PAST: r_.past_quality,
    }
    last_t = None
    prev = None  # (t, v) of the last eligible point, for the rate of change
    run = None  # (t, v) where the current flat run started
    window: deque[float] = deque()
    out_q, out_r = [], []
    for ti, x, qi in zip(t, v, q, strict=True):
        ti, x, qi = int(ti), float(x), int(qi)
        r = 0
        finite = math.isfinite(x)
        if not finite:
            if r_.nonfinite:
                r |= Reason.NONFINITE
        elif r_.range_mode is not None and (x < lo or x > hi):
            r |= Reason.RANGE
        bad_time = False
        if future_limit is not None and ti > future_limit:
            r |= Reason.FUTURE
            bad_time = True
        if past_limit is not None and ti < past_limit:
            r |= Reason.PAST
            bad_time = True
        if not bad_time and (last_t is None or ti >= last_t):
            if r_.gap_ns is not None and last_t is not None and ti - last_t > r_.gap_ns:
                r |= Reason.GAP
            last_t = ti
            if finite and not qi & 0x80000000:
                if r_.roc_max_per_s is not None:
                    dt = None if prev is None or ti == prev[0] else float(ti - prev[0])
                    if dt is not None and abs(x - prev[1]) * 1e9 > r_.roc_max_per_s * dt:
                        r |= Reason.ROC
                    prev = (ti, x)
                if r_.flatline_ns is not None:
                    if run is not None and abs(x - run[1]) <= r_.flatline_epsilon:
                        if ti - run[0] > r_.flatline_ns:
                            r |= Reason.FLATLINE
                    else:
                        run = (ti, x)
                if r_.spike_window is not None:
                    window.append(x)
                    if len(window) > r_.spike_window:
                        window.popleft()
                    if len(window) == r_.spike_window and hampel_is_spike(
                        list(window), x, r_.spike_k, r_.spike_min_deviation
                    ):
                        r |= Reason.SPIKE
        out_r.append(int(r))
        best, best_rank = qi, _rank(qi)
        if r:
            code, rank = 0, -1
            for bit in _PRIORITY:
                if r & bit and _rank(codes[bit]) > rank:
                    code, rank = codes[bit], _rank(codes[bit])
            if rank > best_rank:
                best = code
        out_q.append(best)
    return out_q, out_r


def find_gaps_reference(t: list[int], gap_ns: int) -> tuple[list[int], list[int]]:
    ts = sorted(int(x) for x in t)
    starts, ends = [], []
    for a, b in itertools.pairwise(ts):
        if b - a > gap_ns:
            starts.append(a)
            ends.append(b)
    return starts, ends


# ----------------------------------------------------------------------------- compression


def deadband_reference(
    t: list[int], v: list[float], q: list[int], deviation: float, max_ns: int | None
) -> list[int]:
    """PI exception reporting; returns the indices kept (in the order they are reported),
    including the held last point (one-shot mode flushes it)."""
    out: list[int] = []
    rep = None  # (t, v, q) last reported
    held = None  # (t, v, q, i) received but not reported
    last_t = None
    for i, (ti, x, qi) in enumerate(zip(t, v, q, strict=True)):
        ti, x, qi = int(ti), float(x), int(qi)
        if rep is None:
            out.append(i)
            rep, last_t = (ti, x, qi), ti
            continue
        if ti <= last_t:
            out.append(i)  # late or duplicate time: passed through, state unchanged
            continue
        last_t = ti
        exceed = (
            qi != rep[2]
            or not math.isfinite(x)
            or not math.isfinite(rep[1])
            or abs(x - rep[1]) > deviation
            or (max_ns is not None and ti - rep[0] >= max_ns)
        )
        if exceed:
            if held is not None:
                out.append(held[3])
            out.append(i)
            rep, held = (ti, x, qi), None
        else:
            held = (ti, x, qi, i)
    if held is not None:
        out.append(held[3])
    return out


def swinging_door_reference(
    t: list[int],
    v: list[float],
    q: list[int],
    deviation: float,
    min_ns: int,
    max_ns: int | None,
) -> list[int]:
    """Swinging-door trending (PI compression); returns the kept indices in report order."""
    out: list[int] = []
    arch = None  # (t, v, q) last archived
    snap = None  # (t, v, q, i) newest point, not archived yet
    lo_s = hi_s = 0.0
    last_t = None

    def door(p_t: int, p_v: float) -> tuple[float, float]:
        dt = float(p_t - arch[0])
        return (p_v - deviation - arch[1]) / dt, (p_v + deviation - arch[1]) / dt

    for i, (ti, x, qi) in enumerate(zip(t, v, q, strict=True)):
        ti, x, qi = int(ti), float(x), int(qi)
        if arch is None:
            out.append(i)
            arch, last_t = (ti, x, qi), ti
            continue
        if ti <= last_t:
            out.append(i)
            continue
        last_t = ti
        if (
            not math.isfinite(x)
            or not math.isfinite(arch[1])
            or qi != arch[2]
            or (snap is not None and (qi != snap[2]))
        ):
            if snap is not None:
                out.append(snap[3])
            out.append(i)
            arch, snap = (ti, x, qi), None
            continue
        if snap is None:
            snap = (ti, x, qi, i)
            lo_s, hi_s = door(ti, x)
            continue
        if min_ns and ti - arch[0] < min_ns:
            a, b = door(ti, x)
            lo_s, hi_s = max(lo_s, a), min(hi_s, b)
            snap = (ti, x, qi, i)
            continue
        slope = (x - arch[1]) / float(ti - arch[0])
        inside = lo_s <= slope <= hi_s and not (max_ns is not None and ti - arch[0] > max_ns)
        if inside:
            a, b = door(ti, x)
            lo_s, hi_s = max(lo_s, a), min(hi_s, b)
            snap = (ti, x, qi, i)
        else:
            out.append(snap[3])
            arch = snap[:3]
            snap = (ti, x, qi, i)
            lo_s, hi_s = door(ti, x)
    if snap is not None:
        out.append(snap[3])
    return out
