"""A token bucket for ``--max-bytes-per-s`` (the sender waits before it reads more)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Let through at most ``bytes_per_s`` on average (a burst of one second at most).

    Examples
    --------
    >>> r = RateLimiter(None)
    >>> r.take(10**9)  # no cap: never waits
    """

    def __init__(self, bytes_per_s: float | None, stop: threading.Event | None = None) -> None:
        self.rate = float(bytes_per_s) if bytes_per_s else None
        self._stop = stop or threading.Event()
        self._tokens = 0.0
        self._t = time.monotonic()

    def take(self, n: int) -> None:
        """Account ``n`` bytes, waiting as long as the cap requires."""
        if self.rate is None:
            return
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._t) * self.rate)
        self._t = now
        self._tokens -= n
        if self._tokens < 0:
            self._stop.wait(-self._tokens / self.rate)
