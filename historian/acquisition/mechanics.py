"""What every source does besides talking its protocol: waits, backoff, schedules, rates, filters.

The Modbus and the OPC UA source share these pieces (one copy each, tested without sockets):

- :func:`wait_or_stop`: sleep, but wake up as soon as the source is asked to stop.
- :class:`Backoff`: reconnect delays that double up to a ceiling, with jitter so that many
  collectors do not hammer a device that comes back at the same instant.
- :class:`Ticker`: a monotonic poll schedule; a poll that overruns skips the ticks it missed
  instead of piling up requests.
- :class:`RateMeter`: points per second over a sliding window of about 10 s (``health()``).
- :class:`LogLimiter`: a warning at most once per interval for a condition that persists.
- :class:`StatusChangeFilter`: Good values every poll, other statuses once per change (a device
  that stays unreachable gives one Bad point per tag, not one per poll).
- :class:`RepeatFilter`: drop a sample that is the same (time, value, status) as the last one
  (OPC UA polling: an unchanged variable is not written again).

Examples
--------
>>> b = Backoff(0.5, 4.0, jitter=(1.0, 1.0))
>>> [b.next() for _ in range(5)]
[0.5, 1.0, 2.0, 4.0, 4.0]
>>> f = StatusChangeFilter(2)
>>> import numpy as np
>>> f.select(np.array([0, 0x80310000], np.uint32)).tolist()  # first Bad: emitted
[True, True]
>>> f.select(np.array([0, 0x80310000], np.uint32)).tolist()  # same Bad again: dropped
[True, False]
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time

import numpy as np

from historian.model import quality as _q

__all__ = [
    "Backoff",
    "LogLimiter",
    "RateMeter",
    "RepeatFilter",
    "StatusChangeFilter",
    "Ticker",
    "wait_or_stop",
]

_GOOD_MASK = np.uint32(_q.BAD)  # the Bad bit: Good and Uncertain have it clear
_NO_STATE = np.uint32(0xFFFFFFFF)  # "nothing emitted yet" (not a valid StatusCode)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set; yields to the loop once when ``seconds <= 0``.

    >>> async def main():
    ...     stop = asyncio.Event(); stop.set()
    ...     t = time.monotonic(); await wait_or_stop(stop, 60); return time.monotonic() - t < 1
    >>> asyncio.run(main())
    True
    """
    if stop.is_set():
        return
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Backoff:
    """Reconnect delays: ``initial_s``, doubling up to ``max_s``, each times a random factor
    drawn from ``jitter`` (for example ``(0.5, 1.0)``).

    :meth:`next` gives the delay to wait now and doubles the next one; :meth:`reset` after a
    successful connection; :meth:`at_least` raises the current delay (a refused login is not
    retried at once).

    >>> b = Backoff(1.0, 30.0, jitter=(0.5, 1.0), rng=random.Random(1))
    >>> 0.5 <= b.next() <= 1.0, b.delay_s
    (True, 2.0)
    >>> b.reset(); b.delay_s
    1.0
    """

    def __init__(self, initial_s: float, max_s: float, *, jitter: tuple[float, float] = (0.5, 1.0),
                 rng: random.Random | None = None) -> None:  # fmt: skip
        self.initial_s = float(initial_s)
        self.max_s = float(max_s)
        self.jitter = jitter
        self.delay_s = self.initial_s
        self._rng = rng or random.Random()

    def jittered(self) -> float:
        """The current delay times a random jitter factor (the delay is not changed)."""
        lo, hi = self.jitter
        return self.delay_s * (lo + (hi - lo) * self._rng.random())

    def next(self) -> float:
        """The delay to wait now (jittered); the one after is twice as long, up to ``max_s``."""
        delay = self.jittered()
        self.delay_s = min(self.delay_s * 2, self.max_s)
        return delay

    def at_least(self, seconds: float) -> None:
        """Make the current delay at least ``seconds``."""
        self.delay_s = max(self.delay_s, seconds)

    def reset(self) -> None:
        """Back to ``initial_s`` (the connection worked)."""
        self.delay_s = self.initial_s


class Ticker:
    """A monotonic poll schedule of ``period_s``.

    :meth:`advance` is called after each poll and returns ``(missed, wait_s)``: how many ticks
    the poll overran (skipped, never made up) and how long to wait before the next poll. With
    ``late_poll`` (Modbus) an overrun poll is followed at once by a late poll; without it (OPC UA
    polling) the next poll waits for the next tick of the schedule.

    >>> t = Ticker(1.0, late_poll=False)
    >>> t.next_t -= 2.5  # as if the poll had taken 2.5 s
    >>> missed, wait_s = t.advance()
    >>> missed, 0.0 < wait_s <= 1.0
    (2, True)
    """

    def __init__(self, period_s: float, *, late_poll: bool) -> None:
        self.period_s = float(period_s)
        self.late_poll = late_poll
        self.next_t = time.monotonic()

    def advance(self) -> tuple[int, float]:
        period = self.period_s
        self.next_t += period
        now = time.monotonic()
        if self.late_poll:
            if now > self.next_t:  # overran: poll again at once (late), skip the ticks missed
                missed = int((now - self.next_t) // period)
                self.next_t += missed * period
                return missed, 0.0
            return 0, self.next_t - now
        if self.next_t < now:  # fell behind: skip ticks instead of piling up requests
            missed = int((now - self.next_t) / period) + 1
            self.next_t += missed * period
            return missed, self.next_t - time.monotonic()
        return 0, self.next_t - now


class RateMeter:
    """Points per second over a sliding window of about ``window_s`` (10 s).

    >>> m = RateMeter()
    >>> m.rate(0) >= 0.0
    True
    """

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self.marks: list[tuple[float, int]] = [(time.monotonic(), 0)]

    def rate(self, total: int) -> float:
        """The rate, given the running total of points."""
        now = time.monotonic()
        self.marks.append((now, total))
        while len(self.marks) > 2 and now - self.marks[1][0] > self.window_s:
            self.marks.pop(0)
        t0, n0 = self.marks[0]
        return (total - n0) / (now - t0) if now > t0 else 0.0


class LogLimiter:
    """True at most once per ``interval_s``: a WARNING for a lasting condition, DEBUG between.

    >>> lim = LogLimiter(60.0)
    >>> lim.due(), lim.due()
    (True, False)
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last = -math.inf

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            return True
        return False


class StatusChangeFilter:
    """Per position of a fixed set of points: which samples to emit.

    Good and Uncertain samples are emitted every time; a Bad status only when it differs from
    the status last emitted at that position (``last`` holds them; ``0xFFFFFFFF``: none yet).
    """

    def __init__(self, n: int) -> None:
        self.last = np.full(n, _NO_STATE, dtype=np.uint32)

    def select(self, status: np.ndarray) -> np.ndarray | None:
        """A boolean mask of the samples to emit, or None when all are (all Good)."""
        if not status.any():  # all Good (the usual case): everything is emitted
            self.last.fill(0)
            return None
        emit = (status & _GOOD_MASK) == 0
        emit |= status != self.last
        self.last[:] = status
        return emit


class RepeatFilter:
    """Remember the last (time, value, status) per tag; :meth:`changed` is False for a repeat
    (NaN equals NaN here)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, float, int]] = {}

    def changed(self, tag: str, t_ns: int, value: float, status: int) -> bool:
        cur = (t_ns, value, status)
        prev = self._last.get(tag)
        self._last[tag] = cur
        return not (prev is not None and prev[0] == t_ns and prev[2] == status and (
            prev[1] == value or (math.isnan(prev[1]) and math.isnan(value))
        ))  # fmt: skip
