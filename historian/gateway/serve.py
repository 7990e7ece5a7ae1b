"""The read service: Arrow Flight SQL over TLS, bearer tokens, read scopes, an audit log.

``historian serve STORE --listen HOST:PORT --tls-cert CERT --tls-key KEY`` (or
:func:`make_server`) answers Flight SQL clients (ADBC, JDBC, Grafana's Flight SQL data source)
with the rows of ``h.sql`` over one store, for IT, without a write path:

- **Commands**: ``CommandStatementQuery``; prepared statements (the ``CreatePreparedStatement``
  and ``ClosePreparedStatement`` actions, ``CommandPreparedStatementQuery``, bound parameters
  through ``DoPut``, one row of parameters per execution); ``CommandGetTables``,
  ``CommandGetTableTypes``, ``CommandGetCatalogs``, ``CommandGetDbSchemas``,
  ``CommandGetSqlInfo``. ``SELECT 1`` works as a probe. Everything else (updates, ingestion,
  Substrait plans, transactions, other actions, ``DoExchange``, a ``DoPut`` that is not bound
  parameters) is refused (``CloseSession``, sent by clients as they leave, is a no-op: the
  service keeps no sessions): ``PERMISSION_DENIED`` for a write, ``UNIMPLEMENTED`` otherwise.
- **Sandbox**: every SQL text runs through :class:`~historian.query.sql.SqlEngine` exactly as
  ``h.sql`` runs it (one validated SELECT, a fresh locked-down DuckDB per query, the time,
  memory and result limits); a refused or failed query is ``INVALID_ARGUMENT`` with the reason.
- **Authentication**: every call carries ``authorization: Bearer hist_...`` (a token made by
  ``historian token add``); no token, a wrong one or a revoked one is ``UNAUTHENTICATED``. The
  token file is read at every call, so ``historian token revoke`` takes effect at once.
- **Scope**: the token's tag patterns filter the snapshot before the SQL runs
  (:mod:`historian.gateway.tokens`); a result ticket or prepared statement is bound to the
  token that made it.
- **Audit**: every call, accepted or refused, is a line of :mod:`historian.gateway.audit`.
- **TLS** by default; plaintext only with ``insecure_loopback=True`` on a loopback address.

Examples
--------
>>> import historian, tempfile
>>> from historian.gateway.serve import make_server
>>> store = tempfile.mkdtemp()
>>> historian.open(store).close()
>>> server = make_server(store, "127.0.0.1:0", insecure_loopback=True)
>>> server.port > 0
True
>>> server.close()
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from historian.errors import HistorianError, InvalidArgumentError, QueryError
from historian.gateway import flightsql_catalog as catalog
from historian.gateway import flightsql_proto as fp
from historian.gateway.audit import AuditLog
from historian.gateway.tokens import Token, TokenFile

__all__ = ["ReadService", "make_server", "parse_listen"]

log = logging.getLogger(__name__)

_MAX_RESULTS = 64  # results waiting for their DoGet
_RESULT_TTL_S = 300.0
_MAX_PREPARED = 256
_MAX_PARAM_BYTES = 1 << 20
_WRITES = {
    "CommandStatementUpdate",
    "CommandPreparedStatementUpdate",
    "CommandStatementIngest",
}
_PREPARED_ACTIONS = ("CreatePreparedStatement", "ClosePreparedStatement")
_CATALOG_COMMANDS = (
    "CommandGetSqlInfo",
    "CommandGetTables",
    "CommandGetTableTypes",
    "CommandGetCatalogs",
    "CommandGetDbSchemas",
)


def parse_listen(listen: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` (``[::1]:PORT`` for IPv6).

    Examples
    --------
    >>> parse_listen("127.0.0.1:8815"), parse_listen("[::1]:0")
    (('127.0.0.1', 8815), ('::1', 0))
    """
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]]+):(\d{1,5})", listen or "")
    if not m:
        raise InvalidArgumentError(
            f"--listen {listen!r}: expected HOST:PORT, e.g. 0.0.0.0:8815 or [::1]:8815"
        )
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if port > 65535:
        raise InvalidArgumentError(f"--listen {listen!r}: port {port} is above 65535")
    return host, port


def check_listen(
    store: Any, listen: str, tls_cert: Any, tls_key: Any, insecure_loopback: bool, service: str
) -> tuple[str, str, int]:
    """``(store folder, host, port)`` for a gateway service (the read service, the trend
    page) after the checks they share: the store exists, ``listen`` parses, and plaintext is only
    on a loopback address with ``insecure_loopback`` (TLS needs both PEM files, so after it
    the service uses TLS exactly when both are given)."""
    path = os.fspath(store)
    if not os.path.isdir(path):
        raise InvalidArgumentError(
            f"no store at {path!r} (a store is a folder made by historian.open)"
        )
    host, port = parse_listen(listen)
    if insecure_loopback:
        if tls_cert is not None or tls_key is not None:
            raise InvalidArgumentError(
                "--insecure-loopback and --tls-cert/--tls-key exclude each other: pick one"
            )
        if not _is_loopback(host):
            raise InvalidArgumentError(
                f"plaintext is allowed on a loopback address only (127.0.0.1, ::1), not {host!r}: "
                "give --tls-cert and --tls-key"
            )
        return path, host, port
    if tls_cert is None or tls_key is None:
        raise InvalidArgumentError(
            f"{service} needs TLS: give --tls-cert CERT.pem and --tls-key KEY.pem "
            "(plaintext only with --insecure-loopback, on 127.0.0.1)"
        )
    return path, host, port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Headers(flight.ServerMiddleware):
    def __init__(self, authorization: str | None):
        self.authorization = authorization


class _HeaderFactory(flight.ServerMiddlewareFactory):
    """Keeps the ``authorization`` header for the handler (which knows the client's address)."""

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _Headers:
        values = headers.get("authorization") or []
        value = values[0] if values else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return _Headers(value)


@dataclass
class _Request:
    """What one call did, for its audit line."""

    method: str
    peer: str
    token: str | None = None
    command: str | None = None
    sql: str | None = None
    params: list[Any] | None = None
    rows: int | None = None
    started: float = field(default_factory=time.perf_counter)


@dataclass
class _Prepared:
    token: str
    sql: str
    params: list[Any] | None = None


class _Refused(Exception):
    """A refusal with the Flight error to raise (kept apart to audit it first)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def _invalid(message: str) -> _Refused:
    return _Refused(pa.ArrowInvalid(message))


def _denied(message: str) -> _Refused:
    return _Refused(flight.FlightUnauthorizedError(message))


def _unimplemented(message: str) -> _Refused:
    return _Refused(pa.ArrowNotImplementedError(message))


class ReadService(flight.FlightServerBase):
    """A Flight SQL server over one store (see the module docstring); made by make_server."""

    def __init__(
        self,
        store: str,
        location: str,
        *,
        tls: tuple[bytes, bytes] | None,
        engine_options: dict[str, Any] | None = None,
    ):
        from historian import __version__
        from historian.errors import mapped_errors
        from historian.query.sql import SqlEngine
        from historian.storage.store import Store

        self._path = store
        with mapped_errors(f"opening the store {store!r}"):
            self._store = Store(store, mode="r")  # the engine: SqlEngine reads a Store
        try:
            self._engine = SqlEngine(self._store, **(engine_options or {}))
            self._tokens = TokenFile(store)
            self._audit = AuditLog(store)
            self._tokens.load()  # a damaged or shared tokens file stops the start, not a call
            self._results: OrderedDict[bytes, tuple[str, pa.Table, float]] = OrderedDict()
            self._prepared: dict[bytes, _Prepared] = {}
            self._lock = threading.Lock()
            self._version = __version__
            kwargs: dict[str, Any] = {"middleware": {"auth": _HeaderFactory()}}
            if tls is not None:
                kwargs["tls_certificates"] = [flight.CertKeyPair(*tls)]
            super().__init__(location, **kwargs)
        except BaseException:
            self._store.close()
            raise
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop serving (waits for calls under way) and close the store."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self.shutdown()
        self.wait()
        self._store.close()

    def __enter__(self) -> ReadService:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ the call frame
    def _call(self, context: Any, method: str, body: Callable[[_Request, Token], Any]) -> Any:
        """Authenticate, run ``body``, audit the call (accepted or refused), map errors."""
        req = _Request(method=method, peer=_peer(context))
        mw = context.get_middleware("auth")
        header = getattr(mw, "authorization", None)
        presented = None
        if header and header[:7].lower() == "bearer ":
            presented = header[7:].strip()
        try:
            token = self._tokens.check(presented)
        except HistorianError as exc:
            log.error("read service cannot check tokens: %s", exc)
            self._record(req, "the tokens file cannot be read")
            raise flight.FlightUnavailableError(
                "the read service cannot check tokens right now (its operator sees why in the log)"
            ) from None
        if token is None:
            if presented is None:
                reason = "no bearer token"
            else:
                known = self._tokens.find(presented)
                reason = "revoked token" if known is not None else "unknown token"
                req.token = known.name if known is not None else None
            self._record(req, reason)
            raise flight.FlightUnauthenticatedError(
                f"{reason}: send the header 'authorization: Bearer <token>' with a live token "
                "(historian token add STORE NAME --tags PATTERN...)"
            )
        req.token = token.name
        try:
            result = body(req, token)
        except _Refused as exc:
            self._record(req, str(exc))
            raise exc.error from None
        except QueryError as exc:
            self._record(req, str(exc))
            raise pa.ArrowInvalid(f"query refused: {exc}") from None
        except InvalidArgumentError as exc:
            self._record(req, str(exc))
            raise pa.ArrowInvalid(str(exc)) from None
        except HistorianError as exc:
            log.error("read service: %s failed: %s", method, exc)
            self._record(req, str(exc))
            raise flight.FlightServerError(f"the store could not answer: {exc}") from None
        except pa.ArrowException as exc:
            self._record(req, str(exc))
            raise pa.ArrowInvalid(f"bad request: {exc}") from None
        self._record(req, None)
        return result

    def _record(self, req: _Request, reason: str | None) -> None:
        rec = {
            "token": req.token,
            "peer": req.peer,
            "method": req.method,
            "command": req.command,
            "sql": req.sql,
            "params": req.params,
            "rows": req.rows,
            "ms": round((time.perf_counter() - req.started) * 1000, 3),
            "refused": reason is not None,
            "reason": reason,
        }
        try:
            self._audit.append(rec)
        except HistorianError:
            log.exception("read service: the audit log cannot be written")
            raise flight.FlightUnavailableError(
                "the read service cannot write its audit log, so it answers nothing"
            ) from None

    # ------------------------------------------------------------------ RPCs
    def get_flight_info(self, context: Any, descriptor: flight.FlightDescriptor) -> Any:
        return self._call(
            context, "GetFlightInfo", lambda req, tok: self._flight_info(req, tok, descriptor)
        )

    def get_schema(self, context: Any, descriptor: flight.FlightDescriptor) -> Any:
        def body(req: _Request, tok: Token) -> Any:
            info = self._flight_info(req, tok, descriptor)
            with self._lock:  # the schema alone was asked for: drop the stored result
                for endpoint in info.endpoints:
                    self._results.pop(_handle_of(endpoint.ticket.ticket), None)
            return flight.SchemaResult(info.schema)

        return self._call(context, "GetSchema", body)

    def do_get(self, context: Any, ticket: flight.Ticket) -> Any:
        def body(req: _Request, tok: Token) -> Any:
            handle = _handle_of(ticket.ticket)
            req.command = "TicketStatementQuery"
            with self._lock:
                self._expire()
                entry = self._results.get(handle)
                if entry is None or entry[0] != tok.name:
                    raise _invalid(
                        "unknown or expired ticket: call GetFlightInfo again (a ticket is valid "
                        f"once, for {_RESULT_TTL_S:g} s, for the token that asked for it)"
                    )
                del self._results[handle]
            table = entry[1]
            req.rows = table.num_rows
            return flight.RecordBatchStream(table)

        return self._call(context, "DoGet", body)

    def do_put(
        self, context: Any, descriptor: flight.FlightDescriptor, reader: Any, writer: Any
    ) -> None:
        def body(req: _Request, tok: Token) -> None:
            name, fields = self._command(req, descriptor)
            if name != "CommandPreparedStatementQuery":
                raise _denied(
                    f"the read service is read-only: DoPut takes only the bound parameters of a "
                    f"prepared statement, not {name}"
                )
            prepared = self._prepared_of(tok, fields.get("prepared_statement_handle", b""))
            req.sql = prepared.sql
            table = reader.read_all()
            if table.nbytes > _MAX_PARAM_BYTES:
                raise _invalid(f"the bound parameters exceed {_MAX_PARAM_BYTES:,} bytes")
            if table.num_rows > 1:
                raise _invalid(
                    f"bind one row of parameters per execution, not {table.num_rows} rows"
                )
            params = [col[0].as_py() for col in table.columns] if table.num_rows else []
            prepared.params = params
            req.params = params
            handle = fields["prepared_statement_handle"]
            writer.write(
                pa.py_buffer(
                    fp.encode("DoPutPreparedStatementResult", {"prepared_statement_handle": handle})
                )
            )

        self._call(context, "DoPut", body)

    def do_action(self, context: Any, action: flight.Action) -> Iterator[Any]:
        def body(req: _Request, tok: Token) -> list[Any]:
            kind = action.type
            req.command = kind
            if kind == "CloseSession":  # sent by clients as they disconnect; there are no sessions
                return []
            if kind not in _PREPARED_ACTIONS:
                raise _denied(
                    f"the read service runs no action {kind!r}: only {', '.join(_PREPARED_ACTIONS)}"
                )
            payload = action.body.to_pybytes() if action.body is not None else b""
            name, fields = fp.unpack(payload)
            if kind == "CreatePreparedStatement":
                if name != "ActionCreatePreparedStatementRequest":
                    raise _invalid(f"CreatePreparedStatement expects its request, not {name}")
                if fields.get("transaction_id"):
                    raise _unimplemented("the read service has no transactions")
                sql = fields.get("query", "")
                req.sql = sql
                self._check_sql(sql)
                handle = secrets.token_bytes(16)
                with self._lock:
                    mine = [h for h, p in self._prepared.items() if p.token == tok.name]
                    if len(mine) >= _MAX_PREPARED:
                        self._prepared.pop(mine[0])
                    self._prepared[handle] = _Prepared(tok.name, sql)
                result = fp.pack(
                    "ActionCreatePreparedStatementResult", {"prepared_statement_handle": handle}
                )
                return [flight.Result(pa.py_buffer(result))]
            if name != "ActionClosePreparedStatementRequest":
                raise _invalid(f"ClosePreparedStatement expects its request, not {name}")
            handle = fields.get("prepared_statement_handle", b"")
            with self._lock:
                prepared = self._prepared.get(handle)
                if prepared is not None and prepared.token == tok.name:
                    req.sql = prepared.sql
                    del self._prepared[handle]
            return []

        return iter(self._call(context, "DoAction", body))

    def list_actions(self, context: Any) -> list[Any]:
        def body(req: _Request, tok: Token) -> list[Any]:
            return [
                ("CreatePreparedStatement", "prepare one SELECT"),
                ("ClosePreparedStatement", "release a prepared statement"),
            ]

        actions: list[Any] = self._call(context, "ListActions", body)
        return actions

    def list_flights(self, context: Any, criteria: bytes) -> Iterator[Any]:
        def body(req: _Request, tok: Token) -> list[Any]:
            return []

        return iter(self._call(context, "ListFlights", body))

    def do_exchange(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        def body(req: _Request, tok: Token) -> None:
            raise _denied("the read service has no DoExchange: use Flight SQL queries")

        self._call(context, "DoExchange", body)

    # ------------------------------------------------------------------ commands
    def _command(self, req: _Request, descriptor: flight.FlightDescriptor) -> tuple[str, Any]:
        if descriptor.descriptor_type != flight.DescriptorType.CMD:
            raise _invalid("the read service answers Flight SQL commands only (CMD descriptors)")
        name, fields = fp.unpack(descriptor.command)
        req.command = name
        return name, fields

    def _flight_info(self, req: _Request, tok: Token, descriptor: flight.FlightDescriptor) -> Any:
        name, fields = self._command(req, descriptor)
        if name == "CommandStatementQuery":
            if fields.get("transaction_id"):
                raise _unimplemented("the read service has no transactions")
            req.sql = fields.get("query", "")
            table = self._query(tok, req.sql)
        elif name == "CommandPreparedStatementQuery":
            prepared = self._prepared_of(tok, fields.get("prepared_statement_handle", b""))
            req.sql, req.params = prepared.sql, prepared.params
            table = self._query(tok, prepared.sql, prepared.params)
        elif name in _CATALOG_COMMANDS:
            table = self._catalog(tok, name, fields)
        elif name in _WRITES:
            raise _denied(f"the read service is read-only: {name} is refused (no write path)")
        else:
            raise _unimplemented(f"the read service does not implement {name}")
        req.rows = table.num_rows
        handle = secrets.token_bytes(16)
        with self._lock:
            self._expire()
            while len(self._results) >= _MAX_RESULTS:
                self._results.popitem(last=False)
            self._results[handle] = (tok.name, table, time.monotonic() + _RESULT_TTL_S)
        ticket = flight.Ticket(fp.pack("TicketStatementQuery", {"statement_handle": handle}))
        return flight.FlightInfo(
            table.schema,
            descriptor,
            [flight.FlightEndpoint(ticket, [])],
            table.num_rows,
            table.nbytes,
        )

    def _prepared_of(self, tok: Token, handle: bytes) -> _Prepared:
        with self._lock:
            prepared = self._prepared.get(handle)
        if prepared is None or prepared.token != tok.name:
            raise _invalid("unknown prepared statement: create it with CreatePreparedStatement")
        return prepared

    def _check_sql(self, sql: str) -> None:
        """Refuse anything but one plain SELECT now, as h.sql would (nothing runs)."""
        engine = self._engine
        con = engine._connect()
        try:
            engine._validate(con, sql, False)
        finally:
            con.close()

    def _query(self, tok: Token, sql: str, params: list[Any] | None = None) -> pa.Table:
        rel = self._engine.query(sql, params or None, tag_filter=tok.allows)
        try:
            return rel.to_arrow_table()
        finally:
            with contextlib.suppress(Exception):
                rel.close()

    def _catalog(self, tok: Token, name: str, fields: dict[str, Any]) -> pa.Table:
        if name == "CommandGetSqlInfo":
            return catalog.sql_info(fields.get("info") or [], self._version)
        if name == "CommandGetTables":
            # a fixed view name, run in the token's scope like any query
            return catalog.tables(
                fields, lambda view: self._query(tok, f"SELECT * FROM {view} LIMIT 0").schema
            )
        if name == "CommandGetTableTypes":
            return catalog.table_types()
        if name == "CommandGetCatalogs":
            return catalog.catalogs()
        return catalog.db_schemas(fields)

    def _expire(self) -> None:
        now = time.monotonic()
        for handle in [h for h, (_, _, until) in self._results.items() if until < now]:
            del self._results[handle]


def _peer(context: Any) -> str:
    try:
        peer = context.peer()
    except Exception:  # pragma: no cover - a context without a peer
        return "unknown"
    return peer.decode("utf-8", "replace") if isinstance(peer, bytes) else str(peer)


def _handle_of(ticket: bytes) -> bytes:
    name, fields = fp.unpack(ticket)
    if name != "TicketStatementQuery":
        raise _invalid(f"a ticket holds TicketStatementQuery, not {name}")
    return bytes(fields.get("statement_handle", b""))


def _read_pem(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot read the TLS {what} {str(path)!r}: {exc.strerror}"
        ) from exc


def make_server(
    store: str | os.PathLike[str],
    listen: str,
    *,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    insecure_loopback: bool = False,
    **engine_options: Any,
) -> ReadService:
    """Start the read service of ``store`` on ``listen`` (``HOST:PORT``; port 0 picks one).

    It listens when this returns (``server.port`` is the port); ``server.serve()`` blocks until
    ``server.close()``. ``tls_cert``/``tls_key`` are PEM files (the certificate chain and its
    key); without them only ``insecure_loopback=True`` on a loopback address is accepted.
    ``engine_options`` go to :class:`~historian.query.sql.SqlEngine` (``timeout``,
    ``memory_limit``, ``max_result_bytes``, ``threads``).
    """
    path, host, port = check_listen(
        store, listen, tls_cert, tls_key, insecure_loopback, "the read service"
    )
    tls = None
    location = flight.Location.for_grpc_tcp(host, port)
    if tls_cert is not None and tls_key is not None:
        tls = (_read_pem(tls_cert, "certificate"), _read_pem(tls_key, "key"))
        location = flight.Location.for_grpc_tls(host, port)
    try:
        server = ReadService(path, location, tls=tls, engine_options=engine_options)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidArgumentError(f"cannot listen on {listen}: {exc}") from exc
    log.info(
        "read service of %s listening on %s:%d (%s)",
        path,
        host,
        server.port,
        "plaintext, loopback" if tls is None else "TLS",
    )
    return server
