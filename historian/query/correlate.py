"""Lagged correlation of tags on an aligned grid: which tags move together, and how much later.

The tags are aligned with ``h.interpolated`` (OPC UA Part 13 Interpolative: linear for analog
tags, held for step tags, null where the status is Bad or beyond ``max_gap``), then every pair
is correlated with :func:`historian.kernels.correlate.lagged_corr` (numba), Bad or missing grid
samples excluded pairwise.

Lag sign: a row ``tag_a, tag_b, lag = +12 min`` means **tag_b lags tag_a by 12 minutes** (tag_a
leads): the coefficient is ``corr(a(t), b(t + lag))``. With ``target=`` the target is always
``tag_b``, so a positive lag reads "tag_a leads the target by lag".
"""

from __future__ import annotations

import itertools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from historian.errors import InvalidArgumentError
from historian.kernels.correlate import lagged_corr, pair_corr
from historian.limits import current
from historian.model.calendar import is_calendar, parse_every
from historian.model.times import DAY_NS, duration_ns, to_ns, window_ns
from historian.query.align import aligned_matrix
from historian.query.intervals import grid_intervals, is_plain

if TYPE_CHECKING:  # pragma: no cover
    from historian.query.source import SeriesSource

__all__ = [
    "CorrelationPlan",
    "aligned_matrix",
    "check_correlate_budget",
    "correlate",
    "correlate_aligned",
    "correlation_names",
    "plan_correlation",
]

log = logging.getLogger(__name__)


def _count(name: str, value: Any, lo: int, hi: int) -> int:
    """An int option in [lo, hi] (numpy ints too; bools, floats and NaN refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InvalidArgumentError(f"{name} must be an int from {lo} to {hi:,}, not {value!r}")
    return int(value)


def check_correlate_budget(
    n_tags: int,
    with_target: bool,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    lag_steps: int,
    samples: int | None = None,
) -> None:
    """Refuse a correlation over ``max_correlate_cells`` (pairs x lags) or ``max_correlate_work``
    (pairs x lags x grid samples) before anything is read or allocated (``samples``: the grid
    size when it is not ``(end - start) / every``, e.g. calendar intervals)."""
    pairs = n_tags - 1 if with_target else n_tags * (n_tags - 1) // 2
    lags = 2 * int(lag_steps) + 1
    if samples is None:
        samples = max(0, -(-(int(end_ns) - int(start_ns)) // int(every_ns)))
    fix = "correlate fewer tags (or each with a target=), a smaller max_lag or a larger every"
    limits = current()
    limits.check(
        "max_correlate_cells",
        pairs * lags,
        f"correlation cells ({pairs:,} pairs x {lags:,} lags)",
        fix,
    )
    limits.check(
        "max_correlate_work",
        pairs * lags * samples,
        f"correlation work ({pairs:,} pairs x {lags:,} lags x {samples:,} samples)",
        fix + ", or a shorter window",
    )
    limits.check(
        "max_result_cells",
        samples * n_tags * 2,
        f"aligned values ({samples:,} grid points x {n_tags} tags x value and quality)",
        "use a larger every, a shorter window or fewer tags",
    )


def _best_lag(r: np.ndarray, max_lag: int) -> np.ndarray:
    """Column index of the largest |r| per row; ties go to the smallest |lag|; -1 if all NaN."""
    lags = np.arange(-max_lag, max_lag + 1)
    order = np.argsort(np.abs(lags), kind="stable")
    a = np.abs(r[:, order])
    allnan = np.isnan(a).all(axis=1)
    a[np.isnan(a)] = -1.0
    best = order[np.argmax(a, axis=1)]
    best[allnan] = -1
    return best


def _check_method(method: str) -> None:
    if method not in ("pearson", "spearman"):
        raise InvalidArgumentError(f"method must be 'pearson' or 'spearman', not {method!r}")


def correlation_names(
    source: SeriesSource, tags: Any, target: str | None
) -> tuple[list[str], str | None]:
    """The resolved tags to correlate (the target appended when not among them) and the
    resolved target; at least two."""
    names = source.resolve_tags(tags)  # validated, de-duplicated, known
    if target is not None:
        (target,) = source.resolve_tags([target])
        if target not in names:
            names.append(target)
    if len(names) < 2:
        raise InvalidArgumentError("correlate needs at least two tags")
    return names, target


@dataclass(frozen=True)
class CorrelationPlan:
    """A checked correlation request: what :func:`correlate_aligned` computes."""

    names: list[str]
    target: str | None
    every_ns: int
    lag_steps: int
    with_lag: bool
    method: str
    min_samples: int
    threads: int


def plan_correlation(
    names: list[str],
    start: Any,
    end: Any,
    every: Any,
    max_lag: Any = None,
    *,
    method: str = "pearson",
    target: str | None = None,
    min_samples: int = 3,
    threads: int | None = None,
    **calendar: Any,
) -> CorrelationPlan:
    """Check the options of a correlation of resolved ``names`` and its budget, before
    anything is read."""
    _check_method(method)
    grid_points = None
    if is_plain(every, **calendar):
        every_ns = duration_ns(every)
    else:
        start_ns, end_ns = window_ns(start, end)
        grid_points = int(
            np.count_nonzero(grid_intervals(start_ns, end_ns, every, **calendar) < end_ns)
        )
        kind, every_ns = parse_every(every)
        if kind != "fixed" and is_calendar(every, calendar.get("tz")):
            if max_lag is not None:
                raise InvalidArgumentError(
                    f"every={every!r} is a calendar interval (no fixed length): a lag cannot be "
                    "counted in it; use a fixed every such as '1h' with max_lag"
                )
            every_ns = 1
        elif kind == "day":
            every_ns *= DAY_NS
    if every_ns <= 0:
        raise InvalidArgumentError(f"every must be a positive duration, not {every!r}")
    lag_steps = 0
    if max_lag is not None:
        lag_ns = duration_ns(max_lag)
        if lag_ns < 0:
            raise InvalidArgumentError(f"max_lag must not be negative, got {max_lag!r}")
        lag_steps = lag_ns // every_ns
    if threads is None:
        threads = max(1, min(2, os.cpu_count() or 1))
    threads = _count("threads", threads, 1, 256)
    min_samples = _count("min_samples", min_samples, 1, 2**62)
    check_correlate_budget(
        len(names), target is not None, to_ns(start), to_ns(end), every_ns, lag_steps, grid_points
    )
    return CorrelationPlan(
        list(names),
        target,
        int(every_ns),
        int(lag_steps),
        max_lag is not None,
        method,
        min_samples,
        threads,
    )


def correlate(
    source: SeriesSource,
    tags: Any,
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
    **calendar: Any,
) -> pa.Table:
    """Correlation per pair of tags at lag 0 and, with ``max_lag``, at the strongest lag.

    See :meth:`historian.api.Historian.correlate` for the parameters and the result columns.
    ``calendar``: ``tz``, ``origin``, ``offset``, ``week_start`` align the grid
    (``docs/calendar.md``); a calendar ``every`` (days in a zone, months) has no fixed length,
    so it takes no ``max_lag``. The same as :func:`plan_correlation`, then
    :func:`~historian.query.align.aligned_matrix`, then :func:`correlate_aligned`.
    """
    _check_method(method)
    names, target = correlation_names(source, tags, target)
    plan = plan_correlation(
        names,
        start,
        end,
        every,
        max_lag,
        method=method,
        target=target,
        min_samples=min_samples,
        threads=threads,
        **calendar,
    )
    _, x = aligned_matrix(source, plan.names, start, end, every, max_gap, **calendar)
    return correlate_aligned(x, plan, progress=progress)


def correlate_aligned(
    x: np.ndarray, plan: CorrelationPlan, *, progress: bool | None = None
) -> pa.Table:
    """The correlation table of the (n_tags, n_times) aligned matrix ``x`` (NaN: not Good),
    rows of ``x`` in the order of ``plan.names``; no store involved."""
    names, target, lag_steps = plan.names, plan.target, plan.lag_steps
    method, min_samples, threads, every_ns = (
        plan.method,
        plan.min_samples,
        plan.threads,
        plan.every_ns,
    )
    if target is None:
        ia, ib = np.triu_indices(len(names), 1)
    else:
        ti = names.index(target)
        ia = np.array([i for i in range(len(names)) if i != ti], dtype=np.int64)
        ib = np.full(ia.size, ti, dtype=np.int64)
    ia = ia.astype(np.int64)
    ib = ib.astype(np.int64)
    p = ia.size

    # chunks of pairs run in threads (the kernel releases the GIL), with a progress bar
    n_chunks = max(1, min(p, 4 * threads, (p * (2 * lag_steps + 1) * x.shape[1]) // 20_000_000 + 1))
    bounds = np.linspace(0, p, n_chunks + 1).astype(int)
    chunks = [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]
    rs = np.full((p, 2 * lag_steps + 1), np.nan)
    ns = np.zeros((p, 2 * lag_steps + 1), dtype=np.int64)

    def run(ab: tuple[int, int]) -> tuple[int, int, np.ndarray, np.ndarray]:
        a, b = ab
        r, n = lagged_corr(x, lag_steps, ia[a:b], ib[a:b], method=method, min_count=min_samples)
        return a, b, r, n

    from historian.progress import bar as progress_bar

    with (
        progress_bar(
            False if len(chunks) < 2 else progress, total=p, desc="correlate", unit="pair"
        ) as bar,  # fmt: skip
        ThreadPoolExecutor(max_workers=threads) as pool,
    ):
        for a, b, r, n in pool.map(run, chunks):
            rs[a:b], ns[a:b] = r, n
            bar.update(b - a)

    r0, n0 = rs[:, lag_steps].copy(), ns[:, lag_steps].copy()
    cols: dict[str, Any] = {
        "tag_a": pa.array([names[i] for i in ia], pa.string()),
        "tag_b": pa.array([names[i] for i in ib], pa.string()),
    }
    best = _best_lag(rs, lag_steps) if plan.with_lag else None
    if method == "spearman":  # exact pairwise re-ranking for the reported figures
        for q in range(p):
            r0[q], n0[q] = pair_corr(x[ia[q]], x[ib[q]], method="spearman", min_count=min_samples)
    cols["r"] = pa.array(r0, pa.float64(), mask=np.isnan(r0))
    cols["n"] = pa.array(n0, pa.int64())
    order_key = np.abs(r0)
    if best is not None:
        found = best >= 0
        steps = np.where(found, best - lag_steps, 0)
        rb = np.where(found, rs[np.arange(p), np.maximum(best, 0)], np.nan)
        nb = np.where(found, ns[np.arange(p), np.maximum(best, 0)], 0)
        if method == "spearman":
            for k in np.flatnonzero(found).tolist():
                rb[k], nb[k] = pair_corr(
                    x[ia[k]], x[ib[k]], method="spearman", lag=int(steps[k]), min_count=min_samples
                )
        cols["lag"] = pa.array(steps * every_ns, pa.duration("ns"), mask=~found)
        cols["lag_steps"] = pa.array(steps, pa.int64(), mask=~found)
        cols["r_at_lag"] = pa.array(rb, pa.float64(), mask=np.isnan(rb))
        cols["n_at_lag"] = pa.array(nb, pa.int64())
        order_key = np.abs(rb)
    order = np.argsort(-np.nan_to_num(order_key, nan=-1.0), kind="stable")
    return pa.table(cols).take(pa.array(order))
