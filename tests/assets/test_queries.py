"""Queries by path and template: one long table with the asset path as a column, equal to the
per-tag calls it is made of."""

from __future__ import annotations

import numpy as np
import pytest

import historian

H = 3600 * 10**9


@pytest.fixture
def plant(h):
    h.assets.define_template(
        "Pump",
        {
            "Flow": {"tag": "{asset}.FI", "unit": "m3/h"},
            "Speed": {"tag": "{asset}.SI", "unit": "rpm"},
        },
    )
    h.assets.define_template("Tank", {"Level": "{asset}.LI"})
    rng = np.random.default_rng(5)
    for path in ("SiteA/Area2/P-1", "SiteA/Area2/Unit1/P-2", "SiteA/Area3/P-3", "SiteB/P-4"):
        h.assets.add(path, template="Pump")
    h.assets.add("SiteA/Area2/T-1", template="Tank")
    h.assets.add("SiteA/Area2/P-9", template="Pump", overrides={"Flow": {"tag": "P-1.FI"}})
    h.assets.define_tags()
    t = np.arange(0, 6 * H, 60 * 10**9)
    for tag in h.tags().column("name").to_pylist():
        h.write(tag, t, rng.normal(50, 5, t.size))
    return h


def test_every_pump_under_an_area_hourly_twa_is_one_long_table(plant):
    h = plant
    got = h.assets.summary(
        "SiteA/Area2/**", 0, 6 * H, "1h", "twa", template="Pump", attribute="Flow"
    )
    assert got.column_names == ["asset", "attribute", "start", "stat", "value", "time", "status"]
    assets = ["SiteA/Area2/P-1", "SiteA/Area2/P-9", "SiteA/Area2/Unit1/P-2"]
    assert sorted(set(got.column("asset").to_pylist())) == assets
    assert got.num_rows == 3 * 6
    for asset, tag in zip(assets, ["P-1.FI", "P-1.FI", "P-2.FI"], strict=True):
        rows = got.filter(got.column("asset").to_numpy(zero_copy_only=False) == asset)
        ref = h.summary(tag, 0, 6 * H, "1h", "twa")
        assert rows.drop_columns(["asset", "attribute"]).equals(ref.drop_columns(["tag"]))


def test_read_and_interpolated_by_asset_equal_the_tag_calls(plant):
    h = plant
    raw = h.assets.read("SiteB/*", 0, H, attribute=["Flow", "Speed"])
    ref = h.read(["P-4.FI", "P-4.SI"], 0, H)
    assert raw.column("value").to_pylist() == ref.column("value").to_pylist()
    assert raw.column("attribute").to_pylist() == ["Flow"] * 60 + ["Speed"] * 60
    grid = h.assets.interpolated("SiteA/Area3/P-3", 0, H, "10min", attribute="Speed", quality=True)
    wide = h.interpolated("P-3.SI", 0, H, "10min", quality=True)
    assert grid.column("value").to_pylist() == wide.column("P-3.SI").to_pylist()
    assert grid.column("quality").to_pylist() == wide.column("P-3.SI.quality").to_pylist()
    everything = h.assets.read(None, 0, H)  # every attribute of every asset
    assert everything.num_rows == 60 * (5 * 2 + 1)
    assert set(everything.column("attribute").to_pylist()) == {"Flow", "Speed", "Level"}


def test_selection_errors_say_what_exists(plant):
    h = plant
    with pytest.raises(historian.HistorianError, match="no asset matches"):
        h.assets.summary("SiteC/**", 0, H, "1h", "twa")
    with pytest.raises(historian.HistorianError, match="invalid asset path pattern"):
        h.assets.read("SiteA/../x")
    with pytest.raises(historian.errors.InvalidWindowError):
        h.assets.read("SiteB/*", H, 0)
