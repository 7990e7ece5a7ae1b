"""The public ``Historian``: a storage engine (:class:`~historian.storage.store.Store`) plus
retrieval, SQL and correlation on top.

A ``Historian`` holds one ``Store`` and delegates every storage call to it in one line, inside
:meth:`Historian._call` (this store's limits in effect, only ``HistorianError`` escapes); the
docstrings users read live on the methods. The class here keeps what every call shares (opening,
closing, ``_call``, limits, the window check); the methods live in one module per job and are
bound in the class body by name (no inheritance, see :mod:`historian.api._method`):
``_points`` (write, read, asof), ``_summaries`` (summary, interpolated, plot, correlate,
events), ``_catalog`` (tags, assets), ``_records`` (annotations, event frames), ``_admin``
(flush, compact, retain, delete, verify, sql) and ``_display`` (repr).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from typing import Any

from historian import limits as _limits
from historian.api import _admin, _catalog, _display, _points, _records, _summaries
from historian.errors import InvalidArgumentError, argument_errors, mapped_errors
from historian.model.times import duration_ns, window_ns
from historian.storage.store import Mode, Store


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

    # --- shared by the calls ---
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
        scope = contextlib.nullcontext() if self._limits is None else _limits.using(self._limits)
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

    # --- the methods, one module per job (see historian.api._method) ---
    # tags and assets
    define = _catalog.define
    define_many = _catalog.define_many
    tag = _catalog.tag
    tag_versions = _catalog.tag_versions
    tags = _catalog.tags
    resolve_tags = _catalog.resolve_tags
    is_stepped = _catalog.is_stepped
    delete_tag = _catalog.delete_tag
    rename_tag = _catalog.rename_tag
    assets = functools.cached_property(_catalog.assets)

    # points in and out
    write = _points.write
    write_table = _points.write_table
    qualify = _points.qualify
    read = _points.read
    read_batches = _points.read_batches
    bounded_series = _points.bounded_series
    scan_sources = _points.scan_sources
    read_wide = _points.read_wide
    asof = _points.asof

    # maintenance and SQL
    flush = _admin.flush
    info = _admin.info
    compact = _admin.compact
    retain = _admin.retain
    delete = _admin.delete
    verify = _admin.verify
    sql = _admin.sql

    # retrieval over intervals and conditions
    summary = _summaries.summary
    _calendar_summary = _summaries._calendar_summary
    interpolated = _summaries.interpolated
    plot = _summaries.plot
    correlate = _summaries.correlate
    events = _summaries.events

    # annotations and event frames (docs/annotations.md)
    annotate = _records.annotate
    annotations = _records.annotations
    add_frame = _records.add_frame
    frames = _records.frames
    frames_from_events = _records.frames_from_events

    # notebook: repr
    _repr_facts = _display._repr_facts
    __repr__ = _display.__repr__
    _repr_html_ = _display._repr_html_


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
