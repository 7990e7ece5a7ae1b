"""Event frames: named periods (a batch, a start-up, an excursion) on an asset, kept in the store.

A frame is ``(name, start, end, asset, template, attributes)``, as in PI Event Frames:
``asset`` the asset path it belongs to (``SiteA/Area2/Reactor1``), ``template`` the kind of
period (``"Batch"``), ``attributes`` a small dict of facts (``{"batch_id": "B-1042",
"product": "PX-7"}``; str keys, values None/bool/int/float/str), ``end`` None while the frame
is still open. Frames are written like annotations (one fsync'd, checksummed file per call in
``frames/``, :mod:`historian.storage.records`), durable on return; **last write wins** per
``(asset, name, start)``, so closing an open frame is writing it again with its end, and
making frames from the same events twice gives the same frames, not twice as many.

Frames are query windows: :func:`summary_by_frames` gives one row per (tag, frame, stat),
computed on the exact interval ``[start, end)`` of each frame with the Part 13 kernels on
arbitrary edges (:func:`historian.query.intervals.aggregate_on_edges`: bounding values from
outside the frame, a frame of 37 min 12 s is as exact as an hour). An open frame is summarised
up to the time of the call.

Examples
--------
The functions take the storage engine; ``h.add_frame``, ``h.frames`` and ``h.summary(...,
frames=...)`` call them.

>>> import tempfile
>>> from historian.storage.store import open_store
>>> with open_store(tempfile.mkdtemp()) as store:
...     _ = store.define("TIC-101.PV")
...     _ = store.write("TIC-101.PV", [0, 10**9, 2 * 10**9, 3 * 10**9], [0.0, 10.0, 10.0, 0.0])
...     _ = add_frame(store, "B-1", 0, 2 * 10**9, template="Batch", attributes={"id": 1})
...     s = summary_by_frames(store, "TIC-101.PV", "B-1", ["twa", "max"])
...     s.select(["frame", "stat", "value"]).to_pylist()
[{'frame': 'B-1', 'stat': 'twa', 'value': 7.5}, {'frame': 'B-1', 'stat': 'max', 'value': 10.0}]
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from historian.annotations import clean_text
from historian.errors import InvalidArgumentError, InvalidDataError
from historian.kernels import AggregateConfig, resolve_stat
from historian.kernels.aggregates import DURATION_AGGREGATES, FRIENDLY_NAMES
from historian.limits import current
from historian.model import quality as _q
from historian.model.times import MAX_NS, MIN_NS, now_ns, user_ns, window_ns
from historian.storage.records import append_records, read_records

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

__all__ = [
    "FRAMES_SCHEMA",
    "FRAME_SUMMARY_SCHEMA",
    "MAX_ATTRIBUTES",
    "add_frame",
    "frames_from_events",
    "list_frames",
    "summary_by_frames",
]

#: The most attributes a frame may have, and the largest they may be as JSON (bytes).
MAX_ATTRIBUTES = 256
MAX_ATTRIBUTES_BYTES = 64 * 1024
MAX_NAME_CHARS = 200
_TS = pa.timestamp("ns", tz="UTC")
FRAMES_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("asset", pa.string()),
        pa.field("template", pa.string()),
        pa.field("start", _TS, nullable=False),
        pa.field("end", _TS),
        pa.field("attributes", pa.string(), nullable=False),
    ]
)
FRAME_SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("tag", pa.string(), nullable=False),
        pa.field("frame", pa.string(), nullable=False),
        pa.field("asset", pa.string()),
        pa.field("start", _TS, nullable=False),
        pa.field("end", _TS),
        pa.field("stat", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("time", _TS),
        pa.field("status", pa.uint32(), nullable=False),
    ]
)


# ---------------------------------------------------------------------------- validation
def _name(value: Any, what: str) -> str:
    return clean_text(value, what, MAX_NAME_CHARS, newlines=False)


def _asset(value: Any) -> str | None:
    """An asset path by the rules of :mod:`historian.assets` (``SiteA/Area2/Reactor1``)."""
    if value is None:
        return None
    from historian.assets.names import validate_path

    try:
        return validate_path(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"frame asset: {exc}") from None


def _scalar(key: str, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str):
            return clean_text(value, f"attribute {key!r}", 4000, newlines=True) if value else ""
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None  # NaN (an event stat without Good samples) is "no value"
        return value
    raise InvalidArgumentError(
        f"attribute {key!r} is a {type(value).__name__}; attribute values are None, bool, int, "
        "float or str (store a list as a str, e.g. ','.join(...))"
    )


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise InvalidArgumentError(f"attributes must be a dict, not {type(attributes).__name__}")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidArgumentError(f"{len(attributes)} attributes; a frame has at most "
                                   f"{MAX_ATTRIBUTES}")  # fmt: skip
    out = {}
    for k, v in attributes.items():
        key = _name(k, "attribute name")
        out[key] = _scalar(key, v)
    size = len(json.dumps(out, sort_keys=True))
    if size > MAX_ATTRIBUTES_BYTES:
        raise InvalidArgumentError(f"the attributes take {size:,} bytes as JSON; the limit is "
                                   f"{MAX_ATTRIBUTES_BYTES:,}: keep large documents elsewhere "
                                   "and store their reference")  # fmt: skip
    return out


def _record(
    name: Any, start: Any, end: Any, asset: Any, template: Any, attributes: Mapping[str, Any] | None
) -> dict[str, Any]:
    s = user_ns(start)
    e = None if end is None else user_ns(end)
    if e is not None and e <= s:
        raise InvalidArgumentError(
            f"frame {name!r}: end {end!r} is not after start {start!r}; "
            "a frame is [start, end) (end=None: still open)"
        )
    return {"name": _name(name, "frame name"), "asset": _asset(asset),
            "template": None if template is None else _name(template, "template"),
            "start": s, "end": e, "attributes": _attributes(attributes)}  # fmt: skip


# ---------------------------------------------------------------------------- writing
def add_frame(
    store: Store,
    name: str,
    start: Any,
    end: Any = None,
    *,
    asset: str | None = None,
    template: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> pa.Table:
    """:meth:`Historian.add_frame`: write one frame (``end=None``: open); durable on return.
    Returns it as a one-row table of :data:`FRAMES_SCHEMA`."""
    record = _record(name, start, end, asset, template, attributes)
    append_records(store, "frames", [record])
    return _table([record])


def _event_bounds(events: pa.Table) -> tuple[list[int], list[int | None], list[str]]:
    for col in ("start", "end"):
        if col not in events.column_names:
            raise InvalidDataError(f"the events table has no {col!r} column; pass what "
                                   "h.events(...) returns")  # fmt: skip
    starts = events.column("start").cast(_TS).cast(pa.int64()).to_pylist()
    ends = events.column("end").cast(_TS).cast(pa.int64()).to_pylist()
    ongoing = (events.column("ongoing").to_pylist() if "ongoing" in events.column_names
               else [False] * events.num_rows)  # fmt: skip
    stats = [c for c in events.column_names if c not in ("start", "end", "duration", "ongoing")]
    return starts, [None if o else e for e, o in zip(ends, ongoing, strict=True)], stats


def _namer(name: str | Callable[[dict[str, Any]], str]) -> Callable[[int, dict[str, Any]], Any]:
    if callable(name):
        return lambda _i, row: name(row)
    if not isinstance(name, str):
        raise InvalidArgumentError(f"name must be a str template or a function, not {name!r}")

    def fmt(i: int, row: dict[str, Any]) -> str:
        iso = {k: (None if row[k] is None else
                   str(np.datetime64(int(row[k]), "ns").astype("datetime64[s]")) + "Z")
               for k in ("start", "end")}  # fmt: skip
        try:
            return name.format(n=i + 1, start=iso["start"], end=iso["end"] or "open")
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidArgumentError(
                f"name template {name!r}: {exc!r}; use the fields {{n}} (1, 2, ...), {{start}} "
                "and {end} (ISO times, UTC)"
            ) from None

    return fmt


def frames_from_events(
    store: Store,
    events: pa.Table,
    *,
    name: str | Callable[[dict[str, Any]], str],
    asset: str | None = None,
    template: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> pa.Table:
    """:meth:`Historian.frames_from_events`: one frame per row of ``events`` (the table of
    ``h.events``), written in one durable write. ``start``/``end`` are the event's; an
    ``ongoing`` event gives an open frame. The attributes are the event's statistics
    (``"TIC-101.PV.max"`` ...) and then ``attributes`` (given values win). ``name``: a template
    with ``{n}``, ``{start}``, ``{end}``, or a function of the event row (a dict)."""
    starts, ends, stats = _event_bounds(events)
    rows = events.select(stats).to_pylist() if stats else [{} for _ in starts]
    namer = _namer(name)
    records = []
    for i, (s, e, row) in enumerate(zip(starts, ends, rows, strict=True)):
        attrs = {**row, **(attributes or {})}
        records.append(
            _record(namer(i, {**row, "start": s, "end": e}), s, e, asset, template, attrs)
        )
    if records:
        append_records(store, "frames", records)
    return _table(records)


# ---------------------------------------------------------------------------- reading
def _latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Last write wins per (asset, name, start); sorted by start, asset, name."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records:
        key = (r.get("asset") or "", r["name"], int(r["start"]))
        old = best.get(key)
        if old is None or int(r["ingested"]) >= int(old["ingested"]):
            best[key] = r
    return [best[k] for k in sorted(best, key=lambda k: (k[2], k[0], k[1]))]


def _table(records: list[dict[str, Any]]) -> pa.Table:
    def ts(key: str) -> pa.Array:
        return pa.array([r[key] for r in records], pa.int64()).cast(_TS)

    return pa.Table.from_arrays([
        pa.array([r["name"] for r in records], pa.string()),
        pa.array([r.get("asset") for r in records], pa.string()),
        pa.array([r.get("template") for r in records], pa.string()),
        ts("start"), ts("end"),
        pa.array([json.dumps(r.get("attributes") or {}, sort_keys=True) for r in records],
                 pa.string()),
    ], schema=FRAMES_SCHEMA)  # fmt: skip


def _under(asset: str | None, root: str) -> bool:
    return asset is not None and (asset == root or asset.startswith(root.rstrip("/") + "/"))


def list_frames(
    store: Store,
    start: Any = None,
    end: Any = None,
    *,
    asset: str | None = None,
    template: str | None = None,
    name: str | None = None,
) -> pa.Table:
    """:meth:`Historian.frames`: the frames that overlap ``[start, end)`` (an open frame
    reaches to now), of ``asset`` or an asset under it, of ``template``, whose name matches the
    pattern ``name`` (``*``, ``?``, ``[...]``); sorted by start."""
    if start is not None and end is not None:
        lo, hi = window_ns(start, end, empty=True)
    else:
        lo = MIN_NS if start is None else user_ns(start)
        hi = MAX_NS if end is None else user_ns(end)
    root = None if asset is None else _asset(asset)
    now = now_ns()
    out = []
    for r in _latest(read_records(store, "frames")):
        e = now if r.get("end") is None else int(r["end"])
        if not (int(r["start"]) < hi and max(e, int(r["start"]) + 1) > lo):
            continue
        if root is not None and not _under(r.get("asset"), root):
            continue
        if template is not None and r.get("template") != template:
            continue
        if name is not None and not fnmatch.fnmatchcase(r["name"], name):
            continue
        out.append(r)
    return _table(out)


# ---------------------------------------------------------------------------- summaries
def _frames_arg(store: Store, frames: Any, start: Any, end: Any) -> pa.Table:
    """The frames to summarise: a table (``h.frames()`` or any with name, start, end), a name
    pattern, a dict of :func:`list_frames` filters, or True/None for every frame."""
    if isinstance(frames, pa.Table):
        missing = [c for c in ("name", "start") if c not in frames.column_names]
        if missing:
            raise InvalidDataError(
                f"the frames table has no {missing} column(s); pass "
                "h.frames(...) or a table with name, start, end"
            )
        return frames
    if frames is None or frames is True:
        return list_frames(store, start, end)
    if isinstance(frames, str):
        return list_frames(store, start, end, name=frames)
    if isinstance(frames, Mapping):
        return list_frames(store, start, end, **dict(frames))
    if hasattr(frames, "__arrow_c_stream__") or hasattr(frames, "to_arrow"):
        from historian.model import arrow

        return _frames_arg(store, arrow.table(frames), start, end)
    raise InvalidArgumentError(
        f"frames must be a table of frames (h.frames(...)), a name pattern such as 'B-*' or a "
        f"dict of filters ({{'template': 'Batch'}}), not {type(frames).__name__}"
    )


def _stats(stats: Iterable[str] | str) -> list[str]:
    names = [stats] if isinstance(stats, str) else list(stats)
    if not names:
        raise InvalidArgumentError("stats is empty; ask for at least one, e.g. stats=['twa']")
    for s in names:
        resolve_stat(s)
    return list(dict.fromkeys(names))


def _scale(given: str) -> float:
    """Durations: seconds for friendly names, milliseconds for Part 13 names (as summary)."""
    if resolve_stat(given) not in DURATION_AGGREGATES:
        return 1.0
    return 1e-9 if (given in FRIENDLY_NAMES or given.lower() in FRIENDLY_NAMES) else 1e-6


def _chains(starts: np.ndarray, ends: np.ndarray) -> list[list[int]]:
    """The frames (indices) cut into chains of non-overlapping frames, each sorted by start:
    one kernel pass per chain (the gaps between frames are intervals that are dropped)."""
    chains: list[list[int]] = []
    last_end: list[int] = []
    for i in np.argsort(starts, kind="stable").tolist():
        for c, e in enumerate(last_end):
            if starts[i] >= e:
                chains[c].append(i)
                last_end[c] = int(ends[i])
                break
        else:
            chains.append([i])
            last_end.append(int(ends[i]))
    return chains


def _chain_edges(
    idx: list[int], starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Edges of one chain, per frame of it the index of its interval, and which intervals are
    frames (the others are the gaps between them, not computed)."""
    edges: list[int] = []
    where = []
    for i in idx:
        if not edges or int(starts[i]) > edges[-1]:
            edges.append(int(starts[i]))
        where.append(len(edges) - 1)
        edges.append(int(ends[i]))
    wanted = np.zeros(len(edges) - 1, dtype=bool)
    wanted[where] = True
    return np.array(edges, dtype=np.int64), where, wanted


def summary_by_frames(
    store: Store,
    tags: str | Iterable[str] | None,
    frames: Any,
    stats: Iterable[str] | str = ("twa", "min", "max", "count"),
    config: Any = None,
    *,
    start: Any = None,
    end: Any = None,
    tz: Any = None,
) -> pa.Table:
    """:meth:`Historian.summary` with ``frames=``: one row per (tag, frame, stat), columns
    :data:`FRAME_SUMMARY_SCHEMA` (``frame``, ``asset``, ``start``, ``end`` are the frame's;
    ``end`` null for an open frame, which is summarised up to now). ``tz``: the ``start``,
    ``end`` and ``time`` columns in that zone (same instants)."""
    from historian.annotations import times_by_target
    from historian.kernels.annotations import ANNOTATION_COUNT
    from historian.query.intervals import aggregate_on_edges

    names = store.resolve_tags(tags)
    table = _frames_arg(store, frames, start, end)
    stat_names = _stats(stats)
    n = table.num_rows
    current().check("max_result_cells", n * len(names) * len(stat_names),
                    f"summary rows ({n:,} frames x {len(stat_names)} stats x {len(names)} tags)",
                    "ask for fewer frames, stats or tags")  # fmt: skip
    if n == 0 or not names:
        return FRAME_SUMMARY_SCHEMA.empty_table()
    f_start = np.asarray(table.column("start").cast(_TS).cast(pa.int64()).to_numpy(),
                         dtype=np.int64)  # fmt: skip
    f_end_col = (table.column("end").cast(_TS).cast(pa.int64()).to_pylist()
                 if "end" in table.column_names else [None] * n)  # fmt: skip
    now = now_ns()
    f_end = np.array(
        [
            max(now if e is None else int(e), int(s) + 1)
            for s, e in zip(f_start.tolist(), f_end_col, strict=True)
        ],
        np.int64,
    )
    cfg = AggregateConfig.from_any(config)
    stepped = store.is_stepped(names)
    series = store.bounded_series(names, int(f_start.min()), int(f_end.max()))
    counted = any(resolve_stat(s) == ANNOTATION_COUNT for s in stat_names)
    notes = times_by_target(store, names) if counted else {}
    chains = _chains(f_start, f_end)
    k = len(stat_names)
    value = np.full((len(names), n, k), np.nan)
    times = np.zeros((len(names), n, k), dtype=np.int64)
    status = np.zeros((len(names), n, k), dtype=np.uint32)
    for ti, tag in enumerate(names):
        s = series[tag]
        t, v, q = ((np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.uint32)) if s is None
                   else (s.time, s.value, s.quality))  # fmt: skip
        for chain in chains:
            edges, where, wanted = _chain_edges(chain, f_start, f_end)
            res = aggregate_on_edges(
                t,
                v,
                q,
                edges,
                stat_names,
                config=cfg,
                stepped=stepped[tag],
                annotations_ns=notes.get(tag),
                wanted=wanted,
            )
            for si, sname in enumerate(stat_names):
                r, sc = res[sname], _scale(sname)
                for fi, w in zip(chain, where, strict=True):
                    value[ti, fi, si] = r.values[w] * sc
                    times[ti, fi, si] = r.time_ns[w]
                    status[ti, fi, si] = r.status[w]
    out = _summary_table(names, table, stat_names, f_start, f_end_col, value, times, status)
    if tz is None:
        return out
    from historian.model.calendar import zone
    from historian.query.intervals import zoned

    return zoned(out, str(zone(tz).key), ["start", "end", "time"])


def _summary_table(
    names: list[str],
    table: pa.Table,
    stat_names: list[str],
    f_start: np.ndarray,
    f_end: list[int | None],
    value: np.ndarray,
    times: np.ndarray,
    status: np.ndarray,
) -> pa.Table:
    n, k = table.num_rows, len(stat_names)
    frame_names = table.column("name").cast(pa.string()).to_pylist()
    assets = (table.column("asset").cast(pa.string()).to_pylist()
              if "asset" in table.column_names else [None] * n)  # fmt: skip
    reps = len(names)
    value, times, status = value.ravel(), times.ravel(), status.ravel()
    null = (status >= np.uint32(_q.BAD)) | ~np.isfinite(value)

    def per_frame(items: list[Any]) -> list[Any]:
        return [x for x in items for _ in range(k)] * reps

    return pa.Table.from_arrays([
        pa.array([t for t in names for _ in range(n * k)], pa.string()),
        pa.array(per_frame(frame_names), pa.string()),
        pa.array(per_frame(assets), pa.string()),
        pa.array(np.tile(np.repeat(f_start, k), reps), pa.int64()).cast(_TS),
        pa.array(per_frame(f_end), pa.int64()).cast(_TS),
        pa.array(stat_names * (n * reps), pa.string()),
        pa.array(value, pa.float64(), mask=null),
        pa.array(times, pa.int64()).cast(_TS),
        pa.array(status, pa.uint32()),
    ], schema=FRAME_SUMMARY_SCHEMA)  # fmt: skip
