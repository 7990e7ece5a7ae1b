"""Reading what :func:`~historian.importing.import_history` imports, batch by batch.

A CSV file (read as text, the delimiter sniffed from the header: ``,``, ``;`` or tab), a Parquet
file (text columns kept dictionary-encoded until a batch is cut to a bounded size), or a pandas,
polars or pyarrow table; only the tag, time, value and quality columns are read. A file pyarrow
cannot read is an :class:`~historian.errors.InvalidDataError` naming it.

Examples
--------
>>> from historian.importing.sources import pick_columns
>>> pick_columns(["tag", "time", "value", "note"], "data.csv", "tag", "time", "value", "quality")
['tag', 'time', 'value']
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from historian.errors import HistorianError, InvalidArgumentError, InvalidDataError

__all__ = ["guarded", "open_source", "pick_columns", "unreadable_as_invalid"]


def unreadable_as_invalid(read: Any, what: Any) -> Any:
    """``read()``, with a file that pyarrow cannot read (or the OS cannot open) reported as an
    :class:`InvalidDataError` naming it; the original is the ``__cause__``."""
    try:
        return read()
    except HistorianError:
        raise
    except (pa.ArrowException, OSError, UnicodeDecodeError, EOFError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        name = os.path.basename(os.fspath(what)) if isinstance(what, str | os.PathLike) else what
        raise InvalidDataError(
            f"cannot read {name!r}: {first} (is it a complete CSV or Parquet file? a row longer "
            "than 8 MB, a truncated gzip or a damaged footer cannot be imported)"
        ) from exc


def guarded(batches: Iterator[pa.RecordBatch], label: str) -> Iterator[pa.RecordBatch]:
    """The batches, with read errors of the source mapped (see :func:`unreadable_as_invalid`)."""
    it = iter(batches)
    while True:
        batch = unreadable_as_invalid(lambda: next(it, None), label)
        if batch is None:
            return
        yield batch


def open_source(
    source: Any,
    fmt: str | None,
    tag: str,
    time: str,
    value: str,
    quality: str | None,
    chunk_rows: int,
) -> tuple[str, int | None, Iterator[pa.RecordBatch]]:
    """(label, total rows if known, batches holding only the wanted columns)."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise InvalidArgumentError(
                f"no file {path!r} to import (the current folder is {os.getcwd()!r})"
            )
        fmt = fmt or _format_of(path)
        label = os.path.basename(path)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            names = pq.ParquetFile(path).schema_arrow
            cols = pick_columns(names.names, label, tag, time, value, quality)
            # Text columns stay dictionary-encoded until a batch is cut to a bounded size: a few
            # kB of Parquet can hold millions of copies of a long string.
            text = [
                c
                for c in cols
                if pa.types.is_string(names.field(c).type)
                or pa.types.is_large_string(names.field(c).type)
            ]
            pf = pq.ParquetFile(path, read_dictionary=text)
            batches = pf.iter_batches(batch_size=chunk_rows, columns=cols)
            return label, pf.metadata.num_rows, _bounded(batches, label)
        if fmt == "csv":
            return label, None, _csv_batches(path, label, tag, time, value, quality, chunk_rows)
        raise InvalidArgumentError(f"format must be 'csv' or 'parquet', not {fmt!r}")
    table = _as_arrow(source, time)
    cols = pick_columns(table.column_names, type(source).__name__, tag, time, value, quality)
    table = table.select(cols)
    return type(source).__name__, table.num_rows, iter(table.to_batches(max_chunksize=chunk_rows))


_BATCH_BYTES = 64 << 20  # decoded text a batch may hold
_CELL_BYTES = 8 << 20  # the longest cell: the CSV reader's block size


def _bounded(batches: Iterator[pa.RecordBatch], label: str) -> Iterator[pa.RecordBatch]:
    """Batches whose dictionary-encoded text columns decode to at most ``_BATCH_BYTES``: each
    batch is cut by its rows' decoded sizes (computed from the dictionaries, without decoding)
    and decoded one slice at a time; a cell over ``_CELL_BYTES`` is refused."""
    row0 = 0
    for batch in batches:
        sizes = np.zeros(batch.num_rows, np.int64)
        for col in batch.columns:
            if pa.types.is_dictionary(col.type):
                lengths = pc.binary_length(col.dictionary).fill_null(0)
                cell = _take_lengths(lengths, col.indices)
                if cell.size and int(cell.max()) > _CELL_BYTES:
                    i = int(np.argmax(cell))
                    raise InvalidDataError(
                        f"{label}: row {row0 + i} has a cell of {int(cell[i]):,} bytes (at most "
                        f"{_CELL_BYTES:,}); it is not a history row"
                    )
                sizes += cell
        ends = np.cumsum(sizes)
        start = 0
        while start < batch.num_rows:
            base = ends[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, base + _BATCH_BYTES, "right")))
            part = batch.slice(start, stop - start)
            yield pa.RecordBatch.from_arrays(
                [
                    c.dictionary_decode() if pa.types.is_dictionary(c.type) else c
                    for c in part.columns
                ],
                names=part.schema.names,
            )
            start = stop
        row0 += batch.num_rows


def _take_lengths(lengths: pa.Array, indices: pa.Array) -> np.ndarray:
    """``lengths[indices]`` as int64 numpy (a null index counts 0)."""
    from historian.model.arrow import to_numpy

    idx = to_numpy(indices.fill_null(0)).astype(np.int64)
    vals = to_numpy(lengths).astype(np.int64)
    return vals[idx] if vals.size else np.zeros(idx.size, np.int64)


def _format_of(path: str) -> str:
    name = path.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".zst")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".txt", ".tsv")):
        return "csv"
    raise InvalidArgumentError(
        f"cannot tell the format of {os.path.basename(path)!r} from its name; pass "
        "format='csv' or format='parquet'"
    )


def _as_arrow(source: Any, time: str) -> pa.Table:
    mod = type(source).__module__
    if mod.startswith("pandas"):
        df = source
        if time not in df.columns and (df.index.name == time or "datetime" in str(df.index.dtype)):
            df = df.reset_index(names=time)  # times in the index (a common pandas layout)
        return pa.Table.from_pandas(df, preserve_index=False)
    if mod.startswith("polars"):
        return source.to_arrow()
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        return source
    raise InvalidDataError(
        f"cannot import a {type(source).__name__}; pass a CSV or Parquet path, or a pandas, "
        "polars or pyarrow table"
    )


def pick_columns(
    names: list[str], label: str, tag: str, time: str, value: str, quality: str | None
) -> list[str]:
    wanted = []
    for role, col in (("tag", tag), ("time", time), ("value", value)):
        if col not in names:
            raise InvalidArgumentError(
                f"{label} has no column {col!r} for the {role} (columns: "
                f"{', '.join(map(str, names))}); name it with {role}='<column>'"
            )
        wanted.append(col)
    if quality is not None and quality in names:
        wanted.append(quality)
    elif quality is not None and quality != "quality":
        raise InvalidArgumentError(
            f"{label} has no column {quality!r} for the quality (columns: "
            f"{', '.join(map(str, names))}); pass quality=None if the file has none (all Good)"
        )
    return wanted


def _csv_batches(
    path: str, label: str, tag: str, time: str, value: str, quality: str | None, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    import pyarrow.csv as pacsv

    parse = pacsv.ParseOptions(delimiter=_sniff_delimiter(path))
    probe = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 16),
        parse_options=parse,
        convert_options=pacsv.ConvertOptions(include_columns=[]),
    )
    header = probe.schema.names  # the header only: include_columns=[] names every column
    probe.close()
    cols = pick_columns(header, label, tag, time, value, quality)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=8 << 20),
        parse_options=parse,
        # Read as text: every cell is checked here, so a bad cell rejects one row, not the file.
        convert_options=pacsv.ConvertOptions(
            include_columns=cols,
            column_types=dict.fromkeys(cols, pa.string()),
            strings_can_be_null=False,
        ),
    )
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in reader:
        pending.append(batch)
        size += batch.num_rows
        if size >= chunk_rows:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches(chunk_rows)
            pending, size = [], 0
    if pending:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches(chunk_rows)


def _sniff_delimiter(path: str) -> str:
    """``,`` unless the header line holds more ``;`` (European spreadsheets) or tabs."""
    if path.lower().endswith((".gz", ".bz2", ".zst")):
        return "\t" if path.lower().rsplit(".", 1)[0].endswith(".tsv") else ","
    with open(path, "rb") as f:
        head = f.readline(64 * 1024).decode("utf-8", "replace")
    counts = {d: head.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","
