"""Flushing a store: memory table -> files cut by size -> one commit, retried on outages.

A flush writes the frozen memory table to files and commits them with the WAL position they
cover, then deletes the covered WAL segments. A transient failure (an object store outage, a
full disk) is retried with backoff, logged once and cleared when a flush succeeds again; the
background thread (:mod:`historian.storage.background`) decides when to flush. Nothing
acknowledged is lost on the way: the WAL keeps every point until a commit covers it. The
functions take the :class:`~historian.storage.store.Store` they flush; its methods call them
in one line.
"""

from __future__ import annotations

import itertools
import logging
import os
import time as _time
from typing import TYPE_CHECKING

import numpy as np

from historian.errors import (
    CorruptDataError,
    LeaseLostError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
)
from historian.storage.errmap import storage_errors
from historian.storage.files import NS_PER_DAY, WrittenFile
from historian.storage.lease import WriterLease
from historian.storage.memtable import MemTable
from historian.storage.points import Points
from historian.storage.wal import list_segments, read_segment, segment_name

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

log = logging.getLogger(__name__)


def write_files(store: Store, points: Points) -> list[WrittenFile]:
    """Write sorted points as files (time windows cut by size, then tag ranges), two at a time."""
    parts = _split_parts(points, store.settings.part_rows)
    if len(parts) == 1:
        return [store._write_file(parts[0])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=store.settings.write_threads) as pool:
        return list(
            pool.map(
                store._write_file,
                parts,
            )
        )


def write_files_now(store: Store, points: Points) -> None:
    """Bulk path: sorted files cut by size, one commit; durable when it returns."""
    points = points.sorted()
    with (
        store._flush_lock,
        storage_errors(
            f"writing files of {store.path}", "nothing of this write was acknowledged; retry it"
        ),
    ):
        written = write_files(store, points)
        assert store._log is not None
        store._log.commit(written, operation="bulk-write")
    store._maybe_compact(sorted({f.day for f in written}))


def transient(store: Store, exc: BaseException) -> bool:
    """True for a failure a later try may not meet: object storage did not answer."""
    if not store._remote or not isinstance(exc, StoreError):
        return False
    if isinstance(exc, (CorruptDataError, StoreClosedError, ReadOnlyStoreError)):
        return False
    if isinstance(exc, LeaseLostError):  # unconfirmed (storage did not answer), or lost
        cause = exc.__cause__
        unconfirmed = isinstance(cause, StoreError) and not isinstance(cause, LeaseLostError)
        return unconfirmed and isinstance(store._lock, WriterLease) and store._lock.lost is None
    return True


def lease_lost_error(store: Store) -> LeaseLostError:
    assert isinstance(store._lock, WriterLease)
    pending = len(store._active) + (0 if store._frozen is None else len(store._frozen))
    return LeaseLostError(
        f"{store._lock.lost}. {pending} acknowledged point(s) were not committed by this "
        f"writer; they stay in its local write-ahead log {store.settings.wal_dir}: the next writer "
        f"that opens {store.path!r} on this machine with the same local_dir replays and "
        "commits them (historian.open(uri, local_dir=...), once the other writer closed)"
    )


def note_outage(store: Store, exc: BaseException) -> None:
    if store._outage_since is None:
        store._outage_since = _time.monotonic()
        store._outage_error = str(exc)
        pending = len(store._active) + (0 if store._frozen is None else len(store._frozen))
        log.warning(
            "object storage of %s does not answer (%s): %d point(s) wait in memory and in "
            "the local write-ahead log %s; writes go on, flushes retry with backoff",
            store.path,
            exc,
            pending,
            store.settings.wal_dir,
        )


def note_recovered(store: Store) -> None:
    if store._outage_since is not None:
        log.warning(
            "object storage of %s answers again after %.1f s; the backlog is committed",
            store.path,
            _time.monotonic() - store._outage_since,
        )
        store._outage_since = None


def flush_with_retry(store: Store, retry_s: float) -> None:
    deadline = _time.monotonic() + retry_s
    delay = 0.25
    while True:
        try:
            store._flush_once()
        except StoreError as exc:
            if isinstance(exc, LeaseLostError) and not store._transient(exc):
                assert isinstance(store._lock, WriterLease)
                store._lock.mark_lost(str(exc))  # e.g. a commit of a newer epoch was found
                raise store._lease_lost_error() from exc
            if not store._transient(exc):
                raise
            store._note_outage(exc)
            if _time.monotonic() + delay > deadline:
                raise
            _time.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        note_recovered(store)
        return


def flush_once(store: Store) -> None:
    store._check_open()
    if not store._lock.held:
        if isinstance(store._lock, WriterLease) and store._lock.lost:
            raise store._lease_lost_error()
        return
    assert store._wal is not None and store._log is not None
    with store._flush_lock:
        began = _time.perf_counter()
        with store._ingest_lock:
            if store._replay_needed:
                reload_from_wal(store)
            if len(store._active) == 0:
                return
            # Every point in the memory table is in WAL segments <= closed_segment.
            closed_segment = store._wal.rotate()
            frozen, store._frozen = store._active, store._active
            store._active = MemTable()
            store._active_since = _time.monotonic()
        days: list[str] = []
        try:
            with storage_errors(f"flushing {store.path}"):
                points = frozen.to_points()
                written = write_files(store, points)
                store._log.commit(written, wal_upto=closed_segment, operation="flush")
            days = sorted({f.day for f in written})
        except BaseException:
            # Nothing is deleted: the WAL segments still hold the points, and they go back
            # into the memory table (readable, flushed by the next flush).
            with store._ingest_lock:
                try:
                    store._active.absorb(frozen)
                except BaseException:  # e.g. MemoryError: the next flush reads the WAL
                    store._replay_needed = True
                    log.exception("keeping unflushed points failed; reloading them from WAL")
                store._frozen = None
            raise
        store._frozen = None
        drop_segments(store, closed_segment)
        log.debug("flushed %d points into %d file(s)", len(points), len(written))
        store._background.flush_ms.append((_time.perf_counter() - began) * 1e3)
    began = _time.perf_counter()
    store._maybe_compact(days)
    if days:
        store._background.compact_ms.append((_time.perf_counter() - began) * 1e3)


def drop_segments(store: Store, upto: int) -> None:
    """Delete WAL segments <= ``upto`` (committed); a failure only leaves them for later."""
    for seg in list_segments(store.settings.wal_dir):
        if seg <= upto and seg != wal_current(store):
            try:
                os.unlink(os.path.join(store.settings.wal_dir, segment_name(seg)))
            except FileNotFoundError:
                pass
            except OSError as exc:  # covered by the commit: removed at the next open
                log.warning("cannot delete flushed WAL segment %d (%s); kept for now", seg, exc)


def wal_current(store: Store) -> int | None:
    return None if store._wal is None or not store._wal.is_open else store._wal.segment_id


def reload_from_wal(store: Store) -> None:
    """Rebuild the memory table from the WAL segments the last commit does not cover.

    Used after a failed flush could not put its points back in memory: every point of the
    memory table was appended to the WAL before it was added, so the WAL is the full truth.
    """
    assert store._log is not None
    snap = store._log.snapshot()
    mem = MemTable()
    for seg in list_segments(store.settings.wal_dir):
        if seg > snap.wal_upto:
            path = os.path.join(store.settings.wal_dir, segment_name(seg))
            for points in read_segment(path, live=True):
                mem.add(points)
    store._active = mem
    store._replay_needed = False
    log.info("reloaded %d unflushed points of %s from the write-ahead log", len(mem), store.path)


def _split_parts(points: Points, part_rows: int) -> list[Points]:
    """Sorted points cut by size: consecutive UTC days grouped into time windows of about
    ``part_rows`` rows (adaptive to density: a weekly series is one file, not one per point),
    then at tag boundaries into parts of about ``part_rows``."""
    if len(points) == 0:
        return []
    if len(points) <= part_rows:
        return [points]
    day = points.time // NS_PER_DAY
    window = _day_windows(day, part_rows)
    if window[0] == window.max() and window.min() == window[0]:
        days = [points]
    else:
        # Sorted by (tag, time): each (tag, window) is a contiguous segment, so a window is a
        # concatenation of slices (memcpy) rather than a gather.
        cut = np.flatnonzero((np.diff(points.codes) != 0) | (np.diff(window) != 0)) + 1
        seg_start = np.concatenate([[0], cut])
        seg_end = np.concatenate([cut, [len(points)]])
        seg_win = window[seg_start]
        order = np.argsort(seg_win, kind="stable")
        bounds = np.flatnonzero(np.diff(seg_win[order])) + 1
        days = [points.concat_runs(seg_start[sel], seg_end[sel]) for sel in np.split(order, bounds)]
    parts = []
    for p in days:
        n = len(p)
        if n <= part_rows:
            parts.append(p)
            continue
        # Balanced parts (each at least part_rows / 2), cut at tag boundaries.
        k = -(-n // part_rows)
        tag_starts = np.flatnonzero(np.diff(p.codes)) + 1
        at = np.searchsorted(tag_starts, (np.arange(1, k) * n) // k)
        cuts = np.unique(tag_starts[at[at < tag_starts.size]])
        edges = [0, *cuts.tolist(), n]
        parts.extend(p.take(slice(a, b)) for a, b in itertools.pairwise(edges) if b > a)
    return parts


def _day_windows(day: np.ndarray, part_rows: int) -> np.ndarray:
    """Per point, the number of its time window: consecutive days whose rows add up to at
    most ``part_rows`` (a day holding more is a window of its own)."""
    lo = int(day.min())
    if int(day.max()) - lo < 4_000_000:  # ~11,000 years: count without sorting
        counts = np.bincount(day - lo)
        days = np.flatnonzero(counts) + lo
        counts = counts[counts > 0]
    else:
        days, counts = np.unique(day, return_counts=True)
    first_day = np.zeros(days.size, dtype=bool)
    acc = 0
    for k, c in enumerate(counts.tolist()):
        if k == 0 or acc + c > part_rows:
            first_day[k] = True
            acc = 0
        acc += c
    win_of_day = np.cumsum(first_day) - 1
    return win_of_day[np.searchsorted(days, day)]
