"""Alignment: attach tag values to event times (as-of join) and pivot long points to wide.

:func:`asof_join` does what pandas ``merge_asof`` and DuckDB's ``ASOF JOIN`` do, for many tags
at once: for each event time, the tag's sample at or before it (``direction="backward"``), at or
after it (``"forward"``) or the nearest one (``"nearest"``; on a tie the earlier sample), within
an optional ``tolerance``. Raw samples are matched as stored (Bad ones included, with their
quality); a value is null where no sample matches or the sample has no value.

:func:`wide` pivots a long ``tag, time, value, quality`` table (what ``h.read`` returns) to one
row per distinct time and one column per tag, null where a tag has no sample at that time.

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> long = pa.table({"tag": ["A", "B", "A"], "time": pa.array([0, 0, 5], pa.timestamp("ns", "UTC")),
...                  "value": [1.0, 2.0, 3.0], "quality": pa.array([0, 0, 0], pa.uint32())})
>>> wide(long).to_pydict()["A"], wide(long).to_pydict()["B"]
([1.0, 3.0], [2.0, None])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.model import quality as _q
from historian.model.schema import TIME_TYPE
from historian.model.times import duration_ns, user_ns_array

if TYPE_CHECKING:  # pragma: no cover
    from historian.query.source import SeriesSource

__all__ = ["asof_join", "event_times", "match_asof", "wide"]

_DIRECTIONS = ("backward", "forward", "nearest")
_NO_QUALITY = np.uint32(_q.BAD_NO_DATA)


def match_asof(
    t_ns: np.ndarray,
    event_ns: np.ndarray,
    direction: str = "backward",
    tolerance_ns: int | None = None,
) -> np.ndarray:
    """Index into sorted ``t_ns`` of the sample matched to each event time, -1 for none.

    >>> match_asof(np.array([0, 10, 20]), np.array([-1, 10, 14, 25]), "backward").tolist()
    [-1, 1, 1, 2]
    >>> match_asof(np.array([0, 10, 20]), np.array([-1, 10, 14, 25]), "nearest", 4).tolist()
    [0, 1, 1, -1]
    """
    if direction not in _DIRECTIONS:
        raise InvalidArgumentError(f"direction must be one of {_DIRECTIONS}, not {direction!r}")
    t_ns = np.asarray(t_ns, dtype=np.int64)
    ev = np.asarray(event_ns, dtype=np.int64)
    n = t_ns.size
    if n == 0:
        return np.full(ev.size, -1, dtype=np.int64)
    back = np.searchsorted(t_ns, ev, side="right") - 1  # last t <= event
    fwd = np.searchsorted(t_ns, ev, side="left")  # first t >= event
    fwd = np.where(fwd < n, fwd, -1)
    if direction == "backward":
        idx = back
    elif direction == "forward":
        idx = fwd
    else:
        db = np.where(back >= 0, ev - t_ns[np.maximum(back, 0)], np.iinfo(np.int64).max)
        df = np.where(fwd >= 0, t_ns[np.maximum(fwd, 0)] - ev, np.iinfo(np.int64).max)
        idx = np.where(df < db, fwd, back)
    idx = idx.astype(np.int64)
    if tolerance_ns is not None:
        dist = np.abs(ev - t_ns[np.maximum(idx, 0)])
        idx[(idx >= 0) & (dist > tolerance_ns)] = -1
    return idx


def event_times(events: Any, on: str = "time") -> tuple[pa.Table | None, np.ndarray]:
    """Event times as int64 ns from a table (Arrow, pandas, polars) column ``on`` or times."""
    table: pa.Table | None = None
    if isinstance(events, pa.Table):
        table = events
    elif hasattr(events, "to_arrow") and hasattr(events, "columns"):  # polars
        table = events.to_arrow()
    elif hasattr(events, "columns") and hasattr(events, "iloc"):  # pandas
        table = pa.Table.from_pandas(events, preserve_index=False)
    if table is None:
        if isinstance(events, (list, tuple)) and not events:
            return None, np.zeros(0, np.int64)
        return None, user_ns_array(events)
    if on not in table.column_names:
        raise InvalidArgumentError(
            f"the events table has no column {on!r} (columns: {table.column_names}); pass on=..."
        )
    col = table.column(on)
    if col.null_count:
        raise InvalidDataError(f"column {on!r} has null times")
    if pa.types.is_timestamp(col.type):
        ns = pc.cast(col, pa.timestamp("ns", tz="UTC") if col.type.tz else pa.timestamp("ns"))
        return table, ns.to_numpy().view(np.int64).copy()
    return table, user_ns_array(col.to_numpy(zero_copy_only=False))


def asof_join(
    events: Any,
    series: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None],
    *,
    on: str = "time",
    tolerance: Any = None,
    direction: str = "backward",
    quality: bool = True,
    sample_time: bool = False,
) -> pa.Table:
    """The events table plus, per tag, ``<tag>`` (value) and ``<tag>.quality`` columns.

    ``series`` maps tag -> (sorted t_ns, values, quality) or None. Rows keep the events' order.
    ``sample_time=True`` adds ``<tag>.time``, the time of the matched sample.
    """
    table, ev = event_times(events, on)
    if table is None:
        table = pa.table({on: pa.array(ev, TIME_TYPE)})
    tol = None if tolerance is None else duration_ns(tolerance)
    if tol is not None and tol < 0:
        raise InvalidArgumentError(f"tolerance must not be negative, got {tolerance!r}")
    for tag, item in series.items():
        if tag in table.column_names:
            raise InvalidArgumentError(f"the events table already has a column named {tag!r}")
        if item is None:
            t = np.zeros(0, np.int64)
            v = np.zeros(0, np.float64)
            q = np.zeros(0, np.uint32)
        else:
            t, v, q = (np.asarray(a) for a in item)
        idx = match_asof(t, ev, direction, tol)
        hit = idx >= 0
        safe = np.maximum(idx, 0)
        vals = np.where(hit, v[safe] if v.size else np.nan, np.nan).astype(np.float64)
        table = table.append_column(tag, pa.array(vals, pa.float64(), mask=np.isnan(vals)))
        if quality:
            qual = np.where(hit, q[safe] if q.size else 0, _NO_QUALITY).astype(np.uint32)
            table = table.append_column(f"{tag}.quality", pa.array(qual, pa.uint32()))
        if sample_time:
            st = pa.array(t[safe] if t.size else np.zeros(ev.size, np.int64), TIME_TYPE, mask=~hit)
            table = table.append_column(f"{tag}.time", st)
    return table


def wide(table: pa.Table, *, quality: bool = False) -> pa.Table:
    """Pivot a long ``tag, time, value[, quality]`` table to ``time`` + one column per tag.

    One row per distinct time (sorted); a tag's cell is null where it has no sample at that time
    or the sample has no value. With ``quality=True`` each tag column is followed by
    ``<tag>.quality`` (null where there is no sample). Tags appear in sorted order. Duplicate
    (tag, time) rows: the last row wins. The same as pandas ``pivot(index="time", columns="tag")``.
    """
    for c in ("tag", "time", "value"):
        if c not in table.column_names:
            raise InvalidArgumentError(f"wide() needs columns tag, time, value; missing {c!r}")
    time_col = table.column("time")
    if not pa.types.is_timestamp(time_col.type):
        raise InvalidDataError("wide(): the time column must be a timestamp")
    t = pc.cast(time_col, pa.timestamp("ns", tz="UTC")).to_numpy().view(np.int64)
    tags = table.column("tag").combine_chunks()
    if pa.types.is_dictionary(tags.type):
        tags = tags.cast(pa.string())
    names = sorted(pc.unique(tags).to_pylist()) if len(tags) else []
    times = np.unique(t)
    row = np.searchsorted(times, t)
    value = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    qual = table.column("quality").to_numpy(zero_copy_only=False) if quality else None
    cols: list[pa.Array] = [pa.array(times, TIME_TYPE)]
    out_names = ["time"]
    code = pc.index_in(tags, pa.array(names, pa.string())).to_numpy(zero_copy_only=False)
    for k, name in enumerate(names):
        sel = np.flatnonzero(code == k)
        v = np.full(times.size, np.nan)
        have = np.zeros(times.size, bool)
        v[row[sel]] = value[sel]
        have[row[sel]] = True
        cols.append(pa.array(v, pa.float64(), mask=np.isnan(v)))
        out_names.append(name)
        if qual is not None:
            qv = np.zeros(times.size, np.uint32)
            qv[row[sel]] = qual[sel]
            cols.append(pa.array(qv, pa.uint32(), mask=~have))
            out_names.append(f"{name}.quality")
    return pa.Table.from_arrays(cols, names=out_names)


def store_series(
    store: SeriesSource,
    names: list[str],
    event_ns: np.ndarray,
    direction: str,
    tolerance_ns: int | None,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Raw samples per tag that an as-of match of ``event_ns`` can use, read from ``store``.

    The samples from the first to the last event plus the bounding values on either side
    (:meth:`Store.bounded_series`): whatever ``direction`` and ``tolerance_ns``, the sample at
    or before the first event and the one at or after the last are among them, so the match
    is the one a read of everything would give.
    """
    from historian.query.align import series_by_tag

    if event_ns.size == 0:
        return {n: None for n in names}
    first, last = int(event_ns.min()), int(event_ns.max())
    return dict(series_by_tag(store.bounded_series(names, first, last + 1), names))
