"""The public ``Historian``: a storage engine (:class:`~historian.storage.store.Store`) plus
retrieval, SQL and correlation on top.

A ``Historian`` holds one ``Store`` and delegates every storage call to it in one line, inside
:meth:`Historian._call` (this store's limits in effect, only ``HistorianError`` escapes); the
docstrings users read live here.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import pyarrow as pa

from historian import limits as _limits
from historian.errors import InvalidArgumentError, argument_errors, mapped_errors
from historian.model.tags import UNSET, Tag
from historian.model.times import duration_ns, window_ns
from historian.storage.store import Mode, Store

if TYPE_CHECKING:
    from historian.annotations import ReadResult
    from historian.assets import AssetModel
    from historian.storage.files import TagSlice

_F = TypeVar("_F", bound=Callable[..., Any])


def _boundary(method: _F) -> _F:
    """A storage call of a Historian, run inside :meth:`Historian._call` under its own name."""

    @functools.wraps(method)
    def call(self: Historian, *args: Any, **kwargs: Any) -> Any:
        with self._call(method.__name__):
            return method(self, *args, **kwargs)

    return cast(_F, call)


class Historian:
    """A historian store: write, read, summarise, interpolate, plot, query.

    Open one with :func:`historian.open`. Safe to share between threads (writes are serialised,
    reads run concurrently). Use it as a context manager or call :meth:`close`. ``path`` is the
    store's absolute path (or ``s3://`` URI), ``mode`` the mode it was opened in.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TIC-101.PV", unit="degC")
    ...     _ = h.write("TIC-101.PV", ["2026-01-01T00:00:00Z"], [21.5])
    ...     h.read("TIC-101.PV").num_rows
    1
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: Mode = "auto",
        *,
        duckdb_threads: int | None = None,
        duckdb_memory_limit: str | int | None = None,
        sql_timeout: float | None = 60.0,
        sql_max_result_bytes: int | None = 256 * 2**20,
        limits: _limits.Limits | Mapping[str, int] | None = None,
        **options: Any,
    ) -> None:
        self._limits = None if limits is None else _limits.as_limits(limits)
        with argument_errors("historian.open"), mapped_errors(f"opening the store {path!r}"):
            self._store = Store(path, mode, **options)
        self.path: str = self._store.path
        self.mode: Mode = self._store.mode
        from historian.query.sql import SqlEngine  # no duckdb import until the first h.sql()

        try:
            self._sql_engine = SqlEngine(
                self._store, threads=duckdb_threads, memory_limit=duckdb_memory_limit,
                timeout=sql_timeout, max_result_bytes=sql_max_result_bytes,
            )  # fmt: skip
        except BaseException:
            self._store.close()  # a bad SQL option: the store opened above is not left open
            raise

    def close(self) -> None:
        """Close the store (and its DuckDB database, if one was opened); flushes pending points.

        Examples
        --------
        >>> import historian, tempfile
        >>> h = historian.open(tempfile.mkdtemp())
        >>> h.close()
        >>> h.close()  # closing twice is harmless
        """
        self._sql_engine.close()
        self._store.close()

    def __enter__(self) -> Historian:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        return self._store.writable

    @property
    def storage_options(self) -> dict[str, Any] | None:
        """The storage options that reopen this store in another process (what a Dask worker
        is given): region, endpoint and credentials of an ``s3://`` store; None for a local
        folder. Credentials included: never log it.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     h.storage_options is None
        True
        """
        return self._store.storage_options

    @property
    def flush_retry_s(self) -> float:
        """``s3://``: how long an explicit :meth:`flush` retries while object storage does not
        answer, in seconds (default 10; the points stay in memory and in the local write-ahead
        log, and the background flusher keeps retrying). Assign to change it.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     h.flush_retry_s = 2.0
        ...     h.flush_retry_s
        2.0
        """
        return self._store.flush_retry_s

    @flush_retry_s.setter
    def flush_retry_s(self, seconds: float) -> None:
        self._store.flush_retry_s = seconds

    # --- retrieval: summary, interpolated, plot, read_wide ---
    def _window(self, start: Any, end: Any, every: Any | None = None) -> tuple[int, int, int]:
        start_ns, end_ns = window_ns(start, end)  # one rule for reversed windows (times.py)
        every_ns = 0 if every is None else duration_ns(every)
        if every is not None and every_ns <= 0:
            raise InvalidArgumentError(f"every must be a positive duration, not {every!r}")
        return start_ns, end_ns, every_ns

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[None]:
        """One public call: this store's limits in effect, dependency errors mapped, and an
        argument of the wrong type reported as InvalidArgumentError (see docs/limits.md)."""
        scope = (contextlib.nullcontext() if self._limits is None
                 else _limits.using(self._limits))
        with scope, argument_errors(what), mapped_errors(f"{what} on {self.path}"):
            yield

    @property
    def limits(self) -> _limits.Limits:
        """The resource budgets of this store's calls (``historian.open(path, limits=...)``;
        without it, those of the block or the process: ``docs/limits.md``). Assign a
        :class:`historian.limits.Limits` or a dict of changes to change them.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp(), limits={"max_plot_width": 2000}) as h:
        ...     h.limits.max_plot_width
        2000
        """
        return _limits.current() if self._limits is None else self._limits

    @limits.setter
    def limits(self, value: _limits.Limits | Mapping[str, int] | None) -> None:
        self._limits = None if value is None else _limits.as_limits(value, self.limits)

    # --- tags ---
    @_boundary
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
        (:meth:`tag_versions`). ``type="string"`` makes a text tag (batch IDs, recipes, state
        texts: ``h.write(name, times, ["B-001", ...])``), always a step tag (docs/format.md).

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
        >>> h.define("BATCH.ID", type="string").kind
        'step'
        >>> h.close()
        """
        return self._store.define(name, unit=unit, kind=kind, lo=lo, hi=hi, rules=rules,
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
        return self._store.define_many(definitions, replace=replace)

    @_boundary
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
        return self._store.tag(name)

    @_boundary
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
        return self._store.tag_versions(name)

    @_boundary
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
        return self._store.tags(pattern)

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
        return self._store.resolve_tags(tags)

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
        return self._store.is_stepped(tags)

    # --- writing ---
    @_boundary
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
        return self._store.write(tag, times, values, quality)

    @_boundary
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
        return self._store.write_table(table)

    @_boundary
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
        return self._store.flush()

    @_boundary
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
        return self._store.qualify(tags, start, end, rules=rules, apply=apply, now=now,
                                   progress=progress)

    # --- reading ---
    @overload
    def read(self, tags: str | Iterable[str] | None = ..., start: Any = ..., end: Any = ..., *,
             as_of: Any = ..., reasons: bool = ..., tag_type: str = ...,
             annotations: Literal[False] = ...) -> pa.Table: ...

    @overload
    def read(self, tags: str | Iterable[str] | None = ..., start: Any = ..., end: Any = ..., *,
             as_of: Any = ..., reasons: bool = ..., tag_type: str = ...,
             annotations: Literal[True]) -> ReadResult: ...

    @_boundary
    def read(
        self,
        tags: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        *,
        as_of: Any = None,
        reasons: bool = False,
        tag_type: str = "string",
        annotations: bool = False,
    ) -> pa.Table | ReadResult:
        """Raw points with start <= time < end as a table (tag, time, value, quality), sorted.

        ``tags``: one name, a list, or None for all tags. ``start``/``end``: any time input, None
        for unbounded. ``as_of``: return what the store held at that moment (ingest time).
        ``reasons=True`` adds the qualification reason bits. Values are null where there is no
        value (NaN). ``tag_type="dictionary"`` returns the ``tag`` column as
        ``dictionary<int32, string>`` (no string bytes per row: faster and smaller for long
        reads; pandas gets a Categorical, polars a Categorical) instead of ``string``.
        ``annotations=True`` returns ``(points, annotations)`` instead
        (:class:`~historian.annotations.ReadResult`: the same table, and :meth:`annotations`
        of the same tags and window; ``docs/annotations.md``).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("LIC-101.PV")
        ...     _ = h.write("LIC-101.PV", [2_000_000_000, 1_000_000_000], [2.0, 1.0])
        ...     h.read("LIC-101.PV").column("value").to_pylist()
        [1.0, 2.0]
        """
        points = self._store.read(tags, start, end, as_of=as_of, reasons=reasons,
                                  tag_type=tag_type)  # fmt: skip
        if not annotations:
            return points
        from historian.annotations import read_result

        return read_result(self._store, points, tags, start, end)

    def read_batches(
        self,
        tags: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        *,
        batch_rows: int = 1_000_000,
        reasons: bool = False,
        tag_type: str = "string",
    ) -> Iterator[pa.RecordBatch]:
        """The rows of :meth:`read`, streamed as ``pyarrow.RecordBatch``es of at most
        ``batch_rows`` rows, for reads that do not fit in memory.

        Tags come in name order, each in time order (the order of :meth:`read`); the store
        decodes one time window of about ``batch_rows`` rows at a time, so memory stays bounded
        by the batch, not by the read. Every batch comes from the same committed snapshot of the
        files. Same arguments as :meth:`read` (no ``as_of``); errors are raised when the
        iteration reaches them.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("FIC-101.PV")
        ...     _ = h.write("FIC-101.PV", [i * 10**9 for i in range(5)], [1.0, 2, 3, 4, 5])
        ...     [b.num_rows for b in h.read_batches("FIC-101.PV", batch_rows=2)]
        [2, 2, 1]
        """
        from historian.storage.reader import read_batches

        batches = read_batches(self._store, tags, start, end, batch_rows=batch_rows,
                               reasons=reasons, tag_type=tag_type)  # fmt: skip
        while True:
            with self._call("read_batches"):  # errors mapped like every public call's
                batch = next(batches, None)
            if batch is None:
                return
            yield batch

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
        return self._store.bounded_series(tags, start_ns, end_ns)

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
        return self._store.scan_sources()

    @_boundary
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
        return self._store.info()

    # --- maintenance ---
    @_boundary
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
        return self._store.compact(days, full=full, progress=progress)

    @_boundary
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
        return self._store.retain(older_than, force=force)

    @_boundary
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
        return self._store.delete(tags, start, end, ingested=ingested)

    @_boundary
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
        return self._store.delete_tag(name)

    @_boundary
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
        return self._store.rename_tag(old, new)

    def summary(
        self,
        tags: str | Iterable[str] | None,
        start: Any = None,
        end: Any = None,
        every: Any = None,
        stats: Iterable[str] | str = ("twa", "min", "max", "count"),
        config: Any = None,
        *,
        tz: Any = None,
        shifts: Mapping[str, Any] | None = None,
        origin: Any = None,
        offset: Any = None,
        week_start: str | int | None = None,
        frames: Any = None,
    ) -> pa.Table:
        """Aggregates per interval, OPC UA Part 13 semantics, as a long table.

        One row per (tag, interval, stat): ``tag, start, stat, value, time, status``. ``stats``
        takes friendly names (``twa``, ``mean``, ``min``, ``max``, ``count``, ``pct_good`` ...) and
        Part 13 names (``"TimeAverage2"``); see ``docs/aggregates.md``. ``config`` is Part 13's
        AggregateConfiguration (TreatUncertainAsBad, PercentDataBad, PercentDataGood,
        UseSlopedExtrapolation) as a dict. Step tags are aggregated as Stepped. Bounding values
        just outside each interval come from the store, so intervals at the window edges are
        exact.

        Local time (``docs/calendar.md``): ``tz="Europe/Paris"`` with ``every="1d"``, ``"1w"``,
        ``"1mo"``, ``"1q"`` or ``"1y"`` gives calendar intervals that follow the wall clock
        (23 h and 25 h days at the clock changes; weeks from Monday unless ``week_start``);
        ``shifts={"early": "06:00", ...}`` one interval per shift (a ``shift`` column names
        it); ``offset``/``origin`` align fixed intervals (``every="8h", offset="6h"``) or move
        calendar ones. With ``tz`` the ``start`` and ``time`` columns carry the zone.

        Event frames (``docs/annotations.md``): ``frames=`` a table of :meth:`frames`, a name
        pattern (``"B-*"``) or a dict of :meth:`frames` filters (``{"template": "Batch"}``)
        gives one row per (tag, frame, stat) over each frame's exact ``[start, end)``:
        ``tag, frame, asset, start, end, stat, value, time, status`` (``start``/``end`` then
        only select the frames that overlap them; ``tz`` zones the times). ``annotation_count``
        (Part 13 AnnotationCount) counts each tag's annotations.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("FIC-101.PV")
        ...     _ = h.write("FIC-101.PV", [0, 10**9, 2 * 10**9, 3 * 10**9], [0.0, 10.0, 10.0, 0.0])
        ...     s = h.summary("FIC-101.PV", 0, 4 * 10**9, "2s", stats=["twa", "max"])
        ...     s.select(["stat", "value"]).to_pylist()[:2]
        [{'stat': 'twa', 'value': 7.5}, {'stat': 'max', 'value': 10.0}]
        """
        from historian.annotations import counted_times
        from historian.query.retrieval import check_summary_budget, summary_for_tags
        from historian.query.textstats import refuse_text, summary_with_texts

        with self._call("summary"):
            if frames is not None:
                from historian.frames import summary_by_frames

                return summary_by_frames(self._store, tags, frames, stats, config, start=start,
                                         end=end, tz=tz)  # fmt: skip
            if start is None or end is None:
                raise InvalidArgumentError("summary needs a start and an end (or frames=...)")
            names = self.resolve_tags(tags)
            calendar = {"tz": tz, "shifts": shifts, "origin": origin, "offset": offset,
                        "week_start": week_start}
            if not _plain(every, calendar):
                refuse_text(self._store, names, "a summary on calendar intervals or shifts")
                return self._calendar_summary(names, start, end, every, stats, config, calendar)
            start_ns, end_ns, every_ns = self._window(start, end, every)
            texts = summary_with_texts(self._store, names, start_ns, end_ns, every_ns, stats,
                                       config)  # text tags: count/first/last/duration_in_state
            if texts is not None:
                return texts
            stats = check_summary_budget(len(names), start_ns, end_ns, every_ns, stats)
            series = self.bounded_series(names, start_ns, end_ns)
            return summary_for_tags(
                {n: _arrays(series[n]) for n in names},
                start_ns=start_ns,
                end_ns=end_ns,
                every_ns=every_ns,
                stats=stats,
                config=config,
                stepped_by_tag=self.is_stepped(names),
                annotations_by_tag=counted_times(self._store, names, stats),
            )

    def _calendar_summary(self, names: list[str], start: Any, end: Any, every: Any,
                          stats: Any, config: Any, calendar: dict[str, Any]) -> pa.Table:
        """:meth:`summary` on calendar intervals or shifts (historian.model.calendar)."""
        from historian.model.calendar import calendar_edges
        from historian.query.intervals import check_intervals_budget, summary_on_intervals
        from historian.query.retrieval import _stats_list

        start_ns, end_ns = window_ns(start, end)
        intervals = calendar_edges(start_ns, end_ns, every, **calendar)
        stats = _stats_list(stats)
        check_intervals_budget(len(names), intervals, len(stats))
        series = self.bounded_series(names, start_ns, end_ns)
        from historian.annotations import counted_times

        return summary_on_intervals({n: _arrays(series[n]) for n in names}, intervals, stats,
                                    config=config, stepped_by_tag=self.is_stepped(names),
                                    annotations_by_tag=counted_times(self._store, names, stats))

    def interpolated(
        self,
        tags: str | Iterable[str] | None,
        start: Any,
        end: Any,
        every: Any,
        *,
        max_gap: Any = None,
        extrapolate: bool = False,
        quality: bool = False,
        config: Any = None,
        tz: Any = None,
        origin: Any = None,
        offset: Any = None,
        week_start: str | int | None = None,
    ) -> pa.Table:
        """Values on a regular grid: ``time`` plus one column per tag (wide).

        Linear between good samples for analog tags, held for step tags (Part 13 Interpolative);
        null where there is no value, the status is Bad, past the last sample (unless
        ``extrapolate``), or where the samples around a grid time are more than ``max_gap`` apart
        (staleness bound). ``quality=True`` adds a ``<tag>.quality`` StatusCode column per tag.
        ``tz``, ``origin``, ``offset``, ``week_start``: the grid is the start and the interval
        boundaries of :meth:`summary` (e.g. local midnights with ``every="1d", tz=...``), and
        ``time`` carries the zone (``docs/calendar.md``).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0, 10 * 10**9], [0.0, 10.0])
        ...     h.interpolated("A", 0, 10 * 10**9, "5s").column("A").to_pylist()
        [0.0, 5.0, 10.0]
        """
        from historian.query.align import interpolated_table
        from historian.query.textstats import refuse_text

        with self._call("interpolated"):
            refuse_text(self._store, self.resolve_tags(tags), "interpolated")
            return interpolated_table(
                self, self.resolve_tags(tags), start, end, every, max_gap=max_gap,
                extrapolate=extrapolate, quality=quality, config=config, tz=tz, origin=origin,
                offset=offset, week_start=week_start,
            )

    def plot(self, tag: str, start: Any, end: Any, width: int = 1000, *,
             tz: Any = None) -> pa.Table:
        """Values to draw ``tag`` on ``width`` pixels: per pixel the first, last, min, max and any
        Bad point (PI PlotValues), as raw points (tag, time, value, quality).
        With ``tz`` (``"Europe/Paris"``) the ``time`` column carries that zone.

        A chart drawn from these points looks identical to one drawn from every point.

        Examples
        --------
        >>> import historian, tempfile, numpy as np
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", np.arange(10_000) * 10**6, np.sin(np.arange(10_000) / 100))
        ...     h.plot("A", 0, 10**10, width=100).num_rows <= 4 * 100 + 2
        True
        """
        from historian.query.retrieval import check_plot_budget, plot_for_tag
        from historian.query.textstats import refuse_text

        with self._call("plot"):
            width = check_plot_budget(width)
            (name,) = self.resolve_tags([tag])
            refuse_text(self._store, [name], "plot")
            start_ns, end_ns, _ = self._window(start, end)
            series = self.bounded_series([name], start_ns, end_ns)[name]
            t, v, q = _arrays(series)
            table = plot_for_tag(t, v, q, start_ns=start_ns, end_ns=end_ns, width=width, tag=name)
            if tz is None:
                return table
            from historian.query.intervals import zoned

            return zoned(table, _zone_name(tz), ["time"])

    # --- query: sql, asof, correlate, events ---
    def verify(self, public_key: Any = None, *, hashes: bool = True) -> Any:
        """Check the hash chain of commits and every file's size and SHA-256 (changes nothing).

        Returns a :class:`~historian.storage.verify.VerifyReport`: ``ok``, ``first_break``
        (version, file, what differs), ``to_table()``, and figures (files, bytes, seconds).
        ``public_key``: the Ed25519 public key (PEM file, ``"env:NAME"`` or PEM bytes) the
        commits must be signed with. The same as ``historian verify STORE``; see
        ``docs/security.md``.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0], [1.0]); h.flush()
        ...     report = h.verify()
        ...     report.ok, report.first_break
        (True, None)
        """
        from historian.storage.verify import verify_store

        self._store.check_open()
        return verify_store(self.path, public_key=public_key, hashes=hashes,
                            storage_options=self._store.storage_options)

    def sql(self, query: str, params: Any = None, *, explain: bool | str = False) -> Any:
        """Run one read-only SQL ``SELECT`` over the store; a DuckDB relation over its result.

        Views: ``points`` (tag, time [TIMESTAMPTZ_NS], time_ns, value, quality, good, reasons,
        ingested; one row per (tag, time), last write wins, NaN stored as NULL), ``points_all``
        (every version) and ``tags``. Each call sees one consistent snapshot: the files of one
        commit plus the points not yet flushed. Pass values as parameters (``$name`` with a
        dict, ``?`` with a list); they are bound, never formatted into the SQL. Get results with
        ``.to_arrow_table()``, ``.df()`` (pandas), ``.pl()`` (polars) or ``.fetchall()``.
        Only one plain SELECT runs, in a DuckDB database of its own without file access, within
        a time limit (``sql_timeout``, 60 s), a memory limit (``duckdb_memory_limit``, "2GB")
        and a result budget (``sql_max_result_bytes``, 256 MiB), all options of
        :func:`historian.open`; anything else raises :class:`~historian.errors.QueryError`.
        ``explain=True`` returns the plan of the SELECT (``"analyze"``: run it, with timings).
        DuckDB's threads: ``historian.open(path, duckdb_threads=N)``. See ``docs/query.md``.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("TIC-101.PV")
        ...     _ = h.write("TIC-101.PV", [0, 10**9], [20.0, 80.0])
        ...     h.sql("SELECT count(*) FROM points WHERE tag = ? AND value > ?",
        ...           ["TIC-101.PV", 50]).fetchall()
        [(1,)]
        """
        self._store.check_open()
        return self._sql_engine.query(query, params, explain=explain)

    def asof(
        self,
        events: Any,
        tags: str | Iterable[str],
        *,
        on: str = "time",
        tolerance: Any = None,
        direction: str = "backward",
        quality: bool = True,
        sample_time: bool = False,
    ) -> pa.Table:
        """Attach each tag's raw value (and quality) at each event time, like pandas
        ``merge_asof`` or DuckDB's ``ASOF JOIN``.

        ``events``: a table (Arrow, pandas, polars) with a time column ``on``, or a list/array
        of times. ``direction``: ``"backward"`` (last sample at or before the event),
        ``"forward"`` or ``"nearest"`` (ties go to the earlier sample); ``tolerance``: the
        largest distance (e.g. ``"5min"``). Adds ``<tag>`` (value, null when unmatched) and
        ``<tag>.quality`` (Bad_NoData when unmatched) per tag, and ``<tag>.time`` with
        ``sample_time=True``. Rows keep the events' order.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0, 10 * 10**9], [1.0, 2.0])
        ...     h.asof([5 * 10**9, 10 * 10**9], "A").column("A").to_pylist()
        [1.0, 2.0]
        """
        from historian.query.asof import asof_join, event_times, store_series

        with self._call("asof"):
            names = self.resolve_tags(tags)
            _, ev = event_times(events, on)
            if direction not in ("backward", "forward", "nearest"):
                raise InvalidArgumentError(
                    f"direction must be 'backward', 'forward' or 'nearest', not {direction!r}"
                )
            tol = None if tolerance is None else duration_ns(tolerance)
            series = store_series(self, names, ev, direction, tol)
            return asof_join(
                events,
                series,
                on=on,
                tolerance=tolerance,
                direction=direction,
                quality=quality,
                sample_time=sample_time,
            )

    def read_wide(
        self,
        tags: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        *,
        quality: bool = False,
        as_of: Any = None,
    ) -> pa.Table:
        """Raw points pivoted wide: ``time`` (every distinct sample time) + one column per tag,
        null where a tag has no sample at that time (``quality=True`` adds ``<tag>.quality``).

        For a regular grid use :meth:`interpolated`. Same as
        ``h.read(...).to_pandas().pivot(index="time", columns="tag", values="value")``.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A"), h.define("B")
        ...     _ = h.write("A", [0, 1], [1.0, 2.0]), h.write("B", [1], [5.0])
        ...     h.read_wide().to_pydict()["B"]
        [None, 5.0]
        """
        from historian.query.asof import wide

        with self._call("read_wide"):
            return wide(self.read(tags, start, end, as_of=as_of), quality=quality)

    def correlate(
        self,
        tags: str | Iterable[str] | None,
        start: Any,
        end: Any,
        every: Any,
        max_lag: Any = None,
        *,
        method: str = "pearson",
        target: str | None = None,
        max_gap: Any = None,
        min_samples: int = 3,
        progress: bool | None = None,
        threads: int | None = None,
        tz: Any = None,
        origin: Any = None,
        offset: Any = None,
        week_start: str | int | None = None,
    ) -> pa.Table:
        """Correlation of every pair of tags (or of each tag with ``target``), with lags.

        The tags are aligned on a grid ``start, start+every, ... < end`` with
        :meth:`interpolated`; only Good grid values count (Bad, missing, stale - see
        ``max_gap`` - and values bridged across Bad samples are left out, pairwise). One row per
        pair, strongest first:

        - ``tag_a``, ``tag_b``; ``r`` and ``n``: the coefficient at lag 0 and the number of grid
          samples where both tags had a good value;
        - with ``max_lag`` (a duration, e.g. ``"30min"``): ``lag`` (duration), ``lag_steps``,
          ``r_at_lag``, ``n_at_lag``: the lag in ``[-max_lag, max_lag]`` with the largest
          ``|r|`` (ties: the smallest ``|lag|``). **A positive lag means tag_b lags tag_a** (tag_a
          leads): ``r_at_lag = corr(a(t), b(t + lag))``. With ``target``, ``tag_b`` is the target,
          so a positive lag reads "tag_a leads the target by lag".

        ``method``: ``"pearson"`` or ``"spearman"`` (ranks; the lag search ranks each series once,
        the reported figures are re-ranked per pair as pandas does). Pairs with fewer than
        ``min_samples`` common samples, or constant over them, give null. ``progress`` shows a
        tqdm bar for long runs (None: ``historian.options(progress=...)``, see
        :mod:`historian.progress`); ``threads`` bounds the worker threads (default 2).
        ``tz``, ``origin``, ``offset``, ``week_start`` align the grid as in :meth:`interpolated`
        (a calendar ``every`` such as ``"1d"`` in a zone takes no ``max_lag``).

        Examples
        --------
        >>> import historian, tempfile, numpy as np
        >>> t = np.arange(600) * 60 * 10**9                      # 10 h at 1 min
        >>> a = np.sin(np.arange(600) / 20.0)
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A"), h.define("B")
        ...     _ = h.write("A", t, a)
        ...     _ = h.write("B", t + 5 * 60 * 10**9, 2 * a)       # B = A, 5 minutes later
        ...     c = h.correlate(["A", "B"], t[0], t[-1], "1min", max_lag="15min", progress=False)
        >>> c.column("lag_steps")[0].as_py(), round(c.column("r_at_lag")[0].as_py(), 3)
        (5, 1.0)
        """
        from historian.query.correlate import correlate

        self._store.check_open()
        with self._call("correlate"):
            return correlate(
                self,
                tags,
                start,
                end,
                every,
                max_lag,
                method=method,
                target=target,
                max_gap=max_gap,
                min_samples=min_samples,
                progress=progress,
                threads=threads,
                **{k: v for k, v in (("tz", tz), ("origin", origin), ("offset", offset),
                                     ("week_start", week_start)) if v is not None},
            )

    def events(
        self,
        condition: Any,
        start: Any,
        end: Any,
        *,
        min_duration: Any = None,
        every: Any = None,
        max_gap: Any = None,
        tags: Iterable[str] | None = None,
        stats_tags: str | Iterable[str] | None = None,
        stats: Iterable[str] = ("min", "max", "mean"),
        tz: Any = None,
        origin: Any = None,
        offset: Any = None,
        week_start: str | int | None = None,
    ) -> pa.Table:
        """The periods in ``[start, end)`` where ``condition`` holds, with statistics.

        ``condition``: a string such as ``"TIC-101.PV > 80 and FIC-101.PV < 2"`` (comparisons,
        ``and``/``or``/``not``, numbers, tag names bare or quoted; grammar in ``docs/query.md``;
        parsed safely, never evaluated as Python or SQL), or a callable that takes the aligned
        table (``time`` + one column per tag in ``tags``) and returns one boolean per row.

        Alignment: with ``every`` the tags are interpolated on a regular grid
        (:meth:`interpolated`, with ``max_gap``); without, at the union of their own sample
        times (interpolated, or held for step tags). A value that is not Good (Bad, missing,
        stale, bridged across Bad samples) makes a comparison unknown (SQL logic): an event
        holds only where the condition is true.

        Returns one row per event: ``start``, ``end`` (the first aligned time where the
        condition no longer holds, or ``end`` of the window), ``duration``, ``ongoing`` (still
        true at the window end), and ``<tag>.<stat>`` over the raw Good samples in
        ``[start, end)`` for each tag of ``stats_tags`` (default: the condition's tags); stats
        from ``min, max, mean, count, first, last, std, range``. ``min_duration`` drops
        shorter events. ``tz``, ``origin``, ``offset``, ``week_start`` align the ``every`` grid as
        in :meth:`interpolated`; with ``tz`` the ``start`` and ``end`` columns carry the zone.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("TIC-101.PV")
        ...     _ = h.write("TIC-101.PV", [0, 1, 2, 3, 4], [70.0, 85.0, 90.0, 60.0, 95.0])
        ...     e = h.events("TIC-101.PV > 80", 0, 10)
        ...     e.select(["start", "ongoing", "TIC-101.PV.max"]).to_pylist()[0]["TIC-101.PV.max"]
        90.0
        """
        from historian.query.events import events

        self._store.check_open()
        with self._call("events"):
            return events(
                self,
                condition,
                start,
                end,
                tags=tags,
                min_duration=min_duration,
                every=every,
                max_gap=max_gap,
                stats_tags=stats_tags,
                stats=stats,
                tz=tz,
                origin=origin,
                offset=offset,
                week_start=week_start,
            )

    @functools.cached_property
    def assets(self) -> AssetModel:
        """The store's asset model (:class:`historian.assets.AssetModel`, ``docs/assets.md``):
        templates, assets on one path each, derived attributes, queries by path and template.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.add("SiteA/Area2/P-101", level="equipment_module")
        ...     h.assets.find("SiteA/**").column("path").to_pylist()
        ['SiteA/Area2/P-101']
        """
        from historian.assets import AssetModel

        self._store.check_open()
        return AssetModel(self, check_open=self._store.check_open)

    # --- annotations and event frames (docs/annotations.md) ---
    def annotate(self, target: str, time: Any, text: str, *, author: str | None = None,
                 end: Any = None) -> pa.Table:
        """Write an annotation on a tag or an asset at ``time`` (over ``[time, end)`` with
        ``end``); durable when it returns, like a point. Returns it as a one-row table.

        ``target``: a tag name or an asset path (``"SiteA/Area2/Pump1"``). ``author``: default
        the operating-system user (None when there is none). Last write wins per (target,
        time, author): annotating again replaces the text. The text is checked (at most 4,000
        characters, no control characters but tab and newline, no bidirectional overrides);
        see ``docs/annotations.md``.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.annotate("TIC-101.PV", "2026-01-01T08:00Z", "sensor replaced", author="jo")
        ...     h.annotations().column("text").to_pylist()
        ['sensor replaced']
        """
        from historian.annotations import annotate

        with self._call("annotate"):
            return annotate(self._store, target, time, text, author=author, end=end)

    def annotations(self, targets: str | Iterable[str] | None = None, start: Any = None,
                    end: Any = None) -> pa.Table:
        """The annotations of ``targets`` (names; None: all) that touch ``[start, end)`` (an
        instant in it, or a period that overlaps it), sorted by target and time: ``target,
        time, end, text, author, ingested`` (times ``timestamp[ns, UTC]``).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.annotate("P-101", 0, "started", author="jo")
        ...     _ = h.annotate("P-101", 10**12, "stopped", author="jo")
        ...     h.annotations("P-101", 0, 10**9).column("text").to_pylist()
        ['started']
        """
        from historian.annotations import list_annotations

        with self._call("annotations"):
            return list_annotations(self._store, targets, start, end)

    def add_frame(self, name: str, start: Any, end: Any = None, *, asset: str | None = None,
                  template: str | None = None,
                  attributes: Mapping[str, Any] | None = None) -> pa.Table:
        """Write an event frame ``[start, end)`` (``end=None``: still open); durable on
        return. Returns it as a one-row table of :meth:`frames`.

        ``asset``: the asset path it belongs to; ``template``: its kind (``"Batch"``);
        ``attributes``: a dict of str -> None/bool/int/float/str (a batch ID, a product).
        Last write wins per (asset, name, start): close an open frame by writing it again
        with its end.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.add_frame("B-1042", "2026-01-01T06:00Z", "2026-01-01T09:30Z",
        ...                     asset="SiteA/R1", template="Batch", attributes={"product": "PX"})
        ...     h.frames(template="Batch").column("attributes").to_pylist()
        ['{"product": "PX"}']
        """
        from historian.frames import add_frame

        with self._call("add_frame"):
            return add_frame(self._store, name, start, end, asset=asset, template=template,
                             attributes=attributes)  # fmt: skip

    def frames(self, start: Any = None, end: Any = None, *, asset: str | None = None,
               template: str | None = None, name: str | None = None) -> pa.Table:
        """The event frames that overlap ``[start, end)`` (an open one reaches to now), of
        ``asset`` or an asset under it, of ``template``, with a name matching the pattern
        ``name`` (``"B-*"``), sorted by start: ``name, asset, template, start, end,
        attributes`` (``end`` null while open; ``attributes`` JSON text: ``json.loads``).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.add_frame("B-1", 0, 10**9, asset="SiteA/R1")
        ...     _ = h.add_frame("B-2", 10**9, None, asset="SiteB/R7")
        ...     h.frames(asset="SiteA").column("name").to_pylist()
        ['B-1']
        """
        from historian.frames import list_frames

        with self._call("frames"):
            return list_frames(self._store, start, end, asset=asset, template=template,
                               name=name)  # fmt: skip

    def frames_from_events(self, condition: Any, start: Any, end: Any, *,
                           name: Any, asset: str | None = None, template: str | None = None,
                           attributes: Mapping[str, Any] | None = None,
                           **events_kwargs: Any) -> pa.Table:
        """One event frame per event of :meth:`events` (``condition``, ``start``, ``end`` and
        ``events_kwargs`` as there), written in one durable write; returns the frames.

        Each frame has the event's start and end (an ``ongoing`` event gives an open frame)
        and its statistics as attributes (``"TIC-101.PV.max"``), then ``attributes``.
        ``name``: a template with ``{n}`` (1, 2, ...), ``{start}`` and ``{end}`` (ISO, UTC),
        or a function of the event row. Frames of the same events (same name, asset, start)
        replace each other, so running this again adds nothing.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("TIC-101.PV")
        ...     _ = h.write("TIC-101.PV", [0, 10**9, 2 * 10**9], [70.0, 85.0, 60.0])
        ...     f = h.frames_from_events("TIC-101.PV > 80", 0, 4 * 10**9, name="hot {start}")
        ...     f.column("name").to_pylist()
        ['hot 1970-01-01T00:00:01Z']
        """
        from historian.frames import frames_from_events

        with self._call("frames_from_events"):
            events = self.events(condition, start, end, **events_kwargs)
            return frames_from_events(self._store, events, name=name, asset=asset,
                                      template=template, attributes=attributes)

    # --- notebook: repr ---
    def _repr_facts(self) -> dict[str, Any]:
        """The facts of the reprs, from :meth:`info`: points counted once per (tag, time)
        (superseded versions are rows, not points), the write-ahead log's points included (a
        reader reads them, as its reads return them)."""
        facts: dict[str, Any] = {"path": self.path, "writer": self.writable, "mode": self.mode}
        facts["tag_names"] = self.tags().column("name").to_pylist()
        info = self.info()
        facts.update(points=info["points"], exact=info["points_exact"],
                     rows=info["points_in_files"] + info["points_pending"],
                     pending=info["points_pending"], files=info["files"], bytes=info["bytes"],
                     first_ns=info["first_ns"], last_ns=info["last_ns"])  # fmt: skip
        return facts

    def __repr__(self) -> str:
        """``Historian('plant.hist', reader): 3 tags, 21,600 points, 2026-01-01 00:00:00 ->
        2026-01-01 02:00:00 UTC (2h), 1 file, 41.2 kB``."""
        if self._store.closed:
            return f"Historian({self.path!r}, closed)"
        f = self._repr_facts()
        role = "writer" if f["writer"] else ("read-only" if f["mode"] == "r" else "reader")
        parts = [f"{len(f['tag_names'])} tag{'s' if len(f['tag_names']) != 1 else ''}"]
        parts.append(_points_text(f))
        if f["first_ns"] is not None:
            parts.append(_span_text(f["first_ns"], f["last_ns"]))
        parts.append(f"{f['files']} file{'s' if f['files'] != 1 else ''}, {_size(f['bytes'])}")
        return f"Historian({self.path!r}, {role}): " + ", ".join(parts)

    def _repr_html_(self) -> str:
        """A small table for Jupyter: path, role, tags, time span, points, size on disk."""
        import html

        if self._store.closed:
            return f"<b>Historian</b> <code>{html.escape(self.path)}</code> (closed)"
        f = self._repr_facts()
        names = f["tag_names"]
        shown = ", ".join(html.escape(n) for n in names[:12]) + (" ..." if len(names) > 12 else "")
        role = "writer" if f["writer"] else ("read-only" if f["mode"] == "r" else "reader")
        rows = [
            ("path", f"<code>{html.escape(f['path'])}</code>"),
            ("opened as", role),
            ("tags", f"{len(names):,}" + (f": {shown}" if names else " (define some with "
                                          "<code>h.define(name, unit=...)</code>)")),
            ("time span", _span_text(f["first_ns"], f["last_ns"]) if f["first_ns"] is not None
             else "no points in files yet"),
            ("points", html.escape(_points_text(f))),
            ("on disk", f"{f['files']:,} file{'s' if f['files'] != 1 else ''}, {_size(f['bytes'])}"
             + (f" ({f['bytes'] / f['rows']:.2f} bytes/row)" if f["rows"] else "")),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
            for k, v in rows
        )
        return (f"<div><b>Historian</b><table>{body}</table><small>h.tags() lists the tags; "
                "h.read / h.summary / h.plot get data</small></div>")


def _plain(every: Any, calendar: dict[str, Any]) -> bool:
    """True when no calendar option is set and ``every`` is a fixed duration (today's rule)."""
    from historian.query.intervals import is_plain

    return is_plain(every, **calendar)


def _zone_name(tz: Any) -> str | None:
    """The IANA name of ``tz`` (a name or a ZoneInfo), checked; None stays None."""
    if tz is None:
        return None
    from historian.model.calendar import zone

    return str(zone(tz).key)


def _arrays(s: Any) -> tuple[Any, Any, Any]:
    import numpy as np

    if s is None:
        return np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.uint32)
    return s.time, s.value, s.quality


def open(path: str | os.PathLike[str], mode: Mode = "auto", **options: Any) -> Historian:
    """Open (or create) a store folder and return a :class:`Historian`.

    Parameters
    ----------
    path : str or os.PathLike
        Folder of the store, created when missing (``~`` is the home folder, as in the
        command line and the collector config); or ``"s3://bucket/prefix"`` for object
        storage (``storage_options={...}``; see ``docs/scale-out.md``).
    mode : {"auto", "w", "r"}
        ``"auto"``: read freely, take the writer lock at the first write; ``"w"``: take it now;
        ``"r"``: read-only. Any number of processes can read while one writes.
    limits : historian.limits.Limits or dict, optional
        Resource budgets of this store's calls, e.g. ``{"max_result_cells": 10**9}``; see
        ``docs/limits.md``.
    **options
        Storage options, see :class:`historian.storage.store.Store`.

    Examples
    --------
    >>> import historian, tempfile
    >>> h = historian.open(tempfile.mkdtemp())
    >>> h.writable
    False
    >>> h.close()
    """
    return Historian(path, mode, **options)


def _points_text(f: dict[str, Any]) -> str:
    """``1,234 points (12 not yet in files)``; above the exact-count limit, rows."""
    pending = f" ({f['pending']:,} not yet in files)" if f["pending"] else ""
    if f["exact"]:
        return f"{f['points']:,} point{'s' if f['points'] != 1 else ''}{pending}"
    return f"{f['rows']:,} rows{pending} (superseded versions included: too many to count)"


def _span_text(first_ns: int, last_ns: int) -> str:
    import datetime as _dt

    def iso(ns: int) -> str:
        d = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=ns // 1000)
        return d.strftime("%Y-%m-%d %H:%M:%S")

    seconds = (last_ns - first_ns) / 1e9
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or unit == "s":
            length = f"{seconds / size:.3g}{unit}"
            break
    return f"{iso(first_ns)} -> {iso(last_ns)} UTC ({length})"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n:.1f} TB"  # pragma: no cover
