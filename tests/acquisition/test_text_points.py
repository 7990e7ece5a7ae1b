"""Text points end to end: real asyncua and pymodbus servers on 127.0.0.1 -> collector -> store.

OPC UA String, LocalizedText, EnumValueType and an enumeration DataType (subscribe and poll);
Modbus string registers in both byte orders. The stored text, StatusCode and source timestamp
must be what the server served.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import numpy as np
import pyarrow as pa
import pytest
from asyncua import Server, ua
from asyncua.common.structures104 import new_enum
from opcua_servers import free_port

import historian
from historian.acquisition.collector import Collector
from historian.acquisition.config import loads
from historian.acquisition.opcua_text import fit_text, label_enums, text_value
from historian.acquisition.samples import SampleBatch
from historian.errors import ConfigError, TextAggregateError
from historian.model import quality as q
from historian.model.text import MAX_TEXT_BYTES
from historian.sim.modbus_server import SimModbusServer

NS = "urn:historian:text-test"
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
T0_NS = 1772366400_000_000_000
MS = 1_000_000
logging.getLogger("asyncua").setLevel(logging.ERROR)


class TextServer:
    """An asyncua server with Line1.Batch (String), Recipe (LocalizedText), Mode
    (EnumValueType), State (Int32 of an enumeration DataType Idle/Running/Stopped), Temp
    (Double) and Locale (LocaleId, a String subtype)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/text/"
        self.server = Server()
        self.nodes: dict[str, ua.NodeId] = {}

    async def start(self) -> TextServer:
        s = self.server
        await s.init()
        s.set_endpoint(self.url)
        s.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await s.register_namespace(NS)
        enum = await new_enum(s, idx, "MachineState", ["Idle", "Running", "Stopped"])
        line = await s.nodes.objects.add_object(ua.NodeId("Line1", idx), "Line1")
        initial = {
            "Batch": ("", ua.VariantType.String, None),
            "Recipe": (ua.LocalizedText("", "en"), ua.VariantType.LocalizedText, None),
            "Mode": (
                ua.EnumValueType(Value=5, DisplayName=ua.LocalizedText("Init")),
                ua.VariantType.ExtensionObject,
                None,
            ),
            "State": (1, ua.VariantType.Int32, enum.nodeid),  # the first write changes both
            "Temp": (20.5, ua.VariantType.Double, None),
            "Locale": ("de-DE", ua.VariantType.String, ua.NodeId(ua.ObjectIds.LocaleId)),
        }
        for name, (value, vt, dtype) in initial.items():
            kw = {"datatype": dtype} if dtype is not None else {}
            node = await line.add_variable(ua.NodeId(f"Line1.{name}", idx), name, value,
                                           varianttype=vt, **kw)  # fmt: skip
            self.nodes[name] = node.nodeid
        await s.start()
        return self

    def node(self, name: str) -> str:
        return f"nsu={NS};s=Line1.{name}"

    async def write(self, name: str, value, vt, t: dt.datetime, status: int = 0) -> None:
        dv = ua.DataValue(
            ua.Variant(value, vt),
            StatusCode=ua.StatusCode(status),
            SourceTimestamp=t,
            ServerTimestamp=dt.datetime.now(dt.UTC),
        )
        await self.server.write_attribute_value(self.nodes[name], dv)

    async def stop(self) -> None:
        await self.server.stop()


POINTS = ("Batch", "Recipe", "Mode", "State", "Temp", "Locale")
TEXT_TAGS = {"L1.Batch", "L1.Recipe", "L1.Locale"}  # String, LocalizedText, LocaleId nodes


def _config(server: TextServer, acquire: str, types: dict[str, str] | None = None) -> str:
    text = f"""
[store]
path = "plant.hist"

[collector]
batch_interval = "50ms"

[[opcua]]
name = "line1"
url = "{server.url}"
security_policy = "None"
allow_insecure = true
acquire = "{acquire}"
every = "50ms"
"""
    for name in POINTS:
        text += f'\n  [[opcua.points]]\n  tag = "L1.{name}"\n  node = "{server.node(name)}"\n'
        if name in (types or {}):
            text += f'  type = "{types[name]}"\n'
    return text


async def _wait_until(pred, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def _stored(path, tag):
    with historian.open(path, mode="r") as h:
        t = h.read(tag, T0_NS, T0_NS + 86_400 * 10**9)  # the served values, not the initial ones
    return list(zip(t.column("time").cast(pa.int64()).to_pylist(), t.column("value").to_pylist(),
                    t.column("quality").to_pylist(), t.column("text").to_pylist(),
                    strict=True))  # fmt: skip


@pytest.mark.parametrize("acquire", ["subscribe", "poll"])
def test_opcua_string_localized_text_and_enumerations_are_stored_as_texts(tmp_path, acquire):
    served: dict[str, list[tuple[int, float | None, int, str]]] = {}

    async def main():
        server = await TextServer().start()
        c = Collector(loads(_config(server, acquire), base_dir=tmp_path))
        task = asyncio.create_task(c.arun())
        try:
            await _wait_until(lambda: c.health().sources["line1"].connected)
            await _wait_until(lambda: c.health().written_points >= 4)
            for i in range(6):
                t = T0 + dt.timedelta(seconds=i)
                t_ns = T0_NS + i * 1000 * MS
                status = q.UNCERTAIN if i == 3 else q.GOOD
                batch = f"B-{i:03d} \u00e9t\u00e9\t\u2603" if i != 4 else ""
                await server.write("Batch", batch, ua.VariantType.String, t, status)
                recipe = ua.LocalizedText(f"Rezept {i}", "de")
                await server.write("Recipe", recipe, ua.VariantType.LocalizedText, t)
                mode = ua.EnumValueType(Value=i % 2, DisplayName=ua.LocalizedText(
                    ["Manual", "Auto"][i % 2]))  # fmt: skip
                await server.write("Mode", mode, ua.VariantType.ExtensionObject, t)
                await server.write("State", i % 3, ua.VariantType.Int32, t)
                served.setdefault("L1.Batch", []).append((t_ns, None, status, batch))
                served.setdefault("L1.Recipe", []).append((t_ns, None, 0, f"Rezept {i}"))
                served.setdefault("L1.Mode", []).append(
                    (t_ns, float(i % 2), 0, ["Manual", "Auto"][i % 2])
                )
                served.setdefault("L1.State", []).append(
                    (t_ns, float(i % 3), 0, ["Idle", "Running", "Stopped"][i % 3])
                )
                await asyncio.sleep(0.25)  # slower than the poll: every value is seen
            await _wait_until(
                lambda: all(len(_stored(tmp_path / "plant.hist", tag)) >= 6 for tag in served)
            )
        finally:
            c.request_stop()
            await task
            await server.stop()

    asyncio.run(main())
    path = tmp_path / "plant.hist"
    for tag, want in served.items():
        assert _stored(path, tag) == want, tag
    with historian.open(path, mode="r") as h:
        types = dict(zip(h.tags().column("name").to_pylist(), h.tags().column("type").to_pylist(),
                         strict=True))  # fmt: skip
        assert types == {
            f"L1.{n}": "string" if f"L1.{n}" in TEXT_TAGS else "number" for n in POINTS
        }  # from the nodes' DataTypes, before the first value
        assert h.tag("L1.Recipe").kind == "step" and h.tag("L1.Temp").kind == "analog"
        summary = h.summary("L1.Batch", T0_NS, T0_NS + 6 * 1000 * MS, "1h",
                            stats=["count", "last"])  # fmt: skip
        got = dict(zip(summary.column("stat").to_pylist(), zip(
            summary.column("value").to_pylist(), summary.column("text").to_pylist(),
            strict=True), strict=True))  # fmt: skip
        good = sum(1 for p in served["L1.Batch"] if p[2] == q.GOOD)  # count: Good values (5)
        assert got == {"count": (float(good), None), "last": (None, served["L1.Batch"][-1][3])}
        with pytest.raises(TextAggregateError):
            h.summary("L1.Recipe", T0_NS, T0_NS + 6 * 1000 * MS, "1h", stats=["twa"])
        assert not h.read("L1.Temp").column("value").is_null().to_pylist()[0]
        rows = h.sql(
            "SELECT text FROM points WHERE tag = 'L1.State' AND time >= $t "
            "AND time < $t + INTERVAL 1 DAY ORDER BY time",
            {"t": T0},
        ).fetchall()
        assert [r[0] for r in rows] == ["Idle", "Running", "Stopped"] * 2


async def _collect_once(tmp_path, server: TextServer, text: str) -> None:
    """Run a collector until every point has a value in the store, writing one Batch text."""
    c = Collector(loads(text, base_dir=tmp_path))
    task = asyncio.create_task(c.arun())
    try:
        await _wait_until(lambda: c.health().written_points >= len(POINTS))  # initial values
        await server.write("Batch", "B-777", ua.VariantType.String, T0)
        await _wait_until(lambda: c.health().written_points >= len(POINTS) + 1)
    finally:
        c.request_stop()
        await task


def test_a_tag_holding_numbers_is_never_retyped_and_a_warning_names_it(tmp_path, caplog):
    path = tmp_path / "plant.hist"
    with historian.open(path) as h:  # numbers under L1.Batch, and only NaN texts (an older
        h.define_many({"L1.Batch": {}, "L1.Recipe": {}})  # collector's) under L1.Recipe
        h.write("L1.Batch", [T0_NS - 10 * MS], [42.0])
        h.write_table(pa.table({"tag": ["L1.Recipe"], "time": [T0_NS - 10 * MS],
                                "value": [float("nan")], "text": ["Rezept 0"]}))  # fmt: skip

    async def main():
        server = await TextServer().start()
        try:
            await _collect_once(tmp_path, server, _config(server, "subscribe"))
        finally:
            await server.stop()

    with caplog.at_level(logging.WARNING, logger="historian.acquisition.text_tags"):
        asyncio.run(main())
    warned = [r.getMessage() for r in caplog.records if r.name.endswith("text_tags")]
    assert len(warned) == 1 and "'L1.Batch'" in warned[0] and "holds numbers" in warned[0]
    with historian.open(path, mode="r") as h:
        assert h.tag("L1.Batch").type == "number" and h.tag("L1.Batch").version == 1
        assert h.tag("L1.Recipe").type == "string" and h.tag("L1.Locale").type == "string"
        batch = h.read("L1.Batch", T0_NS - 10 * MS, T0_NS + 1)
        assert batch.column("value").to_pylist() == [42.0, None]  # the text point: no number
        assert batch.column("text").to_pylist() == [None, "B-777"]


def test_config_type_decides_for_a_poll_source_and_other_types_are_refused(tmp_path):
    types = {"Batch": "number", "Mode": "string"}  # a String kept a number; an EnumValueType text

    async def main():
        server = await TextServer().start()
        try:
            await server.write("Mode", ua.EnumValueType(Value=1, DisplayName=ua.LocalizedText(
                "Auto")), ua.VariantType.ExtensionObject, T0)  # fmt: skip
            await _collect_once(tmp_path, server, _config(server, "poll", types))
        finally:
            await server.stop()

    asyncio.run(main())
    with historian.open(tmp_path / "plant.hist", mode="r") as h:
        assert h.tag("L1.Batch").type == "number" and h.tag("L1.Mode").type == "string"
        assert h.tag("L1.Recipe").type == "string" and h.tag("L1.State").type == "number"
        assert h.read("L1.Mode", T0_NS, T0_NS + 1).column("text").to_pylist() == ["Auto"]
        assert h.read("L1.Batch", T0_NS, T0_NS + 1).column("text").to_pylist() == ["B-777"]
    cfg = """
[store]
path = "p.hist"
[[opcua]]
name = "s"
url = "opc.tcp://127.0.0.1:4840"
security_policy = "None"
allow_insecure = true
  [[opcua.points]]
  tag = "T"
  node = "ns=2;s=T"
  type = "%s"
"""
    with pytest.raises(
        ConfigError,
        match=r"opcua\[0\]\.points\[0\]\.type: 'text' is not one of "
        r"number, string",
    ):
        loads(cfg % "text", base_dir=tmp_path)
    assert loads(cfg % "string", base_dir=tmp_path).tags()["T"].type == "string"


def test_modbus_string_registers_are_stored_as_text_tags(tmp_path):
    points = [
        {"tag": "PLC.BATCH", "table": "holding", "address": 0, "type": "string", "count": 8},
        {
            "tag": "PLC.RECIPE",
            "table": "input",
            "address": 10,
            "type": "string",
            "count": 6,
            "byte_order": "little",
        },
        {"tag": "PLC.MODE", "table": "holding", "address": 30, "type": "uint16"},
        {"tag": "PLC.TEMP", "table": "holding", "address": 20, "type": "float32"},
    ]
    mode_settings = '"PLC.MODE"\n  kind = "step"\n  states = { 0 = "manual", 1 = "auto" }'
    texts = ["B-001", "B-002 \u00e9", "", "ABCDEFGHIJKLMNOP"]  # the last one fills 8 registers

    def toml_points() -> str:
        out = ""
        for p in points:
            out += "\n  [[modbus.points]]\n" + "".join(
                f"  {k} = {v!r}\n".replace("'", '"') if isinstance(v, str) else f"  {k} = {v}\n"
                for k, v in p.items())  # fmt: skip
        return out

    async def main():
        server = SimModbusServer(points)
        await server.start()
        cfg = loads(
            f"""
[store]
path = "plant.hist"
[collector]
batch_interval = "50ms"
[[modbus]]
name = "plc"
host = "127.0.0.1"
port = {server.port}
every = "50ms"
timeout = "5s"
{toml_points().replace('"PLC.MODE"', mode_settings)}  compression = {{ deadband = 0.5 }}
""",
            base_dir=tmp_path,
        )  # fmt: skip  (a compressed numeric tag in the same batches as texts)
        c = Collector(cfg)
        task = asyncio.create_task(c.arun())
        try:
            for k, text in enumerate(texts):
                await server.set_value("PLC.MODE", k % 2)
                await server.set_value("PLC.BATCH", text)
                await server.set_value("PLC.RECIPE", text[::-1][:12])
                mark = c.health().written_points
                await _wait_until(lambda m=mark: c.health().written_points >= m + 9)
        finally:
            c.request_stop()
            await task
            await server.stop()
        assert server.write_count == 0

    asyncio.run(main())
    with historian.open(tmp_path / "plant.hist", mode="r") as h:
        assert h.tag("PLC.BATCH").type == "string" and h.tag("PLC.TEMP").type == "number"
        batch = h.read("PLC.BATCH")
        assert set(batch.column("quality").to_pylist()) == {q.GOOD}
        seen = list(dict.fromkeys(batch.column("text").to_pylist()))
        assert seen == ["", *texts] or seen == texts  # the initial registers hold ""
        recipe = [t for t in dict.fromkeys(h.read("PLC.RECIPE").column("text").to_pylist()) if t]
        assert recipe == [t[::-1][:12] for t in texts if t]
        mode = h.read("PLC.MODE")  # an enumeration: the number, and its label from `states`
        pairs = set(zip(mode.column("value").to_pylist(), mode.column("text").to_pylist(),
                        strict=True))  # fmt: skip
        assert pairs == {(0.0, "manual"), (1.0, "auto")}
        states = h.summary("PLC.BATCH", batch.column("time")[0].value, time.time_ns(), "1h",
                           stats=["count", "last"])  # fmt: skip
        assert states.column("text").to_pylist()[-1] == texts[-1]


def test_text_helpers_cut_oversized_texts_and_label_enumerations():
    cut, was_cut = fit_text("\u00e9" * MAX_TEXT_BYTES)
    assert (
        was_cut and len(cut.encode()) == MAX_TEXT_BYTES and cut == "\u00e9" * (MAX_TEXT_BYTES // 2)
    )
    assert fit_text("ok") == ("ok", False)
    assert text_value(ua.LocalizedText("Rezept", "de"))[1] == "Rezept"
    assert text_value(ua.EnumValueType(Value=3, DisplayName=ua.LocalizedText("Three"))) == (
        3.0, "Three")  # fmt: skip
    assert text_value(b"bytes") is None and text_value(1.5) is None
    b = SampleBatch.from_points(["S", "S", "X"], T0_NS, [1.0, 7.0, 1.0], [0, 0, 0], source="s")
    labelled = label_enums(b, {"S": {1: "Running"}})
    assert labelled.text == ["Running", None, None]  # 7 has no label: a number only
    assert label_enums(b, {}) is b


def test_texts_survive_the_spool_and_its_drain_into_the_store(tmp_path):
    from historian.acquisition.spool import Spool
    from historian.acquisition.writer import batch_table

    sp = Spool(tmp_path / "spool", max_bytes=10_000_000)
    numbers = SampleBatch.from_points(["PLC.TEMP"], T0_NS, [20.5], [0], source="plc")
    texts = SampleBatch(
        ["PLC.BATCH", "PLC.BATCH"],
        np.array([T0_NS + MS, T0_NS + 2 * MS]),
        np.full(2, np.nan),
        np.zeros(2, np.uint32),
        "plc",
        ["B-1 \u2603", ""],
    )
    for b in (numbers, texts, numbers):  # tables with and without a text column, one segment
        sp.append(batch_table(b))
    with historian.open(tmp_path / "plant.hist") as h:
        h.define_many({"PLC.TEMP": {}, "PLC.BATCH": {"type": "string"}})
        seg = sp.oldest()
        h.write_table(sp.read(seg))  # what the writer does when it drains the spool
        sp.remove(seg)
        assert _texts_of(h, "PLC.BATCH") == ["B-1 \u2603", ""]
        assert h.read("PLC.TEMP").schema.names == ["tag", "time", "value", "quality"]


def _texts_of(h, tag):
    return h.read(tag).column("text").to_pylist()
