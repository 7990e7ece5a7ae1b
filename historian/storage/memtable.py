"""Points not yet in files, per tag, and the merge that makes last-write-win."""

from __future__ import annotations

import itertools
import threading

import numpy as np

from historian.model.text import no_text
from historian.storage.files import MAX_NS, TagSlice
from historian.storage.points import Points, cat_text


class MemTable:
    """Acknowledged points waiting for a flush, kept per tag in arrival chunks."""

    def __init__(self) -> None:
        self._chunks: dict[str, list[TagSlice]] = {}
        self._lock = threading.Lock()
        self.points = 0

    def __len__(self) -> int:
        return self.points

    def add(self, points: Points) -> None:
        codes = points.codes
        groups: list[tuple[str, slice | np.ndarray]]
        if len(points.names) == 1:
            groups = [(str(points.names[0]), slice(None))]
        else:
            order = np.argsort(codes, kind="stable")
            sorted_codes = codes[order]
            cut = np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1
            bounds = np.concatenate([[0], cut, [len(order)]])
            groups = [
                (str(points.names[sorted_codes[a]]), order[a:b])
                for a, b in itertools.pairwise(bounds)
            ]
        with self._lock:
            for tag, sel in groups:
                self._chunks.setdefault(tag, []).append(
                    TagSlice(
                        time=points.time[sel],
                        value=points.value[sel],
                        quality=points.quality[sel],
                        reasons=points.reasons[sel],
                        ingested=points.ingested[sel],
                        text=_texts_or_none(points.text, sel),
                    )
                )
            self.points += len(points)

    def absorb(self, other: MemTable) -> None:
        """Take over every chunk of ``other`` (no copy, no conversion: cannot run out of memory
        half-way). Order does not matter: repeats are settled by the ingest stamp."""
        with other._lock:
            chunks = {tag: list(c) for tag, c in other._chunks.items()}
            n = other.points
        with self._lock:
            for tag, c in chunks.items():
                self._chunks.setdefault(tag, []).extend(c)
            self.points += n

    def tags(self) -> list[str]:
        with self._lock:
            return list(self._chunks)

    def read(self, tag: str, start_ns: int, end_ns: int) -> list[TagSlice]:
        with self._lock:
            chunks = list(self._chunks.get(tag, ()))
        out = []
        for c in chunks:
            keep = in_window(c.time, start_ns, end_ns)
            if keep.all():
                out.append(c)
            elif keep.any():
                out.append(take(c, keep))
        return out

    def to_points(self) -> Points:
        """All points sorted by (tag, time, ingested), for writing a file."""
        with self._lock:
            items = sorted(self._chunks.items())
        return points_from_slices([name for name, _ in items], [concat(c) for _, c in items])


def in_window(t: np.ndarray, start_ns: int, end_ns: int) -> np.ndarray:
    """``start <= t < end``, where an end of ``MAX_NS`` (unbounded) includes ``t == 2**63 - 1``."""
    if end_ns >= MAX_NS:
        return t >= start_ns
    return (t >= start_ns) & (t < end_ns)


def points_from_slices(names: list[str], slices: list[TagSlice]) -> Points:
    """Points sorted by (tag, time, ingested) from per-tag slices (``names`` sorted)."""
    if not slices:
        return Points.empty()
    ordered = []
    for s in slices:
        t = s.time
        if t.size > 1 and not bool(np.all(t[1:] > t[:-1])):
            s = take(s, np.lexsort((s.ingested, t)))
        ordered.append(s)
    allp = concat(ordered)
    codes = np.repeat(np.arange(len(names), dtype=np.int32), [len(s.time) for s in ordered])
    return Points(
        np.array(names, dtype=object),
        codes,
        allp.time,
        allp.value,
        allp.quality,
        allp.reasons,
        allp.ingested,
        allp.text,
    )


def _texts_or_none(text: np.ndarray | None, sel: slice | np.ndarray) -> np.ndarray | None:
    """The texts of the rows ``sel``, or None when none of them has a text (a numeric tag
    written in one table with text tags reads exactly as a numeric tag)."""
    if text is None:
        return None
    part = text[sel]
    return None if no_text(part).all() else part


def take(s: TagSlice, sel: np.ndarray | slice) -> TagSlice:
    """The rows ``sel`` of a slice (every column, the text too)."""
    return TagSlice(
        s.time[sel],
        s.value[sel],
        s.quality[sel],
        s.reasons[sel],
        s.ingested[sel],
        None if s.text is None else s.text[sel],
    )


def concat(slices: list[TagSlice]) -> TagSlice:
    if len(slices) == 1:
        return slices[0]
    return TagSlice(
        time=np.concatenate([s.time for s in slices]),
        value=np.concatenate([s.value for s in slices]),
        quality=np.concatenate([s.quality for s in slices]),
        reasons=np.concatenate([s.reasons for s in slices]),
        ingested=np.concatenate([s.ingested for s in slices]),
        text=cat_text([s.text for s in slices], [len(s.time) for s in slices]),
    )


def merge(slices: list[TagSlice], as_of_us: int | None = None) -> TagSlice | None:
    """One sorted series from several sources; for a repeated time the latest ingested wins.

    The common case (sources that do not overlap in time, no repeats) costs one pass to check.
    """
    if as_of_us is not None:
        slices = [take(s, s.ingested <= as_of_us) for s in slices]
    elif len(slices) == 1:  # one source (a read of many short tags: per-tag Python counts)
        t = slices[0].time
        if t.size < 2 or bool((t[1:] > t[:-1]).all()):
            return slices[0] if t.size else None
    slices = [s for s in slices if len(s.time)]
    if not slices:
        return None
    slices.sort(key=lambda s: (int(s.time[0]), int(s.ingested[0]) if len(s.ingested) else 0))
    merged = concat(slices)
    t = merged.time
    if t.size < 2 or bool(np.all(t[1:] > t[:-1])):
        return merged
    order = np.lexsort((merged.ingested, t))
    merged = take(merged, order)
    t = merged.time
    last = np.ones(t.size, dtype=bool)
    last[:-1] = t[1:] != t[:-1]
    return take(merged, last)
