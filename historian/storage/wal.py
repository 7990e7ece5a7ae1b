"""Write-ahead log: Arrow IPC stream segments, a CRC32 per batch, group-committed fsync.

A segment ``wal/<20-digit id>.arrows`` is a plain Arrow IPC *stream* (any Arrow reader opens it);
each record batch carries ``custom_metadata={"crc32": ...}`` computed over its column data, because
IPC itself has no checksum. After kill -9 an IPC stream reads back cleanly up to the last whole
batch; a torn tail is ignored (it was never acknowledged). Reading (:func:`read_segment`, over
:mod:`historian.storage.walread`) goes one batch at a time and skips a damaged batch, keeping the
valid ones after it, and reports the damage.

Durability: :meth:`WalWriter.append` returns only after the bytes are fsynced. Concurrent
appenders share one fsync (group commit): whoever takes the sync lock first syncs everything
written so far, the others find their batch already covered.

Which segments are already in Parquet files is recorded in the table commit (a Delta ``txn``
action, see :mod:`historian.storage.table`), so replay after a crash is exact; replay of a batch
written but not acknowledged is harmless (the caller never got an ack, and duplicates resolve by
last-write-wins).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from historian.errors import CorruptDataError, StoreError
from historian.model import arrow
from historian.storage.fs import fsync_path
from historian.storage.perms import create_file, make_dirs
from historian.storage.points import (  # noqa: F401 (re-exported)
    WAL_SCHEMA,
    WAL_SCHEMA_V1,
    Points,
    encode_tags,
)

log = logging.getLogger(__name__)

SUFFIX = ".arrows"


def _crc(batch: pa.RecordBatch) -> str:
    """CRC32 over the logical content of a WAL batch (independent of buffer layout)."""
    crc = 0
    tags = batch.column(0)
    crc = zlib.crc32("\x00".join(tags.to_pylist()).encode(), crc)
    for i in range(1, min(batch.num_columns, 6)):
        arr = np.ascontiguousarray(arrow.to_numpy(batch.column(i)))
        crc = zlib.crc32(arr.tobytes(), crc)
    if batch.num_columns > 6:  # text (WAL_SCHEMA): all null costs one word, else every text
        text = batch.column(6)
        if text.null_count == len(text):
            crc = zlib.crc32(b"\x00notext", crc)
        else:
            for s in text.to_pylist():
                b = b"\xff" if s is None else len(s).to_bytes(4, "little") + s.encode()
                crc = zlib.crc32(b, crc)
    return str(crc)


def segment_name(segment_id: int) -> str:
    return f"{segment_id:020d}{SUFFIX}"


def list_segments(wal_dir: str) -> list[int]:
    """Segment ids present in ``wal_dir``, ascending (temp files are never named like segments)."""
    try:
        names = os.listdir(wal_dir)
    except FileNotFoundError:
        return []
    ids = []
    for name in names:
        if name.endswith(SUFFIX) and name[: -len(SUFFIX)].isdigit():
            ids.append(int(name[: -len(SUFFIX)]))
    return sorted(ids)


def read_segment(path: str, *, live: bool = False) -> Iterator[Points]:
    """Yield the whole, checksum-valid batches of one segment, one batch at a time.

    A torn last batch (kill -9 during an append: never acknowledged) ends the segment quietly.
    Damage (a complete batch that fails its CRC32, bytes that are no batch, a batch beyond the
    :data:`~historian.storage.walread.MAX_BATCH_BYTES` budget) is skipped: the read resyncs on
    the next valid batch and goes on, logs a WARNING and records the problem in the store's
    health (``h.info()["problems"]``); ``historian repair`` salvages the segment into a new one.
    Only a damaged segment with no valid batch at all raises :class:`CorruptDataError`.
    ``live=True`` (a reader following another process's log, where a half-appended batch is
    normal) reports the torn tail at DEBUG instead of WARNING.
    """
    from historian.storage import health
    from historian.storage.walread import Scan, iter_segment

    quiet = logging.DEBUG if live else logging.WARNING
    scan = Scan()
    yield from iter_segment(path, scan)
    if scan.torn_tail:
        log.log(quiet, "WAL segment %s ends with a torn batch; it was never acknowledged", path)
    if not scan.damage:
        return
    store = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    fix = f"`historian repair {store}` salvages the valid batches into a new segment"
    if scan.batches_seen == 0:
        raise CorruptDataError(
            f"WAL segment {path} is damaged and holds no valid batch ({scan.damage[0]}); the "
            f"points it held are lost. {fix} and sets the damaged file aside."
        )
    for what in scan.damage:
        if health.record(path, f"WAL: {what}", fix):
            log.warning(
                "WAL segment %s: %s; skipped it and kept the %d valid batch(es) (%s)",
                path,
                what,
                scan.batches_seen,
                fix,
            )


class WalWriter:
    """Appends batches to the current segment with group-committed fsync.

    A failed append or fsync never poisons the writer: the segment it hit is abandoned (a failed
    fsync is not retried on the same file descriptor: after "fsyncgate" the kernel may have
    dropped the dirty pages and a second fsync would wrongly succeed), the callers waiting on it
    get :class:`~historian.errors.StoreError`, and the next append opens a fresh segment and
    first writes again the batches that were written but not yet known durable (they are in the
    memory table, so the log keeps holding every point the store shows).

    Examples
    --------
    >>> import tempfile
    >>> from historian.storage.wal import Points, WalWriter
    >>> import numpy as np
    >>> w = WalWriter(tempfile.mkdtemp(), 1)
    >>> one = np.ones(1)
    >>> w.append(Points.of_tag("A", np.zeros(1, np.int64), one, one.astype(np.uint32),
    ...                        one.astype(np.uint32), np.zeros(1, np.int64)))
    >>> w.rotate()
    1
    >>> w.close()
    """

    def __init__(self, wal_dir: str, segment_id: int, *, fsync: bool = True) -> None:
        self._dir = wal_dir
        self._fsync = fsync
        self._lock = threading.Lock()  # serialises appends and rotation
        self._sync_lock = threading.Lock()
        self._written = 0  # number of appends written
        self._synced = 0  # number of appends known durable
        self._file: BinaryIO | None = None
        self._stream: pa.ipc.RecordBatchStreamWriter | None = None
        self._segment_id = segment_id - 1  # the current (or last used) segment
        # Batches written since the last good fsync: (ticket, batch, metadata).
        self._unsynced: list[tuple[int, pa.RecordBatch, dict[str, str]]] = []
        self._rewrite: list[tuple[pa.RecordBatch, dict[str, str]]] = []  # to write again
        self._lost: list[tuple[int, int]] = []  # ticket ranges of abandoned segments
        try:
            make_dirs(wal_dir)
            self._open_next()
        except OSError as exc:
            raise StoreError(
                f"cannot create the write-ahead log in {wal_dir} ({exc.strerror or exc}); "
                "check the folder's permissions and free space"
            ) from exc

    @property
    def segment_id(self) -> int:
        """The id of the segment being written (or the last one, when none is open)."""
        return self._segment_id

    @property
    def is_open(self) -> bool:
        """False after a failure until the next append opens a new segment."""
        return self._stream is not None

    def _open_next(self) -> None:
        """Open a new segment after every existing one (a failed attempt may leave a name)."""
        seg = max([self._segment_id, *list_segments(self._dir)]) + 1
        path = os.path.join(self._dir, segment_name(seg))
        f = os.fdopen(create_file(path), "wb")
        self._segment_id = seg
        try:
            stream = pa.ipc.new_stream(f, WAL_SCHEMA)
            f.flush()
            if self._fsync:
                fsync_path(self._dir)
        except BaseException:
            with contextlib.suppress(OSError):
                f.close()
            raise
        self._file, self._stream = f, stream
        pending, self._rewrite = self._rewrite, []
        for i, (batch, meta) in enumerate(pending):  # from an abandoned segment, not durable
            try:
                stream.write_batch(batch, custom_metadata=meta)
                f.flush()
            except BaseException:
                self._rewrite = pending[i:]
                raise
            self._written += 1
            if self._fsync:
                self._unsynced.append((self._written, batch, meta))
        if pending:
            log.warning(
                "write-ahead log continues in segment %s; %d batch(es) not known durable "
                "were written again",
                path,
                len(pending),
            )

    def _abandon_segment(self) -> None:
        """Give up the current segment after a failure (caller holds both locks)."""
        if self._written > self._synced:
            self._lost.append((self._synced + 1, self._written))
            del self._lost[:-64]
        self._rewrite.extend((b, m) for _, b, m in self._unsynced)
        self._unsynced = []
        self._synced = self._written
        f, self._file, self._stream = self._file, None, None
        if f is not None:
            with contextlib.suppress(OSError, ValueError):
                f.close()

    def append(self, points: Points) -> None:
        """Append one batch and return once it is durable."""
        self.sync(self.write(points))

    def write(self, points: Points) -> int:
        """Append one batch to the OS (not yet durable); returns a ticket for :meth:`sync`."""
        batch = points.to_batch()
        meta = {"crc32": _crc(batch)}
        with self._lock:
            try:
                if self._stream is None:
                    self._open_next()
                assert self._stream is not None and self._file is not None
                self._stream.write_batch(batch, custom_metadata=meta)
                self._file.flush()
            except (OSError, pa.ArrowException) as exc:
                failed = self._segment_id
                cause = exc
            else:
                self._written += 1
                if self._fsync:
                    self._unsynced.append((self._written, batch, meta))
                return self._written
        with self._sync_lock, self._lock:  # no fsync may run on the fd being closed
            if self._segment_id == failed and self._stream is not None:
                self._abandon_segment()
        raise StoreError(
            f"cannot append to the write-ahead log ({_reason(cause)}); nothing of this write was "
            "acknowledged; free disk space and retry (the next write starts a new log segment)"
        ) from cause

    def sync(self, ticket: int) -> None:
        """Return once the batch of ``ticket`` is on disk (one fsync serves many writers)."""
        if self._fsync:
            self._sync_until(ticket)

    def _sync_until(self, ticket: int) -> None:
        with self._sync_lock:
            if any(lo <= ticket <= hi for lo, hi in self._lost):
                raise StoreError(
                    "the write-ahead log segment of this write failed before it was synced; the "
                    "write was not acknowledged (it may or may not be stored). Check the disk; "
                    "the log continues in a new segment"
                )
            if self._synced >= ticket:
                return  # another thread's fsync (or a rotation) covered this batch
            target = self._written
            assert self._file is not None
            try:
                os.fsync(self._file.fileno())
            except OSError as exc:
                # As PostgreSQL does since "fsyncgate": a failed fsync is not retried on the
                # same descriptor; the segment is abandoned and the log moves to a new one.
                with self._lock:
                    self._abandon_segment()
                raise StoreError(
                    f"fsync of the write-ahead log failed ({_reason(exc)}); the write was "
                    "not acknowledged (it may or may not be stored). Check the disk; the log "
                    "continues in a new segment"
                ) from exc
            self._synced = max(self._synced, target)
            with self._lock:
                self._unsynced = [u for u in self._unsynced if u[0] > target]

    def rotate(self) -> int:
        """Close the current segment and start the next; returns the closed segment's id.

        Every batch written so far is in segments up to the returned id. A failure to close
        abandons the segment (its batches not known durable are written again to the next one);
        a failure to open the next segment is retried by the next append.
        """
        with self._sync_lock, self._lock:  # no fsync may run on the fd being closed
            closed = self._segment_id
            if self._stream is not None:
                try:
                    self._close_current()
                except (OSError, pa.ArrowException) as exc:
                    log.warning("closing WAL segment %d failed (%s); abandoning it", closed, exc)
                    self._abandon_segment()
            try:
                self._open_next()
            except (OSError, pa.ArrowException) as exc:
                log.warning("cannot open the next WAL segment (%s); the next write retries", exc)
            return closed

    def _close_current(self) -> None:
        assert self._stream is not None and self._file is not None
        self._stream.close()
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        self._file, self._stream = None, None
        self._synced = self._written
        self._unsynced = []

    def close(self) -> None:
        """Close the current segment (end-of-stream marker, fsync)."""
        with self._sync_lock, self._lock:
            if self._stream is not None:
                try:
                    self._close_current()
                except (OSError, pa.ArrowException) as exc:
                    self._abandon_segment()
                    raise StoreError(
                        f"closing the write-ahead log failed ({_reason(exc)}); what it holds is "
                        "replayed when the store is opened again"
                    ) from exc

    def abandon(self) -> None:
        """Close the file without an end-of-stream marker or fsync (as a killed process does)."""
        with self._sync_lock, self._lock:
            f, self._file, self._stream = self._file, None, None
            if f is not None:
                f.close()


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)
