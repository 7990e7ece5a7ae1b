"""Modbus source against real pymodbus servers on 127.0.0.1 (port 0)."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import itertools
import math
import pathlib
import struct
import time

import numpy as np
import pytest

from historian.acquisition.modbus import ModbusSource, read_only_guard
from historian.acquisition.modbus_plan import TYPES, parse_points
from historian.acquisition.pki import make_pki
from historian.acquisition.samples import SampleBatch, Source
from historian.errors import ConfigError, SourceConnectError, SourceSecurityError
from historian.model import quality as q
from historian.sim import SimModbusServer, SimServers, server_ssl_context

NUMERIC = [t for t in TYPES if t not in ("bool", "string")]
ORDERS = [(w, b) for w in ("big", "little") for b in ("big", "little")]


def all_types_map() -> list[dict]:
    """Every numeric type in every word/byte order, strings, register bits, coils, inputs."""
    points, address = [], 100
    for typ in NUMERIC:
        for wo, bo in ORDERS:
            points.append({"tag": f"T.{typ}.{wo}.{bo}", "address": address, "type": typ,
                           "word_order": wo, "byte_order": bo})  # fmt: skip
            address += {"int16": 1, "uint16": 1, "float32": 2, "int32": 2, "uint32": 2}.get(typ, 4)
    for wo, bo in ORDERS:
        points.append({"tag": f"S.{wo}.{bo}", "address": address, "type": "string", "count": 5,
                       "word_order": wo, "byte_order": bo})  # fmt: skip
        address += 5
    points += [
        {"tag": "BIT5", "address": address, "type": "bool", "bit": 5},
        {"tag": "SCALED", "table": "input", "address": 7, "type": "int16", "scale": 0.5,
         "offset": -10.0},
        {"tag": "C1", "table": "coil", "address": 1},
        {"tag": "C3", "table": "coil", "address": 3},
        {"tag": "D0", "table": "discrete", "address": 0},
    ]  # fmt: skip
    return points


def random_value(rng: np.random.Generator, typ: str):
    if typ == "float32":
        return float(np.float32(rng.normal(0, 1e4)))
    if typ == "float64":
        return float(rng.normal(0, 1e12))
    bits = int(typ.removeprefix("u").removeprefix("int"))
    lo, hi = (0, 2**bits - 1) if typ.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    edges = [lo, hi, 0, 1]
    if rng.random() < 0.3:
        return edges[int(rng.integers(4))]
    return lo + int.from_bytes(rng.bytes(8), "big") % (hi - lo + 1)


def by_tag(batch: SampleBatch) -> dict[str, tuple[float, int, str | None]]:
    text = batch.text or [None] * len(batch)
    return {t: (v, int(s), x) for t, v, s, x in zip(batch.tags, batch.values, batch.quality, text,
                                                     strict=True)}  # fmt: skip


async def collect(source: ModbusSource, seconds: float, during=None) -> list[SampleBatch]:
    """Run ``source`` for ``seconds``; ``during`` (a coroutine function) runs alongside."""
    got: list[SampleBatch] = []
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(got.append, stop))
    if during is not None:
        await during()
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5)
    return got


def test_every_type_and_order_decodes_exactly_over_the_wire():
    async def main():
        server = SimModbusServer(all_types_map())
        await server.start()
        src = ModbusSource("dev", "127.0.0.1", server.port, points=all_types_map(), every=0.05)
        assert isinstance(src, Source)
        rng = np.random.default_rng(7)
        await src._connect()
        try:
            for _ in range(25):
                expected: dict[str, float | str] = {}
                for p in server.points.values():
                    if p.tag.startswith("T."):
                        value = random_value(rng, p.type)
                    elif p.tag.startswith("S."):
                        value = "".join(chr(c) for c in rng.integers(32, 127, rng.integers(0, 11)))
                    elif p.tag == "SCALED":
                        value = float(rng.integers(-32768, 32767)) * 0.5 - 10.0
                    else:
                        value = bool(rng.integers(2))
                    await server.set_value(p.tag, value)
                    expected[p.tag] = value
                got = by_tag(await src.poll_once())
                assert set(got) == set(expected)
                for tag, want in expected.items():
                    v, status, text = got[tag]
                    assert status == q.GOOD, tag
                    if tag.startswith("S."):
                        assert text == want.rstrip(" "), tag
                    else:
                        assert v == float(want), (tag, v, want)
            assert server.write_count == 0
        finally:
            src._close()
            await server.stop()

    asyncio.run(main())


def test_raw_registers_on_the_wire_match_the_documented_orders():
    """Check the server against hand-made bytes: 0x4142_4344 in each order, read by pymodbus."""

    async def main():
        pts = [{"tag": f"F.{wo}.{bo}", "address": 2 * i, "type": "uint32", "word_order": wo,
                "byte_order": bo} for i, (wo, bo) in enumerate(ORDERS)]  # fmt: skip
        server = SimModbusServer(pts)
        await server.start()
        for p in pts:
            await server.set_value(p["tag"], 0x41424344)
        from pymodbus.client import AsyncModbusTcpClient

        client = AsyncModbusTcpClient("127.0.0.1", port=server.port, trace_pdu=read_only_guard)
        await client.connect()
        rr = await client.read_holding_registers(0, count=8)
        client.close()
        await server.stop()
        raw = struct.pack(">8H", *rr.registers)
        assert [raw[i : i + 4] for i in range(0, 16, 4)] == [b"ABCD", b"BADC", b"CDAB", b"DCBA"]

    asyncio.run(main())


def test_plant_map_through_the_source_matches_the_plant():
    async def main():
        async with SimServers(opcua=False, seed=3) as sim:
            cfg = sim.config()["modbus"][0]
            src = ModbusSource.from_config(cfg)
            await src._connect()
            sim.modbus.freeze()  # stable values while we compare
            batch = await src.poll_once()
            src._close()
            values = sim.plant.values()
        got = by_tag(batch)
        assert all(s == q.GOOD for _, s, _ in got.values())
        assert got["FIC-104.PV"][0] == pytest.approx(values["FIC-104.PV"], rel=1e-6)
        assert got["TT-101.RAW"][0] == pytest.approx(values["TIC-101.PV"], abs=150 / 27648)
        assert got["FQ-104.TOTAL"][0] == values["FQ-104.TOTAL"]
        assert got["PI-103.MB"][0] == pytest.approx(values["PI-103.PV"], abs=1e-3)
        assert got["REACTOR.STATE"][2] == values["REACTOR.STATE"]
        assert got["REACTOR.BATCH.MB"][2] == values["REACTOR.BATCH"]
        assert got["P-106.RUN"][0] == float(values["P-106.RUN"])

    asyncio.run(main())


def test_restart_gives_bad_no_communication_for_the_gap_then_resumes():
    async def main():
        async with SimServers(opcua=False) as sim:
            cfg = dict(sim.config()["modbus"][0], every="50ms", timeout="300ms", retries=0)
            src = ModbusSource.from_config(cfg)
            src.backoff_initial, src.backoff_max = 0.05, 0.2
            marks = {}

            async def outage():
                await asyncio.sleep(0.5)
                marks["down"] = time.time_ns()
                await sim.modbus.stop()
                await asyncio.sleep(0.8)
                await sim.modbus.start()
                marks["up"] = time.time_ns()

            got = await collect(src, 1.0, during=outage)
            return got, marks, src.health(), len(src.points)

    got, marks, health, n = asyncio.run(main())
    tag = "FIC-104.PV"
    series = [(t, int(s)) for b in got for tg, t, s in zip(b.tags, b.t_ns, b.quality, strict=True)
              if tg == tag]  # fmt: skip
    bad = [(t, s) for t, s in series if q.is_bad(s)]
    statuses = [s for _, s in series]
    assert bad, statuses
    # one Bad point per tag per state change (not one per poll): consecutive Bads differ
    assert all(a[1] != b[1] for a, b in itertools.pairwise(bad)), statuses
    assert len(bad) <= 2 and bad[-1][1] == q.BAD_NO_COMMUNICATION, statuses
    assert {s for _, s in bad} <= {q.BAD_NO_COMMUNICATION, q.BAD_TIMEOUT}
    before = [t for t, s in series if s == q.GOOD and t < bad[0][0]]
    # the gap begins when the device last answered (1 ns after the last response of the last
    # Good poll), not when the failure was noticed and the connection torn down
    assert 0 < bad[0][0] - before[-1] < 50_000_000  # within the poll (every=50ms)
    assert bad[0][0] <= marks["down"] + 100_000_000
    assert len(bad) == 1 or bad[1][0] > bad[0][0]
    after = [t for t, s in series if s == q.GOOD and t > bad[-1][0]]
    assert len(before) >= 3 and len(after) >= 3, statuses
    assert after[0] >= marks["up"]
    assert statuses == [q.GOOD] * len(before) + [s for _, s in bad] + [q.GOOD] * len(after)
    # every tag got the same Bad point(s)
    all_bad = [tg for b in got for tg, s in zip(b.tags, b.quality, strict=True) if q.is_bad(s)]
    assert len(all_bad) == n * len(bad) and len(set(all_bad)) == n
    assert health.reconnects >= 1 and health.errors >= 1 and health.last_good_ns >= marks["up"]


def test_silence_gives_bad_timeout_then_recovers():
    async def main():
        pts = [{"tag": "A", "address": 0, "type": "float32"}]
        server = SimModbusServer(pts)
        await server.start()
        await server.set_value("A", 1.25)
        src = ModbusSource("dev", "127.0.0.1", server.port, points=pts, every=0.05, timeout=0.2,
                           retries=0, backoff_initial=0.05, backoff_max=0.1)  # fmt: skip

        async def hush():
            await asyncio.sleep(0.3)
            server.silence()
            await asyncio.sleep(0.6)
            server.silence(False)

        got = await collect(src, 0.8, during=hush)
        await server.stop()
        return got

    got = asyncio.run(main())
    statuses = [int(s) for b in got for s in b.quality]
    first_bad = statuses.index(q.BAD_TIMEOUT)
    assert statuses[:first_bad] == [q.GOOD] * first_bad and first_bad >= 1
    assert q.GOOD in statuses[first_bad:], "collection resumed after the silence"
    bad = [s for s in statuses if q.is_bad(s)]
    assert len(bad) <= 3, f"Bad points only on status changes, got {bad}"


def test_exception_responses_become_bad_quality_not_crashes():
    async def main():
        pts = [{"tag": "A", "address": 0, "type": "float32"},
               {"tag": "B", "address": 10, "type": "uint16"},
               {"tag": "C", "table": "input", "address": 0, "type": "int16"}]  # fmt: skip
        server = SimModbusServer(pts)
        await server.start()
        src = ModbusSource("dev", "127.0.0.1", server.port, points=pts, every=0.05)
        await src._connect()
        first = by_tag(await src.poll_once())
        server.fail("B", exception_code=4)
        server.fail("input", 0, exception_code=2)
        second = by_tag(await src.poll_once())
        third = await src.poll_once()  # unchanged Bad status: not emitted again
        server.clear_faults()
        fourth = by_tag(await src.poll_once())
        health = src.health()
        src._close()
        await server.stop()
        return first, second, third, fourth, health

    first, second, third, fourth, health = asyncio.run(main())
    assert {s for _, s, _ in first.values()} == {q.GOOD}
    assert second["A"][1] == q.GOOD
    assert second["B"][1] == q.BAD_DEVICE_FAILURE and math.isnan(second["B"][0])
    assert second["C"][1] == q.BAD_CONFIGURATION_ERROR
    assert list(third.tags) == ["A"]
    assert {s for _, s, _ in fourth.values()} == {q.GOOD}
    assert health.errors >= 2 and "exception response" in health.last_error


def test_max_gap_zero_never_reads_unserved_addresses():
    async def main():
        pts = [{"tag": "A", "address": 0}, {"tag": "B", "address": 5}]  # 1-4 not served
        server = SimModbusServer(pts)
        await server.start()
        out = []
        for gap in (0, 10):
            src = ModbusSource("dev", "127.0.0.1", server.port, points=pts, max_gap=gap)
            await src._connect()
            out.append((len(src.requests), by_tag(await src.poll_once())))
            src._close()
        await server.stop()
        return out

    (n0, ok), (n10, bad) = asyncio.run(main())
    assert n0 == 2 and {s for _, s, _ in ok.values()} == {q.GOOD}
    assert n10 == 1 and {s for _, s, _ in bad.values()} == {q.BAD_CONFIGURATION_ERROR}


def test_unreachable_device_emits_bad_once_and_keeps_trying():
    async def main():
        from historian.sim.opcua_server import free_port

        port = free_port()
        src = ModbusSource("dev", "127.0.0.1", port, points=[{"tag": "A", "address": 0}],
                           timeout=0.2, backoff_initial=0.05, backoff_max=0.1)  # fmt: skip
        got = await collect(src, 0.6)
        return got, src.health()

    got, health = asyncio.run(main())
    assert [(list(b.tags), b.quality.tolist()) for b in got] == [(["A"], [q.BAD_NO_COMMUNICATION])]
    assert not health.connected and health.errors >= 3 and health.last_good_ns is None
    assert "cannot connect" in health.last_error


def test_overrunning_polls_skip_ticks_instead_of_piling_up(caplog):
    async def main():
        pts = [{"tag": "A", "address": 0}]
        server = SimModbusServer(pts)
        await server.start()
        src = ModbusSource("dev", "127.0.0.1", server.port, points=pts, every=0.02)
        polls = []

        def slow_emit(batch):  # a slow consumer makes every poll overrun its 20 ms slot
            polls.append(time.monotonic())
            time.sleep(0.05)

        stop = asyncio.Event()
        task = asyncio.create_task(src.run(slow_emit, stop))
        await asyncio.sleep(0.6)
        stop.set()
        await task
        await server.stop()
        return polls, src.health()

    with caplog.at_level("WARNING", logger="historian.acquisition.modbus"):
        polls, health = asyncio.run(main())
    gaps = np.diff(polls)
    assert gaps.min() >= 0.05  # no burst of catch-up polls
    assert len(polls) <= 0.6 / 0.05 + 2
    # a late poll starts at once (it does not wait for the next tick); the ticks that passed
    # without a poll are counted: polls + skipped = the ticks in the run
    ticks = (polls[-1] - polls[0]) / 0.02
    assert abs(len(polls) + health.extra["skipped_ticks"] - ticks) <= 4, health.extra
    assert health.extra["skipped_ticks"] >= len(polls) // 2
    assert any("tick(s) skipped" in r.getMessage() for r in caplog.records)


# --- read-only guarantee -------------------------------------------------------------------


def test_the_server_never_receives_a_write_request():
    async def main():
        async with SimServers(opcua=False) as sim:
            cfg = dict(sim.config()["modbus"][0], every="20ms")
            await collect(ModbusSource.from_config(cfg), 0.5)
            return sim.modbus.write_count, dict(sim.modbus.requests)

    writes, requests = asyncio.run(main())
    assert writes == 0
    assert set(requests) <= {1, 2, 3, 4} and sum(requests.values()) >= 20


def test_a_write_through_the_guarded_client_is_blocked_before_sending():
    async def main():
        pts = [{"tag": "A", "address": 0}, {"tag": "C", "table": "coil", "address": 0}]
        server = SimModbusServer(pts)
        await server.start()
        src = ModbusSource("dev", "127.0.0.1", server.port, points=pts)
        await src._connect()
        client = src._client  # the pymodbus client the source uses
        errors = []
        for call in (lambda: client.write_register(0, 1, device_id=1),
                     lambda: client.write_coil(0, True, device_id=1),
                     lambda: client.write_registers(0, [1, 2], device_id=1),
                     lambda: client.readwrite_registers(read_address=0, read_count=1,
                                                        write_address=0, values=[1], device_id=1),
                     lambda: client.mask_write_register(address=0, and_mask=0, or_mask=1,
                                                        device_id=1)):  # fmt: skip
            with pytest.raises(SourceSecurityError, match="blocked Modbus function code") as ei:
                await call()
            errors.append(str(ei.value))
        still_works = await src.poll_once()  # the connection survived
        src._close()
        await server.stop()
        return errors, server.write_count, dict(server.requests), still_works

    errors, writes, requests, still_works = asyncio.run(main())
    assert len(errors) == 5 and writes == 0 and set(requests) <= {1, 2, 3, 4}
    assert {s for s in still_works.quality.tolist()} == {q.GOOD}


def _pymodbus_request_methods() -> tuple[set[str], set[str]]:
    """(pymodbus client methods that send anything but FC 1-4, the four read methods)."""
    from pymodbus.client.mixin import ModbusClientMixin

    reads = {"read_coils", "read_discrete_inputs", "read_holding_registers",
             "read_input_registers"}  # fmt: skip
    names = {n for n in dir(ModbusClientMixin) if not n.startswith("_")}
    senders = {n for n in names if n.startswith(("write_", "read", "mask_", "diag_", "report_"))}
    return senders - reads, reads


def test_no_pymodbus_write_method_is_called_anywhere_in_acquisition():
    forbidden, _ = _pymodbus_request_methods()
    assert {"write_register", "write_coil", "write_registers", "readwrite_registers",
            "mask_write_register", "write_file_record"} <= forbidden  # fmt: skip
    root = pathlib.Path(__file__).parents[2] / "historian" / "acquisition"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        modbus_module = "modbus" in path.name
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = node.value  # getattr(client, "write_register")
            else:
                continue
            # execute() sends any PDU: not allowed in the Modbus modules either
            if name in forbidden or (modbus_module and name == "execute"):
                offenders.append(f"{path.name}:{node.lineno}: {name}")
    assert offenders == []


# --- Modbus/TLS ------------------------------------------------------------------------------


def test_modbus_tls_with_generated_certificates(tmp_path):
    async def main():
        async with SimServers(opcua=False, modbus_tls=True, pki_dir=str(tmp_path / "pki")) as sim:
            cfg = sim.config()["modbus"][0]
            assert set(cfg["tls"]) == {"ca", "certificate", "private_key"}
            got = await collect(ModbusSource.from_config(dict(cfg, every="50ms")), 0.4)
            return got, sim.modbus.write_count

    got, writes = asyncio.run(main())
    assert len(got) >= 3 and writes == 0
    assert {s for b in got for s in b.quality.tolist()} == {q.GOOD}


def test_modbus_tls_refuses_an_untrusted_server_certificate(tmp_path):
    async def main():
        server_pki = make_pki(tmp_path / "server")
        rogue_view = make_pki(tmp_path / "client")  # a CA that never signed the server
        pts = [{"tag": "A", "address": 0}]
        server = SimModbusServer(pts, sslctx=server_ssl_context(server_pki))
        await server.start()
        tls = {"ca": rogue_view["ca_cert"], "certificate": rogue_view["client_cert"],
               "private_key": rogue_view["client_key"]}  # fmt: skip
        src = ModbusSource("dev", "127.0.0.1", server.port, points=pts, tls=tls, timeout=0.5)
        with pytest.raises(SourceSecurityError, match="certificate"):
            await src._connect()
        got = await collect(src, 0.3)
        await server.stop()
        return got, src.health(), server.requests

    got, health, requests = asyncio.run(main())
    assert got[0].quality.tolist() == [q.BAD_NO_COMMUNICATION]
    assert "certificate" in health.last_error and not health.connected
    assert sum(requests.values()) == 0  # nothing was ever sent in clear or otherwise


def test_from_config_and_errors():
    cfg = {"name": "plc1", "host": "127.0.0.1", "port": 5020, "every": "250ms",
           "points": [{"tag": "A", "address": 0, "type": "float32"}]}  # fmt: skip
    src = ModbusSource.from_config(cfg)
    assert src.every_s == 0.25 and src.timeout_s == 1.0 and src.port == 5020
    from historian.errors import ConfigError

    with pytest.raises(ConfigError, match=r"evry: unknown key"):
        ModbusSource.from_config(dict(cfg, evry="1s"))
    with pytest.raises(ConfigError, match="type"):
        ModbusSource.from_config(dict(cfg, points=[{"tag": "A", "address": 0, "type": "f32"}]))
    with pytest.raises(ConfigError, match="no points"):
        ModbusSource("x", "h", points=[])
    assert parse_points(cfg["points"])[0].width == 2
    # the collector's parsed config (historian.acquisition.config) works as well
    from historian.acquisition.config import loads
    from historian.sim import plant_config_toml

    parsed = loads(plant_config_toml(5020, 4840, modbus_tls=False)).modbus[0]
    src = ModbusSource.from_config(parsed)
    assert len(src.points) == len(parsed.points) and src.port == 5020
    assert [p.tag for p in src.points] == [p.tag for p in parsed.points]
    assert {p.type for p in src.points} >= {"float32", "float64", "string", "int64", "bool"}
    with pytest.raises(SourceConnectError):
        asyncio.run(ModbusSource.from_config(cfg).poll_once())


def test_a_device_answering_garbage_gives_bad_points_not_a_crash():
    """A raw TCP server that answers every request with junk, then with a frame too short."""

    async def main():
        answers = [b"\xde\xad\xbe\xef" * 8]

        async def handle(reader, writer):
            try:
                while True:
                    request = await reader.read(260)
                    if not request:
                        break
                    if len(answers) > 1:  # a well-framed FC3 reply with 1 register, not 2
                        tid = request[:2]
                        writer.write(tid + b"\x00\x00\x00\x05\x01\x03\x02\x00\x07")
                    else:
                        writer.write(answers[0])
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        src = ModbusSource("dev", "127.0.0.1", port, points=[
            {"tag": "A", "address": 0, "type": "float32"}], every=0.05, timeout=0.2, retries=0,
            backoff_initial=0.05, backoff_max=0.1)  # fmt: skip

        async def switch():
            await asyncio.sleep(0.6)
            answers.append(b"short")

        got = await collect(src, 0.6, during=switch)
        server.close()
        await server.wait_closed()
        return got, src.health()

    got, health = asyncio.run(main())
    statuses = [int(s) for b in got for s in b.quality]
    assert statuses and all(q.is_bad(s) for s in statuses), statuses
    assert set(statuses) <= {q.BAD_TIMEOUT, q.BAD_DECODING_ERROR, q.BAD_COMMUNICATION_ERROR,
                             q.BAD_NO_COMMUNICATION}  # fmt: skip
    assert statuses[0] == q.BAD_TIMEOUT  # junk is not a frame: no response
    assert q.BAD_DECODING_ERROR in statuses  # a frame with too few registers
    assert health.errors >= 1


def test_connection_lost_during_a_request_fails_it_at_once():
    async def main():
        pts = [{"tag": "A", "address": 0}]
        server = SimModbusServer(pts)
        await server.start()
        src = ModbusSource("dev", "127.0.0.1", server.port, points=pts, timeout=3, retries=1)
        await src._connect()
        server.silence()  # the request below waits for an answer that never comes ...
        pending = asyncio.create_task(src.poll_once())
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        await server.stop()  # ... until the device goes away
        with pytest.raises(SourceConnectError, match="connection lost"):
            await pending
        elapsed = time.monotonic() - t0
        src._close()
        return elapsed

    assert asyncio.run(main()) < 1.0  # not timeout x (retries + 1) = 6 s


def test_modbus_tls_server_refusing_our_certificate_gives_bad_points(tmp_path):
    async def main():
        server_pki = make_pki(tmp_path / "server")
        rogue = make_pki(tmp_path / "rogue")  # our client certificate is from a foreign CA
        pts = [{"tag": "A", "address": 0}]
        server = SimModbusServer(pts, sslctx=server_ssl_context(server_pki))
        await server.start()
        tls = {"ca": server_pki["ca_cert"], "certificate": rogue["client_cert"],
               "private_key": rogue["client_key"]}  # fmt: skip
        src = ModbusSource("dev", "127.0.0.1", server.port, points=pts, tls=tls, timeout=0.3,
                           retries=0, backoff_initial=0.05, backoff_max=0.1)  # fmt: skip
        got = await collect(src, 0.8)
        await server.stop()
        return got, src.health(), server.requests

    got, health, requests = asyncio.run(main())
    statuses = [int(s) for b in got for s in b.quality]
    assert statuses and all(q.is_bad(s) for s in statuses), statuses
    assert len(statuses) <= 2 and health.last_good_ns is None and health.errors >= 2
    assert sum(requests.values()) == 0  # the server never accepted a request


def test_from_config_takes_durations_as_the_toml_writes_them():
    # A user copies `backoff_max = "5s"` from a plant.toml into a dict: it was refused
    # (float("5s")), while the TOML loader accepted it.
    import tomllib

    from historian.acquisition.config import loads

    text = """
[store]
path = "plant.hist"

[[modbus]]
name = "plc1"
host = "127.0.0.1"
every = "250ms"
timeout = "2s"
backoff_max = "5s"

  [[modbus.points]]
  tag = "FIC-101.PV"
  table = "holding"
  address = 0
  type = "float32"
"""
    section = tomllib.loads(text)["modbus"][0]
    from_dict = ModbusSource.from_config(section)
    from_toml = ModbusSource.from_config(loads(text).modbus[0])
    for src in (from_dict, from_toml):
        assert (src.every_s, src.timeout_s, src.backoff_max) == (0.25, 2.0, 5.0)
    with pytest.raises(ConfigError, match="backoff_max"):
        ModbusSource.from_config(dict(section, backoff_max="soon"))


def test_every_config_field_reaches_the_source(tmp_path):
    # One Modbus model: each field of ModbusSourceConfig, set to a non-default value, reaches
    # the source, whether the config comes from TOML, from a dict or is built in Python.
    # (backoff_max was dropped on one path: a TOML "5s" gave a source with 30 s.)
    from historian.acquisition.config import ModbusSourceConfig, ModbusTls, loads

    pki = make_pki(tmp_path / "pki")
    text = f"""
[store]
path = "plant.hist"

[[modbus]]
name = "plc7"
host = "127.0.0.2"
port = 1502
unit = 9
every = "250ms"
timeout = "2s"
retries = 3
max_gap = 4
max_block = 8
backoff_max = "5s"
tls = {{ ca = "{pki["ca_cert"]}", certificate = "{pki["client_cert"]}", private_key = "{pki["client_key"]}" }}

  [[modbus.points]]
  tag = "A"
  table = "input"
  address = 10
  type = "float32"
  word_order = "little"
  byte_order = "little"
  scale = 2.0
  offset = 1.0
  unit = "bar"

  [[modbus.points]]
  tag = "B"
  address = 16
  type = "bool"
  bit = 3

  [[modbus.points]]
  tag = "C"
  address = 20
  type = "string"
  count = 3
"""
    import tomllib

    parsed = loads(text).modbus[0]
    direct = ModbusSourceConfig(
        name="plc7", host="127.0.0.2", port=1502, unit=9, every_s=0.25, timeout_s=2.0, retries=3,
        max_gap=4, max_block=8, backoff_max_s=5.0,
        tls=ModbusTls(pki["ca_cert"], pki["client_cert"], pki["client_key"]),
        points=parsed.points,
    )  # fmt: skip
    defaults = ModbusSourceConfig(name="x", host="h")
    changed = [f.name for f in dataclasses.fields(ModbusSourceConfig)
               if getattr(direct, f.name) == getattr(defaults, f.name)]  # fmt: skip
    assert changed == [], changed  # the test covers every field
    for src in (ModbusSource(parsed), ModbusSource(direct),
                ModbusSource.from_config(tomllib.loads(text)["modbus"][0])):  # fmt: skip
        assert (src.name, src.host, src.port, src.unit) == ("plc7", "127.0.0.2", 1502, 9)
        assert (src.every_s, src.timeout_s, src.retries, src.backoff_max) == (0.25, 2.0, 3, 5.0)
        assert src.sslctx is not None
        # max_gap = 4 joins B (16) and C (20..22) in one read; max_block = 8 keeps A apart
        assert [(r.table, r.address, r.count) for r in src.requests] == [
            ("holding", 16, 7),
            ("input", 10, 2),
        ]
        a, b, c = src.points
        assert (
            a.table,
            a.address,
            a.type,
            a.word_order,
            a.byte_order,
            a.scale,
            a.offset,
            a.unit,
        ) == ("input", 10, "float32", "little", "little", 2.0, 1.0, "bar")
        assert (b.type, b.bit, c.type, c.count) == ("bool", 3, "string", 3)
