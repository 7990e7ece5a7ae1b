"""Deleting and renaming stored points: the rewrite behind ``h.delete``, ``h.delete_tag`` and
``h.rename_tag``.

Files are immutable, so an edit writes new files without (or with renamed) rows and retires the
old ones in **one Delta commit** whose operation says what happened (``"delete"``, ``"rename"``):
the table's history records every edit, readers see the store before or after it, never half of
it, and a crash before the commit leaves the store as it was (the new files are unreferenced
temp-named files, cleaned up by the next writer). Pending points are flushed first, so the edit
covers what was written before the call. Replaced files are deleted after the grace period, like
compaction's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from historian.storage.memtable import points_from_slices

if TYPE_CHECKING:
    from historian.storage.store import Store

__all__ = ["delete_points", "rename_points"]


def delete_points(
    store: Store, names: list[str], lo: int, hi: int, stamps: np.ndarray | None, operation: str
) -> int:
    """Drop the rows of ``names`` with ``lo <= time < hi`` (and, with ``stamps``, an ingest stamp
    among them); returns the rows dropped (every version of a point is a row)."""
    wanted = set(names)

    def keep(tag: str, time: np.ndarray, ingested: np.ndarray) -> np.ndarray:
        if tag not in wanted:
            return np.ones(time.size, dtype=bool)
        hit = (time >= lo) & (time < hi)
        if stamps is not None:
            hit &= np.isin(ingested, stamps)
        return ~hit

    return _rewrite(store, wanted, lo, hi, keep, {}, operation)


def rename_points(store: Store, old: str, new: str) -> int:
    """Give every row of ``old`` the tag ``new`` (ingest stamps and versions kept)."""
    return _rewrite(store, {old}, None, None, None, {old: new}, "rename")


def _rewrite(store: Store, wanted: set[str], lo: int | None, hi: int | None,
             keep: Callable[[str, np.ndarray, np.ndarray], np.ndarray] | None,
             renames: dict[str, str], operation: str) -> int:  # fmt: skip
    from historian.model.times import MAX_NS, MIN_NS

    assert store._log is not None
    snap = store._log.snapshot()
    remove: list[str] = []
    written = []
    changed = 0
    for i, rel in enumerate(snap.paths):
        outside = (
            lo is not None
            and hi is not None
            and (int(snap.tmax[i]) < lo or int(snap.tmin[i]) >= hi)
        )
        if outside:
            continue  # no row of this file is in the window
        f = store._files.get(os.path.join(store.settings.table_dir, rel))
        if not wanted.intersection(f.tags):
            continue
        slices = f.read(f.tags, MIN_NS, MAX_NS)
        out = {}
        touched = 0
        for tag, sl in slices.items():
            if keep is not None:
                mask = keep(tag, sl.time, sl.ingested)
                touched += int(sl.time.size - mask.sum())
                if not mask.all():
                    sl = type(sl)(sl.time[mask], sl.value[mask], sl.quality[mask],
                                  sl.reasons[mask], sl.ingested[mask])  # fmt: skip
            if tag in renames:
                touched += int(sl.time.size)
                tag = renames[tag]
            if sl.time.size:
                out[tag] = sl
        if not touched:
            continue
        changed += touched
        if out:
            order = sorted(out)
            points = points_from_slices(order, [out[n] for n in order])
            written.append(store._write_file(points))
        remove.append(rel)
    if remove:
        store._log.commit(written, remove, operation=operation)
        store._vacuum()
    return changed
