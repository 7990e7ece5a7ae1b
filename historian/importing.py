"""Import history from CSV, Parquet, pandas, polars or Arrow into a store, row by row.

:func:`import_history` writes the rows it can and returns an :class:`ImportReport` that says,
for every row it could not take, which row, what it held and why: an unknown tag, an invalid tag
name, an unparseable time, a non-numeric value, an invalid quality. Nothing is guessed: a row is
either written as it is or rejected with its reason.

The input is a *long* table, one point a row: ``tag, time, value[, quality]`` (other column
names with ``tag=``, ``time=``, ``value=``, ``quality=``); a CSV may use ``,``, ``;`` or tabs.
A *wide* export (a time column and one column per tag, as PI DataLink or a spreadsheet gives)
becomes long with ``df.melt(id_vars="time", var_name="tag", value_name="value")``.

Times are ISO 8601 strings (``Z`` or an offset; without one, UTC), timestamps, or int
nanoseconds. Quality is an OPC UA StatusCode as an
integer (``0``, ``2150694912``, ``0x80310000``) or a name (``Good``, ``Bad_NoCommunication``); a
missing quality column or an empty cell means Good. A Bad row may have no value (e.g. a
communication loss); any other row needs a number.

Examples
--------
>>> import historian, tempfile, pandas as pd
>>> from historian.importing import import_history
>>> df = pd.DataFrame({"tag": ["TIC-101.PV", "TIC-101.PV", "NOPE", "TIC-101.PV"],
...                    "time": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z",
...                             "2026-01-01T00:00:02Z", "yesterday-ish"],
...                    "value": [20.5, 20.7, 1.0, 20.9]})
>>> with historian.open(tempfile.mkdtemp()) as h:
...     _ = h.define("TIC-101.PV", unit="degC")
...     report = import_history(h, df, progress=False)
>>> report.written, report.reasons()
(2, {'unknown tag': 1, 'unparseable time': 1})
>>> report.rejected.select(["row", "tag", "reason"]).to_pylist()[0]
{'row': 2, 'tag': 'NOPE', 'reason': 'unknown tag'}
"""

from __future__ import annotations

import html
import logging
import os
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from historian.errors import HistorianError, InvalidArgumentError, InvalidDataError
from historian.limits import current
from historian.model import quality as q
from historian.model.schema import TIME_TYPE
from historian.model.tags import validate_tag_name
from historian.model.times import epoch_like, to_ns
from historian.storage.store import last_ingest_stamp

__all__ = ["ImportReport", "import_history"]

log = logging.getLogger(__name__)

_UINT32_MAX = 2**32 - 1
_CELL_SHOWN = 200  # characters of a rejected cell kept in the report
_REJECTED_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("tag", pa.string()),
        ("time", pa.string()),
        ("value", pa.string()),
        ("quality", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)


@dataclass
class ImportReport:
    """What :func:`import_history` did: rows read, written, and every rejected row with its reason.

    Attributes
    ----------
    source : str
        The file imported, or the type of the in-memory table.
    rows : int
        Data rows read (a CSV header is not a row).
    written : int
        Rows written to the store.
    rejected : pyarrow.Table
        One row per rejected input row: ``row`` (0-based data row; in a CSV with a header, the
        file line is ``row + 2``), the raw ``tag``, ``time``, ``value``, ``quality`` as text,
        ``reason`` (a short category such as ``"unknown tag"``) and ``detail`` (what was wrong and
        what to do). At most ``historian.limits`` ``max_rejected_rows`` rows are kept (the
        first ones); :attr:`rejected_rows` and :meth:`reasons` count them all.
    rejected_rows : int
        Rows rejected, all of them (also those past the ones kept in :attr:`rejected`).
    defined : list of str
        Tags defined by the import (``define=True``).
    tags : list of str
        Tags that received points.
    seconds : float
        Wall time of the import.
    ingested : list of int
        The ingest stamps (µs) of the import's write calls: ``h.delete(report.tags,
        ingested=report.ingested)`` takes the import back and nothing else.

    Examples
    --------
    >>> import historian, tempfile, pyarrow as pa
    >>> from historian.importing import import_history
    >>> table = pa.table({"tag": ["A", "A"], "time": [0, 10**9], "value": ["1.5", "n/a"]})
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     r = import_history(h, table, define=True, progress=False)
    >>> r.ok, r.written, r.defined
    (False, 1, ['A'])
    >>> r.rejected.column("detail")[0].as_py()
    "value 'n/a' is not a number; fix the cell, or give the row a Bad quality if it has no value"
    """

    source: str
    rows: int = 0
    written: int = 0
    rejected: pa.Table = field(default_factory=_REJECTED_SCHEMA.empty_table)
    defined: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rejected_rows: int = 0
    ingested: list[int] = field(default_factory=list)
    _reason_counts: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return self.rejected_rows == 0 and self.rejected.num_rows == 0

    def reasons(self) -> dict[str, int]:
        """Rejected rows per reason (all of them), most frequent first."""
        counts = dict(self._reason_counts)
        if not counts and self.rejected.num_rows:  # a report built by hand
            for c in pc.value_counts(self.rejected.column("reason")).to_pylist():
                counts[c["values"]] = c["counts"]
        return dict(sorted(counts.items(), key=lambda x: (-x[1], x[0])))

    def _count_rejected(self, bad: pa.Table, keep: int) -> pa.Table | None:
        """Count ``bad``'s rows per reason; the part of it to keep (``keep`` rows at most)."""
        self.rejected_rows += bad.num_rows
        for c in pc.value_counts(bad.column("reason")).to_pylist():
            self._reason_counts[c["values"]] = self._reason_counts.get(c["values"], 0) + c["counts"]
        return bad.slice(0, keep) if keep > 0 else None

    def __repr__(self) -> str:
        head = (
            f"ImportReport({self.source!r}: {self.rows:,} rows, {self.written:,} written, "
            f"{max(self.rejected_rows, self.rejected.num_rows):,} rejected"
        )
        why = ", ".join(f"{n:,} {r}" for r, n in self.reasons().items())
        defined = f"; defined {len(self.defined)} tag(s)" if self.defined else ""
        return head + (f" ({why})" if why else "") + defined + f"; {self.seconds:.1f} s)"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(r)}</td><td style='text-align:right'>{n:,}</td></tr>"
            for r, n in self.reasons().items()
        )
        first = self.rejected.slice(0, 10).to_pylist()
        sample = "".join(
            "<tr>" + "".join(
                f"<td>{html.escape('' if d[k] is None else str(d[k]))}</td>"
                for k in ("row", "tag", "time", "value", "quality", "detail")
            ) + "</tr>"
            for d in first
        )
        parts = [
            f"<b>Import of {html.escape(self.source)}</b>: {self.rows:,} rows, "
            f"<b>{self.written:,}</b> written, "
            f"<b>{max(self.rejected_rows, self.rejected.num_rows):,}</b> rejected"
            f" in {self.seconds:.1f} s",
        ]
        if self.defined:
            parts.append(f"<br>defined: {html.escape(', '.join(self.defined[:20]))}"
                         + (" ..." if len(self.defined) > 20 else ""))
        if rows:
            parts.append(f"<table><tr><th>reason</th><th>rows</th></tr>{rows}</table>")
            parts.append(
                "<details><summary>first rejected rows (more in <code>.rejected</code>)</summary>"
                "<table><tr><th>row</th><th>tag</th><th>time</th><th>value</th><th>quality</th>"
                f"<th>detail</th></tr>{sample}</table></details>"
            )
        return "<div>" + "".join(parts) + "</div>"


def import_history(
    h: Any,
    source: Any,
    *,
    define: bool = False,
    tag: str = "tag",
    time: str = "time",
    value: str = "value",
    quality: str | None = "quality",
    format: str | None = None,
    progress: bool | None = None,
    chunk_rows: int = 500_000,
) -> ImportReport:
    """Import a long table of history (CSV, Parquet, pandas, polars or Arrow) into ``h``.

    Rows that are valid are written (duplicates of a (tag, time): the last row wins); every other
    row is reported in :attr:`ImportReport.rejected` with its reason. A bad row never stops the
    import, and the file is read in chunks, so files larger than memory work.

    Parameters
    ----------
    h : Historian
        An open store (it becomes the writer).
    source : str, os.PathLike, pandas/polars DataFrame, pyarrow Table or RecordBatch
        A ``.csv`` (also ``.csv.gz``, ``.txt``) or ``.parquet`` file, or a table in memory. A
        pandas DataFrame may carry its times in its index.
    define : bool
        Define unknown tags (analog, no unit; refine them later with ``h.define``) instead of
        rejecting their rows.
    tag, time, value, quality : str
        Column names. ``quality`` is optional: when the column is absent every row is Good;
        ``quality=None`` ignores it.
    format : {"csv", "parquet"}, optional
        For a file whose name does not say it.
    progress : bool, optional
        Show a progress bar (rows); None (default) follows ``historian.options(progress=...)``
        / ``HISTORIAN_PROGRESS``, and a bar is only drawn in a notebook or on a terminal.
    chunk_rows : int
        Rows read, checked and written at a time.

    Returns
    -------
    ImportReport

    Raises
    ------
    InvalidArgumentError
        When a named column is missing (the message lists the columns there are).

    Examples
    --------
    >>> import historian, tempfile, os
    >>> from historian.importing import import_history
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "export.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("tag,time,value,quality\\n"
    ...                 "FIC-101.PV,2026-01-01T00:00:00Z,12.5,Good\\n"
    ...                 "FIC-101.PV,2026-01-01T00:00:01Z,,Bad_NoCommunication\\n"
    ...                 "FIC-101.PV,2026-01-01T00:00:02Z,12.7,0x40940000\\n"
    ...                 "FIC-101.PV,2026-01-01T00:00:03Z,12.8,Excellent\\n")
    >>> with historian.open(os.path.join(folder, "plant.hist")) as h:
    ...     report = import_history(h, path, define=True, progress=False)
    ...     h.read("FIC-101.PV").column("quality").to_pylist()
    [0, 2150694912, 1083441152]
    >>> report
    ImportReport('export.csv': 4 rows, 3 written, 1 rejected (1 invalid quality); defined 1 ...)
    """
    started = _time.perf_counter()
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidArgumentError(f"chunk_rows must be a positive int, not {chunk_rows!r}")
    label, total, batches = _unreadable_as_invalid(
        lambda: _open_source(source, format, tag, time, value, quality, chunk_rows), source
    )
    batches = _guarded(batches, label)
    report = ImportReport(source=label)
    known = set(h.tags().column("name").to_pylist())
    name_errors: dict[str, str] = {}
    written_tags: set[str] = set()
    rejected: list[pa.Table] = []
    keep = current().max_rejected_rows
    bar = _bar(progress, total, label)
    try:
        for batch in batches:
            good, bad = _check_batch(
                batch, report.rows, h, known, name_errors, define, report.defined,
                columns=(tag, time, value, quality),
            )
            if good is not None and good.num_rows:
                report.written += h.write_table(good)
                stamp = last_ingest_stamp()  # this thread's write call, just made
                if stamp is not None:
                    report.ingested.append(stamp)
                written_tags.update(pc.unique(good.column("tag")).to_pylist())
            if bad is not None and bad.num_rows:
                kept = report._count_rejected(bad, keep)
                if kept is not None:
                    rejected.append(kept)
                    keep -= kept.num_rows
            report.rows += batch.num_rows
            if bar is not None:
                bar.update(batch.num_rows)
    finally:
        if bar is not None:
            bar.close()
    if rejected:
        report.rejected = pa.concat_tables(rejected)
    report.tags = sorted(written_tags)
    report.seconds = _time.perf_counter() - started
    if report.rejected_rows > report.rejected.num_rows:
        log.info("import of %s: the report keeps the first %d of %d rejected rows "
                 "(limits.max_rejected_rows)", label, report.rejected.num_rows,
                 report.rejected_rows)
    if report.rejected_rows:
        log.info("import of %s: %d of %d rows rejected (%s)", label, report.rejected_rows,
                    report.rows, ", ".join(f"{n} {r}" for r, n in report.reasons().items()))
    log.info("import of %s: %d rows written in %.1f s", label, report.written, report.seconds)
    return report


# ---------------------------------------------------------------------------- reading the source
def _unreadable_as_invalid(read: Any, what: Any) -> Any:
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


def _guarded(batches: Iterator[pa.RecordBatch], label: str) -> Iterator[pa.RecordBatch]:
    """The batches, with read errors of the source mapped (see :func:`_unreadable_as_invalid`)."""
    it = iter(batches)
    while True:
        batch = _unreadable_as_invalid(lambda: next(it, None), label)
        if batch is None:
            return
        yield batch


def _open_source(
    source: Any, fmt: str | None, tag: str, time: str, value: str, quality: str | None,
    chunk_rows: int,
) -> tuple[str, int | None, Iterator[pa.RecordBatch]]:
    """(label, total rows if known, batches holding only the wanted columns)."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise InvalidArgumentError(f"no file {path!r} to import (the current folder is "
                                       f"{os.getcwd()!r})")
        fmt = fmt or _format_of(path)
        label = os.path.basename(path)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            names = pq.ParquetFile(path).schema_arrow
            cols = _pick_columns(names.names, label, tag, time, value, quality)
            # Text columns stay dictionary-encoded until a batch is cut to a bounded size: a few
            # kB of Parquet can hold millions of copies of a long string.
            text = [c for c in cols if pa.types.is_string(names.field(c).type)
                    or pa.types.is_large_string(names.field(c).type)]
            pf = pq.ParquetFile(path, read_dictionary=text)
            batches = pf.iter_batches(batch_size=chunk_rows, columns=cols)
            return label, pf.metadata.num_rows, _bounded(batches, label)
        if fmt == "csv":
            return label, None, _csv_batches(path, label, tag, time, value, quality, chunk_rows)
        raise InvalidArgumentError(f"format must be 'csv' or 'parquet', not {fmt!r}")
    table = _as_arrow(source, time)
    cols = _pick_columns(table.column_names, type(source).__name__, tag, time, value, quality)
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
                [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c
                 for c in part.columns],
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


def _pick_columns(
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
    probe = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16),
                           parse_options=parse,
                           convert_options=pacsv.ConvertOptions(include_columns=[]))
    header = probe.schema.names  # the header only: include_columns=[] names every column
    probe.close()
    cols = _pick_columns(header, label, tag, time, value, quality)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=8 << 20),
        parse_options=parse,
        # Read as text: every cell is checked here, so a bad cell rejects one row, not the file.
        convert_options=pacsv.ConvertOptions(
            include_columns=cols,
            column_types=dict.fromkeys(cols, pa.string()), strings_can_be_null=False,
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


def _bar(progress: bool | None, total: int | None, label: str) -> Any:
    from historian.progress import bar

    return bar(progress, total=total, desc=f"importing {label}", unit=" rows", unit_scale=True)


# ---------------------------------------------------------------------------- checking a batch
def _check_batch(
    batch: pa.RecordBatch, row0: int, h: Any, known: set[str], name_errors: dict[str, str],
    define: bool, defined: list[str], *, columns: tuple[str, str, str, str | None],
) -> tuple[pa.Table | None, pa.Table | None]:
    tag_c, time_c, value_c, quality_c = columns
    n = batch.num_rows
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)

    def reject(mask: np.ndarray, why: str, what: Any) -> None:
        free = mask & (reason == None)  # noqa: E711 - elementwise on an object array
        if free.any():
            reason[free] = why
            for i in np.flatnonzero(free).tolist():
                detail[i] = what(i) if callable(what) else what

    # tags: check each distinct name once
    tags = batch.column(batch.schema.get_field_index(tag_c))
    if not (pa.types.is_string(tags.type) or pa.types.is_large_string(tags.type)):
        tags = tags.cast(pa.string()) if not pa.types.is_dictionary(tags.type) else \
            tags.dictionary_decode().cast(pa.string())
    tags = pc.utf8_trim_whitespace(tags)
    enc = pc.dictionary_encode(tags)
    names = enc.dictionary.to_pylist()
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    reject(idx == -1, "empty tag", "the row has no tag name")
    for k, name in enumerate(names):
        if name == "":
            reject(idx == k, "empty tag", "the row has no tag name")
            continue
        if name not in known and name not in name_errors:
            try:
                validate_tag_name(name)
            except HistorianError as exc:
                name_errors[name] = str(exc)
            else:
                if define:
                    h.define(name)
                    known.add(name)
                    defined.append(name)
        if name in name_errors:
            reject(idx == k, "invalid tag name", name_errors[name])
        elif name not in known:
            reject(idx == k, "unknown tag",
                   f"tag {name!r} is not defined: define it with h.define({name!r}, unit=...) "
                   "or import with define=True")

    t_ns, t_why = _parse_times(batch.column(batch.schema.get_field_index(time_c)))
    for i, why in t_why.items():
        if reason[i] is None:
            reason[i], detail[i] = why
    v, v_why = _parse_values(batch.column(batch.schema.get_field_index(value_c)))
    if not v.flags.writeable:
        v = v.copy()
    if quality_c is not None and quality_c in batch.schema.names:
        qual, q_why = _parse_quality(batch.column(batch.schema.get_field_index(quality_c)))
    else:
        qual, q_why = np.zeros(n, np.uint32), {}
    for i, why in q_why.items():
        if reason[i] is None:
            reason[i], detail[i] = why
    for i, why in v_why.items():
        if why[0] == "empty value" and i not in q_why and qual[i] & 0x80000000:
            v[i] = np.nan  # a Bad point without a value (e.g. Bad_NoCommunication) is history too
            continue
        if reason[i] is None:
            reason[i], detail[i] = why

    bad = reason != None  # noqa: E711
    good_idx = np.flatnonzero(~bad)
    good = None
    if good_idx.size:
        take = pa.array(good_idx)
        good = pa.table({
            "tag": tags.take(take),
            "time": pa.array(t_ns[good_idx], pa.int64()).cast(TIME_TYPE),
            "value": pa.array(v[good_idx], pa.float64()),
            "quality": pa.array(qual[good_idx], pa.uint32()),
        })
    rejected = None
    if bad.any():
        bad_idx = np.flatnonzero(bad)
        take = pa.array(bad_idx)

        def raw(col: str | None) -> pa.Array:
            if col is None or col not in batch.schema.names:
                return pa.nulls(bad_idx.size, pa.string())
            arr = batch.column(batch.schema.get_field_index(col)).take(take)
            if pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_decode()
            return pc.utf8_slice_codeunits(arr.cast(pa.string()), 0, _CELL_SHOWN)

        rejected = pa.table(
            [
                pa.array(bad_idx + row0, pa.int64()),
                raw(tag_c), raw(time_c), raw(value_c), raw(quality_c),
                pa.array(reason[bad_idx].tolist(), pa.string()),
                pa.array([d if len(d) <= 2 * _CELL_SHOWN else d[: 2 * _CELL_SHOWN] + "..."
                          for d in detail[bad_idx].tolist()], pa.string()),
            ],
            schema=_REJECTED_SCHEMA,
        )
    return good, rejected


def _is_text(arr: pa.Array) -> bool:
    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def _parse_times(arr: pa.Array) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """int64 ns per row and {row: (reason, detail)} for the rows that are not times."""
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        if pa.types.is_date(arr.type):
            arr = arr.cast(pa.timestamp("s"))
        ns = pc.cast(arr, pa.timestamp("ns", arr.type.tz)).cast(pa.int64())
        return _with_nulls(ns, "time")
    if pa.types.is_integer(arr.type):
        return _epoch_rows(*_with_nulls(arr.cast(pa.int64()), "time"))
    if pa.types.is_floating(arr.type):
        floats = ("unparseable time", "time is a float; use int nanoseconds or ISO 8601 text")
        return np.zeros(n, np.int64), dict.fromkeys(range(n), floats)
    if _is_text(arr):
        text = pc.utf8_trim_whitespace(arr)
        # with a zone / without one (= UTC) / int nanoseconds
        for ty in (TIME_TYPE, pa.timestamp("ns"), pa.int64()):
            try:
                got = _with_nulls(pc.cast(text, ty).cast(pa.int64()), "time")
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            return _epoch_rows(*got) if ty == pa.int64() else got
        values = text.to_pylist()
    else:
        values = arr.to_pylist()
    out = np.zeros(n, np.int64)
    why: dict[int, tuple[str, str]] = {}
    for i, s in enumerate(values):
        if s is None or s == "":
            why[i] = ("empty time", "the row has no time")
            continue
        try:
            out[i] = int(s) if isinstance(s, str) and s.lstrip("-").isdigit() else to_ns(s)
        except (HistorianError, ValueError, TypeError, OverflowError):
            why[i] = ("unparseable time",
                      f"time {str(s)[:60]!r} is not a time; use ISO 8601 such as "
                      "'2026-01-31T12:00:00Z' (no zone means UTC) or int nanoseconds")
    return out, why


def _epoch_rows(
    ns: np.ndarray, why: dict[int, tuple[str, str]]
) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """Reject int times that look like epoch seconds/ms/us (historian.model.times.user_ns)."""
    for i, unit in enumerate(epoch_like(ns)):
        if unit is not None and i not in why:
            why[i] = ("unparseable time",
                      f"time {int(ns[i])} looks like epoch {unit}, but int times are "
                      "nanoseconds; write ISO 8601 (such as '2026-01-31T12:00:00Z') or "
                      "nanoseconds")  # fmt: skip
    return ns, why


def _with_nulls(ns: pa.Array, what: str) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    why: dict[int, tuple[str, str]] = {}
    if ns.null_count:
        nulls = np.flatnonzero(ns.is_null().to_numpy(zero_copy_only=False))
        why = dict.fromkeys(nulls.tolist(), (f"empty {what}", f"the row has no {what}"))
        ns = ns.fill_null(0)
    return np.asarray(ns.to_numpy(zero_copy_only=False), dtype=np.int64), why


def _parse_values(arr: pa.Array) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_boolean(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_floating(
        arr.type
    ) or pa.types.is_decimal(arr.type) or pa.types.is_null(arr.type):
        v = arr.cast(pa.float64())
        why: dict[int, tuple[str, str]] = {}
        if v.null_count:
            nulls = np.flatnonzero(v.is_null().to_numpy(zero_copy_only=False))
            why = dict.fromkeys(nulls.tolist(), _EMPTY_VALUE)
            v = v.fill_null(np.nan)
        return np.asarray(v.to_numpy(zero_copy_only=False), dtype=np.float64), why
    if _is_text(arr):
        text = pc.utf8_trim_whitespace(arr)
        try:
            v = pc.cast(text, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return np.asarray(v.fill_null(np.nan).to_numpy(zero_copy_only=False), np.float64), {
                i: _EMPTY_VALUE for i in np.flatnonzero(v.is_null().to_numpy(
                    zero_copy_only=False)).tolist()}
        values = text.to_pylist()
    else:
        values = arr.to_pylist()
    out = np.zeros(n, np.float64)
    why = {}
    for i, s in enumerate(values):
        if s is None or s == "":
            why[i] = _EMPTY_VALUE
            out[i] = np.nan
            continue
        try:
            if isinstance(s, bytes):
                raise TypeError(s)
            out[i] = float(s)
        except (TypeError, ValueError):
            why[i] = ("non-numeric value",
                      f"value {str(s)[:40]!r} is not a number; fix the cell, or give the row a Bad "
                      "quality if it has no value")
    return out, why


_EMPTY_VALUE = ("empty value", "the row has no value; a row without a value needs a Bad quality "
                "(e.g. Bad_NoCommunication)")


def _parse_quality(arr: pa.Array) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_integer(arr.type) and not arr.null_count:
        a = np.asarray(arr.to_numpy(zero_copy_only=False))
        if a.size == 0 or (a.min() >= 0 and a.max() <= _UINT32_MAX):
            return a.astype(np.uint32), {}
    out = np.zeros(n, np.uint32)
    why: dict[int, tuple[str, str]] = {}
    cache: dict[Any, int | None] = {}
    for i, s in enumerate(arr.to_pylist()):
        if s is None or (isinstance(s, str) and not s.strip()):
            continue  # an empty quality is Good
        code = cache.get(s, -1)
        if code == -1:
            code = cache[s] = _quality_code(s)
        if code is None:
            why[i] = ("invalid quality",
                      f"quality {str(s)[:40]!r} is not an OPC UA StatusCode; use an integer "
                      "(0 = Good, 0x40000000 Uncertain, 0x80000000 Bad) or a name such as "
                      "'Good' or 'Bad_NoCommunication'")
        else:
            out[i] = code
    return out, why


def _quality_code(s: Any) -> int | None:
    if isinstance(s, bool):
        return None
    if isinstance(s, int | float):
        return int(s) if float(s).is_integer() and 0 <= s <= _UINT32_MAX else None
    if not isinstance(s, str):
        return None
    text = s.strip()
    try:
        c = int(text, 0)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            try:
                return q.code(text)
            except KeyError:
                return None
        return int(f) if f.is_integer() and 0 <= f <= _UINT32_MAX else None
    return c if 0 <= c <= _UINT32_MAX else None
