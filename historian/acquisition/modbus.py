"""Modbus TCP and Modbus/TLS source: polls a register map and emits :class:`SampleBatch` es.

::

    source = ModbusSource(load_config("plant.toml").modbus[0])   # a ModbusSourceConfig
    source = ModbusSource("plc1", "10.0.0.5", 502, points=[...], every="1s")  # the same keys
    await source.run(emit, stop)          # until stop is set; never raises for device trouble

Behaviour (see ``docs/acquisition-modbus.md``):

- Reads are planned once (:func:`~historian.acquisition.modbus_plan.plan_requests`): at most 125
  registers / 2000 bits each, never across addresses the map does not name (``max_gap``).
- Polling follows a monotonic schedule; a poll that overruns skips the ticks it missed (counted
  in ``health().extra["skipped_ticks"]``) instead of piling up.
- Good points are emitted every poll, stamped with the time the response arrived. Bad points
  (exception responses, undecodable values, timeouts, lost connection) are emitted once per
  change of status per tag: ``Bad_NoCommunication`` while the device is unreachable,
  ``Bad_Timeout`` when it stops answering, ``Bad_DeviceFailure``/``Bad_ConfigurationError`` for
  exception responses, ``Bad_DecodingError`` for garbage.
- Reconnects with exponential backoff and jitter; pymodbus exceptions never escape raw (they
  become :class:`~historian.errors.SourceError` subclasses and Bad points, mapped in one place:
  :func:`pymodbus_errors`). The waits, backoff, schedule and filters are
  :mod:`historian.acquisition.mechanics`; the pymodbus internals used are in
  :mod:`historian.acquisition.compat`.
- **Read-only**: the pymodbus client is built with :func:`read_only_guard` as its ``trace_pdu``
  hook, which raises :class:`~historian.errors.SourceSecurityError` before any request other
  than function codes 1-4 (read coils, discrete inputs, holding and input registers) is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from historian.acquisition.compat import keep_connection_on_timeouts, pending_response
from historian.acquisition.config import ModbusSourceConfig, modbus_source_config
from historian.acquisition.mechanics import (
    Backoff,
    LogLimiter,
    RateMeter,
    StatusChangeFilter,
    Ticker,
    wait_or_stop,
)
from historian.acquisition.modbus_plan import (
    READ_FUNCTION_CODES,
    ModbusPoint,
    RequestDecoder,
    exception_status,
    plan_requests,
)
from historian.acquisition.samples import Emit, SampleBatch, SourceHealth
from historian.errors import (
    ConfigError,
    SourceConnectError,
    SourceError,
    SourceProtocolError,
    SourceSecurityError,
    SourceTimeoutError,
    WriteBlockedError,
)
from historian.model import quality as q
from historian.model.times import duration_ns

__all__ = ["ModbusSource", "client_ssl_context", "read_only_guard"]

log = logging.getLogger(__name__)

_READ_METHOD = {
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
    "holding": "read_holding_registers",
    "input": "read_input_registers",
}


def read_only_guard(sending: bool, pdu: Any) -> Any:
    """pymodbus ``trace_pdu`` hook that refuses to send anything but function codes 1-4.

    Installed on every client this module creates; raises
    :class:`~historian.errors.SourceSecurityError` *before* the request is framed and sent.

    >>> from pymodbus.pdu.register_message import WriteSingleRegisterRequest
    >>> read_only_guard(True, WriteSingleRegisterRequest(address=1, registers=[5]))
    Traceback (most recent call last):
    ...
    historian.errors.WriteBlockedError: blocked Modbus function code 6 ...
    """
    if sending:
        fc = int(getattr(pdu, "function_code", -1))
        if fc not in READ_FUNCTION_CODES:
            log.error(
                "blocked Modbus request with function code %d (%s): read-only source",
                fc,
                type(pdu).__name__,
            )
            raise WriteBlockedError(
                f"blocked Modbus function code {fc} ({type(pdu).__name__}): historian only "
                "sends read requests (function codes 1-4)"
            )
    return pdu


def client_ssl_context(
    ca: str | None, certificate: str | None = None, private_key: str | None = None
) -> ssl.SSLContext:
    """A Modbus/TLS client context: TLS >= 1.2, server certificate checked against ``ca``
    (hostname included), our certificate/key presented for mutual authentication."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if certificate:
            ctx.load_cert_chain(certificate, private_key)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise SourceSecurityError(
            f"modbus TLS: cannot load ca/certificate/private_key ({type(exc).__name__}: "
            f"{getattr(exc, 'strerror', None) or exc}); check the paths under tls"
        ) from exc
    return ctx


def _point_table(point: ModbusPoint | Mapping[str, Any]) -> Mapping[str, Any]:
    """A point as the ``[[modbus.points]]`` table it came from (validated again on the way in)."""
    if isinstance(point, Mapping):
        return point
    if not isinstance(point, ModbusPoint):
        raise ConfigError(f"a Modbus point must be a dict or a ModbusPoint, not "
                          f"{type(point).__name__}")  # fmt: skip
    d: dict[str, Any] = {"tag": point.tag, "table": point.table, "address": point.address,
                         "type": point.type, "word_order": point.word_order,
                         "byte_order": point.byte_order, "scale": point.scale,
                         "offset": point.offset}  # fmt: skip
    if point.unit:
        d["unit"] = point.unit
    if point.type == "string":
        d["count"] = point.count
    if point.bit is not None:
        d["bit"] = point.bit
    return d


class ModbusSource:
    """Poll one Modbus TCP (or Modbus/TLS) device.

    Parameters
    ----------
    config : ModbusSourceConfig
        The device, validated (:func:`~historian.acquisition.config.load_config` or
        :func:`~historian.acquisition.config.modbus_source_config` make one); every field is
        used: name, host, port, unit, every_s, timeout_s, retries (resends of an unanswered
        request, each counted in ``health().extra["retries"]``; pymodbus' own retries are always
        off), max_gap and max_block (request planning), backoff_max_s, tls and points.
    sslctx : ssl.SSLContext, optional
        A ready Modbus/TLS client context (instead of ``config.tls`` paths).
    backoff_initial : float or str
        First reconnect delay; it doubles up to ``backoff_max_s`` (x0.5-1 jitter).

    The keyword form ``ModbusSource(name, host, port, points=[...], every=..., timeout=...,
    retries=..., max_gap=..., max_block=..., tls=..., backoff_max=...)`` builds the config from
    those keys through the same validation as the TOML loader (``every=0`` polls back to back:
    benchmarks only, not accepted in a TOML file).

    Examples
    --------
    >>> src = ModbusSource("plc1", "127.0.0.1", 5020, every="500ms", points=[
    ...     {"tag": "FIC-104.PV", "table": "holding", "address": 0, "type": "float32"},
    ...     {"tag": "P-106.RUN", "table": "discrete", "address": 0}])
    >>> [(r.table, r.address, r.count) for r in src.requests]
    [('holding', 0, 2), ('discrete', 0, 1)]
    >>> src.health().connected
    False
    """

    def __init__(
        self,
        config: ModbusSourceConfig | str,
        host: str | None = None,
        port: int | None = None,
        *,
        sslctx: ssl.SSLContext | None = None,
        backoff_initial: float | str = 0.5,
        **settings: Any,
    ):
        if not isinstance(config, ModbusSourceConfig):
            config, ctx = _config_from_keywords(config, host, port, settings)
            sslctx = sslctx or ctx
        elif host is not None or port is not None or settings:
            raise ConfigError("ModbusSource(config): give the config alone (its fields say "
                              "host, port and the rest)")  # fmt: skip
        self.config = config
        name = self.name = config.name
        self.host, self.port, self.unit = config.host, config.port, config.unit
        self.every_s, self.timeout_s = config.every_s, config.timeout_s
        self.retries = config.retries
        self.points: list[ModbusPoint] = list(config.points)
        if not self.points:
            raise ConfigError(f"modbus {name}: no points; add at least one [[modbus.points]]")
        self.requests = plan_requests(self.points, max_gap=config.max_gap,
                                      max_registers=config.max_block)  # fmt: skip
        self._decoders = [RequestDecoder(r, self.points) for r in self.requests]
        self._filters = [StatusChangeFilter(d.n) for d in self._decoders]
        if sslctx is None and config.tls is not None:
            tls = config.tls
            sslctx = client_ssl_context(str(tls.ca), str(tls.certificate), str(tls.private_key))
        self.sslctx: ssl.SSLContext | None = sslctx
        try:
            self.backoff_initial = duration_ns(backoff_initial) / 1e9
        except (ValueError, OverflowError, TypeError) as exc:
            raise ConfigError(f"modbus {name}: backoff_initial: {exc}") from exc
        if self.backoff_initial <= 0:
            raise ConfigError(f"modbus {name}: backoff_initial: must be above 0 s, got "
                              f"{backoff_initial!r}")  # fmt: skip
        self.backoff_max = config.backoff_max_s
        self._client: Any = None
        self._health = SourceHealth()
        self._health.extra.update(skipped_ticks=0, polls=0, blocked_writes=0, timeouts=0, retries=0)
        self._skip_log = LogLimiter(60.0)
        # the last time the device answered (or the connection opened): a gap's first Bad point
        # is stamped 1 ns after it, later status changes in the same gap when they happen
        self._last_ok_ns: int | None = None
        self._in_gap = False
        self._rate = RateMeter()
        self._backoff = Backoff(self.backoff_initial, self.backoff_max, jitter=(0.5, 1.0))

    @classmethod
    def from_config(cls, section: ModbusSourceConfig | Mapping[str, Any]) -> ModbusSource:
        """Build from a ``[[modbus]]`` table (dict, validated as the TOML loader does) or a
        parsed :class:`~historian.acquisition.config.ModbusSourceConfig`.

        >>> src = ModbusSource.from_config({"name": "plc1", "host": "127.0.0.1",
        ...     "backoff_max": "5s", "points": [{"tag": "A", "address": 0}]})
        >>> src.backoff_max, src.port
        (5.0, 502)
        """
        if isinstance(section, ModbusSourceConfig):
            return cls(section)
        if not isinstance(section, Mapping):
            raise ConfigError(f"modbus: a [[modbus]] table must be a dict, not "
                              f"{type(section).__name__}")  # fmt: skip
        name = section.get("name", "?")
        return cls(modbus_source_config(dict(section), where=f"modbus {name}"))

    # -- health ------------------------------------------------------------------------------
    def health(self) -> SourceHealth:
        """A snapshot of the source's state (a copy; safe to keep)."""
        h = self._health
        h.points_per_s = self._rate.rate(h.points)
        return SourceHealth(
            h.connected,
            h.last_good_ns,
            h.errors,
            h.reconnects,
            h.points,
            h.points_per_s,
            h.last_error,
            dict(h.extra),
        )

    # -- connection --------------------------------------------------------------------------
    async def _connect(self) -> None:
        from pymodbus.client import AsyncModbusTcpClient, AsyncModbusTlsClient

        kwargs: dict[str, Any] = dict(
            port=self.port,
            timeout=self.timeout_s,
            retries=0,  # resends are ours, counted
            reconnect_delay=0,
            trace_pdu=read_only_guard,
            name=self.name,
            trace_connect=self._on_connection_change,
        )  # reconnect_delay=0: we reconnect ourselves, with backoff and health accounting
        client: Any
        if self.sslctx is not None:
            client = AsyncModbusTlsClient(self.host, sslctx=self.sslctx, **kwargs)
        else:
            client = AsyncModbusTcpClient(self.host, **kwargs)
        try:
            ok = await asyncio.wait_for(client.connect(), self.timeout_s + 1.0)
        except (TimeoutError, OSError) as exc:
            client.close()
            raise SourceConnectError(
                f"modbus {self.name}: cannot connect to {self.host}:{self.port}: {exc}"
            ) from exc
        if not ok:
            client.close()
            if self.sslctx is not None:
                await self._diagnose_tls()
            raise SourceConnectError(
                f"modbus {self.name}: cannot connect to {self.host}:{self.port}"
            )
        keep_connection_on_timeouts(client)  # unanswered requests are Bad_Timeout, not a loss
        self._client = client
        self._last_ok_ns = time.time_ns()

    def _on_connection_change(self, connected: bool) -> None:
        """pymodbus ``trace_connect`` hook: when the connection drops during a request, fail
        that request now instead of letting it wait out its timeout(s)."""
        if connected or self._client is None:
            return
        future = pending_response(self._client)
        if future is not None:
            connection_exception = _pymodbus_errors()[0]
            future.set_exception(connection_exception("connection lost during a request"))

    async def _diagnose_tls(self) -> None:
        """pymodbus only says False: find out whether TLS refused the certificate."""
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self.sslctx), self.timeout_s
            )
        except ssl.SSLCertVerificationError as exc:
            raise SourceSecurityError(
                f"modbus {self.name}: server certificate refused: {exc.verify_message}"
            ) from exc
        except ssl.SSLError as exc:
            raise SourceSecurityError(f"modbus {self.name}: TLS failed: {exc.reason}") from exc
        except (OSError, TimeoutError):
            return
        writer.close()

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a broken transport must not hide the real error
                log.debug("modbus %s: error while closing", self.name, exc_info=True)
        self._health.connected = False

    # -- polling -----------------------------------------------------------------------------
    async def _read(self, index: int) -> Any:
        """One read, resent at most ``retries`` times when unanswered (each resend counted)."""
        if not self.retries:
            return await self._read_once(index)
        for attempt in range(self.retries + 1):
            try:
                return await self._read_once(index)
            except SourceTimeoutError:
                if attempt >= self.retries:
                    raise
                self._health.extra["retries"] += 1
                log.debug("modbus %s: no response, resending (%d/%d)", self.name, attempt + 1,
                          self.retries)  # fmt: skip
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_once(self, index: int) -> Any:
        req = self.requests[index]
        method = getattr(self._client, _READ_METHOD[req.table])
        with pymodbus_errors(f"modbus {self.name}", self._client):
            # bounded: pymodbus waits timeout_s per try (and per connect) itself
            return await method(req.address, count=req.count, device_id=self.unit)

    def _select(
        self,
        index: int,
        t_ns: int,
        values: np.ndarray,
        status: np.ndarray,
        text: list[str | None] | None,
    ) -> SampleBatch | None:
        """Good points always; others only when their status changed since last emitted."""
        dec = self._decoders[index]
        emit = self._filters[index].select(status)
        n = dec.n if emit is None else int(emit.sum())
        if n == 0:
            return None
        if n == dec.n or emit is None:
            tags, v, s, tx = list(dec.tags), values, status, text
        else:
            idx = np.flatnonzero(emit)
            tags = [dec.tags[i] for i in idx]
            v, s = values[idx], status[idx]
            tx = [text[i] for i in idx] if text is not None else None
        return SampleBatch(tags, np.full(n, t_ns, dtype=np.int64), v, s, self.name, tx)

    async def poll_once(self) -> SampleBatch | None:
        """Read every request once and return what should be emitted (None if nothing).

        Raises :class:`~historian.errors.SourceError` when the connection fails; per-request
        exception responses and garbage become Bad points instead.
        """
        if self._client is None:
            raise SourceConnectError(f"modbus {self.name}: not connected")
        batches: list[SampleBatch] = []
        good_ns = None
        for i, dec in enumerate(self._decoders):
            try:
                rr = await self._read(i)
            except SourceTimeoutError as exc:
                # the device is up but slower than the timeout: Bad_Timeout for this poll (this
                # request and the rest, not asked: the device is not answering); the connection
                # is kept (a late answer carries an old transaction id: pymodbus discards it)
                self._poll_timed_out(exc, i, batches)
                break
            t_ns = time.time_ns()
            self._last_ok_ns, self._in_gap = t_ns, False  # the device answered
            if not hasattr(rr, "isError"):  # no usable response object: garbage
                values, text = np.full(dec.n, np.nan), None
                status = np.full(dec.n, q.BAD_DECODING_ERROR, dtype=np.uint32)
            elif rr.isError():
                code = getattr(rr, "exception_code", None)
                status = np.full(dec.n, exception_status(code or 4), dtype=np.uint32)
                values, text = np.full(dec.n, np.nan), None
                self._health.errors += 1
                self._health.last_error = (
                    f"exception response {code} to FC{dec.request.function_code} "
                    f"at {dec.request.table} {dec.request.address}"
                )
            else:
                data = rr.bits if dec.is_bits else getattr(rr, "registers", None)
                if data is None:
                    data = []
                values, status, text = dec.decode(data)
                if (status == 0).any():
                    good_ns = t_ns
            b = self._select(i, t_ns, values, status, text)
            if b is not None:
                batches.append(b)
        self._health.extra["polls"] += 1
        if good_ns is not None:
            self._health.last_good_ns = good_ns
        if not batches:
            return None
        batch = batches[0] if len(batches) == 1 else SampleBatch.concat(batches)
        self._health.points += len(batch)
        return batch

    def _gap_ns(self) -> int:
        """When a gap began: 1 ns after the device last answered (or the connection opened)
        for the first Bad point of a gap, now for later status changes in it."""
        now = time.time_ns()
        if self._in_gap or self._last_ok_ns is None:
            return now
        self._in_gap = True
        return min(now, self._last_ok_ns + 1)

    def _poll_timed_out(self, exc: SourceTimeoutError, first: int,
                        batches: list[SampleBatch]) -> None:  # fmt: skip
        t_ns = self._gap_ns()
        h = self._health
        h.errors += 1
        h.extra["timeouts"] += 1
        h.last_error = str(exc)
        was_bad = any(f.last[0] == q.BAD_TIMEOUT for f in self._filters[first:])
        log.log(
            logging.DEBUG if was_bad else logging.WARNING,
            "%s (timeout %.3g s); Bad_Timeout for this poll",
            exc,
            self.timeout_s,
        )
        for i in range(first, len(self._decoders)):
            dec = self._decoders[i]
            b = self._select(i, t_ns, np.full(dec.n, np.nan),
                             np.full(dec.n, q.BAD_TIMEOUT, dtype=np.uint32), None)  # fmt: skip
            if b is not None:
                batches.append(b)

    def _fail_all(self, status: int) -> SampleBatch | None:
        t_ns = self._gap_ns()
        batches = []
        for i, dec in enumerate(self._decoders):
            b = self._select(
                i, t_ns, np.full(dec.n, np.nan), np.full(dec.n, status, dtype=np.uint32), None
            )
            if b is not None:
                batches.append(b)
        if not batches:
            return None
        batch = SampleBatch.concat(batches)
        self._health.points += len(batch)
        return batch

    async def _poll_loop(self, emit: Emit, stop: asyncio.Event) -> None:
        ticker = Ticker(self.every_s, late_poll=True)
        while not stop.is_set():
            batch = await self.poll_once()
            if batch is not None:
                emit(batch)
            if self.every_s <= 0:  # back to back (benchmarks); each read already yields
                continue
            missed, wait_s = ticker.advance()
            if missed:
                self._skipped(missed)
            await wait_or_stop(stop, wait_s)  # 0 after an overrun: the loop breathes once

    def _skipped(self, missed: int) -> None:
        """Count ticks a slow poll missed; a WARNING at most once a minute."""
        h = self._health
        h.extra["skipped_ticks"] += missed
        if self._skip_log.due():
            log.warning(
                "modbus %s: polls take longer than every=%.3g s: %d tick(s) skipped so "
                "far (%d polls); poll less often or split the device's map",
                self.name,
                self.every_s,
                h.extra["skipped_ticks"],
                h.extra["polls"],
            )
        else:
            log.debug("modbus %s: poll overran, skipped %d tick(s)", self.name, missed)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Connect, poll and emit until ``stop`` is set; reconnect with backoff on failures."""
        backoff = self._backoff
        backoff.initial_s, backoff.max_s = self.backoff_initial, self.backoff_max  # settable
        backoff.reset()
        connected_once = False
        while not stop.is_set():
            try:
                await self._connect()
                if connected_once:
                    self._health.reconnects += 1
                    log.info("modbus %s: reconnected to %s:%s", self.name, self.host, self.port)
                else:
                    log.info("modbus %s: connected to %s:%s", self.name, self.host, self.port)
                connected_once = True
                self._health.connected = True
                backoff.reset()
                await self._poll_loop(emit, stop)
            except SourceError as exc:
                self._on_failure(exc, emit)
            finally:
                self._close()
            if stop.is_set():
                break
            delay = backoff.next()
            log.debug("modbus %s: retrying in %.2f s", self.name, delay)
            await wait_or_stop(stop, delay)

    def _on_failure(self, exc: SourceError, emit: Emit) -> None:
        self._health.errors += 1
        self._health.last_error = str(exc)
        if isinstance(exc, WriteBlockedError):
            self._health.extra["blocked_writes"] += 1
        if isinstance(exc, SourceTimeoutError):
            status = q.BAD_TIMEOUT
        elif isinstance(exc, SourceProtocolError):
            status = q.BAD_COMMUNICATION_ERROR
        else:
            status = q.BAD_NO_COMMUNICATION
        level = (
            logging.WARNING
            if self._health.connected or self._health.errors == 1
            else (logging.DEBUG)
        )
        log.log(level, "%s", exc)
        batch = self._fail_all(status)
        if batch is not None:
            emit(batch)


@functools.cache
def _pymodbus_errors() -> tuple[type[Exception], type[Exception], type[Exception]]:
    """pymodbus' exception classes, imported once on first use (keeps the import lazy)."""
    from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

    return ConnectionException, ModbusException, ModbusIOException


@contextlib.contextmanager
def pymodbus_errors(where: str, client: Any = None) -> Iterator[None]:
    """Map what a pymodbus request raises to :class:`~historian.errors.SourceError` subclasses,
    the original as ``__cause__`` (httpx's ``map_httpcore_exceptions`` pattern).

    A lost connection is :class:`SourceConnectError`; no answer in time
    :class:`SourceTimeoutError` (unless ``client`` shows the connection dropped); other
    pymodbus errors and anything unexpected :class:`SourceProtocolError`. Historian errors (a
    blocked write) pass through.

    >>> with contextlib.suppress(SourceTimeoutError):
    ...     with pymodbus_errors("modbus plc1"):
    ...         raise TimeoutError("late")
    """
    ConnectionException, ModbusException, ModbusIOException = _pymodbus_errors()
    try:
        yield
    except SourceError:
        raise
    except ConnectionException as exc:
        raise SourceConnectError(f"{where}: connection lost: {exc}") from exc
    except (ModbusIOException, TimeoutError) as exc:
        if client is not None and not client.connected:
            raise SourceConnectError(f"{where}: connection lost: {exc}") from exc
        raise SourceTimeoutError(f"{where}: no response: {exc}") from exc
    except ModbusException as exc:
        raise SourceProtocolError(f"{where}: {exc}") from exc
    except OSError as exc:
        raise SourceConnectError(f"{where}: {exc}") from exc
    except Exception as exc:  # anything else pymodbus may raise: never escapes raw
        raise SourceProtocolError(f"{where}: {type(exc).__name__}: {exc}") from exc


def _config_from_keywords(
    name: str, host: str | None, port: int | None, settings: dict[str, Any]
) -> tuple[ModbusSourceConfig, ssl.SSLContext | None]:
    """``ModbusSource(name, host, port, points=..., every=..., ...)``: the keys of a ``[[modbus]]``
    table, validated by :func:`~historian.acquisition.config.modbus_source_config`."""
    section: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
    sslctx = None
    if isinstance(section.get("tls"), ssl.SSLContext):
        sslctx = section.pop("tls")
    if isinstance(section.get("tls"), Mapping):
        section["tls"] = {k: str(v) for k, v in section["tls"].items() if v is not None}
    section["points"] = [_point_table(p) for p in section.get("points", ())]
    section.update(name=str(name), host=host)
    if port is not None:
        section["port"] = int(port)
    elif sslctx is not None:
        section["port"] = 802
    back_to_back = section.get("every") in (0, 0.0)  # benchmarks: no TOML equivalent
    if back_to_back:
        del section["every"]
    config = modbus_source_config(section, where=f"modbus {name}")
    if back_to_back:
        config = replace(config, every_s=0.0)
    return config, sslctx
