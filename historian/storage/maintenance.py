"""Maintenance of a store: compaction, retention, deletes, renames and vacuuming.

Each rewrites files under the writer's flush lock and commits a new version; replaced files stay
on disk for a grace period so readers of older snapshots keep working, then :func:`vacuum`
removes them. The functions take the :class:`~historian.storage.store.Store` they change; its
methods call them in one line.
"""

from __future__ import annotations

import logging
import os
import time as _time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from historian.errors import InvalidArgumentError, StoreError
from historian.model.tags import Tag, validate_tag_name
from historian.model.times import (
    DAY_NS,
    MAX_NS,
    MIN_NS,
    duration_ns,
    now_ns,
    to_ns,
    user_ns,
    window_ns,
)
from historian.progress import iterate as _progress
from historian.storage.errmap import storage_errors
from historian.storage.files import DataFile, TagSlice, WrittenFile
from historian.storage.memtable import concat, points_from_slices, take
from historian.storage.points import Points
from historian.storage.table import Snapshot

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

log = logging.getLogger(__name__)


def small_files(store: Store, snap: Snapshot) -> dict[str, list[str]]:
    """Per day, the files below the compaction size (the ones worth merging)."""
    by_day: dict[str, list[str]] = {}
    for path, rows in zip(snap.paths, snap.rows.tolist(), strict=True):
        if rows < store.settings.compact_rows:
            by_day.setdefault(path.split("/", 1)[0].removeprefix("day="), []).append(path)
    return by_day


def maybe_compact(store: Store, days: list[str]) -> None:
    """After a flush: merge each of ``days`` whose size tier (:func:`size_tier`) holds
    ``auto_compact_files`` files or more."""
    if not days or store.settings.auto_compact_files <= 0 or store._log is None:
        return

    def due(snap: Snapshot) -> dict[str, list[str]]:
        small = small_files(store, snap)
        rows = dict(zip(snap.paths, snap.rows.tolist(), strict=True))
        tiers = {day: size_tier(small.get(day, []), rows) for day in days}
        return {d: t for d, t in tiers.items() if len(t) >= store.settings.auto_compact_files}

    try:
        if not compact_files(store, due) and store._vacuum_due:
            # The last compaction's replaced files were kept while its commit was the newest
            # (vacuum keeps the previous state of the newest commit): this flush committed
            # after it, so they can go now instead of at the next compaction.
            store._vacuum_due = False
            store._vacuum()
    except (StoreError, MemoryError) as exc:  # housekeeping: the flush itself is committed
        if isinstance(exc, StoreError) and store._transient(exc):  # an outage only skips it
            log.warning("automatic compaction of %s skipped (%s); will retry", store.path, exc)
        else:
            log.exception("automatic compaction of %s failed; will retry later", store.path)


def size_tier(files: list[str], rows: dict[str, int]) -> list[str]:
    """The files an automatic compaction merges: smallest first, each joining only while it
    holds no more rows than those chosen before it together.

    Flush files (all about the same size) all join; the file an earlier merge made joins
    once the new ones add up to it. So a row is rewritten about log2(rows of the day /
    rows of a flush) times, not once every ``auto_compact_files`` flushes as when every merge
    took in the whole day so far (3,000 flushes: 59-63x the live bytes on disk, issue 13).
    """
    chosen: list[str] = []
    total = 0
    for path in sorted(files, key=lambda p: (rows[p], p)):
        if chosen and rows[path] > total:
            break
        chosen.append(path)
        total += rows[path]
    return chosen


def compact(
    store: Store,
    days: Iterable[str] | None = None,
    *,
    full: bool = False,
    progress: bool | None = None,
) -> int:
    """:meth:`Store.compact` (its docstring has the contract)."""
    store._check_open()
    store._become_writer()

    def chosen(snap: Snapshot) -> dict[str, list[str]]:
        by_day: dict[str, list[str]] = {}
        for p in snap.paths:
            by_day.setdefault(p.split("/", 1)[0].removeprefix("day="), []).append(p)
        small = small_files(store, snap)
        wanted = [
            d
            for d in (sorted(by_day) if days is None else days)
            if len(small.get(d, ())) >= 2 or (full and len(by_day.get(d, ())) >= 2)
        ]
        ranges = {p: (snap.tag_min[i], snap.tag_max[i]) for i, p in enumerate(snap.paths)}
        return {
            day: by_day[day] if full else _overlapping(small[day], by_day[day], ranges)
            for day in wanted
        }

    return compact_files(store, chosen, progress=progress, always_vacuum=True)


def compact_files(
    store: Store,
    choose: Callable[[Snapshot], dict[str, list[str]]],
    *,
    progress: bool | None = False,
    always_vacuum: bool = False,
) -> int:
    """Merge the files ``choose`` picks per day from the newest snapshot (taken under the
    flush lock, so no other change replaces them meanwhile), one commit per day; then vacuum
    (``always_vacuum``: even when nothing was merged). Returns how many files were replaced."""
    assert store._log is not None
    replaced = 0
    with (
        store._flush_lock,
        storage_errors(
            f"compacting {store.path}", "no point was lost (the replaced files stay); retry later"
        ),
    ):
        files_by_day = choose(store._log.snapshot())
        for day in _progress(list(files_by_day), progress, "compacting"):
            files = files_by_day[day]
            written = rewrite_day(store, files)
            store._log.commit(written, files, operation="compact")
            for f in files:
                store._files.drop(os.path.join(store.settings.table_dir, f))
            replaced += len(files)
        if files_by_day or always_vacuum:
            store._vacuum()
        store._vacuum_due = store._vacuum_due or bool(files_by_day)
    return replaced


def rewrite_day(store: Store, relpaths: list[str]) -> list[WrittenFile]:
    """Merge one day's files into files of about ``part_rows`` rows, tag range by tag range."""
    opened = [store._files.get(os.path.join(store.settings.table_dir, rel)) for rel in relpaths]
    rows_per_tag: dict[str, int] = {}
    for f in opened:
        for tag, n in zip(f.tags, np.diff(f.row_start).tolist(), strict=True):
            rows_per_tag[tag] = rows_per_tag.get(tag, 0) + n
    batches: list[list[str]] = [[]]
    acc = 0
    for tag in sorted(rows_per_tag):
        if batches[-1] and acc + rows_per_tag[tag] > store.settings.part_rows:
            batches.append([])
            acc = 0
        batches[-1].append(tag)
        acc += rows_per_tag[tag]

    def rewrite(tags: list[str]) -> Any:
        points = merge_tags(store, opened, tags)
        return store._write_file(points) if len(points) else None

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=store.settings.write_threads) as pool:
        return [w for w in pool.map(rewrite, batches) if w is not None]


def merge_tags(store: Store, opened: list[DataFile], tags: list[str]) -> Points:
    slices_by_tag: dict[str, list[TagSlice]] = {}
    for f in opened:
        for tag, sl in f.read(tags, MIN_NS, MAX_NS).items():
            slices_by_tag.setdefault(tag, []).append(sl)
    horizon_us = (now_ns() - store.settings.history_ns) // 1000
    names = sorted(slices_by_tag)
    parts = []
    for tag in names:
        s = concat(slices_by_tag[tag])
        t = s.time
        if t.size > 1 and not bool(np.all(t[1:] > t[:-1])):
            order = np.lexsort((s.ingested, s.time))
            s = take(s, order)
            t = s.time
            # Keep the last version of each time, and older versions still inside the history
            # window (superseded after the horizon), for as-of reads; drop exact copies.
            nxt_same = np.zeros(t.size, dtype=bool)
            nxt_same[:-1] = t[1:] == t[:-1]
            superseded_at = np.full(t.size, np.iinfo(np.int64).max)
            superseded_at[:-1] = s.ingested[1:]
            exact_dup = np.zeros(t.size, dtype=bool)
            exact_dup[:-1] = nxt_same[:-1] & (s.ingested[1:] == s.ingested[:-1])
            keep = (~nxt_same | (superseded_at > horizon_us)) & ~exact_dup
            s = take(s, keep)  # the text too
        parts.append(s)
    return points_from_slices(names, parts)


def vacuum(store: Store) -> None:
    assert store._log is not None
    try:
        removed = store._log.vacuum(store.settings.grace_hours)
    except Exception:  # vacuum is housekeeping: never fail a compaction over it
        log.exception("vacuum of %s failed; replaced files stay on disk for now", store.path)
        return
    if removed:
        log.info("vacuum removed %d replaced file(s)", len(removed))


def delete(
    store: Store,
    tags: str | Iterable[str],
    start: Any = None,
    end: Any = None,
    *,
    ingested: Iterable[int] | None = None,
) -> int:
    """:meth:`Store.delete` (its docstring has the contract)."""
    from historian.storage.edits import delete_points

    names = store.resolve_tags(tags)
    lo, hi = MIN_NS, MAX_NS
    if start is not None and end is not None:
        lo, hi = window_ns(start, end, empty=True)
    elif start is not None or end is not None:
        lo = MIN_NS if start is None else user_ns(start)
        hi = MAX_NS if end is None else user_ns(end)
    stamps = None if ingested is None else np.asarray(list(ingested), dtype=np.int64)
    store._become_writer()
    store.flush()
    with (
        store._flush_lock,
        storage_errors(
            f"deleting points of {store.path}", "nothing was deleted; run the deletion again"
        ),
    ):
        return delete_points(store, names, lo, hi, stamps, "delete")


def delete_tag(store: Store, name: str) -> int:
    """:meth:`Store.delete_tag` (its docstring has the contract)."""
    (name,) = store.resolve_tags([name])
    removed = store.delete(name)
    store._catalog.remove(name, {"deleted_at": _utc_iso()})
    return removed


def rename_tag(store: Store, old: str, new: str) -> Tag:
    """:meth:`Store.rename_tag` (its docstring has the contract)."""
    from historian.storage.edits import rename_points

    (old,) = store.resolve_tags([old])
    validate_tag_name(new)
    if new in store._catalog:
        raise InvalidArgumentError(
            f"cannot rename {old!r} to {new!r}: {new!r} is already defined; delete it "
            f"first (h.delete_tag({new!r})) or choose another name"
        )
    definition = store._catalog.get(old)
    store._become_writer()
    store.flush()
    fields = {k: v for k, v in definition.to_dict().items() if k not in ("name", "version")}
    fields["metadata"] = {**definition.metadata, "renamed_from": old}
    tag = store._catalog.put(Tag(name=new, **fields))
    with (
        store._flush_lock,
        storage_errors(
            f"renaming {old!r} in {store.path}",
            f"the points are still under {old!r}; run the rename again",
        ),
    ):
        rename_points(store, old, new)
    store._catalog.remove(old, {"deleted_at": _utc_iso(), "renamed_to": new})
    return tag


def retain(store: Store, older_than: Any, *, force: bool = False) -> int:
    """:meth:`Store.retain` (its docstring has the contract)."""
    store._check_open()
    store._become_writer()
    assert store._log is not None
    if (
        isinstance(older_than, str)
        and not older_than.strip().lower().startswith("now")
        and _looks_like_duration(older_than)
    ) or hasattr(older_than, "total_seconds"):
        relative = True
        clock = now_ns()
        cutoff = clock - duration_ns(older_than)
    else:
        relative = False
        cutoff = to_ns(older_than)
    store.flush()
    dropped = 0
    with (
        store._flush_lock,
        storage_errors(
            f"retention of {store.path}",
            "no point was lost; the retention may not have been applied, run it again",
        ),
    ):
        snap = store._log.snapshot()
        if relative and not force and snap.paths and int(snap.tmax.max()) < cutoff:
            newest = int(snap.tmax.max())
            raise InvalidArgumentError(
                f"retain({older_than!r}) would drop every stored point: the newest is at "
                f"{_iso_ns(newest)}, but the wall clock says now is {_iso_ns(clock)}, "
                f"{(clock - newest) / DAY_NS:,.0f} days later. Nothing was dropped. Check "
                "the system clock; if it is right, call retain(..., force=True) or pass "
                "an absolute cutoff time"
            )
        remove, rewrite = [], []
        for i, rel in enumerate(snap.paths):
            if snap.tmax[i] < cutoff:
                remove.append(rel)
                dropped += int(snap.rows[i])
            elif snap.tmin[i] < cutoff:
                rewrite.append(rel)
        written = []
        for rel in rewrite:
            f = store._files.get(os.path.join(store.settings.table_dir, rel))
            slices = f.read(f.tags, cutoff, MAX_NS)
            kept = sum(len(sl.time) for sl in slices.values())
            dropped += f.num_rows - kept
            if kept:
                names = sorted(slices)
                points = points_from_slices(names, [slices[n] for n in names])
                written.append(store._write_file(points))
            remove.append(rel)
        if remove:
            store._log.commit(written, remove, operation="retain")
        store._vacuum()
    return dropped


def _iso_ns(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")) + "Z"


def _utc_iso() -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime())


def _looks_like_duration(text: str) -> bool:
    try:
        duration_ns(text)
    except InvalidArgumentError:
        return False
    return True


def _overlapping(
    small: list[str], files: list[str], ranges: dict[str, tuple[str, str]]
) -> list[str]:
    """The small files plus every file whose tag range overlaps theirs.

    A bulk load by tag ranges then merges only its small leftovers, while small flush files
    (which hold every tag) pull in the day's big files, so one tag's day ends up in one file.
    """
    chosen = set(small)
    lo = min(ranges[p][0] for p in small)
    hi = max(ranges[p][1] for p in small)
    for p in files:
        a, b = ranges[p]
        if not (b < lo or a > hi):
            chosen.add(p)
    return [p for p in files if p in chosen]
