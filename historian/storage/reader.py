"""Reading a store: one consistent snapshot, merged series, bounding values, scan sources, info.

A read takes one committed snapshot of the Delta table plus the points not yet flushed (the
writer's own memory tables, or, in another process, the WAL segments the snapshot does not
cover), and merges them so that for a repeated (tag, time) the last write wins.
:func:`bounded_series` is the one way historian looks outside a window. The functions take the
:class:`~historian.storage.store.Store` they read; its methods call them in one line.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from historian.errors import CorruptDataError, StoreError
from historian.model import arrow, buffers
from historian.model.labels import repeated_strings
from historian.model.schema import POINTS_SCHEMA, TIME_TYPE
from historian.model.times import DAY_NS, HOUR_NS, MAX_NS, MIN_NS
from historian.storage import health, pins
from historian.storage.files import TagSlice
from historian.storage.memtable import (
    MemTable,
    concat,
    in_window,
    merge,
    points_from_slices,
    take,
)
from historian.storage.points import Points, cat_text, text_column
from historian.storage.table import Snapshot
from historian.storage.wal import list_segments, read_segment, segment_name

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

#: ``info()`` counts distinct points exactly up to this many rows (it reads tag and time);
#: above, ``points`` is the number of rows, superseded versions included (``points_exact``).
EXACT_POINTS_ROWS = 2_000_000  # ~0.5 s to count on a 2-core machine (1.2 s at 5M)


Pending = list[MemTable] | dict[str, list[TagSlice]]

#: How long a reader of another process retries for a snapshot the writer does not move on.
STABLE_SNAPSHOT_S = 5.0


@contextmanager
def pinned_snapshot(store: Store) -> Iterator[tuple[Snapshot | None, Pending]]:
    """:func:`snapshot_and_pending`, its files held against vacuum (of this process and of the
    writer's, :mod:`historian.storage.pins`) until the ``with`` block ends."""
    with _hold(store) as held:
        yield snapshot_and_pending(store, held)


def _hold(store: Store) -> AbstractContextManager[pins.Held]:
    """A hold on the store's pins, shown to other processes unless this one is the writer."""
    return store._pins.hold(publish=not store._lock.held)


def snapshot_and_pending(
    store: Store, held: pins.Held | None = None
) -> tuple[Snapshot | None, Pending]:
    """A committed snapshot plus the not-yet-flushed points consistent with it; ``held`` (a
    hold of the store's pins) is set to the snapshot's version."""
    if store._lock.held:
        with store._ingest_lock:
            mems = [m for m in (store._frozen, store._active) if m is not None]
        assert store._log is not None
        snap = store._log.snapshot()
        if held is not None:
            held.set(snap.version)  # held in this process's registry before it was taken
        return forget_replaced(store, snap), mems
    if store._log is None:
        if not store._table_exists():
            store._refuse_lost_log()
            return None, wal_points(store, -1)
        store._log = store._commit_log(create=False)
    if held is not None:
        # Shown to the writer's vacuum *before* the snapshot is taken: a version no newer than
        # it (the last one seen; versions only grow), or everything on the first read. A vacuum
        # that did not see this pin read the log earlier still, so it deletes only files the
        # snapshot taken below does not list (historian.storage.pins).
        last = store._log.last_version()
        held.set(pins.HOLDS_ALL if last is None else last)
    # Against a writer committing faster than one attempt takes, attempts go on for a while
    # rather than a fixed count (each one that loses the race is a few ms).
    deadline = time.monotonic() + STABLE_SNAPSHOT_S
    for attempt in itertools.count():
        if attempt >= 20 and time.monotonic() > deadline:
            break
        snap = store._log.snapshot()
        if held is not None:
            held.set(snap.version)  # narrowed to what this read uses
        try:
            pending = wal_points(store, snap.wal_upto)
        except FileNotFoundError:
            continue  # a segment was flushed and removed meanwhile: take a newer snapshot
        if store._log.snapshot().version == snap.version:
            return forget_replaced(store, snap), pending
    raise StoreError(
        f"could not get a stable snapshot of {store.path!r} in {STABLE_SNAPSHOT_S:.0f} s; the "
        "writer commits faster than a reader can read its log: flush less often (flush_seconds, "
        "flush_points)"
    )


def forget_replaced(store: Store, snap: Snapshot) -> Snapshot:
    """``snap``, once the store's open files outside it are forgotten (their descriptors close
    when no read holds them): a reader that lives across many compactions keeps a flat count
    of open files. A read of an older pinned snapshot reopens what it needs."""
    table_dir = store.settings.table_dir
    store._files.keep_only(snap.version, lambda: {os.path.join(table_dir, p) for p in snap.paths})
    return snap


def wal_points(store: Store, wal_upto: int) -> dict[str, list[TagSlice]]:
    """Points in WAL segments after ``wal_upto`` (another process's unflushed writes).

    Segments only grow until they are flushed and deleted, so a segment is re-read only when
    its size changed, and the per-tag view is rebuilt only when some segment changed.
    """
    live: list[tuple[str, int]] = []
    for seg in list_segments(store.settings.wal_dir):
        if seg > wal_upto:
            path = os.path.join(store.settings.wal_dir, segment_name(seg))
            live.append((path, os.path.getsize(path)))
    key = tuple(live)
    if store._wal_view is not None and store._wal_view[0] == key:
        return store._wal_view[1]
    mem = MemTable()
    for path, size in live:
        cached = store._wal_cache.get(path)
        if cached is None or cached[0] != size:
            cached = (size, list(read_segment(path, live=True)))
            store._wal_cache[path] = cached
        for p in cached[1]:
            mem.add(p)
    paths = {p for p, _ in live}
    for path in list(store._wal_cache):
        if path not in paths:
            del store._wal_cache[path]
    view = {tag: mem.read(tag, MIN_NS, MAX_NS) for tag in mem.tags()}
    store._wal_view = (key, view)
    return view


def series(
    store: Store,
    tags: Sequence[str],
    start_ns: int,
    end_ns: int,
    as_of_us: int | None = None,
    with_reasons: bool = False,
    pinned: tuple[Snapshot | None, Any] | None = None,
) -> dict[str, TagSlice | None]:
    """Merged points per tag in [start, end) (reason bits only when asked), from the snapshot
    ``pinned`` (a :func:`snapshot_and_pending` result) or the newest one."""
    parts = series_parts(store, tags, start_ns, end_ns, as_of_us, with_reasons, pinned)
    return {tag: merge(sl, as_of_us) for tag, sl in parts.items()}


def series_parts(
    store: Store,
    tags: Sequence[str],
    start_ns: int,
    end_ns: int,
    as_of_us: int | None = None,
    with_reasons: bool = False,
    pinned: tuple[Snapshot | None, Any] | None = None,
) -> dict[str, list[TagSlice]]:
    """Per tag, the points in [start, end) of each source (memory, WAL, files), not merged."""
    if pinned is not None:  # the caller holds this snapshot
        return _snapshot_parts(store, *pinned, tags, start_ns, end_ns, as_of_us, with_reasons)
    with pinned_snapshot(store) as (snap, pending):
        return _snapshot_parts(store, snap, pending, tags, start_ns, end_ns, as_of_us, with_reasons)


def _snapshot_parts(
    store: Store,
    snap: Snapshot | None,
    pending: Any,
    tags: Sequence[str],
    start_ns: int,
    end_ns: int,
    as_of_us: int | None,
    with_reasons: bool,
) -> dict[str, list[TagSlice]]:
    parts = _pending_parts(pending, tags, start_ns, end_ns)
    if snap is None:
        return parts
    chosen = [os.path.join(store.settings.table_dir, snap.paths[i])
              for i in snap.select(start_ns, end_ns, list(tags))]  # fmt: skip
    _read_files(store, snap, chosen, tags, start_ns, end_ns, as_of_us, with_reasons, parts)
    return parts


#: A multi-file read runs on the read threads only with at least this many rows per tag range.
_PARALLEL_ROWS_PER_RANGE = 8192


def _read_files(
    store: Store,
    snap: Snapshot,
    chosen: list[str],
    tags: Sequence[str],
    start_ns: int,
    end_ns: int,
    as_of_us: int | None,
    with_reasons: bool,
    parts: dict[str, list[TagSlice]],
) -> None:
    """Add to ``parts`` the points in [start, end) of the files ``chosen`` of ``snap``."""
    opened = []
    for path in chosen:
        try:
            opened.append(store._files.get(path))
        except FileNotFoundError:
            rel = os.path.relpath(path, store.settings.table_dir)
            raise missing_file(store, snap, rel) from None
    per_file = [f.ranges(list(tags), start_ns, end_ns) for f in opened]
    # Ingest times are only needed to settle repeats: as-of reads, or several sources.
    sources = {t: len(parts[t]) for t in tags}
    for r in per_file:
        for t in r:
            sources[t] += 1

    def read_one(k: int) -> dict[str, TagSlice]:
        ranges = per_file[k]
        need_ingested = as_of_us is not None or any(sources[t] > 1 for t in ranges)
        return opened[k].read(
            ranges, start_ns, end_ns, with_ingested=need_ingested,
            with_reasons=with_reasons,
        )  # fmt: skip

    todo = [k for k, r in enumerate(per_file) if r]
    n_ranges = sum(len(per_file[k]) for k in todo)
    rows = sum(hi - lo for k in todo for lo, hi in per_file[k].values())
    # Threads pay when Arrow's decoding (GIL released) dominates; with many short tag ranges
    # the per-tag Python does, and two threads fighting over the GIL were 1.5x slower
    # (1,000 tags x 2,000 rows: 79 ms serial, 127 ms on two threads; 100 x 20,000: 84 vs 59).
    decode_bound = rows >= _PARALLEL_ROWS_PER_RANGE * n_ranges
    if len(todo) > 1 and store.settings.read_threads > 1 and decode_bound:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=store.settings.read_threads) as pool:
            results = list(pool.map(read_one, todo))
    else:
        results = [read_one(k) for k in todo]
    for got in results:
        for tag, sl in got.items():
            parts[tag].append(sl)


def _pending_parts(
    pending: list[MemTable] | dict[str, list[TagSlice]],
    tags: Sequence[str],
    start_ns: int,
    end_ns: int,
) -> dict[str, list[TagSlice]]:
    """Per tag, the unflushed points in [start, end): memory tables, or WAL slices."""
    parts: dict[str, list[TagSlice]] = {t: [] for t in tags}
    if isinstance(pending, list):
        for mem in pending:
            for tag in tags:
                parts[tag].extend(mem.read(tag, start_ns, end_ns))
    else:
        for tag in tags:
            for c in pending.get(tag, ()):
                keep = in_window(c.time, start_ns, end_ns)
                if keep.any():
                    parts[tag].append(take(c, keep))
    return parts


def missing_file(store: Store, snap: Snapshot, rel: str) -> StoreError:
    """The error for a data file a snapshot names that is not on disk."""
    assert store._log is not None
    newest = store._log.snapshot()
    if rel not in newest.paths:  # replaced meanwhile, and vacuumed after its grace period
        return StoreError(
            f"data file {rel} of snapshot {snap.version} was replaced and vacuumed while "
            "this read ran; retry the read"
        )
    where = os.path.join(store.settings.table_dir, rel)
    return CorruptDataError(
        f"data file {where} is missing: the commit log (version {newest.version}) still "
        "references it, so it was not vacuumed by historian; it was deleted or moved by "
        "something else. Restore it from a backup (same name), or run `historian repair "
        f"{store.path}` (try --dry-run), which commits a new version without it: its points "
        "are then gone, nothing else is deleted"
    )


def bounded_series(
    store: Store, tags: Sequence[str], start_ns: int, end_ns: int
) -> dict[str, TagSlice | None]:
    """:meth:`Store.bounded_series` (its docstring has the contract)."""
    from historian.model import quality as q

    # One read of the window and an hour each side (the files are decoded once, not three
    # times), cut per tag: two Good points before the window (a sloped extrapolation needs a
    # slope), one after. Only tags without them there look further, hour -> 30 h -> ... -> all.
    lo, hi = max(MIN_NS, start_ns - HOUR_NS), min(MAX_NS, end_ns + HOUR_NS)
    wide = store._series(tags, lo, hi)
    window = np.array([start_ns, end_ns], dtype=np.int64)
    out: dict[str, TagSlice | None] = {}
    short_before: dict[str, int] = {}  # tag -> Good points found before the window so far
    short_after: dict[str, int] = {}
    for tag in tags:
        sl = wide[tag]
        if sl is None:
            out[tag] = None
            short_before[tag] = short_after[tag] = 0
            continue
        n = len(sl.time)
        i0, i1 = (int(i) for i in sl.time.searchsorted(window, "left"))
        if end_ns >= MAX_NS:
            i1 = n
        if n and int(sl.quality.max()) < q.UNCERTAIN:  # all Good (the usual case)
            k0, first, last, after_found = i0, max(0, i0 - 2), min(n, i1 + 1), i1 < n
        else:
            good = np.flatnonzero(q.good_mask(sl.quality))
            k0, k1 = (int(k) for k in good.searchsorted([i0, i1]))
            first = int(good[k0 - 2]) if k0 >= 2 else 0
            last, after_found = (int(good[k1]) + 1, True) if k1 < good.size else (n, False)
        if k0 < 2:
            short_before[tag] = k0
        if not after_found:
            short_after[tag] = 0
        out[tag] = sl if (first, last) == (0, n) else take(sl, slice(first, last))
    if short_before or short_after:
        before = _look_further(store, short_before, lo, "before")
        after = _look_further(store, short_after, hi, "after")
        for tag in set(before) | set(after):
            mid = out[tag]
            pieces = sorted(before.get(tag, []), key=lambda s: int(s.time[0]))
            pieces += [mid] if mid is not None else []
            pieces += sorted(after.get(tag, []), key=lambda s: int(s.time[0]))
            out[tag] = concat(pieces) if pieces else None
    return out


def _look_further(
    store: Store, found: dict[str, int], edge: int, side: str
) -> dict[str, list[TagSlice]]:
    """Per tag, the pieces beyond ``edge`` (already read up to it) that hold the Good points
    still missing on ``side`` (two before, one after), reaching 30 h, then 30× more each time,
    then everything."""
    from historian.model import quality as q

    wanted = 2 if side == "before" else 1
    parts: dict[str, list[TagSlice]] = {t: [] for t in found}
    todo = list(found)
    reach: int | None = 30 * HOUR_NS
    covered = edge
    while todo:
        if side == "before":
            lo = MIN_NS if reach is None else max(MIN_NS, edge - reach)
            got = store._series(todo, lo, covered) if lo < covered else {}
            covered = lo
        else:
            hi = MAX_NS if reach is None else min(MAX_NS, edge + reach)
            got = store._series(todo, covered, hi) if covered < hi else {}
            covered = hi
        still = []
        for tag in todo:
            sl = got.get(tag)
            if sl is None:
                if reach is not None:
                    still.append(tag)
                continue
            good = np.flatnonzero(q.good_mask(sl.quality))
            need = wanted - found[tag]
            if good.size >= need:
                cut = (
                    slice(int(good[-need]), None)
                    if side == "before"
                    else slice(0, int(good[need - 1]) + 1)
                )
                parts[tag].append(take(sl, cut))
                continue
            parts[tag].append(sl)
            found[tag] += int(good.size)
            if reach is not None:
                still.append(tag)
        todo = still
        reach = None if reach is None or reach >= 400 * DAY_NS else reach * 30
    return parts


def scan_sources(store: Store) -> tuple[list[str], pa.Table]:
    """:meth:`Store.scan_sources` (its docstring has the contract)."""
    with pinned_scan(store) as got:
        return got


@contextmanager
def pinned_scan(store: Store) -> Iterator[tuple[list[str], pa.Table]]:
    """:func:`scan_sources`, its files held against vacuum until the ``with`` block ends."""
    store._check_open()
    with pinned_snapshot(store) as (snap, pending):
        yield _sources(store, snap, pending)


def _sources(store: Store, snap: Snapshot | None, pending: Pending) -> tuple[list[str], pa.Table]:
    paths = [] if snap is None else [os.path.join(store.settings.table_dir, p) for p in snap.paths]
    if isinstance(pending, list):
        by_tag: dict[str, list[TagSlice]] = {}
        for mem in pending:
            for tag in mem.tags():
                by_tag.setdefault(tag, []).extend(mem.read(tag, MIN_NS, MAX_NS))
    else:
        by_tag = pending
    names = sorted(t for t, sl in by_tag.items() if sl)
    pts = points_from_slices(names, [concat(by_tag[t]) for t in names]) if names else Points.empty()
    table = pa.table(
        {
            "tag": pa.DictionaryArray.from_arrays(
                pa.array(pts.codes, pa.int32()), pa.array(pts.names, pa.string())
            ).cast(pa.string()),
            "time": pa.array(pts.time, TIME_TYPE),
            "value": pa.array(pts.value, pa.float64()),
            "quality": pa.array(pts.quality.astype(np.int64), pa.int64()),
            "reasons": pa.array(pts.reasons.astype(np.int32), pa.int32()),
            "ingested": pa.array(pts.ingested, pa.timestamp("us", tz="UTC")),
            "text": text_column(pts.text, len(pts)),
        }
    )
    return paths, table


def info(store: Store) -> dict[str, Any]:
    """:meth:`Store.info` (its docstring has the contract)."""
    store._check_open()
    found: list[str] = []  # damage that keeps part of the store from being read
    try:
        snap, pending = snapshot_and_pending(store)
    except CorruptDataError as exc:
        found.append(str(exc))
        snap, pending = None, []
    try:
        n_tags: int | None = len(store._catalog.all())
    except CorruptDataError as exc:
        found.append(str(exc))
        n_tags = None
    n_pending = (
        sum(len(m) for m in pending)
        if isinstance(pending, list)
        else sum(len(c.time) for cs in pending.values() for c in cs)
    )
    files = 0 if snap is None else len(snap.paths)
    size = 0 if snap is None else int(snap.sizes.sum())
    rows = 0 if snap is None else int(snap.rows.sum())
    span: tuple[int | None, int | None] = (None, None)
    if snap is not None and files:
        span = (int(snap.tmin.min()), int(snap.tmax.max()))
    points, exact = rows + n_pending, False
    if not found and rows + n_pending <= EXACT_POINTS_ROWS:
        # one point per (tag, time): superseded versions (corrections, history kept for
        # as_of) are rows, not points; counted by the read path, WAL points included
        try:
            series = store._series([t.name for t in store._catalog.all()], MIN_NS, MAX_NS)
        except CorruptDataError as exc:  # e.g. a data file gone: report it, count rows
            found.append(str(exc))
        else:
            points = sum(0 if s is None else len(s.time) for s in series.values())
            exact = True
    return {
        "path": store.path,
        "tags": n_tags,
        "points": points,  # distinct (tag, time), files and WAL; rows when not exact
        "points_exact": exact,  # False above EXACT_POINTS_ROWS rows (counting would read)
        "points_in_files": rows,
        "points_pending": n_pending,
        "files": files,
        "bytes": size,
        "bytes_per_point": (size / rows) if rows else None,
        "first_ns": span[0],
        "last_ns": span[1],
        "version": None if snap is None else snap.version,
        "writer": store._lock.held,
        # the writer's background flushes: state ("ok"/"retrying"), failures, error, p99s
        "background": store._background.state(),
        # damage found while using the store (docs/storage.md "When something is damaged")
        "problems": found + [str(p) for p in health.under(store.path)],
        # "ok", or "damaged" when there are problems (`historian info` then exits 1)
        "health": "damaged" if found or health.under(store.path) else "ok",
    }


#: Rows above which a read's columns are chunks of the sources' own arrays instead of one copy.
CHUNK_ROWS = 1 << 20


def read_table(
    store: Store,
    names: list[str],
    start_ns: int,
    end_ns: int,
    as_of_us: int | None,
    reasons: bool,
    dictionary: bool,
    with_text: bool,
) -> pa.Table:
    """The table of :meth:`Store.read`: one copy of the points, never two.

    Sources that cannot hold a repeated (tag, time) (disjoint, strictly increasing times: the
    usual case) are not merged: their decoded arrays become the table's chunks as they are, in
    groups of about :data:`CHUNK_ROWS` rows; only sources that overlap are merged first.
    """
    parts = series_parts(store, names, start_ns, end_ns, as_of_us, with_reasons=reasons)
    pieces: dict[str, list[TagSlice]] = {}
    for tag, slices in parts.items():
        chunks = None if as_of_us is not None else _disjoint(slices)
        if chunks is None:
            merged = merge(slices, as_of_us)
            chunks = [] if merged is None else [merged]
        pieces[tag] = chunks
    return _points_table(sorted(names), pieces, reasons, dictionary=dictionary,
                         with_text=with_text)  # fmt: skip


def _disjoint(slices: list[TagSlice]) -> list[TagSlice] | None:
    """The slices in time order when their times are strictly increasing across all of them
    (nothing to merge), else None."""
    live = sorted((s for s in slices if len(s.time)), key=lambda s: int(s.time[0]))
    for k, s in enumerate(live):
        t = s.time
        if (k and int(live[k - 1].time[-1]) >= int(t[0])) or (
            t.size > 1 and not bool(np.all(t[1:] > t[:-1]))
        ):
            return None
    return live


def _points_table(
    names: list[str],
    series: dict[str, TagSlice | None] | dict[str, list[TagSlice]],
    with_reasons: bool,
    dictionary: bool = False,
    with_text: bool = False,
) -> pa.Table:
    """The points table of ``series`` in the order of ``names``: one copy of each column, the
    tag column built from buffers (``dictionary<int32, string>`` when ``dictionary``).

    A tag's series may be a list of time-ordered slices: pieces of :data:`CHUNK_ROWS` rows or
    more become chunks of their own without a copy, smaller ones are joined into chunks.
    A ``text`` column (string, null where a point has none) comes last when ``with_text`` or
    when a point read carries a text; without, the schema is exactly ``POINTS_SCHEMA``."""
    present: list[tuple[str, TagSlice]] = []
    for n in names:
        got = series.get(n)
        present.extend((n, s) for s in (got if isinstance(got, list) else [got]) if s is not None)
    groups: list[list[tuple[str, TagSlice]]] = [[]]
    rows = 0
    for n, s in present:
        if groups[-1] and (rows + len(s.time) > CHUNK_ROWS):
            groups.append([])
            rows = 0
        groups[-1].append((n, s))
        rows += len(s.time)
    read = list(dict.fromkeys(n for n, _ in present))  # the names with rows, in order
    if len(groups) == 1:
        return _points_chunk(read, groups[0], with_reasons, dictionary, with_text)
    with_text = with_text or any(s.text is not None for _, s in present)
    tables = [_points_chunk(read, g, with_reasons, dictionary, with_text) for g in groups]
    return pa.concat_tables(tables)  # chunks side by side: no copy


def _points_chunk(
    names: list[str],
    present: list[tuple[str, TagSlice]],
    with_reasons: bool,
    dictionary: bool,
    with_text: bool,
) -> pa.Table:
    """One chunk of :func:`_points_table`: the slices ``present``, in order."""
    with_text = with_text or any(s.text is not None for _, s in present)
    schema = POINTS_SCHEMA
    if dictionary:
        schema = schema.set(
            0, pa.field("tag", pa.dictionary(pa.int32(), pa.string()), nullable=False)
        )
    if with_reasons:
        schema = schema.append(pa.field("reasons", pa.uint32()))
    if with_text:
        schema = schema.append(pa.field("text", pa.string()))
    if not present:
        return schema.empty_table()
    counts = np.array([len(s.time) for _, s in present], dtype=np.int64)

    def joined(field: str) -> np.ndarray:  # one tag: its array as is (a concat would copy it)
        arrays = [getattr(s, field) for _, s in present]
        if len(arrays) == 1:
            return np.asarray(arrays[0])
        out = buffers.empty(int(counts.sum()), np.result_type(*arrays))  # no page faults
        return np.concatenate(arrays, out=out)

    v = joined("value")
    if dictionary:  # one dictionary (every name read) in every chunk
        where = {n: i for i, n in enumerate(names)}
        codes = np.repeat(np.array([where[n] for n, _ in present], dtype=np.int32), counts)
        tag_col: Any = pa.DictionaryArray.from_arrays(
            arrow.array(codes, pa.int32()), arrow.array(list(names), pa.string())
        )
    else:
        tag_col = repeated_strings([n for n, _ in present], counts)
    cols = [
        tag_col,
        arrow.array(joined("time"), TIME_TYPE),
        arrow.array(v, pa.float64(), mask=np.isnan(v)),
        arrow.array(joined("quality"), pa.uint32()),
    ]
    if with_reasons:
        cols.append(arrow.array(joined("reasons"), pa.uint32()))
    if with_text:
        text = cat_text([s.text for _, s in present], counts.tolist())
        cols.append(text_column(text, int(counts.sum())))
    return pa.Table.from_arrays(cols, schema=schema)


def may_repeat(store: Store, paths: list[str], pending_rows: int) -> bool:
    """Whether a (tag, time) may be stored more than once among ``paths`` (a snapshot's files)
    plus ``pending_rows`` unflushed points: only then must a reader keep the last write.

    Files know it of themselves (their index's ``dups``; files of format 1 do not say, so they
    may); two files can share a (tag, time) only when both their tag ranges and their time
    ranges overlap. Unflushed points may repeat anything. No data is read: the files' footers
    are already open (cached) for the read itself.
    """
    if pending_rows:
        return True
    opened = []
    for path in paths:
        f = store._files.get(path)
        if f.may_repeat:
            return True
        if f.num_rows:
            opened.append((int(f.tmin.min()), int(f.tmax.max()), f.tags[0], f.tags[-1]))
    opened.sort()
    active: list[tuple[int, str, str]] = []  # files still open at the sweep's time
    for t0, t1, lo, hi in opened:
        active = [a for a in active if a[0] >= t0]
        if any(not (b_hi < lo or b_lo > hi) for _, b_lo, b_hi in active):
            return True
        active.append((t1, lo, hi))
    return False


def read_batches(
    store: Store,
    tags: Any = None,
    start: Any = None,
    end: Any = None,
    *,
    batch_rows: int = 1_000_000,
    reasons: bool = False,
    tag_type: str = "string",
) -> Iterator[pa.RecordBatch]:
    """:meth:`Historian.read_batches <historian.api.Historian.read_batches>` (its docstring has
    the contract): the rows of ``read`` as record batches of at most ``batch_rows`` rows, tag by
    tag in time order, decoding one time window of about ``batch_rows`` rows at a time."""
    from historian.errors import InvalidArgumentError
    from historian.model.times import user_ns, window_ns

    store._check_open()
    if tag_type not in ("string", "dictionary"):
        raise InvalidArgumentError(f"tag_type must be 'string' or 'dictionary', not {tag_type!r}")
    if not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidArgumentError(f"batch_rows must be a positive int, not {batch_rows!r}")
    names = sorted(store.resolve_tags(tags))
    if start is not None and end is not None:
        window_ns(start, end, empty=True)  # a reversed window is refused, never empty
    start_ns = MIN_NS if start is None else user_ns(start)
    end_ns = MAX_NS if end is None else user_ns(end)
    # Every batch comes from this one snapshot, held against vacuum until the iterator ends.
    with _hold(store) as hold:
        snap, pending = snapshot_and_pending(store, hold)
        if isinstance(pending, list):  # the writer's live memory tables: copy what they hold
            copied: dict[str, list[TagSlice]] = {n: [] for n in names}
            for mem in pending:
                for n in names:
                    copied[n].extend(mem.read(n, MIN_NS, MAX_NS))
            pending = copied
        pinned = (snap, pending)
        for name in names:
            text = store._catalog.get(name).is_text
            for lo, hi in _windows(store, snap, name, start_ns, end_ns, batch_rows):
                store._check_open()  # a store closed while its reader streams
                hold.refresh()  # a long stream stays pinned for readers on other hosts
                got = series(store, [name], lo, hi, with_reasons=reasons, pinned=pinned)
                table = _points_table(
                    [name], got, reasons, dictionary=tag_type == "dictionary", with_text=text
                )
                yield from table.to_batches(max_chunksize=batch_rows)


def _windows(
    store: Store, snap: Snapshot | None, tag: str, start_ns: int, end_ns: int, rows: int
) -> list[tuple[int, int]]:
    """[lo, hi) windows covering [start, end) that each hold about ``rows`` of ``tag``'s stored
    rows, from the files' indexes (no data read): a file's rows of the tag are taken as spread
    evenly over its time range."""
    pieces: list[tuple[int, int]] = []  # (first time, rows) of pieces of <= rows rows
    if snap is None:
        return [(start_ns, end_ns)]
    for i in snap.select(start_ns, end_ns, [tag]):
        f = store._files.get(os.path.join(store.settings.table_dir, snap.paths[i]))
        r = f.ranges([tag], start_ns, end_ns).get(tag)
        if r is None:
            continue
        first, last = f.tag_span(tag) or (start_ns, end_ns)
        t0, t1, n = max(first, start_ns), min(last, end_ns), r[1] - r[0]
        parts = max(1, -(-n // rows))
        edges = np.linspace(t0, t1, parts + 1).astype(np.int64)
        pieces.extend((int(e), -(-n // parts)) for e in edges[:-1])
    pieces.sort()
    cuts = [start_ns]
    acc = 0
    for t, n in pieces:
        if acc and acc + n > rows and t > cuts[-1]:
            cuts.append(t)
            acc = 0
        acc += n
    cuts.append(end_ns)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a or a == b == MAX_NS]
