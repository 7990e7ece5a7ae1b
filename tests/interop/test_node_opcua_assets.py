"""The asset model imported from node-opcua (npm) over Basic256Sha256 SignAndEncrypt: folders
(Organizes), PumpType objects (HasComponent), AnalogItems with EURange and EngineeringUnits;
then the collector fills the imported tags and the model reads them back by asset."""

from __future__ import annotations

import time

from test_node_opcua import config
from third_party import opcua_env

import historian
from historian.acquisition.collector import Collector
from historian.acquisition.config import loads

PUMPS = ["Plant/Area1/Pump1", "Plant/Area1/Pump2"]


def _wait(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_import_from_node_opcua_then_collect_and_read_by_asset(
    node_opcua, interop_pki, tmp_path, monkeypatch
):
    user_env, pw_env = opcua_env(monkeypatch)
    nodes = [f"Plant.Area1.{p}.{item}" for p in ("Pump1", "Pump2") for item in ("Flow", "Speed")]
    cfg = loads(
        config(node_opcua, interop_pki, tmp_path, user_env, pw_env, names=nodes), base_dir=tmp_path
    )
    source = cfg.opcua[0]
    with historian.open(tmp_path / "plant.hist") as h:
        assert h.assets.import_opcua(source) >= 5  # PumpType, Plant, Area1, Pump1, Pump2
        assert h.assets.find("Plant/**", template="PumpType").column("path").to_pylist() == PUMPS
        assert h.assets.find("Plant").column("level").to_pylist() == [None]
        table = h.assets.attribute_tags("Plant/**", "PumpType")
        rows = {(r["asset"], r["attribute"]): r for r in table.to_pylist()}
        flow1, flow2 = rows[(PUMPS[0], "Flow")], rows[(PUMPS[1], "Flow")]
        assert (flow1["unit"], flow1["symbol"], flow1["unit_id"]) == ("MQH", "m³/h", 5067080)
        assert (flow1["lo"], flow1["hi"], flow2["hi"]) == (0.0, 120.0, 200.0)
        temp = rows[(PUMPS[0], "Bearing_Temp")]
        assert (temp["unit"], temp["lo"], temp["hi"]) == ("CEL", -20.0, 150.0)
        assert temp["description"] == "Bearing Temp of Pump1"
        assert rows[(PUMPS[1], "Speed")]["unit"] == "RPM"
        assert flow2["tag"] == "Plant.Area1.Pump2.Flow"
        h.assets.define_tags("Plant/**")
        assert h.tag("Plant.Area1.Pump2.Flow").hi == 200.0
    # the collector writes the config's tags N.<node>; point the assets at them and collect
    with historian.open(tmp_path / "plant.hist") as h:
        for p in PUMPS:
            name = p.rsplit("/", 1)[1]
            h.assets.add(
                p,
                template="PumpType",
                overrides={
                    "Flow": {"tag": f"N.Plant.Area1.{name}.Flow"},
                    "Speed": {"tag": f"N.Plant.Area1.{name}.Speed"},
                    "Bearing_Temp": {"tag": f"Plant.Area1.{name}.Bearing_Temp"},
                },
            )
    c = Collector(cfg)
    c.start()
    try:
        _wait(lambda: c.health().sources["node"].points >= 4)
    finally:
        c.stop()
    with historian.open(tmp_path / "plant.hist", mode="r") as r:
        got = r.assets.read("Plant/**", template="PumpType", attribute="Flow")
        assert set(got.column("asset").to_pylist()) == set(PUMPS)
        assert set(got.column("value").to_pylist()) == {0.0}
        assert r.assets.versions(PUMPS[0])[-1]["version"] == 2
