"""The ``text`` column of data files: encoding, the per-tag index flag, decoding.

A file that holds at least one text has a ``text`` column (Parquet ``BYTE_ARRAY`` UTF-8,
dictionary-encoded, null where a point has no text) and, in its historian index, ``text``: per
tag run, whether any of its points has a text, so a read of numeric tags never decodes the
column. A file of numbers only is written exactly as before text values existed (no column, no
key: measured, an all-null column cost 10-15 % of the write time), and reads as "no text", like
files written before. See docs/format.md.

Examples
--------
>>> import numpy as np
>>> col, flags = encode(np.array(["a", None, "b"], dtype=object), np.array([0, 2, 3]))
>>> col.to_pylist(), flags
(['a', None, 'b'], [True, True])
>>> encode(None, np.array([0, 3]))
(None, [False])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["COLUMN", "check_decoded", "decode", "encode", "flags_of"]

COLUMN = "text"


def encode(text: np.ndarray | None, bounds: np.ndarray) -> tuple[pa.Array | None, list[bool]]:
    """The file column (dictionary<int32, string>; None when no point has a text) and, per
    tag run, whether it has a text."""
    runs = max(len(bounds) - 1, 0)
    if text is None:
        return None, [False] * runs
    col = pa.array(text, pa.string(), from_pandas=False)
    present = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if not present.any():
        return None, [False] * runs
    flags = np.add.reduceat(present.astype(np.int64), bounds[:-1]) > 0
    return col.dictionary_encode(), [bool(f) for f in flags]


def flags_of(index: dict[str, Any], runs: int) -> list[bool]:
    """Per tag run of a file, whether it holds texts (files before text values: none)."""
    flags = index.get(COLUMN)
    if not isinstance(flags, list) or len(flags) != runs:
        return [False] * runs
    return [bool(f) for f in flags]


def check_decoded(column: pa.ChunkedArray, what: str) -> None:
    """Refuse (``ResourceLimitError``) a dictionary-encoded text column whose texts, once
    decoded, would exceed ``max_file_decoded_bytes``; computed from the dictionary and the
    indices without decoding."""
    import pyarrow.compute as pc

    from historian.limits import current

    total = 0
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):  # read_dictionary makes it one: defensive
            total += int(pc.sum(pc.binary_length(chunk)).as_py() or 0)
            continue
        lengths = pc.binary_length(chunk.dictionary)
        total += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0)
    current().check("max_file_decoded_bytes", total, what, "read fewer tags or a shorter window")


def decode(column: pa.ChunkedArray | pa.Array, a: int, b: int) -> np.ndarray:
    """Rows ``[a, b)`` of a file's text column as an object array of ``str`` or ``None``."""
    part = column.slice(a, b - a)
    if pa.types.is_dictionary(part.type):
        part = part.cast(pa.string())
    return np.asarray(part.to_pylist(), dtype=object)
