"""The asset model: definitions, validation of hostile names, persistence, versions, TOML."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

import historian
from historian.assets import AssetModel, unit, unit_from_id, units
from historian.assets.persist import ASSETS_FILE
from historian.errors import (
    AssetNotFoundError,
    ConfigError,
    CorruptDataError,
    InvalidArgumentError,
    ReadOnlyStoreError,
    StoreError,
)

PUMP = {
    "Flow": {"tag": "{asset}.FI.PV", "unit": "m3/h", "lo": 0, "hi": 120, "description": "flow"},
    "Head": {"tag": "{asset}.PI.PV", "unit": "m"},
    "Run": {"tag": "{asset}.RUN", "kind": "step"},
    "Power": {"expression": "Flow * Head / 367", "unit": "kW"},
}


def plant(m: AssetModel) -> None:
    m.define_template("Pump", PUMP, description="centrifugal pump")
    m.add("SiteA", level="site")
    m.add("SiteA/Area2", level="area")
    for name in ("P-101", "P-102"):
        m.add(f"SiteA/Area2/{name}", template="Pump", level="equipment_module")
    m.add("SiteA/Area3/P-301", template="Pump", overrides={"Flow": {"tag": "FI-7.PV", "hi": 300}})
    m.add("SiteB/P-1", template="Pump")


def test_paths_templates_overrides_and_find(h):
    plant(h.assets)
    found = h.assets.find("SiteA/Area2/**", template="Pump")
    assert found.column("path").to_pylist() == ["SiteA/Area2/P-101", "SiteA/Area2/P-102"]
    assert found.column("parent").to_pylist() == ["SiteA/Area2"] * 2
    assert found.column("level").to_pylist() == ["equipment_module"] * 2
    assert h.assets.find("SiteA/**").num_rows == 5  # SiteA itself, Area2, 2 + 1 pumps
    assert h.assets.find("*/P-?").column("path").to_pylist() == ["SiteB/P-1"]
    tags = h.assets.attribute_tags("SiteA/**", template="Pump", attribute="Flow").to_pylist()
    assert [(r["asset"], r["tag"], r["hi"]) for r in tags] == [
        ("SiteA/Area2/P-101", "P-101.FI.PV", 120.0),
        ("SiteA/Area2/P-102", "P-102.FI.PV", 120.0),
        ("SiteA/Area3/P-301", "FI-7.PV", 300.0),
    ]
    r = tags[0]
    assert (r["unit"], r["symbol"], r["unit_id"], r["description"]) == (
        "MQH",
        "m³/h",
        0x4D5148,
        "flow",
    )
    power = h.assets.attribute_tags("SiteB/P-1", attribute="Power").to_pylist()[0]
    assert power["tag"] is None and power["expression"] == "Flow * Head / 367"
    assert power["unit"] == "KWT" and power["quality"] == "worst"
    with pytest.raises(AssetNotFoundError, match="unknown template 'Valve'"):
        h.assets.find(template="Valve")
    with pytest.raises(AssetNotFoundError, match="has attribute"):
        h.assets.read("SiteB/**", attribute="Nope")


def test_define_tags_puts_units_ranges_and_kinds_in_the_catalog(h):
    plant(h.assets)
    assert h.assets.define_tags("SiteA/Area2/*") == 6  # 2 pumps x 3 stored attributes
    t = h.tag("P-101.FI.PV")
    assert (t.unit, t.lo, t.hi, t.description) == ("m³/h", 0.0, 120.0, "flow")
    assert h.tag("P-101.RUN").kind == "step"
    assert "P-301.FI.PV" not in h.tags().column("name").to_pylist()


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/SiteA",
        "SiteA/",
        "SiteA//P",
        "SiteA/../etc",
        "..",
        "Site A",
        "Site\nA",
        "a/" * 13,
        "x" * 201,
        "SiteA/P;DROP TABLE",
        "SiteA/\u202eevil",
        "SiteA/P'1",
        "C:\\Windows",
        7,
        None,
        "SiteA/" + "p" * 65,
    ],
)
def test_hostile_asset_paths_are_refused(h, path):
    with pytest.raises(InvalidArgumentError):
        h.assets.add(path)
    assert h.assets.find().num_rows == 0
    assert not os.path.exists(os.path.join(h.path, ASSETS_FILE))


@pytest.mark.parametrize(
    "template, attributes",
    [
        ("../Pump", {}),
        ("Pump", {"Flow rate": {}}),  # attribute names are identifiers
        ("Pump", {"__class__.x": {}}),
        ("Pump", {"Flow": {"tag": "{asset.__class__}"}}),  # only four placeholders, no format()
        ("Pump", {"Flow": {"tag": "{0}"}}),
        ("Pump", {"Flow": {"tag": "../{asset}"}}),
        ("Pump", {"Flow": {"tag": "{asset}.PV", "expression": "1"}}),
        ("Pump", {"Flow": {"unit": "furlong"}}),
        ("Pump", {"Flow": {"kind": "sometimes"}}),
        ("Pump", {"Flow": {"lo": 5, "hi": 1}}),
        ("Pump", {"Flow": {"lo": float("nan")}}),
        ("Pump", {"Flow": {"names": ["x"]}}),
        ("Pump", {"Flow": {"quality": "best"}}),
        ("Pump", {"P": {"expression": "Q * 2"}}),  # names an attribute it does not have
        ("Pump", {"A": {"expression": "B"}, "B": {"expression": "A"}}),  # a circle
        ("Pump", {"A": {"expression": "A + 1"}}),
        ("Pump", ["Flow"]),
    ],
)
def test_hostile_templates_are_refused(h, template, attributes):
    with pytest.raises(InvalidArgumentError):
        h.assets.define_template(template, attributes)
        h.assets.add("S/X", template=template)  # a missing input shows when an asset uses it
    assert "Pump" not in h.assets.templates() or not h.assets.find().num_rows


def test_a_tag_pattern_that_gives_an_invalid_name_for_one_asset_is_refused_there(h):
    h.assets.define_template("T", {"V": "{asset}.PV"})
    with pytest.raises(InvalidArgumentError, match="not a valid tag name"):
        h.assets.add("S/_X", template="T")  # a valid segment, but no tag starts with '_'
    h.assets.define_template("T", {"V": "{parent}:{asset}.PV"})
    h.assets.add("S/X", template="T", overrides={"D": {"expression": "V * 2"}})
    assert h.assets.attribute_tags("S/X").column("tag").to_pylist() == [None, "S:X.PV"]
    with pytest.raises(InvalidArgumentError, match="names \\['V'\\]"):
        h.assets.define_template("T", {"W": "{asset}.W"})  # S/X's D reads V: refused, kept
    assert h.assets.templates()["T"].attributes["V"].tag == "{parent}:{asset}.PV"


def test_reopen_gives_the_same_model_and_versions_are_kept(store_path):
    with historian.open(store_path) as h:
        plant(h.assets)
        h.assets.add("SiteB/P-1", template="Pump", overrides={"Head": {"tag": "PI-9"}})
        h.assets.define_template("Pump", {**PUMP, "Speed": {"tag": "{asset}.SI", "unit": "rpm"}})
        h.assets.remove("SiteA/Area2/P-102")
        before = (h.assets.to_toml(), h.assets.attribute_tags().to_pylist())
    with historian.open(store_path, mode="r") as r:
        assert (r.assets.to_toml(), r.assets.attribute_tags().to_pylist()) == before
        v = r.assets.versions("SiteB/P-1")
        assert [x["version"] for x in v] == [1, 2]
        assert v[0]["overrides"] == {} and v[1]["overrides"] == {"Head": {"tag": "PI-9"}}
        assert "replaced_at" in v[0] and "replaced_at" not in v[1]
        t = r.assets.versions(template="Pump")
        assert [x["version"] for x in t] == [1, 2] and "Speed" in t[1]["attributes"]
        gone = r.assets.versions("SiteA/Area2/P-102")
        assert gone[-1]["deleted"] is True
        with pytest.raises(ReadOnlyStoreError, match="read-only"):
            r.assets.add("SiteC")
    with historian.open(store_path) as h:
        h.assets.add("SiteB/P-1", template="Pump", overrides={"Head": {"tag": "PI-9"}})
        assert [x["version"] for x in h.assets.versions("SiteB/P-1")] == [1, 2]  # no change


def test_the_file_is_checksummed_private_and_a_damaged_one_refused(store_path):
    old = os.umask(0)
    try:
        with historian.open(store_path) as h:
            plant(h.assets)
    finally:
        os.umask(old)
    path = os.path.join(store_path, ASSETS_FILE)
    for name in (ASSETS_FILE, "assets.lock"):
        assert stat.S_IMODE(os.stat(os.path.join(store_path, name)).st_mode) == 0o640
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    doc["assets"][0]["path"] = "Evil"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    with historian.open(store_path) as h:
        with pytest.raises(CorruptDataError, match="fails the SHA-256"):
            h.assets.find()
        with pytest.raises(CorruptDataError):
            h.assets.add("SiteC")  # never written over a damaged model


def test_a_failed_write_leaves_the_model_as_it_was(store_path, monkeypatch):
    from historian.storage import fs as fsmod

    with historian.open(store_path) as h:
        plant(h.assets)
        before = h.assets.to_toml()

        def full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(fsmod.os, "replace", full)
        with pytest.raises(StoreError, match="No space left"):
            h.assets.add("SiteC", level="site")
        monkeypatch.undo()
        assert h.assets.to_toml() == before
    with historian.open(store_path) as h:
        assert h.assets.to_toml() == before
        assert [n for n in os.listdir(store_path) if n.endswith(".tmp")] == []


_EDIT = """
import sys, historian
with historian.open(sys.argv[1], mode="auto") as h:
    for i in range(15):
        h.assets.add(f"Site{sys.argv[2]}/P-{i}")
"""


def test_edits_from_two_processes_at_once_are_all_kept(store_path):
    with historian.open(store_path) as h:
        h.assets.add("Root")
    procs = [
        subprocess.Popen([sys.executable, "-c", _EDIT, str(store_path), k]) for k in ("A", "B")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with historian.open(store_path) as h:
        assert h.assets.find().num_rows == 31


def test_toml_round_trip_and_errors_name_the_key(h, tmp_path):
    plant(h.assets)
    text = h.assets.to_toml()
    other = tmp_path / "other.hist"
    with historian.open(other) as o:
        f = tmp_path / "plant.toml"
        f.write_text(text, encoding="utf-8")
        assert o.assets.load_toml(f) == 7  # one template, six assets
        assert o.assets.to_toml() == text
        assert o.assets.load_toml(f) == 0  # nothing changed: no new versions
        assert o.assets.versions("SiteB/P-1")[-1]["version"] == 1
        with pytest.raises(ConfigError, match="unknown key"):
            o.assets.load_toml('[[assets]]\npath = "X"\ncolour = "red"\n')
        with pytest.raises(ConfigError, match="invalid TOML"):
            o.assets.load_toml('[[assets]\npath = "X"\n')
        with pytest.raises(ConfigError, match=r"asset model TOML: .*invalid asset path"):
            o.assets.load_toml('[[assets]]\npath = "../x"\n')
        with pytest.raises(ConfigError, match="cannot read"):
            o.assets.load_toml(tmp_path / "missing.toml")
        assert o.assets.to_toml() == text  # each refused file changed nothing


def test_toml_strings_from_anywhere_cannot_add_keys(h):
    evil = 'x"\n[[assets]]\npath = "Injected'
    h.assets.define_template("T", {"V": {"description": evil}})
    h.assets.add("S/X", template="T", description=evil)
    import tomllib

    doc = tomllib.loads(h.assets.to_toml())
    assert len(doc["assets"]) == 1 and doc["assets"][0]["description"] == evil


def test_units_are_unece_codes_with_opc_ua_unit_ids():
    assert unit("°C").code == "CEL" and unit("CEL").unit_id == 4408652
    assert unit_from_id(5067080).symbol == "m³/h"
    assert len({u.code for u in units()}) == len(units()) and len(units()) >= 60
    for u in units():
        assert unit_from_id(u.unit_id).code == u.code
        assert unit(u.symbol).code == u.code  # every symbol finds its unit
    custom = unit_from_id(0x584158, "xu")  # "XAX": outside the table, the server's symbol
    assert (custom.code, custom.symbol) == ("XAX", "xu")
    with pytest.raises(InvalidArgumentError, match="UNECE"):
        unit("furlongs/fortnight")
    with pytest.raises(InvalidArgumentError):
        unit_from_id(0x0A0B0C)


def test_s3_store_keeps_the_model(s3_uri, s3_options, tmp_path):
    def open_(mode="auto", sub="a"):
        return historian.open(
            s3_uri, mode=mode, storage_options=s3_options, local_dir=str(tmp_path / sub)
        )

    with open_() as h:
        plant(h.assets)
        h.assets.add("SiteB/P-1", template="Pump", level="unit")
        h.assets.define_tags()  # a store with tags.json: mode="r" opens it
        text = h.assets.to_toml()
    with open_("r", "b") as r:
        assert r.assets.to_toml() == text
        assert [v["version"] for v in r.assets.versions("SiteB/P-1")] == [1, 2]
    with open_(sub="c") as h1, open_(sub="d") as h2:  # two editors: conditional PUTs
        h1.assets.add("SiteC/X-1")
        h2.assets.add("SiteC/X-2")
        assert h1.assets.find("SiteC/*").num_rows == 2


def test_a_closed_store_refuses_the_asset_model(store_path):
    from historian.errors import StoreClosedError

    h = historian.open(store_path)
    m = h.assets
    m.add("SiteA")
    h.close()
    with pytest.raises(StoreClosedError, match="closed; open it again"):
        m.find()
    with pytest.raises(StoreClosedError, match="closed; open it again"):
        m.add("SiteB")
    h2 = historian.open(store_path)
    h2.close()
    with pytest.raises(StoreClosedError):
        _ = h2.assets  # the accessor itself refuses
    with historian.open(store_path) as h3:
        assert h3.assets.find().column("path").to_pylist() == ["SiteA"]


def test_toml_keeps_fields_an_asset_clears(h, tmp_path):
    h.assets.define_template(
        "T", {"V": {"tag": "{asset}.V", "lo": 0, "hi": 10, "description": "v"}}
    )
    h.assets.add("S/X", template="T", overrides={"V": {"hi": None, "description": ""}})
    text = h.assets.to_toml()
    assert 'unset = ["hi"]' in text
    with historian.open(tmp_path / "copy.hist") as o:
        o.assets.load_toml(text)
        assert o.assets.attribute_tags().to_pylist() == h.assets.attribute_tags().to_pylist()
        assert o.assets.attribute_tags().column("hi").to_pylist() == [None]
        with pytest.raises(ConfigError, match="unset must be a list"):
            o.assets.load_toml('[[assets]]\npath = "Y"\n[assets.overrides.V]\nunset = 3\n')


def test_s3_editors_racing_each_other_lose_nothing(s3_uri, s3_options, tmp_path):
    import threading

    stores = [
        historian.open(s3_uri, storage_options=s3_options, local_dir=str(tmp_path / k))
        for k in ("a", "b", "c")
    ]
    try:
        stores[0].define("T")  # tags.json: a store others can open

        errors: list[BaseException] = []

        def edit(h, k):
            try:
                for i in range(6):
                    h.assets.add(f"Site{k}/P-{i}")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=edit, args=(h, k)) for k, h in zip("ABC", stores, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        with historian.open(
            s3_uri, mode="r", storage_options=s3_options, local_dir=str(tmp_path / "r")
        ) as r:
            assert r.assets.find().num_rows == 18  # every conditional PUT that lost retried
    finally:
        for h in stores:
            h.close()


def test_a_replica_refuses_asset_edits(store_path, tmp_path):
    with historian.open(store_path) as h:
        h.define("A")
        h.write("A", [0], [1.0])
        h.assets.add("SiteA")
    copy = tmp_path / "copy.hist"
    historian.replicate(store_path, copy, once=True)
    with historian.open(copy) as r, pytest.raises(ReadOnlyStoreError, match="is a replica"):
        r.assets.add("SiteB")
