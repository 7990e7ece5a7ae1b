"""SQL over the store: DuckDB views ``points`` and ``tags`` over one consistent snapshot.

Each :meth:`SqlEngine.query` call takes one snapshot of the store (:meth:`Store.scan_sources`:
the Parquet files named by one commit plus the points not yet flushed) and runs the statement
on a fresh DuckDB cursor whose temporary views see exactly that snapshot.

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
    ========== ============= =====================================================================

``points_all``
    The same columns without deduplication: every stored version of a (tag, time).
``tags``
    The tag catalogue (``name, unit, kind, lo, hi, description, version``).

Exact nanoseconds: files store ms, us or ns per file; DuckDB unifies them by name
(``union_by_name``: without it the first file's unit would truncate the others) and the view
casts to TIMESTAMPTZ_NS. Comparisons, ``time_bucket``, ``date_trunc``, ``extract``, ``epoch``
and ``epoch_ns`` work on it; ``epoch_ms``, ``epoch_us`` and ``age`` need ``time::TIMESTAMPTZ``.
A string or datetime parameter binds as a microsecond TIMESTAMPTZ: for nanosecond-exact
filters write ``time > $t::TIMESTAMPTZ_NS`` or filter on ``time_ns``. Filters on ``tag`` and
``time`` reach the Parquet scan through the deduplication window.

Safety: values reach DuckDB only as bound parameters (``$name`` or ``?``); file paths go through
the relation API, never into SQL text. After setup the database allows file access only under
the store's ``points/`` folder, refuses extensions, and locks its configuration; only ``SELECT``
(and ``EXPLAIN``) statements are accepted, so ``COPY``, ``ATTACH``, ``SET``, ``INSTALL``,
``CREATE`` and friends raise :class:`~historian.errors.InvalidArgumentError`.

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

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from historian.errors import InvalidArgumentError

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from historian.storage.store import Store

__all__ = ["SqlEngine"]

log = logging.getLogger(__name__)

#: Schema of the data files as the view expects it when a snapshot has no file yet.
_EMPTY_FILES = pa.schema(
    [
        ("tag", pa.string()),
        ("time", pa.timestamp("ns", tz="UTC")),
        ("value", pa.float64()),
        ("value_int", pa.int64()),
        ("decimals", pa.int8()),
        ("quality", pa.int64()),
        ("reasons", pa.int32()),
        ("ingested", pa.timestamp("us", tz="UTC")),
    ]
)

# Static SQL only: no value is ever formatted into these strings.
_ALL_VIEW = """
CREATE OR REPLACE TEMP VIEW points_all AS
SELECT tag,
       time,
       epoch_ns(time) AS time_ns,
       CASE WHEN isnan(v) THEN NULL ELSE v END AS value,
       quality::UINTEGER AS quality,
       quality < 1073741824 AS good,
       reasons,
       ingested
FROM (
    SELECT tag, time::TIMESTAMPTZ_NS AS time,
           coalesce(value, value_int::DOUBLE / pow(10, decimals)) AS v,
           quality, reasons, ingested::TIMESTAMPTZ AS ingested
    FROM historian_files
    UNION ALL
    SELECT tag, time::TIMESTAMPTZ_NS AS time, value AS v, quality, reasons,
           ingested::TIMESTAMPTZ AS ingested
    FROM historian_pending
)
"""

# Partitioning by the (tag, time) columns themselves lets DuckDB push filters on tag and time
# through the window into the Parquet scan (row-group statistics).
_POINTS_VIEW = """
CREATE OR REPLACE TEMP VIEW points AS
SELECT tag, time, time_ns, value, quality, good, reasons, ingested
FROM points_all
QUALIFY row_number() OVER (PARTITION BY tag, time ORDER BY ingested DESC) = 1
"""

_ALLOWED = {"SELECT", "EXPLAIN"}


class SqlEngine:
    """A lazily created DuckDB database bound to one store (see the module docstring).

    Parameters
    ----------
    store : Store
        The store whose snapshots the views show.
    threads : int, optional
        DuckDB worker threads (default: 2, or fewer CPUs).
    memory_limit : str, optional
        DuckDB ``memory_limit`` (e.g. ``"2GB"``); DuckDB's default when None.
    """

    def __init__(
        self, store: Store, *, threads: int | None = None, memory_limit: str | None = None
    ):
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InvalidArgumentError(f"duckdb_threads must be a positive int, not {threads!r}")
        self._store = store
        self._threads = threads or max(1, min(2, os.cpu_count() or 1))
        self._memory_limit = memory_limit
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        """DuckDB worker threads."""
        return self._threads

    def _connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                import duckdb  # lazy: `import historian` stays light

                config: dict[str, Any] = {
                    "threads": self._threads,
                    "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False,
                    "allow_community_extensions": False,
                }
                if self._memory_limit is not None:
                    config["memory_limit"] = str(self._memory_limit)
                con = duckdb.connect(":memory:", config=config)
                points_dir = os.path.join(self._store.path, "points") + os.sep
                try:
                    con.execute("SET TimeZone = 'UTC'")
                except duckdb.Error:  # pragma: no cover - DuckDB without ICU: UTC already
                    log.debug("DuckDB has no TimeZone setting (no ICU); times are UTC")
                con.execute("SET allowed_directories = $dirs", {"dirs": [points_dir]})
                con.execute("SET enable_external_access = false")
                con.execute("SET lock_configuration = true")
                self._con = con
                log.debug("DuckDB ready (%d threads) for %s", self._threads, self._store.path)
            return self._con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB cursor with the views over a fresh snapshot of the store."""
        paths, pending = self._store.scan_sources()
        cur = self._connection().cursor()
        fs = getattr(self._store, "_fs", None)
        if paths and fs is not None and not fs.is_local:
            # Object storage: pyarrow reads the files (DuckDB's httpfs is not needed, and DuckDB
            # keeps no external access); the dataset schema casts every file's time unit to ns.
            import pyarrow.dataset as pads

            dataset = pads.dataset(
                [fs.path(fs.rel(p)) for p in paths], filesystem=fs.filesystem, format="parquet",
                schema=_EMPTY_FILES,
            )  # fmt: skip
            files = cur.from_arrow(dataset)
        elif paths:
            files = cur.read_parquet(paths, union_by_name=True, hive_partitioning=False)
        else:
            files = cur.from_arrow(_EMPTY_FILES.empty_table())
        files.create_view("historian_files", replace=True)
        cur.register("historian_pending", pending)
        cur.register("tags", self._store.tags())
        cur.execute(_ALL_VIEW)
        cur.execute(_POINTS_VIEW)
        return cur

    def query(self, sql: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """Run one SELECT statement with bound parameters; returns a lazy DuckDB relation."""
        if not isinstance(sql, str):
            raise InvalidArgumentError(f"query must be a str, not {type(sql).__name__}")
        if params is not None and not isinstance(params, (dict, list, tuple)):
            raise InvalidArgumentError(
                "params must be a dict (for $name) or a list/tuple (for ?), "
                f"not {type(params).__name__}"
            )
        cur = self.cursor()
        statements = cur.extract_statements(sql)
        if len(statements) != 1:
            raise InvalidArgumentError(
                f"h.sql runs exactly one statement, got {len(statements)}"
            )
        kind = statements[0].type.name
        if kind not in _ALLOWED:
            raise InvalidArgumentError(
                f"h.sql is read-only: {kind} statements are refused (use SELECT)"
            )
        if params is None:
            return cur.sql(sql)
        return cur.sql(sql, params=list(params) if isinstance(params, tuple) else params)

    def close(self) -> None:
        """Close the DuckDB database (relations from :meth:`query` stop working)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
