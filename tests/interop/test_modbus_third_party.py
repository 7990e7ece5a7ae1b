"""historian's Modbus source against Modbus TCP servers not written here (npm modbus-serial's
ServerTCP and pyModbusTCP's ModbusServer), checked against what each server logged."""

from __future__ import annotations

import asyncio
import math
import struct
import time

from historian.acquisition.modbus import ModbusSource
from historian.acquisition.modbus_plan import exception_status
from historian.model import quality as q

STRING = {"tag": "H.BATCH", "address": 100, "type": "string", "count": 16}  # 32 bytes, UTF-8
HOLDING = [
    {"tag": "H.U16", "address": 0, "type": "uint16"},
    {"tag": "H.I16", "address": 1, "type": "int16"},
    {"tag": "H.I32", "address": 2, "type": "int32"},
    {"tag": "H.F32", "address": 4, "type": "float32"},
    {"tag": "H.U32LE", "address": 6, "type": "uint32", "word_order": "little"},
    {"tag": "H.SCALED", "address": 8, "type": "int16", "scale": 0.5, "offset": -10.0},
]
OTHERS = [
    {"tag": "I.U16", "table": "input", "address": 3, "type": "uint16"},
    {"tag": "C.1", "table": "coil", "address": 1},
    {"tag": "C.2", "table": "coil", "address": 2},
    {"tag": "D.0", "table": "discrete", "address": 0},
    {"tag": "D.1", "table": "discrete", "address": 1},
    {"tag": "H.MISSING", "address": 200, "type": "uint16"},  # not in the server's map
]


def decode(regs: list[int]) -> dict[str, float]:
    """The holding points from registers 0..8 as served, decoded independently (struct)."""
    raw = struct.pack(">9H", *regs)
    return {
        "H.U16": float(regs[0]),
        "H.I16": float(struct.unpack(">h", raw[2:4])[0]),
        "H.I32": float(struct.unpack(">i", raw[4:8])[0]),
        "H.F32": float(struct.unpack(">f", raw[8:12])[0]),
        "H.U32LE": float(struct.unpack(">I", raw[14:16] + raw[12:14])[0]),
        "H.SCALED": struct.unpack(">h", raw[16:18])[0] * 0.5 - 10.0,
    }


async def poll(port: int, polls: int) -> list:
    src = ModbusSource("dev", "127.0.0.1", port, points=HOLDING + OTHERS, every=0.05,
                       timeout=2)  # fmt: skip
    got: list = []
    stop = asyncio.Event()
    task = asyncio.create_task(src.run(got.append, stop))
    deadline = time.monotonic() + 20
    while src.health().extra["polls"] < polls and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    stop.set()
    await task
    return got


def test_values_types_status_and_function_codes_as_served(modbus_server):
    got = asyncio.run(poll(modbus_server.port, 20))
    records = modbus_server.records()
    received = [r["rx"] for r in records if "rx" in r]
    served_fc3 = [r for r in records if r.get("fc") == 3 and r["address"] == 0]
    # every request the server received was a read (function codes 1-4), nothing else
    assert received and set(received) <= {1, 2, 3, 4}, sorted(set(received))
    assert set(received) == {1, 2, 3, 4}
    # one FC3 of registers 0..8 per poll, each answered: the i-th holding batch is the i-th
    # response served
    polls = [b for b in got if "H.U16" in list(b.tags)]
    assert len(polls) >= 20 and len(served_fc3) == len(polls), (len(served_fc3), len(polls))
    for batch, rec in zip(polls, served_fc3, strict=True):
        assert len(rec["values"]) == 9
        expected = decode(rec["values"])
        row = dict(zip(batch.tags, zip(batch.values.tolist(), batch.quality.tolist(),
                                       batch.t_ns.tolist(), strict=True), strict=True))  # fmt: skip
        for tag, want in expected.items():
            value, quality, t_ns = row[tag]
            if math.isnan(want):
                assert math.isnan(value)
                continue
            assert quality == q.GOOD and value == want, (tag, value, want)
            # stamped when the response arrived: after the server served it, within a second
            assert rec["t_ms"] * 1e6 - 2e6 <= t_ns <= rec["t_ms"] * 1e6 + 1e9
    last = {}
    for b in got:
        for tag, v, s in zip(b.tags, b.values.tolist(), b.quality.tolist(), strict=True):
            last[tag] = (v, s)
    assert last["I.U16"] == (1003.0, q.GOOD)
    assert last["C.1"] == (1.0, q.GOOD) and last["C.2"] == (0.0, q.GOOD)
    assert last["D.0"] == (1.0, q.GOOD) and last["D.1"] == (0.0, q.GOOD)
    # an address the server does not have: its exception response 2, recorded once
    missing = [s for b in got for tag, s in zip(b.tags, b.quality.tolist(), strict=True)
               if tag == "H.MISSING"]  # fmt: skip
    assert missing == [exception_status(2)]


def test_a_slow_third_party_device_gets_bad_timeout_and_each_request_is_sent_once(tmp_path):
    from third_party import start_modbus_serial, stop

    served = start_modbus_serial(tmp_path, delay_ms=250)  # answers after its 150 ms timeout
    try:

        async def main():
            src = ModbusSource("slow", "127.0.0.1", served.port, points=HOLDING, every=0.05,
                               timeout=0.15)  # fmt: skip
            got: list = []
            stop_ev = asyncio.Event()
            task = asyncio.create_task(src.run(got.append, stop_ev))
            deadline = time.monotonic() + 20
            while src.health().extra["timeouts"] < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            stop_ev.set()
            await task
            return got, src.health()

        got, health = asyncio.run(main())
    finally:
        stop(served.proc)
    statuses = [s for b in got for s in b.quality.tolist()]
    assert set(statuses) == {q.BAD_TIMEOUT} and len(statuses) == len(HOLDING)  # once per tag
    received = [r for r in served.records() if "rx" in r]
    assert {r["rx"] for r in received} == {3}
    # no request sent behind our back: one per poll (retries = 0), each with its own id
    assert len(received) == health.extra["polls"] == health.extra["timeouts"]
    assert len({r["tid"] for r in received}) == len(received)
    assert health.extra["retries"] == 0 and health.reconnects == 0
    assert health.extra["skipped_ticks"] >= health.extra["timeouts"] - 1


def test_string_registers_are_stored_as_the_text_served(modbus_server, tmp_path):
    import historian
    from historian.acquisition.writer import batch_table

    async def main() -> list:
        src = ModbusSource("dev", "127.0.0.1", modbus_server.port, points=[STRING], every=0.05,
                           timeout=2)  # fmt: skip
        got: list = []
        stop = asyncio.Event()
        task = asyncio.create_task(src.run(got.append, stop))
        deadline = time.monotonic() + 20
        while src.health().extra["polls"] < 25 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        await task
        return got

    got = asyncio.run(main())
    served = [r["text"] for r in modbus_server.records() if r.get("fc") == 3 and "text" in r]
    batches = [b for b in got if "H.BATCH" in list(b.tags)]
    assert len(batches) >= 25 and len(served) == len(batches)
    with historian.open(tmp_path / "plant.hist") as h:
        h.define("H.BATCH", type="string")
        for b in batches:
            h.write_table(batch_table(b))
        stored = h.read("H.BATCH")
    assert stored.column("text").to_pylist() == served  # one poll, one point, the text served
    assert set(stored.column("quality").to_pylist()) == {q.GOOD}
    assert "" in served and any("\u2603" in t for t in served)
    assert {r["rx"] for r in modbus_server.records() if "rx" in r} == {3}  # reads only
