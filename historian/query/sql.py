"""SQL over the store: DuckDB views ``points`` and ``tags`` over one consistent snapshot.

Each :meth:`SqlEngine.query` call takes one snapshot of the store (:meth:`Store.scan_sources`:
the Parquet files named by one commit plus the points not yet flushed) and runs one ``SELECT``
in a DuckDB database made for that call alone.

Views
-----
``points``
    One row per (tag, time), last write wins (the row with the largest ``ingested``):

    ========== ============= =====================================================================
    tag        VARCHAR       tag name
    time       TIMESTAMPTZ_NS  UTC, exact nanoseconds (Arrow ``timestamp[ns, UTC]``)
    time_ns    BIGINT        the same as nanoseconds since the epoch
    value      DOUBLE        NULL where there is no value (NaN is stored as NULL + Bad quality),
                             so NaN never reaches ``max()``, ``avg()`` or ``value > x``
    quality    UINTEGER      OPC UA StatusCode (0 = Good, 0x4... Uncertain, 0x8... Bad)
    good       BOOLEAN       ``quality < 0x40000000`` (Good severity)
    reasons    INTEGER       qualification reason bits
    ingested   TIMESTAMPTZ   when the point was written
    text       VARCHAR       the point's text (text tags, enumeration labels), else NULL
    ========== ============= =====================================================================

    The de-duplication window runs only when a (tag, time) can be stored twice in the
    snapshot (a file that holds superseded versions, files overlapping in tags and time, or
    unflushed points); otherwise ``points`` is ``points_all`` and costs no more.
``points_all``
    The same columns without deduplication: every stored version of a (tag, time).
``tags``
    The tag catalogue (``name, unit, kind, lo, hi, description, version, type``).

Exact nanoseconds: files store ms, us or ns per file; the snapshot's files are read as one
pyarrow dataset whose schema has ``timestamp[ns, UTC]``, so every file's unit is widened to ns
(never truncated to the first file's). Comparisons, ``time_bucket``, ``date_trunc``,
``extract``, ``epoch`` and ``epoch_ns`` work on it; ``epoch_ms``, ``epoch_us`` and ``age`` need
``time::TIMESTAMPTZ``. A string or datetime parameter binds as a microsecond TIMESTAMPTZ: for
nanosecond-exact filters write ``time > $t::TIMESTAMPTZ_NS`` or filter on ``time_ns``. Filters on
``tag`` and ``time`` pass through the deduplication window (it partitions by exactly those
columns); a ``tag`` filter reaches the dataset scan, whose fragments carry the tag range of their
row groups, so other tags' row groups are never read. DuckDB hands no nanosecond timestamp
filter to an Arrow scan: ``time`` is filtered just above it.

Safety: what runs, and what DuckDB can touch
--------------------------------------------
- **One plain SELECT.** The text must be exactly one statement that DuckDB's own parser types as
  ``SELECT`` *and* that DuckDB's serializer (``json_serialize_sql``, which serializes SELECT
  statements only) accepts; anything else (``COPY``, ``ATTACH``, ``SET``, ``CREATE``, ``PRAGMA``,
  ``CALL``, ``INSTALL``, ``EXPLAIN [ANALYZE] ...``, several statements) raises
  :class:`~historian.errors.QueryError` before anything runs. A query plan is an option:
  ``explain=True`` (or ``"analyze"``) wraps ``EXPLAIN`` around the already validated SELECT.
- **No file access.** The database is created with ``enable_external_access = false`` in its
  connect-time configuration (so ``allowed_directories`` is empty), no extension loading, no
  Python replacement scans, no temp directory; the local file system is disabled and the
  configuration locked before the query runs. DuckDB never sees a path: the snapshot's files
  reach it as a pyarrow dataset read with page-checksum verification (the same check as
  ``h.read``), so a damaged page raises :class:`~historian.errors.CorruptDataError`.
- **Nothing survives a query.** Every call gets its own in-memory database; a macro, view or
  setting cannot reach a later call.
- **Limits.** A time limit (``sql_timeout``, default 60 s: a timer interrupts DuckDB), a memory
  limit (``duckdb_memory_limit``, default 2 GB, no spilling to disk) and a result budget
  (``sql_max_result_bytes``, default 256 MiB of Arrow data) apply while the query executes. The
  result is materialized inside those limits and handed back as a DuckDB relation over it, so
  ``.fetchall()``, ``.arrow()``, ``.df()``, ``.pl()`` cost no further query time.
- **Errors.** Every DuckDB error becomes a :class:`~historian.errors.QueryError` (or
  ``CorruptDataError`` for a checksum failure) with the original as ``__cause__``.
- Values reach DuckDB only as bound parameters (``$name`` or ``?``), never as SQL text.

Examples
--------
>>> import historian, tempfile
>>> with historian.open(tempfile.mkdtemp()) as h:
...     _ = h.define("TIC-101.PV")
...     _ = h.write("TIC-101.PV", [0, 10**9, 2 * 10**9], [1.0, float("nan"), 3.0])
...     h.sql("SELECT max(value) AS m, count(value) AS n FROM points WHERE tag = $tag",
...           {"tag": "TIC-101.PV"}).fetchall()
[(3.0, 2)]
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from historian.errors import (
    CorruptDataError,
    HistorianError,
    InvalidArgumentError,
    QueryError,
    StoreError,
    first_line,
)
from historian.query.sqlfiles import FILES_SCHEMA, StoreDataset

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from historian.storage.store import Store

__all__ = [
    "DEFAULT_MAX_RESULT_BYTES",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT_S",
    "SqlEngine",
]

log = logging.getLogger(__name__)

#: Default time limit of one ``h.sql`` call, seconds (``historian.open(..., sql_timeout=)``).
DEFAULT_TIMEOUT_S = 60.0
#: Default DuckDB memory limit of one call (``historian.open(..., duckdb_memory_limit=)``).
DEFAULT_MEMORY_LIMIT = "2GB"
#: Default result budget of one call, bytes of Arrow data (``sql_max_result_bytes=``).
DEFAULT_MAX_RESULT_BYTES = 256 * 2**20

#: Connect-time configuration: no file access, no extensions, no replacement scans, no spill.
_LOCKED_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
    "temp_directory": "",
}

# Settings DuckDB accepts only once the database runs; then the configuration is locked.
# Static SQL only: no value is ever formatted into these strings.
_SETUP = (
    "SET TimeZone = 'UTC'",
    "SET disabled_filesystems = 'LocalFileSystem'",
    "SET secret_directory = ''",
    "SET lock_configuration = true",
)

_ALL_VIEW = """
CREATE TEMP VIEW points_all AS
SELECT tag,
       time,
       epoch_ns(time) AS time_ns,
       CASE WHEN isnan(v) THEN NULL ELSE v END AS value,
       quality::UINTEGER AS quality,
       quality < 1073741824 AS good,
       reasons,
       ingested,
       text
FROM (
    SELECT tag, time::TIMESTAMPTZ_NS AS time,
           coalesce(value, value_int::DOUBLE / pow(10, decimals)) AS v,
           quality, reasons, ingested::TIMESTAMPTZ AS ingested, text
    FROM historian_files
    UNION ALL
    SELECT tag, time::TIMESTAMPTZ_NS AS time, value AS v, quality, reasons,
           ingested::TIMESTAMPTZ AS ingested, text
    FROM historian_pending
)
"""

# Partitioning by the (tag, time) columns themselves lets DuckDB push filters on tag and time
# through the window into the dataset scan (row-group statistics).
_POINTS_VIEW = """
CREATE TEMP VIEW points AS
SELECT tag, time, time_ns, value, quality, good, reasons, ingested, text
FROM points_all
QUALIFY row_number() OVER (PARTITION BY tag, time ORDER BY ingested DESC) = 1
"""

# The same view when no (tag, time) can be stored twice in the snapshot (storage.reader.
# may_repeat: every file says it holds no repeat, and no two files overlap in tags and time):
# the window would only cost time (measured: about 2x the scan on all tags x 1 h).
_POINTS_VIEW_UNIQUE = """
CREATE TEMP VIEW points AS
SELECT tag, time, time_ns, value, quality, good, reasons, ingested, text
FROM points_all
"""

_UNBIND = ("DROP VIEW points", "DROP VIEW points_all")
_SERIALIZE = "SELECT json_serialize_sql($sql::VARCHAR)"
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_BATCH_ROWS = 65_536
_MAX_SQL_CHARS = 1_000_000
# Messages of the pyarrow Parquet reader when a stored file fails its checks.
_CORRUPT = ("checksum", "thrift", "magic bytes", "corrupt", "invalid parquet", "parquet file size")


def _positive_seconds(value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidArgumentError(
            f"sql_timeout must be a positive number of seconds or None (no limit), not {value!r}"
        )
    return float(value)


def _memory_limit(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return f"{value}B"
    if isinstance(value, str) and _MEMORY.match(value):
        return value.strip().replace(" ", "")
    raise InvalidArgumentError(
        f'duckdb_memory_limit must be a size such as "2GB" or "512MiB" (or bytes), not {value!r}'
    )


def _result_bytes(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(
            f"sql_max_result_bytes must be a positive int (bytes) or None (no limit), not {value!r}"
        )
    return value


def _is_duckdb(exc: BaseException) -> bool:
    return type(exc).__module__.lstrip("_").startswith("duckdb")


class SqlEngine:
    """Runs read-only SQL over one store, one isolated DuckDB database per query.

    See the module docstring for what runs and what DuckDB may touch.

    Parameters
    ----------
    store : Store
        The store whose snapshots the views show.
    threads : int, optional
        DuckDB worker threads per query (default: 2, or fewer CPUs).
    memory_limit : str or int, optional
        DuckDB ``memory_limit`` per query (``"2GB"``, or bytes); default
        :data:`DEFAULT_MEMORY_LIMIT`. Nothing spills to disk: a query that needs more fails.
    timeout : float or None, optional
        Seconds one query may run (execution and fetching its result); default
        :data:`DEFAULT_TIMEOUT_S`; None: no limit.
    max_result_bytes : int or None, optional
        Arrow bytes one result may hold; default :data:`DEFAULT_MAX_RESULT_BYTES`; None: no
        limit.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp(), sql_timeout=5) as h:
    ...     h._sql_engine.timeout
    5.0
    """

    def __init__(
        self,
        store: Store,
        *,
        threads: int | None = None,
        memory_limit: str | int | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        max_result_bytes: int | None = DEFAULT_MAX_RESULT_BYTES,
    ):
        if threads is not None and (
            not isinstance(threads, int) or isinstance(threads, bool) or threads < 1
        ):
            raise InvalidArgumentError(f"duckdb_threads must be a positive int, not {threads!r}")
        self._store = store
        self._threads = threads or max(1, min(2, os.cpu_count() or 1))
        self._memory_limit = _memory_limit(
            DEFAULT_MEMORY_LIMIT if memory_limit is None else memory_limit
        )
        self._timeout = _positive_seconds(timeout)
        self._max_result_bytes = _result_bytes(max_result_bytes)
        self._files = StoreDataset(store)  # the snapshot's files, fragments cached

    @property
    def threads(self) -> int:
        """DuckDB worker threads per query."""
        return self._threads

    @property
    def timeout(self) -> float | None:
        """Seconds one query may run (None: no limit)."""
        return self._timeout

    @property
    def memory_limit(self) -> str:
        """DuckDB memory limit of one query."""
        return self._memory_limit

    @property
    def max_result_bytes(self) -> int | None:
        """Arrow bytes one result may hold (None: no limit)."""
        return self._max_result_bytes

    # ------------------------------------------------------------------ the database
    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A new in-memory database, locked down before any SQL of the caller runs."""
        import duckdb  # lazy: `import historian` stays light

        config = dict(_LOCKED_CONFIG, threads=self._threads, memory_limit=self._memory_limit)
        try:
            con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:
            raise QueryError(f"cannot start DuckDB for h.sql: {first_line(exc)}") from exc
        try:
            for statement in _SETUP:
                con.execute(statement)
        except duckdb.Error as exc:  # pragma: no cover - a DuckDB without these settings
            con.close()
            raise QueryError(f"cannot lock down DuckDB for h.sql: {first_line(exc)}") from exc
        return con

    def _bind_snapshot(
        self,
        con: duckdb.DuckDBPyConnection,
        sources: tuple[list[str], pa.Table],
        tag_filter: Callable[[str], bool] | None = None,
    ) -> None:
        """Register one snapshot of the store (``sources``: :meth:`Store.pinned_scan`) and
        create the views on ``con``.

        With ``tag_filter`` every input (files, pending points, catalogue) holds only the
        catalogue's tags it accepts, before any SQL of the caller can see them.
        """
        paths, pending = sources
        files = self._files.dataset(paths) if paths else FILES_SCHEMA.empty_table()
        catalogue = self._store.tags()
        if tag_filter is not None:
            import pyarrow.compute as pc
            import pyarrow.dataset as pads

            names = [n for n in catalogue.column("name").to_pylist() if tag_filter(n)]
            allowed = pa.array(names, pa.string())
            catalogue = catalogue.filter(pc.is_in(catalogue.column("name"), value_set=allowed))
            pending = pending.filter(pc.is_in(pending.column("tag"), value_set=allowed))
            files = files.filter(pads.field("tag").isin(allowed))
        con.register("historian_files", files)
        con.register("historian_pending", pending)
        con.register("tags", catalogue)
        con.execute(_ALL_VIEW)
        from historian.storage.reader import may_repeat

        unique = not may_repeat(self._store, paths, pending.num_rows)
        con.execute(_POINTS_VIEW_UNIQUE if unique else _POINTS_VIEW)

    # ------------------------------------------------------------------ validation
    def _validate(self, con: duckdb.DuckDBPyConnection, sql: str, explain: bool | str) -> str:
        """The text to run: ``sql`` when it is exactly one plain SELECT, maybe under EXPLAIN."""
        import duckdb

        if "\x00" in sql:
            raise QueryError("the SQL text contains a NUL character: remove it")
        if len(sql) > _MAX_SQL_CHARS:
            raise QueryError(
                f"the SQL text has {len(sql):,} characters, more than h.sql accepts "
                f"({_MAX_SQL_CHARS:,}): pass values as parameters, not as text"
            )
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryError(f"SQL syntax error: {first_line(exc)}") from exc
        if len(statements) != 1:
            raise QueryError(
                f"h.sql runs exactly one SELECT statement, got {len(statements)}: "
                "send one statement per call"
            )
        kind = statements[0].type.name
        if kind != "SELECT":
            hint = (
                "for a query plan pass the SELECT alone with h.sql(query, explain=True)"
                if kind == "EXPLAIN"
                else "write a SELECT over the views points, points_all and tags"
            )
            raise QueryError(
                f"h.sql is read-only and runs one plain SELECT; {kind} statements are "
                f"refused: {hint}"
            )
        try:
            ((text,),) = con.execute(_SERIALIZE, {"sql": sql}).fetchall()
            serialized = json.loads(text)
        except (duckdb.Error, TypeError, ValueError) as exc:
            raise QueryError(f"DuckDB cannot check this query: {first_line(exc)}") from exc
        if serialized.get("error") or len(serialized.get("statements", ())) != 1:
            raise QueryError(
                "h.sql runs one plain SELECT, and DuckDB does not accept this text as one: "
                f"{serialized.get('error_message', 'not a single SELECT statement')} "
                "(PIVOT statements are not plain SELECTs: use conditional aggregates)"
            )
        if not explain:
            return sql
        prefix = "EXPLAIN ANALYZE " if explain == "analyze" else "EXPLAIN "
        text = prefix + sql
        wrapped = con.extract_statements(text)
        if len(wrapped) != 1 or wrapped[0].type.name != "EXPLAIN":  # pragma: no cover
            raise QueryError("cannot build the EXPLAIN of this query")
        return text

    # ------------------------------------------------------------------ running
    def query(
        self,
        sql: str,
        params: Any = None,
        *,
        explain: bool | str = False,
        tag_filter: Callable[[str], bool] | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """Run one SELECT with bound parameters under the limits; a relation over its result.

        ``explain=True`` returns DuckDB's plan of the SELECT instead, ``explain="analyze"`` runs
        it and returns the plan with timings (``EXPLAIN ANALYZE``, same limits).
        ``tag_filter`` (a predicate on tag names; the read service's token scope) hides every
        tag it rejects from ``points``, ``points_all`` and ``tags`` before the SQL runs.
        """
        if not isinstance(sql, str):
            raise InvalidArgumentError(f"query must be a str, not {type(sql).__name__}")
        if params is not None and not isinstance(params, dict | list | tuple):
            raise InvalidArgumentError(
                "params must be a dict (for $name) or a list/tuple (for ?), "
                f"not {type(params).__name__}"
            )
        if explain not in (False, True, "analyze"):
            raise InvalidArgumentError(f'explain must be False, True or "analyze", not {explain!r}')
        bound = list(params) if isinstance(params, tuple) else params
        con = self._connect()
        try:
            text = self._validate(con, sql, explain)
            with self._store.pinned_scan() as sources:  # vacuum leaves its files meanwhile
                self._bind_snapshot(con, sources, tag_filter)
                table = self._execute(con, text, bound)
            # The relation handed back reads the materialized result only: the store is gone.
            for statement in _UNBIND:
                con.execute(statement)
            for name in ("historian_files", "historian_pending", "tags"):
                con.unregister(name)
            return con.from_arrow(table)
        except BaseException as exc:
            con.close()
            if isinstance(exc, HistorianError) or not _is_duckdb(exc):
                raise
            raise self._mapped(exc) from exc

    def _execute(self, con: duckdb.DuckDBPyConnection, text: str, params: Any) -> pa.Table:
        """Run ``text`` and fetch its result as Arrow, within the time and result limits."""
        import duckdb

        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            con.interrupt()

        timer = None
        if self._timeout is not None:
            timer = threading.Timer(self._timeout, stop)
            timer.daemon = True
            timer.start()
        batches: list[pa.RecordBatch] = []
        size = rows = 0
        try:
            rel = con.sql(text) if params is None else con.sql(text, params=params)
            if rel is None:  # pragma: no cover - only SELECT/EXPLAIN reach here
                raise QueryError("the statement returned no result")
            reader = rel.to_arrow_reader(_BATCH_ROWS)
            try:
                schema = reader.schema
                for batch in reader:
                    size += batch.nbytes
                    rows += batch.num_rows
                    if self._max_result_bytes is not None and size > self._max_result_bytes:
                        raise self._over_budget(rows)
                    batches.append(batch)
            finally:
                reader.close()
            return pa.Table.from_batches(batches, schema=schema)
        except HistorianError:
            raise
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            if timed_out.is_set():
                raise self._timed_out() from exc
            raise self._mapped(exc) from exc
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()

    # ------------------------------------------------------------------ errors
    def _timed_out(self) -> QueryError:
        return QueryError(
            f"h.sql stopped the query after {self._timeout:g} s, its time limit (sql_timeout): "
            "filter on tag and time or aggregate, or raise the limit with "
            "historian.open(path, sql_timeout=SECONDS) (None: no limit) or "
            "`historian query --timeout SECONDS`"
        )

    def _over_budget(self, rows: int) -> QueryError:
        return QueryError(
            f"the result grew past the SQL result budget of {self._max_result_bytes:,} bytes "
            f"(sql_max_result_bytes) after {rows:,} rows: add a LIMIT, aggregate, or raise the "
            "budget with historian.open(path, sql_max_result_bytes=BYTES) (None: no limit) or "
            "`historian query --max-result-bytes BYTES`; for raw points h.read is faster"
        )

    def _mapped(self, exc: BaseException) -> HistorianError:
        """A historian error for a DuckDB (or pyarrow) error, naming what to fix."""
        import duckdb

        first = first_line(exc)
        low = str(exc).lower()
        if "historian_files" in low or "arrow source" in low or not isinstance(exc, duckdb.Error):
            if any(word in low for word in _CORRUPT):
                return CorruptDataError(
                    f"h.sql found a damaged data file: {first} (the file no longer matches its "
                    "page checksums; run `historian verify STORE` to name it and restore it "
                    "from a backup)"
                )
            return StoreError(f"h.sql could not read the store's data files: {first}")
        if isinstance(exc, duckdb.OutOfMemoryException):
            return QueryError(
                f"the query needs more memory than its limit of {self._memory_limit} "
                "(duckdb_memory_limit; h.sql spills nothing to disk): filter on tag and time or "
                'aggregate, or raise the limit with historian.open(path, duckdb_memory_limit="4GB")'
                " or `historian query --memory-limit 4GB`"
            )
        if isinstance(exc, duckdb.InterruptException):
            return QueryError(f"the query was interrupted: {first}")
        if isinstance(exc, duckdb.PermissionException):
            return QueryError(
                f"h.sql has no file, network or extension access: {first}; read the store "
                "through the views points, points_all and tags"
            )
        if isinstance(exc, duckdb.ParserException):
            return QueryError(f"SQL syntax error: {first}")
        if isinstance(exc, duckdb.CatalogException | duckdb.BinderException):
            return QueryError(
                f"{first} (h.sql has the views points, points_all and tags; see docs/query.md)"
            )
        return QueryError(f"the query failed: {first}")

    def close(self) -> None:
        """Nothing to release: every query has its own database (kept for the store's close)."""
