"""The collector: many sources, one bounded queue, batched writes, a store-and-forward spool.

::

    sources (Modbus, OPC UA; one asyncio loop)
        │ emit(SampleBatch)       never blocks: a bounded queue of points, drop-oldest + counter
        ▼
    queue ──► batcher (batch_size points or batch_interval) ──► source compression (per tag)
                 │
                 ├─► store.write_table() in a worker thread  (acquisition never waits on it)
                 │      slow (> write_timeout) or raising ──► spool (Arrow IPC + CRC, fsync)
                 └─◄ spool drained oldest first when the store is healthy again

- What is dropped past a bound (queue full, spool full) is counted and recorded as one
  ``Bad_DataLost`` point per affected tag at the time of its first lost point.
- Sources record ``Bad_NoCommunication`` themselves when a device is down; a source that crashes
  is restarted, and its tags get ``Bad_NoCommunication`` too.
- Tags are defined in the store at start from the config (unit, kind, lo/hi, rules,
  compression, type) in one catalog write; the store applies qualification rules on write. An
  OPC UA source reports the String/LocalizedText nodes it finds when it connects, and those
  tags are defined ``type="string"`` before their first value is written
  (:mod:`historian.acquisition.text_tags`: never a tag that holds numbers).
- Health per source and for the pipeline: :meth:`Collector.health`, logged at INFO every
  ``health_every``.

Use it from sync code (``run``; ``start``/``stop`` for services, the loop lives in a daemon thread,
also inside Jupyter) or from asyncio (``await arun()``).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "plant.toml").write_text('[store]\\npath = "plant.hist"\\n')
>>> c = Collector(folder / "plant.toml")
>>> c.run(seconds=0.1)
>>> c.health().running
False
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from historian.acquisition.config import Config, load_config
from historian.acquisition.latency import LatencyMonitor
from historian.acquisition.opcua_text import label_enums
from historian.acquisition.pointqueue import PointQueue
from historian.acquisition.samples import SampleBatch, Source, SourceHealth
from historian.acquisition.spool import Spool
from historian.acquisition.text_tags import TextTyper
from historian.acquisition.writer import StoreWriter, WriteStats
from historian.errors import ConfigError, HistorianError, TagNotFoundError
from historian.model import quality as q

__all__ = ["Collector", "CollectorHealth"]

logger = logging.getLogger(__name__)

_TREND_WINDOW_S = 5.0  # latency medians compared window by window ...
_TREND_WINDOWS = 3  # ... a WARNING when they rose this many windows in a row
_TREND_MIN_S = 1.0  # ... and the last one is above this


@dataclass
class CollectorHealth:
    """A snapshot of the collector.

    Attributes
    ----------
    running : bool
    sources : dict of str to SourceHealth
        Per source: connected, last good value time, errors, reconnects, points, points/s.
    queue_points, queue_capacity : int
        Points waiting in memory, and the bound.
    dropped_points : int
        Points lost past a bound (queue full, spool full); each loss is also recorded in the
        store as a ``Bad_DataLost`` point per affected tag.
    written_points : int
        Points written to the store (live and drained from the spool).
    spooled_points : int
        Points sent to the spool since start.
    spool_points, spool_bytes : int
        What the spool holds now.
    store_ok : bool
        False after a failed store write, until one succeeds.
    store_errors : int
    last_store_error : str
    latency_p50_s, latency_p95_s : float or None
        Recent source timestamp → readable-in-store latency of live Good points.
    """

    running: bool = False
    sources: dict[str, SourceHealth] = field(default_factory=dict)
    queue_points: int = 0
    queue_capacity: int = 0
    dropped_points: int = 0
    written_points: int = 0
    spooled_points: int = 0
    spool_points: int = 0
    spool_bytes: int = 0
    store_ok: bool = True
    store_errors: int = 0
    last_store_error: str = ""
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None


class Collector:
    """Collect from the sources of a config into a store.

    Parameters
    ----------
    config : Config, str or path-like
        A :class:`~historian.acquisition.config.Config` or the path of a TOML file.
    store : Historian-like, optional
        Anything with ``define(name, **settings)`` and ``write_table(table)`` (a
        ``historian.open(...)`` store, or a wrapper feeding a remote one). By default the store at
        ``[store] path`` is opened at start and closed at stop.
    sources : sequence of Source, optional
        Extra sources (objects with ``name``, ``async run(emit, stop)`` and ``health()``) to run
        besides those of the config; their ``tags`` (if they have that attribute) are defined with
        default settings when unknown to the store.
    environ : mapping, optional
        Where the OPC UA sources look up ``username_env``/``password_env`` (default
        ``os.environ``): credentials passed explicitly, never written to the environment.

    Examples
    --------
    See the module docstring; ``historian collect plant.toml`` runs one from the command line.
    """

    def __init__(
        self,
        config: Config | str | os.PathLike[str],
        store: Any = None,
        *,
        sources: Sequence[Source] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config if isinstance(config, Config) else load_config(config)
        self._environ = environ  # credentials for the OPC UA sources (default: os.environ)
        self.store: Any = store
        self.sources: list[Any] = self._build_sources() + list(sources)
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ConfigError(f"source names must be unique, got {names}")
        st = self.config.collector
        self._queue = PointQueue(st.queue_size, log=logger)
        self._running = False
        self._stats = WriteStats()
        self._latency = self._latency_monitor({})
        self._labels: dict[str, dict[int, str]] = {}  # tag -> state table: enumeration texts
        self._typer: TextTyper | None = None  # defines the text tags the sources find
        for src in self.sources:
            if hasattr(src, "on_text_tags"):  # OPC UA: String/LocalizedText nodes, at connect
                src.on_text_tags = self._text_tags_found
        self._spool: Spool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._final = asyncio.Event()
        self._future: concurrent.futures.Future[None] | None = None
        self._ready = threading.Event()  # store open, tags defined, sources started

    def __repr__(self) -> str:
        names = [s.name for s in self.sources]
        return f"Collector(sources={names}, store={str(self.config.store.path)!r})"

    # ------------------------------------------------------------------ setup
    def _build_sources(self) -> list[Any]:
        out: list[Any] = []
        if self.config.opcua:
            from historian.acquisition.opcua import OpcUaSource

            out += [OpcUaSource(c, environ=self._environ) for c in self.config.opcua]
        if self.config.modbus:
            from historian.acquisition.modbus import ModbusSource

            out += [ModbusSource.from_config(c) for c in self.config.modbus]
        return out

    def _open_store(self) -> None:
        if self.store is None:
            import historian

            self.store = historian.open(self.config.store.path)
        tags = self.config.tags()
        settings = {
            name: dict(unit=tag.unit, kind=tag.kind, lo=tag.lo, hi=tag.hi, rules=tag.rules,
                       description=tag.description, compression=tag.compression,
                       states=tag.states, metadata=tag.metadata,
                       **({"type": "string"} if tag.is_text else {}))  # never un-types a tag
            for name, tag in tags.items()
        }  # fmt: skip
        self._labels = {n: t.states for n, t in tags.items() if t.states and not t.is_text}
        extra = [n for src in self.sources for n in getattr(src, "tags", ()) if n not in tags]
        explicit = {p.tag: p.type for c in self.config.opcua for p in c.points if p.type}
        auto = [n for s in self.sources if hasattr(s, "on_text_tags") for n in s.tags
                if n not in explicit]  # fmt: skip
        self._typer = TextTyper(
            self.store, explicit, fresh=[n for n in dict.fromkeys(auto) if not self._known(n)]
        )
        compression = {name: tag.compression for name, tag in tags.items() if tag.compression}
        define_many = getattr(self.store, "define_many", None)
        if define_many is not None:  # one catalog write for every tag: start-up in O(tags)
            unknown = [n for n in dict.fromkeys(extra) if not self._known(n)]
            try:
                define_many({**settings, **{n: {} for n in unknown}})
            except HistorianError as exc:
                raise ConfigError(f"the store refused the tag definitions: {exc}") from exc
        else:  # a sink with define() only
            for name, kw in settings.items():
                try:
                    self.store.define(name, **kw)
                except HistorianError as exc:
                    raise ConfigError(
                        f"tag {name!r}: the store refused its definition: {exc}"
                    ) from exc
        for name in dict.fromkeys(extra):  # already defined: read back their compression
            defined = self._define_default(name)
            if getattr(defined, "compression", None):
                compression[name] = defined.compression
        self._latency = self._latency_monitor(
            {n: s.name for s in self.sources for n in getattr(s, "tags", ())}
        )
        from historian.kernels.compress import compressor_from_dict

        self._queue.compressors = {n: compressor_from_dict(c) for n, c in compression.items()}

    def _latency_monitor(self, source_of: dict[str, str]) -> LatencyMonitor:
        return LatencyMonitor(source_of, [s.name for s in self.sources], window_s=_TREND_WINDOW_S,
                              windows=_TREND_WINDOWS, min_s=_TREND_MIN_S, log=logger)  # fmt: skip

    async def _text_tags_found(self, names: Sequence[str]) -> None:
        """A source found text tags (before emitting their values): define them as such."""
        typer = self._typer
        if not names or typer is None:
            return
        try:
            await asyncio.to_thread(typer.retype, names)
        except Exception as exc:  # the values are still stored, as number tags with texts
            logger.error(
                "collector: cannot define %d text tag(s) found by a source (%s); "
                "they stay number tags whose points carry the texts",
                len(names),
                exc,
            )

    def _known(self, name: str) -> bool:
        try:
            self.store.tag(name)
        except TagNotFoundError:
            return False
        except AttributeError:  # a sink without tag()
            return False
        return True

    def _define_default(self, name: str) -> Any:
        """The store's definition of ``name``, defining it with defaults when unknown."""
        try:
            return self.store.tag(name)
        except TagNotFoundError:
            return self.store.define(name)
        except AttributeError:  # a sink without tag(): define is expected to be idempotent
            return self.store.define(name)

    # ------------------------------------------------------------------ emit / queue
    def _emit(self, batch: SampleBatch) -> None:
        """Called by sources in the loop thread; never blocks."""
        if not len(batch):
            return
        self._queue.push(label_enums(batch, self._labels))  # states = {0: "off", ...}: texts
        if self._wake is not None and (
            self._queue.points >= self.config.collector.batch_size or self._queue.batches == 1
        ):
            self._wake.set()

    # ------------------------------------------------------------------ store
    def _write_store(self, table: pa.Table) -> None:
        try:
            self.store.write_table(table)
        except TagNotFoundError:
            for name in set(table.column("tag").to_pylist()):
                self._define_default(name)
            self.store.write_table(table)

    # ------------------------------------------------------------------ sources
    async def _run_source(self, src: Any, stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            try:
                await src.run(self._emit, stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("collector: source %r crashed (%s); restarting in %.0f s",
                                 src.name, exc, delay)  # fmt: skip
                tags = list(getattr(src, "tags", ()))
                if tags:
                    n, now = len(tags), time.time_ns()
                    self._emit(
                        SampleBatch.from_points(
                            tags, now, [None] * n, q.BAD_NO_COMMUNICATION, source=src.name
                        )
                    )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, 60.0)

    async def _health_loop(self) -> None:
        assert self._stop is not None
        every = self.config.collector.health_every_s
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every)
            if not self._stop.is_set():
                self.log_health()

    def log_health(self) -> None:
        """Log one INFO line per source and one for the pipeline."""
        h = self.health()
        for name, s in h.sources.items():
            last = (
                "never"
                if s.last_good_ns is None
                else str(np.datetime64(s.last_good_ns, "ns").astype("datetime64[ms]"))
            )
            logger.info("source %s: connected=%s points/s=%.1f points=%d errors=%d reconnects=%d "
                        "last_good=%s backlog=%d latency p50/p95=%s/%s s%s", name, s.connected,
                        s.points_per_s, s.points, s.errors, s.reconnects, last,
                        getattr(s, "backlog", 0), _fmt(getattr(s, "latency_p50_s", None)),
                        _fmt(getattr(s, "latency_p95_s", None)),
                        f" last_error={s.last_error!r}" if s.last_error else "")  # fmt: skip
        logger.info("collector: queue=%d/%d written=%d spool=%d points (%d bytes) dropped=%d "
                    "store_ok=%s latency p50/p95=%s/%s s", h.queue_points, h.queue_capacity,
                    h.written_points, h.spool_points, h.spool_bytes, h.dropped_points, h.store_ok,
                    _fmt(h.latency_p50_s), _fmt(h.latency_p95_s))  # fmt: skip

    def health(self) -> CollectorHealth:
        """Health of the collector and of each source (cheap; callable from any thread)."""
        h = self._stats
        lat = self._latency.percentiles()
        sp = self._spool
        sources = {}
        for s in self.sources:
            sh = s.health()
            src_lat = self._latency.percentiles(s.name)
            if src_lat is not None and isinstance(sh, SourceHealth):
                sh = dataclasses.replace(sh, latency_p50_s=src_lat[0], latency_p95_s=src_lat[1])
            sources[s.name] = sh
        return CollectorHealth(
            running=self._running,
            sources=sources,
            queue_points=self._queue.points, queue_capacity=self._queue.capacity,
            dropped_points=self._queue.dropped, written_points=h.written_points,
            spooled_points=h.spooled_points,
            spool_points=sp.points if sp else 0, spool_bytes=sp.nbytes if sp else 0,
            store_ok=h.store_ok, store_errors=h.store_errors, last_store_error=h.last_store_error,
            latency_p50_s=lat[0] if lat is not None else None,
            latency_p95_s=lat[1] if lat is not None else None,
        )  # fmt: skip

    # ------------------------------------------------------------------ run
    async def arun(self, seconds: float | None = None) -> None:
        """Collect until :meth:`stop` (or ``seconds``), then drain and return (asyncio)."""
        if self._running:
            raise RuntimeError("this collector is already running")
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._final = asyncio.Event()  # sources stopped: drain the queue and return
        self._running = True
        self._ready.clear()
        opened = self.store is None
        try:
            await asyncio.to_thread(self._open_store)
            st = self.config.collector
            self._spool = Spool(self.config.spool_path, max_bytes=st.spool_max_bytes,
                                segment_bytes=st.spool_segment_bytes)  # fmt: skip
            logger.info("collector: %d source(s) -> %s", len(self.sources), self.config.store.path)
            src_stop = asyncio.Event()
            src_tasks = [asyncio.create_task(self._run_source(s, src_stop), name=f"source:{s.name}")
                         for s in self.sources]  # fmt: skip
            writer = StoreWriter(st, self._queue, self._spool, self._write_store,
                                 latency=self._latency, stats=self._stats, stop=self._stop,
                                 wake=self._wake, final=self._final, log=logger)  # fmt: skip
            pump = asyncio.create_task(writer.run(), name="collector:pump")
            health = asyncio.create_task(self._health_loop(), name="collector:health")
            self._ready.set()  # ``seconds`` counts collection time, not start-up
            try:
                waiters = [asyncio.ensure_future(self._stop.wait()), pump]
                await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
                waiters[0].cancel()
                if pump.done() and pump.exception() is not None:
                    raise pump.exception()  # type: ignore[misc]
            finally:
                await asyncio.shield(self._shutdown(src_stop, src_tasks, pump, health))
        finally:
            self._running = False
            self._stop = None
            if opened and self.store is not None:
                store, self.store = self.store, None
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(store.close)

    async def _shutdown(self, src_stop: asyncio.Event, src_tasks: list[asyncio.Task[None]],
                        pump: asyncio.Task[None], health: asyncio.Task[None]) -> None:  # fmt: skip
        assert self._stop is not None
        src_stop.set()
        if src_tasks:
            _, pending = await asyncio.wait(src_tasks, timeout=10)
            for t in pending:
                t.cancel()
            await asyncio.gather(*src_tasks, return_exceptions=True)
        self._stop.set()
        queue = self._queue
        if queue.compressors:  # push what is queued through, then release the held points
            leftover = [b for b in (queue.take(10**12), queue.flush_compressors()) if b is not None]
            queue.compressors = {}
            for b in leftover:
                queue.requeue(b)
        self._final.set()
        if self._wake is not None:
            self._wake.set()
        if not pump.done():
            await asyncio.wait([pump], timeout=max(30.0, self.config.collector.write_timeout_s * 3))
        if not pump.done():
            pump.cancel()
            logger.error("collector: store writes did not finish in time at shutdown")
        await asyncio.gather(pump, health, return_exceptions=True)
        with contextlib.suppress(Exception):
            if self.store is not None and hasattr(self.store, "flush"):
                await asyncio.to_thread(self.store.flush)
        self.log_health()
        logger.info("collector: stopped")

    def run(self, seconds: float | None = None) -> None:
        """Collect (blocking) until ``seconds`` pass or Ctrl-C; stops cleanly either way.

        Ctrl-C asks the collector to stop and waits until the queue is in the store (or the
        spool); a second Ctrl-C abandons the wait.
        """
        from historian._sync import submit

        if self._future is not None and not self._future.done():
            raise RuntimeError("this collector is already running")
        self._future = future = submit(self.arun(seconds))
        try:
            future.result()
        except KeyboardInterrupt:
            logger.info("collector: interrupted; stopping")
            if self._stop is None:
                future.cancel()
                return
            self.request_stop()
            future.result()

    def start(self) -> None:
        """Start collecting in the background (services); see :meth:`stop`."""
        from historian._sync import submit

        if self._future is not None and not self._future.done():
            raise RuntimeError("this collector is already running")
        self._ready.clear()
        self._future = fut = submit(self.arun())
        while not self.wait_ready(0.05) and not fut.done():
            pass

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the store is open, every tag defined and the sources started (a
        collector started with :meth:`start` is ready when it returns); True if ready."""
        return self._ready.wait(timeout)

    def request_stop(self) -> None:
        """Ask the collector to stop (from any thread or the loop itself); does not wait."""
        loop, ev = self._loop, self._stop
        if loop is None or ev is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            ev.set()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(ev.set)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the collector to stop, and wait (from any thread) until it has drained."""
        self.request_stop()
        fut = self._future
        if fut is not None:
            fut.result(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a collector started with :meth:`start` has stopped (by itself, or via
        :meth:`stop` from another thread); True if it has. Re-raises its error, if any."""
        fut = self._future
        if fut is None:
            return True
        try:
            fut.result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        return True

    def __enter__(self) -> Collector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"
