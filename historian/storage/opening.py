"""Opening a store: the commit log, becoming the writer, and recovery from the WAL.

A store opens as a reader; the first write (or ``mode="w"``) takes the writer lock (or lease, on
object storage), recovers the points of WAL segments that no commit covers, and refuses a store
whose commit log is gone while data files remain, or a read-only replica. The functions take the
:class:`~historian.storage.store.Store` they open; its methods call them in one line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import threading
from typing import TYPE_CHECKING

from historian.errors import CorruptDataError, ReadOnlyStoreError, StoreError
from historian.storage.errmap import storage_errors
from historian.storage.lease import WriterLease
from historian.storage.memtable import MemTable
from historian.storage.table import CommitLog
from historian.storage.wal import WalWriter, list_segments, read_segment, segment_name

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

log = logging.getLogger(__name__)


def data_files_without_log(store: Store) -> list[str]:
    """Data files in ``points/`` when ``points/_delta_log`` has no commit (a lost log)."""
    if any(_is_log_entry(p.rsplit("/", 1)[-1]) for p in store._fs.list("points/_delta_log")):
        return []
    return [store._fs.uri_of(p) for p in store._fs.list("points", recursive=True)
            if p.endswith(".parquet") and not p.startswith("points/_delta_log/")]  # fmt: skip


def refuse_lost_log(store: Store) -> None:
    """Fail safe: never create (or read as empty) a table over existing data files."""
    files = data_files_without_log(store)
    if files:
        raise CorruptDataError(
            f"the commit log {store.settings.table_dir}/_delta_log is missing or holds no commit, "
            "but "
            f"{len(files)} data file(s) exist under {store.settings.table_dir} (e.g. "
            f"{os.path.basename(files[0])}): the log was lost or deleted. The store refuses "
            "to open rather than start an empty table over them; run `historian repair "
            f"{store.path}` to rebuild the log from the files' own metadata"
        )


def commit_log(store: Store, create: bool) -> CommitLog:
    store._refuse_lost_log()
    if not store._remote:  # one writer per folder (a file lock), one WAL: the default app id
        return CommitLog(
            store.settings.table_dir,
            create=create,
            fs=store._fs,
            signer=store._signer,
            fsync=store.settings.fsync,
            pins=store._pins,
        )
    fence = store._lock.check if isinstance(store._lock, WriterLease) else None
    # Several hosts may write the store in turn, each with its own local WAL: each WAL
    # records what of it is in files under its own id.
    where = f"{socket.gethostname()}:{store.settings.wal_dir}"
    wal_id = hashlib.sha256(where.encode()).hexdigest()[:16]
    return CommitLog(
        store.settings.table_dir,
        create=create,
        fs=store._fs,
        fence=fence,
        wal_app_id=f"historian-wal-{wal_id}",
        signer=store._signer,
        pins=store._pins,
    )


def become_writer(store: Store) -> None:
    store._check_open()
    if store._lock.held:
        return
    if isinstance(store._lock, WriterLease) and store._lock.lost:
        raise store._lease_lost_error()
    if store.mode == "r":
        raise ReadOnlyStoreError(
            f"the store {store.path!r} was opened read-only (mode='r'); "
            "open it with mode='auto' or 'w' to write"
        )
    refuse_replica(store)
    store._lock.acquire()
    try:
        with storage_errors(
            f"opening {store.path} for writing", "nothing was changed; fix the cause and retry"
        ):
            if store._remote:
                # The lease makes this the only process that changes the catalog: one
                # explicit check now, then write() never asks object storage again.
                store._catalog.reload(force=True)
                store._catalog.writer = True
            store._fs.abort_stale_uploads()  # left by a crashed writer (a no-op locally)
            store._log = store._commit_log(create=True)
            # leftovers of a crashed writer
            shutil.rmtree(store.settings.tmp_dir, ignore_errors=True)
            recover(store)
    except BaseException:
        if store._wal is not None:  # the WAL stays as it is on disk: replayed next time
            store._wal.abandon()
            store._wal = None
        store._active = MemTable()
        store._lock.release()
        raise
    store._flusher = threading.Thread(
        target=store._flush_loop, name="historian-flusher", daemon=True
    )
    store._flusher.start()


def refuse_replica(store: Store) -> None:
    """A copy made by ``historian replicate`` (``_historian/replica.json``) is read-only."""
    marker = "_historian/replica.json"
    if store._fs.exists(marker):
        raise ReadOnlyStoreError(
            f"the store {store.path!r} is a replica (it has {marker}): it is written only by "
            "`historian replicate`/`historian receive`; write to the source store instead"
        )


def recover(store: Store) -> None:
    """Replay WAL segments the last commit does not cover; remove the covered ones."""
    assert store._log is not None
    snap = store._log.snapshot()
    segments = list_segments(store.settings.wal_dir)
    replayed = 0
    # Ingest stamps never go backwards relative to anything stored (a clock set back
    # across a restart must not let older values shadow newer ones).
    store._last_ingest_us = max(store._last_ingest_us, store._log.max_ingested_us())
    for seg in segments:
        path = os.path.join(store.settings.wal_dir, segment_name(seg))
        if seg <= snap.wal_upto:
            try:
                os.unlink(path)
            except OSError as exc:  # in files already; removed at a later open
                log.warning("cannot delete flushed WAL segment %s (%s)", path, exc)
            continue
        for points in read_segment(path):
            store._active.add(points)
            if len(points):
                store._last_ingest_us = max(store._last_ingest_us, int(points.ingested.max()))
            replayed += len(points)
    next_id = max([snap.wal_upto, *segments]) + 1
    store._wal = WalWriter(store.settings.wal_dir, next_id, fsync=store.settings.fsync)
    if replayed:
        log.info(
            "recovered %d acknowledged points from the write-ahead log of %s",
            replayed,
            store.path,
        )
        try:
            store.flush()
        except (StoreError, MemoryError):  # kept in memory and in the WAL: flushed later
            log.exception("flushing the recovered points of %s failed; will retry", store.path)


def _is_log_entry(name: str) -> bool:
    """A Delta commit (``<20 digits>.json``) or checkpoint file name."""
    head = name.split(".", 1)[0]
    return len(head) == 20 and head.isdigit() and (name.endswith(".json") or "checkpoint" in name)


def close(store: Store) -> None:
    """:meth:`Store.close`: stop the flusher, flush, close the WAL (an empty last segment goes),
    release the writer lock; the WAL is closed even when the flush failed."""
    if store._closed:
        return
    flushed = False
    try:
        store._stop.set()
        store._background.wake.set()  # the flusher sees the stop now, not at its next 0.5 s tick
        if store._flusher is not None:
            store._flusher.join(timeout=30)
        if store._lock.held:
            store.flush()
            flushed = True
        elif isinstance(store._lock, WriterLease) and store._lock.lost:
            raise store._lease_lost_error()
    finally:
        # The log file is closed even when the flush failed or the writer lost its lease:
        # what it holds is replayed by the next writer.
        try:
            if store._wal is not None:
                current = store._wal.segment_id
                store._wal.close()
                empty = os.path.join(store.settings.wal_dir, segment_name(current))
                nothing_left = store._frozen is None and len(store._active) == 0
                if flushed and nothing_left and os.path.exists(empty):
                    try:
                        os.unlink(empty)
                    except OSError as exc:  # an empty segment: harmless, replayed as empty
                        log.warning("cannot delete the empty WAL segment %s (%s)", empty, exc)
        finally:
            store._closed = True
            store._lock.release()
            store._pins.close()  # this process's pin file, unless another handle's read runs
