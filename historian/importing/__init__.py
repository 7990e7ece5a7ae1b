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
import time as _time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from historian.errors import InvalidArgumentError
from historian.importing.rows import REJECTED_SCHEMA, check_batch
from historian.importing.sources import guarded, open_source, unreadable_as_invalid
from historian.limits import current
from historian.storage.store import last_ingest_stamp

__all__ = ["ImportReport", "import_history"]

log = logging.getLogger(__name__)


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
    rejected: pa.Table = field(default_factory=REJECTED_SCHEMA.empty_table)
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
            "<tr>"
            + "".join(
                f"<td>{html.escape('' if d[k] is None else str(d[k]))}</td>"
                for k in ("row", "tag", "time", "value", "quality", "detail")
            )
            + "</tr>"
            for d in first
        )
        parts = [
            f"<b>Import of {html.escape(self.source)}</b>: {self.rows:,} rows, "
            f"<b>{self.written:,}</b> written, "
            f"<b>{max(self.rejected_rows, self.rejected.num_rows):,}</b> rejected"
            f" in {self.seconds:.1f} s",
        ]
        if self.defined:
            parts.append(
                f"<br>defined: {html.escape(', '.join(self.defined[:20]))}"
                + (" ..." if len(self.defined) > 20 else "")
            )
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
    label, total, batches = unreadable_as_invalid(
        lambda: open_source(source, format, tag, time, value, quality, chunk_rows), source
    )
    batches = guarded(batches, label)
    report = ImportReport(source=label)
    known = set(h.tags().column("name").to_pylist())
    name_errors: dict[str, str] = {}
    written_tags: set[str] = set()
    rejected: list[pa.Table] = []
    keep = current().max_rejected_rows
    bar = _bar(progress, total, label)
    try:
        for batch in batches:
            good, bad = check_batch(
                batch,
                report.rows,
                h,
                known,
                name_errors,
                define,
                report.defined,
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
        log.info(
            "import of %s: the report keeps the first %d of %d rejected rows "
            "(limits.max_rejected_rows)",
            label,
            report.rejected.num_rows,
            report.rejected_rows,
        )
    if report.rejected_rows:
        log.info(
            "import of %s: %d of %d rows rejected (%s)",
            label,
            report.rejected_rows,
            report.rows,
            ", ".join(f"{n} {r}" for r, n in report.reasons().items()),
        )
    log.info("import of %s: %d rows written in %.1f s", label, report.written, report.seconds)
    return report


def _bar(progress: bool | None, total: int | None, label: str) -> Any:
    from historian.progress import bar

    return bar(progress, total=total, desc=f"importing {label}", unit=" rows", unit_scale=True)
