"""Derived attributes on read against a brute-force numpy reference on the same points, and the
OPC UA quality propagation rules."""

from __future__ import annotations

import numpy as np
import pytest

import historian
from historian.assets.derived import combine_status

S = 10**9
GOOD, UNC, UNC_EU, BAD_SENSOR, BAD_COMM = 0, 0x40000000, 0x40940000, 0x808C0000, 0x80310000
BAD_NO_DATA, BAD_OUT_OF_RANGE = 0x809B0000, 0x803C0000


def _times(rng, n):
    inside = np.sort(rng.choice(np.arange(1, 10_000), size=n, replace=False)) * S // 10
    return np.concatenate([[-100 * S, -50 * S], inside, [1000 * S + int(rng.integers(1, 50)) * S]])


@pytest.fixture
def model(h):
    rng = np.random.default_rng(11)
    data = {}
    for tag, kind, n in (("X.A", "analog", 40), ("X.B", "analog", 25), ("X.S", "step", 7)):
        h.define(tag, kind=kind)
        t = _times(rng, n)
        v = rng.normal(10, 3, t.size).round(3)
        h.write(tag, t, v)
        data[tag] = (t, v)
    h.assets.define_template(
        "Unit",
        {
            "A": "{asset}.A",
            "B": "{asset}.B",
            "S": "{asset}.S",
            "D": {"expression": "A * B + 2 * S"},
            "E": {"expression": "(D - A) / 2"},  # derived from a derived attribute
        },
    )
    h.assets.add("Plant/X", template="Unit")
    return h, data


def _reference_inputs(data, grid):
    """Each input at ``grid``: linear between samples (analog), held (step)."""
    ta, va = data["X.A"]
    tb, vb = data["X.B"]
    ts, vs = data["X.S"]
    a = np.interp(grid, ta, va)
    b = np.interp(grid, tb, vb)
    s = vs[np.searchsorted(ts, grid, side="right") - 1]
    return a, b, s


def test_read_matches_numpy_at_the_union_of_sample_times(model):
    h, data = model
    got = h.assets.read("Plant/**", 0, 1000 * S, attribute=["D", "E"])
    union = np.unique(np.concatenate([t for t, _ in data.values()]))
    union = union[(union >= 0) & (union < 1000 * S)]
    a, b, s = _reference_inputs(data, union)
    d = a * b + 2 * s
    for attr, expected in (("D", d), ("E", (d - a) / 2)):
        rows = got.filter(got.column("attribute").to_numpy(zero_copy_only=False) == attr)
        assert rows.column("time").cast("int64").to_numpy().tolist() == union.tolist()
        np.testing.assert_allclose(rows.column("value").to_numpy(), expected, rtol=1e-12)
        assert set(rows.column("quality").to_pylist()) == {GOOD}
    assert got.column_names == ["asset", "attribute", "time", "value", "quality"]
    assert set(got.column("asset").to_pylist()) == {"Plant/X"}


def test_summary_matches_the_kernel_on_the_reference_points(model):
    h, data = model
    got = h.assets.summary(
        "Plant/X", 0, 1000 * S, "100s", ["twa", "min", "max", "count"], attribute="D"
    )
    union = np.unique(np.concatenate([t for t, _ in data.values()]))
    a, b, s = _reference_inputs(data, union)
    ref = historian.summarize(
        union,
        a * b + 2 * s,
        start=0,
        end=1000 * S,
        every="100s",
        stats=["twa", "min", "max", "count"],
    )
    assert got.num_rows == ref.num_rows == 40
    np.testing.assert_allclose(
        got.column("value").to_numpy(), ref.column("value").to_numpy(), rtol=1e-12
    )
    assert got.column("status").to_pylist() == ref.column("status").to_pylist()
    assert got.column_names == ["asset", "attribute", "start", "stat", "value", "time", "status"]


def test_summary_in_local_time_for_derived_and_stored_alike(model):
    h, _ = model
    kw = dict(attribute=["A", "D"], tz="Europe/Paris")
    got = h.assets.summary("Plant/X", -100 * S, 1000 * S, "1d", "twa", **kw)
    stored = h.summary("X.A", -100 * S, 1000 * S, "1d", "twa", tz="Europe/Paris")
    a_rows = got.filter(got.column("attribute").to_numpy(zero_copy_only=False) == "A")
    assert a_rows.column("value").to_pylist() == stored.column("value").to_pylist()
    assert str(got.schema.field("start").type) == "timestamp[ns, tz=Europe/Paris]"


def test_interpolated_matches_numpy_on_the_grid(model):
    h, data = model
    got = h.assets.interpolated("Plant/X", 0, 1000 * S, "50s", attribute="E", quality=True)
    grid = got.column("time").cast("int64").to_numpy()
    assert grid.tolist() == list(range(0, 1001 * S, 50 * S))
    a, b, s = _reference_inputs(data, grid)
    np.testing.assert_allclose(got.column("value").to_numpy(), (a * b + 2 * s - a) / 2, rtol=1e-12)
    assert set(got.column("quality").to_pylist()) == {GOOD}


def _reference_status(codes, rule):
    out = []
    for row in zip(*codes, strict=True):
        best, rank = GOOD, 0
        for c in row:
            c &= 0xFFFF0000
            r = 0 if c < 0x40000000 else 1 if c < 0x80000000 else 2
            if rule == "ignore_uncertain" and r == 1:
                r = 0
            if r > rank:
                best, rank = c, r
        out.append(GOOD if rank == 0 else best)
    return out


@pytest.mark.parametrize("rule", ["worst", "ignore_uncertain"])
def test_status_combination_matches_a_plain_python_reference(rule):
    rng = np.random.default_rng(3)
    pool = np.array([GOOD, 0x402, UNC, UNC_EU, BAD_SENSOR, BAD_COMM, BAD_NO_DATA], np.uint32)
    codes = [rng.choice(pool, 500) for _ in range(3)]
    got = combine_status(codes, rule).tolist()
    assert got == _reference_status([c.tolist() for c in codes], rule)


def test_quality_propagates_worst_of_the_inputs(h):
    t = np.arange(7) * S
    h.define("Y.A"), h.define("Y.B")
    h.write("Y.A", t, [1.0, 2, 3, 4, 5, 6, 7], [GOOD, UNC_EU, GOOD, BAD_SENSOR, UNC, GOOD, GOOD])
    h.write("Y.B", t[1:], [1.0, 2, 3, 4, 0, 2], [GOOD, BAD_COMM, GOOD, BAD_SENSOR, GOOD, GOOD])
    h.assets.define_template(
        "T",
        {
            "A": "{asset}.A",
            "B": "{asset}.B",
            "Ratio": {"expression": "A / B"},
            "Lenient": {"expression": "A / B", "quality": "ignore_uncertain"},
        },
    )
    h.assets.add("Y", template="T")
    got = h.assets.read("Y", attribute=["Ratio", "Lenient"])
    ratio = got.filter(got.column("attribute").to_numpy(zero_copy_only=False) == "Ratio")
    lenient = got.filter(got.column("attribute").to_numpy(zero_copy_only=False) == "Lenient")
    # t=0: B has no sample yet (no extrapolation): Bad_NoData; t=1: A Uncertain; t=2: B Bad;
    # t=3: A Bad (first Bad input wins); t=4: A Uncertain, B Bad -> B's Bad; t=5: x/0; t=6 Good
    assert ratio.column("quality").to_pylist() == [
        BAD_NO_DATA,
        UNC_EU,
        BAD_COMM,
        BAD_SENSOR,
        BAD_SENSOR,
        BAD_OUT_OF_RANGE,
        GOOD,
    ]
    assert ratio.column("value").to_pylist() == [None, 2.0, None, None, None, None, 3.5]
    assert lenient.column("quality").to_pylist() == [
        BAD_NO_DATA,
        GOOD,
        BAD_COMM,
        BAD_SENSOR,
        BAD_SENSOR,
        BAD_OUT_OF_RANGE,
        GOOD,
    ]
    # a summary of the derived attribute is the summary of a tag holding those very points
    h.define("Y.REF")
    h.write(
        "Y.REF",
        t,
        [np.nan, 2.0, np.nan, np.nan, np.nan, np.nan, 3.5],
        ratio.column("quality").to_pylist(),
    )
    for config in (None, {"TreatUncertainAsBad": False}):
        stats = ["count", "twa", "min", "pct_good"]
        got = h.assets.summary("Y", 0, 7 * S, "7s", stats, config, attribute="Ratio")
        ref = h.summary("Y.REF", 0, 7 * S, "7s", stats, config)
        assert got.drop_columns(["asset", "attribute"]).equals(ref.drop_columns(["tag"]))
