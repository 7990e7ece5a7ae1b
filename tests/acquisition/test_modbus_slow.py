"""A Modbus device slower than the timeout, and one that hangs: Bad_Timeout per poll, no hidden
resends, skipped ticks counted, gaps stamped when the device last answered."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time

import pytest

from historian.acquisition.modbus import ModbusSource
from historian.model import quality as q


class SlowDevice:
    """A raw Modbus TCP server on 127.0.0.1 answering FC3 after ``delay`` seconds; it logs
    every request it receives (transaction id, function code, arrival time)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests: list[tuple[int, int, float]] = []
        self.answered: list[float] = []  # time.time_ns() of each answer sent
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> SlowDevice:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", head)
                pdu = await reader.readexactly(length - 1)
                fc, _address, count = struct.unpack(">BHH", pdu[:5])
                self.requests.append((tid, fc, time.monotonic()))
                task = asyncio.create_task(self._answer(writer, tid, unit, fc, count))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, tid: int, unit: int, fc: int,
                      count: int) -> None:  # fmt: skip
        delay = self.delay
        if delay is None:  # hung: keeps the socket, never answers
            return
        await asyncio.sleep(delay)
        body = struct.pack(">BB", fc, 2 * count) + b"\x00\x07" * count
        writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
        self.answered.append(time.time_ns())
        with contextlib.suppress(ConnectionError):
            await writer.drain()


async def until(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def points() -> list[dict]:
    return [{"tag": "A", "address": 0, "type": "int16"}]


@pytest.mark.parametrize("retries", [0, 1])
def test_a_device_slower_than_the_timeout_gets_bad_timeout_without_hidden_resends(retries, caplog):
    async def main():
        async with SlowDevice(delay=0.25) as dev:
            src = ModbusSource("slow", "127.0.0.1", dev.port, points=points(), every=0.05,
                               timeout=0.1, retries=retries)  # fmt: skip
            got = []
            stop = asyncio.Event()
            task = asyncio.create_task(src.run(got.append, stop))
            await until(lambda: src.health().extra["polls"] >= 4)
            dev.delay = 0.0  # the device is fast again: Good resumes on the same connection
            await until(lambda: any(b.quality[0] == q.GOOD for b in got))
            stop.set()
            await task
            return got, src.health(), list(dev.requests)

    with caplog.at_level("WARNING", logger="historian.acquisition.modbus"):
        got, health, requests = asyncio.run(main())
    statuses = [int(s) for b in got for s in b.quality]
    assert statuses[0] == q.BAD_TIMEOUT and statuses[-1] == q.GOOD, statuses
    assert statuses.count(q.BAD_TIMEOUT) == 1, "one Bad point per change of status"
    assert q.BAD_NO_COMMUNICATION not in statuses  # the device is up, only slow
    polls, timeouts = health.extra["polls"], health.extra["timeouts"]
    assert timeouts >= 4 and health.reconnects == 0 and health.connected is False  # stopped
    # every request the device received was asked by a poll or an explicit, counted resend
    # (a resend may also be answered in time: the poll is then Good)
    assert retries * timeouts <= health.extra["retries"] <= retries * (timeouts + 1)
    assert len(requests) == polls + health.extra["retries"], (len(requests), health.extra)
    assert len({tid for tid, _, _ in requests}) == len(requests)  # each one a new request
    assert {fc for _, fc, _ in requests} == {3}
    # a poll that waits out its timeout (0.1 s x tries) misses 50 ms ticks: counted and warned
    assert health.extra["skipped_ticks"] >= timeouts
    messages = [r.getMessage() for r in caplog.records]
    assert any("Bad_Timeout for this poll" in m for m in messages)
    assert any("tick(s) skipped" in m for m in messages)


def test_a_hung_device_is_bad_timeout_from_its_last_answer():
    async def main():
        async with SlowDevice(delay=0.0) as dev:
            src = ModbusSource("hung", "127.0.0.1", dev.port, points=points(), every=0.05,
                               timeout=0.2)  # fmt: skip
            got = []
            stop = asyncio.Event()
            task = asyncio.create_task(src.run(got.append, stop))
            await until(lambda: len(dev.answered) >= 3)
            dev.delay = None  # stops answering, keeps the socket open
            hung_at = time.time_ns()
            await until(lambda: any(q.is_bad(int(b.quality[0])) for b in got))
            stop.set()
            await task
            return got, hung_at, list(dev.answered)

    got, hung_at, answered = asyncio.run(main())
    good = [int(b.t_ns[0]) for b in got if b.quality[0] == q.GOOD]
    bad = [(int(b.t_ns[0]), int(b.quality[0])) for b in got if q.is_bad(int(b.quality[0]))]
    assert bad == [(bad[0][0], q.BAD_TIMEOUT)]
    # stamped 1 ns after the last answer received, not when the timeout expired (>= 0.2 s later)
    assert bad[0][0] == good[-1] + 1
    assert answered[-1] <= bad[0][0] <= hung_at + 60_000_000
