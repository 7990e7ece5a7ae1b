"""The collector against real OPC UA servers on 127.0.0.1 and a real store in tmp_path."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from opcua_servers import UaServer, free_port

import historian
from historian import _sync, testing
from historian.acquisition.collector import Collector
from historian.acquisition.config import loads
from historian.acquisition.samples import SampleBatch, SourceHealth
from historian.model import quality as q

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
T0_NS = 1772366400_000_000_000
DAY = 86_400_000_000_000
MS = 1_000_000


def config_text(server: UaServer, tmp: Path, extra: str = "", point_extra: str = "") -> str:
    text = f"""
[store]
path = "plant.hist"

[collector]
batch_interval = "50ms"
health_every = "500ms"
{extra}

[[opcua]]
name = "line1"
url = "{server.url}"
security_policy = "None"
allow_insecure = true
every = "50ms"
reconnect_max_delay = "1s"
"""
    for name in server.names:
        text += f"""
  [[opcua.points]]
  tag = "L1.{name}"
  node = "{server.node_id(name)}"
  sampling = "5ms"
  unit = "degC"
{point_extra}
"""
    return text


async def write_series(
    server: UaServer,
    name: str,
    n: int,
    *,
    every_ms: int = 20,
    start: dt.datetime = T0,
    value0: float = 1.0,
) -> list[tuple[int, float]]:
    sent = []
    for i in range(n):
        t = start + dt.timedelta(milliseconds=every_ms * i)
        v = value0 + i * 0.5
        await server.write(name, v, source_time=t)
        sent.append((T0_NS + int((t - T0).total_seconds() * 1000) * MS, v))
        await asyncio.sleep(every_ms / 1000)
    return sent


def stored(path: Path, tag: str) -> list[tuple[int, float | None, int]]:
    with historian.open(path, mode="r") as h:
        t = h.read(tag)
    times = t.column("time").cast(pa.int64()).to_pylist()
    return list(zip(times, t.column("value").to_pylist(), t.column("quality").to_pylist(),
                    strict=True))  # fmt: skip


async def wait_until(
    pred, timeout: float = 60.0
) -> None:  # cold Numba caches in CI compile on first use
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def test_collects_into_store_with_tags_defined_and_health(tmp_path, caplog):
    async def main():
        server = await UaServer(free_port()).start()
        cfg = loads(config_text(server, tmp_path), base_dir=tmp_path)
        c = Collector(cfg)
        task = asyncio.create_task(c.arun())
        try:
            await wait_until(lambda: c.health().sources["line1"].connected)
            # The subscription's first notifications (current values) must be in before the
            # writes start, or the first write supersedes the initial value (a race, not a loss).
            await wait_until(lambda: c.health().sources["line1"].points >= 2)
            sent = await write_series(server, "Temp", 50)
            await wait_until(lambda: c.health().written_points >= 52)
            h = c.health()
            assert h.sources["line1"].points_per_s > 0 and h.store_ok
            assert h.latency_p50_s is not None and h.latency_p95_s is not None
        finally:
            c.request_stop()
            await task
            await server.stop()
        return sent

    with caplog.at_level(logging.INFO, logger="historian"):
        sent = asyncio.run(main())
    rows = stored(tmp_path / "plant.hist", "L1.Temp")
    rows = [(t, v) for t, v, _ in rows if T0_NS <= t < T0_NS + DAY]
    assert rows == sent
    with historian.open(tmp_path / "plant.hist", mode="r") as h:
        assert set(h.tags().column("name").to_pylist()) == {"L1.Temp", "L1.Flow"}
        assert h.tags().column("unit").to_pylist() == ["degC", "degC"]
    assert any("source line1: connected=True" in r.getMessage() for r in caplog.records)
    assert any(r.getMessage().startswith("collector: queue=") for r in caplog.records)


def test_server_restart_records_no_communication_gap_then_resumes(tmp_path):
    async def main():
        port = free_port()
        server = await UaServer(port).start()
        c = Collector(loads(config_text(server, tmp_path), base_dir=tmp_path))
        task = asyncio.create_task(c.arun())
        try:
            await wait_until(lambda: c.health().sources["line1"].connected)
            await wait_until(lambda: c.health().sources["line1"].points >= 2)  # initial values in
            before = await write_series(server, "Temp", 10)
            await asyncio.sleep(0.2)
            await server.stop()
            down_at = time.time_ns()
            await wait_until(lambda: not c.health().sources["line1"].connected)
            await asyncio.sleep(0.3)
            server = await UaServer(port, extra_namespaces=("urn:shifted",)).start()
            await wait_until(lambda: c.health().sources["line1"].connected, 20)
            after = await write_series(server, "Temp", 10, start=T0 + dt.timedelta(hours=1),
                                       value0=100.0)  # fmt: skip
            await wait_until(lambda: c.health().queue_points == 0 and c.health().written_points
                             >= 22)  # fmt: skip
            await asyncio.sleep(0.3)
        finally:
            c.request_stop()
            await task
            await server.stop()
        return before, after, down_at

    before, after, down_at = asyncio.run(main())
    rows = stored(tmp_path / "plant.hist", "L1.Temp")
    bad = [r for r in rows if r[2] == q.BAD_NO_COMMUNICATION]
    assert len(bad) == 1 and bad[0][1] is None and abs(bad[0][0] - down_at) < 5_000_000_000
    good = [(t, v) for t, v, c in rows if c == 0 and T0_NS <= t < T0_NS + DAY]
    assert good == before + after
    flow = stored(tmp_path / "plant.hist", "L1.Flow")
    assert any(r[2] == q.BAD_NO_COMMUNICATION for r in flow)


class FlakyStore:
    """The real store, wrapped so that writes fail, then are slow, then work."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.mode = "fail"
        self.calls = 0
        self.lock = threading.Lock()

    def define(self, name, **kw):
        return self.inner.define(name, **kw)

    def tag(self, name):
        return self.inner.tag(name)

    def write_table(self, table):
        with self.lock:
            self.calls += 1
            mode = self.mode
        if mode == "fail":
            raise OSError(28, "No space left on device")
        if mode == "slow":
            time.sleep(1.0)
        return self.inner.write_table(table)

    def flush(self):
        self.inner.flush()


def test_slow_and_failing_store_fills_the_spool_and_nothing_is_lost(tmp_path):
    inner = historian.open(tmp_path / "plant.hist")
    store = FlakyStore(inner)

    async def main():
        server = await UaServer(free_port(), names=("Temp",)).start()
        text = config_text(server, tmp_path, extra='write_timeout = "200ms"')
        c = Collector(loads(text, base_dir=tmp_path), store=store)
        task = asyncio.create_task(c.arun())
        try:
            await wait_until(lambda: c.health().sources["line1"].connected)
            await wait_until(lambda: c.health().sources["line1"].points >= 1)  # initial value in
            writer = asyncio.create_task(write_series(server, "Temp", 150))
            await asyncio.sleep(1.0)
            assert c.health().spooled_points > 0 and not c.health().store_ok
            store.mode = "slow"
            await asyncio.sleep(1.5)
            store.mode = "ok"
            sent = await writer
            await wait_until(lambda: c.health().spool_points == 0 and c.health().queue_points == 0
                             and c.health().store_ok)  # fmt: skip
            await asyncio.sleep(0.3)
            h = c.health()
            assert h.store_errors >= 1 and h.dropped_points == 0
        finally:
            c.request_stop()
            await task
            await server.stop()
        return sent, h

    sent, h = asyncio.run(main())
    inner.close()
    rows = stored(tmp_path / "plant.hist", "L1.Temp")
    rows = [(t, v) for t, v, _ in rows if T0_NS <= t < T0_NS + DAY]
    assert rows == sent  # every value the server produced, in order, exactly once
    assert h.spooled_points >= 10
    assert not list((tmp_path / "plant.hist.spool").glob("seg-*"))


class RampSource:
    """A real in-process Source: emits a ramp for one tag at a fixed rate (no device needed)."""

    def __init__(self, name: str, tag: str, per_batch: int, every_s: float, values=None) -> None:
        self.name, self.tags = name, [tag]
        self.per_batch, self.every_s = per_batch, every_s
        self.values = values
        self.sent = 0
        self._health = SourceHealth()

    async def run(self, emit, stop) -> None:
        self._health.connected = True
        while not stop.is_set():
            n = self.per_batch
            idx = np.arange(self.sent, self.sent + n)
            if self.values is not None:
                if self.sent >= len(self.values):
                    await asyncio.sleep(self.every_s)
                    continue
                idx = idx[idx < len(self.values)]
                vals = np.asarray(self.values, dtype=float)[idx]
            else:
                vals = idx.astype(float)
            emit(SampleBatch(self.tags * len(idx), T0_NS + idx.astype(np.int64) * MS, vals,
                             np.zeros(len(idx), np.uint32), self.name))  # fmt: skip
            self.sent += len(idx)
            self._health.points = self.sent
            await asyncio.sleep(self.every_s)

    def health(self) -> SourceHealth:
        return self._health


def test_spool_bound_drops_oldest_and_records_bad_data_lost(tmp_path):
    (tmp_path / "c.toml").write_text(
        '[store]\npath = "plant.hist"\n[collector]\nbatch_interval = "20ms"\n'
        'spool_max_bytes = "60kB"\nspool_segment_bytes = "10kB"\n'
    )
    inner = historian.open(tmp_path / "plant.hist")
    store = FlakyStore(inner)
    src = RampSource("ramp", "RAMP", per_batch=200, every_s=0.02)

    async def main():
        c = Collector(tmp_path / "c.toml", store=store, sources=[src])
        task = asyncio.create_task(c.arun())
        await wait_until(lambda: c.health().dropped_points > 0)
        store.mode = "ok"
        await wait_until(lambda: c.health().spool_points == 0 and c.health().store_ok)
        c.request_stop()
        await task
        return c.health()

    h = asyncio.run(main())
    inner.close()
    rows = stored(tmp_path / "plant.hist", "RAMP")
    lost = [r for r in rows if r[2] == q.BAD_DATA_LOST]
    assert lost and lost[0][0] == T0_NS  # the oldest data went first; the marker starts there
    good = [r for r in rows if r[2] == 0]
    assert len(good) + h.dropped_points == src.sent  # every point is stored or counted as lost
    assert good[-1][0] == T0_NS + (src.sent - 1) * MS  # the newest data survived


def test_source_compression_deadband_matches_the_kernel(tmp_path):
    from historian.kernels.compress import deadband_mask

    rng = np.random.default_rng(1)
    values = np.round(np.cumsum(rng.normal(0, 0.3, 400)), 3)
    (tmp_path / "c.toml").write_text('[store]\npath = "plant.hist"\n[collector]\n'
                                     'batch_interval = "20ms"\n')  # fmt: skip
    src = RampSource("ramp", "X", per_batch=37, every_s=0.005, values=values)
    # compression is a tag setting: here the store's own definition of a source's tag
    store = historian.open(tmp_path / "plant.hist")
    store.define("X", compression={"deadband": 0.5})
    c = Collector(tmp_path / "c.toml", store=store, sources=[src])

    async def main():
        task = asyncio.create_task(c.arun())
        await wait_until(lambda: src.sent >= len(values))
        await asyncio.sleep(0.2)
        c.request_stop()
        await task

    asyncio.run(main())
    rows = stored(tmp_path / "plant.hist", "X")
    store.close()
    mask = deadband_mask(T0_NS + np.arange(len(values)) * MS, values, deviation=0.5)
    expect = [(T0_NS + i * MS, float(values[i])) for i in np.flatnonzero(mask)]
    assert [(t, v) for t, v, _ in rows] == expect
    assert len(rows) < len(values) // 2


def test_sync_start_stop_and_run(tmp_path):
    server = _sync.sync(UaServer(free_port()).start())
    try:
        (tmp_path / "c.toml").write_text(config_text(server, tmp_path))
        c = Collector(tmp_path / "c.toml")
        c.start()
        deadline = time.monotonic() + 10
        while not c.health().written_points and time.monotonic() < deadline:
            time.sleep(0.05)
        c.stop()
        assert c.health().written_points >= 2 and not c.health().running
        t0 = time.monotonic()
        Collector(tmp_path / "c.toml").run(seconds=1.0)
        assert time.monotonic() - t0 < 6
    finally:
        _sync.sync(server.stop())
    rows = stored(tmp_path / "plant.hist", "L1.Temp")
    assert rows and all(not math.isnan(v) for _, v, c in rows if c == 0)


def test_simulated_plant_over_both_protocols_secure_opcua(tmp_path, monkeypatch):
    from historian.acquisition.config import from_dict
    from historian.sim import SimServers
    from historian.sim.servers import (
        DEFAULT_PASSWORD,
        DEFAULT_USER,
        MODBUS_POINTS,
        OPCUA_TAGS,
        PASSWORD_ENV,
        USER_ENV,
    )

    monkeypatch.setenv(USER_ENV, DEFAULT_USER)
    monkeypatch.setenv(PASSWORD_ENV, DEFAULT_PASSWORD)

    async def main():
        async with SimServers(secure=True, pki_dir=str(tmp_path / "pki")) as sim:
            doc = sim.config(store=str(tmp_path / "plant.hist"), every="200ms",
                             opcua_every="200ms")  # fmt: skip
            c = Collector(from_dict(doc, base_dir=tmp_path))
            task = asyncio.create_task(c.arun())
            await wait_until(lambda: all(s.connected for s in c.health().sources.values()), 20)
            await asyncio.sleep(2.0)
            c.request_stop()
            await task
            return c.health()

    h = asyncio.run(main())
    assert set(h.sources) == {"plc1", "reactor"} and h.dropped_points == 0
    with historian.open(tmp_path / "plant.hist", mode="r") as store:
        t = store.read()
    tags = set(t.column("tag").to_pylist())
    assert {p["tag"] for p in MODBUS_POINTS} <= tags and set(OPCUA_TAGS) <= tags
    good = pa.compute.sum(pa.compute.equal(t.column("quality"), 0)).as_py()
    assert good >= 0.9 * t.num_rows and t.num_rows >= 5 * len(tags)


class CountingStore:
    """A real store on disk that counts catalog writes and can be slow to define tags."""

    def __init__(self, path: Path, define_delay: float = 0.0) -> None:
        self.h = historian.open(path)
        self.define_delay = define_delay
        self.catalog_writes = 0
        catalog = testing.catalog(self.h)
        real_write = catalog._write

        def counted(*args, **kwargs):
            self.catalog_writes += 1
            return real_write(*args, **kwargs)

        catalog._write = counted

    def define_many(self, definitions, **kw):
        time.sleep(self.define_delay)  # a slow start-up (big catalog, slow disk)
        return self.h.define_many(definitions, **kw)

    def __getattr__(self, name):
        return getattr(self.h, name)


def test_start_up_defines_every_tag_in_one_catalog_write(tmp_path):
    n = 3000
    lines = [
        '[store]\npath = "plant.hist"\n',
        f'[[modbus]]\nname = "plc"\nhost = "127.0.0.1"\nport = {free_port()}\n',
    ]  # nothing listens: the tags are defined all the same
    lines += [f'  [[modbus.points]]\n  tag = "T{i:05d}"\n  address = {i}\n  unit = "bar"\n'
              for i in range(n)]  # fmt: skip
    cfg = loads("\n".join(lines), base_dir=tmp_path)
    store = CountingStore(tmp_path / "plant.hist")
    extra = RampSource("ramp", "EXTRA.PV", 1, 0.05)  # a source whose tag is not in the config
    c = Collector(cfg, store=store, sources=[extra])
    c.start()
    assert c.wait_ready(30)
    c.stop()
    assert store.catalog_writes == 1
    tags = store.h.tags()
    assert tags.num_rows == n + 1 and "EXTRA.PV" in tags.column("name").to_pylist()
    assert store.h.tag("T02999").unit == "bar"
    # a second start with the same definitions writes nothing
    Collector(cfg, store=store, sources=[extra]).run(seconds=0.05)
    assert store.catalog_writes == 1
    store.h.close()


def test_seconds_counts_collection_time_not_start_up(tmp_path):
    cfg = loads('[store]\npath = "plant.hist"\n', base_dir=tmp_path)
    store = CountingStore(tmp_path / "plant.hist", define_delay=0.6)
    src = RampSource("ramp", "R.PV", 1, 0.02)
    t0 = time.monotonic()
    Collector(cfg, store=store, sources=[src]).run(seconds=0.4)
    elapsed = time.monotonic() - t0
    assert elapsed >= 1.0  # 0.6 s of start-up, then 0.4 s of collection
    assert src.sent >= 0.4 / 0.02 * 0.5, src.sent  # collected for about 0.4 s, not 0 s
    store.h.close()


def test_a_bad_definition_refuses_start_up_and_defines_nothing(tmp_path):
    import pytest

    from historian.errors import ConfigError

    h = historian.open(tmp_path / "plant.hist")
    good = RampSource("ok", "GOOD.PV", 1, 0.05)
    bad = RampSource("bad", "../etc/passwd", 1, 0.05)  # a name that could become a path
    cfg = loads('[store]\npath = "plant.hist"\n', base_dir=tmp_path)
    with pytest.raises(ConfigError, match="refused the tag definitions"):
        Collector(cfg, store=h, sources=[good, bad]).run(seconds=0.05)
    assert h.tags().num_rows == 0  # all or none: not even GOOD.PV
    h.close()
