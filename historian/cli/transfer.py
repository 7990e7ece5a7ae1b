"""The file commands: ``import`` (a long CSV/Parquet file, bad rows rejected one by one) and
``export`` (raw points to Parquet or CSV).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from historian.cli._common import (
    _NO_PROGRESS,
    AddCommand,
    CliError,
    _fmt_int,
    _one_line,
    _open_store,
    _out,
)

if TYPE_CHECKING:
    import argparse

__all__ = ["cmd_export", "cmd_import", "register"]


def _file_format(path: str, given: str | None) -> str:
    if given:
        return given
    low = path.lower()
    for ext, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"),
                     (".csv.gz", "csv"), (".tsv", "csv")):  # fmt: skip
        if low.endswith(ext):
            return fmt
    raise CliError(f"cannot tell the format of {path!r} from its name; use --format csv|parquet")


def cmd_import(args: argparse.Namespace) -> int:
    from historian.errors import InvalidArgumentError, InvalidDataError
    from historian.importing import import_history

    fmt = _file_format(args.file, args.format)
    with _new_store(args.store) as h:
        try:
            report = import_history(
                h, args.file, define=args.define, tag=args.tag_column, time=args.time_column,
                value=args.value_column, quality=args.quality_column, format=fmt,
                progress=False if args.no_progress else None,
            )  # fmt: skip
        except (InvalidArgumentError, InvalidDataError) as exc:
            msg = _one_line(exc).split("; name it with")[0]
            raise CliError(
                f"{msg}; name the columns with --tag-column, --time-column, --value-column"
            ) from exc
    defined = f"; defined {len(report.defined)} new tag(s)" if report.defined else ""
    _out(f"imported {args.file} into {args.store}: {_fmt_int(report.written)} row(s) written, "
         f"{_fmt_int(report.rows - report.written)} rejected, of {_fmt_int(report.rows)}"
         f"{defined}")  # fmt: skip
    rejected = report.rejected
    if rejected.num_rows:
        for reason, count in sorted(report.reasons().items(), key=lambda x: -x[1]):
            _out(f"  {_fmt_int(count):>7}  {reason}")
        line0 = 2 if fmt == "csv" else 1  # CSV: line numbers in the file (header is line 1)
        where = "line" if fmt == "csv" else "row"
        _out("  first rejected rows:")
        shown = rejected.slice(0, args.show_rejected).to_pylist()
        for r in shown:
            cell = {"unparseable time": r.get("time"), "non-numeric value": r.get("value")}
            raw = cell.get(r["reason"])
            _out(f"    {where} {r['row'] + line0}: {r['reason']}"
                 f"{'' if raw is None else f' {raw!r}'} ({r['detail']})")  # fmt: skip
    return 0 if report.written or not report.rows else 1


@contextlib.contextmanager
def _new_store(path: str) -> Iterator[Any]:
    import historian

    with historian.open(path) as h:
        yield h


def cmd_export(args: argparse.Namespace) -> int:
    import pyarrow as pa

    fmt = _file_format(args.out, args.format)
    with _open_store(args.store) as h:
        tags: list[str] | None = None
        if args.tags:
            tags = []
            for item in args.tags:
                for part in item.split(","):
                    part = part.strip()
                    if not part:
                        continue
                    if any(c in part for c in "*?[") or part.startswith("re:"):
                        tags += h.tags(part).column("name").to_pylist()
                    else:
                        tags.append(part)
            if not tags:
                raise CliError(f"--tags {' '.join(args.tags)} matched no tag")
        table = h.read(tags, args.start, args.end)
    out = os.path.abspath(args.out)
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp, compression="zstd")
        else:
            import pyarrow.compute as pc
            import pyarrow.csv as pacsv

            t_str = pc.strftime(table.column("time"), format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(1, pa.field("time", pa.string()), t_str)
            pacsv.write_csv(table, tmp)
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    ntags = len(set(table.column("tag").to_pylist())) if table.num_rows else 0
    _out(f"exported {_fmt_int(table.num_rows)} point(s) of {ntags} tag(s) to {args.out}")
    return 0


def register(add: AddCommand) -> None:
    """Add the commands of this module to the ``historian`` parser."""
    p = add(
        "import",
        "Import a long CSV/Parquet file (tag,time,value[,quality]); bad rows are "
        "rejected one by one.",
        "historian import demo.hist data.csv --define",
        cmd_import,
    )
    p.add_argument("store")
    p.add_argument("file", help="FILE.csv or FILE.parquet")
    p.add_argument("--define", action="store_true", help="define unknown tags (default settings)")
    p.add_argument("--tag-column", default="tag")
    p.add_argument("--time-column", default="time")
    p.add_argument("--value-column", default="value")
    p.add_argument("--quality-column", default="quality", help="used when present")
    p.add_argument("--format", choices=("csv", "parquet"), help="default: from the file name")
    p.add_argument("--show-rejected", type=int, default=10, help="rejected rows to list")
    p.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)

    p = add(
        "export",
        "Export raw points (tag,time,value,quality) to Parquet or CSV.",
        "historian export demo.hist out.parquet --tags 'TIC-*' --start now-1h",
        cmd_export,
    )
    p.add_argument("store")
    p.add_argument("out", help="OUT.parquet or OUT.csv")
    p.add_argument("--tags", nargs="+", help="names or globs (TIC-*), comma-separated or repeated")
    p.add_argument("--start", help="ISO time or now-1h (default: the beginning)")
    p.add_argument("--end", help="ISO time or now (default: the end)")
    p.add_argument("--format", choices=("csv", "parquet"), help="default: from the file name")
