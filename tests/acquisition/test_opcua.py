"""OPC UA source against real asyncua servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math

import pytest
from opcua_servers import NS, UaServer, free_port

from historian.acquisition.config import OpcUaPoint, OpcUaSourceConfig, loads
from historian.acquisition.opcua import OpcUaSource, abrowse, config_stub
from historian.acquisition.pki import make_pki
from historian.acquisition.samples import SampleBatch
from historian.errors import ConfigError, SourceSecurityError
from historian.model import quality as q

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
T0_NS = 1772366400_000_000_000


def insecure_cfg(server: UaServer, **kw) -> OpcUaSourceConfig:
    points = tuple(OpcUaPoint(f"L1.{n}", server.node_id(n)) for n in server.names)
    base = dict(name="line1", url=server.url, security_policy="None", allow_insecure=True,
                every_s=0.05, reconnect_max_delay_s=1.0, points=points)  # fmt: skip
    base.update(kw)
    return OpcUaSourceConfig(**base)


def secure_cfg(server: UaServer, pki: dict[str, str], **kw) -> OpcUaSourceConfig:
    from pathlib import Path

    points = tuple(OpcUaPoint(f"L1.{n}", server.node_id(n)) for n in server.names)
    base = dict(name="line1", url=server.url, every_s=0.05, points=points,
                certificate=Path(pki["client_cert_der"]), private_key=Path(pki["client_key"]),
                trust=Path(pki["trusted"]))  # fmt: skip
    base.update(kw)
    return OpcUaSourceConfig(**base)


class Collect:
    """An emit callback that keeps every point."""

    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []

    def __call__(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    def points(self, tag: str) -> list[tuple[int, float, int]]:
        out = []
        for b in self.batches:
            for i, t in enumerate(b.tags):
                if t == tag:
                    out.append((int(b.t_ns[i]), float(b.values[i]), int(b.quality[i])))
        return out

    async def wait_for(self, pred, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not pred():
            if loop.time() > end:
                raise AssertionError(f"timed out; got {[b.tags for b in self.batches][-5:]}")
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def rogue_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("rogue"), ca_name="rogue CA")


def test_subscription_values_timestamps_and_status_exact():
    async def main():
        server = await UaServer(free_port()).start()
        try:
            src = OpcUaSource(insecure_cfg(server))
            got, stop = Collect(), asyncio.Event()
            task = asyncio.create_task(src.run(got, stop))
            await got.wait_for(lambda: len(got.points("L1.Temp")) >= 1)  # initial value
            sent = [
                (T0, 20.5, q.GOOD),
                (T0 + dt.timedelta(seconds=1), 21.25, q.GOOD),
                (T0 + dt.timedelta(seconds=2), 22.0, q.UNCERTAIN_LAST_USABLE_VALUE),
                (T0 + dt.timedelta(seconds=3), None, q.BAD_SENSOR_FAILURE),
                (T0 + dt.timedelta(seconds=4), 23.5, q.GOOD),
            ]
            for t, v, c in sent:
                await server.write("Temp", v, status=c, source_time=t)
                await asyncio.sleep(0.12)
            await got.wait_for(lambda: len(got.points("L1.Temp")) >= 6)
            stop.set()
            await task
            pts = got.points("L1.Temp")[1:]
            assert [p[0] for p in pts] == [T0_NS + i * 1_000_000_000 for i in range(5)]
            assert [p[2] for p in pts] == [c for _, _, c in sent]
            assert pts[0][1] == 20.5 and pts[1][1] == 21.25 and pts[2][1] == 22.0
            assert math.isnan(pts[3][1]) and pts[3][2] == q.BAD_SENSOR_FAILURE
            assert pts[4][1] == 23.5
            h = src.health()
            assert h.points >= 7 and h.last_good_ns == T0_NS + 4_000_000_000
        finally:
            await server.stop()

    asyncio.run(main())


def test_poll_reads_full_datavalues_and_skips_unchanged():
    async def main():
        server = await UaServer(free_port()).start()
        try:
            await server.write("Temp", 5.0, source_time=T0)
            await server.write("Flow", None, status=q.BAD_NO_COMMUNICATION, source_time=T0)
            src = OpcUaSource(insecure_cfg(server, acquire="poll", every_s=0.05))
            got, stop = Collect(), asyncio.Event()
            task = asyncio.create_task(src.run(got, stop))
            await asyncio.sleep(0.4)  # ~8 polls, same DataValue: emitted once
            await server.write("Temp", 6.0, source_time=T0 + dt.timedelta(seconds=1))
            await got.wait_for(lambda: len(got.points("L1.Temp")) >= 2)
            stop.set()
            await task
            assert got.points("L1.Temp") == [(T0_NS, 5.0, 0), (T0_NS + 1_000_000_000, 6.0, 0)]
            (flow,) = got.points("L1.Flow")
            assert flow[0] == T0_NS and math.isnan(flow[1]) and flow[2] == q.BAD_NO_COMMUNICATION
        finally:
            await server.stop()

    asyncio.run(main())


def test_restart_records_no_communication_then_resumes_with_new_namespace_index():
    async def main():
        port = free_port()
        server = await UaServer(port).start()
        src = OpcUaSource(insecure_cfg(server))
        got, stop = Collect(), asyncio.Event()
        task = asyncio.create_task(src.run(got, stop))
        try:
            await got.wait_for(lambda: src.health().connected and got.points("L1.Temp"))
            await server.write("Temp", 1.0, source_time=T0)
            await got.wait_for(lambda: any(p[1] == 1.0 for p in got.points("L1.Temp")))
            await server.stop()
            await got.wait_for(lambda: any(p[2] == q.BAD_NO_COMMUNICATION
                                           for p in got.points("L1.Temp")))  # fmt: skip
            await asyncio.sleep(0.5)
            # The restarted server registers another namespace first: our index moves.
            server = await UaServer(port, extra_namespaces=("urn:other:first",)).start()
            await server.write("Temp", 2.0, source_time=T0 + dt.timedelta(seconds=10))
            await got.wait_for(lambda: any(p[1] == 2.0 for p in got.points("L1.Temp")), 15)
        finally:
            stop.set()
            await task
            await server.stop()
        temp = got.points("L1.Temp")
        codes = [p[2] for p in temp]
        bad = codes.index(q.BAD_NO_COMMUNICATION)
        assert codes.count(q.BAD_NO_COMMUNICATION) == 1  # one marker per outage, not per retry
        assert any(p[1] == 1.0 for p in temp[:bad]) and temp[-1][1] == 2.0
        assert any(p[2] == q.BAD_NO_COMMUNICATION for p in got.points("L1.Flow"))
        h = src.health()
        assert h.reconnects == 1 and h.errors >= 1

    asyncio.run(main())


def test_security_none_refused_by_default_and_allowed_with_warning(caplog):
    cfg = OpcUaSourceConfig(name="x", url="opc.tcp://127.0.0.1:4840", security_policy="None",
                            points=(OpcUaPoint("A", "ns=2;i=1"),))  # fmt: skip
    with pytest.raises(SourceSecurityError, match="allow_insecure"):
        OpcUaSource(cfg)
    with pytest.raises(ConfigError, match=r"opcua\[0\]\.security_policy: .*allow_insecure"):
        loads('[store]\npath="s"\n[[opcua]]\nname="x"\nurl="opc.tcp://h:4840"\n'
              'security_policy="None"\n[[opcua.points]]\ntag="A"\nnode="ns=2;i=1"')  # fmt: skip
    # A server that only offers None: the secure default refuses it.

    async def main(pki):
        server = await UaServer(free_port()).start()
        try:
            with pytest.raises(SourceSecurityError, match="no endpoint"):
                await OpcUaSource(secure_cfg(server, pki)).connect()
            src = OpcUaSource(insecure_cfg(server))
            with caplog.at_level(logging.WARNING, logger="historian"):
                await src.connect()
            assert any("SecurityPolicy None" in r.getMessage() and r.levelno == logging.WARNING
                       for r in caplog.records)  # fmt: skip
            batch = await src.read()
            assert batch.tags == ["L1.Temp", "L1.Flow"]
            await src.disconnect()
        finally:
            await server.stop()

    import tempfile

    asyncio.run(main(make_pki(tempfile.mkdtemp())))


def test_basic256sha256_sign_and_encrypt_with_user_password(pki, monkeypatch, caplog):
    secret = "s3cr3t-Pa55word!"
    monkeypatch.setenv("TEST_OPCUA_USER", "historian")
    monkeypatch.setenv("TEST_OPCUA_PASSWORD", secret)

    async def main():
        server = await UaServer(free_port(), pki=pki, users={"historian": secret}).start()
        try:
            await server.write("Temp", 42.0, source_time=T0)
            cfg = secure_cfg(server, pki, username_env="TEST_OPCUA_USER",
                             password_env="TEST_OPCUA_PASSWORD")  # fmt: skip
            src = OpcUaSource(cfg)
            await src.connect()
            batch = await src.read()
            assert batch.values[0] == 42.0 and int(batch.t_ns[0]) == T0_NS
            await src.disconnect()
            # Sign only, and a subscription over the secure channel
            got, stop = Collect(), asyncio.Event()
            src = OpcUaSource(secure_cfg(server, pki, security_mode="Sign",
                                         username_env="TEST_OPCUA_USER",
                                         password_env="TEST_OPCUA_PASSWORD"))  # fmt: skip
            task = asyncio.create_task(src.run(got, stop))
            await got.wait_for(lambda: any(p[1] == 42.0 for p in got.points("L1.Temp")))
            stop.set()
            await task
            # Wrong password: refused, as a security error, without the password in the message.
            monkeypatch.setenv("TEST_OPCUA_PASSWORD", "wrong-" + secret)
            with pytest.raises(SourceSecurityError, match="BadUserAccessDenied") as err:
                await OpcUaSource(cfg).connect()
            assert secret not in str(err.value)
        finally:
            await server.stop()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert caplog.records
    assert secret not in caplog.text
    assert all(secret not in str(r.args) for r in caplog.records)


def test_untrusted_server_certificate_refused(pki, rogue_pki):
    async def main():
        server = await UaServer(free_port(), pki=pki).start()
        try:
            from pathlib import Path

            # our client trusts only the rogue CA: the real server's certificate is untrusted
            cfg = secure_cfg(server, rogue_pki, trust=Path(rogue_pki["trusted"]))
            with pytest.raises(SourceSecurityError, match="BadCertificateUntrusted"):
                await OpcUaSource(cfg).connect()
        finally:
            await server.stop()

    asyncio.run(main())


def test_refused_settings():
    base = dict(name="x", security_policy="None", allow_insecure=True,
                points=(OpcUaPoint("A", "ns=2;i=1"),))  # fmt: skip
    with pytest.raises(SourceSecurityError, match="credentials in the URL"):
        OpcUaSource(OpcUaSourceConfig(url="opc.tcp://u:p@127.0.0.1:4840", **base))
    with pytest.raises(ConfigError, match=r"opcua\[0\]\.url: credentials"):
        loads('[store]\npath="s"\n[[opcua]]\nname="x"\nurl="opc.tcp://u:p@h:4840"\n'
              'security_policy="None"\nallow_insecure=true\n'
              '[[opcua.points]]\ntag="A"\nnode="ns=2;i=1"')  # fmt: skip
    with pytest.raises(SourceSecurityError, match="password is never sent"):
        OpcUaSource(OpcUaSourceConfig(url="opc.tcp://h:4840", username_env="U", password_env="P",
                                      **base))  # fmt: skip


def test_browse_lists_variables_in_nsu_form_and_stub_parses():
    async def main():
        server = await UaServer(free_port(), names=("Temp", "Flow", "Level")).start()
        try:
            found = await abrowse(server.url, allow_insecure=True)
        finally:
            await server.stop()
        return found

    found = asyncio.run(main())
    by_node = {v.node: v for v in found}
    v = by_node[f"nsu={NS};s=Line1.Temp"]
    assert v.path == "Objects/Line1/Temp" and v.data_type == "Double" and v.tag == "Line1.Temp"
    assert len([x for x in found if x.node.startswith(f"nsu={NS}")]) == 3
    stub = config_stub(found, name="line1", url="opc.tcp://10.0.0.9:4840")
    cfg = loads('[store]\npath = "s.hist"\n\n' + stub, base_dir="/plant")
    assert {p.tag for p in cfg.opcua[0].points} >= {"Line1.Temp", "Line1.Flow", "Line1.Level"}
    assert cfg.opcua[0].security_policy == "Basic256Sha256"
    assert str(cfg.opcua[0].trust) == "/plant/pki/trusted"
