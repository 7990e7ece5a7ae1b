"""The collector's bounded queue of points: drop-oldest past the bound, losses recorded.

Sources put whole :class:`~historian.acquisition.samples.SampleBatch` es in (never blocking);
past ``capacity`` points the oldest batches are dropped and counted, and every loss (queue full,
spool full) becomes one ``Bad_DataLost`` point per tag at the time of its first lost point, sent
with the next batch taken. Per-tag source compression (deadband, swinging door) runs as batches
are taken.

Examples
--------
>>> from historian.acquisition.pointqueue import PointQueue
>>> from historian.acquisition.samples import SampleBatch
>>> queue = PointQueue(capacity=2)
>>> for t in (1, 2, 3):
...     queue.push(SampleBatch.from_points(["A"], [t], [1.0], 0, source="s"))
>>> queue.points, queue.dropped
(2, 1)
>>> batch = queue.take(10)
>>> from historian.model.quality import BAD_DATA_LOST
>>> batch.t_ns.tolist(), batch.quality[-1] == BAD_DATA_LOST
([2, 3, 1], np.True_)
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import numpy as np

from historian.acquisition.samples import SampleBatch
from historian.acquisition.spool import Loss
from historian.model import quality as q

__all__ = ["PointQueue"]

_log = logging.getLogger(__name__)


class PointQueue:
    """Whole batches up to about ``capacity`` points (see the module docstring).

    ``points`` is what waits now, ``dropped`` what was lost since start; ``compressors`` maps a
    tag to its source compressor (:func:`~historian.kernels.compress.compressor_from_dict`).
    """

    def __init__(self, capacity: int, *, log: logging.Logger = _log) -> None:
        self.capacity = capacity
        self.points = 0
        self.dropped = 0
        self.compressors: dict[str, Any] = {}
        self._batches: deque[SampleBatch] = deque()
        self._losses: dict[str, list[int]] = {}  # tag -> [first_ns, count] not yet recorded
        self._last_drop_log = -1e9
        self._log = log

    def __bool__(self) -> bool:
        """True while points or loss markers wait."""
        return bool(self._batches or self._losses)

    @property
    def batches(self) -> int:
        """How many batches wait."""
        return len(self._batches)

    def push(self, batch: SampleBatch) -> None:
        """Queue ``batch``; past the capacity drop (and count) the oldest batches."""
        self.requeue(batch)
        while self.points > self.capacity and len(self._batches) > 1:
            old = self._batches.popleft()
            self.points -= len(old)
            self.record_drop(old.tags, old.t_ns)
            now = time.monotonic()
            if now - self._last_drop_log >= 5.0:  # at most one warning per 5 s
                self._last_drop_log = now
                self._log.warning("collector queue full (%d points): dropping the oldest points "
                                  "(%d dropped so far)", self.capacity, self.dropped)  # fmt: skip

    def requeue(self, batch: SampleBatch) -> None:
        """Queue ``batch`` without applying the bound (the points held back at shutdown)."""
        self._batches.append(batch)
        self.points += len(batch)

    def record_drop(self, tags: Any, t_ns: np.ndarray) -> None:
        """Count the points ``(tags, t_ns)`` as lost and mark each tag's loss."""
        tags_arr = np.asarray(tags, dtype=object)
        self.dropped += len(tags_arr)
        for tag in set(tags_arr.tolist()):
            sel = t_ns[tags_arr == tag]
            self.add_loss(Loss(tag, int(sel.min()), int(sel.max()), int(sel.size)))

    def add_loss(self, loss: Loss) -> None:
        """Mark a loss counted elsewhere (the spool's): one Bad_DataLost at its first point."""
        cur = self._losses.get(loss.tag)
        if cur is None:
            self._losses[loss.tag] = [loss.first_ns, loss.count]
        else:
            cur[0] = min(cur[0], loss.first_ns)
            cur[1] += loss.count

    def take(self, limit: int) -> SampleBatch | None:
        """Up to about ``limit`` queued points (whole batches) plus loss markers, compressed."""
        parts: list[SampleBatch] = []
        n = 0
        while self._batches and (n < limit or not parts):
            b = self._batches.popleft()
            self.points -= len(b)
            parts.append(b)
            n += len(b)
        if self._losses:
            tags = list(self._losses)
            firsts = [self._losses[t][0] for t in tags]
            parts.append(SampleBatch.from_points(tags, firsts, [None] * len(tags),
                                                 q.BAD_DATA_LOST, source="collector"))  # fmt: skip
            for t, (first, count) in self._losses.items():
                self._log.error("collector: %d points of %r lost from %s on; recorded "
                                "Bad_DataLost", count, t, np.datetime64(first, "ns"))  # fmt: skip
            self._losses = {}
        if not parts:
            return None
        batch = parts[0] if len(parts) == 1 else SampleBatch.concat(parts)
        return self._compress(batch) if self.compressors else batch

    def _compress(self, batch: SampleBatch) -> SampleBatch:
        tags = np.asarray(batch.tags, dtype=object)
        keep = np.ones(len(tags), dtype=bool)
        extra: list[tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]] = []
        for name, comp in self.compressors.items():
            sel = np.flatnonzero(tags == name)
            if sel.size == 0:
                continue
            keep[sel] = False
            e = comp.push(batch.t_ns[sel], batch.values[sel], batch.quality[sel])
            if len(e.t_ns):
                extra.append((e.t_ns, e.values, e.quality, [name] * len(e.t_ns)))
        if not extra and keep.all():
            return batch
        idx = np.flatnonzero(keep)
        t_parts = [batch.t_ns[idx], *[x[0] for x in extra]]
        v_parts = [batch.values[idx], *[x[1] for x in extra]]
        q_parts = [batch.quality[idx], *[x[2] for x in extra]]
        names = [tags[i] for i in idx.tolist()]
        for x in extra:
            names.extend(x[3])
        text = None  # texts of the points kept as they came; compressed points are numbers
        if batch.text is not None:
            text = [batch.text[i] for i in idx.tolist()] + [None] * (len(names) - idx.size)
        return SampleBatch(names, np.concatenate(t_parts).astype(np.int64),
                           np.concatenate(v_parts).astype(np.float64),
                           np.concatenate(q_parts).astype(np.uint32), batch.source,
                           text)  # fmt: skip

    def flush_compressors(self) -> SampleBatch | None:
        """The points the compressors still hold (at shutdown), or None."""
        tags: list[str] = []
        ts, vs, qs = [], [], []
        for name, comp in self.compressors.items():
            e = comp.flush()
            tags += [name] * len(e.t_ns)
            ts.append(e.t_ns)
            vs.append(e.values)
            qs.append(e.quality)
        if not tags:
            return None
        return SampleBatch(tags, np.concatenate(ts).astype(np.int64),
                           np.concatenate(vs).astype(np.float64),
                           np.concatenate(qs).astype(np.uint32), "collector")  # fmt: skip
