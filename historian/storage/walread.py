"""Reading a WAL segment message by message: bounded memory, damage skipped, the rest salvaged.

An Arrow IPC stream is a sequence of messages, each ``0xFFFFFFFF``, a 4-byte metadata length, a
flatbuffer ``Message`` and a body (``docs/format.md``). :func:`scan_segment` walks that framing
itself instead of trusting an IPC reader with the whole file:

* the file is memory-mapped and each message is copied out alone, so a reader holds one batch at a
  time (an 87 MB segment used to cost 4.4 GB per reader);
* a message whose declared body is beyond :data:`MAX_BATCH_BYTES`, or that is compressed (the
  writer never compresses: a compressed batch is a decompression bomb), is refused as damage;
* a batch whose CRC32 fails, or bytes that are no message at all, are skipped: the scan resyncs on
  the next ``0xFFFFFFFF`` from which a whole batch with a valid CRC32 decodes, and goes on;
* a last message cut short by the end of the file is a torn tail (kill -9 during an append: never
  acknowledged), not damage.

Examples
--------
>>> import tempfile, os, numpy as np
>>> from historian.storage.wal import Points, WalWriter, list_segments, segment_name
>>> d = tempfile.mkdtemp()
>>> w = WalWriter(d, 1)
>>> one = np.ones(1)
>>> for i in range(3):
...     w.append(Points.of_tag("A", np.array([i]), one, one.astype(np.uint32),
...                            one.astype(np.uint32), np.zeros(1, np.int64)))
>>> w.close()
>>> scan = scan_segment(os.path.join(d, segment_name(list_segments(d)[0])))
>>> [int(p.time[0]) for p in scan.batches], scan.damage
([0, 1, 2], [])
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

#: The largest WAL batch body a reader accepts (bytes). The writer's batches are one ``write()``
#: call below ``bulk_points`` (default 250,000 points, about 12 MB); larger writes go straight to
#: Parquet files. A batch declaring more is refused as damage instead of being decoded.
MAX_BATCH_BYTES = 256 * 1024 * 1024
_MAX_META = 1 << 20  # a flatbuffer Message header of ours is a few hundred bytes
_MARKER = b"\xff\xff\xff\xff"
_CHUNK = 1 << 20
_SCHEMA, _RECORD_BATCH = 1, 3


class _Bad(Exception):
    """A message that does not parse (framing or flatbuffer)."""


@dataclass
class _Message:
    kind: int
    body_len: int
    rows: int
    compressed: bool
    meta: dict[bytes, bytes]
    end: int  # offset just after the body


@dataclass
class Scan:
    """What a segment holds: the valid batches, the damage found, and whether the tail was torn."""

    batches: list[Any] = field(default_factory=list)  # list[Points] (scan_segment only)
    damage: list[str] = field(default_factory=list)
    torn_tail: bool = False
    batches_seen: int = 0


# ---------------------------------------------------------------------- flatbuffers (read only)
def _u32(b: memoryview, at: int) -> int:
    if at < 0 or at + 4 > len(b):
        raise _Bad("offset out of range")
    return int(struct.unpack_from("<I", b, at)[0])


def _field(b: memoryview, table: int, i: int) -> int:
    """Absolute position of field ``i`` of the table at ``table`` (0: absent)."""
    if table < 0 or table + 4 > len(b):
        raise _Bad("table out of range")
    vt = table - struct.unpack_from("<i", b, table)[0]
    if vt < 0 or vt + 4 > len(b):
        raise _Bad("vtable out of range")
    vt_size = struct.unpack_from("<H", b, vt)[0]
    if 4 + 2 * i + 2 > vt_size:
        return 0
    off = struct.unpack_from("<H", b, vt + 4 + 2 * i)[0]
    return table + off if off else 0


def _ref(b: memoryview, pos: int) -> int:
    return pos + _u32(b, pos)


def _vector(b: memoryview, pos: int) -> tuple[int, int]:
    at = _ref(b, pos)
    n = _u32(b, at)
    if n > len(b):
        raise _Bad("vector too long")
    return at + 4, n


def _string(b: memoryview, pos: int) -> bytes:
    at, n = _vector(b, pos)
    if at + n > len(b):
        raise _Bad("string out of range")
    return bytes(b[at : at + n])


def _parse(mm: memoryview, pos: int) -> _Message:
    """The message framed at ``pos`` (raises :class:`_Bad`; an incomplete one: ``EOFError``)."""
    size = len(mm)
    if pos + 8 > size:
        raise EOFError
    if bytes(mm[pos : pos + 4]) != _MARKER:
        raise _Bad("no continuation marker")
    meta_len = struct.unpack_from("<i", mm, pos + 4)[0]
    if meta_len == 0:
        return _Message(0, 0, 0, False, {}, pos + 8)  # end of stream
    if meta_len < 8 or meta_len > _MAX_META:
        raise _Bad(f"metadata length {meta_len}")
    if pos + 8 + meta_len > size:
        raise EOFError
    b = mm[pos + 8 : pos + 8 + meta_len]
    try:
        root = _u32(b, 0)
        htype = _field(b, root, 1)
        kind = b[htype] if htype else 0
        blen = _field(b, root, 3)
        body_len = struct.unpack_from("<q", b, blen)[0] if blen else 0
        meta: dict[bytes, bytes] = {}
        cm = _field(b, root, 4)
        if cm:
            at, n = _vector(b, cm)
            for k in range(min(n, 64)):
                kv = _ref(b, at + 4 * k)
                kf, vf = _field(b, kv, 0), _field(b, kv, 1)
                meta[_string(b, kf) if kf else b""] = _string(b, vf) if vf else b""
        rows, compressed = 0, False
        if kind == _RECORD_BATCH:
            hdr = _field(b, root, 2)
            if not hdr:
                raise _Bad("record batch without header")
            rb = _ref(b, hdr)
            lf = _field(b, rb, 0)
            rows = struct.unpack_from("<q", b, lf)[0] if lf else 0
            compressed = bool(_field(b, rb, 3))
    except (struct.error, IndexError) as exc:
        raise _Bad(f"metadata does not parse ({exc})") from None
    if body_len < 0 or rows < 0:
        raise _Bad("negative length")
    end = pos + 8 + meta_len + body_len
    return _Message(int(kind), int(body_len), int(rows), compressed, meta, end)


# ---------------------------------------------------------------------- batches
def _schemas(header: bytes | None) -> tuple[pa.Schema, ...]:
    """The batch schemas to try in a segment with this schema message (None: unreadable).

    Segments written before text values have ``WAL_SCHEMA_V1``; an unreadable header tries both.
    """
    from historian.storage.points import WAL_SCHEMA, WAL_SCHEMA_V1

    if header is not None:
        try:
            schema = pa.ipc.read_schema(pa.py_buffer(header))
        except (pa.ArrowException, OSError, ValueError):
            schema = None
        if schema is not None and schema.equals(WAL_SCHEMA_V1):
            return (WAL_SCHEMA_V1,)
        if schema is not None and schema.equals(WAL_SCHEMA):
            return (WAL_SCHEMA,)
    return (WAL_SCHEMA, WAL_SCHEMA_V1)


def _decode(
    mm: memoryview, pos: int, msg: _Message, schemas: tuple[pa.Schema, ...] = ()
) -> tuple[object | None, str | None]:
    """(Points, None) for a valid batch, or (None, what is wrong)."""
    from historian.storage.points import Points
    from historian.storage.wal import _crc

    if msg.compressed:
        return None, "a compressed batch (the writer never compresses: refused)"
    if msg.body_len > MAX_BATCH_BYTES:
        return None, (
            f"a batch declaring {msg.body_len:,} bytes, above the {MAX_BATCH_BYTES:,}-byte "
            "budget (refused)"
        )
    if msg.rows * 8 * 3 > msg.body_len + 64:
        return None, f"a batch declaring {msg.rows:,} rows in {msg.body_len:,} bytes"
    expected = msg.meta.get(b"crc32")
    if expected is None:
        return None, "a batch without its CRC32"
    why = "a batch that does not decode"
    for schema in schemas or _schemas(None):
        try:
            message = pa.ipc.read_message(pa.py_buffer(bytes(mm[pos : msg.end])))
            batch = pa.ipc.read_record_batch(message, schema)
            batch.validate(full=True)
        except (pa.ArrowException, OSError, ValueError) as exc:
            why = f"a batch that does not decode ({str(exc).splitlines()[0]})"
            continue
        if expected.decode(errors="replace") == _crc(batch):
            break
        why = f"a batch of {batch.num_rows:,} points that fails its CRC32"
    else:
        return None, why
    p = Points.from_batch(batch)
    return (
        Points(
            p.names,
            p.codes,
            np.array(p.time),
            np.array(p.value),
            np.array(p.quality),
            np.array(p.reasons),
            np.array(p.ingested),
            p.text,
        ),
        None,
    )


def _resync(mm: memoryview, raw: mmap.mmap, start: int) -> tuple[int, object] | None:
    """The next offset after ``start`` where a whole, CRC-valid batch begins (and the batch)."""
    at = start
    while True:
        at = raw.find(_MARKER, at)
        if at < 0:
            return None
        try:
            msg = _parse(mm, at)
        except (_Bad, EOFError):
            at += 1
            continue
        if msg.kind == _RECORD_BATCH and msg.end <= len(mm):
            points, why = _decode(mm, at, msg)
            if why is None:
                return at, points
        at += 1


def scan_segment(path: str) -> Scan:
    """Every batch of one segment that holds up, and the damage around the others."""
    scan = Scan()
    scan.batches = list(iter_segment(path, scan))
    return scan


def iter_segment(path: str, scan: Scan) -> Iterator[Any]:
    """Yield the valid batches (Points) one at a time; ``scan`` collects damage and the tail."""
    size = os.path.getsize(path)
    if size == 0:
        return
    with open(path, "rb") as f:
        raw = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    try:
        mm = memoryview(raw)
        try:
            yield from _walk(mm, raw, scan)
        finally:
            mm.release()
    finally:
        raw.close()


def _release(raw: mmap.mmap, released: int, pos: int) -> int:
    """Drop the pages already read from this process's memory (the page cache keeps them)."""
    upto = pos - pos % mmap.PAGESIZE
    if upto - released >= _CHUNK * 8 and hasattr(raw, "madvise"):
        raw.madvise(mmap.MADV_DONTNEED, released, upto - released)
        return upto
    return released


def _walk(mm: memoryview, raw: mmap.mmap, scan: Scan) -> Iterator[Any]:
    size = len(mm)
    released = 0
    try:
        first = _parse(mm, 0)
        if first.kind != _SCHEMA or first.end > size:
            raise _Bad("no schema message")
        pos = first.end
        schemas = _schemas(bytes(mm[0 : first.end]))
    except EOFError:
        scan.torn_tail = True  # torn at creation: nothing was ever appended
        return
    except _Bad:
        scan.damage.append("the segment header (schema message) is damaged")
        schemas = _schemas(None)
        found = _resync(mm, raw, 1)
        if found is None:
            return
        pos = found[0]
    while pos < size:
        try:
            msg: _Message | None = _parse(mm, pos)
        except EOFError:
            scan.torn_tail = True  # a message cut short by the end of the file
            return
        except _Bad:
            msg = None
        if msg is not None and msg.kind == 0:
            return  # end-of-stream marker: the segment was closed
        if msg is not None and msg.end > size:
            scan.torn_tail = True  # the last append was cut short
            return
        if msg is not None and msg.kind == _RECORD_BATCH:
            points, why = _decode(mm, pos, msg, schemas)
            if why is None:
                scan.batches_seen += 1
                yield points
                pos = msg.end
                released = _release(raw, released, pos)
                continue
            scan.damage.append(f"{why} at byte {pos}")
            pos = msg.end  # the framing holds: the next message starts right after
            continue
        if _is_torn(mm, pos):
            scan.torn_tail = True
            return
        found = _resync(mm, raw, pos + 1)
        if found is None:
            scan.damage.append(f"bytes {pos}-{size} are no valid batch (damaged tail)")
            return
        scan.damage.append(f"bytes {pos}-{found[0]} are no valid batch (skipped)")
        pos = found[0]


def _is_torn(mm: memoryview, pos: int) -> bool:
    """True when what is left from ``pos`` is a cut-short append (a marker prefix, or zeros)."""
    rest = bytes(mm[pos : pos + 8])
    if len(mm) - pos < 8 and _MARKER.startswith(rest[:4]):
        return True
    return not any(bytes(mm[a : a + _CHUNK]).strip(b"\x00") for a in range(pos, len(mm), _CHUNK))
