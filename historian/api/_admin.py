"""Looking after a store: flush, info, compact, retain, delete, verify, and the SQL
entry point.

Methods of :class:`historian.api.Historian` (bound in its class body, see
:mod:`historian.api._method`); the storage calls delegate to the ``Store`` in one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from historian.api._method import boundary, method

if TYPE_CHECKING:
    from historian.api import Historian


@boundary
def flush(self: Historian) -> None:
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


@boundary
def info(self: Historian) -> dict[str, Any]:
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


@boundary
def compact(
    self: Historian,
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
    ``history`` are kept for ``read(as_of=...)``. Replaced files stay on disk while a read of
    any process holds an older snapshot listing them (and ``grace_hours``), so running
    readers keep working. Returns the number of files replaced.

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


@boundary
def retain(self: Historian, older_than: Any, *, force: bool = False) -> int:
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


@boundary
def delete(
    self: Historian,
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


@method
def verify(self: Historian, public_key: Any = None, *, hashes: bool = True) -> Any:
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
    return verify_store(
        self.path, public_key=public_key, hashes=hashes, storage_options=self._store.storage_options
    )


@method
def sql(self: Historian, query: str, params: Any = None, *, explain: bool | str = False) -> Any:
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
