"""Store-and-forward spool: a bounded on-disk FIFO of point tables (Arrow IPC + CRC32).

The collector writes here when the store is slow or raises, and drains it oldest first when the
store is healthy again; it also survives a collector restart (the next run drains what is left).

On disk: a folder of segment files ``seg-<n>.spool``. A segment is a sequence of frames::

    b"HSP1" | uint32 length | uint32 CRC32 of the payload | payload (an Arrow IPC stream)

Each append writes one frame and fsyncs it: an append that returned is durable. Reading stops at
the first incomplete or corrupt frame (a torn tail after a crash), logging what was skipped.
Segments are rotated at ``segment_bytes``; when the spool holds more than ``max_bytes``, whole
segments are dropped oldest first and what they held is reported (per tag: first time, count),
so the collector can record a ``Bad_DataLost`` point per affected tag.

Segment files are created 0600 (the folder 0700) and opened with ``O_NOFOLLOW``: a symlink
planted in the spool folder is refused (logged and left alone), never written through or read.

Examples
--------
>>> import tempfile, pyarrow as pa
>>> sp = Spool(tempfile.mkdtemp(), max_bytes=10_000_000)
>>> t = pa.table({"tag": ["A", "B"], "time": pa.array([1, 2], pa.int64()),
...               "value": [1.0, 2.0], "quality": pa.array([0, 0], pa.uint32())})
>>> sp.append(t)
[]
>>> seg = sp.oldest()
>>> sp.read(seg).num_rows, sp.points
(2, 2)
>>> sp.remove(seg); sp.points, sp.segments
(0, 0)
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from historian.acquisition._files import open_private, read_private
from historian.errors import StoreError
from historian.model.quality import BAD_DATA_LOST

__all__ = ["Loss", "Segment", "Spool"]

logger = logging.getLogger(__name__)

_MAGIC = b"HSP1"
_HEADER = struct.Struct("<4sII")
_NAME = re.compile(r"^seg-(\d{12})\.spool$")


@dataclass(frozen=True)
class Segment:
    """One closed segment file."""

    seq: int
    path: Path
    nbytes: int
    points: int


@dataclass(frozen=True)
class Loss:
    """Points of one tag dropped from the spool: the time range and how many (loss markers
    written earlier by the collector are not counted again)."""

    tag: str
    first_ns: int
    last_ns: int
    count: int


def _frame(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    payload = sink.getvalue().to_pybytes()
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def _read_frames(path: Path) -> tuple[list[pa.Table], int]:
    """The valid tables of a segment, and the number of bytes skipped at a bad/torn tail."""
    data = read_private(path)
    tables: list[pa.Table] = []
    pos = 0
    while pos + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, pos)
        start, end = pos + _HEADER.size, pos + _HEADER.size + length
        if magic != _MAGIC or end > len(data) or zlib.crc32(data[start:end]) != crc:
            break
        with pa.ipc.open_stream(pa.py_buffer(data[start:end])) as r:
            tables.append(r.read_all())
        pos = end
    return tables, len(data) - pos


class Spool:
    """A bounded, durable FIFO of tables in ``path`` (thread-safe).

    Parameters
    ----------
    path : str or path-like
        The spool folder (created if missing).
    max_bytes : int
        Upper bound of the spool on disk; past it the oldest segments are dropped.
    segment_bytes : int
        Size at which the current segment is closed and a new one started.
    fsync : bool
        fsync each append (default True: an append that returned survives a power loss).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 1_000_000_000,
        segment_bytes: int = 8_000_000,
        fsync: bool = True,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = int(max_bytes)
        self.segment_bytes = max(1, min(int(segment_bytes), self.max_bytes))
        self.fsync = fsync
        self._lock = threading.Lock()
        self._closed: list[Segment] = []
        self._current: Path | None = None
        self._current_seq = -1
        self._current_bytes = 0
        self._current_points = 0
        self._next_seq = 0
        self.dropped_points = 0
        self._recover()

    # -- state -----------------------------------------------------------------------------
    def _recover(self) -> None:
        found = []
        for f in self.path.iterdir():
            m = _NAME.match(f.name)
            if m:
                found.append((int(m.group(1)), f))
            elif f.name.endswith(".tmp"):
                f.unlink(missing_ok=True)
        for seq, f in sorted(found):
            if f.is_symlink():
                logger.error("spool %s: %s is a symbolic link, not a segment the collector wrote; "
                             "it is ignored (remove it)", self.path, f.name)  # fmt: skip
                self._next_seq = max(self._next_seq, seq + 1)
                continue
            tables, skipped = _read_frames(f)
            if skipped:
                logger.warning("spool segment %s: %d bytes at the end were incomplete or corrupt "
                               "(torn write?) and are skipped", f.name, skipped)  # fmt: skip
            points = sum(t.num_rows for t in tables)
            self._closed.append(Segment(seq, f, f.stat().st_size, points))
            self._next_seq = seq + 1
        if self._closed:
            logger.info("spool %s: %d segment(s) with %d points left from an earlier run; they "
                        "will be written to the store", self.path, len(self._closed),
                        self.points)  # fmt: skip

    @property
    def nbytes(self) -> int:
        """Bytes on disk."""
        return sum(s.nbytes for s in self._closed) + self._current_bytes

    @property
    def points(self) -> int:
        """Points held."""
        return sum(s.points for s in self._closed) + self._current_points

    @property
    def segments(self) -> int:
        """Segments held (closed ones plus the open one)."""
        return len(self._closed) + (1 if self._current is not None else 0)

    def __bool__(self) -> bool:
        return self.segments > 0

    # -- writing ---------------------------------------------------------------------------
    def append(self, table: pa.Table) -> list[Loss]:
        """Append ``table`` durably; returns what was dropped to stay under ``max_bytes``."""
        if table.num_rows == 0:
            return []
        frame = _frame(table)
        with self._lock:
            if self._current is not None and self._current_bytes + len(frame) > self.segment_bytes:
                self._close_current()
            if self._current is None:
                self._current_seq = self._next_seq
                self._current = self.path / f"seg-{self._next_seq:012d}.spool"
                self._next_seq += 1
                self._current_bytes = self._current_points = 0
            try:
                fd = open_private(self._current, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                with os.fdopen(fd, "ab") as f:
                    f.write(frame)
                    f.flush()
                    if self.fsync:
                        os.fsync(f.fileno())
            except OSError as exc:
                raise StoreError(f"spool {self.path}: cannot append to {self._current.name}: "
                                 f"{exc.strerror or exc}") from exc  # fmt: skip
            self._current_bytes += len(frame)
            self._current_points += table.num_rows
            return self._enforce_bound()

    def _close_current(self) -> None:
        if self._current is None:
            return
        seg = Segment(self._current_seq, self._current, self._current_bytes, self._current_points)
        self._closed.append(seg)
        self._current = None
        self._current_bytes = self._current_points = 0

    def _enforce_bound(self) -> list[Loss]:
        losses: list[Loss] = []
        while self.nbytes > self.max_bytes:
            if not self._closed:
                self._close_current()
                if not self._closed:
                    break
            seg = self._closed.pop(0)
            lost = self._summarise(seg)
            losses.extend(lost)
            seg.path.unlink(missing_ok=True)
            self.dropped_points += sum(x.count for x in lost)
            logger.error(
                "spool full (max %d bytes): dropped the oldest segment with %d points",
                self.max_bytes,
                seg.points,
            )
        return losses

    @staticmethod
    def _summarise(seg: Segment) -> list[Loss]:
        try:
            tables, _ = _read_frames(seg.path)
        except OSError:
            return []
        if not tables:
            return []
        t = pa.concat_tables(tables)
        tags = np.asarray(t.column("tag").to_numpy(zero_copy_only=False), dtype=object)
        times = np.asarray(t.column("time").cast(pa.int64()).to_numpy(), dtype=np.int64)
        marker = np.zeros(len(tags), dtype=bool)
        if "quality" in t.column_names:  # earlier loss markers are not data: not counted again
            marker = np.asarray(t.column("quality").to_numpy(), dtype=np.uint32) == BAD_DATA_LOST
        out = []
        for tag in np.unique(tags.astype(str)):
            sel = tags == tag
            tt = times[sel]
            out.append(Loss(str(tag), int(tt.min()), int(tt.max()), int((sel & ~marker).sum())))
        return out

    # -- draining --------------------------------------------------------------------------
    def oldest(self) -> Segment | None:
        """The oldest segment to drain (closing the open one if it is the only one), or None."""
        with self._lock:
            if not self._closed:
                self._close_current()
            return self._closed[0] if self._closed else None

    def read(self, segment: Segment) -> pa.Table:
        """All valid points of ``segment`` as one table."""
        try:
            tables, skipped = _read_frames(segment.path)
        except OSError as exc:
            raise StoreError(f"spool {self.path}: cannot read {segment.path.name}: "
                             f"{exc.strerror or exc}") from exc  # fmt: skip
        if skipped:
            logger.warning("spool segment %s: skipped %d corrupt/incomplete bytes at the end",
                           segment.path.name, skipped)  # fmt: skip
        if not tables:
            return pa.table({"tag": pa.array([], pa.string())})
        return pa.concat_tables(tables, promote_options="default")

    def remove(self, segment: Segment) -> None:
        """Delete a drained segment."""
        with self._lock:
            self._closed = [s for s in self._closed if s.seq != segment.seq]
            segment.path.unlink(missing_ok=True)
