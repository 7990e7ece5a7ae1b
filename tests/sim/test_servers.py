"""The simulated servers: real Modbus and OPC UA on 127.0.0.1, fault injection, config."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

from historian.acquisition.pki import CLIENT_URI, make_pki
from historian.model import quality as q
from historian.sim import (
    MODBUS_POINTS,
    NAMESPACE_URI,
    OPCUA_TAGS,
    SimModbusServer,
    SimServers,
    plant_config,
    plant_config_toml,
    serve_plant,
)


async def read_dv(client, idx: int, name: str):
    from asyncua import ua

    node = client.get_node(ua.NodeId(name, idx))
    return await node.read_data_value(raise_on_bad_status=False)


def test_opcua_values_timestamps_status_freeze_and_restart():
    async def main():
        from asyncua import Client

        async with SimServers(modbus=False, tick_s=0.05) as sim:
            port = sim.opcua_port
            async with Client(sim.opcua_endpoint) as c:
                idx = await c.get_namespace_index(NAMESPACE_URI)
                dv = await read_dv(c, idx, "Reactor.Temperature")
                now = dt.datetime.now(dt.UTC)
                assert dv.StatusCode.is_good() and 0 < dv.Value.Value < 150
                assert abs((now - dv.SourceTimestamp).total_seconds()) < 2
                assert (await read_dv(c, idx, "Reactor.State")).Value.Value == "HEATING"
                assert isinstance((await read_dv(c, idx, "Pump.Running")).Value.Value, bool)
                sim.opcua.set_status("TIC-101.PV", q.BAD_SENSOR_FAILURE)
                await asyncio.sleep(0.2)
                dv = await read_dv(c, idx, "Reactor.Temperature")
                assert dv.StatusCode.value == q.BAD_SENSOR_FAILURE and dv.Value.Value is None
                sim.opcua.set_status("TIC-101.PV", None)
                await asyncio.sleep(0.2)
                sim.opcua.freeze()
                await asyncio.sleep(0.2)
                frozen = await read_dv(c, idx, "Reactor.Temperature")
                await asyncio.sleep(0.3)
                again = await read_dv(c, idx, "Reactor.Temperature")
                assert again.SourceTimestamp == frozen.SourceTimestamp
                assert frozen.StatusCode.is_good()
                sim.opcua.freeze(False)
            await sim.opcua.restart()
            assert sim.opcua_port == port
            async with Client(sim.opcua_endpoint) as c:
                idx = await c.get_namespace_index(NAMESPACE_URI)
                assert (await read_dv(c, idx, "Feed.Flow")).StatusCode.is_good()

    asyncio.run(main())


def test_opcua_secure_mode(tmp_path):
    async def main():
        from asyncua import Client, ua
        from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

        rogue = make_pki(tmp_path / "rogue")
        async with SimServers(modbus=False, secure=True, pki_dir=str(tmp_path / "pki")) as sim:
            pki = sim.pki

            async def client(user, password, certs=pki, mode=ua.MessageSecurityMode.SignAndEncrypt):
                c = Client(sim.opcua_endpoint)
                c.application_uri = CLIENT_URI
                await c.set_security(SecurityPolicyBasic256Sha256, certs["client_cert_der"],
                                     certs["client_key"], mode=mode)  # fmt: skip
                c.set_user(user)
                c.set_password(password)
                return c

            async with await client("operator", "operator-pw") as c:
                idx = await c.get_namespace_index(NAMESPACE_URI)
                assert (await read_dv(c, idx, "Reactor.Pressure")).StatusCode.is_good()
            async with await client("operator", "operator-pw",
                                    mode=ua.MessageSecurityMode.Sign) as c:  # fmt: skip
                assert await c.get_namespace_index(NAMESPACE_URI) >= 2
            outcomes = []
            for make in (lambda: client("operator", "wrong"),
                         lambda: client("operator", "operator-pw", certs=rogue)):  # fmt: skip
                c = await make()
                try:
                    await c.connect()
                    outcomes.append("accepted")
                    await c.disconnect()
                except Exception as exc:
                    outcomes.append(type(exc).__name__)
            try:
                async with Client(sim.opcua_endpoint):  # SecurityPolicy None
                    outcomes.append("accepted")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
            return outcomes

    outcomes = asyncio.run(main())
    assert "accepted" not in outcomes, outcomes
    assert outcomes[0] == "BadUserAccessDenied"


def test_modbus_restart_keeps_port_and_values_and_faults_are_injectable():
    async def main():
        from pymodbus.client import AsyncModbusTcpClient

        from historian.acquisition.modbus import read_only_guard

        srv = SimModbusServer([{"tag": "A", "address": 3, "type": "int16"},
                               {"tag": "D", "table": "discrete", "address": 1}])  # fmt: skip
        await srv.start()
        await srv.set_value("A", -7)
        await srv.set_value("D", True)
        port = srv.port
        await srv.restart()
        assert srv.port == port
        c = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=0.3, retries=0,
                                 trace_pdu=read_only_guard)  # fmt: skip
        await c.connect()
        assert (await c.read_holding_registers(3, count=1)).registers == [0xFFF9]
        assert (await c.read_discrete_inputs(1, count=1)).bits[0] is True
        unserved = await c.read_holding_registers(2, count=2)  # address 2 is not served
        assert unserved.isError() and unserved.exception_code == 2
        srv.fail("A", exception_code=6)
        assert (await c.read_holding_registers(3, count=1)).exception_code == 6
        srv.clear_faults()
        srv.freeze()
        await srv.update({"A": 5})
        assert (await c.read_holding_registers(3, count=1)).registers == [0xFFF9]
        srv.freeze(False)
        srv.silence()
        from pymodbus.exceptions import ModbusIOException

        with pytest.raises(ModbusIOException):
            await c.read_holding_registers(3, count=1)
        c.close()
        await srv.stop()
        return srv.write_count, dict(srv.requests)

    writes, requests = asyncio.run(main())
    assert writes == 0 and set(requests) <= {2, 3}


def test_the_sim_records_write_requests():
    async def main():
        from pymodbus.client import AsyncModbusTcpClient

        srv = SimModbusServer([{"tag": "A", "address": 0}])
        await srv.start()
        c = AsyncModbusTcpClient("127.0.0.1", port=srv.port)  # unguarded: the sim must notice
        await c.connect()
        await c.write_register(0, 1)
        c.close()
        await srv.stop()
        return srv.writes

    assert asyncio.run(main()) == [(6, 0)]


def test_plant_config_matches_the_servers_and_the_collector_config_parser():
    from historian.acquisition.config import loads

    cfg = plant_config(5020, 4840, store="x.hist")
    assert cfg["store"] == {"path": "x.hist"}
    assert [p["tag"] for p in cfg["modbus"][0]["points"]] == [p["tag"] for p in MODBUS_POINTS]
    assert [p["tag"] for p in cfg["opcua"][0]["points"]] == list(OPCUA_TAGS)
    modbus_tags = {p["tag"] for p in cfg["modbus"][0]["points"]}
    assert not modbus_tags & set(OPCUA_TAGS)  # one tag, one source
    parsed = loads(plant_config_toml(5020, 4840))
    assert parsed.modbus[0].port == 5020 and len(parsed.modbus[0].points) == len(MODBUS_POINTS)
    assert parsed.opcua[0].allow_insecure and parsed.opcua[0].security_policy == "None"
    pki = {k: f"/pki/{k}" for k in ("client_cert_der", "client_key", "trusted", "ca_cert",
                                      "client_cert")}  # fmt: skip
    secure = plant_config(1, 2, secure=True, pki=pki, modbus_tls=True)
    assert secure["opcua"][0]["security_mode"] == "SignAndEncrypt"
    assert secure["opcua"][0]["allow_insecure"] is False
    assert secure["modbus"][0]["tls"]["ca"] == "/pki/ca_cert"


def test_serve_plant_blocks_for_seconds_and_reports_endpoints():
    seen = {}

    def ready(sim):
        seen.update(sim.endpoints)
        seen["thread"] = threading.current_thread().name

    serve_plant(modbus_port=0, opcua_port=0, seconds=0.3, on_ready=ready)
    assert seen["modbus"].startswith("modbus://127.0.0.1:")
    assert seen["opcua"].startswith("opc.tcp://127.0.0.1:")
