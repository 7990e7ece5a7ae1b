"""Source timestamp → readable-in-store latency, overall and per source, and its trend.

The collector notes a sample of the Good points of every batch it wrote; :class:`LatencyMonitor`
keeps the recent latencies (for the p50/p95 of ``health()``) and compares per-source medians
window by window: a WARNING when a source's latency rose ``windows`` windows in a row and is
above ``min_s`` (it does not keep up), at most once a minute per source.

Examples
--------
>>> from historian.acquisition.latency import LatencyMonitor
>>> from historian.acquisition.samples import SampleBatch
>>> m = LatencyMonitor({"TIC-101.PV": "plc1"}, ["plc1"])
>>> batch = SampleBatch.from_points(["TIC-101.PV"], [10**9], [20.0], 0, source="plc1")
>>> m.note(batch, 3 * 10**9)
>>> m.percentiles("plc1")
(2.0, 2.0)
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping

import numpy as np

from historian.acquisition.samples import SampleBatch
from historian.model import quality as q

__all__ = ["LatencyMonitor", "snapshot"]

SAMPLES = 4096  # latencies kept, overall and per source

_log = logging.getLogger(__name__)


class LatencyMonitor:
    """Latencies of written points, overall and per source (see the module docstring).

    ``source_of`` maps a tag to the name of its source; ``log`` is the logger of the warning
    (the collector's).
    """

    def __init__(
        self,
        source_of: Mapping[str, str],
        sources: Iterable[str],
        *,
        window_s: float = 5.0,
        windows: int = 3,
        min_s: float = 1.0,
        log: logging.Logger = _log,
    ) -> None:
        self.window_s, self.windows, self.min_s, self._log = window_s, windows, min_s, log
        self._source_of = dict(source_of)
        self._all: deque[float] = deque(maxlen=SAMPLES)
        self._by_source: dict[str, deque[float]] = {s: deque(maxlen=SAMPLES) for s in sources}
        self._window: dict[str, list[float]] = {}
        self._trend: dict[str, deque[float]] = {}
        self._next = 0.0
        self._logged: dict[str, float] = {}

    def note(self, batch: SampleBatch, now_ns: int) -> None:
        """Note (a sample of) the Good points of ``batch``, readable in the store at ``now_ns``."""
        good = np.flatnonzero(q.good_mask(batch.quality))
        if good.size:
            idx = good[:: max(1, good.size // 64)]
            lat = ((now_ns - batch.t_ns[idx]) / 1e9).tolist()
            self._all.extend(lat)
            tags = batch.tags
            for i, x in zip(idx.tolist(), lat, strict=True):
                name = self._source_of.get(tags[i])
                if name is not None:
                    self._by_source[name].append(x)
                    self._window.setdefault(name, []).append(x)
        mono = time.monotonic()
        if mono >= self._next:
            self._next = mono + self.window_s
            self._check_trend(mono)

    def percentiles(self, source: str | None = None) -> tuple[float, float] | None:
        """``(p50, p95)`` in seconds, of one source or of all (None before any point)."""
        arr = snapshot(self._all if source is None else self._by_source.get(source))
        if arr is None:
            return None
        return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))

    def _check_trend(self, mono: float) -> None:
        for name, window in list(self._window.items()):
            if not window:
                continue
            self._window[name] = []
            trend = self._trend.setdefault(name, deque(maxlen=self.windows + 1))
            trend.append(float(np.median(window)))
            rising = len(trend) == trend.maxlen and all(
                a < b for a, b in zip(trend, list(trend)[1:], strict=False)
            )
            if rising and trend[-1] > self.min_s and (mono - self._logged.get(name, -1e9) >= 60.0):
                self._logged[name] = mono
                self._log.warning("collector: the latency of source %r keeps growing (median %s "
                                  "s over the last %d x %.0f s): it does not keep up (see its "
                                  "backlog in health(); docs/acquisition.md, capacity)", name,
                                  " -> ".join(f"{x:.2f}" for x in trend), len(trend),
                                  self.window_s)  # fmt: skip


def snapshot(values: deque[float] | None) -> np.ndarray | None:
    """The values of a deque another thread appends to (None if empty)."""
    for _ in range(5):
        try:
            arr = np.array(values or (), dtype=float)
        except RuntimeError:  # "deque mutated during iteration": try again
            continue
        return arr if arr.size else None
    return None
