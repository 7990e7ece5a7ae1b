"""Immutable Parquet data files: encoding chosen by measurement, a row index, safe publication.

One file holds the points of a time window cut by size (consecutive UTC days adding up to about
``part_rows`` rows: a weekly series is one file, a dense day is split by tag ranges), sorted by
(tag, time, ingested). Files of format 1 (before 2026-12) hold one UTC day each and are read the
same way. Columns (see ``docs/format.md``; the schema and value decoding are in
:mod:`historian.storage.format`):

=========== ============================= =====================================================
column      Parquet type / encoding        meaning
=========== ============================= =====================================================
tag         string, dictionary             tag name
time        timestamp (ms/us/ns), delta    UTC; unit = the coarsest that holds every time exactly
value       double, byte-stream-split      the value when it is not stored as ``value_int``
value_int   int64, delta                   value * 10**decimals when that round-trips exactly
decimals    int8, dictionary               see ``value_int``
quality     int64, dictionary              OPC UA StatusCode (uint32)
reasons     int32, dictionary              qualification reason bits
ingested    timestamp[us], delta           when the point was written (for as-of reads)
=========== ============================= =====================================================

The value of a row is ``value_int / 10**decimals`` when ``value_int`` is not null, else ``value``
(null = no value). Files carry page checksums and, in their footer's key-value metadata (once:
not repeated inside ``ARROW:schema``), a small JSON index (row range and time range of every tag,
first/last time of every row group, whether a (tag, time) repeats) so that a read decodes only
the row groups it needs and de-duplicates only where rows can repeat.

Files are written under the store's ``tmp/`` folder (outside the table: no reader lists it),
fsynced, then renamed into place; a
file becomes part of the store only when a commit names it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time as _time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from historian.errors import CorruptDataError
from historian.model import arrow
from historian.storage import textcol
from historian.storage.fs import StoreFS
from historian.storage.perms import FILE_MODE, make_dirs
from historian.storage.points import Points

NS_PER_DAY = 86_400 * 1_000_000_000
from historian.model.times import MAX_NS  # noqa: E402 - an end of MAX_NS means "unbounded"
from historian.storage.format import (  # noqa: E402 - the format's names, re-exported
    FORMAT_VERSION,
    INDEX_KEY,
    INDEX_SHA_KEY,
    MAX_DECIMALS,
    PARTITION_COLUMNS,
    POW10,
    TABLE_SCHEMA,
    scale_values,
    time_unit,
)
from historian.storage.format import UNIT_NS as _UNIT_NS  # noqa: E402

__all__ = [
    "FORMAT_VERSION",
    "INDEX_KEY",
    "INDEX_SHA_KEY",
    "MAX_DECIMALS",
    "MAX_NS",
    "PARTITION_COLUMNS",
    "TABLE_SCHEMA",
]


@dataclass(frozen=True)
class WriterOptions:
    """Parquet writer settings (chosen by measurement; see docs/format.md)."""

    row_group_rows: int = 16_384
    compression: str = "zstd"
    compression_level: int = 1
    fsync: bool = True


@dataclass(frozen=True)
class WrittenFile:
    """A data file written and renamed into place, not yet committed."""

    relpath: str  # relative to the store's table folder, e.g. "day=2026-01-01/part-....parquet"
    day: str
    size: int
    rows: int
    tag_min: str
    tag_max: str
    time_min_ns: int
    time_max_ns: int
    ingested_min_us: int
    ingested_max_us: int


def day_string(day_number: int) -> str:
    return str(np.datetime64(int(day_number), "D"))


def encode(points: Points) -> tuple[pa.Table, dict[str, Any]]:
    """Encode points already sorted by (tag, time, ingested) as a file table plus its index."""
    codes = points.codes
    n = len(points)
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1 if n else np.array([], dtype=np.int64)
    bounds = np.concatenate([[0], change, [n]]).astype(np.int64)
    run_tags = [str(points.names[codes[i]]) for i in bounds[:-1]]
    as_int, decimals, int_valid = scale_values(points.value, bounds)
    unit = time_unit(points.time)
    t_unit = points.time // _UNIT_NS[unit]
    value_col = arrow.array(points.value, pa.float64(), mask=int_valid | np.isnan(points.value))
    text_col, text_flags = textcol.encode(points.text, bounds)
    table = pa.table(
        {
            "tag": pa.DictionaryArray.from_arrays(
                arrow.array(
                    np.repeat(np.arange(len(run_tags), dtype=np.int32), np.diff(bounds)), pa.int32()
                ),
                arrow.array(run_tags, pa.string()),
            ),
            "time": arrow.array(t_unit, pa.timestamp(unit, tz="UTC")),
            "value": value_col,
            "value_int": arrow.array(as_int, pa.int64(), mask=~int_valid),
            "decimals": arrow.array(decimals, pa.int8()),
            "quality": arrow.array(points.quality.astype(np.int64), pa.int64()),
            "reasons": arrow.array(points.reasons.astype(np.int32), pa.int32()),
            "ingested": arrow.array(points.ingested, pa.timestamp("us", tz="UTC")),
        }
    )
    if text_col is not None:  # only files that hold a text have the column (numbers: as before)
        table = table.append_column(textcol.COLUMN, text_col)
    t = points.time
    starts = bounds[:-1]
    n_int = np.add.reduceat(int_valid.astype(np.int64), starts) if n else np.zeros(0, np.int64)
    run_len = np.diff(bounds)
    nonzero_q = np.add.reduceat((points.quality != 0).astype(np.int64), starts) if n else n_int
    nonzero_r = np.add.reduceat((points.reasons != 0).astype(np.int64), starts) if n else n_int
    index = {
        "format": FORMAT_VERSION,
        "tags": run_tags,
        "row_start": starts.tolist(),
        "tmin": [int(t[i]) for i in starts],
        "tmax": [int(t[i - 1]) for i in bounds[1:]],
        # Per tag run, so a read decodes only the columns it needs:
        "dec": [int(decimals[i]) for i in starts],  # decimals are constant within a run
        "vkind": np.where(
            n_int == run_len, 0, np.where(n_int == 0, 1, 2)
        ).tolist(),  # int/float/mixed
        "qzero": (nonzero_q == 0).tolist(),
        "rzero": (nonzero_r == 0).tolist(),
        # whether a (tag, time) repeats inside the file: readers de-duplicate only then
        "dups": bool(n > 1 and np.any((codes[1:] == codes[:-1]) & (t[1:] == t[:-1]))),
    }
    if text_col is not None:
        index[textcol.COLUMN] = text_flags  # per tag run: holds a text
    return table, index


def write_file(
    table_dir: str,
    tmp_dir: str,
    points: Points,
    options: WriterOptions,
    *,
    fs: StoreFS,
) -> WrittenFile:
    """Write sorted points of one UTC day to a new, uniquely named file; return its description.

    The finished temp file is published by ``fs`` (the store's files), visible whole or not
    at all: locally fsync, rename into ``day=...`` and fsync the folder; on object storage one
    upload. ``table_dir`` is inside ``fs``.
    """
    day_number = int(points.time.min() // NS_PER_DAY)  # the day of the file's first point
    day = day_string(day_number)
    table, index = encode(points)
    rg = options.row_group_rows
    n = len(points)
    starts = np.arange(0, n, rg)
    index["rg_rows"] = rg
    index["rg_tfirst"] = points.time[starts].tolist()
    index["rg_tlast"] = points.time[np.minimum(starts + rg, n) - 1].tolist()
    index["ingested"] = [int(points.ingested.min()), int(points.ingested.max())]
    index_bytes = json.dumps(index, separators=(",", ":")).encode()
    # The index goes into the footer's key-value metadata once, after the rows: as schema
    # metadata it would be stored a second time, base64 inside ARROW:schema (format 1).
    footer = {
        INDEX_KEY: index_bytes,
        INDEX_SHA_KEY: hashlib.sha256(index_bytes).hexdigest().encode(),
    }
    name = f"part-{_time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
    relpath = f"day={day}/{name}"
    make_dirs(tmp_dir)
    tmp_path = os.path.join(tmp_dir, name + ".tmp")
    try:
        with pq.ParquetWriter(
            tmp_path,
            table.schema,
            compression=options.compression,
            compression_level=options.compression_level,
            use_dictionary=["tag", "decimals", "quality", "reasons", textcol.COLUMN],
            column_encoding={
                "time": "DELTA_BINARY_PACKED",
                "value": "BYTE_STREAM_SPLIT",
                "value_int": "DELTA_BINARY_PACKED",
                "ingested": "DELTA_BINARY_PACKED",
            },
            write_page_checksum=True,
            write_statistics=["tag", "time"],
            data_page_version="2.0",
            store_schema=False,  # the Parquet types say it all; ARROW:schema cost ~0.9 KB a file
            sorting_columns=[pq.SortingColumn(0), pq.SortingColumn(1)],
        ) as writer:
            writer.write_table(table, row_group_size=rg)
            writer.add_key_value_metadata(footer)
        os.chmod(tmp_path, FILE_MODE)  # owner and group only, whatever the umask
        size = fs.publish(tmp_path, fs.rel(f"{table_dir}/{relpath}"))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    return WrittenFile(
        relpath=relpath,
        day=day,
        size=size,
        rows=n,
        tag_min=index["tags"][0],
        tag_max=index["tags"][-1],
        time_min_ns=int(points.time.min()),
        time_max_ns=int(points.time.max()),
        ingested_min_us=index["ingested"][0],
        ingested_max_us=index["ingested"][1],
    )


@dataclass
class TagSlice:
    """Decoded points of one tag from one source (file or memory), sorted by time."""

    time: np.ndarray
    value: np.ndarray
    quality: np.ndarray
    reasons: np.ndarray
    ingested: np.ndarray
    text: np.ndarray | None = None  # object (str or None) per point; None: no text at all


def _checked_index(path: str, raw: bytes, digest: bytes | None) -> dict[str, Any]:
    """The parsed index of a file, after its SHA-256 (files of format 1 before the checksum have
    none) and its shape are checked: a damaged index would silently hide rows."""
    fix = (
        "the file's row index (Parquet key-value metadata 'historian.index') was changed or "
        "damaged on disk, so reads through it could miss rows; restore the file from a backup, "
        "or read it with any Parquet reader (its columns are intact if `historian verify` "
        "passes its page checksums) and write the points again"
    )
    if digest is not None and hashlib.sha256(raw).hexdigest().encode() != digest:
        raise CorruptDataError(f"data file {path}: the index fails its SHA-256 check; {fix}")
    try:
        idx: dict[str, Any] = json.loads(raw)
        n = len(idx["tags"])
        keys = ("row_start", "tmin", "tmax", "dec", "vkind", "qzero", "rzero")
        if any(len(idx[k]) != n for k in keys) or int(idx["rg_rows"]) <= 0:
            raise ValueError("per-tag lists of different lengths")
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptDataError(
            f"data file {path}: the index cannot be read ({exc}); {fix}"
        ) from exc
    return idx


class DataFile:
    """An opened, immutable data file with its index; safe to share between threads."""

    def __init__(self, path: str, source: pa.NativeFile | None = None) -> None:
        self.path = path
        self._where = path if source is None else source
        self._text_pf: pq.ParquetFile | None = None  # opened on the first read of texts
        try:
            self._pf = pq.ParquetFile(
                path if source is None else source, page_checksum_verification=True
            )
        except FileNotFoundError:
            raise
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptDataError(f"cannot open data file {path}: {exc}") from exc
        meta = self._pf.metadata.metadata or {}
        raw = meta.get(INDEX_KEY)
        if raw is None:
            raise CorruptDataError(
                f"{path} has no historian index; it is not a historian data file"
            )
        idx = _checked_index(path, raw, meta.get(INDEX_SHA_KEY))
        self.tags: list[str] = idx["tags"]
        self._tag_pos = {t: i for i, t in enumerate(self.tags)}
        self.row_start = np.asarray(idx["row_start"] + [self._pf.metadata.num_rows], dtype=np.int64)
        self.tmin = np.asarray(idx["tmin"], dtype=np.int64)
        self.tmax = np.asarray(idx["tmax"], dtype=np.int64)
        self.dec = idx["dec"]
        self.vkind = idx["vkind"]
        self.qzero = idx["qzero"]
        self.rzero = idx["rzero"]
        #: whether a (tag, time) may repeat inside the file (format 1 files do not say: maybe)
        self.may_repeat: bool = bool(idx.get("dups", True))
        self.format: int = int(idx.get("format", 1))
        self.has_text = textcol.flags_of(idx, len(self.tags))
        self.rg_rows = int(idx["rg_rows"])
        self.rg_tfirst = np.asarray(idx["rg_tfirst"], dtype=np.int64)
        self.rg_tlast = np.asarray(idx["rg_tlast"], dtype=np.int64)
        self.num_rows = self._pf.metadata.num_rows
        names = self._pf.schema_arrow.names
        self._col = {name: names.index(name) for name in names}
        self._lock = threading.Lock()  # ParquetFile reads are not documented thread-safe

    def tag_span(self, tag: str) -> tuple[int, int] | None:
        """First and last time (ns) of ``tag`` in this file, or None when it holds none."""
        i = self._tag_pos.get(tag)
        return None if i is None else (int(self.tmin[i]), int(self.tmax[i]))

    def ranges(self, tags: list[str], start_ns: int, end_ns: int) -> dict[str, tuple[int, int]]:
        """Candidate row ranges of the ``tags`` this file may hold in [start, end) (no I/O)."""
        out = {}
        for tag in tags:
            if tag in self._tag_pos:
                r = self._rows_for(tag, start_ns, end_ns)
                if r is not None:
                    out[tag] = r
        return out

    def _rows_for(self, tag: str, start_ns: int, end_ns: int) -> tuple[int, int] | None:
        """Candidate row range [lo, hi) of ``tag`` with times that may fall in [start, end)."""
        i = self._tag_pos.get(tag)
        open_end = end_ns >= MAX_NS  # unbounded: the point at MAX_NS is included
        if i is None or self.tmax[i] < start_ns or (self.tmin[i] >= end_ns and not open_end):
            return None
        lo, hi = int(self.row_start[i]), int(self.row_start[i + 1])
        # Narrow by row groups: first/last time of the tag's rows inside each row group.
        g0, g1 = lo // self.rg_rows, (hi - 1) // self.rg_rows
        while g0 < g1 and self._seg_last(g0, lo, hi, i) < start_ns:
            g0 += 1
        while g1 > g0 and not open_end and self._seg_first(g1, lo, hi, i) >= end_ns:
            g1 -= 1
        return max(lo, g0 * self.rg_rows), min(hi, (g1 + 1) * self.rg_rows)

    def _seg_first(self, g: int, lo: int, hi: int, i: int) -> int:
        return int(self.rg_tfirst[g]) if g * self.rg_rows >= lo else int(self.tmin[i])

    def _seg_last(self, g: int, lo: int, hi: int, i: int) -> int:
        return int(self.rg_tlast[g]) if (g + 1) * self.rg_rows <= hi else int(self.tmax[i])

    def read(
        self,
        tags: list[str] | dict[str, tuple[int, int]],
        start_ns: int,
        end_ns: int,
        *,
        with_ingested: bool = True,
        with_reasons: bool = True,
    ) -> dict[str, TagSlice]:
        """Points of ``tags`` with start <= time < end, decoded, per tag.

        ``tags`` may be the result of :meth:`ranges`. Only the row groups and the columns the
        tags need are read, and only their rows are converted: a tag whose values are all scaled
        integers, all Good and never flagged costs two columns (time, value_int).
        """
        self._check_layout()
        ranges = tags if isinstance(tags, dict) else self.ranges(tags, start_ns, end_ns)
        if not ranges:
            return {}
        groups = sorted(
            {
                g
                for lo, hi in ranges.values()
                for g in range(lo // self.rg_rows, (hi - 1) // self.rg_rows + 1)
            }
        )
        pos = [self._tag_pos[t] for t in ranges]
        columns = ["time"]
        if any(self.vkind[i] != 0 for i in pos):
            columns.append("value")
        if any(self.vkind[i] != 1 for i in pos):
            columns.append("value_int")
        if not all(self.qzero[i] for i in pos):
            columns.append("quality")
        if with_reasons and not all(self.rzero[i] for i in pos):
            columns.append("reasons")
        if with_ingested:
            columns.append("ingested")
        with_text = any(self.has_text[i] for i in pos)
        indices = [self._col[c] for c in columns]
        self._check_decoded_size(groups, columns, indices)
        texts = self._read_texts(groups) if with_text else None
        with self._lock:  # the low-level reader: ParquetFile.read_row_groups adds ~0.1 ms of Python
            try:
                table = self._pf.reader.read_row_groups(
                    groups, column_indices=indices, use_threads=False
                )
            except (pa.ArrowInvalid, OSError) as exc:
                # pyarrow reports a failed page CRC as a plain OSError, like a network error on
                # s3://: only its text tells them apart, and only damage is CorruptDataError.
                if not isinstance(exc, pa.ArrowInvalid) and not _is_damage(exc):
                    raise
                raise CorruptDataError(
                    f"data file {self.path} is damaged ({exc}); run `historian verify` to see "
                    "what else is, and `historian repair --dry-run` for what can be restored"
                ) from exc
        cols = {name: _raw(table.column(name)) for name in columns}
        # Times stay in the file's unit until a tag's rows are known.
        unit_ns = _UNIT_NS[table.column("time").type.unit]
        lo_raw, hi_raw = -(-start_ns // unit_ns), -(-end_ns // unit_ns)  # ceil: t*unit >= start
        # Map file rows to positions in the concatenation of the chosen row groups.
        group_pos = {g: k * self.rg_rows for k, g in enumerate(groups)}
        # Many short tag ranges: the per-tag numpy calls are the cost, so columns shared by
        # every tag are converted once and each tag gets views (read-only where shared).
        times_ns = cols["time"] * unit_ns if unit_ns != 1 else cols["time"].copy()
        longest = max(hi - lo for lo, hi in ranges.values())
        zeros_u32, zeros_i64 = np.zeros(longest, np.uint32), np.zeros(longest, np.int64)
        zeros_u32.setflags(write=False)
        zeros_i64.setflags(write=False)
        out = {}
        for tag, (lo, hi) in ranges.items():
            i = self._tag_pos[tag]
            g0 = lo // self.rg_rows
            base = group_pos[g0] - g0 * self.rg_rows
            # A tag's row groups are consecutive in `groups` (every group in between is chosen).
            a, b = lo + base, hi + base
            t = cols["time"][a:b]
            i0 = int(np.searchsorted(t, lo_raw, "left"))
            i1 = t.size if end_ns >= MAX_NS else int(np.searchsorted(t, hi_raw, "left"))
            if i1 <= i0:
                continue
            a, b = a + i0, a + i1
            n = b - a
            kind = self.vkind[i]
            if kind == 1:
                value = np.asarray(cols["value"][a:b], dtype=np.float64)
            else:
                scaled = cols["value_int"][a:b].astype(np.float64)  # one new array, divided
                if self.dec[i]:  # in place: no second temporary of the tag's rows
                    scaled /= POW10[self.dec[i]]
                value = (
                    scaled if kind == 0 else np.where(np.isnan(scaled), cols["value"][a:b], scaled)
                )
            out[tag] = TagSlice(
                time=times_ns[a:b],
                value=value,
                quality=(
                    zeros_u32[:n] if self.qzero[i] else cols["quality"][a:b].astype(np.uint32)
                ),
                reasons=(
                    cols["reasons"][a:b].astype(np.uint32)
                    if with_reasons and not self.rzero[i]
                    else zeros_u32[:n]
                ),
                ingested=cols["ingested"][a:b].copy() if with_ingested else zeros_i64[:n],
                text=(
                    textcol.decode(texts, a, b) if texts is not None and self.has_text[i] else None
                ),
            )
        return out

    def _read_texts(self, groups: list[int]) -> pa.ChunkedArray:
        """The text column of ``groups``, as read from the file (dictionary-encoded: each text
        once per row group), after its decoded size is checked (a forged dictionary repeated
        on every row cannot inflate a read past ``max_file_decoded_bytes``)."""
        with self._lock:
            try:
                if self._text_pf is None:
                    self._text_pf = pq.ParquetFile(
                        self._where,
                        page_checksum_verification=True,
                        read_dictionary=[textcol.COLUMN],
                    )
                column = self._text_pf.reader.read_row_groups(
                    groups, column_indices=[self._col[textcol.COLUMN]], use_threads=False
                ).column(0)
            except (pa.ArrowInvalid, OSError) as exc:
                if not isinstance(exc, pa.ArrowInvalid) and not _is_damage(exc):
                    raise
                raise CorruptDataError(
                    f"data file {self.path}: its text column is damaged ({exc}); run "
                    "`historian verify`, and `historian repair --dry-run` for what can be restored"
                ) from exc
        textcol.check_decoded(column, f"decoded texts of {os.path.basename(self.path)}")
        return column

    def _check_layout(self) -> None:
        """The footer's row groups are the ones the historian index describes (checked once):
        a forged footer cannot make a read decode more rows than the index promises."""
        if getattr(self, "_layout_ok", False):
            return
        meta = self._pf.metadata
        groups = -(-self.num_rows // self.rg_rows) if self.rg_rows > 0 else -1
        if (
            groups != meta.num_row_groups
            or len(self.rg_tfirst) != groups
            or len(self.rg_tlast) != groups
            or int(self.row_start[0]) != 0
            or bool(np.any(np.diff(self.row_start) < 0))
        ):
            raise CorruptDataError(
                f"{self.path}: the footer declares {self.num_rows:,} rows in "
                f"{meta.num_row_groups:,} row groups, which the historian index (row groups of "
                f"{self.rg_rows:,} rows, {len(self.rg_tfirst):,} of them) does not describe; "
                "the file is damaged or forged"
            )
        self._layout_ok = True

    def _check_decoded_size(
        self, groups: list[int], columns: list[str], indices: list[int]
    ) -> None:
        """Refuse a decompression bomb before decoding: the row groups must hold the rows the
        index says, the columns must be fixed-width, and the decoded size (rows x width, or the
        declared uncompressed size if larger) must fit ``max_file_decoded_bytes``."""
        from historian.limits import current

        meta = self._pf.metadata
        schema = self._pf.schema_arrow
        widths = []
        for name in columns:
            try:
                widths.append(max(1, schema.field(name).type.bit_width // 8))
            except ValueError:  # variable width: not a historian data file column
                raise CorruptDataError(
                    f"{self.path}: column {name!r} has type {schema.field(name).type}, not the "
                    "fixed-width type historian writes; the file was not written by historian"
                ) from None
        decoded = 0
        for g in groups:
            rg = meta.row_group(g)
            expected = min(self.rg_rows, self.num_rows - g * self.rg_rows)
            if rg.num_rows != expected:
                raise CorruptDataError(
                    f"{self.path}: row group {g} declares {rg.num_rows:,} rows where the "
                    f"historian index implies {expected:,}; the file is damaged or forged"
                )
            declared = sum(rg.column(i).total_uncompressed_size for i in indices)
            decoded += max(declared, rg.num_rows * sum(widths))
        current().check(
            "max_file_decoded_bytes",
            decoded,
            f"decoded bytes of {len(groups):,} row groups of {os.path.basename(self.path)}",
            "read fewer tags or a shorter window",
        )


def _is_damage(exc: OSError) -> bool:
    """Whether pyarrow's OSError says the bytes are wrong (checksum, framing), not unreachable."""
    text = str(exc).lower()
    return any(word in text for word in ("checksum", "integrity", "corrupt", "deserializ"))


def _raw(col: pa.ChunkedArray) -> np.ndarray:
    """A column as numpy without converting values: timestamps as int64 in their own unit,
    integers as int64 (float64 with NaN where null), floats as float64."""
    if pa.types.is_timestamp(col.type):
        return np.asarray(arrow.to_numpy(col)).view(np.int64)
    return np.asarray(arrow.to_numpy(col))


def _cache_capacity() -> int:
    """How many data files a :class:`FileCache` keeps open: 4096, or a quarter of the soft
    descriptor limit when that is lower (at least 64)."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 4096 if soft == resource.RLIM_INFINITY else max(64, min(4096, soft // 4))


class FileCache:
    """Opened data files by path (files are immutable, so caching is always valid)."""

    def __init__(
        self, capacity: int | None = None, opener: Callable[[str], pa.NativeFile] | None = None
    ) -> None:
        self._opener = opener  # path -> file object (object storage), or None: open by path
        self._files: OrderedDict[str, DataFile] = OrderedDict()
        # one descriptor per opened file: a quarter of the process's limit at most
        self._capacity = capacity if capacity is not None else _cache_capacity()
        self._lock = threading.Lock()
        self._version: int | None = None  # the snapshot of the last keep_only

    def get(self, path: str) -> DataFile:
        with self._lock:
            f = self._files.get(path)
            if f is not None:
                self._files.move_to_end(path)
                return f
        f = DataFile(path, None if self._opener is None else self._opener(path))
        with self._lock:
            self._files[path] = f
            while len(self._files) > self._capacity:
                self._files.popitem(last=False)
        return f

    def drop(self, path: str) -> None:
        with self._lock:
            self._files.pop(path, None)

    def keep_only(self, version: int, paths: Callable[[], set[str]]) -> None:
        """Forget the opened files a new snapshot ``version`` does not hold (``paths()``, full
        paths, is called only when the version changed): a replaced file's handle closes once
        no read still holds it, so a long-lived reader never piles up descriptors."""
        if version == self._version:
            return
        live = paths()
        with self._lock:
            for path in [p for p in self._files if p not in live]:
                del self._files[path]
            self._version = version
