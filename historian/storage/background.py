"""Maintenance off the caller's path: the writer's background thread flushes and compacts.

With ``background=True`` (the default) ``write()`` only appends to the write-ahead log and the
memory table: when the memory table reaches ``flush_points`` (or is ``flush_seconds`` old) the
store's own thread ("historian-flusher") flushes it, then compacts the days it wrote. A failure
there is logged, retried with backoff (0.5 s doubling to 30 s), shown by ``h.info()["background"]``
and raised once, as :class:`~historian.errors.BackgroundFlushError`, by the next explicit
``flush()`` or ``close()``; the points stay in the WAL (and in memory) until a commit covers them.
Only when the memory table reaches :data:`BACKPRESSURE` × ``flush_points`` (the background cannot
keep up) does ``write()`` flush itself. With ``background=False`` a write that fills the memory
table flushes on the caller's thread, as deterministic tests want.

Examples
--------
>>> import historian, tempfile
>>> with historian.open(tempfile.mkdtemp(), flush_points=100) as h:
...     _ = h.define("A")
...     _ = h.write("A", range(150), [1.0] * 150)  # returns at once; the flusher commits
...     h.info()["background"]["state"]
'ok'
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from historian.errors import BackgroundFlushError, LeaseLostError, StoreClosedError

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

log = logging.getLogger(__name__)

#: write() flushes on the caller's thread once the memory table holds this many times
#: ``flush_points`` (the background flusher is failing or cannot keep up): memory stays bounded.
BACKPRESSURE = 4
MAX_BACKOFF_S = 30.0


@dataclass
class Background:
    """The state of one writer's background maintenance (owned by its store)."""

    wake: threading.Event = field(default_factory=threading.Event)
    failing: str | None = None  # the current failure, None once a later run succeeded
    failures: int = 0  # failed runs since the last success
    unreported: BaseException | None = None  # raised by the next explicit flush()/close()
    flush_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    compact_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def failed(self, exc: BaseException) -> None:
        self.failing = f"{type(exc).__name__}: {exc}"
        self.failures += 1
        self.unreported = exc

    def succeeded(self) -> None:
        if self.failing is not None:
            log.warning("background flush recovered after %d failure(s)", self.failures)
        self.failing, self.failures = None, 0

    def take_unreported(self) -> BaseException | None:
        exc, self.unreported = self.unreported, None
        return exc

    def state(self) -> dict[str, Any]:
        """What ``info()["background"]`` shows: state, failures, error, flush/compaction p99."""

        def p99(values: deque[float]) -> float | None:
            return float(np.percentile(list(values), 99)) if values else None

        return {
            "state": "ok" if self.failing is None else "retrying",
            "failures": self.failures,
            "error": self.failing,
            "flush_ms_p99": p99(self.flush_ms),
            "compact_ms_p99": p99(self.compact_ms),
        }


def request_flush(store: Store) -> None:
    """Ask the background thread to flush now (the memory table is full)."""
    store._background.wake.set()


def raise_unreported(store: Store) -> None:
    """Raise the background failure no explicit flush has reported yet, once."""
    exc = store._background.take_unreported()
    if exc is not None:
        raise BackgroundFlushError(
            f"a background flush of {store.path} failed ({type(exc).__name__}: {exc}); it was "
            "retried with backoff and no acknowledged point was lost (the write-ahead log "
            "keeps them until a commit covers them); h.info()['background'] shows whether it "
            "still fails"
        ) from exc


def _due(store: Store, now: float) -> bool:
    size = len(store._active)
    if store._replay_needed:
        return True
    if not size:
        return False
    age_ns = (now - store._active_since) * 1e9
    return (
        size >= store.settings.flush_points
        or age_ns >= store.settings.flush_ns
        or store._outage_since is not None
        or store._background.failing is not None
    )


def run(store: Store) -> None:
    """The background thread's loop: flush (and compact) when due, back off on failures."""
    bg = store._background
    backoff, next_try = 0.0, 0.0
    while not store._stop.is_set():
        bg.wake.wait(0.5)
        bg.wake.clear()
        now = _time.monotonic()
        if store._stop.is_set():
            return
        if now < next_try or not _due(store, now):
            continue
        try:
            store._flush_with_retry(0.0)
        except StoreClosedError:
            return
        except LeaseLostError as exc:
            bg.failed(exc)
            if not store._transient(exc):
                log.error("background flush of %s stopped: %s", store.path, exc)
                return
            backoff = min(max(0.5, backoff * 2), MAX_BACKOFF_S)  # logged by _note_outage
            next_try = _time.monotonic() + backoff
        except Exception as exc:  # keep the writer alive; the next flush()/close() raises it
            bg.failed(exc)
            backoff = min(max(0.5, backoff * 2), MAX_BACKOFF_S)
            next_try = _time.monotonic() + backoff
            if not store._transient(exc):  # transient ones are logged once by _note_outage
                log.error(
                    "background flush of %s failed (%s); retrying in %.1f s, the points "
                    "stay in the write-ahead log",
                    store.path, exc, backoff,
                )  # fmt: skip
        else:
            bg.succeeded()
            backoff = 0.0
