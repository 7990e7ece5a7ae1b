"""OPC UA source (asyncua): subscriptions or polling, secure by default, reconnecting.

- **Subscribe** (``acquire = "subscribe"``): data-change monitored items spread over several
  subscriptions with several PublishRequests in flight
  (:mod:`historian.acquisition.opcua_subscribe`; ``max_items_per_subscription``,
  ``publish_requests``), into a bounded inbox. Each notification keeps its source timestamp
  (else the server timestamp, else the receive time) and its full StatusCode (InfoBits such as
  the Part 4 Overflow bit included); a Bad notification carries a null value, stored as NaN
  with the Bad code kept.
- **Poll** (``acquire = "poll"``): full DataValues via a Read service with
  ``TimestampsToReturn.Both`` every ``every``; unchanged values (same source timestamp, status
  and value) are not emitted twice.
- **Types**: on every connect the DataType attribute of all nodes is read in one Read request
  (:func:`~historian.acquisition.opcua_text.node_types`): String/LocalizedText nodes (and String
  subtypes) are reported through :attr:`OpcUaSource.on_text_tags` before any value is emitted
  (the collector defines them ``type="string"``); enumerations get their labels.
- ``nsu=<namespace URI>;...`` node ids are resolved to namespace indexes on *every* connect
  (indexes may change when a server restarts).
- On a lost connection the source records one ``Bad_NoCommunication`` point per tag stamped
  1 ns after communication was last known good (the last PublishResponse, data or keep-alive,
  or the last successful Read), before tearing the session down; it reconnects with jittered
  exponential backoff (a fresh session), recreates its subscription and resumes. asyncua's own
  auto-reconnect is not used: it sends no status change and restores subscriptions with the
  *old* namespace indexes.
- **Security**: ``SecurityPolicy None`` is refused unless ``allow_insecure = true`` (then a
  WARNING is logged at every connect); Basic128Rsa15 and Basic256 are refused always; otherwise
  Basic256Sha256 (or Aes*) Sign/SignAndEncrypt with a client certificate whose SAN URI becomes
  the application URI; the server certificate is validated against the ``trust`` folder (asyncua
  alone would accept any) *and* must be a serverAuth certificate for the host of the URL,
  optionally pinned by ``server_uri``/``server_thumbprint``
  (:func:`~historian.acquisition.opcua_security.check_server_certificate`), all before any user
  name or password is sent; a password that would cross the wire readable is refused unless
  ``allow_plaintext_password = true``; messages from the server are bounded by
  ``max_message_size`` (:mod:`historian.acquisition.opcua_client`). User/password come from the
  environment variables named in the config and are never logged.
- Errors map to :class:`~historian.errors.SourceError` subclasses; asyncua exceptions never
  escape raw.

Examples
--------
>>> from historian.acquisition.config import OpcUaPoint, OpcUaSourceConfig
>>> cfg = OpcUaSourceConfig(name="r", url="opc.tcp://127.0.0.1:4840",
...     points=(OpcUaPoint("TIC-101.PV", "nsu=urn:example:plant;s=Reactor.Temperature"),))
>>> OpcUaSource(cfg)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
historian.errors.SourceSecurityError: opcua 'r': certificate: missing; ...
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from historian.acquisition.config import (
    OpcUaSourceConfig,
    check_node_id,
    check_opcua_security,
)
from historian.acquisition.mechanics import (
    Backoff,
    RateMeter,
    RepeatFilter,
    Ticker,
    wait_or_stop,
)
from historian.acquisition.opcua_channel import secure_channel
from historian.acquisition.opcua_errors import map_error as _map_error
from historian.acquisition.opcua_errors import opcua_errors
from historian.acquisition.opcua_security import install_log_redaction
from historian.acquisition.opcua_text import label_enums, node_types, point_text
from historian.acquisition.samples import Emit, SampleBatch, SourceHealth
from historian.errors import (
    InvalidArgumentError,
    SourceConnectError,
    SourceError,
    SourceSecurityError,
)
from historian.model import quality as q

__all__ = ["BrowsedVariable", "OpcUaSource", "abrowse", "browse", "config_stub"]

logger = logging.getLogger(__name__)

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_READ_CHUNK = 1000


# --------------------------------------------------------------------------- helpers
def _dt_to_ns(d: _dt.datetime | None) -> int | None:
    if d is None:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    delta = d - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    return ns if ns > 0 else None  # OPC UA "MinDateTime" (1601) means "not set"


def _to_float(value: Any) -> float | None:
    """A float for numeric/bool scalars; None for anything else (strings, arrays, structures)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, np.integer | np.floating | np.bool_):
        return float(value)
    return None


def _status_code(dv: Any) -> int:
    sc = getattr(dv, "StatusCode", None)
    if sc is None:
        sc = getattr(dv, "StatusCode_", None)
    if sc is None:
        return q.GOOD
    return int(getattr(sc, "value", sc)) & 0xFFFFFFFF


def _point(dv: Any, value: Any, received_ns: int) -> tuple[int, float, int, str | None]:
    """(t_ns, value, quality, text) for one DataValue; Bad -> NaN with the code kept; texts
    (String, LocalizedText, EnumValueType) as in :mod:`historian.acquisition.opcua_text`."""
    code = _status_code(dv)
    t = _dt_to_ns(getattr(dv, "SourceTimestamp", None)) or _dt_to_ns(
        getattr(dv, "ServerTimestamp", None)
    )
    if t is None:
        t = received_ns
    if code & q.BAD:
        return t, math.nan, code, None
    if value is None:
        return t, math.nan, q.BAD_NO_DATA, None
    f = _to_float(value)
    if f is None:
        got = point_text(code, value)
        if got is None:
            return t, math.nan, q.BAD_TYPE_MISMATCH, None
        return t, got[0], got[1], got[2]
    return t, f, code, None


@dataclass(frozen=True)
class _Resolved:
    tag: str
    node: Any  # ua.NodeId
    sampling_ms: float


# --------------------------------------------------------------------------- the source
class OpcUaSource:
    """One OPC UA server: subscribes to (or polls) the configured nodes and emits batches.

    Parameters
    ----------
    config : OpcUaSourceConfig
        The ``[[opcua]]`` section (see :mod:`historian.acquisition.config`).
    environ : mapping, optional
        Where the variables named by ``username_env``, ``password_env`` and
        ``private_key_password_env`` are looked up (default ``os.environ``): pass credentials
        explicitly, e.g. ``environ={"PLANT_OPCUA_USER": user, "PLANT_OPCUA_PASSWORD": pw}``.

    Raises
    ------
    SourceSecurityError
        At construction, for ``security_policy = "None"`` without ``allow_insecure``, a password
        over None, or missing certificate/key/trust settings.

    Notes
    -----
    :meth:`run` implements the :class:`~historian.acquisition.samples.Source` protocol: it never
    raises because of the server; it emits Bad points, counts errors and reconnects.
    :meth:`connect` / :meth:`read` / :meth:`disconnect` are there for one-off use and raise
    :class:`~historian.errors.SourceError` subclasses.
    """

    def __init__(
        self, config: OpcUaSourceConfig, *, environ: Mapping[str, str] | None = None
    ) -> None:
        # where username_env / password_env / private_key_password_env are looked up:
        # os.environ unless given (the demo hands over the simulator's login this way)
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        try:
            check_opcua_security(config)
        except ValueError as exc:
            raise SourceSecurityError(f"opcua {config.name!r}: {exc}") from exc
        if "@" in (config.url.split("//", 1)[-1].split("/", 1)[0]):
            raise SourceSecurityError(
                f"opcua {config.name!r}: credentials in the URL are refused; use "
                "username_env/password_env"
            )
        for p in config.points:
            try:
                check_node_id(p.node)
            except ValueError as exc:
                raise InvalidArgumentError(f"opcua {config.name!r} tag {p.tag!r}: {exc}") from exc
        self.config = config
        self.name = config.name
        self.tags = [p.tag for p in config.points]
        self._client: Any = None
        self._health = SourceHealth()
        self._rate = RateMeter()
        self._resolved: list[_Resolved] = []
        self._enum_labels: dict[str, dict[int, str]] = {}  # tag -> enumeration labels
        #: the tags whose node has a String or LocalizedText DataType (read at each connect)
        self.text_tags: tuple[str, ...] = ()
        #: awaited with :attr:`text_tags` after each connect, before any value is emitted (the
        #: collector sets it to define those tags ``type="string"`` first)
        self.on_text_tags: Callable[[Sequence[str]], Awaitable[None]] | None = None
        self._unresolved: list[tuple[str, int]] = []
        self._warned_insecure = False
        self._repeats = RepeatFilter()
        self._subscriber: Any = None
        # the last instant communication was known good (a PublishResponse, data or keep-alive;
        # a successful Read when polling) and the latest value time emitted: a gap's
        # Bad_NoCommunication is stamped just after both
        self._last_comm_ns: int | None = None
        self._last_value_ns: int | None = None

    def __repr__(self) -> str:
        return f"OpcUaSource(name={self.name!r}, url={self.config.url!r}, points={len(self.tags)})"

    # -- health ----------------------------------------------------------------------------
    def health(self) -> SourceHealth:
        """A snapshot: connected, last good time, errors, reconnects, points and points/s."""
        h = self._health
        sub = self._subscriber
        return replace(h, points_per_s=self._rate.rate(h.points), extra=dict(h.extra),
                       backlog=sub.backlog if sub is not None else 0)  # fmt: skip

    def _emit(self, emit: Emit, batch: SampleBatch) -> None:
        if not len(batch):
            return
        batch = label_enums(batch, self._enum_labels)
        self._health.points += len(batch)
        good = q.good_mask(batch.quality)
        if good.any():
            self._health.last_good_ns = int(batch.t_ns[good].max())
        latest = int(batch.t_ns.max())
        if self._last_value_ns is None or latest > self._last_value_ns:
            self._last_value_ns = latest
        emit(batch)

    def _emit_all(self, emit: Emit, code: int) -> None:
        n, now = len(self.tags), time.time_ns()
        batch = SampleBatch.from_points(self.tags, now, [None] * n, code, source=self.name)
        self._emit(emit, batch)

    def _emit_gap(self, emit: Emit) -> None:
        """``Bad_NoCommunication`` for every tag, stamped 1 ns after communication was last
        known good (the last PublishResponse or successful Read) and after the latest value
        emitted, not when the loss was noticed (seconds later for a hung server)."""
        marks = [t for t in (self._last_comm_ns, self._last_value_ns) if t is not None]
        t = min(max(marks) + 1, time.time_ns()) if marks else time.time_ns()
        if self._last_value_ns is not None and t <= self._last_value_ns:
            t = self._last_value_ns + 1  # a server clock ahead of ours: still after its values
        n = len(self.tags)
        self._emit(
            emit,
            SampleBatch.from_points(
                self.tags, t, [None] * n, q.BAD_NO_COMMUNICATION, source=self.name
            ),
        )

    # -- connection ----------------------------------------------------------------------
    async def connect(self) -> None:
        """Connect, secure the channel, log in and resolve namespaces (raises SourceError)."""
        from historian.acquisition.opcua_client import GuardedClient

        cfg = self.config
        where = f"opcua {cfg.name!r} ({cfg.url})"
        install_log_redaction()
        # The keep-alive probe (a Read of ServerState) times out after watchdog_intervall: a busy
        # server answers slowly, so give it the request timeout rather than asyncua's 1 s.
        client = GuardedClient(
            cfg.url, where=where, max_message_size=cfg.max_message_size,
            allow_plaintext_password=cfg.allow_plaintext_password, timeout=cfg.timeout_s,
            watchdog_intervall=max(2.0, cfg.timeout_s),
        )  # fmt: skip
        client.strip_url_credentials = True
        client.name = client.description = "historian collector"
        client.product_uri = "urn:historian:collector"
        client.session_timeout = 60_000
        try:
            if cfg.security_policy == "None":
                log = logger.debug if self._warned_insecure else logger.warning
                log("%s: SecurityPolicy None (allow_insecure = true): data travels unsigned and "
                    "unencrypted", where)  # fmt: skip
                self._warned_insecure = True
            else:
                await secure_channel(client, cfg, self._environ, where)
            await asyncio.wait_for(client.connect(), timeout=cfg.timeout_s * 3)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                client.disconnect_socket()
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                raise
            raise _map_error(exc, where) from exc
        self._client = client
        try:
            self._resolved, self._unresolved = await self._resolve(client)
            types = await node_types(client, [(r.tag, r.node) for r in self._resolved])
            self._enum_labels, self.text_tags = types.labels, types.text
        except BaseException as exc:
            await self._teardown()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _map_error(exc, where) from exc
        mode = cfg.security_mode if cfg.security_policy != "None" else "no security"
        logger.info("%s: connected (%s, %s)", where, cfg.security_policy, mode)

    async def _resolve(self, client: Any) -> tuple[list[_Resolved], list[tuple[str, int]]]:
        """Node ids with namespace URIs turned into indexes for *this* session."""
        from asyncua import ua

        ns_array = list(await client.get_namespace_array())
        ok: list[_Resolved] = []
        bad: list[tuple[str, int]] = []
        default_ms = self.config.every_s * 1000.0
        for p in self.config.points:
            nid = ua.NodeId.from_string(p.node)
            uri = getattr(nid, "NamespaceUri", None)
            if uri:
                if uri not in ns_array:
                    logger.error("opcua %r: tag %r: namespace %r is not on the server (has %s)",
                                 self.name, p.tag, uri, ns_array)  # fmt: skip
                    bad.append((p.tag, q.BAD_CONFIGURATION_ERROR))
                    continue
                index = ns_array.index(uri)
                nid = ua.NodeId(nid.Identifier, index, nid.NodeIdType)  # type: ignore[arg-type]
            else:
                nid = ua.NodeId(nid.Identifier, nid.NamespaceIndex, nid.NodeIdType)
            ms = p.sampling_s * 1000.0 if p.sampling_s is not None else default_ms
            ok.append(_Resolved(p.tag, nid, ms))
        return ok, bad

    async def _teardown(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await asyncio.wait_for(client.disconnect(), timeout=2.0)
        except BaseException:  # a dead connection cannot close cleanly
            with contextlib.suppress(Exception):
                client.disconnect_socket()

    async def disconnect(self) -> None:
        """Close the session (no error if not connected)."""
        await self._teardown()
        self._health.connected = False

    async def read(self) -> SampleBatch:
        """One Read of every point (full DataValues, both timestamps). Needs :meth:`connect`."""
        if self._client is None:
            raise SourceConnectError(f"opcua {self.name!r}: not connected; call connect() first")
        with opcua_errors(f"opcua {self.name!r}"):
            return await self._read_all(self._client)

    async def _read_all(self, client: Any) -> SampleBatch:
        from asyncua import ua

        tags: list[str] = []
        ts: list[int] = []
        vs: list[float] = []
        qs: list[int] = []
        texts: list[str | None] = []
        for i in range(0, len(self._resolved), _READ_CHUNK):
            chunk = self._resolved[i : i + _READ_CHUNK]
            params = ua.ReadParameters()
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            params.MaxAge = 0
            for r in chunk:
                rv = ua.ReadValueId()
                rv.NodeId = r.node
                rv.AttributeId = ua.AttributeIds.Value
                params.NodesToRead.append(rv)
            results = await client.uaclient.read(params)
            now = time.time_ns()
            for r, dv in zip(chunk, results, strict=True):
                value = dv.Value.Value if dv.Value is not None else None
                t, v, c, text = _point(dv, value, now)
                tags.append(r.tag)
                ts.append(t)
                vs.append(v)
                qs.append(c)
                texts.append(text)
        return SampleBatch(tags, np.array(ts, np.int64), np.array(vs, np.float64),
                           np.array(qs, np.uint32), self.name,
                           texts if any(x is not None for x in texts) else None)  # fmt: skip

    # -- run loop --------------------------------------------------------------------------
    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Acquire until ``stop`` is set; reconnect on loss and record outages as Bad points."""
        cfg = self.config
        backoff = Backoff(0.5, cfg.reconnect_max_delay_s, jitter=(0.8, 1.2))
        outage_recorded = False
        ever_connected = False
        while not stop.is_set():
            try:
                await self.connect()
            except asyncio.CancelledError:
                raise
            except SourceError as exc:
                h = self._health
                h.errors += 1
                h.last_error = str(exc)
                h.connected = False
                log = logger.error if isinstance(exc, SourceSecurityError) else logger.warning
                log("%s; retrying in %.1f s", exc, backoff.delay_s)
                if not outage_recorded:
                    code = (q.BAD_NO_COMMUNICATION if not isinstance(exc, SourceSecurityError)
                            else q.BAD_SECURITY_CHECKS_FAILED)  # fmt: skip
                    self._emit_all(emit, code)
                    outage_recorded = True
                if isinstance(exc, SourceSecurityError):
                    backoff.at_least(min(cfg.reconnect_max_delay_s, 10.0))
                await wait_or_stop(stop, backoff.next())
                continue
            if ever_connected:
                self._health.reconnects += 1
                logger.info("opcua %r: reconnected after an outage", self.name)
            ever_connected = True
            if self.on_text_tags is not None:  # text tags defined before their first value
                await self.on_text_tags(self.text_tags)
            self._last_comm_ns = time.time_ns()
            self._health.connected = True
            backoff.reset()
            outage_recorded = False
            if self._unresolved:
                self._emit(emit, SampleBatch.from_points(
                    [t for t, _ in self._unresolved], time.time_ns(),
                    [None] * len(self._unresolved), [c for _, c in self._unresolved],
                    source=self.name))  # fmt: skip
            try:
                if cfg.acquire == "poll":
                    await self._poll_loop(emit, stop)
                else:
                    await self._subscribe_loop(emit, stop)
            except asyncio.CancelledError:
                await self._teardown()
                raise
            except Exception as exc:
                err = _map_error(exc, f"opcua {self.name!r}")
                self._health.errors += 1
                self._health.last_error = str(err)
                logger.warning("opcua %r: connection lost (%s); recording Bad_NoCommunication "
                               "and reconnecting", self.name, err)  # fmt: skip
            self._health.connected = False
            if not stop.is_set():  # the gap is recorded before the (slow) teardown
                self._emit_gap(emit)
                outage_recorded = True
            await self._teardown()
            if not stop.is_set():
                await wait_or_stop(stop, backoff.jittered())
        await self._teardown()
        self._health.connected = False
        logger.info("opcua %r: stopped", self.name)

    def _check_alive(self, client: Any) -> None:
        from asyncua.client.ua_client import UaClientState

        if client.uaclient.state is not UaClientState.CONNECTED:
            raise SourceConnectError(f"connection state {client.uaclient.state.name}")

    async def _subscribe_loop(self, emit: Emit, stop: asyncio.Event) -> None:
        from historian.acquisition.opcua_subscribe import Subscriber

        client = self._client
        cfg = self.config
        lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        tags_of: dict[Any, list[str]] = {}
        sampling: dict[Any, float] = {}
        for r in self._resolved:
            tags_of.setdefault(r.node, []).append(r.tag)
            sampling.setdefault(r.node, r.sampling_ms)
        nodes = [(n, sampling[n], tags) for n, tags in tags_of.items()]
        sub = self._subscriber = Subscriber(
            client, nodes, period_ms=cfg.every_s * 1000.0,
            max_items=cfg.max_items_per_subscription, publish_requests=cfg.publish_requests,
            queue_size=cfg.queue_size, timeout_s=cfg.timeout_s, source=self.name,
            extra=self._health.extra,
        )  # fmt: skip
        try:
            failed = await sub.start()
            if failed:
                self._emit(emit, SampleBatch.from_points(
                    [t for t, _ in failed], time.time_ns(), [None] * len(failed),
                    [c for _, c in failed], source=self.name))  # fmt: skip
            while not stop.is_set():
                if lost.is_set():
                    raise SourceConnectError("connection lost")
                self._check_alive(client)
                sub.check()
                self._last_comm_ns = sub.last_ns
                await sub.wait(0.25)
                batch = sub.take(_point)
                self._last_comm_ns = sub.last_ns
                if batch is not None:
                    self._emit(emit, batch)
                    await asyncio.sleep(0)  # let the publish loops run between drains
        finally:
            self._subscriber = None
            await sub.stop()

    async def _poll_loop(self, emit: Emit, stop: asyncio.Event) -> None:
        client = self._client
        ticker = Ticker(self.config.every_s, late_poll=False)
        skipped = 0
        while not stop.is_set():
            self._check_alive(client)
            timeout = self.config.timeout_s * 2
            batch = await asyncio.wait_for(self._read_all(client), timeout=timeout)
            self._last_comm_ns = time.time_ns()
            self._emit(emit, self._only_changed(batch))
            missed, wait_s = ticker.advance()  # fell behind: skip ticks, never pile up requests
            if missed:
                skipped += missed
                self._health.extra["skipped_ticks"] = skipped
            await wait_or_stop(stop, wait_s)

    def _only_changed(self, batch: SampleBatch) -> SampleBatch:
        changed = self._repeats.changed
        keep = np.fromiter(
            (changed(tag, int(batch.t_ns[i]), float(batch.values[i]), int(batch.quality[i]))
             for i, tag in enumerate(batch.tags)), dtype=bool, count=len(batch),
        )  # fmt: skip
        if keep.all():
            return batch
        idx = np.flatnonzero(keep)
        return SampleBatch(
            [batch.tags[i] for i in idx],
            batch.t_ns[idx],
            batch.values[idx],
            batch.quality[idx],
            batch.source,
            None if batch.text is None else [batch.text[i] for i in idx],
        )


# browse and config stubs live in opcua_browse (one job a module); re-exported for the old path
from historian.acquisition.opcua_browse import (  # noqa: E402
    BrowsedVariable,
    abrowse,
    browse,
    config_stub,
)
