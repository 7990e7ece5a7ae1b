"""The read service commands: ``serve`` (Arrow Flight SQL), ``token`` and ``audit``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from historian.cli._common import (
    AddCommand,
    CliError,
    _out,
    _sigterm_as_interrupt,
    _status,
    _table,
)
from historian.errors import HistorianError

__all__ = ["cmd_audit", "cmd_serve", "cmd_token", "register"]


def _token_store(args: argparse.Namespace) -> str:
    store = args.store or os.environ.get("HISTORIAN_STORE")
    if not store:
        raise CliError("name the store: --store STORE (or set HISTORIAN_STORE)")
    if not os.path.isdir(store):
        raise CliError(f"no store at {store!r} (a store is a folder made by historian.open)")
    return str(store)


def cmd_serve(args: argparse.Namespace) -> int:
    import threading

    if not args.listen and not args.http:
        raise CliError("give --listen HOST:PORT (Flight SQL), --http HOST:PORT (the trend page) "
                       "or both")  # fmt: skip
    servers: list[Any] = []
    try:
        if args.listen:
            servers.append(_flight_server(args))
        if args.http:
            from historian.gateway.webserver import make_http_server

            web = make_http_server(args.store, args.http, tls_cert=args.tls_cert,
                                   tls_key=args.tls_key,
                                   insecure_loopback=args.insecure_loopback)  # fmt: skip
            servers.append(web)
            _status(f"serving the trend page of {args.store} at {web.url} (Ctrl-C stops)")
        threads = [threading.Thread(target=s.serve, name="historian-serve", daemon=True)
                   for s in servers]  # fmt: skip
        with _sigterm_as_interrupt():
            for thread in threads:
                thread.start()
            while all(thread.is_alive() for thread in threads):
                threads[0].join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.close()
    return 0


def _flight_server(args: argparse.Namespace) -> Any:
    from historian.gateway.serve import make_server

    options: dict[str, Any] = {"timeout": args.timeout, "memory_limit": args.memory_limit,
                               "max_result_bytes": args.max_result_bytes}  # fmt: skip
    server = make_server(args.store, args.listen, tls_cert=args.tls_cert, tls_key=args.tls_key,
                         insecure_loopback=args.insecure_loopback, **options)  # fmt: skip
    scheme = "grpc" if args.insecure_loopback else "grpc+tls"
    host = args.listen.rsplit(":", 1)[0]
    _status(f"serving {args.store} over Flight SQL at {scheme}://{host}:{server.port} "
            "(Ctrl-C stops)")  # fmt: skip
    return server


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


def register(add: AddCommand) -> None:
    """Add the commands of this module to the ``historian`` parser."""
    p = add("serve", "Serve the store read-only to IT over Arrow Flight SQL and/or as a trend "
            "page in the browser (TLS, bearer tokens, read scopes, audit log).",
            "historian serve it.hist --listen 0.0.0.0:8815 --http 0.0.0.0:8443 --tls-cert "
            "server.pem --tls-key server.key", cmd_serve)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="Flight SQL: HOST:PORT to listen on ([::]:PORT for IPv6)")  # fmt: skip
    p.add_argument("--http", metavar="HOST:PORT",
                   help="the trend page (HTTPS, same certificate and tokens): HOST:PORT to "
                   "listen on; open https://HOST:PORT/ in a browser")  # fmt: skip
    p.add_argument("--tls-cert", help="PEM certificate chain of the server")
    p.add_argument("--tls-key", help="PEM private key of the server")
    p.add_argument(
        "--insecure-loopback",
        action="store_true",
        help="plaintext, for tests on 127.0.0.1 only (refused on any other address)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a query may run (60)")
    p.add_argument("--memory-limit", default="2GB", help="DuckDB memory per query (2GB)")
    p.add_argument("--max-result-bytes", type=int, default=256 * 2**20,
                   help="Arrow bytes a result may hold (256 MiB)")  # fmt: skip

    p = add(
        "token",
        "Make, list or revoke the bearer tokens of the read service (historian serve).",
        "historian token add grafana --tags 'TIC-*' 'FIC-1*' --store it.hist",
        cmd_token,
    )
    p.add_argument("action", choices=("add", "list", "revoke"))
    p.add_argument("name", nargs="?", help="token name (add, revoke)")
    p.add_argument(
        "--tags",
        nargs="+",
        metavar="PATTERN",
        help="read scope: tag patterns (fnmatch: * ? [..]; '*' = every tag)",
    )
    p.add_argument("--store", help="store folder (default: $HISTORIAN_STORE)")

    p = add(
        "audit",
        "Print the read service's audit log and check its hash chain (exit 1 if broken).",
        "historian audit it.hist --since now-1h --format table",
        cmd_audit,
    )
    p.add_argument("store")
    p.add_argument("--since", help="ISO time or now-1h (default: everything)")
    p.add_argument(
        "--format", choices=("table", "json"), default="table", help="table (default) or JSON lines"
    )
