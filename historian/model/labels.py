"""Label columns (``tag``, ``stat``) of results, built from buffers: no Python work per row.

A result's label column holds few distinct strings over many rows, in runs (the ``tag`` of a
read or a summary: each tag's rows are contiguous) or in a repeating pattern (the ``stat`` of a
summary: interval-major, stat-minor). Both are built here with numpy on the offsets and one
byte copy per run, either as a plain ``string`` column or as ``dictionary<int32, string>`` (no
string data per row at all; pandas reads it as a Categorical, polars as a Categorical/Enum).

A ``string`` column whose bytes would overflow Arrow's 32-bit offsets (2 GiB) comes back as a
:class:`pyarrow.ChunkedArray` of ``string`` chunks, so the logical type never changes.

Examples
--------
>>> import numpy as np
>>> repeated_strings(["A", "BB"], np.array([2, 1])).to_pylist()
['A', 'A', 'BB']
>>> repeated_strings(["A", "BB"], np.array([2, 1]), dictionary=True).type
DictionaryType(dictionary<values=string, indices=int32, ordered=0>)
>>> tiled_strings(["twa", "max"], 2).to_pylist()
['twa', 'max', 'twa', 'max']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from historian.model import arrow, buffers

__all__ = ["repeated_strings", "tiled_strings"]

#: Bytes a ``string`` array's int32 offsets can address.
MAX_STRING_BYTES = 2**31 - 1
_BLOCK = 1 << 16  # bytes of one repeated-name block copied into a string column's data
_MANY_RUNS = 256  # more names than this, repeated <= 100 times on average: pyarrow's take
# (10,000 names x 10: 4 ms against 59 ms for the loop per run; at 1,000 each they are even)


def _fill_repeated(out: np.ndarray, b: bytes) -> None:
    """Fill the uint8 array ``out`` with ``b`` repeated (``out.size`` is a multiple of it), a
    cache-sized block at a time (``bytes * k`` is a doubling memcpy)."""
    if not out.size:
        return
    block = np.frombuffer(b * max(1, min(out.size, _BLOCK) // len(b)), dtype=np.uint8)
    for off in range(0, out.size, block.size):
        k = min(block.size, out.size - off)
        out[off : off + k] = block[:k]


def _string_array(encoded: Sequence[bytes], counts: Sequence[int]) -> pa.Array:
    """``encoded[i]`` repeated ``counts[i]`` times, as one ``string`` array (fits in int32)."""
    n = int(sum(counts))
    if not any(encoded):  # only empty strings (summarize's default tag): offsets all zero
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(np.zeros(n + 1, dtype=np.int32)), pa.py_buffer(b"")]
        )
    offsets = buffers.empty(n + 1, np.int32)
    offsets[0] = 0
    ramp = np.arange(1, max(counts, default=0) + 1, dtype=np.int32)
    pos = base = 0
    for b, c in zip(encoded, counts, strict=True):  # per run: base + (1..c) * len
        run = offsets[pos + 1 : pos + 1 + c]
        np.multiply(ramp[:c], np.int32(len(b)), out=run)
        run += np.int32(base)
        pos += c
        base += len(b) * c
    data = buffers.empty(base, np.uint8)
    pos = 0
    for b, c in zip(encoded, counts, strict=True):
        _fill_repeated(data[pos : pos + len(b) * c], b)
        pos += len(b) * c
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def repeated_strings(
    names: Sequence[str],
    counts: np.ndarray | Sequence[int],
    *,
    dictionary: bool = False,
    max_bytes: int = MAX_STRING_BYTES,
) -> pa.Array | pa.ChunkedArray:
    """A column with ``names[i]`` repeated ``counts[i]`` times, in that order.

    ``dictionary=True``: ``dictionary<int32, string>`` with ``names`` as the dictionary.
    Otherwise ``string``; a :class:`pyarrow.ChunkedArray` of ``string`` chunks of at most
    ``max_bytes`` bytes each when the whole would not fit in one array.

    >>> repeated_strings(["A", "B"], [1, 3], max_bytes=2).num_chunks
    2
    """
    reps = np.asarray(counts, dtype=np.int64)
    if dictionary:
        indices = np.repeat(np.arange(len(names), dtype=np.int32), reps)
        return pa.DictionaryArray.from_arrays(
            arrow.array(indices, pa.int32()), arrow.array(list(names), pa.string())
        )
    encoded = [s.encode() for s in names]
    sizes = [len(b) * c for b, c in zip(encoded, reps.tolist(), strict=True)]
    if sum(sizes) <= max_bytes:
        if len(names) > _MANY_RUNS and int(reps.sum()) <= 100 * len(names):
            # many short runs (a summary of 10,000 tags): Arrow's take beats a loop per run
            indices = np.repeat(np.arange(len(names), dtype=np.int32), reps)
            out: pa.Array = arrow.array(list(names), pa.string()).take(arrow.array(indices))
            return out
        return _string_array(encoded, reps.tolist())
    chunks: list[pa.Array] = []
    run_names: list[bytes] = []
    run_counts: list[int] = []
    room = max_bytes
    for b, c in zip(encoded, reps.tolist(), strict=True):
        while c:  # take as many rows of this name as fit in the current chunk
            take = c if not b else min(c, max(0, room) // len(b))
            if take == 0 and not run_names:  # one name longer than a chunk: alone in one
                take = 1
            if take == 0:
                chunks.append(_string_array(run_names, run_counts))
                run_names, run_counts, room = [], [], max_bytes
                continue
            run_names.append(b)
            run_counts.append(take)
            room -= take * len(b)
            c -= take
    if run_names:
        chunks.append(_string_array(run_names, run_counts))
    return pa.chunked_array(chunks, pa.string())


def tiled_strings(
    names: Sequence[str], reps: int, *, max_bytes: int = MAX_STRING_BYTES
) -> pa.Array | pa.ChunkedArray:
    """A ``string`` column with the sequence ``names`` repeated ``reps`` times
    (``names[0], names[1], ..., names[0], ...``); chunked as :func:`repeated_strings`.

    >>> tiled_strings(["a", "b"], 3, max_bytes=4).num_chunks
    2
    """
    encoded = [s.encode() for s in names]
    lengths = np.array([len(b) for b in encoded], dtype=np.int64)
    pattern = b"".join(encoded)
    per_chunk = reps if not pattern else max(1, min(reps, max_bytes // len(pattern)))

    def block(r: int) -> pa.Array:
        start = np.zeros(len(encoded), dtype=np.int64)
        np.cumsum(lengths[:-1], out=start[1:])
        offsets = buffers.empty(r * len(encoded) + 1, np.int32)
        np.add(
            np.arange(r, dtype=np.int32)[:, None] * np.int32(len(pattern)),
            start.astype(np.int32),
            out=offsets[:-1].reshape(r, len(encoded)),
        )
        offsets[-1] = r * len(pattern)
        data = buffers.empty(r * len(pattern), np.uint8)
        _fill_repeated(data, pattern)
        return pa.Array.from_buffers(
            pa.string(), r * len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )

    if per_chunk >= reps:
        return block(reps)
    full, rest = divmod(reps, per_chunk)
    one = block(per_chunk)  # every full chunk is the same immutable array
    return pa.chunked_array([one] * full + ([block(rest)] if rest else []), pa.string())
