"""OPC UA subscriptions at plant scale: several subscriptions, several PublishRequests in flight.

asyncua 2.1.0 keeps exactly one PublishRequest outstanding per session (``UaSession.
_publish_loop``: send, await the response, dispatch, send the next). A server that publishes
faster than one round trip (decode included) then queues NotificationMessages and the latency
grows without bound. :class:`Subscriber` instead

- spreads the points over ``ceil(points / max_items_per_subscription)`` subscriptions (each
  with its own server-side publishing timer and queue),
- keeps ``publish_requests`` PublishRequests in flight (0: subscriptions + 2): asyncua's own
  loop plus ``publish_requests - 1`` loops of ours on the same session, each acknowledging
  what it received (Part 4, 5.13.5: the server answers queued requests in order),
- takes each PublishResponse in a plain callback (no per-notification Node or event object):
  the MonitoredItemNotifications go into a bounded inbox, converted to one
  :class:`~historian.acquisition.samples.SampleBatch` per drain,
- records the time of every PublishResponse (data or keep-alive) as the last time
  communication was known good, and fails when none came for ``max(timeout, 3 keep-alive
  intervals)`` (a server that hangs with its socket open),
- counts values the server flagged with the Part 4 overflow InfoBit (its monitored-item queue
  dropped values; the StatusCode is stored as is) and logs a WARNING.

Examples
--------
>>> keepalive_count(100.0), keepalive_count(2000.0)
(10, 1)
>>> is_overflow(0x00000480), is_overflow(0x00000080), is_overflow(0)
(True, False, False)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from historian.acquisition.mechanics import LogLimiter
from historian.acquisition.samples import SampleBatch
from historian.errors import SourceConnectError, SourceTimeoutError
from historian.model import quality as _q

__all__ = ["Subscriber", "is_overflow", "keepalive_count"]

logger = logging.getLogger(__name__)

_INFO_DATAVALUE = _q.INFO_TYPE_DATA_VALUE
_OVERFLOW = _q.INFO_OVERFLOW
_ITEMS_PER_REQUEST = 1000
_MAX_NOTIFICATIONS_PER_PUBLISH = 20_000


def is_overflow(code: int) -> bool:
    """True if a StatusCode carries the Part 4 Overflow InfoBit (the server's monitored-item
    queue discarded values before this one)."""
    return (code & (_INFO_DATAVALUE | _OVERFLOW)) == (_INFO_DATAVALUE | _OVERFLOW)


def keepalive_count(period_ms: float) -> int:
    """Publishing intervals between keep-alives: about one per second (at least one per
    interval), so a silent server is noticed within seconds."""
    return max(1, math.ceil(1000.0 / max(period_ms, 1.0)))


class Subscriber:
    """The subscriptions of one session, their publish loops and their inbox.

    Parameters
    ----------
    client : asyncua.Client
        Connected and activated.
    nodes : sequence of (node id, sampling ms, tags)
        What to monitor; the tags get each value of the node.
    period_ms : float
        Publishing interval.
    max_items : int
        Monitored items per subscription.
    publish_requests : int
        PublishRequests in flight; 0: one per subscription plus two.
    queue_size : int
        Notifications held in the inbox at most (oldest dropped past it, counted).
    timeout_s : float
        Request timeout of the source: with the keep-alive interval, bounds the silence
        accepted from the server.
    source : str
        Name of the source (batches, logs).
    extra : dict
        The source's health counters (``queue_full``, ``server_overflows``,
        ``more_notifications``, ``subscriptions``, ``publish_requests``).
    """

    def __init__(self, client: Any, nodes: Sequence[tuple[Any, float, list[str]]], *,
                 period_ms: float, max_items: int, publish_requests: int, queue_size: int,
                 timeout_s: float, source: str, extra: dict[str, Any]) -> None:  # fmt: skip
        self.client = client
        self.nodes = list(nodes)
        self.period_ms = period_ms
        self.max_items = max(1, int(max_items))
        self.n_subs = max(1, math.ceil(len(self.nodes) / self.max_items))
        self.publish_requests = int(publish_requests) or self.n_subs + 2
        self.queue_size = queue_size
        self.source = source
        self.extra = extra
        self.keepalive_s = keepalive_count(period_ms) * period_ms / 1000.0
        self.silence_s = max(timeout_s, 3 * self.keepalive_s, 3 * period_ms / 1000.0)
        self.last_ns: int | None = None  # last PublishResponse (data or keep-alive)
        self._last_mono = time.monotonic()
        self._by_handle: list[list[str]] = [[]]  # client handle -> tags (handle 0 unused)
        self._inbox: deque[tuple[int, list[Any]]] = deque()
        self._pending = 0
        self._wake = asyncio.Event()
        self._bad_status: list[Any] = []
        self._sub_ids: list[int] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._overflow_log = LogLimiter(10.0)
        self._drop_log = LogLimiter(10.0)
        for key in ("queue_full", "server_overflows", "more_notifications", "dropped"):
            extra.setdefault(key, 0)

    @property
    def backlog(self) -> int:
        """Notifications received and not yet taken."""
        return self._pending

    # -- set-up ----------------------------------------------------------------------------
    async def start(self) -> list[tuple[str, int]]:
        """Create the subscriptions and monitored items and start the publish loops; returns
        ``(tag, StatusCode)`` of the items the server refused."""
        from asyncua import ua

        uaclient = self.client.uaclient
        failed: list[tuple[str, int]] = []
        for s in range(self.n_subs):
            chunk = self.nodes[s * self.max_items : (s + 1) * self.max_items]
            params = ua.CreateSubscriptionParameters()
            params.RequestedPublishingInterval = self.period_ms
            params.RequestedMaxKeepAliveCount = keepalive_count(self.period_ms)
            params.RequestedLifetimeCount = max(
                3 * params.RequestedMaxKeepAliveCount,
                math.ceil(60_000.0 / max(self.period_ms, 1.0)),
            )
            # a whole interval in one message, a backlog split (MoreNotifications) into messages
            # of ~1 MB, far below max_message_size
            params.MaxNotificationsPerPublish = _MAX_NOTIFICATIONS_PER_PUBLISH
            params.PublishingEnabled = True
            params.Priority = 0
            result = await uaclient.create_subscription(params, callback=self._on_publish)
            self._sub_ids.append(int(result.SubscriptionId))
            revised = float(result.RevisedPublishingInterval or self.period_ms)
            # the server may revise the interval and the keep-alive count: silence is judged
            # against what it granted
            keepalive = revised * float(result.RevisedMaxKeepAliveCount or 1) / 1000.0
            self.keepalive_s = max(self.keepalive_s, keepalive)
            self.silence_s = max(self.silence_s, 3 * self.keepalive_s, 3 * revised / 1000.0)
            requests = []
            for node, sampling_ms, tags in chunk:
                handle = len(self._by_handle)
                self._by_handle.append(tags)
                queuesize = min(1000, max(10, 4 * math.ceil(revised / max(sampling_ms, 1.0)) + 1))
                req = ua.MonitoredItemCreateRequest()
                req.ItemToMonitor = ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.Value)
                req.MonitoringMode = ua.MonitoringMode.Reporting
                mp = ua.MonitoringParameters()
                mp.ClientHandle = handle
                mp.SamplingInterval = sampling_ms
                mp.QueueSize = queuesize
                mp.DiscardOldest = True
                req.RequestedParameters = mp
                requests.append((req, tags))
            for i in range(0, len(requests), _ITEMS_PER_REQUEST):
                part = requests[i : i + _ITEMS_PER_REQUEST]
                mparams = ua.CreateMonitoredItemsParameters()
                mparams.SubscriptionId = result.SubscriptionId
                mparams.TimestampsToReturn = ua.TimestampsToReturn.Both
                mparams.ItemsToCreate = [r for r, _ in part]
                results = await uaclient.create_monitored_items(mparams)
                for (_, tags), res in zip(part, results, strict=True):
                    if not res.StatusCode.is_good():
                        logger.warning("opcua %r: %s cannot be monitored: %s", self.source,
                                       tags, res.StatusCode.name)  # fmt: skip
                        failed += [(t, int(res.StatusCode.value)) for t in tags]
        # asyncua runs one publish loop (started by create_subscription); add ours
        for i in range(self.publish_requests - 1):
            self._tasks.append(asyncio.create_task(self._publish_loop(), name=f"publish:{i}"))
        self.extra["subscriptions"] = self.n_subs
        self.extra["publish_requests"] = self.publish_requests
        self.last_ns, self._last_mono = time.time_ns(), time.monotonic()
        logger.info("opcua %r: %d nodes in %d subscription(s), %d PublishRequests in flight "
                    "(publishing %.0f ms, keep-alive %.1f s)", self.source, len(self.nodes),
                    self.n_subs, self.publish_requests, self.period_ms,
                    self.keepalive_s)  # fmt: skip
        return failed

    async def stop(self) -> None:
        """Cancel our publish loops (the session itself is closed by the caller)."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- publish ---------------------------------------------------------------------------
    async def _publish_loop(self) -> None:
        from asyncua import ua
        from asyncua.ua.uaerrors import BadNoSubscription, BadTimeout

        uaclient = self.client.uaclient
        acks: list[Any] = []
        while True:
            try:
                response = await uaclient.publish(acks)
            except BadTimeout:
                acks = []
                continue
            except BadNoSubscription:
                return
            acks = []
            p = response.Parameters
            if not p.SubscriptionId:
                return
            if int(p.SubscriptionId) in self._sub_ids:
                self._on_publish(p)
            if p.NotificationMessage.NotificationData:
                acks.append(ua.SubscriptionAcknowledgement(
                    SubscriptionId=p.SubscriptionId,
                    SequenceNumber=p.NotificationMessage.SequenceNumber))  # fmt: skip

    def _on_publish(self, result: Any) -> None:
        """A PublishResponse (data or keep-alive): communication is good at this instant."""
        from asyncua import ua

        now = time.time_ns()
        data = result.NotificationMessage.NotificationData or ()
        if not any(isinstance(nd, ua.StatusChangeNotification) for nd in data):
            # (asyncua also calls this with a made-up StatusChangeNotification when the
            # connection is lost: that is no sign of life from the server)
            self.last_ns, self._last_mono = now, time.monotonic()
        if getattr(result, "MoreNotifications", False):
            self.extra["more_notifications"] += 1
        for nd in data:
            if isinstance(nd, ua.DataChangeNotification):
                items = nd.MonitoredItems or []
                if items:
                    self._inbox.append((now, items))
                    self._pending += len(items)
            elif isinstance(nd, ua.StatusChangeNotification):
                self._bad_status.append(nd.Status)
        while self._pending > self.queue_size and len(self._inbox) > 1:
            _, old = self._inbox.popleft()
            self._pending -= len(old)
            self.extra["queue_full"] += 1
            self.extra["dropped"] += len(old)
            if self._drop_log.due():
                logger.warning("opcua %r: %d notifications waiting (queue_size = %d): the "
                               "collector does not keep up; dropping the oldest (%d so far)",
                               self.source, self._pending, self.queue_size,
                               self.extra["dropped"])  # fmt: skip
        self._wake.set()

    # -- consume ---------------------------------------------------------------------------
    def check(self) -> None:
        """Raise when a publish loop died, a subscription reported Bad or the server went
        silent (no data and no keep-alive)."""
        for t in self._tasks:
            if t.done():
                exc = t.exception() if not t.cancelled() else None
                raise SourceConnectError(f"publish loop ended: {exc or 'cancelled'}")
        if self._bad_status:
            status = self._bad_status.pop()
            if not status.is_good():
                raise SourceConnectError(f"subscription status {status.name}")
        silent = time.monotonic() - self._last_mono
        if silent > self.silence_s:
            raise SourceTimeoutError(f"no PublishResponse (data or keep-alive) for {silent:.1f} s")

    async def wait(self, timeout: float) -> None:
        """Until something is in the inbox (or ``timeout``)."""
        if self._inbox:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def take(
        self, point: Callable[[Any, Any, int], tuple[int, float, int, str | None]]
    ) -> SampleBatch | None:
        """Everything in the inbox as one batch (``point(dv, value, received_ns)`` converts)."""
        if not self._inbox:
            return None
        tags: list[str] = []
        ts: list[int] = []
        vs: list[float] = []
        qs: list[int] = []
        texts: list[str | None] = []
        by_handle = self._by_handle
        n_handles = len(by_handle)
        overflows = 0
        while self._inbox:
            received, items = self._inbox.popleft()
            self._pending -= len(items)
            for it in items:
                h = it.ClientHandle
                if not 0 < h < n_handles:
                    continue
                dv = it.Value
                variant = dv.Value
                t, v, c, text = point(dv, variant.Value if variant is not None else None, received)
                if c & _OVERFLOW and is_overflow(c):
                    overflows += 1
                for tag in by_handle[h]:
                    tags.append(tag)
                    ts.append(t)
                    vs.append(v)
                    qs.append(c)
                    texts.append(text)
        if overflows:
            self.extra["server_overflows"] += overflows
            if self._overflow_log.due():
                logger.warning("opcua %r: the server signalled %d queue overflow(s) (values "
                               "dropped in its monitored-item queues; recorded in quality, %d so "
                               "far): sample less often or publish more often", self.source,
                               overflows, self.extra["server_overflows"])  # fmt: skip
        if not tags:
            return None
        return SampleBatch(tags, np.array(ts, np.int64), np.array(vs, np.float64),
                           np.array(qs, np.uint32), self.source,
                           texts if any(x is not None for x in texts) else None)  # fmt: skip
