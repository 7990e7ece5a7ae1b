"""Summaries and grids on the intervals of :mod:`historian.model.calendar` (local days, months,
shifts, aligned fixed intervals): the edges go to the Part 13 kernels as they are, so a 23 h or
25 h local day is summarised exactly, and the result times carry the zone.

Examples
--------
>>> import numpy as np
>>> from historian.model.calendar import calendar_edges
>>> from historian.model.times import to_ns
>>> iv = calendar_edges(to_ns("2026-03-28T23:00Z"), to_ns("2026-03-30T22:00Z"), "1d",
...                     tz="Europe/Paris")
>>> t = np.arange(to_ns("2026-03-28T23:00Z"), to_ns("2026-03-30T22:00Z"), 3600 * 10**9)
>>> s = summary_on_intervals({"A": (t, np.ones(t.size), None)}, iv, ["count"])
>>> s.column("value").to_pylist(), str(s.schema.field("start").type)
([23.0, 24.0], 'timestamp[ns, tz=Europe/Paris]')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from historian.kernels import AggregateConfig, aggregate_many
from historian.kernels._config import prepare_series
from historian.kernels.aggregates import AggregateResult
from historian.limits import current
from historian.model import quality as _q
from historian.model.calendar import Intervals, calendar_edges, is_calendar

__all__ = [
    "aggregate_on_edges",
    "check_intervals_budget",
    "grid_intervals",
    "interpolated_on_grid",
    "is_plain",
    "summary_on_intervals",
    "zoned",
]

_BAD_BIT = np.uint32(_q.BAD)
_SEVERITY = np.uint32(_q.SEVERITY_MASK)
_BAD_NO_DATA = np.uint32(_q.BAD_NO_DATA)


def is_plain(
    every: Any,
    tz: Any = None,
    origin: Any = None,
    offset: Any = None,
    week_start: Any = None,
    shifts: Any = None,
) -> bool:
    """True when the call asks for today's intervals ``start + k * every`` in UTC (no calendar).

    >>> is_plain("1d"), is_plain("1d", tz="Europe/Paris"), is_plain("1mo")
    (True, False, False)
    """
    if tz is not None or origin is not None or offset is not None or week_start is not None:
        return False
    if every is None:
        return False  # the calendar path says what is missing
    return shifts is None and not is_calendar(every)


def zoned(table: pa.Table, tz: str | None, columns: Iterable[str]) -> pa.Table:
    """``table`` with its timestamp ``columns`` in zone ``tz`` (same instants, new type).

    >>> t = pa.table({"time": pa.array([0], pa.timestamp("ns", tz="UTC"))})
    >>> str(zoned(t, "Europe/Paris", ["time"]).schema.field("time").type)
    'timestamp[ns, tz=Europe/Paris]'
    """
    if tz is None:
        return table
    for name in columns:
        i = table.schema.get_field_index(name)
        if i >= 0:
            field = table.schema.field(i)
            table = table.set_column(
                i,
                field.with_type(pa.timestamp("ns", tz=tz)),
                table.column(i).cast(pa.timestamp("ns", tz=tz)),
            )
    return table


def grid_intervals(start_ns: int, end_ns: int, every: Any, **calendar: Any) -> np.ndarray:
    """Grid times of an interpolation: ``start`` and every interval boundary in ``(start, end]``.

    >>> grid_intervals(0, 10, "4ns", offset="0s").tolist()
    [0, 4, 8]
    """
    iv = calendar_edges(int(start_ns), int(end_ns) + 1, every, **calendar)
    return iv.edges[:-1]


def check_intervals_budget(n_tags: int, intervals: Intervals, n_stats: int) -> None:
    """Refuse a summary of more than ``max_result_cells`` rows (intervals x stats x tags)."""
    m = intervals.count
    current().check(
        "max_result_cells",
        m * n_stats * n_tags,
        f"summary rows ({m:,} intervals x {n_stats} stats x {n_tags} tags)",
        "ask for a larger `every`, a shorter window, fewer stats or fewer tags",
    )


def aggregate_on_edges(
    t_ns: Any,
    values: Any,
    quality: Any,
    edges: np.ndarray,
    stats: list[str],
    *,
    config: Any = None,
    stepped: bool = False,
    annotations_ns: Any = None,
    wanted: np.ndarray | None = None,
) -> dict[str, AggregateResult]:
    """:func:`historian.kernels.aggregate_many` on arbitrary ``edges`` (int64, increasing;
    ``annotations_ns``: the annotation times AnnotationCount counts).

    The edges are cut into runs of equal interval length; each run goes to the kernel with the
    samples it can need (those inside, everything back to the second Good sample before it and
    on to the second Good sample after it) and the end of the whole history, so each result is
    the one the kernel gives for that interval on the whole series. ``wanted`` (one bool per
    interval): runs without a wanted interval are not computed (NaN, Bad_NoData), e.g. the
    gaps between event frames.
    """
    edges = np.asarray(edges, dtype=np.int64)
    s = prepare_series(t_ns, values, quality)
    t, v = s.t_ns, s.values
    q = None if quality is None else s.quality
    good = np.flatnonzero(((s.quality & _SEVERITY) == 0) & np.isfinite(v))
    lengths = np.diff(edges)
    cuts = np.flatnonzero(lengths[1:] != lengths[:-1]) + 1
    firsts = np.concatenate([[0], cuts]).tolist()
    lasts = np.concatenate([cuts, [lengths.size]]).tolist()
    parts: dict[str, list[AggregateResult]] = {name: [] for name in stats}
    for a, b in zip(firsts, lasts, strict=True):
        if wanted is not None and not wanted[a:b].any():
            skipped = _no_data(edges[a : b + 1])
            for name in stats:
                parts[name].append(skipped)
            continue
        lo_t, hi_t = int(edges[a]), int(edges[b])
        lo, hi = np.searchsorted(t, [lo_t, hi_t]).tolist()
        g = int(np.searchsorted(good, lo))
        lo = int(good[g - 2]) if g >= 2 else 0
        g = int(np.searchsorted(good, hi))
        hi = int(good[g + 1]) + 1 if g + 1 < good.size else t.size
        res = aggregate_many(
            t[lo:hi],
            v[lo:hi],
            None if q is None else q[lo:hi],
            start_ns=lo_t,
            end_ns=hi_t,
            every_ns=int(lengths[a]),
            stats=stats,
            config=config,
            stepped=stepped,
            data_end_ns=s.data_end_ns,
            annotations_ns=annotations_ns,
        )
        for name in stats:
            parts[name].append(res[name])
    out = {}
    for name, rs in parts.items():
        out[name] = AggregateResult(
            edges[:-1].copy(),
            np.concatenate([r.values for r in rs]),
            np.concatenate([r.time_ns for r in rs]),
            np.concatenate([r.status for r in rs]),
        )
    return out


def _no_data(edges: np.ndarray) -> AggregateResult:
    """Bad_NoData results (NaN values, interval starts as times) for intervals not computed."""
    n = edges.size - 1
    return AggregateResult(edges[:-1].copy(), np.full(n, np.nan), edges[:-1].copy(),
                           np.full(n, _BAD_NO_DATA, dtype=np.uint32))  # fmt: skip


def _strings(values: list[str], codes: np.ndarray) -> pa.Array:
    dictionary = pa.array(values, pa.string())
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32), pa.int32()), dictionary
    ).cast(pa.string())


def summary_on_intervals(
    series: Mapping[str, tuple[Any, Any, Any]],
    intervals: Intervals,
    stats: Iterable[str] | str,
    *,
    config: Any = None,
    stepped_by_tag: Mapping[str, bool] | None = None,
    annotations_by_tag: Mapping[str, Any] | None = None,
) -> pa.Table:
    """The long summary table of :meth:`Historian.summary` on ``intervals``.

    Columns ``tag, start, [shift,] stat, value, time, status``: ``start`` and ``time`` in the
    zone of the intervals (UTC without one), ``shift`` (the shift's name) with shifts. Rows by
    tag, interval, stat, as :func:`historian.query.retrieval.summary_for_tags`.
    ``annotations_by_tag``: annotation times per tag, for AnnotationCount.
    """
    from historian.query.retrieval import _series_arrays, _stats_list, _value_scale

    names = _stats_list(stats)
    check_intervals_budget(len(series), intervals, len(names))
    cfg = AggregateConfig.from_any(config)
    stepped_by_tag = stepped_by_tag or {}
    tags = list(series)
    m, k = intervals.count, len(names)
    value: np.ndarray = np.empty((len(tags), m, k))  # raveled below: any shape
    times: np.ndarray = np.empty((len(tags), m, k), dtype=np.int64)
    status: np.ndarray = np.empty((len(tags), m, k), dtype=np.uint32)
    for ti, tag in enumerate(tags):
        t, v, q = _series_arrays(tag, series[tag])
        res = aggregate_on_edges(
            t,
            v,
            q,
            intervals.edges,
            names,
            config=cfg,
            stepped=bool(stepped_by_tag.get(tag, False)),
            annotations_ns=(annotations_by_tag or {}).get(tag),
        )
        for si, name in enumerate(names):
            value[ti, :, si] = res[name].values * _value_scale(name)
            times[ti, :, si] = res[name].time_ns
            status[ti, :, si] = res[name].status
    value, times, status = value.ravel(), times.ravel(), status.ravel()
    null = ((status & _BAD_BIT) != 0) | ~np.isfinite(value)
    zone_type = pa.timestamp("ns", tz=intervals.tz or "UTC")
    fields = [
        pa.field("tag", pa.string(), nullable=False),
        pa.field("start", zone_type, nullable=False),
    ]
    columns = [
        _strings(tags, np.repeat(np.arange(len(tags)), m * k)),
        pa.array(np.tile(np.repeat(intervals.edges[:-1], k), len(tags)), zone_type),
    ]
    if intervals.labels is not None:
        labels = list(dict.fromkeys(intervals.labels))
        codes = np.array([labels.index(x) for x in intervals.labels], dtype=np.int32)
        fields.append(pa.field("shift", pa.string(), nullable=False))
        columns.append(_strings(labels, np.tile(np.repeat(codes, k), len(tags))))
    fields += [
        pa.field("stat", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("time", zone_type),
        pa.field("status", pa.uint32(), nullable=False),
    ]
    columns += [
        _strings(names, np.tile(np.arange(k), len(tags) * m)),
        pa.array(value, pa.float64(), mask=null),
        pa.array(times, zone_type),
        pa.array(status, pa.uint32()),
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def interpolated_on_grid(
    series: Mapping[str, tuple[Any, Any, Any]],
    grid_ns: np.ndarray,
    *,
    tz: str | None = None,
    stepped_by_tag: Mapping[str, bool] | None = None,
    max_gap_ns: int | None = None,
    extrapolate: bool = False,
    quality: bool = False,
    config: Any = None,
) -> pa.Table:
    """The wide table of :meth:`Historian.interpolated` at the times ``grid_ns`` (``time`` in
    zone ``tz``)."""
    from historian.query.retrieval import interpolated_for_tags

    n_cols = len(series) * (2 if quality else 1)
    current().check(
        "max_result_cells",
        int(grid_ns.size) * n_cols,
        f"interpolated values ({grid_ns.size:,} grid points x {n_cols} columns)",
        "ask for a larger `every`, a shorter window or fewer tags",
    )
    table = interpolated_for_tags(
        series,
        start_ns=int(grid_ns[0]),
        end_ns=int(grid_ns[-1]),
        every_ns=1,
        stepped_by_tag=stepped_by_tag,
        max_gap_ns=max_gap_ns,
        extrapolate=extrapolate,
        quality=quality,
        config=config,
        grid_ns=grid_ns,
    )
    return zoned(table, tz, ["time"])
