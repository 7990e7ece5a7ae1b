"""Test hooks into a store's engine: what a fault-injection test needs and users never do.

A test of the storage engine sometimes has to act as a killed process, count the tries of a
flush, or look at the commit log under a ``Historian``. These functions are the one place that
knows where those parts live (a :class:`~historian.api.Historian` holds a
:class:`~historian.storage.store.Store`), so tests never reach into private attributes and the
engine can be rearranged without rewriting them. Each takes a ``Historian`` or a ``Store``.

Examples
--------
>>> import historian, tempfile
>>> from historian import testing
>>> path = tempfile.mkdtemp()
>>> h = historian.open(path)
>>> _ = h.define("A"); _ = h.write("A", [0], [1.0])   # acknowledged, in the WAL only
>>> testing.crash(h)                                   # as kill -9: no flush
>>> with historian.open(path) as again:              # the next writer replays the WAL
...     again.read("A").num_rows
1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from historian.storage.catalog import Catalog
    from historian.storage.fs import StoreFS
    from historian.storage.lease import WriterLease
    from historian.storage.lock import WriterLock
    from historian.storage.store import Store
    from historian.storage.table import CommitLog

__all__ = [
    "become_writer",
    "catalog",
    "catalog_due",
    "commit_log",
    "count_flush_tries",
    "crash",
    "engine",
    "is_closed",
    "memory_points",
    "pause_lease",
    "store_fs",
    "wal_segment_id",
    "writer_lock",
]


def engine(h: Any) -> Store:
    """The :class:`~historian.storage.store.Store` behind ``h`` (``h`` itself if it is one)."""
    from historian.storage.store import Store

    return h if isinstance(h, Store) else h._store


def crash(h: Any) -> None:
    """Leave ``h`` as a killed process would: no flush, no end-of-stream marker in the WAL, the
    writer lock freed. The WAL's file descriptor is closed (as the kernel does for a dead
    process), so no test leaks an open file; the next writer replays what the WAL holds."""
    s = engine(h)
    s._stop.set()
    s._closed = True
    if s._wal is not None:
        s._wal.abandon()
    s._lock.release()


def is_closed(h: Any) -> bool:
    """True once the store was closed (or lost its lease and closed itself)."""
    return engine(h).closed


def wal_segment_id(h: Any) -> int:
    """The number of the write-ahead log segment the writer appends to."""
    wal = engine(h)._wal
    if wal is None:
        raise AssertionError("the store has no write-ahead log open (not the writer yet)")
    return wal.segment_id


def commit_log(h: Any) -> CommitLog:
    """The store's commit log (``snapshot()``, ``read_commit(v)``, ``vacuum(...)``)."""
    log = engine(h)._log
    if log is None:
        raise AssertionError("the store has no commit log yet (nothing was committed)")
    return log


def writer_lock(h: Any) -> WriterLock | WriterLease:
    """The writer lock (a local folder) or lease (``s3://``: ``epoch``, ``renew()``, ``lost``)."""
    return engine(h)._lock


def pause_lease(h: Any) -> None:
    """Stop renewing the writer lease, as a process paused by the OS would (``s3://``)."""
    from historian.storage.lease import WriterLease

    lease = engine(h)._lock
    if not isinstance(lease, WriterLease):
        raise AssertionError("a local store has a writer lock, not a lease to pause")
    lease._stop.set()


def become_writer(h: Any) -> None:
    """Take the writer lock (lease) now, as the first write would."""
    engine(h)._become_writer()


def catalog(h: Any) -> Catalog:
    """The store's tag catalog (``all()``, ``name in catalog``)."""
    return engine(h)._catalog


def catalog_due(h: Any) -> None:
    """Make the catalog's cache due for a look at ``tags.json`` (as after its check interval)."""
    engine(h)._catalog._checked = -1e9


def store_fs(h: Any) -> StoreFS:
    """The store's shared files (:class:`~historian.storage.fs.StoreFS`: the folder or the
    ``s3://`` prefix)."""
    return engine(h)._fs


def memory_points(h: Any) -> int:
    """Points held in the writer's memory tables (not yet committed to files)."""
    s = engine(h)
    return len(s._active) + (0 if s._frozen is None else len(s._frozen))


@contextmanager
def count_flush_tries(h: Any) -> Iterator[list[int]]:
    """Within the block, the list gets one item per attempt of a flush (retries included)."""
    s = engine(h)
    tries: list[int] = []
    one_try = s._flush_once

    def counted() -> None:
        tries.append(1)
        one_try()

    s._flush_once = counted  # type: ignore[method-assign]
    try:
        yield tries
    finally:
        del s._flush_once
