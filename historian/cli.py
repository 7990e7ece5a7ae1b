"""The ``historian`` command: demo, sim, collect, browse, info, query, compact, retain, import,
export.

Every command has ``--help`` with an example (``historian demo --help``). Errors raised by the
library (:class:`~historian.errors.HistorianError`) are printed as one line on stderr with exit
code 2; ``--debug`` shows the traceback. ``-v`` logs at INFO, ``-vv`` at DEBUG (the library logs,
the command prints). Heavy modules are imported inside the commands, so ``historian --help`` is
quick.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
historian ...
0
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from historian.errors import HistorianError

__all__ = ["main"]

log = logging.getLogger(__name__)

DEFAULT_DEMO_STORE = "demo.hist"


class CliError(Exception):
    """A usage problem the command reports as one line (exit code 2)."""


# --------------------------------------------------------------------------- output helpers
def _out(text: str = "") -> None:
    print(text, flush=True)


def _fmt_int(n: int | float | None) -> str:
    return "-" if n is None else f"{int(n):,}"


def _fmt_num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if xf != xf:  # NaN
        return "NaN"
    if xf == 0:
        return "0"
    mag = abs(xf)
    if mag >= 1e6 or mag < 1e-3:
        return f"{xf:.{digits - 1}e}"
    return f"{xf:.{max(0, digits - len(str(int(mag))))}f}".rstrip("0").rstrip(".") if mag < 1e4 \
        else f"{xf:.0f}"


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def _fmt_time(ns: int | None, ms: bool = False) -> str:
    if ns is None:
        return "-"
    import datetime as _dt

    d = _dt.datetime.fromtimestamp(ns / 1e9, _dt.UTC)
    text = d.isoformat(timespec="milliseconds" if ms else "seconds")
    return text.replace("+00:00", "Z")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A plain text table; ``align`` per column: 'l' or 'r' (default: l for text, r for numbers)."""
    # Tag units, descriptions and server strings are user/device data: no terminal escapes.
    from historian.acquisition.text import printable

    cells = [[printable(str(c)) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    if not align:
        align = "".join("r" if rows and all(_is_number(r[i]) for r in rows) else "l"
                        for i in range(len(headers)))  # fmt: skip

    def line(vals: Sequence[str]) -> str:
        parts = [v.rjust(w) if a == "r" else v.ljust(w)
                 for v, w, a in zip(vals, widths, align, strict=True)]  # fmt: skip
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _is_number(x: Any) -> bool:
    if isinstance(x, int | float):
        return True
    if isinstance(x, str):
        try:
            float(x.replace(",", ""))
        except ValueError:
            return x in ("-", "")
        return True
    return False


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Stop on SIGTERM like on Ctrl-C (services, ``timeout``, container stops)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
        # Ctrl-C even when started from a shell that ignores SIGINT for background jobs
        previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _open_store(path: str, mode: str = "r", **options: Any) -> Any:
    import historian

    if mode == "r" and not os.path.isdir(path):
        raise CliError(f"no store at {path!r} (a store is a folder made by historian.open)")
    return historian.open(path, mode=mode, **options)


# --------------------------------------------------------------------------- demo
def _prepare_demo_store(path: str, fresh: bool) -> str:
    """'new', 'reused' or 'fresh'; a folder that is not a store is never touched."""
    if not os.path.exists(path):
        return "new"
    looks_like_store = os.path.isdir(path) and (os.path.exists(os.path.join(path, "tags.json"))
                                                or os.path.isdir(os.path.join(path, "points")))
    if not looks_like_store:
        if os.path.isdir(path) and not os.listdir(path):
            return "new"
        raise CliError(
            f"{path!r} exists and is not a historian store; choose another --store path"
        )
    if not fresh:
        return "reused"
    import shutil

    shutil.rmtree(path)
    return "fresh"


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo application lives in :mod:`historian.sim.demo`; this checks the options."""
    store = os.path.abspath(args.store)
    if args.seconds <= 0:
        raise CliError("--seconds must be > 0")
    state = _prepare_demo_store(store, args.fresh)
    _out("historian demo: a simulated reactor served over Modbus TCP and OPC UA on 127.0.0.1,")
    _out(f"collected for {args.seconds:g} s through the Collector into {args.store}")
    _out({
        "new": "  store: new",
        "reused": "  store: exists, reused (new points are added; --fresh starts over)",
        "fresh": "  store: existed, deleted and started fresh (--fresh)",
    }[state])  # fmt: skip
    from historian.sim.demo import DemoOptions, run_demo

    run_demo(store, DemoOptions(seconds=float(args.seconds), secure=not args.insecure,
                                faults=not args.no_faults, progress=not args.no_progress,
                                shown_store=args.store))  # fmt: skip
    return 0


# --------------------------------------------------------------------------- sim / collect / browse
def _status(text: str = "") -> None:
    """A status line for the person at the terminal: stderr, so stdout stays the result."""
    print(text, file=sys.stderr, flush=True)


def cmd_sim(args: argparse.Namespace) -> int:
    from historian.sim import plant_config_toml, serve_plant

    def ready(sim: Any) -> None:
        # Status on stderr, the config alone on stdout: `historian sim --print-config >
        # plant.toml` must leave a valid TOML file.
        _status("simulated plant serving on 127.0.0.1 (Ctrl-C to stop):")
        for proto, url in sim.endpoints.items():
            _status(f"  {proto:<7} {url}")
        if args.secure:
            _status("  OPC UA: Basic256Sha256 SignAndEncrypt; login from HISTORIAN_SIM_USER/"
                    "HISTORIAN_SIM_PASSWORD (default operator/operator-pw)")  # fmt: skip
            _status(f"  certificates in {os.path.dirname(sim.pki['ca_cert'])}")
        if args.print_config:
            _out(plant_config_toml(sim.modbus_port, sim.opcua_port, store=args.store,
                                   secure=args.secure, pki=sim.pki).rstrip())  # fmt: skip
            _out("# end of collector config")

    with _sigterm_as_interrupt():
        try:
            serve_plant(modbus_port=args.modbus_port, opcua_port=args.opcua_port,
                        seconds=args.seconds, secure=args.secure, pki_dir=args.pki,
                        on_ready=ready)  # fmt: skip
        except OSError as exc:
            raise CliError(f"cannot serve the plant: {exc} (a port in use? try --modbus-port/"
                           "--opcua-port, or 0 for free ports)") from None  # fmt: skip
    _status("stopped")
    return 0


def _print_health(health: Any) -> None:
    _out("collector health:")
    for name, s in health.sources.items():
        last = "never" if s.last_good_ns is None else _fmt_time(s.last_good_ns, ms=True)
        err = f"  last error: {s.last_error}" if s.last_error else ""
        _out(f"  {name}: points={_fmt_int(s.points)} errors={s.errors} "
             f"reconnects={s.reconnects} last good value {last}{err}")  # fmt: skip
    _out(f"  written={_fmt_int(health.written_points)} dropped={_fmt_int(health.dropped_points)}"
         f" spooled={_fmt_int(health.spooled_points)} (spool now {_fmt_int(health.spool_points)})"
         f" store_ok={health.store_ok}")  # fmt: skip
    if health.last_store_error:
        _out(f"  last store error: {health.last_store_error}")


def cmd_collect(args: argparse.Namespace) -> int:
    from historian.acquisition import Collector, load_config

    config = load_config(args.config)
    c = Collector(config)
    names = ", ".join(s.name for s in c.sources) or "none"
    until = f"for {args.seconds:g} s" if args.seconds else "until Ctrl-C"
    _out(f"collecting from {len(c.sources)} source(s) ({names}) into {config.store.path} {until}")
    with _sigterm_as_interrupt():
        c.start()
        try:
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            fut = c._future
            while deadline is None or time.monotonic() < deadline:
                if fut is not None and fut.done():
                    break
                left = 0.2 if deadline is None else deadline - time.monotonic()
                time.sleep(min(0.2, max(0.0, left)))
        except KeyboardInterrupt:
            _out("stopping (flushing to the store)...")
        finally:
            try:
                c.stop()
            except HistorianError:
                raise
            except Exception as exc:
                raise CliError(f"collector failed: {_one_line(exc)}") from exc
    health = c.health()
    _print_health(health)
    silent = [name for name, s in health.sources.items() if s.last_good_ns is None]
    for name in silent:
        why = health.sources[name].last_error or "no error was reported"
        _out(f"source {name} never delivered a Good value (never connected?): {why}")
    # Ctrl-C or SIGTERM is the normal way to stop a collector: 0, unless a source gave nothing
    return 1 if silent else 0


def cmd_browse(args: argparse.Namespace) -> int:
    from historian.acquisition import browse, config_stub
    from historian.acquisition.config import (
        DEPRECATED_POLICIES,
        OpcUaSourceConfig,
        check_opcua_security,
    )
    from historian.acquisition.text import printable

    if args.security_policy in DEPRECATED_POLICIES:  # refused even without a certificate
        raise CliError(f"--security-policy {args.security_policy}: deprecated (SHA-1 / RSA "
                       "PKCS#1 v1.5, broken) and refused; use Basic256Sha256 or an Aes policy")
    security = None
    if args.certificate or args.private_key or args.trust or args.username_env:
        from pathlib import Path

        def path(p: str | None) -> Path | None:
            return Path(p).expanduser().resolve() if p else None

        security = OpcUaSourceConfig(
            name="browse", url=args.url, security_policy=args.security_policy,
            security_mode=args.security_mode, certificate=path(args.certificate),
            private_key=path(args.private_key), trust=path(args.trust),
            username_env=args.username_env, password_env=args.password_env,
            allow_insecure=args.allow_insecure, server_uri=args.server_uri,
            server_thumbprint=args.server_thumbprint,
            allow_plaintext_password=args.allow_plaintext_password,
        )  # fmt: skip
        try:
            check_opcua_security(security)
        except ValueError as exc:
            raise CliError(f"browse {args.url}: {exc}") from exc
    from historian.errors import SourceSecurityError

    try:
        found = browse(args.url, security=security, allow_insecure=args.allow_insecure,
                       root=args.root, max_depth=args.max_depth, limit=args.limit)  # fmt: skip
    except SourceSecurityError as exc:
        if security is not None or args.allow_insecure:
            raise
        raise CliError(
            f"{args.url}: SecurityPolicy None is refused by default; pass --certificate, "
            "--private-key and --trust (and --username-env/--password-env) for a secure "
            "connection, or --allow-insecure on a trusted network segment"
        ) from exc
    if args.config_stub:
        _out(config_stub(found, name=args.name, url=args.url, security=security))
        return 0
    rows = [[printable(v.tag), printable(v.data_type), printable(v.node)] for v in found]
    _out(_table(["suggested tag", "type", "node"], rows, "lll"))
    _out(f"{len(found)} variable(s); --config-stub prints a [[opcua]] section to paste")
    return 0


# --------------------------------------------------------------------------- store commands
def cmd_info(args: argparse.Namespace) -> int:
    from historian.errors import CorruptDataError

    try:
        with _open_store(args.store) as h:
            i = h.info()
            tags = h.tags() if i["tags"] is not None else None
    except CorruptDataError as exc:  # damaged beyond opening: exit 1 (2 is a usage error)
        _status(f"problem: {_one_line(exc)}")
        _status(f"the store is damaged; run `historian verify {args.store}` and "
                f"`historian repair {args.store} --dry-run`")  # fmt: skip
        return 1
    points = i["points"]  # each (tag, time) once; rows when too many to count
    bpp = i["bytes_per_point"]
    _out(f"path        {i['path']}")
    _out(f"tags        {_fmt_int(i['tags'])}")
    pending = f" ({_fmt_int(i['points_pending'])} not yet in files)" if i["points_pending"] else ""
    _out(f"points      {_fmt_int(points)}{pending}")
    _out(f"files       {_fmt_int(i['files'])}  ({_fmt_bytes(i['bytes'])})")
    _out(f"bytes/point {'-' if bpp is None else f'{bpp:.2f}'}")
    _out(f"time span   {_fmt_time(i['first_ns'], ms=True)} .. {_fmt_time(i['last_ns'], ms=True)}")
    _out(f"version     {i['version'] if i['version'] is not None else '-'}")
    _out(f"health      {i['health']}")
    if i["problems"]:
        for problem in i["problems"]:
            _status(f"problem: {problem}")
        _status("the store is damaged; see docs/storage.md 'When something is damaged', or run "
                f"`historian verify {args.store}` and `historian repair {args.store} "
                "--dry-run`")  # fmt: skip
        return 1
    if tags is not None and tags.num_rows:
        _out()
        cols = [tags.column(c).to_pylist() for c in ("name", "unit", "kind", "description")]
        rows = [[n, u or "", k, d or ""] for n, u, k, d in zip(*cols, strict=True)]
        shown = rows[: args.max_tags] if args.max_tags else rows
        _out(_table(["tag", "unit", "kind", "description"], shown, "llll"))
        if len(shown) < len(rows):
            _out(f"... and {len(rows) - len(shown)} more (--max-tags 0 lists all)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    import historian

    report = historian.verify(args.store, public_key=args.public_key,
                              hashes=not args.sizes_only)  # fmt: skip
    _out(str(report))
    return 0 if report.ok else 1


def cmd_repair(args: argparse.Namespace) -> int:
    import historian

    report = historian.repair(args.store, dry_run=args.dry_run)
    _out(str(report))
    return 1 if args.dry_run and report.needed else 0


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


def cmd_compact(args: argparse.Namespace) -> int:
    with _open_store(args.store, mode="w") as h:
        before = h.info()
        replaced = h.compact(full=args.full, progress=False if args.no_progress else None)
        after = h.info()
    _out(f"compacted {args.store}: {replaced} file(s) replaced; files {before['files']} -> "
         f"{after['files']}, {_fmt_bytes(before['bytes'])} -> "
         f"{_fmt_bytes(after['bytes'])}")  # fmt: skip
    if replaced:
        _out("replaced files are deleted after a grace period (readers of older snapshots)")
    return 0


def cmd_retain(args: argparse.Namespace) -> int:
    older_than = " ".join(args.older_than)  # `--older-than 1 week` is two words to the shell
    with _open_store(args.store, mode="w") as h:
        dropped = h.retain(older_than)
        info = h.info()
    _out(f"dropped {_fmt_int(dropped)} point(s) older than {older_than}; "
         f"{_fmt_int(info['points'])} left, time span "
         f"{_fmt_time(info['first_ns'])} .. {_fmt_time(info['last_ns'])}")  # fmt: skip
    return 0


# --------------------------------------------------------------------------- import / export
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


def _tls_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"tls_cert": args.tls_cert, "tls_key": args.tls_key, "tls_ca": args.tls_ca}


def cmd_replicate(args: argparse.Namespace) -> int:
    from historian.gateway.replicate import replicate

    if args.diode:
        opts: dict[str, Any] = {"repeat": args.repeat, "resend_s": args.resend,
                                "resend_versions": args.resend_versions}  # fmt: skip
    else:
        opts = {"follow_deletes": args.follow_deletes, **_tls_options(args)}
    st = replicate(args.src, args.dst, once=args.once, max_bytes_per_s=args.max_bytes_per_s,
                   poll_s=args.poll, status_every_s=args.status_every, diode=args.diode,
                   **opts)  # fmt: skip
    _out(f"{args.dst} at version {st.replicated_version} of {st.source_version} "
         f"({st.versions_behind} behind); {st.files_sent} file(s), "
         f"{_fmt_int(st.bytes_sent)} bytes sent")  # fmt: skip
    return 0 if st.versions_behind == 0 or not args.once else 1


def cmd_receive(args: argparse.Namespace) -> int:
    from historian.gateway.receive import receive

    if args.diode:
        from historian.gateway.diode import DiodeReceiver

        r = DiodeReceiver(args.store, args.diode)
        try:
            r.serve_forever(status_every_s=args.status_every)
        except KeyboardInterrupt:
            pass
        finally:
            r.close()
        return 0
    if not args.listen:
        raise CliError("give --listen HOST:PORT (TLS) or --diode udp://HOST:PORT")
    if not (args.tls_cert and args.tls_key and args.tls_ca):
        raise CliError("--listen needs --tls-cert, --tls-key and --tls-ca (the CA of the senders' "
                       "client certificates)")  # fmt: skip
    receive(args.store, args.listen, cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_ca)
    return 0


# --------------------------------------------------------------------------- read service
def _token_store(args: argparse.Namespace) -> str:
    store = args.store or os.environ.get("HISTORIAN_STORE")
    if not store:
        raise CliError("name the store: --store STORE (or set HISTORIAN_STORE)")
    if not os.path.isdir(store):
        raise CliError(f"no store at {store!r} (a store is a folder made by historian.open)")
    return str(store)


def cmd_serve(args: argparse.Namespace) -> int:
    import threading

    from historian.gateway.serve import make_server

    options: dict[str, Any] = {"timeout": args.timeout, "memory_limit": args.memory_limit,
                               "max_result_bytes": args.max_result_bytes}  # fmt: skip
    server = make_server(args.store, args.listen, tls_cert=args.tls_cert, tls_key=args.tls_key,
                         insecure_loopback=args.insecure_loopback, **options)  # fmt: skip
    scheme = "grpc" if args.insecure_loopback else "grpc+tls"
    host = args.listen.rsplit(":", 1)[0]
    _status(f"serving {args.store} over Flight SQL at {scheme}://{host}:{server.port} "
            "(Ctrl-C stops)")  # fmt: skip
    stopper = threading.Thread(target=server.serve, name="historian-serve", daemon=True)
    try:
        with _sigterm_as_interrupt():
            stopper.start()
            while stopper.is_alive():
                stopper.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from historian.gateway.tokens import TokenFile

    tokens = TokenFile(_token_store(args))
    if args.action == "add":
        if not args.name or not args.tags:
            raise CliError("token add needs NAME and --tags PATTERN... (e.g. --tags 'TIC-*')")
        secret = tokens.add(args.name, [t for item in args.tags for t in item.split(",") if t])
        _out(secret)
        _status(f"token {args.name!r} made; it is shown only now: keep it in a secret store")
    elif args.action == "revoke":
        if not args.name:
            raise CliError("token revoke needs the NAME of the token")
        tokens.revoke(args.name)
        _status(f"token {args.name!r} revoked")
    else:
        rows = [(t.name, " ".join(t.tags), t.created, t.revoked or "") for t in tokens.load()]
        _out(_table(("name", "tags", "created", "revoked"), rows))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import datetime as _dt
    import json

    from historian.gateway.audit import AuditLog

    if not os.path.isdir(args.store):
        raise CliError(f"no store at {args.store!r} (a store is a folder made by historian.open)")
    audit = AuditLog(args.store)
    since = None
    if args.since:
        from historian.model.times import to_ns

        since = _dt.datetime.fromtimestamp(to_ns(args.since) / 1e9, _dt.UTC)
    records = audit.records(since)
    if args.format == "json":
        for rec in records:
            _out(json.dumps(rec, default=str))
    else:
        rows = [(r["time"][:23], r.get("token") or "-", r.get("peer") or "",
                 f"{r.get('method')}/{r.get('command') or ''}",
                 "REFUSED: " + str(r.get("reason")) if r.get("refused") else "ok",
                 "" if r.get("rows") is None else r["rows"], r.get("ms"),
                 (r.get("sql") or "")[:60] + (f" {r['params']}" if r.get("params") else ""))
                for r in records]  # fmt: skip
        _out(_table(("time", "token", "peer", "call", "result", "rows", "ms", "sql"), rows))
    try:
        n = audit.verify()
    except HistorianError as exc:
        print(f"historian audit: the log is damaged: {exc}", file=sys.stderr)
        return 1
    _status(f"{n} lines, hash chain intact")
    return 0


# --------------------------------------------------------------------------- parser
_NO_PROGRESS = ("no progress bar (also HISTORIAN_PROGRESS=0; there is none anyway when stderr is "
                "not a terminal)")  # fmt: skip
_COMMANDS: list[tuple[str, str, str, Callable[[argparse.Namespace], int]]] = []


def _add(sub: Any, name: str, help_: str, example: str, func: Callable[[argparse.Namespace], int],
         parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:  # fmt: skip
    p = sub.add_parser(
        name, help=help_, description=help_, epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents,
    )
    p.set_defaults(func=func, command=name)
    _COMMANDS.append((name, help_, example, func))
    return p


def _common(default_verbose: Any, default_debug: Any) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=default_verbose,
                        help="log at INFO (-v) or DEBUG (-vv)")  # fmt: skip
    common.add_argument("--debug", action="store_true", default=default_debug,
                        help="show tracebacks of errors")  # fmt: skip
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``historian`` command."""
    from historian import __version__

    common = _common(0, False)
    after = _common(argparse.SUPPRESS, argparse.SUPPRESS)  # -v/--debug after the command too
    parser = argparse.ArgumentParser(
        prog="historian",
        description="A time-series historian for industrial data: collect (Modbus, OPC UA), "
                    "qualify, store in open Parquet, summarise and correlate.",
        epilog="example:\n  historian demo\n\n'historian COMMAND --help' shows the options of "
               "a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"historian {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _COMMANDS.clear()

    def add(name: str, help_: str, example: str, func: Callable[[argparse.Namespace], int]) -> Any:
        return _add(sub, name, help_, example, func, [after])

    p = add("demo", "Run the simulated plant, collect it over Modbus TCP and OPC UA, and report.",
            "historian demo --seconds 20 --store demo.hist", cmd_demo)  # fmt: skip
    p.add_argument("--store", default=DEFAULT_DEMO_STORE,
                   help=f"store folder (default ./{DEFAULT_DEMO_STORE}; an existing store is "
                        "reused: points are added)")  # fmt: skip
    p.add_argument("--fresh", action="store_true",
                   help="delete an existing store at --store first (only a historian store)")
    p.add_argument("--seconds", type=float, default=20.0, help="how long to collect (default 20)")
    p.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)
    p.add_argument("--no-faults", action="store_true",
                   help="do not inject sensor faults (spike, sensor failure, stuck, silence)")
    p.add_argument("--insecure", action="store_true",
                   help="OPC UA without security (default: Basic256Sha256 SignAndEncrypt)")

    p = add("sim", "Serve the simulated plant (Modbus TCP + OPC UA on 127.0.0.1) until Ctrl-C.",
            "historian sim --print-config > plant.toml", cmd_sim)  # fmt: skip
    p.add_argument("--modbus-port", type=int, default=5020, help="default 5020 (0: a free port)")
    p.add_argument("--opcua-port", type=int, default=4840, help="default 4840 (0: a free port)")
    p.add_argument("--secure", action="store_true",
                   help="OPC UA Basic256Sha256 SignAndEncrypt with generated certificates")
    p.add_argument("--pki", help="folder for the generated certificates (default: a temp folder)")
    p.add_argument("--print-config", action="store_true",
                   help="print a collector TOML config matching the servers")
    p.add_argument("--store", default="plant.hist", help="store path put in the printed config")
    p.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)

    p = add("collect", "Run the collector of a TOML config until Ctrl-C or --seconds.",
            "historian collect plant.toml --seconds 60", cmd_collect)  # fmt: skip
    p.add_argument("config", help="collector config (TOML, see docs/acquisition.md)")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop cleanly after N seconds of collection (counted once every tag is "
                   "defined and the sources started)")

    p = add("browse", "List the variables of an OPC UA server (and print a config stub).",
            "historian browse opc.tcp://127.0.0.1:4840 --allow-insecure --config-stub", cmd_browse)
    p.add_argument("url", help="opc.tcp://host:port[/path]")
    p.add_argument("--config-stub", action="store_true", help="print a [[opcua]] TOML section")
    p.add_argument("--name", default="server", help="source name in the config stub")
    p.add_argument("--allow-insecure", action="store_true", help="allow SecurityPolicy None")
    p.add_argument("--security-policy", default="Basic256Sha256")
    p.add_argument("--security-mode", default="SignAndEncrypt", choices=("Sign", "SignAndEncrypt"))
    p.add_argument("--certificate", help="client certificate (DER or PEM)")
    p.add_argument("--private-key", help="client private key (PEM)")
    p.add_argument("--trust", help="folder of trusted server/CA certificates")
    p.add_argument("--username-env", help="environment variable holding the user name")
    p.add_argument("--password-env", help="environment variable holding the password")
    p.add_argument("--server-uri", help="pin: the server's expected ApplicationUri")
    p.add_argument("--server-thumbprint", help="pin: SHA-256 thumbprint of the server certificate")
    p.add_argument("--allow-plaintext-password", action="store_true",
                   help="send the password even where the wire would carry it readable")
    p.add_argument("--root", default="i=85", help="node to browse from (default Objects, i=85)")
    p.add_argument("--max-depth", type=int, default=10)
    p.add_argument("--limit", type=int, default=10_000)

    p = add("info", "Show a store: path, tags, points, files, bytes/point, time span.",
            "historian info demo.hist", cmd_info)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--max-tags", type=int, default=50, help="tags to list (0: all; default 50)")

    p = add("verify", "Check the hash chain of commits and every file's size and SHA-256; "
            "exit 1 naming the first break (version, file, what differs).",
            "historian verify demo.hist --public-key chain.pub", cmd_verify)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--public-key", metavar="PEM",
                   help="Ed25519 public key (PEM file, or env:NAME) the commits must be signed "
                        "with")  # fmt: skip
    p.add_argument("--sizes-only", action="store_true",
                   help="check file sizes, not SHA-256 (fast; misses same-size rewrites)")

    p = add("repair", "Rebuild what can be rebuilt (damaged newest commit, lost log, files lost "
            "from the log, damaged WAL batches) into a new version; evidence goes to "
            "quarantine/.", "historian repair demo.hist --dry-run", cmd_repair)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--dry-run", action="store_true",
                   help="report what was found and what would be done; change nothing "
                        "(exit 1 when a repair is needed)")  # fmt: skip

    p = add("query", "Run SQL over a store (table 'points'); parameters are bound, never pasted.",
            "historian query demo.hist 'SELECT count(*) FROM points WHERE tag = $tag' "
            "--param tag=TIC-101.PV\n  (single quotes: in double quotes the shell replaces $tag "
            "before historian sees it)", cmd_query)  # fmt: skip
    p.add_argument("store")
    p.add_argument("sql")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="bind $NAME (repeatable); numbers are passed as numbers")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--limit", type=int, default=100, help="rows shown in table format (0: all)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="time limit of the query (default 60; 0: none)")
    p.add_argument("--memory-limit", default="2GB", metavar="SIZE",
                   help="DuckDB memory limit of the query (default 2GB)")
    p.add_argument("--max-result-bytes", type=int, default=256 * 2**20, metavar="BYTES",
                   help="result budget in bytes of Arrow data (default 256 MiB; 0: none)")
    p.add_argument("--no-escape-formulas", action="store_true",
                   help="csv: keep text cells starting with = + - @ TAB CR as they are "
                   "(by default they get a leading ' so a spreadsheet shows them as text)")

    p = add("compact", "Merge small files and resolve duplicates (safe while readers run).",
            "historian compact demo.hist --full", cmd_compact)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--full", action="store_true", help="rewrite every day with 2+ files")
    p.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)

    p = add("retain", "Drop points older than an age or a time (safe while readers run).",
            "historian retain demo.hist --older-than 30d", cmd_retain)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--older-than", required=True, nargs="+", metavar="AGE|TIME",
                   help="an age (30d, 12h, '1 week', 1 week) or a time (ISO)")

    p = add("import", "Import a long CSV/Parquet file (tag,time,value[,quality]); bad rows are "
            "rejected one by one.", "historian import demo.hist data.csv --define", cmd_import)
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

    p = add("serve", "Serve the store read-only to IT over Arrow Flight SQL (TLS, bearer tokens, "
            "read scopes, audit log).",
            "historian serve it.hist --listen 0.0.0.0:8815 --tls-cert server.pem --tls-key "
            "server.key", cmd_serve)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--listen", required=True, help="HOST:PORT to listen on ([::]:PORT for IPv6)")
    p.add_argument("--tls-cert", help="PEM certificate chain of the server")
    p.add_argument("--tls-key", help="PEM private key of the server")
    p.add_argument("--insecure-loopback", action="store_true",
                   help="plaintext, for tests on 127.0.0.1 only (refused on any other address)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a query may run (60)")
    p.add_argument("--memory-limit", default="2GB", help="DuckDB memory per query (2GB)")
    p.add_argument("--max-result-bytes", type=int, default=256 * 2**20,
                   help="Arrow bytes a result may hold (256 MiB)")  # fmt: skip

    p = add("token", "Make, list or revoke the bearer tokens of the read service "
            "(historian serve).",
            "historian token add grafana --tags 'TIC-*' 'FIC-1*' --store it.hist", cmd_token)
    p.add_argument("action", choices=("add", "list", "revoke"))
    p.add_argument("name", nargs="?", help="token name (add, revoke)")
    p.add_argument("--tags", nargs="+", metavar="PATTERN",
                   help="read scope: tag patterns (fnmatch: * ? [..]; '*' = every tag)")
    p.add_argument("--store", help="store folder (default: $HISTORIAN_STORE)")

    p = add("audit", "Print the read service's audit log and check its hash chain (exit 1 if "
            "broken).", "historian audit it.hist --since now-1h --format table", cmd_audit)
    p.add_argument("store")
    p.add_argument("--since", help="ISO time or now-1h (default: everything)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table (default) or JSON lines")

    p = add("export", "Export raw points (tag,time,value,quality) to Parquet or CSV.",
            "historian export demo.hist out.parquet --tags 'TIC-*' --start now-1h", cmd_export)
    p.add_argument("store")
    p.add_argument("out", help="OUT.parquet or OUT.csv")
    p.add_argument("--tags", nargs="+", help="names or globs (TIC-*), comma-separated or repeated")
    p.add_argument("--start", help="ISO time or now-1h (default: the beginning)")
    p.add_argument("--end", help="ISO time or now (default: the end)")
    p.add_argument("--format", choices=("csv", "parquet"), help="default: from the file name")

    p = add("replicate", "Push a store's committed files and commit log to a read-only copy "
            "(a folder, s3://, or a receiver tls://HOST:PORT) and keep following it.",
            "historian replicate ot.hist tls://it-gw:7443 --tls-cert ot.pem --tls-key ot.key "
            "--tls-ca ca.pem", cmd_replicate)  # fmt: skip
    p.add_argument("src", help="the source (OT) store")
    p.add_argument("dst", help="a folder, s3://bucket/prefix, or tls://HOST:PORT")
    p.add_argument("--once", action="store_true", help="catch up and stop (default: follow)")
    p.add_argument("--follow-deletes", action="store_true",
                   help="delete from the copy the files the source deleted after compaction or "
                        "retention (default: the copy keeps them, so its old versions stay "
                        "readable)")  # fmt: skip
    p.add_argument("--max-bytes-per-s", type=float, metavar="N",
                   help="bandwidth cap of data files sent (default: none)")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS",
                   help="how often to look for new commits when following (default 1)")
    p.add_argument("--status-every", type=float, default=60.0, metavar="SECONDS",
                   help="log lag and rate at INFO this often (default 60; use -v to see it)")
    p.add_argument("--tls-cert", metavar="PEM", help="tls://: this sender's client certificate")
    p.add_argument("--tls-key", metavar="PEM", help="tls://: its private key")
    p.add_argument("--tls-ca", metavar="PEM", help="tls://: the CA that signed the receiver")
    p.add_argument("--diode", action="store_true",
                   help="DST is udp://HOST:PORT behind a data diode: no return channel")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="--diode: send every datagram N times (default 1)")
    p.add_argument("--resend", type=float, default=10.0, metavar="SECONDS",
                   help="--diode: resend the newest --resend-versions this often (default 10)")
    p.add_argument("--resend-versions", type=int, default=100, metavar="N",
                   help="--diode: how many of the newest versions each resend covers "
                        "(default 100)")  # fmt: skip

    p = add("receive", "Accept pushes from `historian replicate` into a read-only copy: TLS 1.3, "
            "client certificates required; it never serves data.",
            "historian receive it.hist --listen 0.0.0.0:7443 --tls-cert it.pem --tls-key it.key "
            "--tls-ca ca.pem", cmd_receive)  # fmt: skip
    p.add_argument("store", help="the copy (a folder or s3://); created at the first push")
    p.add_argument("--listen", metavar="HOST:PORT", help="TLS: address to listen on")
    p.add_argument("--diode", metavar="udp://HOST:PORT",
                   help="receive from a data diode on this UDP address instead (no TLS, nothing "
                        "sent back)")  # fmt: skip
    p.add_argument("--status-every", type=float, default=60.0, metavar="SECONDS",
                   help="--diode: log the missing versions this often (default 60)")
    p.add_argument("--tls-cert", metavar="PEM", help="this receiver's server certificate")
    p.add_argument("--tls-key", metavar="PEM", help="its private key")
    p.add_argument("--tls-ca", metavar="PEM",
                   help="the CA whose client certificates may push (all others are refused)")
    return parser


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)  # fmt: skip
    if verbose < 2:  # the protocol libraries are chatty (e.g. a certificate without DNS names)
        for name in ("asyncua", "pymodbus"):
            logging.getLogger(name).setLevel(logging.ERROR if verbose <= 0 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``historian`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    _setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except (HistorianError, CliError) as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"historian {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `historian query ... | head`
        with contextlib.suppress(Exception):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
