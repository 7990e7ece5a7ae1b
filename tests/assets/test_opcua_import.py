"""The asset model imported from a real asyncua server on 127.0.0.1 (Organizes/HasComponent,
custom object types, EURange and EngineeringUnits), hostile browse names included."""

from __future__ import annotations

import asyncio
import logging
import socket
import tomllib

from asyncua import Server, ua

import historian
from historian.acquisition.opcua_browse import abrowse
from historian.assets.units import UNECE_NAMESPACE, unit, unit_id

logging.getLogger("asyncua.server").setLevel(logging.ERROR)
NS = "urn:historian:assets-test"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _analog(parent, idx, name, code, low, high, symbol=None):
    var = await parent.add_variable(idx, name, 0.0, ua.VariantType.Double)
    await var.add_property(idx, "EURange", ua.Range(Low=low, High=high))
    eu = ua.EUInformation(
        NamespaceUri=UNECE_NAMESPACE,
        UnitId=unit_id(code),
        DisplayName=ua.LocalizedText(symbol or unit(code).symbol),
    )
    await var.add_property(idx, "EngineeringUnits", eu)
    return var


async def _server(port: int) -> Server:
    s = Server()
    await s.init()
    s.set_endpoint(f"opc.tcp://127.0.0.1:{port}/assets/")
    s.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await s.register_namespace(NS)
    pump_type = await s.nodes.base_object_type.add_object_type(idx, "PumpType")
    site = await s.nodes.objects.add_folder(idx, "SiteA")  # Organizes
    area = await site.add_folder(idx, "Area2")  # Organizes
    for name, high in (("P-101", 120.0), ("P-102", 250.0)):
        pump = await area.add_object(idx, name, objecttype=pump_type.nodeid)  # HasComponent
        await _analog(pump, idx, "Flow", "MQH", 0.0, high)
        await _analog(pump, idx, "Bearing Temp", "CEL", -20.0, 150.0)
        await _analog(pump, idx, "Speed", "RPM", 0.0, 3000.0, symbol="rpm")
    evil = await area.add_object(idx, 'Evil\n[[assets]]\npath = "x"')
    await _analog(evil, idx, "../../etc/passwd", "BAR", 0.0, 10.0)
    await _analog(evil, idx, "1st stage", "XAX", 0.0, 1.0, symbol="xu")  # code outside the table
    deep = area
    for i in range(20):  # deeper than a path may be
        deep = await deep.add_object(idx, f"L{i}")
    await deep.add_variable(idx, "Bottom", 0.0)
    await s.start()
    return s


def _import(store, url):
    async def main():
        server = await _server(int(url.rsplit(":", 1)[1].split("/")[0]))
        try:
            n = await asyncio.to_thread(
                store.assets.import_opcua, url, allow_insecure=True, prefix="Plant"
            )
            browsed = await abrowse(url, allow_insecure=True)
        finally:
            await server.stop()
        return n, browsed

    return asyncio.run(main())


def test_import_builds_paths_templates_units_and_ranges(tmp_path):
    url = f"opc.tcp://127.0.0.1:{_port()}/assets/"
    with historian.open(tmp_path / "plant.hist") as h:
        n, browsed = _import(h, url)
        paths = h.assets.find().column("path").to_pylist()
        assert {
            "Plant/SiteA",
            "Plant/SiteA/Area2",
            "Plant/SiteA/Area2/P-101",
            "Plant/SiteA/Area2/P-102",
        } <= set(paths)
        assert n == len(paths) + 1  # every asset and the one template (PumpType)
        pumps = h.assets.find("Plant/**", template="PumpType").column("path").to_pylist()
        assert pumps == ["Plant/SiteA/Area2/P-101", "Plant/SiteA/Area2/P-102"]
        rows = {
            (r["asset"].rsplit("/", 1)[1], r["attribute"]): r
            for r in h.assets.attribute_tags("Plant/**", template="PumpType").to_pylist()
        }
        flow = rows[("P-102", "Flow")]
        assert (flow["unit"], flow["symbol"], flow["unit_id"], flow["lo"], flow["hi"]) == (
            "MQH",
            "m³/h",
            5067080,
            0.0,
            250.0,
        )
        assert rows[("P-101", "Flow")]["hi"] == 120.0
        assert rows[("P-101", "Bearing_Temp")]["unit"] == "CEL"
        assert rows[("P-101", "Speed")]["symbol"] == "rpm"  # the server's DisplayName kept
        # tags are the names `historian browse` suggests: a collector config from config_stub
        # fills exactly these
        suggested = {v.tag for v in browsed}
        assert {r["tag"] for r in rows.values()} <= suggested
        assert h.assets.templates()["PumpType"].attributes["Flow"].unit == "MQH"
        with historian.open(tmp_path / "copy.hist") as o:  # the TOML of an import is the import
            o.assets.load_toml(h.assets.to_toml())
            assert o.assets.attribute_tags().to_pylist() == h.assets.attribute_tags().to_pylist()


def test_hostile_browse_names_become_safe_names(tmp_path):
    url = f"opc.tcp://127.0.0.1:{_port()}/assets/"
    with historian.open(tmp_path / "plant.hist") as h:
        _import(h, url)
        paths = h.assets.find().column("path").to_pylist()
        evil = [p for p in paths if "Evil" in p]
        assert evil == ["Plant/SiteA/Area2/Evil_assets_path_x"]
        attrs = h.assets.attribute_tags(evil[0]).to_pylist()
        names = sorted(r["attribute"] for r in attrs)
        assert names == ["_1st_stage", "etc_passwd"]
        custom = next(r for r in attrs if r["attribute"] == "_1st_stage")
        assert (custom["unit"], custom["symbol"]) == ("XAX", "xu")
        assert max(p.count("/") + 1 for p in paths) <= 12  # L0..L19 stop at the depth limit
        doc = tomllib.loads(h.assets.to_toml())  # nothing a server says adds keys
        assert {a["path"] for a in doc["assets"]} == set(paths)
    with historian.open(tmp_path / "plant.hist", mode="r") as r:
        assert r.assets.find().column("path").to_pylist() == paths
