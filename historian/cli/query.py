"""The ``query`` command: SQL over a store (``h.sql``), printed as a table, CSV or JSON.

Parameters are bound (``--param NAME=VALUE``), never pasted into the SQL; CSV output escapes
text cells that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from historian.cli._common import (
    AddCommand,
    CliError,
    _fmt_num,
    _fmt_time,
    _one_line,
    _open_store,
    _out,
    _table,
)
from historian.errors import HistorianError

if TYPE_CHECKING:
    import argparse

__all__ = ["cmd_query", "register"]


def _param_value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not name.isidentifier():
            raise CliError(f"--param {item!r}: use NAME=VALUE, e.g. --param tag=TIC-101.PV")
        params[name] = _param_value(value)
    return params


def _iso_times(table: Any) -> Any:
    """Timestamp columns as ISO 8601 UTC text with every digit of their unit and a ``Z``
    (``2026-11-25T21:08:06.912460000Z`` for ns): the same in csv, json and ``export``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            col = table.column(i).cast(pa.timestamp(field.type.unit, "UTC"))
            text = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(i, pa.field(field.name, pa.string()), text)
    return table


def _print_table(table: Any, fmt: str, limit: int | None) -> None:
    import pyarrow as pa

    if fmt in ("csv", "json"):
        table = _iso_times(table)
    if fmt == "csv":
        import io

        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        sys.stdout.write(buf.getvalue().decode())
        return
    if fmt == "json":
        import json

        rows = table.to_pylist()
        print(json.dumps(rows, default=_json_default, indent=None))
        return
    shown = table if limit is None else table.slice(0, limit)
    cols = []
    for name in shown.column_names:
        col = shown.column(name)
        if pa.types.is_timestamp(col.type):
            ns = col.cast(pa.timestamp("ns", col.type.tz)).cast(pa.int64()).to_pylist()
            cols.append([_fmt_time(x, ms=True) if x is not None else "null" for x in ns])
        elif pa.types.is_floating(col.type):
            cols.append([_fmt_num(x, 6) if x is not None else "null" for x in col.to_pylist()])
        else:
            cols.append(["null" if x is None else str(x) for x in col.to_pylist()])
    rows = [list(r) for r in zip(*cols, strict=True)] if cols else []
    _out(_table(shown.column_names, rows))
    more = ""
    if shown.num_rows < table.num_rows:
        more = f" (first {shown.num_rows} shown; --limit 0 for all)"
    _out(f"{table.num_rows:,} row(s){more}")


def _json_default(x: Any) -> Any:
    import datetime as _dt

    if isinstance(x, _dt.datetime | _dt.date):
        return x.isoformat().replace("+00:00", "Z")
    if isinstance(x, bytes):
        return x.hex()
    return str(x)


def cmd_query(args: argparse.Namespace) -> int:
    params = _parse_params(args.param or [])
    limits = {  # the same engine and limits as h.sql; 0 turns a limit off
        "sql_timeout": args.timeout or None,
        "duckdb_memory_limit": args.memory_limit,
        "sql_max_result_bytes": args.max_result_bytes or None,
    }
    with _open_store(args.store, **limits) as h:
        if not hasattr(h, "sql"):
            raise CliError("this version of historian has no SQL support yet (h.sql)")
        try:
            rel = h.sql(args.sql, params) if params else h.sql(args.sql)
            table = _to_arrow(rel)
        except HistorianError:
            raise
        except Exception as exc:  # the SQL engine's own errors (syntax, binder): one line too
            if not type(exc).__module__.lstrip("_").startswith("duckdb"):
                raise
            raise CliError(_one_line(exc)) from exc
    if args.format == "csv" and not args.no_escape_formulas:
        table = _escape_formulas(table)
    _print_table(table, args.format, args.limit or None)
    return 0


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = r"^[=+\-@\t\r]"


def _escape_formulas(table: Any) -> Any:
    """Text cells that start like a formula (= + - @ TAB CR) get a leading ``'``.

    Only text columns change: numbers stay numbers (a negative number is not a formula).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            continue
        col = table.column(i).cast(pa.string())
        risky = pc.fill_null(pc.match_substring_regex(col, _FORMULA_START), False)
        quoted = pc.binary_join_element_wise(pa.scalar("'"), col, "")
        table = table.set_column(i, field.name, pc.if_else(risky, quoted, col))
    return table


def _to_arrow(rel: Any) -> Any:
    import pyarrow as pa

    if isinstance(rel, pa.Table):
        return rel
    for name in ("to_arrow_table", "arrow", "fetch_arrow_table"):
        fn = getattr(rel, name, None)
        if fn is not None:
            out = fn()
            if isinstance(out, pa.RecordBatchReader):
                out = out.read_all()
            return out
    raise CliError(f"h.sql returned {type(rel).__name__}, which is not a table")


def register(add: AddCommand) -> None:
    """Add the commands of this module to the ``historian`` parser."""
    p = add("query", "Run SQL over a store (table 'points'); parameters are bound, never pasted.",
            "historian query demo.hist 'SELECT count(*) FROM points WHERE tag = $tag' "
            "--param tag=TIC-101.PV\n  (single quotes: in double quotes the shell replaces $tag "
            "before historian sees it)", cmd_query)  # fmt: skip
    p.add_argument("store")
    p.add_argument("sql")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="bind $NAME (repeatable); numbers are passed as numbers",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--limit", type=int, default=100, help="rows shown in table format (0: all)")
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="time limit of the query (default 60; 0: none)",
    )
    p.add_argument(
        "--memory-limit",
        default="2GB",
        metavar="SIZE",
        help="DuckDB memory limit of the query (default 2GB)",
    )
    p.add_argument(
        "--max-result-bytes",
        type=int,
        default=256 * 2**20,
        metavar="BYTES",
        help="result budget in bytes of Arrow data (default 256 MiB; 0: none)",
    )
    p.add_argument(
        "--no-escape-formulas",
        action="store_true",
        help="csv: keep text cells starting with = + - @ TAB CR as they are "
        "(by default they get a leading ' so a spreadsheet shows them as text)",
    )
