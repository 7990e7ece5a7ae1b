"""Alignment: tag series on one time axis, read from any
:class:`~historian.query.source.SeriesSource`.

Two axes, one bounding-values read (``source.bounded_series``) under both:

- a regular grid (``every``): :func:`interpolated_table` is ``h.interpolated`` (Part 13
  Interpolative: linear for analog tags, held for step tags), :func:`aligned_matrix` the same
  as a (tags x times) float matrix with NaN where the value is not Good (what correlation and
  ``h.events(..., every=...)`` use);
- the tags' own sample times (:func:`align_on_samples`, ``h.events`` without ``every``): the
  union of the sample times inside the window, each tag interpolated (held for step tags) at
  the others' times.

Examples
--------
>>> import historian, tempfile
>>> with historian.open(tempfile.mkdtemp()) as h:
...     _ = h.define("A"), h.define("B", kind="step")
...     _ = h.write("A", [0, 10 * 10**9], [0.0, 10.0])
...     _ = h.write("B", [-10**12, 10**12], [3.0, 4.0])
...     t, x = aligned_matrix(h, ["A", "B"], 0, 10 * 10**9, "5s")
...     t.tolist(), x.tolist()
([0, 5000000000], [[0.0, 5.0], [3.0, 3.0]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from historian.errors import InvalidArgumentError
from historian.limits import current
from historian.model import quality as _q
from historian.model.times import duration_ns, to_ns, window_ns

if TYPE_CHECKING:  # pragma: no cover
    from historian.query.source import SeriesSource

__all__ = [
    "align_on_samples",
    "aligned_matrix",
    "interpolated_table",
    "matrix_from_table",
    "series_arrays",
    "series_by_tag",
]

Series = tuple[np.ndarray, np.ndarray, np.ndarray]
_SEVERITY = np.uint32(_q.SEVERITY_MASK)


def series_arrays(sl: Any) -> Series:
    """``(t_ns, values, quality)`` of one ``TagSlice`` from ``bounded_series`` (None: empty)."""
    if sl is None:
        return np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.uint32)
    return sl.time, sl.value, sl.quality


def series_by_tag(series: Mapping[str, Any], names: Sequence[str]) -> dict[str, Series]:
    """:func:`series_arrays` for each of ``names`` (a tag missing from ``series``: empty)."""
    return {n: series_arrays(series.get(n)) for n in names}


def interpolated_table(
    source: SeriesSource,
    names: list[str],
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
    """``h.interpolated`` of resolved ``names`` (:meth:`historian.api.Historian.interpolated`)."""
    from historian.query.intervals import is_plain
    from historian.query.retrieval import check_interpolated_budget, interpolated_for_tags

    calendar = {
        k: v
        for k, v in (("tz", tz), ("origin", origin), ("offset", offset), ("week_start", week_start))
        if v is not None
    }
    max_gap_ns = None if max_gap is None else duration_ns(max_gap)
    if not is_plain(every, **calendar):
        from historian.model.calendar import zone
        from historian.query.intervals import grid_intervals, interpolated_on_grid

        start_ns, end_ns = window_ns(start, end)
        grid = grid_intervals(start_ns, end_ns, every, **calendar)
        series = source.bounded_series(names, start_ns, end_ns + 1)
        return interpolated_on_grid(
            series_by_tag(series, names),
            grid,
            tz=None if tz is None else str(zone(tz).key),
            stepped_by_tag=source.is_stepped(names),
            max_gap_ns=max_gap_ns,
            extrapolate=extrapolate,
            quality=quality,
            config=config,
        )
    start_ns, end_ns = window_ns(start, end)  # one rule for reversed windows (times.py)
    every_ns = duration_ns(every)
    if every_ns <= 0:
        raise InvalidArgumentError(f"every must be a positive duration, not {every!r}")
    check_interpolated_budget(len(names), start_ns, end_ns, every_ns, bool(quality))
    series = source.bounded_series(names, start_ns, end_ns + 1)
    return interpolated_for_tags(
        series_by_tag(series, names),
        start_ns=start_ns,
        end_ns=end_ns,
        every_ns=every_ns,
        stepped_by_tag=source.is_stepped(names),
        max_gap_ns=max_gap_ns,
        extrapolate=extrapolate,
        quality=quality,
        config=config,
    )


def matrix_from_table(
    table: pa.Table, names: Sequence[str], end_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Grid times ``< end_ns`` and the (n_tags, n_times) float64 matrix of an interpolated
    table with ``quality=True``: NaN where the value is not Good."""
    t = table.column("time").cast(pa.int64()).to_numpy()
    keep = t < end_ns
    x = np.empty((len(names), int(keep.sum())))
    for i, name in enumerate(names):
        v = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        q = table.column(f"{name}.quality").to_numpy()
        x[i] = np.where((q & _SEVERITY) == 0, v, np.nan)[keep]
    return t[keep], x


def aligned_matrix(
    source: SeriesSource,
    names: list[str],
    start: Any,
    end: Any,
    every: Any,
    max_gap: Any = None,
    **calendar: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Grid times (int64 ns, ``start <= t < end``) and a (n_tags, n_times) float64 matrix of
    interpolated values, NaN where the value is not Good: null (Bad, no data, stale) or
    bridged across Bad samples (Uncertain). ``calendar``: ``tz``, ``origin``, ``offset``,
    ``week_start`` of :meth:`Historian.interpolated`."""
    table = interpolated_table(
        source, names, start, end, every, max_gap=max_gap, quality=True, **calendar
    )
    return matrix_from_table(table, names, to_ns(end))


def _union_sorted(arrays: list[np.ndarray]) -> np.ndarray:
    """Sorted distinct values of sorted, duplicate-free int64 arrays."""
    first = arrays[0]
    if all(a.size == first.size and np.array_equal(a, first) for a in arrays[1:]):
        return first
    merged = np.sort(np.concatenate(arrays), kind="stable")  # runs of sorted input: fast
    keep = np.ones(merged.size, bool)
    keep[1:] = merged[1:] != merged[:-1]
    return merged[keep]


def align_on_samples(
    source: SeriesSource,
    names: list[str],
    start_ns: int,
    end_ns: int,
    max_gap: Any = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Series]]:
    """The union of the tags' sample times in [start, end), each tag's Good value there (NaN =
    missing; interpolated, or held for step tags, at the others' times), and the series read
    (per tag: t, values, quality, with the bounding values) for reuse."""
    from historian.kernels.interpolate import interpolate

    gap_ns = None if max_gap is None else duration_ns(max_gap)
    raw = series_by_tag(source.bounded_series(names, start_ns, end_ns), names)
    inside = []
    for t, _, _ in raw.values():
        lo, hi = np.searchsorted(t, [start_ns, end_ns])
        inside.append(t[lo:hi])
    grid_t = _union_sorted(inside)
    current().check(
        "max_result_cells",
        int(grid_t.size) * len(names),
        f"aligned values ({grid_t.size:,} sample times x {len(names)} tags)",
        "use a shorter window, or every= to align on a coarser grid",
    )
    stepped = source.is_stepped(names)
    out = {}
    for n in names:
        t, v, q = raw[n]
        lo, hi = np.searchsorted(t, [start_ns, end_ns])
        if hi - lo == grid_t.size and np.array_equal(t[lo:hi], grid_t):
            # the tag has a sample at every aligned time: its own values, Good ones only
            vals = np.where((q[lo:hi] & _SEVERITY) == 0, v[lo:hi], np.nan)
        else:
            vals, status = interpolate(
                t, v, q, grid_ns=grid_t, stepped=stepped[n], max_gap_ns=gap_ns
            )
            vals = np.where((status & _SEVERITY) != 0, np.nan, vals)  # Good only
        out[n] = vals
    return grid_t, out, raw
