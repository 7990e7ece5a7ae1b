"""A store as a Dask DataFrame, and summaries/interpolation/correlation computed by a Dask cluster.

Optional extra: ``pip install 'historian[dask]'``. Works on a local folder (workers on the same
host) and on ``s3://`` (workers anywhere that reach the bucket). Nothing here is a cluster of its
own: the work is a Dask graph that any ``dask.distributed`` scheduler runs.

- :func:`read_dask`: raw points as a ``dask.dataframe`` indexed by ``time`` with **known
  divisions** (one partition per time chunk, default one UTC day), so ``ddf.loc[a:b]`` computes
  only the partitions that overlap ``[a, b]``. Each partition is one ``h.read(tags, a, b)`` run by
  a worker: the tag selection is pushed down, and the worker decodes only the row groups of the
  chosen tags and times.
- :func:`summary`, :func:`interpolated`, :func:`correlate`: the single-process calls of
  :class:`~historian.Historian`, cut into tasks by **tag group x time chunk**. Time chunks start
  and end on interval boundaries, and every task reads its own bounding values from the store
  (back to the latest Good point before its chunk, up to the first Good point after it), exactly
  as the single-process call does at the window edges. The result is therefore the same table as
  ``h.summary(...)`` bit for bit (tested), and an interval never straddles two tasks.

Each worker process opens the store once, read-only (no lock), and keeps it open.

Examples
--------
>>> import historian, historian.dask as hd, tempfile, dask
>>> path = tempfile.mkdtemp()
>>> with historian.open(path) as h:
...     _ = h.define("A")
...     _ = h.write("A", [0, 10**9, 2 * 10**9, 3 * 10**9], [0.0, 10.0, 10.0, 0.0])
>>> with dask.config.set(scheduler="sync"):   # or a dask.distributed Client
...     hd.summary(path, "A", 0, 4 * 10**9, "2s", stats=["max"]).column("value").to_pylist()
[10.0, 10.0]
>>> ddf = hd.read_dask(path, "A")
>>> ddf.npartitions, ddf.known_divisions, len(ddf.compute(scheduler="sync"))
(1, True, 4)
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from historian.errors import InvalidArgumentError
from historian.model.times import as_time, duration_ns, user_ns, window_ns

__all__ = ["correlate", "interpolated", "read_dask", "summary"]


_STORES: dict[tuple[str, str], Any] = {}
_STORES_LOCK = threading.Lock()


# ---------------------------------------------------------------------- store handles
def _source(
    store_or_path: Any, storage_options: Mapping[str, Any] | None
) -> tuple[str, dict | None]:
    """(uri, storage options) that reopen the store in another process."""
    if _is_store(store_or_path):
        opts = store_or_path.storage_options
        return str(store_or_path.path), (dict(storage_options) if storage_options else opts)
    import os

    path = (
        store_or_path
        if isinstance(store_or_path, str) and "://" in store_or_path
        else os.path.abspath(os.fspath(store_or_path))
    )
    return path, dict(storage_options) if storage_options else None


def _open(uri: str, options: dict | None) -> Any:
    """The store, opened read-only once per process (a Dask worker keeps it open)."""
    import historian

    key = (uri, json.dumps(options, sort_keys=True, default=str))
    with _STORES_LOCK:
        h = _STORES.get(key)
        if h is None or getattr(h, "_closed", False):
            kwargs = {"storage_options": options} if options else {}
            h = historian.open(uri, mode="r", **kwargs)
            _STORES[key] = h
        return h


def _is_store(obj: Any) -> bool:
    """True for an open store object (a Historian or the Store it holds), not a path."""
    from historian.api import Historian
    from historian.storage.store import Store

    return isinstance(obj, (Historian, Store))


def _client_store(store_or_path: Any, uri: str, options: dict | None) -> Any:
    return store_or_path if _is_store(store_or_path) else _open(uri, options)


def _client_limits(h: Any) -> Any:
    """The limits of the client's store (``historian.open(..., limits=...)``) for a block."""
    from historian.limits import using

    return using(getattr(h, "limits", None))


def _names(h: Any, tags: Any) -> list[str]:
    return h.resolve_tags(tags)


def _chunk_edges(start_ns: int, end_ns: int, every_ns: int, chunk_ns: int) -> list[int]:
    """Cut [start, end) at interval boundaries about every ``chunk_ns`` (a multiple of every)."""
    step = max(1, math.ceil(chunk_ns / every_ns)) * every_ns
    return [*range(start_ns, end_ns, step), end_ns]


def _tag_groups(names: list[str], per_task: int) -> list[list[str]]:
    return [names[i : i + per_task] for i in range(0, len(names), per_task)]


def _plan(
    names: list[str],
    start_ns: int,
    end_ns: int,
    every_ns: int,
    partition: Any,
    tags_per_task: int | None,
    target_tasks: int = 8,
) -> tuple[list[list[str]], list[int]]:
    n_intervals = max(1, math.ceil((end_ns - start_ns) / every_ns))
    if tags_per_task is None:
        tags_per_task = max(1, math.ceil(len(names) / target_tasks))
    groups = _tag_groups(names, int(tags_per_task))
    if partition is None:
        chunks = max(1, min(n_intervals, math.ceil(target_tasks / len(groups))))
        chunk_ns = math.ceil(n_intervals / chunks) * every_ns
    else:
        chunk_ns = duration_ns(partition)
        if chunk_ns <= 0:
            raise InvalidArgumentError(f"partition must be a positive duration, not {partition!r}")
    return groups, _chunk_edges(start_ns, end_ns, every_ns, chunk_ns)


def _window(start: Any, end: Any, every: Any) -> tuple[int, int, int]:
    start_ns, end_ns = window_ns(start, end)  # one rule for reversed windows (times.py)
    every_ns = duration_ns(every)
    if every_ns <= 0:
        raise InvalidArgumentError(f"every must be a positive duration, not {every!r}")
    return start_ns, end_ns, every_ns


def _compute(tasks: list[Any], scheduler: Any) -> list[Any]:
    import dask

    kwargs = {} if scheduler is None else {"scheduler": scheduler}
    return list(dask.compute(*tasks, **kwargs))


# ---------------------------------------------------------------------- raw points
def _read_part(uri: str, options: dict | None, tags: list[str], a: int, b: int) -> Any:
    h = _open(uri, options)
    return _to_pandas(h.read(tags, as_time(a), as_time(b)))


def _to_pandas(table: pa.Table) -> Any:
    import pandas as pd

    df = table.to_pandas()
    df = df.iloc[np.argsort(table.column("time").cast(pa.int64()).to_numpy(), kind="stable")]
    df.index = pd.DatetimeIndex(df.pop("time"), name="time")
    return df


def read_dask(
    store_or_path: Any,
    tags: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    storage_options: Mapping[str, Any] | None = None,
    *,
    partition: Any = "1d",
) -> Any:
    """Raw points as a ``dask.dataframe.DataFrame`` indexed by ``time``, divisions known.

    Parameters
    ----------
    store_or_path
        An open :class:`~historian.Historian`, a local folder, or ``s3://bucket/prefix``.
    tags
        One name, a list, or None for every tag (pushed down into each partition's read).
    start, end
        The window ``[start, end)``; None: the first/last point in the store.
    storage_options
        For ``s3://`` (endpoint_url, region, credentials, allow_http), as ``historian.open``.
    partition
        Length of one partition's time chunk (default one UTC day, the store's file layout).
        Chunks are aligned on multiples of it since the Unix epoch.

    Returns
    -------
    dask.dataframe.DataFrame
        Index ``time`` (datetime64[ns, UTC], sorted inside each partition), columns ``tag``,
        ``value`` (NaN where there is no value), ``quality`` (uint32 StatusCode). Rows of one time
        are ordered by tag. ``ddf.loc["2026-01-02":"2026-01-03"]`` reads only the overlapping
        partitions. Each partition reads the latest committed snapshot when it runs.
    """
    import dask.dataframe as dd
    import pandas as pd

    uri, options = _source(store_or_path, storage_options)
    h = _client_store(store_or_path, uri, options)
    names = _names(h, tags)
    chunk_ns = duration_ns(partition)
    if chunk_ns <= 0:
        raise InvalidArgumentError(f"partition must be a positive duration, not {partition!r}")
    meta = _to_pandas(h.read(names, 0, 0))
    if start is not None and end is not None:
        window_ns(start, end, empty=True)  # the one rule for reversed windows
    lo = None if start is None else user_ns(start)
    hi = None if end is None else user_ns(end)
    if lo is None or hi is None:
        first, last = _span(h)
        lo = first if lo is None else lo
        hi = (last + 1 if last is not None else None) if hi is None else hi
    if lo is None or hi is None or hi <= lo or not names:
        return dd.from_pandas(meta, npartitions=1)
    first_chunk = (lo // chunk_ns) * chunk_ns
    cuts = [lo, *range(first_chunk + chunk_ns, hi, chunk_ns), hi]
    specs = [(uri, options, names, a, b) for a, b in itertools.pairwise(cuts)]
    divisions = [pd.Timestamp(c, tz="UTC") for c in cuts[:-1]] + [pd.Timestamp(hi - 1, tz="UTC")]
    return dd.from_map(_read_spec, specs, meta=meta, divisions=divisions, enforce_metadata=False)


def _read_spec(spec: tuple) -> Any:
    return _read_part(*spec)


def _span(h: Any) -> tuple[int | None, int | None]:
    """First and last point time in the store (files and pending points)."""
    info = h.info()
    first, last = info["first_ns"], info["last_ns"]
    _, pending = h.scan_sources()
    if pending.num_rows:
        t = pending.column("time").cast(pa.int64()).to_numpy()
        first = int(t.min()) if first is None else min(first, int(t.min()))
        last = int(t.max()) if last is None else max(last, int(t.max()))
    return first, last


# ---------------------------------------------------------------------- summaries
def _summary_part(
    uri: str,
    options: dict | None,
    tags: list[str],
    a: int,
    b: int,
    every_ns: int,
    stats: list[str],
    config: Any,
) -> pa.Table:
    # The store's own summary: it reads the bounding points outside [a, b) itself.
    h = _open(uri, options)
    return h.summary(tags, as_time(a), as_time(b), np.timedelta64(every_ns, "ns"), stats=stats,
                     config=config)  # fmt: skip


def summary(
    store_or_path: Any,
    tags: str | Iterable[str] | None,
    start: Any,
    end: Any,
    every: Any,
    stats: Iterable[str] | str = ("twa", "min", "max", "count"),
    config: Any = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    partition: Any = None,
    tags_per_task: int | None = None,
    scheduler: Any = None,
) -> pa.Table:
    """``h.summary(...)`` computed by Dask: the same table, bit for bit.

    Tasks are tag groups (``tags_per_task`` tags each) x time chunks (``partition`` long, rounded
    up to a whole number of intervals); by default about 8 tasks, split by tags first. Each task
    reads its chunk with its bounding values and runs the Numba kernels; the results are gathered
    into one Arrow table
    ordered as ``h.summary`` orders it (tag as given, interval start, stat as asked).
    ``scheduler``: as ``dask.compute`` (default: the active client, e.g. a ``LocalCluster``).

    Examples
    --------
    >>> import historian, historian.dask as hd, tempfile, dask
    >>> path = tempfile.mkdtemp()
    >>> with historian.open(path) as h:
    ...     _ = h.define("A")
    ...     _ = h.write("A", [0, 10**9, 2 * 10**9, 3 * 10**9], [0.0, 10.0, 10.0, 0.0])
    ...     single = h.summary("A", 0, 4 * 10**9, "1s", stats=["twa", "max"])
    >>> dist = hd.summary(path, "A", 0, 4 * 10**9, "1s", stats=["twa", "max"], scheduler="sync")
    >>> dist.equals(single)
    True
    """
    from historian.query.retrieval import check_summary_budget

    uri, options = _source(store_or_path, storage_options)
    h = _client_store(store_or_path, uri, options)
    names = _names(h, tags)
    start_ns, end_ns, every_ns = _window(start, end, every)
    with _client_limits(h):  # the gathered table lives on the client: refuse it up front
        stat_names = check_summary_budget(len(names), start_ns, end_ns, every_ns, stats)
    groups, edges = _plan(names, start_ns, end_ns, every_ns, partition, tags_per_task)
    from dask import delayed

    part = delayed(_summary_part, pure=True)
    tasks = [
        part(uri, options, g, a, b, every_ns, stat_names, config)
        for g in groups
        for a, b in itertools.pairwise(edges)
    ]
    results = _compute(tasks, scheduler)
    from historian.model.schema import SUMMARY_SCHEMA

    if not results:
        return SUMMARY_SCHEMA.empty_table()
    table = pa.concat_tables(results)
    # Tasks come group-major, chunk-minor: order rows by (tag as given, start); lexsort is
    # stable, so the stats keep their order inside each (tag, start).
    position = {n: i for i, n in enumerate(names)}
    tag_codes = table.column("tag").dictionary_encode().combine_chunks()
    code_pos = np.array([position[s] for s in tag_codes.dictionary.to_pylist()], dtype=np.int64)
    tag_pos = code_pos[tag_codes.indices.to_numpy()] if len(code_pos) else np.zeros(0, np.int64)
    order = np.lexsort((table.column("start").cast(pa.int64()).to_numpy(), tag_pos))
    return table.take(pa.array(order)).combine_chunks()


# ---------------------------------------------------------------------- interpolation
def _interp_part(
    uri: str, options: dict | None, tags: list[str], a: int, b: int, every_ns: int, kwargs: dict
) -> pa.Table:
    """Grid points a, a+every, ..., b (b included) for a group of tags."""
    from historian.query.align import series_by_tag
    from historian.query.retrieval import interpolated_for_tags

    h = _open(uri, options)
    series = h.bounded_series(tags, a, b + 1)
    return interpolated_for_tags(
        series_by_tag(series, tags),
        start_ns=a,
        end_ns=b,
        every_ns=every_ns,
        stepped_by_tag=h.is_stepped(tags),
        **kwargs,
    )


def interpolated(
    store_or_path: Any,
    tags: str | Iterable[str] | None,
    start: Any,
    end: Any,
    every: Any,
    *,
    max_gap: Any = None,
    extrapolate: bool = False,
    quality: bool = False,
    config: Any = None,
    storage_options: Mapping[str, Any] | None = None,
    partition: Any = None,
    tags_per_task: int | None = None,
    scheduler: Any = None,
) -> pa.Table:
    """``h.interpolated(...)`` computed by Dask (wide: ``time`` + one column per tag).

    The grid ``start, start+every, ... <= end`` is cut into chunks of whole grid steps; each task
    computes its grid points of its tags from its own bounding values. Same table as the
    single-process call.
    """
    uri, options = _source(store_or_path, storage_options)
    h = _client_store(store_or_path, uri, options)
    names = _names(h, tags)
    start_ns, end_ns, every_ns = _window(start, end, every)
    from historian.query.retrieval import check_interpolated_budget

    with _client_limits(h):  # the gathered table lives on the client: refuse it up front
        check_interpolated_budget(len(names), start_ns, end_ns, every_ns, bool(quality))
    groups, edges = _plan(names, start_ns, end_ns, every_ns, partition, tags_per_task)
    # Grid points of chunk k: edges[k] .. (edges[k+1] - every); the last chunk includes end's
    # grid point (the grid runs up to and including end).
    last_grid = start_ns + ((end_ns - start_ns) // every_ns) * every_ns
    spans = []
    for k, (a, b) in enumerate(itertools.pairwise(edges)):
        hi = last_grid if k == len(edges) - 2 else b - every_ns
        if hi >= a:
            spans.append((a, hi))
    kwargs = {
        "max_gap_ns": None if max_gap is None else duration_ns(max_gap),
        "extrapolate": extrapolate,
        "quality": quality,
        "config": config,
    }
    from dask import delayed

    part = delayed(_interp_part, pure=True)
    tasks = [part(uri, options, g, a, b, every_ns, kwargs) for g in groups for a, b in spans]
    results = _compute(tasks, scheduler)
    per_group = []
    for gi in range(len(groups)):
        chunk_tables = results[gi * len(spans) : (gi + 1) * len(spans)]
        per_group.append(pa.concat_tables(chunk_tables).combine_chunks())
    if not per_group:
        from historian.query.retrieval import interpolated_for_tags

        return interpolated_for_tags({}, start_ns=start_ns, end_ns=end_ns, every_ns=every_ns)
    out = per_group[0]
    for t in per_group[1:]:
        for name, col in zip(t.column_names[1:], t.columns[1:], strict=True):
            out = out.append_column(name, col)
    return out


# ---------------------------------------------------------------------- correlation
def correlate(
    store_or_path: Any,
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
    storage_options: Mapping[str, Any] | None = None,
    partition: Any = None,
    tags_per_task: int | None = None,
    scheduler: Any = None,
) -> pa.Table:
    """``h.correlate(...)``: the alignment (the heavy read + interpolation) runs on Dask, the
    pairwise lagged correlation of the aligned grid runs here. Same table as the single call."""
    from historian.model.times import to_ns
    from historian.query.align import matrix_from_table
    from historian.query.correlate import (
        _check_method,
        correlate_aligned,
        correlation_names,
        plan_correlation,
    )

    _check_method(method)
    uri, options = _source(store_or_path, storage_options)
    h = _client_store(store_or_path, uri, options)
    names, target = correlation_names(h, tags, target)
    plan = plan_correlation(
        names, start, end, every, max_lag, method=method, target=target, min_samples=min_samples
    )
    table = interpolated(
        store_or_path if not isinstance(store_or_path, str) else uri,
        plan.names,
        start,
        end,
        every,
        max_gap=max_gap,
        quality=True,
        storage_options=options,
        partition=partition,
        tags_per_task=tags_per_task,
        scheduler=scheduler,
    )
    _, x = matrix_from_table(table, plan.names, to_ns(end))
    return correlate_aligned(x, plan, progress=False)
