"""Points: the columnar unit the store moves around (WAL, memory table, data files).

A :class:`Points` is seven plain numpy arrays with the tags dictionary-encoded (each distinct
name once, sorted; an int32 code per point), so sorting by code sorts by tag name, plus an
optional eighth: ``text``, an object array of ``str`` or ``None`` (``None`` as the whole field:
no point has a text). Its Arrow form (:meth:`Points.to_batch`) is a batch of ``WAL_SCHEMA``,
what the write-ahead log stores; segments written before text values existed have
``WAL_SCHEMA_V1`` (no ``text`` column) and still read (:meth:`Points.from_batch`).

Examples
--------
>>> import numpy as np
>>> p = Points.of_tag("A", np.array([2, 1]), np.array([2.0, 1.0]), np.zeros(2, np.uint32),
...                   np.zeros(2, np.uint32), np.array([7, 7]))
>>> p.sorted().time.tolist(), Points.from_batch(p.to_batch()).tags.tolist()
([1, 2], ['A', 'A'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from historian.model import arrow

__all__ = ["WAL_SCHEMA", "WAL_SCHEMA_V1", "Points", "cat_text", "encode_tags", "text_column"]

#: The WAL batch schema before text values (segments of older stores).
WAL_SCHEMA_V1 = pa.schema(
    [
        ("tag", pa.string()),
        ("time", pa.int64()),  # ns since epoch, UTC
        ("value", pa.float64()),
        ("quality", pa.uint32()),
        ("reasons", pa.uint32()),
        ("ingested", pa.int64()),  # µs since epoch, unique per write call
    ]
)
#: The WAL batch schema: ``text`` is null where a point has no text.
WAL_SCHEMA = WAL_SCHEMA_V1.append(pa.field("text", pa.string()))


def text_column(text: np.ndarray | None, n: int) -> pa.Array:
    """The Arrow ``string`` column of an optional text array (all null when ``None``)."""
    if text is None:
        return pa.nulls(n, pa.string())
    return pa.array(text, pa.string(), from_pandas=False)


def cat_text(parts: list[np.ndarray | None], sizes: list[int]) -> np.ndarray | None:
    """Concatenated optional text arrays (``None`` when none of them has a text)."""
    if all(p is None for p in parts):
        return None
    return np.concatenate(
        [
            np.full(k, None, dtype=object) if p is None else p
            for p, k in zip(parts, sizes, strict=True)
        ]
    )


@dataclass(frozen=True)
class Points:
    """Columnar points as plain numpy arrays (the unit the store moves around).

    Tags are dictionary-encoded: ``names`` holds each distinct tag once, sorted, and ``codes``
    indexes it per point, so sorting by code sorts by tag name.
    """

    names: np.ndarray  # object array of str, unique and sorted
    codes: np.ndarray  # int32, one per point
    time: np.ndarray  # int64 ns
    value: np.ndarray  # float64 (NaN = no value)
    quality: np.ndarray  # uint32
    reasons: np.ndarray  # uint32
    ingested: np.ndarray  # int64 µs
    text: np.ndarray | None = None  # object (str or None) per point; None: no text at all

    def __len__(self) -> int:
        return len(self.time)

    @property
    def tags(self) -> np.ndarray:
        """The tag of every point (object array)."""
        tags: np.ndarray = self.names[self.codes]
        return tags

    @classmethod
    def of_tag(
        cls,
        name: str,
        time: np.ndarray,
        value: np.ndarray,
        quality: np.ndarray,
        reasons: np.ndarray,
        ingested: np.ndarray,
        text: np.ndarray | None = None,
    ) -> Points:
        return cls(
            np.array([name], dtype=object),
            np.zeros(len(time), np.int32),
            time,
            value,
            quality,
            reasons,
            ingested,
            text,
        )

    @classmethod
    def empty(cls) -> Points:
        e = np.zeros(0)
        return cls(
            np.zeros(0, object),
            e.astype(np.int32),
            e.astype(np.int64),
            e,
            e.astype(np.uint32),
            e.astype(np.uint32),
            e.astype(np.int64),
        )

    def take(self, sel: np.ndarray | slice) -> Points:
        return Points(
            self.names,
            self.codes[sel],
            self.time[sel],
            self.value[sel],
            self.quality[sel],
            self.reasons[sel],
            self.ingested[sel],
            None if self.text is None else self.text[sel],
        )

    def is_sorted(self) -> bool:
        """True when already sorted by (tag, time) with no repeated (tag, time)."""
        if len(self.time) < 2:
            return True
        dc = np.diff(self.codes)
        return bool(np.all((dc > 0) | ((dc == 0) & (np.diff(self.time) > 0))))

    def sorted(self) -> Points:
        """Sorted by (tag, time, ingested); stable, so equal keys keep their order.

        Cheap when each tag already comes as one time-sorted run (whatever the order of the
        tags, as a per-tag export or a pandas group-by gives): the runs are reordered by copying
        slices; only other layouts pay for a full sort.
        """
        if self.is_sorted():
            return self
        n = len(self.time)
        cut = np.flatnonzero(np.diff(self.codes)) + 1
        starts = np.concatenate([[0], cut])
        run_codes = self.codes[starts]
        same = np.diff(self.codes) == 0
        if np.unique(run_codes).size == run_codes.size and bool(
            np.all(np.diff(self.time)[same] > 0)
        ):
            ends = np.concatenate([cut, [n]])
            order = np.argsort(run_codes)
            return self.concat_runs(starts[order], ends[order])
        return self.take(np.lexsort((self.ingested, self.time, self.codes)))

    def concat_runs(self, starts: np.ndarray, ends: np.ndarray) -> Points:
        """The rows of the slices ``[starts[i], ends[i])``, in that order (copies, no gather)."""
        if len(starts) == 1:
            return self.take(slice(int(starts[0]), int(ends[0])))
        spans = [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]

        def cat(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a[s] for s in spans])

        return Points(
            self.names,
            cat(self.codes),
            cat(self.time),
            cat(self.value),
            cat(self.quality),
            cat(self.reasons),
            cat(self.ingested),
            None if self.text is None else cat(self.text),
        )

    def to_batch(self) -> pa.RecordBatch:
        tags = pa.DictionaryArray.from_arrays(
            arrow.array(self.codes, pa.int32()), arrow.array(self.names, pa.string())
        )
        return pa.record_batch(
            [
                tags.cast(pa.string()),
                arrow.array(self.time, pa.int64()),
                arrow.array(self.value, pa.float64()),
                arrow.array(self.quality, pa.uint32()),
                arrow.array(self.reasons, pa.uint32()),
                arrow.array(self.ingested, pa.int64()),
                text_column(self.text, len(self.time)),
            ],
            schema=WAL_SCHEMA,
        )

    @classmethod
    def from_batch(cls, batch: pa.RecordBatch) -> Points:
        """Points of a ``WAL_SCHEMA`` batch, or of a ``WAL_SCHEMA_V1`` one (no text)."""

        def col(i: int, dtype: type) -> np.ndarray:
            return np.asarray(arrow.to_numpy(batch.column(i)), dtype=dtype)

        names, codes = encode_tags(batch.column(0))
        text = None
        if batch.num_columns > 6:
            t = batch.column(6)
            if t.null_count < len(t):
                text = np.asarray(t.to_pylist(), dtype=object)
        return cls(
            names,
            codes,
            col(1, np.int64),
            col(2, np.float64),
            col(3, np.uint32),
            col(4, np.uint32),
            col(5, np.int64),
            text,
        )


def encode_tags(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique names, int32 codes) for an Arrow string or dictionary column."""
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    names = np.asarray(column.dictionary.cast(pa.string()).to_pylist(), dtype=object)
    codes = np.asarray(arrow.to_numpy(column.indices), dtype=np.int32)
    order = (
        np.argsort(names.astype(str), kind="stable") if len(names) > 1 else np.arange(len(names))
    )
    if len(names) > 1 and not np.array_equal(order, np.arange(len(names))):
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        names, codes = names[order], rank[codes].astype(np.int32)
    # Dictionaries may repeat a value (e.g. after concatenation): fold duplicates.
    if len(names) > 1 and np.any(names[1:] == names[:-1]):
        uniq, inverse = np.unique(names.astype(str), return_inverse=True)
        names, codes = uniq.astype(object), inverse[codes].astype(np.int32)
    return names, codes
