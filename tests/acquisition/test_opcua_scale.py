"""OPC UA at plant scale against a real asyncua server on 127.0.0.1: points spread over several
subscriptions, several PublishRequests queued at the server, the Part 4 overflow bit, the
inbox bound, per-source latency in the collector's health and its WARNING."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
from opcua_servers import UaServer, free_port

import historian.acquisition.collector as collector_mod
from historian.acquisition.collector import Collector
from historian.acquisition.config import OpcUaPoint, OpcUaSourceConfig, loads
from historian.acquisition.opcua import OpcUaSource
from historian.acquisition.samples import SampleBatch, SourceHealth


def source_config(server: UaServer, **kw) -> OpcUaSourceConfig:
    points = tuple(OpcUaPoint(f"L1.{n}", server.node_id(n), sampling_s=0.01) for n in server.names)
    return OpcUaSourceConfig(name="line1", url=server.url, security_policy="None",
                             allow_insecure=True, every_s=kw.pop("every_s", 0.05), points=points,
                             **kw)  # fmt: skip


async def until(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def queued_publish_requests(server: UaServer) -> int:
    return sum(len(c.processor._publish_requests) for c in server.server.bserver.clients
               if c.processor is not None)  # fmt: skip


def test_points_over_several_subscriptions_with_several_publish_requests_queued():
    async def main():
        names = tuple(f"V{i:03d}" for i in range(60))
        server = await UaServer(free_port(), names=names).start()
        src = OpcUaSource(source_config(server, max_items_per_subscription=16, every_s=0.5))
        got: list[SampleBatch] = []
        stop = asyncio.Event()
        task = asyncio.create_task(src.run(got.append, stop))
        try:
            await until(lambda: src.health().extra.get("publish_requests") == 6)
            # idle (no changes): the server holds our PublishRequests, waiting to answer them
            await until(lambda: queued_publish_requests(server) >= 5)
            queued = queued_publish_requests(server)
            for k in range(1, 6):
                for n in names:
                    await server.write(n, float(k))
                await asyncio.sleep(0.6)  # one value per publishing interval (0.5 s)
            want = {(f"L1.{n}", float(k)) for n in names for k in range(1, 6)}
            await until(lambda: want <= {(t, v) for b in got
                                         for t, v in zip(b.tags, b.values.tolist(),
                                                         strict=True)})  # fmt: skip
        finally:
            stop.set()
            await task
            await server.stop()
        return src.health(), queued

    health, queued = asyncio.run(main())
    assert health.extra["subscriptions"] == 4  # ceil(60 / 16)
    assert health.extra["publish_requests"] == 6  # subscriptions + 2
    assert queued >= 5
    assert health.extra["dropped"] == 0 and health.backlog == 0


def test_server_overflow_bit_is_kept_in_quality_counted_and_warned(caplog):
    async def main():
        server = await UaServer(free_port(), names=("Temp",)).start()
        src = OpcUaSource(source_config(server))
        got: list[SampleBatch] = []
        stop = asyncio.Event()
        task = asyncio.create_task(src.run(got.append, stop))
        try:
            await until(lambda: src.health().connected and len(got) >= 1)
            await server.write("Temp", 7.5, status=0x00000480)  # Good, InfoType DataValue|Overflow
            await until(lambda: src.health().extra.get("server_overflows", 0) >= 1)
        finally:
            stop.set()
            await task
            await server.stop()
        return got, src.health()

    with caplog.at_level(logging.WARNING, logger="historian.acquisition.opcua_subscribe"):
        got, health = asyncio.run(main())
    flagged = [(v, s) for b in got for v, s in zip(b.values.tolist(), b.quality.tolist(),
                                                    strict=True) if s == 0x480]  # fmt: skip
    assert flagged == [(7.5, 0x480)]  # the value kept, its StatusCode stored as served
    assert health.extra["server_overflows"] == 1
    assert any("queue overflow" in r.getMessage() for r in caplog.records)


def publish_result(handles: list[int], value: float) -> object:
    from asyncua import ua

    items = [ua.MonitoredItemNotification(ClientHandle=h, Value=ua.DataValue(ua.Variant(value)))
             for h in handles]  # fmt: skip
    msg = ua.NotificationMessage(NotificationData=[ua.DataChangeNotification(MonitoredItems=items)])
    return ua.PublishResult(SubscriptionId=1, NotificationMessage=msg)


def test_inbox_bound_drops_oldest_counts_and_warns(caplog):
    from asyncua import ua

    from historian.acquisition.opcua import _point
    from historian.acquisition.opcua_subscribe import Subscriber

    async def main():
        extra: dict = {}
        nodes = [(ua.NodeId(i, 2), 10.0, [f"T{i}"]) for i in range(8)]
        sub = Subscriber(None, nodes, period_ms=100, max_items=100, publish_requests=0,
                         queue_size=20, timeout_s=4, source="s", extra=extra)  # fmt: skip
        sub._by_handle = [[], *[tags for _, _, tags in nodes]]
        for k in range(5):  # 5 responses of 8 notifications, the consumer busy meanwhile
            sub._on_publish(publish_result(list(range(1, 9)), float(k)))
        backlog = sub.backlog
        batch = sub.take(_point)
        return extra, backlog, batch, sub.backlog

    with caplog.at_level(logging.WARNING, logger="historian.acquisition.opcua_subscribe"):
        extra, backlog, batch, after = asyncio.run(main())
    assert backlog == 16 and after == 0  # two responses kept (<= 20), the three oldest dropped
    assert extra["dropped"] == 24 and extra["queue_full"] == 3
    assert sorted(set(batch.values.tolist())) == [3.0, 4.0]  # the newest kept, in order
    assert any("dropping the oldest" in r.getMessage() for r in caplog.records)


class LaggingSource:
    """A real in-process Source whose points get older and older (a server falling behind)."""

    def __init__(self) -> None:
        self.name, self.tags = "lagging", ["LAG.PV"]
        self._health = SourceHealth()

    async def run(self, emit, stop) -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            lag_s = 0.5 + 4.0 * (time.monotonic() - t0)  # grows 4 s per second
            t = time.time_ns() - int(lag_s * 1e9)
            emit(
                SampleBatch(
                    ["LAG.PV"] * 5,
                    np.full(5, t, np.int64) + np.arange(5),
                    np.arange(5, dtype=np.float64),
                    np.zeros(5, np.uint32),
                    self.name,
                )
            )
            await asyncio.sleep(0.02)

    def health(self) -> SourceHealth:
        return self._health


def test_latency_per_source_and_a_warning_when_it_keeps_growing(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(collector_mod, "_TREND_WINDOW_S", 0.2)
    cfg = loads('[store]\npath = "plant.hist"\n[collector]\nbatch_interval = "20ms"\n',
                base_dir=tmp_path)  # fmt: skip
    c = Collector(cfg, sources=[LaggingSource()])
    with caplog.at_level(logging.WARNING, logger="historian.acquisition.collector"):
        c.start()
        try:
            deadline = time.monotonic() + 20
            while not any("keeps growing" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "no WARNING about the growing latency"
                time.sleep(0.05)
            h = c.health().sources["lagging"]
        finally:
            c.stop()
    assert h.latency_p50_s is not None and h.latency_p95_s >= h.latency_p50_s > 0.5
    assert "'lagging'" in next(r.getMessage() for r in caplog.records
                               if "keeps growing" in r.getMessage())  # fmt: skip
