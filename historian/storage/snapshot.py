"""One committed version of the points table as the readers use it: :class:`Snapshot`.

Built from the Delta add actions of a version (paths, sizes, row counts and the per-file time
and tag ranges of the commit statistics), so a read chooses its files without opening any.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from historian.model import arrow
from historian.model.times import MAX_NS

__all__ = ["Snapshot", "snapshot_from_actions"]

_MIN_US = -(2**63) // 1000 + 1  # the smallest µs whose ns fits int64
_MAX_US = (MAX_NS - 999) // 1000  # the largest µs whose ns + 999 fits int64


@dataclass(frozen=True)
class Snapshot:
    """The files of one committed table version (what every read of that version sees).

    Examples
    --------
    >>> import numpy as np
    >>> from historian.storage.snapshot import Snapshot
    >>> snap = Snapshot(3, -1, ["a.parquet", "b.parquet"], np.array([10, 10]), np.array([1, 1]),
    ...                 np.array([0, 100]), np.array([50, 200]), ["A", "A"], ["B", "B"])
    >>> snap.select(60, 150)
    [1]
    """

    version: int
    wal_upto: int  # WAL segments with id <= wal_upto are in files (-1: none)
    paths: list[str]  # relative paths
    sizes: np.ndarray
    rows: np.ndarray
    tmin: np.ndarray  # ns, rounded down to µs (conservative)
    tmax: np.ndarray  # ns, rounded up to µs
    tag_min: list[str]
    tag_max: list[str]

    def select(self, start_ns: int, end_ns: int, tags: list[str] | None = None) -> list[int]:
        """Indices of files that may hold points of ``tags`` in [start, end)."""
        keep = (self.tmax >= start_ns) & (self.tmin < end_ns)
        idx: list[int] = np.flatnonzero(keep).tolist()
        if tags is not None and idx:
            lo, hi = min(tags), max(tags)
            idx = [i for i in idx if not (self.tag_max[i] < lo or self.tag_min[i] > hi)]
        return idx


def _us_to_ns(us: np.ndarray, up: bool) -> np.ndarray:
    """µs statistics as ns bounds, saturating at the int64 limits (never wrapping around):
    ``up`` gives the end of the µs (an upper bound), else its start (a lower bound)."""
    inside = np.clip(us, _MIN_US, _MAX_US) * 1000  # a lower bound, also when clipped
    if not up:
        return np.where(us < _MIN_US, -MAX_NS, inside)
    return np.where(us > _MAX_US, MAX_NS, np.where(us < _MIN_US, -MAX_NS, inside + 999))


def snapshot_from_actions(version: int, wal_upto: int | None, actions: pa.Table) -> Snapshot:
    """The :class:`Snapshot` of ``version`` from its flattened add actions."""
    upto = -1 if wal_upto is None else int(wal_upto)
    n = actions.num_rows
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Snapshot(version, upto, [], empty, empty, empty, empty, [], [])

    def ns(col: str, fallback: int, up: bool = False) -> np.ndarray:
        if col not in actions.column_names:
            return np.full(n, fallback, dtype=np.int64)
        arr = actions.column(col).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        us = np.asarray(arrow.to_numpy(arr, fill=fallback // 1000), dtype=np.int64)
        return _us_to_ns(us, up)

    def text(col: str, fallback: str) -> list[str]:
        if col not in actions.column_names:
            return [fallback] * n
        return [fallback if v is None else v for v in actions.column(col).to_pylist()]

    return Snapshot(
        version=version,
        wal_upto=upto,
        paths=actions.column("path").to_pylist(),
        sizes=np.asarray(arrow.to_numpy(actions.column("size_bytes")), dtype=np.int64),
        rows=np.asarray(arrow.to_numpy(actions.column("num_records"), fill=0), dtype=np.int64),
        tmin=ns("min.time", -(2**62)),
        tmax=ns("max.time", 2**62, up=True),  # stats are µs: cover the rest of the µs
        tag_min=text("min.tag", ""),
        tag_max=text("max.tag", "\U0010ffff"),
    )
