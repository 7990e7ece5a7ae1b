"""``historian assets STORE``: list, attributes, TOML load and dump, --help."""

from __future__ import annotations

import historian
from historian.cli import main

TOML = """
[templates.Pump.attributes.Flow]
tag = "{asset}.FI"
unit = "m3/h"
hi = 120

[templates.Pump.attributes.Power]
expression = "Flow * 2"
unit = "kW"

[[assets]]
path = "SiteA/Area2/P-101"
template = "Pump"
level = "equipment module"

[[assets]]
path = "SiteA/Area2"
level = "area"
"""


def test_load_list_attributes_and_dump(tmp_path, capsys):
    store = tmp_path / "plant.hist"
    historian.open(store).close()
    f = tmp_path / "assets.toml"
    f.write_text(TOML, encoding="utf-8")
    assert main(["assets", str(store), "--load", str(f)]) == 0
    assert "3 templates and assets" in capsys.readouterr().out
    assert main(["assets", str(store), "SiteA/**", "--template", "Pump"]) == 0
    out = capsys.readouterr().out
    assert "SiteA/Area2/P-101" in out and "equipment_module" in out and "1 assets" in out
    assert main(["assets", str(store), "--attributes"]) == 0
    out = capsys.readouterr().out
    assert "P-101.FI" in out and "m³/h" in out and "Flow * 2" in out
    assert main(["assets", str(store), "--toml"]) == 0
    with historian.open(tmp_path / "copy.hist") as h:
        h.assets.load_toml(capsys.readouterr().out + "\n")
        assert h.assets.find().num_rows == 2


def test_help_and_errors(tmp_path, capsys):
    assert main(["assets", "--help"]) == 0
    assert "--attributes" in capsys.readouterr().out
    assert main(["assets", str(tmp_path / "nowhere.hist")]) == 2
    store = tmp_path / "plant.hist"
    historian.open(store).close()
    bad = tmp_path / "bad.toml"
    bad.write_text('[[assets]]\npath = "../etc"\n', encoding="utf-8")
    assert main(["assets", str(store), "--load", str(bad)]) != 0
    assert "invalid asset path" in capsys.readouterr().err
