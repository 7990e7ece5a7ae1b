"""Arrow tables on top of the kernels: summaries, interpolated (wide) values, plot values.

These functions take plain arrays (one tag) or a dict ``tag -> (t_ns, values, quality)`` (what the
store read, including the bounding samples just outside the window) and return
:mod:`pyarrow` tables with the schemas of :mod:`historian.model.schema`.

Examples
--------
>>> import numpy as np
>>> t = np.array(["2026-01-01T00:00:00", "2026-01-01T00:00:30", "2026-01-01T00:01:00"],
...              dtype="datetime64[ns]")
>>> tbl = summarize(t, [1.0, 3.0, 5.0], start="2026-01-01T00:00:00Z",
...                 end="2026-01-01T00:01:00Z", every="1min", stats=["twa", "max", "count"])
>>> tbl.column("stat").to_pylist(), tbl.column("value").to_pylist()
(['twa', 'max', 'count'], [3.0, 3.0, 2.0])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from historian.errors import InvalidArgumentError, InvalidDataError, argument_errors
from historian.kernels import AggregateConfig, aggregate_many, interpolate, plot, resolve_stat
from historian.kernels._config import interval_edges
from historian.kernels.aggregates import DURATION_AGGREGATES, FRIENDLY_NAMES
from historian.kernels.interpolate import grid
from historian.limits import current
from historian.model import arrow, buffers
from historian.model import quality as _q
from historian.model.labels import repeated_strings, tiled_strings
from historian.model.schema import POINTS_SCHEMA, SUMMARY_SCHEMA, TIME_TYPE
from historian.model.times import duration_ns, user_ns, user_ns_array
from historian.query.intervals import is_plain, summary_on_intervals

__all__ = [
    "AggregateConfig",
    "check_interpolated_budget",
    "check_plot_budget",
    "check_summary_budget",
    "interpolated_for_tags",
    "plot_for_tag",
    "summarize",
    "summary_for_tags",
]

_BAD_BIT = np.uint32(_q.BAD)
Series = tuple[Any, Any, Any]


def _stats_list(stats: Any) -> list[str]:
    if isinstance(stats, str):
        stats = [stats]
    try:
        out = list(stats)
    except TypeError:
        raise InvalidArgumentError(
            f"stats must be a name or a list of names, not {stats!r}"
        ) from None
    if not out:
        raise InvalidArgumentError("stats is empty; ask for at least one, e.g. stats=['twa']")
    for s in out:
        resolve_stat(s)  # raises InvalidArgumentError listing the valid names
    return list(dict.fromkeys(out))


def _value_scale(given: str) -> float:
    """Durations: seconds for friendly names, milliseconds (OPC UA Duration) for Part 13 names."""
    p13 = resolve_stat(given)
    if p13 not in DURATION_AGGREGATES:
        return 1.0
    friendly = given in FRIENDLY_NAMES or given.lower() in FRIENDLY_NAMES
    return 1e-9 if friendly else 1e-6


def _series_arrays(tag: str, item: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    try:
        t, v, q = item
    except (TypeError, ValueError):
        raise InvalidDataError(
            f"series[{tag!r}] must be a (t_ns, values, quality) tuple of arrays"
        ) from None
    return np.asarray(t), np.asarray(v), None if q is None else np.asarray(q)


def _time_array(t: np.ndarray) -> pa.Array:
    return arrow.array(np.asarray(t, dtype=np.int64), TIME_TYPE)


def _interleave(out: np.ndarray, columns: list[np.ndarray], rows: int = 8192) -> None:
    """``out[:, i] = columns[i]`` for a 2-D ``out``, a block of rows at a time: the block of
    ``out`` being written stays in cache while every column is copied into it (about 30 %
    faster than one strided pass per column on 10^6-row results)."""
    if len(columns) == 1:
        out[:, 0] = columns[0]
        return
    for k in range(0, out.shape[0], rows):
        part = out[k : k + rows]
        for i, column in enumerate(columns):
            part[:, i] = column[k : k + rows]


def check_summary_budget(
    n_tags: int, start_ns: int, end_ns: int, every_ns: int, stats: Iterable[str] | str
) -> list[str]:
    """Refuse a summary of more than ``max_result_cells`` rows (intervals x stats x tags) before
    anything is read or allocated; returns the stats as a checked list."""
    names = _stats_list(stats)
    if every_ns <= 0:
        raise InvalidArgumentError(f"every must be positive, got {every_ns} ns")
    intervals = max(0, -(-(int(end_ns) - int(start_ns)) // int(every_ns)))
    current().check(
        "max_result_cells",
        intervals * len(names) * n_tags,
        f"summary rows ({intervals:,} intervals x {len(names)} stats x {n_tags} tags)",
        "ask for a larger `every`, a shorter window, fewer stats or fewer tags",
    )
    return names


def check_interpolated_budget(
    n_tags: int, start_ns: int, end_ns: int, every_ns: int, quality: bool = False
) -> None:
    """Refuse an interpolation of more than ``max_result_cells`` values (grid points x columns,
    a quality column counting as one) before anything is read or allocated."""
    if every_ns <= 0:
        raise InvalidArgumentError(f"every must be positive, got {every_ns} ns")
    points = max(0, (int(end_ns) - int(start_ns)) // int(every_ns) + 1)
    columns = n_tags * (2 if quality else 1)
    current().check(
        "max_result_cells",
        points * columns,
        f"interpolated values ({points:,} grid points x {columns} columns)",
        "ask for a larger `every`, a shorter window or fewer tags",
    )


def check_plot_budget(width: Any) -> int:
    """A plot width: a positive int of at most ``max_plot_width`` pixels."""
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool) or width < 1:
        raise InvalidArgumentError(f"width must be a positive number of pixels, not {width!r}")
    current().check(
        "max_plot_width",
        int(width),
        "plot width (pixels)",
        "a screen is a few thousand pixels wide: ask for fewer",
    )
    return int(width)


def summary_for_tags(
    series: Mapping[str, Series],
    *,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    stats: Iterable[str] | str,
    config: Any = None,
    stepped_by_tag: Mapping[str, bool] | None = None,
    annotations_by_tag: Mapping[str, Any] | None = None,
) -> pa.Table:
    """The long summary table (``SUMMARY_SCHEMA``) for several tags.

    ``series`` maps tag -> ``(t_ns, values, quality)`` with the samples of the window plus the
    bounding samples outside it. Rows are ordered by tag (as given), interval start, then stat
    (as asked). ``value`` is null where the status is Bad. ``annotations_by_tag``: annotation
    times per tag, counted by AnnotationCount (``annotation_count``).
    """
    names = check_summary_budget(len(series), start_ns, end_ns, every_ns, stats)
    cfg = AggregateConfig.from_any(config)
    stepped_by_tag = stepped_by_tag or {}
    tags = list(series)
    if not tags:
        return SUMMARY_SCHEMA.empty_table()
    edges = interval_edges(start_ns, end_ns, every_ns)
    m = edges.size - 1
    ns = len(names)
    block = m * ns  # rows per tag: interval-major, stat-minor
    scales = [_value_scale(name) for name in names]
    # one tag, one stat: the kernel's arrays are the columns; otherwise the columns are written
    # in place per (tag, stat): no interleaving temporaries, no concatenation
    single = len(tags) == 1 and ns == 1
    if not single:  # in Arrow's pool: reused pages, no page fault per 4 KiB written
        value = buffers.empty(len(tags) * block, np.float64)
        times = buffers.empty(len(tags) * block, np.int64)
        status = buffers.empty(len(tags) * block, np.uint32)
        todo = _summary_at_once(series, tags, names, edges, stepped_by_tag, (value, times, status))
    else:
        todo = list(range(len(tags)))
    for ti in todo:
        tag = tags[ti]
        t, v, q = _series_arrays(tag, series[tag])
        res = aggregate_many(
            t,
            v,
            q,
            start_ns=start_ns,
            end_ns=end_ns,
            every_ns=every_ns,
            stats=names,
            config=cfg,
            stepped=bool(stepped_by_tag.get(tag, False)),
            annotations_ns=(annotations_by_tag or {}).get(tag),
        )
        vals = [
            res[n].values if sc == 1.0 else res[n].values * sc
            for n, sc in zip(names, scales, strict=True)
        ]
        if single:
            r = res[names[0]]
            value = np.ascontiguousarray(vals[0], dtype=np.float64)
            times = np.ascontiguousarray(r.time_ns, dtype=np.int64)
            status = np.ascontiguousarray(r.status, dtype=np.uint32)
            break
        rows = slice(ti * block, (ti + 1) * block)
        _interleave(value[rows].reshape(m, ns), vals)
        _interleave(times[rows].reshape(m, ns), [res[n].time_ns for n in names])
        _interleave(status[rows].reshape(m, ns), [res[n].status for n in names])
    usable = np.isfinite(value)
    usable &= status < _BAD_BIT  # the Bad bit is the top bit: one comparison, no temporary
    null = ~usable
    if ns == 1 and len(tags) == 1:
        starts = edges[:-1]
    else:
        starts = buffers.empty(len(tags) * block, np.int64)
        starts.reshape(len(tags), m, ns)[:] = edges[:-1, None]
    columns = [
        repeated_strings(tags, np.full(len(tags), block)),
        _time_array(starts),
        tiled_strings(names, m * len(tags)),
        arrow.array(value, pa.float64(), mask=null),
        _time_array(times),
        arrow.array(status, pa.uint32()),
    ]
    return pa.Table.from_arrays(columns, schema=SUMMARY_SCHEMA)


def _summary_at_once(
    series: Mapping[str, Series],
    tags: list[str],
    names: list[str],
    edges: np.ndarray,
    stepped_by_tag: Mapping[str, bool],
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> list[int]:
    """Fill ``out`` (the long value/time/status columns) for every tag the multi-series fast
    path covers, in one kernel call over all tags' points; returns the indices of the tags left
    for ``aggregate_many`` (all of them when the call is small, a stat is not a fast-path one,
    or the arrays are not the store's int64/float64/uint32 ones)."""
    from historian.kernels._small import MAX_POINTS

    everything = list(range(len(tags)))
    p13 = [resolve_stat(n) for n in names]
    arrays = [series[tag] for tag in tags]
    if not all(isinstance(x, tuple) and len(x) == 3 for x in arrays):
        return everything
    sizes = np.array([getattr(t, "size", -1) for t, _v, _q in arrays], dtype=np.int64)
    if sizes.sum() <= MAX_POINTS or len(tags) < 2:
        return everything
    from historian.kernels._multi import MULTI_NAMES, aggregate_series

    if not set(p13) <= MULTI_NAMES or not all(
        _store_arrays(t, v, q, n) for (t, v, q), n in zip(arrays, sizes, strict=True)
    ):
        return everything
    with_q = [q for _t, _v, q in arrays if q is not None]
    q_all = (
        np.concatenate(
            [
                np.zeros(n, np.uint32) if q is None else q
                for (_t, _v, q), n in zip(arrays, sizes, strict=True)
            ]
        )
        if with_q
        else np.empty(0, dtype=np.uint32)
    )
    offsets = np.zeros(len(tags) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    stepped = np.array([bool(stepped_by_tag.get(tag, False)) for tag in tags])
    vals, tms, sts, covered = aggregate_series(
        np.concatenate([t for t, _v, _q in arrays]),
        np.concatenate([v for _t, v, _q in arrays]),
        q_all,
        offsets,
        edges,
        p13,
        stepped,
    )
    m, ns = edges.size - 1, len(names)
    for col, res in zip(out, (vals, tms, sts), strict=True):  # (tags, stats, m) -> (tags, m, stats)
        col.reshape(len(tags), m, ns)[:] = res.transpose(0, 2, 1)
    return [int(i) for i in np.flatnonzero(~covered)]


def _store_arrays(t: Any, v: Any, q: Any, n: int) -> bool:
    """Arrays as the store returns them: int64 times, float64 values, uint32 (or no) quality."""
    ok = isinstance(t, np.ndarray) and t.dtype == np.int64 and t.ndim == 1
    ok = ok and isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (n,)
    return ok and (
        q is None or (isinstance(q, np.ndarray) and q.dtype == np.uint32 and q.shape == (n,))
    )


def _status_codes(quality: Any) -> np.ndarray:
    from historian.errors import InvalidDataError
    from historian.model.quality import codes

    q = np.asarray(quality)
    if q.dtype == np.uint32:  # StatusCodes already: a view (no range check can fail)
        return q
    try:
        return codes(q)
    except ValueError as exc:
        raise InvalidDataError(f"quality: {exc}") from None


def summarize(
    times: Any,
    values: Any,
    quality: Any = None,
    *,
    start: Any,
    end: Any,
    every: Any = None,
    stats: Iterable[str] | str,
    config: Any = None,
    stepped: bool = False,
    tag: str = "",
    tz: Any = None,
    shifts: Mapping[str, Any] | None = None,
    origin: Any = None,
    offset: Any = None,
    week_start: str | int | None = None,
    annotations: Any = None,
) -> pa.Table:
    """Part 13 summaries of arrays that never entered a store (``historian.summarize``).

    Parameters
    ----------
    times
        Sample times: datetime64, pandas/pyarrow timestamps, ISO strings or int ns.
    values, quality
        float values and uint32 OPC UA StatusCodes (``None``: all Good).
    start, end
        Window ``[start, end)``: ISO strings, datetimes, ``"now-1h"``, int ns ...
    every
        Interval length: seconds, a ``timedelta`` or a string such as ``"1min"``.
    stats
        Friendly names (``"twa"``, ``"mean"``, ``"min"``...) and/or Part 13 names
        (``"TimeAverage2"``); see ``docs/aggregates.md``.
    config
        Part 13 AggregateConfiguration as a dict (``{"TreatUncertainAsBad": True}``) or
        :class:`AggregateConfig`.
    stepped
        Hold values between samples (step tags) instead of interpolating linearly.
    tag
        The value of the ``tag`` column.
    tz, shifts, origin, offset, week_start
        Local-time intervals as in :meth:`Historian.summary` (``docs/calendar.md``): calendar
        ``every`` (``"1d"``, ``"1w"``, ``"1mo"``, ``"1q"``, ``"1y"``) in zone ``tz``, named
        shifts, aligned fixed intervals; ``start`` and ``time`` then carry the zone.
    annotations
        Times of the annotations of the series (any time input), counted by
        ``annotation_count`` (Part 13 AnnotationCount; ``docs/annotations.md``).

    Returns
    -------
    pyarrow.Table
        ``tag, start, stat, value, time, status`` (``historian.model.schema.SUMMARY_SCHEMA``).

    Examples
    --------
    >>> import historian, numpy as np
    >>> t = np.arange(4) * 1_000_000_000          # 0 s, 1 s, 2 s, 3 s
    >>> s = historian.summarize(t, [0.0, 10.0, 10.0, 0.0], start=0, end=4 * 10**9, every="2s",
    ...                         stats=["twa", "max"])
    >>> s.column("value").to_pylist()[:2]      # the first 2 s: linear 0 -> 10, then 10
    [7.5, 10.0]
    """
    with argument_errors("historian.summarize"):
        calendar = {
            "tz": tz,
            "shifts": shifts,
            "origin": origin,
            "offset": offset,
            "week_start": week_start,
        }
        ann = None if annotations is None else user_ns_array(annotations)
        return _summarize(
            times,
            values,
            quality,
            start=start,
            end=end,
            every=every,
            stats=stats,
            config=config,
            stepped=stepped,
            tag=tag,
            calendar=calendar,
            annotations_ns=ann,
        )


def _summarize(
    times: Any,
    values: Any,
    quality: Any,
    *,
    start: Any,
    end: Any,
    every: Any,
    stats: Iterable[str] | str,
    config: Any,
    stepped: bool,
    tag: str,
    calendar: dict[str, Any] | None = None,
    annotations_ns: Any = None,
) -> pa.Table:
    t_ns = user_ns_array(times)
    v = (
        np.asarray(values, dtype=np.float64)
        if not hasattr(values, "to_numpy")
        else np.asarray(values.to_numpy(), dtype=np.float64)
    )
    q = None if quality is None else _status_codes(quality)  # ints or StatusCode names
    if calendar and not is_plain(every, **calendar):
        from historian.model.calendar import calendar_edges
        from historian.model.times import window_ns

        start_ns, end_ns = window_ns(start, end)
        intervals = calendar_edges(start_ns, end_ns, every, **calendar)
        return summary_on_intervals(
            {tag: (t_ns, v, q)},
            intervals,
            stats,
            config=config,
            stepped_by_tag={tag: stepped},
            annotations_by_tag={tag: annotations_ns},
        )
    return summary_for_tags(
        {tag: (t_ns, v, q)},
        start_ns=user_ns(start),
        end_ns=user_ns(end),
        every_ns=duration_ns(every),
        stats=stats,
        config=config,
        stepped_by_tag={tag: stepped},
        annotations_by_tag={tag: annotations_ns},
    )


def interpolated_for_tags(
    series: Mapping[str, Series],
    *,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    stepped_by_tag: Mapping[str, bool] | None = None,
    max_gap_ns: int | None = None,
    extrapolate: bool = False,
    quality: bool = False,
    config: Any = None,
    grid_ns: np.ndarray | None = None,
) -> pa.Table:
    """Wide table: ``time`` (start, start+every, ... up to and including end; or ``grid_ns``,
    e.g. local midnights, checked against the budget by the caller) + one float64
    column per tag (Part 13 Interpolative), null where there is no value, the status is Bad, or
    the samples around the grid time are more than ``max_gap_ns`` apart.

    With ``quality=True`` each tag column is followed by ``<tag>.quality`` (uint32 StatusCode:
    raw code where a sample sits on the grid time, else Good/UncertainDataSubNormal with the
    Interpolated bit, Bad_NoData where null).
    """
    if grid_ns is None:
        check_interpolated_budget(len(series), start_ns, end_ns, every_ns, quality)
    g = grid(start_ns, end_ns, every_ns) if grid_ns is None else grid_ns
    stepped_by_tag = stepped_by_tag or {}
    cfg = AggregateConfig.from_any(config)
    names = ["time"]
    columns: list[pa.Array] = [_time_array(g)]
    for tag, item in series.items():
        t, v, q = _series_arrays(tag, item)
        vals, st = interpolate(
            t,
            v,
            q,
            grid_ns=g,
            stepped=bool(stepped_by_tag.get(tag, False)),
            config=cfg,
            max_gap_ns=max_gap_ns,
            extrapolate=extrapolate,
        )
        null = ((st & _BAD_BIT) != 0) | ~np.isfinite(vals)
        names.append(tag)
        columns.append(arrow.array(vals, pa.float64(), mask=null))
        if quality:
            names.append(f"{tag}.quality")
            columns.append(arrow.array(st, pa.uint32()))
    return pa.Table.from_arrays(columns, names=names)


def plot_for_tag(
    t_ns: Any,
    values: Any,
    quality: Any,
    *,
    start_ns: int,
    end_ns: int,
    width: int,
    tag: str = "",
) -> pa.Table:
    """Plot values (PI PlotValues / M4) as raw points ``tag, time, value, quality``.

    Per pixel interval of ``[start, end)``: the first, last, minimum and maximum sample and the
    first non-Good one, plus the nearest samples outside the window; sorted, no duplicates.
    """
    width = check_plot_budget(width)
    t, v, q = plot(t_ns, values, quality, start_ns=start_ns, end_ns=end_ns, width=width)
    n = t.size
    return pa.Table.from_arrays(
        [
            repeated_strings([tag], [n]),
            _time_array(t),
            arrow.array(v, pa.float64(), mask=~np.isfinite(v)),
            arrow.array(q, pa.uint32()),
        ],
        schema=POINTS_SCHEMA,
    )
