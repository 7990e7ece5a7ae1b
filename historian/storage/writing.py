"""The write path of a store: validate -> (qualify) -> WAL append -> memory table -> return.

Each write call gets a unique ingest stamp (so the last write of a (tag, time) wins); large
writes skip the WAL and go straight to files, durable when the commit returns. The functions
take the :class:`~historian.storage.store.Store` they write to; its methods call them in one line.
"""

from __future__ import annotations

import threading
import time as _time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from historian.errors import InvalidDataError, InvalidTimeError, StoreError, TagNotFoundError
from historian.model.tags import validate_tag_name
from historian.model.text import no_text, text_array
from historian.model.times import MIN_NS, user_ns_array
from historian.storage import ingest
from historian.storage.background import BACKPRESSURE, request_flush
from historian.storage.points import Points

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

_STAMPS = threading.local()  # per thread: the ingest stamp of its last write call


def last_ingest_stamp() -> int | None:
    """The ingest stamp (µs) of this thread's last write call to any store, or None."""
    return getattr(_STAMPS, "last_us", None)


def next_ingest_us(store: Store) -> int:
    us = max(_time.time_ns() // 1000, store._last_ingest_us + 1)
    store._last_ingest_us = us
    _STAMPS.last_us = us  # this thread's last write call (import_history's take-back)
    return us


def write(store: Store, tag: str, times: Any, values: Any, quality: Any = None) -> int:
    """:meth:`Store.write` (its docstring has the contract)."""
    store._check_open()
    if isinstance(tag, str):
        validate_tag_name(tag)
    else:
        raise InvalidDataError(
            f"tag must be a str, not {type(tag).__name__}; use write_table for many tags"
        )
    is_text = store._catalog.get(tag).is_text
    t = user_ns_array(times)
    text = text_array(values, t.size) if is_text else None
    v = np.full(t.size, np.nan) if is_text else ingest.values_array(values, t.size)
    qual = ingest.quality_array(quality, t.size)
    keep = ingest.last_per_time(t)
    if keep is not None:
        t, v, qual = t[keep], v[keep], qual[keep]
        text = None if text is None else text[keep]
    n = t.size
    zeros = np.zeros(n, dtype=np.uint32)
    return store._ingest(Points.of_tag(tag, t, v, qual, zeros, np.zeros(n, np.int64), text))


def write_table(store: Store, table: Any) -> int:
    """:meth:`Store.write_table` (its docstring has the contract)."""
    store._check_open()
    names, codes, t, v, qual, text = ingest.table_columns(table)
    names, codes = used_names(names, codes)
    unknown = []
    for name in names.tolist():
        validate_tag_name(name)
        if name not in store._catalog:
            unknown.append(name)
    if unknown:
        raise TagNotFoundError(
            f"{len(unknown)} unknown tag(s) in the table, e.g. {unknown[:5]}: define them "
            "first with h.define(name, ...); nothing was written"
        )
    n = t.size
    points = Points(names, codes, t, v, qual, np.zeros(n, np.uint32), np.zeros(n, np.int64), text)
    # Within one call, the last row of a repeated (tag, time) wins (the sort is stable).
    if n > 1 and not points.is_sorted():
        points = points.sorted()
        ts, cs = points.time, points.codes
        keep = np.ones(n, dtype=bool)
        keep[:-1] = (ts[1:] != ts[:-1]) | (cs[1:] != cs[:-1])
        if not keep.all():
            points = points.take(keep)
    return store._ingest(points)


def used_names(names: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (sorted) ``names`` some row's code points to, and the codes renumbered: a slice of
    a dictionary-encoded table keeps the whole dictionary, and tags no row uses are neither
    validated nor looked up."""
    if names.size == 0:
        return names, codes
    used = np.bincount(codes, minlength=names.size) > 0
    if bool(used.all()):
        return names, codes
    renumber = (np.cumsum(used) - 1).astype(np.int32)
    return names[used], renumber[codes]


def ingest_points(store: Store, points: Points, *, qualified: bool = False) -> int:
    """Qualify, then log and buffer (or, for bulk writes, write files) the validated points."""
    n = len(points)
    if n == 0:
        return 0
    if int(points.time.min()) < MIN_NS:
        raise InvalidTimeError(
            f"time {-(2**63)} ns is the int64 'not a time' value (NaT); the smallest time a "
            f"store holds is {MIN_NS} ns (1677-09-21T00:12:43.145224193Z); nothing was written"
        )
    store._become_writer()
    if qualified:
        qual, reasons = points.quality, points.reasons
    else:
        qual = mark_nonfinite(points)
        qual, reasons = qualify(store, points, qual)
    if n >= store.settings.bulk_points and store._outage_since is None:
        ing = np.full(n, next_ingest_us(store), dtype=np.int64)
        try:
            store._write_files_now(replace(points, quality=qual, reasons=reasons, ingested=ing))
            return n
        except StoreError as exc:  # s3:// unreachable: through the WAL like a small write
            if not store._transient(exc):
                raise
            store._note_outage(exc)
    assert store._wal is not None
    with store._ingest_lock:
        ing = np.full(n, next_ingest_us(store), dtype=np.int64)
        points = replace(points, quality=qual, reasons=reasons, ingested=ing)
        ticket = store._wal.write(points)
        store._active.add(points)
        size = len(store._active)
    store._wal.sync(ticket)
    s = store.settings
    if size >= s.flush_points:
        # background: the store's thread flushes (and compacts), write() returns now; only
        # when it cannot keep up (BACKPRESSURE x flush_points) does write() flush itself.
        # s3://: write() never waits for object storage. During an outage the points wait
        # in memory and in the WAL (no bound: see docs/scale-out.md) until storage answers.
        if store._remote or (s.background and size < BACKPRESSURE * s.flush_points):
            request_flush(store)
        else:
            store._flush_with_retry(store.flush_retry_s)
    return n


def mark_nonfinite(points: Points) -> np.ndarray:
    """:func:`ingest.mark_nonfinite` on the points without a text (a text point has no number)."""
    if points.text is None:
        return ingest.mark_nonfinite(points.value, points.quality)
    numeric = no_text(points.text)
    qual = points.quality.copy()
    qual[numeric] = ingest.mark_nonfinite(points.value[numeric], points.quality[numeric])
    return qual


def qualify(store: Store, points: Points, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from historian.storage.qualifying import qualify_points

    return qualify_points(store._catalog, store._qualifiers, points, quality)
