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
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from historian.errors import (
    InvalidArgumentError,
    LeaseLostError,
    StoreClosedError,
    StoreError,
)
from historian.model.tags import UNSET, Tag
from historian.model.times import duration_ns, user_ns, window_ns
from historian.storage.catalog import Catalog
from historian.storage.chain import Signer
from historian.storage.files import FileCache, TagSlice, WriterOptions
from historian.storage.fs import StoreFS, is_remote, local_cache_dir
from historian.storage.lease import WriterLease
from historian.storage.lock import WriterLock
from historian.storage.memtable import MemTable
from historian.storage.perms import make_dirs
from historian.storage.table import CommitLog, Snapshot, wal_gap
from historian.storage.points import Points
from historian.storage.wal import WalWriter, segment_name

from historian.model.times import DAY_NS, HOUR_NS, MAX_NS, MIN_NS  # noqa: E402, F401 - re-exported

log = logging.getLogger(__name__)

Mode = Literal["auto", "w", "r"]
_STAMPS = threading.local()  # per thread: the ingest stamp of its last write call
#: ``info()`` counts distinct points exactly up to this many rows (it reads tag and time);
#: above, ``points`` is the number of rows, superseded versions included (``points_exact``).
EXACT_POINTS_ROWS = 2_000_000  # ~0.5 s to count on a 2-core machine (1.2 s at 5M)


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
    grace_hours : int
        Replaced files are deleted this long after a compaction (readers of older snapshots).
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
        grace_hours: int = 1,
        storage_options: dict[str, Any] | None = None,
        local_dir: str | os.PathLike[str] | None = None,
        lease_ttl: float = 60.0,
        signing_key: Any = None,
    ) -> None:
        if mode not in ("auto", "w", "r"):
            raise InvalidArgumentError(f"mode must be 'auto', 'w' or 'r', not {mode!r}")
        self.mode = mode
        self._fs: StoreFS | None = None  # object storage (s3://); None: a local folder
        created = False  # this open made the folder (the "no tags" message says so)
        if is_remote(path):
            self._fs = StoreFS.from_uri(path, storage_options, fsync=fsync)
            self.path = self._fs.uri
            if mode == "r" and not (
                self._fs.exists("tags.json") or self._fs.list("points/_delta_log")
            ):
                raise StoreError(f"no store at {self.path!r} (mode='r' does not create one)")
            # The write-ahead log and temp files stay on local disk.
            local = (
                os.path.abspath(os.fspath(local_dir))
                if local_dir is not None
                else local_cache_dir(self.path)
            )
            self._table_dir = self._fs.uri_of("points")
        else:
            if storage_options:
                raise InvalidArgumentError("storage_options apply to s3:// stores only")
            # "~/plant.hist" means the home folder, as in the CLI and the collector config
            self.path = local = os.path.abspath(os.path.expanduser(os.fspath(path)))
            if not os.path.isdir(self.path):
                if mode == "r":
                    raise StoreError(
                        f"no store at {self.path!r}: the folder does not exist (check the path; "
                        "mode='r' does not create one)"
                    )
                created = True
                try:
                    make_dirs(self.path)  # owner and group only (0o750), whatever the umask
                except OSError as exc:
                    raise StoreError(
                        f"cannot create the store folder {self.path!r} ({exc.strerror or exc})"
                    ) from exc
            self._table_dir = os.path.join(self.path, "points")
        self._wal_dir = os.path.join(local, "wal")
        self._tmp_dir = os.path.join(local, "tmp")
        self._options = WriterOptions(row_group_rows=row_group_rows, fsync=fsync)
        self._flush_points = int(flush_points)
        self._flush_ns = duration_ns(flush_seconds)
        self._bulk_points = int(bulk_points)
        self._fsync = fsync
        self._history_ns = duration_ns(history)
        self._auto_compact_files = auto_compact_files
        self._compact_rows = compact_rows
        self._part_rows = part_rows
        self._write_threads = write_threads
        self._read_threads = read_threads
        self._grace_hours = grace_hours
        self._lock: WriterLock | WriterLease = (
            WriterLock(self.path) if self._fs is None else WriterLease(self._fs, ttl=lease_ttl)
        )
        self._catalog = Catalog(self.path, fs=self._fs)
        self._catalog.created = created
        self._files = FileCache(opener=None if self._fs is None else self._fs.open_uri)
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
        self._wal_cache: dict[str, tuple[int, list[Points]]] = {}
        self._wal_view: tuple[tuple, dict[str, list[TagSlice]]] | None = None
        self._qualifiers: dict[str, Any] = {}
        # Ed25519 key that signs the hash chain of commits (docs/security.md); never logged.
        self._signer = None if signing_key is None else Signer(signing_key)
        if mode == "w":
            self._become_writer()
        elif self._table_exists():
            self._log = self._commit_log(create=False)
        if self._log is not None and self._fs is None:
            wal_gap(self._log, self._wal_dir)  # a lost newest commit: reported, not dropped

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
        return None if self._fs is None else self._fs.storage_options()

    def _table_exists(self) -> bool:
        if self._fs is not None:
            return bool(self._fs.list("points/_delta_log"))
        return os.path.isdir(os.path.join(self._table_dir, "_delta_log"))

    def _data_files_without_log(self) -> list[str]:
        return _opening.data_files_without_log(self)

    def _refuse_lost_log(self) -> None:
        return _opening.refuse_lost_log(self)

    def _commit_log(self, create: bool) -> CommitLog:
        return _opening.commit_log(self, create)

    @property
    def writable(self) -> bool:
        """True once this object holds the writer lock (taken at the first write in mode "auto").

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     before = h.writable
        ...     _ = h.define("A")
        ...     before, h.writable
        (False, True)
        """
        return self._lock.held

    def _become_writer(self) -> None:
        return _opening.become_writer(self)

    def _refuse_replica(self) -> None:
        return _opening.refuse_replica(self)

    def _recover(self) -> None:
        return _opening.recover(self)

    def close(self) -> None:
        """Flush pending points, release the writer lock and close the store.

        Examples
        --------
        >>> import historian, tempfile
        >>> h = historian.open(tempfile.mkdtemp())
        >>> h.close()
        >>> h.close()  # closing twice is harmless
        """
        if self._closed:
            return
        flushed = False
        try:
            self._stop.set()
            if self._flusher is not None:
                self._flusher.join(timeout=30)
            if self._lock.held:
                self.flush()
                flushed = True
            elif isinstance(self._lock, WriterLease) and self._lock.lost:
                raise self._lease_lost_error()
        finally:
            # The log file is closed even when the flush failed or the writer lost its lease:
            # what it holds is replayed by the next writer.
            try:
                if self._wal is not None:
                    current = self._wal.segment_id
                    self._wal.close()
                    empty = os.path.join(self._wal_dir, segment_name(current))
                    nothing_left = self._frozen is None and len(self._active) == 0
                    if flushed and nothing_left and os.path.exists(empty):
                        try:
                            os.unlink(empty)
                        except OSError as exc:  # an empty segment: harmless, replayed as empty
                            log.warning("cannot delete the empty WAL segment %s (%s)", empty, exc)
            finally:
                self._closed = True
                self._lock.release()

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
    def define(
        self,
        name: str,
        *,
        unit: str = UNSET,
        kind: str = UNSET,
        lo: float | None = UNSET,
        hi: float | None = UNSET,
        rules: dict[str, Any] | None = UNSET,
        description: str = UNSET,
        compression: dict[str, Any] | None = UNSET,
        states: dict[int, str] | None = UNSET,
        metadata: dict[str, Any] | None = UNSET,
        replace: bool = False,
        type: str = UNSET,  # "number" or "string" (a text tag), as Tag.type
    ) -> Tag:
        """Define a tag, or update one; returns the stored definition.

        On an existing tag only the fields given change: ``h.define(name, unit="K")`` keeps its
        range, description and rules (pass ``lo=None`` to clear a limit, ``rules={}`` to drop
        the rules). ``replace=True`` starts from the defaults instead, as for a new tag. Every
        change increments ``version``; the replaced definitions are kept
        (:meth:`tag_versions`).

        Examples
        --------
        >>> import historian, tempfile
        >>> h = historian.open(tempfile.mkdtemp())
        >>> h.define("TIC-101.PV", unit="degC", lo=0, hi=200).version
        1
        >>> t = h.define("TIC-101.PV", unit="K")           # lo/hi kept
        >>> t.unit, t.hi, t.version
        ('K', 200.0, 2)
        >>> h.define("TIC-101.PV", unit="K", replace=True).hi is None
        True
        >>> h.close()
        """
        return _tagging.define(self, name, unit=unit, kind=kind, lo=lo, hi=hi, rules=rules,
                               description=description, compression=compression,
                               states=states, metadata=metadata, replace=replace,
                               type=type)

    def define_many(
        self, definitions: Mapping[str, Mapping[str, Any]], *, replace: bool = False
    ) -> list[Tag]:
        """Define or update many tags in one write of the catalog; returns the stored
        definitions in the order given.

        ``definitions`` maps each name to the keyword arguments :meth:`define` takes (``unit``,
        ``kind``, ``lo``, ``hi``, ``rules``, ...); the same merge rules apply. All or none: a
        bad definition raises before anything is written. A collector with 10,000 tags starts
        in one catalog write instead of 10,000.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     tags = h.define_many({"TIC-101.PV": {"unit": "degC"}, "FIC-101.PV": {}})
        ...     [(t.name, t.unit) for t in tags]
        [('TIC-101.PV', 'degC'), ('FIC-101.PV', '')]
        """
        return _tagging.define_many(self, definitions, replace=replace)

    def _merged_tag(self, name: str, given: dict[str, Any], replace: bool) -> Tag:
        return _tagging.merged_tag(self, name, given, replace)

    def tag_versions(self, name: str) -> list[Tag]:
        """Every definition of ``name``, oldest first; the last one is the current.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("TIC-101.PV", unit="degC", hi=100)
        ...     _ = h.define("TIC-101.PV", hi=150)
        ...     [(t.version, t.hi) for t in h.tag_versions("TIC-101.PV")]
        [(1, 100.0), (2, 150.0)]
        """
        return _tagging.tag_versions(self, name)

    def _validate_rules(self, tag: Tag) -> None:
        return _tagging.check_rules(self, tag)

    def tag(self, name: str) -> Tag:
        """The definition of one tag (raises :class:`~historian.errors.TagNotFoundError`).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("TIC-101.PV", unit="degC", lo=0, hi=200)
        ...     h.tag("TIC-101.PV").hi
        200.0
        """
        return _tagging.tag(self, name)

    def tags(self, pattern: str | None = None) -> pa.Table:
        """Defined tags as a table; ``pattern`` is a glob (``"TIC-*"``) or ``"re:<regex>"``.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     for name in ("TIC-101.PV", "TIC-101.SP", "FIC-104.PV"):
        ...         _ = h.define(name)
        ...     h.tags("TIC-*").column("name").to_pylist()
        ['TIC-101.PV', 'TIC-101.SP']
        """
        return _tagging.tags(self, pattern)

    # ------------------------------------------------------------------ writing
    def _next_ingest_us(self) -> int:
        return _writing.next_ingest_us(self)

    def write(self, tag: str, times: Any, values: Any, quality: Any = None) -> int:
        """Write points of one tag; durable when it returns. Returns the number of points.

        ``times``: ISO strings, datetimes (naive = UTC), datetime64, pandas timestamps or int ns.
        ``values``: numbers (NaN/inf are stored with Bad quality, the raw value kept).
        ``quality``: None (Good), one OPC UA StatusCode, or one per point.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("FIC-101.PV", unit="m3/h")
        ...     h.write("FIC-101.PV", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"], [1.5, 1.6])
        2
        """
        return _writing.write(self, tag, times, values, quality)

    def write_table(self, table: Any) -> int:
        """Write a long table (tag, time, value[, quality]) from Arrow, pandas or polars.

        Examples
        --------
        >>> import historian, tempfile, pyarrow as pa
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A"); _ = h.define("B")
        ...     h.write_table(pa.table({"tag": ["A", "B"], "time": [0, 0], "value": [1.0, 2.0]}))
        2
        """
        return _writing.write_table(self, table)

    def _ingest(self, points: Points, *, qualified: bool = False) -> int:
        return _writing.ingest_points(self, points, qualified=qualified)

    def _qualify(self, points: Points, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _writing.qualify(self, points, quality)

    def _write_files(self, points: Points) -> list:
        return _flushing.write_files(self, points)

    def _write_files_now(self, points: Points) -> None:
        return _flushing.write_files_now(self, points)

    # ------------------------------------------------------------------ flushing
    #: s3://: how long an explicit flush() retries while object storage does not answer (the
    #: points stay in memory and in the local WAL; the background flusher keeps retrying).
    flush_retry_s: float = 10.0
    _outage_since: float | None = None  # monotonic time object storage stopped answering
    _outage_error: str = ""

    def flush(self) -> None:
        """Write pending points to Parquet files and commit them (also runs in the background).

        On ``s3://``, a flush that fails because object storage does not answer is retried
        with backoff for up to :attr:`flush_retry_s` seconds, then raises :class:`StoreError`;
        the points stay in memory and in the local write-ahead log, and the background flusher
        commits them once storage answers again. A writer whose lease was taken over gets
        :class:`~historian.errors.LeaseLostError`.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0], [1.0])
        ...     h.flush()
        ...     h.info()["points_in_files"]
        1
        """
        self._flush_with_retry(self.flush_retry_s)

    def _transient(self, exc: BaseException) -> bool:
        return _flushing.transient(self, exc)

    def _lease_lost_error(self) -> LeaseLostError:
        return _flushing.lease_lost_error(self)

    def _note_outage(self, exc: BaseException) -> None:
        return _flushing.note_outage(self, exc)

    def _note_recovered(self) -> None:
        return _flushing.note_recovered(self)

    def _flush_with_retry(self, retry_s: float) -> None:
        return _flushing.flush_with_retry(self, retry_s)

    def _flush_once(self) -> None:
        return _flushing.flush_once(self)

    def _drop_segments(self, upto: int) -> None:
        return _flushing.drop_segments(self, upto)

    def _wal_current(self) -> int | None:
        return _flushing.wal_current(self)

    def _reload_from_wal(self) -> None:
        return _flushing.reload_from_wal(self)

    def _flush_loop(self) -> None:
        return _flushing.flush_loop(self)

    # ------------------------------------------------------------------ reading
    def _snapshot_and_pending(
        self,
    ) -> tuple[Snapshot | None, list[MemTable] | dict[str, list[TagSlice]]]:
        return _reader.snapshot_and_pending(self)

    def _wal_points(self, wal_upto: int) -> dict[str, list[TagSlice]]:
        return _reader.wal_points(self, wal_upto)

    def _series(
        self,
        tags: Sequence[str],
        start_ns: int,
        end_ns: int,
        as_of_us: int | None = None,
        with_reasons: bool = False,
    ) -> dict[str, TagSlice | None]:
        return _reader.series(self, tags, start_ns, end_ns, as_of_us, with_reasons)

    def _missing_file(self, snap: Snapshot, rel: str) -> StoreError:
        return _reader.missing_file(self, snap, rel)

    def bounded_series(
        self, tags: Sequence[str], start_ns: int, end_ns: int
    ) -> dict[str, TagSlice | None]:
        """Points in [start_ns, end_ns) plus the bounding points outside it, per tag.

        The one way historian looks outside a window: summary, interpolated, plot, events,
        asof and correlate all read through it, so they agree on what a value held from long
        before the window is. Before ``start_ns``: every point back to and including the
        second-latest Good one (a sloped extrapolation needs two); after ``end_ns``: every
        point up to and including the first Good one. The search looks an hour out, then 30
        times further each step, then without limit. ``tags`` must be known names (see
        :meth:`resolve_tags`); a tag with no points at all maps to None.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0, 10**9, 5 * 10**9, 99 * 10**12], [0.0, 1.0, 5.0, 9.0])
        ...     h.bounded_series(["A"], 4 * 10**9, 6 * 10**9)["A"].time.tolist()
        [0, 1000000000, 5000000000, 99000000000000]
        """
        self._check_open()
        return _reader.bounded_series(self, tags, start_ns, end_ns)

    def scan_sources(self) -> tuple[list[str], pa.Table]:
        """What a query engine reads for one consistent view of the store.

        Returns the absolute paths of one committed snapshot's data files (columns as in
        ``docs/format.md``: the value of a row is ``coalesce(value, value_int / 10^decimals)``)
        and the points not yet in files as a table with columns tag, time (timestamp[ns, UTC]),
        value, quality (int64), reasons (int32), ingested (timestamp[us, UTC]). A (tag, time) may
        appear more than once across both: the row with the largest ``ingested`` wins.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0], [1.0]); h.flush(); _ = h.write("A", [1], [2.0])
        ...     files, pending = h.scan_sources()
        ...     len(files), pending.num_rows
        (1, 1)
        """
        return _reader.scan_sources(self)

    def resolve_tags(self, tags: str | Iterable[str] | None) -> list[str]:
        """The known tag names ``tags`` stands for: one name, a list (validated, de-duplicated,
        in order) or None for every defined tag; an unknown name raises TagNotFoundError.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A"); _ = h.define("B")
        ...     h.resolve_tags(["B", "A", "B"]), h.resolve_tags(None)
        (['B', 'A'], ['A', 'B'])
        """
        return _tagging.resolve_tags(self, tags)

    def is_stepped(self, tags: Sequence[str]) -> dict[str, bool]:
        """Per tag of ``tags`` (known names): True for a step tag (values held between
        samples), False for an analog one (interpolated linearly).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A"); _ = h.define("RUN", kind="step")
        ...     h.is_stepped(["A", "RUN"])
        {'A': False, 'RUN': True}
        """
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
        """Raw points with start <= time < end as a table (tag, time, value, quality), sorted.

        ``tags``: one name, a list, or None for all tags. ``start``/``end``: any time input, None
        for unbounded. ``as_of``: return what the store held at that moment (ingest time).
        ``reasons=True`` adds the qualification reason bits. Values are null where there is no
        value (NaN). ``tag_type="dictionary"`` returns the ``tag`` column as
        ``dictionary<int32, string>`` (no string bytes per row: faster and smaller for long
        reads; pandas gets a Categorical, polars a Categorical) instead of ``string``.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("LIC-101.PV")
        ...     _ = h.write("LIC-101.PV", [2_000_000_000, 1_000_000_000], [2.0, 1.0])
        ...     h.read("LIC-101.PV").column("value").to_pylist()
        [1.0, 2.0]
        """
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
        series = self._series(names, start_ns, end_ns, as_of_us, with_reasons=reasons)
        return _reader._points_table(sorted(names), series, reasons,
                             dictionary=tag_type == "dictionary",
                             with_text=any(self._catalog.get(n).is_text for n in names))

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
        """Run qualification rules over stored history (the tag's own rules, or ``rules``).

        Returns tag, time, value, quality (new), reasons and previous_quality. With
        ``apply=True`` the points whose quality or reasons changed are written again with the new
        quality (the old versions stay readable with ``read(as_of=...)``). The source quality of a
        point flagged by an earlier qualification is taken as Good (only the result was stored).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0, 10**9, 2 * 10**9], [1.0, 500.0, 2.0])
        ...     h.qualify("A", rules={"range": {"lo": 0, "hi": 100}}).column("reasons").to_pylist()
        [0, 1, 0]
        """
        return _qualifying.qualify(self, tags, start, end, rules=rules, apply=apply, now=now,
                                   progress=progress)

    # ------------------------------------------------------------------ maintenance
    def _small_files(self, snap: Snapshot) -> dict[str, list[str]]:
        return _maintenance.small_files(self, snap)

    def _maybe_compact(self, days: list[str]) -> None:
        return _maintenance.maybe_compact(self, days)

    def compact(
        self,
        days: Iterable[str] | None = None,
        *,
        full: bool = False,
        progress: bool | None = None,
    ) -> int:
        """Merge small files per day and resolve duplicates; safe while readers run.

        A day with at least two files below ``compact_rows`` rows is rewritten: its small files
        and the files whose tag ranges overlap theirs are merged into files of about
        ``part_rows`` rows, each holding a range of tags, so one tag's day lives in one file
        (``full=True``: every file of every day with more than one). Superseded values younger than
        ``history`` are kept for ``read(as_of=...)``. Replaced files stay on disk for a grace
        period, so readers of older snapshots keep working. Returns the number of files replaced.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     for i in range(3):
        ...         _ = h.write("A", [i], [float(i)]); h.flush()
        ...     h.compact()
        3
        """
        return _maintenance.compact(self, days, full=full, progress=progress)

    def _rewrite_day(self, relpaths: list[str]) -> list:
        return _maintenance.rewrite_day(self, relpaths)

    def _merge_tags(self, opened: list, tags: list[str]) -> Points:
        return _maintenance.merge_tags(self, opened, tags)

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
        """Delete the points of ``tags`` in ``[start, end)`` (None: unbounded); returns the rows
        removed (every stored version of a point is a row).

        ``ingested`` narrows it to the rows written by the write calls with those ingest stamps
        (µs, one per call): ``h.delete(report.tags, ingested=report.ingested)`` takes back an
        import (:class:`~historian.importing.ImportReport`) and leaves every other write alone.
        The edit is one Delta commit with operation ``"delete"`` (the table's history shows
        it); pending points are flushed first. Deleted points are gone for ``read(as_of=...)``
        too. Safe while readers run.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0, 10**9, 2 * 10**9], [1.0, 2.0, 3.0])
        ...     h.delete("A", 10**9, 2 * 10**9), h.read("A").column("value").to_pylist()
        (1, [1.0, 3.0])
        """
        return _maintenance.delete(self, tags, start, end, ingested=ingested)

    def delete_tag(self, name: str) -> int:
        """Delete a tag: its points (as :meth:`delete`) and its definition, which stays in the
        catalog's history (``tags.json``) with the time it was deleted; returns rows removed.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("OLD.TAG")
        ...     _ = h.write("OLD.TAG", [0, 1], [1.0, 2.0])
        ...     h.delete_tag("OLD.TAG"), h.tags().num_rows
        (2, 0)
        """
        return _maintenance.delete_tag(self, name)

    def rename_tag(self, old: str, new: str) -> Tag:
        """Rename a tag: its definition and every stored row (versions and ingest stamps kept,
        so ``as_of`` reads still work) move to ``new``, in one Delta commit with operation
        ``"rename"``; the catalog's history of ``new`` records where it came from. ``new``
        must not be defined yet. Stop writers of ``old`` first. Returns the new definition.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("TI-1", unit="degC")
        ...     _ = h.write("TI-1", [0], [20.0])
        ...     t = h.rename_tag("TI-1", "TI-101.PV")
        ...     t.unit, h.read("TI-101.PV").num_rows, h.tags().column("name").to_pylist()
        ('degC', 1, ['TI-101.PV'])
        """
        return _maintenance.rename_tag(self, old, new)

    def retain(self, older_than: Any, *, force: bool = False) -> int:
        """Drop points older than a time or an age (``"30d"``, a timedelta); returns points dropped.

        Whole days before the cutoff are dropped from the table; the day that straddles it is
        rewritten. Safe while readers run. An age is counted back from the wall clock; when that
        would drop *every* stored point (the clock implausibly ahead of the newest data, e.g. a
        bad NTP step) it raises :class:`~historian.errors.InvalidArgumentError` and drops nothing,
        unless ``force=True``.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", ["2026-01-01", "2026-01-02", "2026-01-03"], [1.0, 2.0, 3.0])
        ...     h.retain("2026-01-02")
        1
        """
        return _maintenance.retain(self, older_than, force=force)

    # ------------------------------------------------------------------ info
    def info(self) -> dict[str, Any]:
        """Path, tags, points, files, bytes on disk, time span, pending points.

        ``points`` counts each (tag, time) once, in files and in the write-ahead log alike (a
        reader sees the WAL points its reads return); ``points_in_files`` counts file rows,
        superseded versions included. Above ``EXACT_POINTS_ROWS`` rows ``points`` is that row
        count and ``points_exact`` is False.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0, 10**9], [1.0, 2.0])
        ...     i = h.info()
        ...     i["tags"], i["points_pending"], i["points_in_files"]
        (1, 2, 0)
        """
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


def last_ingest_stamp() -> int | None:
    """The ingest stamp (µs) of this thread's last write call to any store, or None."""
    return getattr(_STAMPS, "last_us", None)


def _progress(items: list, enabled: bool | None, desc: str) -> Any:
    from historian.progress import iterate  # one switch: historian.options(progress=...)

    return iterate(items, enabled, desc)


def open_store(path: str | os.PathLike[str], mode: Mode = "auto", **options: Any) -> Store:
    """Open (or create) a store; see :class:`Store` for options."""
    return Store(path, mode, **options)


# Imported last: these modules take a Store and use this module's constants and helpers, and
# the methods above call them in one line (so a Store is one object, its jobs in modules).
from historian.storage import flushing as _flushing  # noqa: E402
from historian.storage import maintenance as _maintenance  # noqa: E402
from historian.storage import opening as _opening  # noqa: E402
from historian.storage import qualifying as _qualifying  # noqa: E402
from historian.storage import reader as _reader  # noqa: E402
from historian.storage import tagging as _tagging  # noqa: E402
from historian.storage import writing as _writing  # noqa: E402
