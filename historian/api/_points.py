"""Raw points in and out: write, read (whole, streamed, wide, as of events), qualify,
and the engine seam the query modules read through (bounded_series, scan_sources).

Methods of :class:`historian.api.Historian` (bound in its class body, see
:mod:`historian.api._method`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import pyarrow as pa

from historian.api._method import boundary, method
from historian.errors import InvalidArgumentError
from historian.model.times import duration_ns

if TYPE_CHECKING:
    from historian.annotations import ReadResult
    from historian.api import Historian
    from historian.storage.files import TagSlice


@boundary
def write(self: Historian, tag: str, times: Any, values: Any, quality: Any = None) -> int:
    """Write points of one tag; durable when it returns. Returns the number of points.

    ``times``: ISO strings, datetimes (naive = UTC), datetime64, pandas timestamps or int ns.
    ``values``: numbers (NaN/inf are stored with Bad quality, the raw value kept).
    ``quality``: None (Good), one OPC UA StatusCode, or one per point.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("FIC-101.PV", unit="m3/h")
    ...     h.write("FIC-101.PV", ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"], [1.5, 1.6])
    2
    """
    return self._store.write(tag, times, values, quality)


@boundary
def write_table(self: Historian, table: Any) -> int:
    """Write a long table (tag, time, value[, quality]) from Arrow, pandas or polars.

    Examples
    --------
    >>> import historian, tempfile, pyarrow as pa
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A"); _ = h.define("B")
    ...     h.write_table(pa.table({"tag": ["A", "B"], "time": [0, 0], "value": [1.0, 2.0]}))
    2
    """
    return self._store.write_table(table)


@boundary
def qualify(
    self: Historian,
    tags: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    *,
    rules: dict[str, Any] | None = None,
    apply: bool = False,
    now: Any = None,
    progress: bool | None = None,
) -> pa.Table:
    """Run qualification rules over stored history (the tag's own rules, or ``rules``).

    Returns tag, time, value, quality (new), reasons and previous_quality. With
    ``apply=True`` the points whose quality or reasons changed are written again with the new
    quality (the old versions stay readable with ``read(as_of=...)``). The source quality of a
    point flagged by an earlier qualification is taken as Good (only the result was stored).

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A")
    ...     _ = h.write("A", [0, 10**9, 2 * 10**9], [1.0, 500.0, 2.0])
    ...     h.qualify("A", rules={"range": {"lo": 0, "hi": 100}}).column("reasons").to_pylist()
    [0, 1, 0]
    """
    return self._store.qualify(
        tags, start, end, rules=rules, apply=apply, now=now, progress=progress
    )


@overload
@method
def read(
    self: Historian,
    tags: str | Iterable[str] | None = ...,
    start: Any = ...,
    end: Any = ...,
    *,
    as_of: Any = ...,
    reasons: bool = ...,
    tag_type: str = ...,
    annotations: Literal[False] = ...,
) -> pa.Table: ...


@overload
@method
def read(
    self: Historian,
    tags: str | Iterable[str] | None = ...,
    start: Any = ...,
    end: Any = ...,
    *,
    as_of: Any = ...,
    reasons: bool = ...,
    tag_type: str = ...,
    annotations: Literal[True],
) -> ReadResult: ...


@boundary
def read(
    self: Historian,
    tags: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    *,
    as_of: Any = None,
    reasons: bool = False,
    tag_type: str = "string",
    annotations: bool = False,
) -> pa.Table | ReadResult:
    """Raw points with start <= time < end as a table (tag, time, value, quality), sorted.

    ``tags``: one name, a list, or None for all tags. ``start``/``end``: any time input, None
    for unbounded. ``as_of``: return what the store held at that moment (ingest time).
    ``reasons=True`` adds the qualification reason bits. Values are null where there is no
    value (NaN). ``tag_type="dictionary"`` returns the ``tag`` column as
    ``dictionary<int32, string>`` (no string bytes per row: faster and smaller for long
    reads; pandas gets a Categorical, polars a Categorical) instead of ``string``.
    ``annotations=True`` returns ``(points, annotations)`` instead
    (:class:`~historian.annotations.ReadResult`: the same table, and :meth:`annotations`
    of the same tags and window; ``docs/annotations.md``).

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("LIC-101.PV")
    ...     _ = h.write("LIC-101.PV", [2_000_000_000, 1_000_000_000], [2.0, 1.0])
    ...     h.read("LIC-101.PV").column("value").to_pylist()
    [1.0, 2.0]
    """
    points = self._store.read(tags, start, end, as_of=as_of, reasons=reasons,
                              tag_type=tag_type)  # fmt: skip
    if not annotations:
        return points
    from historian.annotations import read_result

    return read_result(self._store, points, tags, start, end)


@method
def read_batches(
    self: Historian,
    tags: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    *,
    batch_rows: int = 1_000_000,
    reasons: bool = False,
    tag_type: str = "string",
) -> Iterator[pa.RecordBatch]:
    """The rows of :meth:`read`, streamed as ``pyarrow.RecordBatch``es of at most
    ``batch_rows`` rows, for reads that do not fit in memory.

    Tags come in name order, each in time order (the order of :meth:`read`); the store
    decodes one time window of about ``batch_rows`` rows at a time, so memory stays bounded
    by the batch, not by the read. Every batch comes from the same committed snapshot of the
    files. Same arguments as :meth:`read` (no ``as_of``); errors are raised when the
    iteration reaches them.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("FIC-101.PV")
    ...     _ = h.write("FIC-101.PV", [i * 10**9 for i in range(5)], [1.0, 2, 3, 4, 5])
    ...     [b.num_rows for b in h.read_batches("FIC-101.PV", batch_rows=2)]
    [2, 2, 1]
    """
    from historian.storage.reader import read_batches

    batches = read_batches(self._store, tags, start, end, batch_rows=batch_rows,
                           reasons=reasons, tag_type=tag_type)  # fmt: skip
    while True:
        with self._call("read_batches"):  # errors mapped like every public call's
            batch = next(batches, None)
        if batch is None:
            return
        yield batch


@method
def bounded_series(
    self: Historian, tags: Sequence[str], start_ns: int, end_ns: int
) -> dict[str, TagSlice | None]:
    """Points in [start_ns, end_ns) plus the bounding points outside it, per tag.

    The one way historian looks outside a window: summary, interpolated, plot, events,
    asof and correlate all read through it, so they agree on what a value held from long
    before the window is. Before ``start_ns``: every point back to and including the
    second-latest Good one (a sloped extrapolation needs two); after ``end_ns``: every
    point up to and including the first Good one. The search looks an hour out, then 30
    times further each step, then without limit. ``tags`` must be known names (see
    :meth:`resolve_tags`); a tag with no points at all maps to None.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A")
    ...     _ = h.write("A", [0, 10**9, 5 * 10**9, 99 * 10**12], [0.0, 1.0, 5.0, 9.0])
    ...     h.bounded_series(["A"], 4 * 10**9, 6 * 10**9)["A"].time.tolist()
    [0, 1000000000, 5000000000, 99000000000000]
    """
    return self._store.bounded_series(tags, start_ns, end_ns)


@method
def scan_sources(self: Historian) -> tuple[list[str], pa.Table]:
    """What a query engine reads for one consistent view of the store.

    Returns the absolute paths of one committed snapshot's data files (columns as in
    ``docs/format.md``: the value of a row is ``coalesce(value, value_int / 10^decimals)``)
    and the points not yet in files as a table with columns tag, time (timestamp[ns, UTC]),
    value, quality (int64), reasons (int32), ingested (timestamp[us, UTC]). A (tag, time) may
    appear more than once across both: the row with the largest ``ingested`` wins.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A")
    ...     _ = h.write("A", [0], [1.0]); h.flush(); _ = h.write("A", [1], [2.0])
    ...     files, pending = h.scan_sources()
    ...     len(files), pending.num_rows
    (1, 1)
    """
    return self._store.scan_sources()


@method
def read_wide(
    self: Historian,
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


@method
def asof(
    self: Historian,
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
