"""Retrieval over intervals and conditions: summary (fixed, calendar and frame
intervals), interpolated, plot, correlate, events.

Methods of :class:`historian.api.Historian` (bound in its class body, see
:mod:`historian.api._method`); the work is done in ``historian.query``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from historian.api._method import method
from historian.errors import InvalidArgumentError
from historian.model.times import window_ns

if TYPE_CHECKING:
    from historian.api import Historian


@method
def summary(
    self: Historian,
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
        calendar = {
            "tz": tz,
            "shifts": shifts,
            "origin": origin,
            "offset": offset,
            "week_start": week_start,
        }
        if not _plain(every, calendar):
            refuse_text(self._store, names, "a summary on calendar intervals or shifts")
            return self._calendar_summary(names, start, end, every, stats, config, calendar)
        start_ns, end_ns, every_ns = self._window(start, end, every)
        asked = stats if isinstance(stats, str) else list(stats)
        texts = summary_with_texts(
            self._store, names, start_ns, end_ns, every_ns, asked, config
        )  # text tags: count/first/last/duration_in_state
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


@method
def _calendar_summary(
    self: Historian,
    names: list[str],
    start: Any,
    end: Any,
    every: Any,
    stats: Any,
    config: Any,
    calendar: dict[str, Any],
) -> pa.Table:
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

    return summary_on_intervals(
        {n: _arrays(series[n]) for n in names},
        intervals,
        stats,
        config=config,
        stepped_by_tag=self.is_stepped(names),
        annotations_by_tag=counted_times(self._store, names, stats),
    )


@method
def interpolated(
    self: Historian,
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
            self,
            self.resolve_tags(tags),
            start,
            end,
            every,
            max_gap=max_gap,
            extrapolate=extrapolate,
            quality=quality,
            config=config,
            tz=tz,
            origin=origin,
            offset=offset,
            week_start=week_start,
        )


@method
def plot(
    self: Historian, tag: str, start: Any, end: Any, width: int = 1000, *, tz: Any = None
) -> pa.Table:
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


@method
def correlate(
    self: Historian,
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
            **{
                k: v
                for k, v in (
                    ("tz", tz),
                    ("origin", origin),
                    ("offset", offset),
                    ("week_start", week_start),
                )
                if v is not None
            },
        )


@method
def events(
    self: Historian,
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
