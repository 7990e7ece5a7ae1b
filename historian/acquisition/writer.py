"""The collector's writer: queued points to the store, or to the spool, one write at a time.

:class:`StoreWriter` runs in the collector's loop. One store write at a time runs in a worker
thread (acquisition never waits on it). While the spool holds data, live batches go to the
spool too and the store drains it oldest first (one FIFO); a write running longer than
``write_timeout`` (or a queue half full) sends new batches to the spool, and so does a failed
write, with a retry delay that doubles up to 30 s. :class:`WriteStats` counts what happened for
``Collector.health()``.

Examples
--------
>>> from historian.acquisition.writer import WriteStats
>>> WriteStats().store_ok
True
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from historian.acquisition.config import CollectorSettings
from historian.acquisition.latency import LatencyMonitor
from historian.acquisition.pointqueue import PointQueue
from historian.acquisition.samples import SampleBatch
from historian.acquisition.spool import Spool
from historian.model.schema import TIME_TYPE

__all__ = ["StoreWriter", "WriteStats", "batch_table"]

_log = logging.getLogger(__name__)


@dataclass
class WriteStats:
    """What the writer did since start (the store part of ``CollectorHealth``)."""

    written_points: int = 0
    spooled_points: int = 0
    store_ok: bool = True
    store_errors: int = 0
    last_store_error: str = ""


def batch_table(b: SampleBatch) -> pa.Table:
    """A batch as an Arrow table (tag, time, value, quality[, text]) for ``write_table`` and
    the spool; ``text`` only when the batch has texts (string points, enumeration labels)."""
    tags = b.tags if isinstance(b.tags, list) else list(b.tags)
    columns = {
        "tag": pa.array(tags, pa.string()),
        "time": pa.array(b.t_ns, pa.int64()).cast(TIME_TYPE),
        "value": pa.array(b.values, pa.float64()),
        "quality": pa.array(b.quality, pa.uint32()),
    }
    if b.text is not None:
        columns["text"] = pa.array(b.text, pa.string())
    return pa.table(columns)


@dataclass
class _Write:
    """The store write under way (one at a time)."""

    future: asyncio.Future[int]
    live: SampleBatch | None  # the live batch it writes; None: a spool segment drained
    since: float  # time.monotonic() at its start


class StoreWriter:
    """Moves the points of ``queue`` to the store (``write_table``) or to ``spool``.

    ``stop`` is set when the collector stops taking new points (queued points then go at once),
    ``final`` when the sources are stopped (:meth:`run` returns once everything is written or
    spooled), ``wake`` by the collector when points arrive.
    """

    def __init__(
        self,
        settings: CollectorSettings,
        queue: PointQueue,
        spool: Spool,
        write_table: Callable[[pa.Table], None],
        *,
        latency: LatencyMonitor,
        stats: WriteStats,
        stop: asyncio.Event,
        wake: asyncio.Event,
        final: asyncio.Event,
        log: logging.Logger = _log,
    ) -> None:
        self._settings, self._queue, self._spool = settings, queue, spool
        self._write_table, self._latency, self.stats = write_table, latency, stats
        self._stop, self._wake, self._final, self._log = stop, wake, final, log
        self._store_retry_at = 0.0
        self._store_backoff = 0.5

    def _write_live(self, batch: SampleBatch) -> None:
        table = batch_table(batch)
        self._write_table(table)
        self._latency.note(batch, time.time_ns())

    def _to_spool(self, batch: SampleBatch) -> None:
        """Spool ``batch``; what the full spool dropped is counted and marked as lost."""
        losses = self._spool.append(batch_table(batch))
        self.stats.spooled_points += len(batch)
        if losses:
            self._queue.dropped += sum(x.count for x in losses)
            for loss in losses:
                self._queue.add_loss(loss)

    def drain_one(self) -> int:
        """Write the oldest spool segment to the store and remove it; its points."""
        seg = self._spool.oldest()
        if seg is None:
            return 0
        table = self._spool.read(seg)
        if table.num_rows:
            self._write_table(table)
        self._spool.remove(seg)
        self._log.info("collector: wrote %d spooled points to the store (%d left in the spool)",
                    table.num_rows, self._spool.points)  # fmt: skip
        return table.num_rows

    def _store_failed(self, exc: BaseException) -> None:
        h = self.stats
        h.store_ok = False
        h.store_errors += 1
        h.last_store_error = f"{type(exc).__name__}: {exc}"
        self._store_retry_at = time.monotonic() + self._store_backoff
        self._log.warning("collector: store write failed (%s); spooling, retry in %.1f s",
                       h.last_store_error, self._store_backoff)  # fmt: skip
        self._store_backoff = min(self._store_backoff * 2, 30.0)

    def _store_succeeded(self, n: int) -> None:
        h = self.stats
        if not h.store_ok:
            self._log.info("collector: store writes succeed again")
        h.store_ok = True
        h.written_points += n
        self._store_backoff = 0.5

    async def run(self) -> None:
        """Move queued points to the store (or the spool) until stopped and drained.

        One store write at a time runs in a worker thread. While the spool holds data, live
        batches go to the spool too and the store drains it oldest first (one FIFO). A write
        running longer than ``write_timeout`` (or a queue half full) sends new batches to the
        spool; so does a failed write, with a growing retry delay.
        """
        write: _Write | None = None
        started: float | None = None  # when the oldest untaken point was first seen
        while True:
            stopping = self._stop.is_set()
            have = bool(self._queue)
            if self._final.is_set() and write is None and not have:
                return
            now = time.monotonic()
            if not have:
                started = None
            elif started is None:
                started = now
            idle_drain = (write is None and now >= self._store_retry_at and bool(self._spool)
                          and not stopping)  # fmt: skip
            if not idle_drain and not (self._due(have, stopping, started)
                                       and (write is None or self._slow(write))):  # fmt: skip
                await self._wait(write, stopping, started, now)
            if write is not None and write.future.done():
                await self._finish(write)
                write = None
            write, started = await self._next(write, started)

    def _due(self, have: bool, stopping: bool, started: float | None) -> bool:
        """Whether the queued points should go now (stopping, a full batch, or its interval)."""
        st = self._settings
        return have and (stopping or self._queue.points >= st.batch_size
                         or (started is not None
                             and time.monotonic() >= started + st.batch_interval_s))  # fmt: skip

    def _slow(self, write: _Write | None) -> bool:
        """Whether the write under way takes too long (or the queue is half full meanwhile)."""
        return write is not None and (
            time.monotonic() - write.since >= self._settings.write_timeout_s
            or self._queue.points > self._queue.capacity // 2
        )

    async def _wait(
        self, write: _Write | None, stopping: bool, started: float | None, now: float
    ) -> None:
        """Sleep until new points, a stop, the write's end, or the next deadline."""
        st = self._settings
        timeouts = [st.batch_interval_s if started is None
                    else started + st.batch_interval_s - now]  # fmt: skip
        if write is not None:
            timeouts.append(write.since + st.write_timeout_s - now)
        if now < self._store_retry_at:
            timeouts.append(self._store_retry_at - now)
        self._wake.clear()
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self._final.wait() if stopping else self._stop.wait()),
        ]
        if write is not None:
            waiters.append(write.future)
        await asyncio.wait(waiters, timeout=max(0.001, min(timeouts)),
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        for w in waiters[:2]:
            w.cancel()

    async def _finish(self, write: _Write) -> None:
        """Account for a finished store write; a live batch the store did not take is spooled."""
        exc = write.future.exception()
        if exc is None:
            self._store_succeeded(write.future.result())
            return
        self._store_failed(exc)
        if write.live is not None:
            await asyncio.to_thread(self._to_spool, write.live)

    async def _next(
        self, write: _Write | None, started: float | None
    ) -> tuple[_Write | None, float | None]:
        """Start the next store write, or spool what is due; returns ``(write, started)``."""
        st = self._settings
        stopping = self._stop.is_set()
        due = self._due(bool(self._queue), stopping, started)
        if write is None and time.monotonic() >= self._store_retry_at:
            if self._spool and not stopping:
                if due:  # keep one FIFO while the spool drains
                    batch = self._queue.take(st.batch_size * 10)
                    started = None
                    if batch is not None:
                        await asyncio.to_thread(self._to_spool, batch)
                drain = asyncio.ensure_future(asyncio.to_thread(self.drain_one))
                return _Write(drain, None, time.monotonic()), started
            if due:
                batch = self._queue.take(st.batch_size * 10)
                started = None
                if batch is not None:
                    live = asyncio.ensure_future(self._run_write(batch))
                    return _Write(live, batch, time.monotonic()), started
            return write, started
        if due and (write is None or self._slow(write)):
            # the store is failing (retry later) or stuck on a write: spool, never wait
            batch = self._queue.take(st.batch_size * 10 if not stopping else 10**12)
            started = None
            if batch is not None:
                await asyncio.to_thread(self._to_spool, batch)
        return write, started

    async def _run_write(self, batch: SampleBatch) -> int:
        await asyncio.to_thread(self._write_live, batch)
        return len(batch)
