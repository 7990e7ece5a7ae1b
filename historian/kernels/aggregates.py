"""OPC UA Part 13 aggregates over plain arrays (int64 ns times, float64 values, uint32 quality).

Every aggregate of Part 13 v1.05 is available by its Part 13 name, and the common ones by a
friendly name (``twa``, ``mean``, ``min``, ...); see ``docs/aggregates.md`` for both, side by side.

The caller passes the raw samples of ``[start, end)`` *plus* the samples just outside needed for
bounding values (back to the latest Good sample before ``start`` -- the second-latest with
UseSlopedExtrapolation, which needs a slope -- and forward to the first Good one after ``end``);
extra samples further out never change the result.

Examples
--------
>>> import numpy as np
>>> t = np.array([0, 10, 20, 30], dtype=np.int64) * 1_000_000_000
>>> r = aggregate(t, np.array([1.0, 2.0, 3.0, 4.0]), start_ns=0, end_ns=30 * 10**9,
...               every_ns=10 * 10**9, stat="twa")
>>> r.values.tolist()
[1.5, 2.5, 3.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError
from historian.kernels import _fast, _part13, _small
from historian.kernels._config import (
    AggregateConfig,
    interval_edges,
    prepare_series,
    validate_arrays,
)
from historian.kernels.annotations import ANNOTATION_COUNT, annotation_count

__all__ = [
    "FRIENDLY_NAMES",
    "PART13_NAMES",
    "AggregateResult",
    "aggregate",
    "aggregate_many",
    "resolve_stat",
]

#: Part 13 name -> internal id.
PART13_NAMES: dict[str, int] = {
    "Interpolative": _part13.A_INTERPOLATIVE,
    "Average": _part13.A_AVERAGE,
    "TimeAverage": _part13.A_TIME_AVERAGE,
    "TimeAverage2": _part13.A_TIME_AVERAGE2,
    "Total": _part13.A_TOTAL,
    "Total2": _part13.A_TOTAL2,
    "Minimum": _part13.A_MINIMUM,
    "Maximum": _part13.A_MAXIMUM,
    "MinimumActualTime": _part13.A_MINIMUM_ACTUAL_TIME,
    "MaximumActualTime": _part13.A_MAXIMUM_ACTUAL_TIME,
    "Range": _part13.A_RANGE,
    "Minimum2": _part13.A_MINIMUM2,
    "Maximum2": _part13.A_MAXIMUM2,
    "MinimumActualTime2": _part13.A_MINIMUM_ACTUAL_TIME2,
    "MaximumActualTime2": _part13.A_MAXIMUM_ACTUAL_TIME2,
    "Range2": _part13.A_RANGE2,
    "Count": _part13.A_COUNT,
    "Start": _part13.A_START,
    "End": _part13.A_END,
    "Delta": _part13.A_DELTA,
    "StartBound": _part13.A_START_BOUND,
    "EndBound": _part13.A_END_BOUND,
    "DeltaBounds": _part13.A_DELTA_BOUNDS,
    "DurationGood": _part13.A_DURATION_GOOD,
    "DurationBad": _part13.A_DURATION_BAD,
    "PercentGood": _part13.A_PERCENT_GOOD,
    "PercentBad": _part13.A_PERCENT_BAD,
    "WorstQuality": _part13.A_WORST_QUALITY,
    "WorstQuality2": _part13.A_WORST_QUALITY2,
    "DurationInStateZero": _part13.A_DURATION_IN_STATE_ZERO,
    "DurationInStateNonZero": _part13.A_DURATION_IN_STATE_NON_ZERO,
    "NumberOfTransitions": _part13.A_NUMBER_OF_TRANSITIONS,
    "StandardDeviationSample": _part13.A_STD_SAMPLE,
    "StandardDeviationPopulation": _part13.A_STD_POPULATION,
    "VarianceSample": _part13.A_VAR_SAMPLE,
    "VariancePopulation": _part13.A_VAR_POPULATION,
}

#: Friendly name -> Part 13 name (documented side by side in docs/aggregates.md).
FRIENDLY_NAMES: dict[str, str] = {
    "interpolative": "Interpolative",
    "twa": "TimeAverage2",
    "time_average": "TimeAverage",
    "mean": "Average",
    "min": "MinimumActualTime",
    "max": "MaximumActualTime",
    "min_bounded": "Minimum2",
    "max_bounded": "Maximum2",
    "first": "Start",
    "last": "End",
    "count": "Count",
    "std": "StandardDeviationSample",
    "std_population": "StandardDeviationPopulation",
    "var": "VarianceSample",
    "var_population": "VariancePopulation",
    "range": "Range",
    "delta": "Delta",
    "delta_bounds": "DeltaBounds",
    "total": "Total2",
    "integral": "Total2",
    "duration_good": "DurationGood",
    "duration_bad": "DurationBad",
    "pct_good": "PercentGood",
    "pct_bad": "PercentBad",
    "duration_in_state_zero": "DurationInStateZero",
    "duration_in_state_nonzero": "DurationInStateNonZero",
    "transitions": "NumberOfTransitions",
    "worst_quality": "WorstQuality",
    "worst_quality2": "WorstQuality2",
    "start_bound": "StartBound",
    "end_bound": "EndBound",
    "annotation_count": ANNOTATION_COUNT,
}

#: Part 13 aggregates that count annotations rather than samples (given ``annotations_ns``).
ANNOTATION_AGGREGATES = frozenset({ANNOTATION_COUNT})

#: Aggregates whose value is a duration; the kernels give nanoseconds.
DURATION_AGGREGATES = frozenset(
    {"DurationGood", "DurationBad", "DurationInStateZero", "DurationInStateNonZero"}
)


def resolve_stat(name: str) -> str:
    """The Part 13 name for a friendly or Part 13 stat name (case-insensitive).

    >>> resolve_stat("twa"), resolve_stat("timeaverage2"), resolve_stat("min")
    ('TimeAverage2', 'TimeAverage2', 'MinimumActualTime')
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"stat names are strings, got {name!r}")
    if name in PART13_NAMES or name in ANNOTATION_AGGREGATES:
        return name
    if name in FRIENDLY_NAMES:
        return FRIENDLY_NAMES[name]
    low = name.lower()
    for key in (*PART13_NAMES, *ANNOTATION_AGGREGATES):
        if key.lower() == low:
            return key
    if low in FRIENDLY_NAMES:
        return FRIENDLY_NAMES[low]
    raise InvalidArgumentError(
        f"unknown stat {name!r}; valid friendly names: {', '.join(sorted(FRIENDLY_NAMES))}; "
        f"valid Part 13 names: {', '.join([*PART13_NAMES, *ANNOTATION_AGGREGATES])}"
    )


@dataclass
class AggregateResult:
    """One aggregate over all intervals: interval starts, values, reported times, StatusCodes."""

    start_ns: np.ndarray  # int64 interval starts
    values: np.ndarray  # float64, NaN where no value
    time_ns: np.ndarray  # int64 timestamp each result reports
    status: np.ndarray  # uint32 StatusCodes with historian bits


def aggregate_many(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    stats: Any,
    config: Any = None,
    stepped: bool = False,
    data_end_ns: int | None = None,
    annotations_ns: Any = None,
) -> dict[str, AggregateResult]:
    """Several aggregates over the same intervals, sharing validation and interval search.

    ``stats`` are friendly or Part 13 names; the result is keyed by the names as given.
    ``annotations_ns``: the times of the annotations of this series, for AnnotationCount.
    """
    if isinstance(stats, str):
        stats = [stats]
    names = [(s, resolve_stat(s)) for s in stats]
    cfg = AggregateConfig.from_any(config)
    edges = interval_edges(start_ns, end_ns, every_ns)
    out: dict[str, AggregateResult] = {}
    starts = edges[:-1].copy()
    counted = [g for g, p in dict(names).items() if p in ANNOTATION_AGGREGATES]
    if counted:
        out.update(
            _annotation_results(t_ns, values, quality, edges, counted, data_end_ns, annotations_ns)
        )
        names_left = [(g, p) for g, p in names if g not in out]
        if not names_left:
            return {g: out[g] for g, _p in names}
        rest_out = aggregate_many(
            t_ns,
            values,
            quality,
            start_ns=start_ns,
            end_ns=end_ns,
            every_ns=every_ns,
            stats=[g for g, _p in names_left],
            config=cfg,
            stepped=stepped,
            data_end_ns=data_end_ns,
        )
        out.update(rest_out)
        return {g: out[g] for g, _p in names}
    wanted = [(g, p) for g, p in dict(names).items() if p in _fast.FAST_NAMES]
    if wanted:
        for given, res in _try_fast(
            t_ns, values, quality, edges, wanted, cfg, stepped, data_end_ns
        ).items():
            out[given] = AggregateResult(starts, res[0], res[1], res[2])
    rest = [(g, p) for g, p in dict(names).items() if g not in out]
    if not rest:
        return {g: out[g] for g, _p in names}
    series = prepare_series(t_ns, values, quality, data_end_ns=data_end_ns)
    t = series.t_ns
    idx = np.searchsorted(t, edges).astype(np.int64)
    sev = _part13.severities(series.values, series.quality)
    for given, p13 in rest:
        res = _part13.aggregate_general(
            np.int64(PART13_NAMES[p13]),
            t,
            series.values,
            series.quality,
            sev,
            edges,
            idx,
            cfg.treat_uncertain_as_bad,
            cfg.percent_data_bad,
            cfg.percent_data_good,
            cfg.use_sloped_extrapolation,
            bool(stepped),
            np.int64(series.data_end_ns),
        )
        out[given] = AggregateResult(starts, res[0], res[1], res[2])
    return {g: out[g] for g, _p in names}


def _annotation_results(
    t_ns: Any,
    values: Any,
    quality: Any,
    edges: np.ndarray,
    given: list[str],
    data_end_ns: int | None,
    annotations_ns: Any,
) -> dict[str, AggregateResult]:
    """AnnotationCount over ``edges``: the data range comes from the samples (Bad_NoData
    markers dropped), the counts from ``annotations_ns``."""
    series = prepare_series(t_ns, values, quality, data_end_ns=data_end_ns)
    start = int(series.t_ns[0]) if series.t_ns.size else None
    end = series.data_end_ns if series.t_ns.size else None
    v, t, s = annotation_count(edges, annotations_ns, data_start_ns=start, data_end_ns=end)
    return {g: AggregateResult(edges[:-1].copy(), v, t, s) for g in given}


def _try_fast(
    t_ns: Any,
    values: Any,
    quality: Any,
    edges: np.ndarray,
    wanted: list[tuple[str, str]],
    cfg: AggregateConfig,
    stepped: bool,
    data_end_ns: int | None,
) -> dict[str, Any]:
    """Fast-path results for ``wanted`` (given, Part 13 name) pairs, or {} if not applicable."""
    t, v, q = validate_arrays(t_ns, values, quality)
    if quality is None:
        q = np.empty(0, dtype=np.uint32)  # all Good: nothing to read or check
    if t.size == 0:
        return {}
    de = int(t[-1]) + 1 if data_end_ns is None else int(data_end_ns)
    if de <= int(t[-1]):
        return {}
    if t.size <= _small.MAX_POINTS:  # numpy: nothing to compile for a first, small call
        small = _small.fast_stats(t, v, q, edges, wanted, cfg, stepped, de)
        if small is not None:
            return small
    idx = _fast.edge_index(t, edges)

    def general(name: str, k_lo: int, k_hi: int) -> Any:
        # the general kernel on the few intervals at the edges of the data, over the samples
        # they can need (two before, two after), so nothing of size n is allocated
        n, m = t.size, edges.size - 1
        lo = 0 if k_lo == 0 else max(0, int(idx[k_lo]) - 2)
        hi = n if k_hi == m else min(n, int(idx[k_hi]) + 2)
        sub_idx = np.clip(idx[k_lo : k_hi + 1] - lo, 0, hi - lo)
        sub_q = q[lo:hi] if q.size else np.zeros(hi - lo, dtype=np.uint32)
        return _fast.general_slice(
            PART13_NAMES[name],
            t[lo:hi],
            v[lo:hi],
            sub_q,
            np.zeros(hi - lo, dtype=np.int8),
            edges[k_lo : k_hi + 1],
            sub_idx,
            cfg,
            stepped,
            de,
        )

    fp = _fast.FastPath(t, v, q, edges, idx, de, stepped, general, [p for _g, p in wanted])
    if not fp.verify_outside():
        return {}
    results = {}
    for given, p13 in wanted:
        res = fp.compute(p13)
        if res is None:
            return {}
        results[given] = res
    return results


def aggregate(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    stat: str,
    config: Any = None,
    stepped: bool = False,
    data_end_ns: int | None = None,
    annotations_ns: Any = None,
) -> AggregateResult:
    """One Part 13 aggregate (friendly or Part 13 name) over ``[start, end)`` in ``every`` steps.

    Parameters
    ----------
    t_ns, values, quality
        Raw samples: int64 ns, float64, uint32 StatusCodes (``None``: all Good). Unsorted input
        is sorted stably; of duplicate times the last one wins; non-finite values count as Bad;
        ``Bad_NoData`` samples are markers, not values, and are dropped.
    start_ns, end_ns, every_ns
        The intervals ``[start + k*every, start + (k+1)*every)``; the last one ends at ``end``.
    stat
        A Part 13 name (``"TimeAverage2"``) or a friendly name (``"twa"``).
    config
        :class:`AggregateConfig` or a dict with the Part 13 AggregateConfiguration names.
    stepped
        Step (held) values instead of linear interpolation between samples.
    data_end_ns
        End of the known history (exclusive); default: 1 ns after the last sample.
    annotations_ns
        Times of the annotations of the series (int64 ns), for ``AnnotationCount``
        (``"annotation_count"``); ``None``: no annotations.

    Returns
    -------
    AggregateResult
        Durations are in nanoseconds, Total/Total2 in value x seconds, percentages 0..100.
    """
    return aggregate_many(
        t_ns,
        values,
        quality,
        start_ns=start_ns,
        end_ns=end_ns,
        every_ns=every_ns,
        stats=[stat],
        config=config,
        stepped=stepped,
        data_end_ns=data_end_ns,
        annotations_ns=annotations_ns,
    )[stat]
