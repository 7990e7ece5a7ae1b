"""The public ``Historian``: the storage engine plus retrieval, SQL and correlation on top."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from historian import limits as _limits
from historian.errors import InvalidArgumentError, argument_errors, mapped_errors
from historian.model.times import duration_ns, to_ns, window_ns
from historian.storage.store import Mode, Store


class Historian(Store):
    """A historian store: write, read, summarise, interpolate, plot, query.

    Open one with :func:`historian.open`. Safe to share between threads (writes are serialised,
    reads run concurrently). Use it as a context manager or call :meth:`close`.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TIC-101.PV", unit="degC")
    ...     _ = h.write("TIC-101.PV", ["2026-01-01T00:00:00Z"], [21.5])
    ...     h.read("TIC-101.PV").num_rows
    1
    """

    # --- retrieval: summary, interpolated, plot ---
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

    def summary(
        self,
        tags: str | Iterable[str] | None,
        start: Any,
        end: Any,
        every: Any = None,
        stats: Iterable[str] | str = ("twa", "min", "max", "count"),
        config: Any = None,
        *,
        tz: Any = None,
        shifts: Mapping[str, Any] | None = None,
        origin: Any = None,
        offset: Any = None,
        week_start: str | int | None = None,
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
        from historian.query.retrieval import check_summary_budget, summary_for_tags

        with self._call("summary"):
            names = self.resolve_tags(tags)
            calendar = {"tz": tz, "shifts": shifts, "origin": origin, "offset": offset,
                        "week_start": week_start}
            if not _plain(every, calendar):
                return self._calendar_summary(names, start, end, every, stats, config, calendar)
            start_ns, end_ns, every_ns = self._window(start, end, every)
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
        return summary_on_intervals({n: _arrays(series[n]) for n in names}, intervals, stats,
                                    config=config, stepped_by_tag=self.is_stepped(names))

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

        with self._call("interpolated"):
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

        with self._call("plot"):
            width = check_plot_budget(width)
            (name,) = self.resolve_tags([tag])
            start_ns, end_ns, _ = self._window(start, end)
            series = self.bounded_series([name], start_ns, end_ns)[name]
            t, v, q = _arrays(series)
            table = plot_for_tag(t, v, q, start_ns=start_ns, end_ns=end_ns, width=width, tag=name)
            if tz is None:
                return table
            from historian.query.intervals import zoned

            return zoned(table, _zone_name(tz), ["time"])

    # --- query: sql, asof, correlate, events ---
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
            super().__init__(path, mode, **options)
        from historian.query.sql import SqlEngine  # no duckdb import until the first h.sql()

        self._sql_engine = SqlEngine(
            self, threads=duckdb_threads, memory_limit=duckdb_memory_limit,
            timeout=sql_timeout, max_result_bytes=sql_max_result_bytes,
        )  # fmt: skip

    def close(self) -> None:
        """Close the store (and its DuckDB database, if one was opened); flushes pending points.

        Examples
        --------
        >>> import historian, tempfile
        >>> h = historian.open(tempfile.mkdtemp())
        >>> h.close()
        >>> h.close()  # closing twice is harmless
        """
        engine = getattr(self, "_sql_engine", None)
        if engine is not None:
            engine.close()
        super().close()

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

        self._check_open()
        opts = None if self._fs is None else self._fs.storage_options()
        return verify_store(self.path, public_key=public_key, hashes=hashes,
                            storage_options=opts)  # fmt: skip

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
        self._check_open()
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

        self._check_open()
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

        self._check_open()
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
        if self._closed:
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

        if self._closed:
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


def _boundary(name: str) -> Any:
    """A storage method of Store, called through :meth:`Historian._call`."""
    base = getattr(Store, name)

    @functools.wraps(base)
    def method(self: Historian, *args: Any, **kwargs: Any) -> Any:
        with self._call(name):
            return base(self, *args, **kwargs)

    return method


# The storage methods a Historian inherits keep the same contract: only HistorianError escapes.
for _name in ("read", "write", "write_table", "define", "tag", "tag_versions", "tags", "flush",
              "qualify", "compact", "retain", "info", "delete", "delete_tag", "rename_tag"):
    setattr(Historian, _name, _boundary(_name))
del _name


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
