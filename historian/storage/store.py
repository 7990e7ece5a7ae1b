"""The storage engine: write-ahead log + memory table + immutable Parquet files in a Delta table.

Store folder layout::

    plant.hist/
      tags.json          tag catalog (atomic replace)
      writer.lock        flock held by the one writer process
      wal/               Arrow IPC stream segments, CRC per batch
      points/            the Delta table: _delta_log/ and day=YYYY-MM-DD/part-*.parquet
      tmp/               files being written (never read)

Write path: validate -> (qualify) -> WAL append (fsync, group commit) -> memory table -> return.
A flush writes the memory table to one file per UTC day and commits them together with the WAL
position they cover; the covered WAL segments are then deleted. Large writes (``bulk_points``)
skip the WAL and go straight to files: durable when the commit returns.

Read path: the files of one committed snapshot, plus points not yet flushed (the writer's own
memory table, or — in another process — the WAL segments the snapshot does not cover), merged so
that for a repeated (tag, time) the last write wins.
"""

from __future__ import annotations

import logging
import os
import threading
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

import pyarrow as pa

from historian.errors import (
    InvalidArgumentError,
    LeaseLostError,
    StoreClosedError,
)
from historian.model.tags import Tag
from historian.model.times import MAX_NS, MIN_NS, duration_ns, user_ns, window_ns
from historian.storage import background as _background
from historian.storage import flushing as _flushing
from historian.storage import maintenance as _maintenance
from historian.storage import opening as _opening
from historian.storage import qualifying as _qualifying
from historian.storage import reader as _reader
from historian.storage import tagging as _tagging
from historian.storage import writing as _writing
from historian.storage.catalog import Catalog
from historian.storage.chain import Signer
from historian.storage.files import FileCache, TagSlice, WriterOptions, write_file
from historian.storage.fs import StoreFS
from historian.storage.lease import WriterLease
from historian.storage.lock import WriterLock
from historian.storage.memtable import MemTable
from historian.storage.pins import ReadPins
from historian.storage.points import Points
from historian.storage.settings import StoreSettings, locate
from historian.storage.table import CommitLog, wal_gap
from historian.storage.wal import WalWriter
from historian.storage.writing import last_ingest_stamp

log = logging.getLogger(__name__)

__all__ = ["Mode", "Store", "last_ingest_stamp", "open_store"]

Mode = Literal["auto", "w", "r"]


class Store:
    """A historian store on local disk. Use :func:`historian.open` to get one.

    Parameters
    ----------
    path : str or os.PathLike
        The store folder; created when missing (unless ``mode="r"``).
    mode : {"auto", "w", "r"}
        ``"auto"`` (default) reads freely and takes the writer lock at the first write;
        ``"w"`` takes it now; ``"r"`` never writes. Reading never needs the lock.
    flush_points, flush_seconds : int, float
        Flush the memory table to Parquet when it holds this many points or is this old.
    bulk_points : int
        Writes of at least this many points go straight to Parquet files (no WAL).
    fsync : bool
        Turn off only for throwaway stores: without it, a power loss can lose acknowledged writes.
    history : str or float
        How long superseded values are kept by compaction so that ``read(as_of=...)`` can see
        them (default ``"7d"``).
    auto_compact_files, compact_rows : int
        A day with this many files of fewer than ``compact_rows`` rows is compacted after a flush.
    grace_hours : float
        Replaced files are kept at least this long after the compaction that replaced them
        (default 0: deleted as soon as no read of any process holds a snapshot that lists
        them; raise it for readers that do not pin, e.g. DuckDB or Spark on the Delta log, or
        a replication that may stop longer than that).
    background : bool
        ``True`` (default): flushes and the compactions after them run on the store's own
        thread, never inside ``write()``; a failure there is retried with backoff, shown by
        ``info()["background"]`` and raised by the next ``flush()``/``close()``. ``False``: a
        write that fills the memory table flushes (and compacts) before it returns
        (deterministic tests). See ``docs/storage.md``.
    signing_key : str, os.PathLike or Ed25519PrivateKey, optional
        Sign the hash chain of commits with this Ed25519 key: a PEM (PKCS#8) file, or
        ``"env:NAME"`` for an environment variable holding the PEM; ``historian verify
        --public-key`` then checks it (``docs/security.md``). Never logged.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: Mode = "auto",
        *,
        flush_points: int = 1_000_000,
        flush_seconds: float = 60.0,
        bulk_points: int = 250_000,
        fsync: bool = True,
        history: Any = "7d",
        row_group_rows: int = 16_384,
        auto_compact_files: int = 8,
        compact_rows: int = 1_000_000,
        part_rows: int = 2_000_000,
        write_threads: int = 2,
        read_threads: int = 2,
        grace_hours: float = 0,
        storage_options: dict[str, Any] | None = None,
        local_dir: str | os.PathLike[str] | None = None,
        lease_ttl: float = 60.0,
        signing_key: Any = None,
        background: bool = True,
    ) -> None:
        if mode not in ("auto", "w", "r"):
            raise InvalidArgumentError(f"mode must be 'auto', 'w' or 'r', not {mode!r}")
        self.mode = mode
        where = locate(path, mode, storage_options, local_dir, fsync)
        self.path = where.path
        self._fs: StoreFS = where.fs  # the shared files: the folder or the bucket prefix
        self._remote = not self._fs.is_local  # object storage: a lease, uploads, retries
        self.settings = StoreSettings(
            table_dir=where.table_dir, wal_dir=os.path.join(where.local, "wal"),
            tmp_dir=os.path.join(where.local, "tmp"),
            options=WriterOptions(row_group_rows=row_group_rows, fsync=fsync),
            flush_points=int(flush_points), flush_ns=duration_ns(flush_seconds),
            bulk_points=int(bulk_points), fsync=fsync, history_ns=duration_ns(history),
            auto_compact_files=auto_compact_files, compact_rows=compact_rows,
            part_rows=part_rows, write_threads=write_threads, read_threads=read_threads,
            grace_hours=grace_hours, background=bool(background),
        )  # fmt: skip
        self._lock: WriterLock | WriterLease = (
            WriterLease(self._fs, ttl=lease_ttl) if self._remote else WriterLock(self.path)
        )
        self._catalog = Catalog(self.path, fs=self._fs)
        self._catalog.created = where.created  # the "no tags" message says so
        # a local file is opened by path (memory-mapped), an object through the StoreFS
        self._files = FileCache(opener=self._fs.open_uri if self._remote else None)
        self._pins = ReadPins.of(self._fs)  # the snapshots reads hold (vacuum leaves them)
        self._vacuum_due = False  # a compaction's replaced files wait for a newer commit
        self._log: CommitLog | None = None
        self._wal: WalWriter | None = None
        self._active = MemTable()
        self._frozen: MemTable | None = None
        self._active_since = _time.monotonic()
        self._ingest_lock = threading.Lock()  # WAL append + memtable add vs. flush swap
        self._flush_lock = threading.RLock()  # one flush/compaction at a time
        self._last_ingest_us = 0
        self._replay_needed = False  # a failed flush lost its in-memory copy: reload from WAL
        self._closed = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._background = _background.Background()
        self._wal_cache: dict[str, tuple[int, list[Points]]] = {}
        self._wal_view: tuple[tuple[Any, ...], dict[str, list[TagSlice]]] | None = None
        self._qualifiers: dict[str, Any] = {}
        # Ed25519 key that signs the hash chain of commits (docs/security.md); never logged.
        self._signer = None if signing_key is None else Signer(signing_key)
        if mode == "w":
            self._become_writer()
        elif self._table_exists():
            self._log = self._commit_log(create=False)
        if self._log is not None and not self._remote:
            wal_gap(self._log, self.settings.wal_dir)  # a lost newest commit: reported, not dropped

    # ------------------------------------------------------------------ lifecycle
    def check_open(self) -> None:
        """Raise :class:`~historian.errors.StoreClosedError` once the store is closed."""
        if self._closed:
            raise StoreClosedError(
                f"the store {self.path!r} is closed; open it again with historian.open()"
            )

    _check_open = check_open

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def storage_options(self) -> dict[str, Any] | None:
        """The options that reopen this store elsewhere (``s3://``), None for a local folder."""
        return self._fs.storage_options()

    def _table_exists(self) -> bool:
        return self._fs.is_dir("points/_delta_log")

    def _refuse_lost_log(self) -> None:
        return _opening.refuse_lost_log(self)

    def _commit_log(self, create: bool) -> CommitLog:
        return _opening.commit_log(self, create)

    @property
    def writable(self) -> bool:
        """See :meth:`historian.Historian.writable` (the contract and an example)."""
        return self._lock.held

    def _become_writer(self) -> None:
        return _opening.become_writer(self)

    def close(self) -> None:
        """Flush pending points, release the writer lock and close the store."""
        _opening.close(self)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            if not self._closed and self._lock.held:
                log.warning(
                    "store %s was not closed; closing it (use `with historian.open(...)`)",
                    self.path,
                )
                self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ tags
    #: Define a tag, or update one; returns the stored definition (in storage/tagging.py).
    define = _tagging.define

    def define_many(
        self, definitions: Mapping[str, Mapping[str, Any]], *, replace: bool = False
    ) -> list[Tag]:
        """See :meth:`historian.Historian.define_many` (the contract and an example)."""
        return _tagging.define_many(self, definitions, replace=replace)

    def tag_versions(self, name: str) -> list[Tag]:
        """Every definition of ``name``, oldest first; the last one is the current."""
        return _tagging.tag_versions(self, name)

    def tag(self, name: str) -> Tag:
        """The definition of one tag (raises :class:`~historian.errors.TagNotFoundError`)."""
        return _tagging.tag(self, name)

    def tags_of(self, names: Iterable[str]) -> list[Tag]:
        """The definitions of ``names``, in order, from one version of the catalog."""
        return _tagging.tags_of(self, names)

    def tags(self, pattern: str | None = None) -> pa.Table:
        """Defined tags as a table; ``pattern`` is a glob (``"TIC-*"``) or ``"re:<regex>"``."""
        return _tagging.tags(self, pattern)

    # ------------------------------------------------------------------ writing
    def write(self, tag: str, times: Any, values: Any, quality: Any = None) -> int:
        """Write points of one tag; durable when it returns. Returns the number of points."""
        return _writing.write(self, tag, times, values, quality)

    def write_table(self, table: Any) -> int:
        """Write a long table (tag, time, value[, quality]) from Arrow, pandas or polars."""
        return _writing.write_table(self, table)

    def _ingest(self, points: Points, *, qualified: bool = False) -> int:
        return _writing.ingest_points(self, points, qualified=qualified)

    def _write_file(self, points: Points) -> Any:
        """One data file of ``points`` in this store's table (temp file, fsync, upload on s3)."""
        s = self.settings
        return write_file(s.table_dir, s.tmp_dir, points, s.options, fs=self._fs)

    def _write_files_now(self, points: Points) -> None:
        return _flushing.write_files_now(self, points)

    # ------------------------------------------------------------------ flushing
    #: s3://: how long an explicit flush() retries while object storage does not answer (the
    #: points stay in memory and in the local WAL; the background flusher keeps retrying).
    flush_retry_s: float = 10.0
    _outage_since: float | None = None  # monotonic time object storage stopped answering
    _outage_error: str = ""

    def flush(self) -> None:
        """Write pending points to Parquet files and commit them (also runs in the background);
        then raise :class:`~historian.errors.BackgroundFlushError` once if a background flush
        failed since the last explicit flush."""
        unreported = self._background.take_unreported()
        self._flush_with_retry(self.flush_retry_s)
        if unreported is not None:
            self._background.unreported = unreported
            _background.raise_unreported(self)

    def _transient(self, exc: BaseException) -> bool:
        return _flushing.transient(self, exc)

    def _lease_lost_error(self) -> LeaseLostError:
        return _flushing.lease_lost_error(self)

    def _note_outage(self, exc: BaseException) -> None:
        return _flushing.note_outage(self, exc)

    def _flush_with_retry(self, retry_s: float) -> None:
        return _flushing.flush_with_retry(self, retry_s)

    def _flush_once(self) -> None:
        return _flushing.flush_once(self)

    def _flush_loop(self) -> None:
        return _background.run(self)

    # ------------------------------------------------------------------ reading
    def _series(
        self,
        tags: Sequence[str],
        start_ns: int,
        end_ns: int,
        as_of_us: int | None = None,
        with_reasons: bool = False,
    ) -> dict[str, TagSlice | None]:
        return _reader.series(self, tags, start_ns, end_ns, as_of_us, with_reasons)

    def bounded_series(
        self, tags: Sequence[str], start_ns: int, end_ns: int
    ) -> dict[str, TagSlice | None]:
        """Points in [start_ns, end_ns) plus the bounding points outside it, per tag."""
        self._check_open()
        return _reader.bounded_series(self, tags, start_ns, end_ns)

    def scan_sources(self) -> tuple[list[str], pa.Table]:
        """What a query engine reads for one consistent view of the store."""
        return _reader.scan_sources(self)

    def pinned_scan(self) -> AbstractContextManager[tuple[list[str], pa.Table]]:
        """:meth:`scan_sources` whose files vacuum leaves until the ``with`` block ends."""
        return _reader.pinned_scan(self)

    def resolve_tags(self, tags: str | Iterable[str] | None) -> list[str]:
        """See :meth:`historian.Historian.resolve_tags` (the contract and an example)."""
        return _tagging.resolve_tags(self, tags)

    def is_stepped(self, tags: Sequence[str]) -> dict[str, bool]:
        """See :meth:`historian.Historian.is_stepped` (the contract and an example)."""
        self._check_open()
        return _tagging.is_stepped(self, tags)

    def read(
        self,
        tags: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        *,
        as_of: Any = None,
        reasons: bool = False,
        tag_type: str = "string",
    ) -> pa.Table:
        """Raw points with start <= time < end as a table (tag, time, value, quality), sorted."""
        self._check_open()
        if tag_type not in ("string", "dictionary"):
            raise InvalidArgumentError(
                f"tag_type must be 'string' or 'dictionary', not {tag_type!r}"
            )
        names = self.resolve_tags(tags)
        if start is not None and end is not None:
            window_ns(start, end, empty=True)  # a reversed window is refused, never empty
        start_ns = MIN_NS if start is None else user_ns(start)
        end_ns = MAX_NS if end is None else user_ns(end)
        as_of_us = None if as_of is None else user_ns(as_of) // 1000
        return _reader.read_table(
            self,
            names,
            start_ns,
            end_ns,
            as_of_us,
            reasons,
            dictionary=tag_type == "dictionary",
            with_text=any(t.is_text for t in self._catalog.get_many(names)),
        )

    def qualify(
        self,
        tags: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        *,
        rules: dict[str, Any] | None = None,
        apply: bool = False,
        now: Any = None,
        progress: bool | None = None,
    ) -> pa.Table:
        """Run qualification rules over stored history (the tag's own rules, or ``rules``)."""
        return _qualifying.qualify(
            self, tags, start, end, rules=rules, apply=apply, now=now, progress=progress
        )

    # ------------------------------------------------------------------ maintenance
    def _maybe_compact(self, days: list[str]) -> None:
        return _maintenance.maybe_compact(self, days)

    def compact(
        self,
        days: Iterable[str] | None = None,
        *,
        full: bool = False,
        progress: bool | None = None,
    ) -> int:
        """Merge small files per day and resolve duplicates; safe while readers run."""
        return _maintenance.compact(self, days, full=full, progress=progress)

    def _vacuum(self) -> None:
        return _maintenance.vacuum(self)

    def delete(
        self,
        tags: str | Iterable[str],
        start: Any = None,
        end: Any = None,
        *,
        ingested: Iterable[int] | None = None,
    ) -> int:
        """See :meth:`historian.Historian.delete` (the contract and an example)."""
        return _maintenance.delete(self, tags, start, end, ingested=ingested)

    def delete_tag(self, name: str) -> int:
        """See :meth:`historian.Historian.delete_tag` (the contract and an example)."""
        return _maintenance.delete_tag(self, name)

    def rename_tag(self, old: str, new: str) -> Tag:
        """See :meth:`historian.Historian.rename_tag` (the contract and an example)."""
        return _maintenance.rename_tag(self, old, new)

    def retain(self, older_than: Any, *, force: bool = False) -> int:
        """See :meth:`historian.Historian.retain` (the contract and an example)."""
        return _maintenance.retain(self, older_than, force=force)

    # ------------------------------------------------------------------ info
    def info(self) -> dict[str, Any]:
        """Path, tags, points, files, bytes on disk, time span, pending points."""
        return _reader.info(self)

    def __repr__(self) -> str:
        if self._closed:
            return f"<historian store {self.path!r} (closed)>"
        i = self.info()
        return (
            f"<historian store {i['path']!r}: {i['tags']} tags, "
            f"{i['points_in_files'] + i['points_pending']:,} points, {i['files']} files, "
            f"{i['bytes'] / 1e6:.1f} MB{', writer' if i['writer'] else ''}>"
        )


def open_store(path: str | os.PathLike[str], mode: Mode = "auto", **options: Any) -> Store:
    """Open (or create) a store; see :class:`Store` for options."""
    return Store(path, mode, **options)
