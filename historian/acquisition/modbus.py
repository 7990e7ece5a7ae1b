"""Modbus TCP and Modbus/TLS source: polls a register map and emits :class:`SampleBatch` es.

::

    source = ModbusSource("plc1", "10.0.0.5", 502, points=[...], every="1s")
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
  become :class:`~historian.errors.SourceError` subclasses and Bad points).
- **Read-only**: the pymodbus client is built with :func:`read_only_guard` as its ``trace_pdu``
  hook, which raises :class:`~historian.errors.SourceSecurityError` before any request other
  than function codes 1-4 (read coils, discrete inputs, holding and input registers) is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

from historian.acquisition.modbus_plan import (
    READ_FUNCTION_CODES,
    ModbusPoint,
    RequestDecoder,
    exception_status,
    parse_points,
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
)
from historian.model import quality as q
from historian.model.times import duration_ns

__all__ = ["ModbusSource", "client_ssl_context", "read_only_guard"]

log = logging.getLogger(__name__)

_NO_STATE = np.uint32(0xFFFFFFFF)  # "nothing emitted yet" (not a valid StatusCode)
_READ_METHOD = {
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
    "holding": "read_holding_registers",
    "input": "read_input_registers",
}
_CONFIG_KEYS = {
    "name", "host", "port", "unit", "every", "timeout", "retries", "max_gap", "max_block", "tls",
    "points", "backoff_max",
}


def read_only_guard(sending: bool, pdu: Any) -> Any:
    """pymodbus ``trace_pdu`` hook that refuses to send anything but function codes 1-4.

    Installed on every client this module creates; raises
    :class:`~historian.errors.SourceSecurityError` *before* the request is framed and sent.

    >>> from pymodbus.pdu.register_message import WriteSingleRegisterRequest
    >>> read_only_guard(True, WriteSingleRegisterRequest(address=1, registers=[5]))
    Traceback (most recent call last):
    ...
    historian.errors.SourceSecurityError: blocked Modbus function code 6 ...
    """
    if sending:
        fc = int(getattr(pdu, "function_code", -1))
        if fc not in READ_FUNCTION_CODES:
            log.error("blocked Modbus request with function code %d (%s): read-only source",
                      fc, type(pdu).__name__)
            raise SourceSecurityError(
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


def _seconds(value: Any, what: str, minimum: float) -> float:
    try:
        s = duration_ns(value) / 1e9
    except (ValueError, OverflowError, TypeError) as exc:
        raise ConfigError(f"{what}: {exc}") from exc
    if s < minimum:
        raise ConfigError(f"{what}: must be at least {minimum} s, got {value!r}")
    return s


def _point_dict(p: Any) -> Mapping[str, Any] | ModbusPoint:
    if isinstance(p, Mapping | ModbusPoint):
        return p
    if is_dataclass(p):  # e.g. historian.acquisition.config.ModbusPoint
        keys = ("tag", "table", "address", "type", "word_order", "byte_order", "scale",
                "offset", "unit", "count", "bit")
        d = {f.name: getattr(p, f.name) for f in fields(p) if f.name in keys}
        if d.get("type") != "string":
            d.pop("count", None)
        if d.get("bit") is None:
            d.pop("bit", None)
        return d
    raise ConfigError(f"a Modbus point must be a dict, not {type(p).__name__}")


class ModbusSource:
    """Poll one Modbus TCP (or Modbus/TLS) device.

    Parameters
    ----------
    name : str
        The source name (the ``[[modbus]]`` ``name``); appears in batches and logs.
    host, port : str, int
        The device (port 502 for TCP, 802 usual for TLS).
    points : list of dict or ModbusPoint
        The register map (keys in :mod:`historian.acquisition.modbus_plan`).
    unit : int
        Modbus unit (device) id.
    every : float or str
        Poll period (seconds or ``"500ms"``); 0 polls back to back (benchmarks only).
    timeout : float or str
        Time to wait for one response.
    retries : int
        Resends of an unanswered request before it counts as a timeout (default 0: one request
        per read, nothing resent behind your back; each resend is counted in
        ``health().extra["retries"]``). pymodbus' own retries are always off.
    max_gap, max_block : int
        Request planning: unconfigured addresses a read may span, registers per read.
    tls : ssl.SSLContext or dict, optional
        Modbus/TLS: a client context, or ``{"ca", "certificate", "private_key"}`` paths.
    backoff_initial, backoff_max : float
        Reconnect delay: doubles from ``backoff_initial`` to ``backoff_max`` (x0.5-1 jitter).

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
        name: str,
        host: str,
        port: int = 502,
        *,
        points: Iterable[Mapping[str, Any] | ModbusPoint],
        unit: int = 1,
        every: float | str = 1.0,
        timeout: float | str = 1.0,
        retries: int = 0,
        max_gap: int = 0,
        max_block: int = 125,
        tls: ssl.SSLContext | Mapping[str, Any] | None = None,
        backoff_initial: float | str = 0.5,
        backoff_max: float | str = 30.0,
    ):
        self.name = str(name)
        self.host, self.port, self.unit = host, int(port), int(unit)
        self.every_s = _seconds(every, f"modbus {name}: every", 0.0)
        self.timeout_s = _seconds(timeout, f"modbus {name}: timeout", 0.001)
        self.retries = int(retries)
        items = [_point_dict(p) for p in points]
        self.points: list[ModbusPoint] = [p for p in items if isinstance(p, ModbusPoint)]
        self.points += parse_points(
            [p for p in items if not isinstance(p, ModbusPoint)], where=f"modbus {name}.points"
        )
        if not self.points:
            raise ConfigError(f"modbus {name}: no points; add at least one [[modbus.points]]")
        self.requests = plan_requests(self.points, max_gap=max_gap, max_registers=max_block)
        self._decoders = [RequestDecoder(r, self.points) for r in self.requests]
        self._last = [np.full(d.n, _NO_STATE, dtype=np.uint32) for d in self._decoders]
        if isinstance(tls, Mapping):
            tls = client_ssl_context(tls.get("ca"), tls.get("certificate"), tls.get("private_key"))
        self.sslctx: ssl.SSLContext | None = tls
        # Durations as the TOML takes them ("5s") or seconds, like every and timeout.
        self.backoff_initial = _seconds(backoff_initial, f"modbus {name}: backoff_initial", 0.001)
        self.backoff_max = _seconds(backoff_max, f"modbus {name}: backoff_max", 0.001)
        self._client: Any = None
        self._health = SourceHealth()
        self._health.extra.update(skipped_ticks=0, polls=0, blocked_writes=0, timeouts=0,
                                  retries=0)
        self._last_skip_log = -1e9
        # the last time the device answered (or the connection opened): a gap's first Bad point
        # is stamped 1 ns after it, later status changes in the same gap when they happen
        self._last_ok_ns: int | None = None
        self._in_gap = False
        self._rate_t = time.monotonic()
        self._rate_points = 0
        self._rng = random.Random()

    @classmethod
    def from_config(cls, section: Any) -> ModbusSource:
        """Build from a ``[[modbus]]`` table (dict) or a parsed ``ModbusSourceConfig``."""
        if isinstance(section, Mapping):
            unknown = set(section) - _CONFIG_KEYS
            if unknown:
                raise ConfigError(
                    f"modbus {section.get('name', '?')}: unknown key {sorted(unknown)[0]!r}; "
                    f"known keys: {sorted(_CONFIG_KEYS)}"
                )
            tls = section.get("tls")
            return cls(
                section["name"], section["host"], section.get("port", 802 if tls else 502),
                points=section["points"], unit=section.get("unit", 1),
                every=section.get("every", 1.0), timeout=section.get("timeout", 1.0),
                retries=section.get("retries", 0), max_gap=section.get("max_gap", 0),
                max_block=section.get("max_block", 125), tls=tls,
                backoff_max=section.get("backoff_max", 30.0),
            )
        tls = getattr(section, "tls", None)
        if tls is not None and not isinstance(tls, Mapping):
            tls = {k: (str(getattr(tls, k)) if getattr(tls, k, None) else None)
                   for k in ("ca", "certificate", "private_key")}
        return cls(
            section.name, section.host, section.port, points=section.points, unit=section.unit,
            every=section.every_s, timeout=section.timeout_s, retries=section.retries,
            max_gap=section.max_gap, max_block=getattr(section, "max_block", 125), tls=tls,
            backoff_max=getattr(section, "backoff_max_s", 30.0),
        )

    # -- health ------------------------------------------------------------------------------
    def health(self) -> SourceHealth:
        """A snapshot of the source's state (a copy; safe to keep)."""
        h = self._health
        now = time.monotonic()
        if now - self._rate_t >= 1.0:
            h.points_per_s = (h.points - self._rate_points) / (now - self._rate_t)
            self._rate_t, self._rate_points = now, h.points
        return SourceHealth(h.connected, h.last_good_ns, h.errors, h.reconnects, h.points,
                            h.points_per_s, h.last_error, dict(h.extra))

    # -- connection --------------------------------------------------------------------------
    async def _connect(self) -> None:
        from pymodbus.client import AsyncModbusTcpClient, AsyncModbusTlsClient

        kwargs: dict[str, Any] = dict(
            port=self.port, timeout=self.timeout_s, retries=0,  # resends are ours, counted
            reconnect_delay=0, trace_pdu=read_only_guard, name=self.name,
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
            raise SourceConnectError(f"modbus {self.name}: cannot connect to "
                                     f"{self.host}:{self.port}: {exc}") from exc
        if not ok:
            client.close()
            if self.sslctx is not None:
                await self._diagnose_tls()
            raise SourceConnectError(
                f"modbus {self.name}: cannot connect to {self.host}:{self.port}"
            )
        ctx = getattr(client, "ctx", None)
        if ctx is not None and hasattr(ctx, "max_until_disconnect"):
            # pymodbus drops the connection after retries+3 unanswered requests: a device slower
            # than the timeout would flip to Bad_NoCommunication and reconnect with backoff.
            # Unanswered requests are Bad_Timeout here; a lost connection is seen as such.
            ctx.max_until_disconnect = ctx.count_until_disconnect = 2**62
        self._client = client
        self._last_ok_ns = time.time_ns()

    def _on_connection_change(self, connected: bool) -> None:
        """pymodbus ``trace_connect`` hook: when the connection drops during a request, fail
        that request now instead of letting it wait out its timeout(s)."""
        if connected or self._client is None:
            return
        future = getattr(getattr(self._client, "ctx", None), "response_future", None)
        if isinstance(future, asyncio.Future) and not future.done():
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
        ConnectionException, ModbusException, ModbusIOException = _pymodbus_errors()
        try:  # bounded: pymodbus waits timeout_s per try (and per connect) itself
            return await method(req.address, count=req.count, device_id=self.unit)
        except ConnectionException as exc:
            raise SourceConnectError(f"modbus {self.name}: connection lost: {exc}") from exc
        except (ModbusIOException, TimeoutError) as exc:
            if self._client is not None and not self._client.connected:
                raise SourceConnectError(f"modbus {self.name}: connection lost: {exc}") from exc
            raise SourceTimeoutError(f"modbus {self.name}: no response: {exc}") from exc
        except ModbusException as exc:
            raise SourceProtocolError(f"modbus {self.name}: {exc}") from exc
        except OSError as exc:
            raise SourceConnectError(f"modbus {self.name}: {exc}") from exc
        except SourceError:
            raise
        except Exception as exc:  # anything else pymodbus may raise: never escapes raw
            raise SourceProtocolError(
                f"modbus {self.name}: {type(exc).__name__}: {exc}"
            ) from exc

    def _select(self, index: int, t_ns: int, values: np.ndarray, status: np.ndarray,
                text: list[str | None] | None) -> SampleBatch | None:
        """Good points always; others only when their status changed since last emitted."""
        last = self._last[index]
        dec = self._decoders[index]
        if not status.any():  # all Good (the usual case): everything is emitted
            n = dec.n
            last.fill(0)
        else:
            emit = (status & np.uint32(0x80000000)) == 0
            emit |= status != last
            last[:] = status
            n = int(emit.sum())
        if n == 0:
            return None
        if n == dec.n:
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
        batches = []
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
        was_bad = any(self._last[i][0] == q.BAD_TIMEOUT for i in range(first, len(self._last)))
        log.log(logging.DEBUG if was_bad else logging.WARNING,
                "%s (timeout %.3g s); Bad_Timeout for this poll", exc, self.timeout_s)
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
            b = self._select(i, t_ns, np.full(dec.n, np.nan),
                             np.full(dec.n, status, dtype=np.uint32), None)
            if b is not None:
                batches.append(b)
        if not batches:
            return None
        batch = SampleBatch.concat(batches)
        self._health.points += len(batch)
        return batch

    async def _poll_loop(self, emit: Emit, stop: asyncio.Event) -> None:
        period = self.every_s
        next_t = time.monotonic()
        while not stop.is_set():
            batch = await self.poll_once()
            if batch is not None:
                emit(batch)
            if period <= 0:  # back to back (benchmarks); each read already yields to the loop
                continue
            next_t += period
            now = time.monotonic()
            if now > next_t:  # overran: poll again at once (late), skip the ticks missed
                missed = int((now - next_t) // period)
                if missed:
                    self._skipped(missed)
                    next_t += missed * period
                await asyncio.sleep(0)  # let the loop breathe between back-to-back polls
                continue
            await _wait(stop, next_t - now)

    def _skipped(self, missed: int) -> None:
        """Count ticks a slow poll missed; a WARNING at most once a minute."""
        h = self._health
        h.extra["skipped_ticks"] += missed
        now = time.monotonic()
        if now - self._last_skip_log >= 60.0:
            self._last_skip_log = now
            log.warning("modbus %s: polls take longer than every=%.3g s: %d tick(s) skipped so "
                        "far (%d polls); poll less often or split the device's map",
                        self.name, self.every_s, h.extra["skipped_ticks"], h.extra["polls"])
        else:
            log.debug("modbus %s: poll overran, skipped %d tick(s)", self.name, missed)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Connect, poll and emit until ``stop`` is set; reconnect with backoff on failures."""
        backoff = self.backoff_initial
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
                backoff = self.backoff_initial
                await self._poll_loop(emit, stop)
            except SourceError as exc:
                self._on_failure(exc, emit)
            finally:
                self._close()
            if stop.is_set():
                break
            delay = backoff * (0.5 + 0.5 * self._rng.random())
            backoff = min(backoff * 2, self.backoff_max)
            log.debug("modbus %s: retrying in %.2f s", self.name, delay)
            await _wait(stop, delay)

    def _on_failure(self, exc: SourceError, emit: Emit) -> None:
        self._health.errors += 1
        self._health.last_error = str(exc)
        if isinstance(exc, SourceSecurityError) and "blocked Modbus" in str(exc):
            self._health.extra["blocked_writes"] += 1
        if isinstance(exc, SourceTimeoutError):
            status = q.BAD_TIMEOUT
        elif isinstance(exc, SourceProtocolError):
            status = q.BAD_COMMUNICATION_ERROR
        else:
            status = q.BAD_NO_COMMUNICATION
        level = logging.WARNING if self._health.connected or self._health.errors == 1 else (
            logging.DEBUG)
        log.log(level, "%s", exc)
        batch = self._fail_all(status)
        if batch is not None:
            emit(batch)


@functools.cache
def _pymodbus_errors() -> tuple[type[Exception], type[Exception], type[Exception]]:
    """pymodbus' exception classes, imported once on first use (keeps the import lazy)."""
    from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

    return ConnectionException, ModbusException, ModbusIOException


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set."""
    if seconds <= 0 or stop.is_set():
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)

