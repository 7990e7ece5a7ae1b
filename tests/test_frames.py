"""Event frames: stored, filtered, made from h.events(...), and summarised per frame exactly
(compared with a brute-force cut of the series at the frame edges)."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import historian
from historian.errors import InvalidArgumentError, InvalidDataError

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000
TS = pa.timestamp("ns", tz="UTC")


@pytest.fixture
def h(tmp_path):
    with historian.open(str(tmp_path / "plant.hist")) as store:
        store.define("TIC-101.PV")
        store.define("RUN", kind="step")
        t = T0 + np.arange(0, 3600, 10) * S
        store.write("TIC-101.PV", t, 60 + 30 * np.sin(np.arange(t.size) / 20))
        store.write("RUN", t[::30], (np.arange(t[::30].size) % 2).astype(float))
        yield store


def test_round_trip_filters_and_last_write_wins(h):
    h.add_frame(
        "B-1",
        T0,
        T0 + 600 * S,
        asset="SiteA/Area2/R1",
        template="Batch",
        attributes={"batch_id": "B-1", "kg": 1200.5, "ok": True, "note": None},
    )
    h.add_frame("B-2", T0 + 600 * S, None, asset="SiteA/Area2/R2", template="Batch")
    h.add_frame("CIP-1", T0 + 100 * S, T0 + 200 * S, asset="SiteB/R9", template="Cleaning")
    f = h.frames()
    assert f.column_names == ["name", "asset", "template", "start", "end", "attributes"]
    assert f.schema.field("start").type == TS and f.schema.field("end").type == TS
    assert f.column("name").to_pylist() == ["B-1", "CIP-1", "B-2"]  # by start
    assert json.loads(f.column("attributes")[0].as_py()) == {
        "batch_id": "B-1",
        "kg": 1200.5,
        "ok": True,
        "note": None,
    }
    assert f.column("end").to_pylist()[2] is None  # open
    assert h.frames(asset="SiteA").column("name").to_pylist() == ["B-1", "B-2"]
    assert h.frames(asset="SiteA/Area2/R1").column("name").to_pylist() == ["B-1"]
    assert h.frames(asset="SiteA/Area").num_rows == 0  # a path, not a prefix of a name
    assert h.frames(template="Cleaning").column("name").to_pylist() == ["CIP-1"]
    assert h.frames(name="B-*").column("name").to_pylist() == ["B-1", "B-2"]
    assert h.frames(T0 + 650 * S, T0 + 700 * S).column("name").to_pylist() == ["B-2"]
    assert h.frames(T0 + 200 * S, T0 + 600 * S).column("name").to_pylist() == ["B-1"]
    h.add_frame("B-2", T0 + 600 * S, T0 + 900 * S, asset="SiteA/Area2/R2", template="Batch")
    closed = h.frames(name="B-2").to_pylist()
    assert len(closed) == 1 and closed[0]["end"].value == T0 + 900 * S  # closing = rewriting


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "B\x1b[31m"}, InvalidArgumentError, "control character"),
        ({"name": "B\u202e1"}, InvalidArgumentError, "bidirectional"),
        ({"name": ""}, InvalidArgumentError, "empty"),
        ({"asset": "../etc"}, InvalidArgumentError, "frame asset: invalid asset path"),
        ({"asset": "Site A/R1"}, InvalidArgumentError, "frame asset"),
        ({"template": "x" * 201}, InvalidArgumentError, "limit is 200"),
        ({"attributes": {"list": [1, 2]}}, InvalidArgumentError, "attribute 'list' is a list"),
        ({"attributes": {"k\n": 1}}, InvalidArgumentError, "attribute name"),
        ({"attributes": {f"k{i}": i for i in range(300)}}, InvalidArgumentError, "at most 256"),
        (
            {"attributes": {"big": "x" * 3999, **{f"b{i}": "y" * 3999 for i in range(20)}}},
            InvalidArgumentError,
            "limit is 65,536",
        ),
        ({"attributes": ["a"]}, InvalidArgumentError, "must be a dict"),
        ({"end": T0}, InvalidArgumentError, "not after start"),
    ],
)
def test_hostile_frames_are_refused(h, kwargs, error, match):
    args = {"name": "B-1", "end": T0 + S, **kwargs}
    with pytest.raises(error, match=match):
        h.add_frame(args.pop("name"), T0, args.pop("end"), **args)
    assert h.frames().num_rows == 0


def test_nan_and_numpy_attributes(h):
    h.add_frame(
        "B-1", T0, T0 + S, attributes={"x": float("nan"), "n": np.int64(3), "f": np.float32(0.5)}
    )
    assert json.loads(h.frames().column("attributes")[0].as_py()) == {"f": 0.5, "n": 3, "x": None}


def test_frames_from_events_equal_the_events_table(h):
    ev = h.events("TIC-101.PV > 80", T0, T0 + 3600 * S)
    made = h.frames_from_events(
        "TIC-101.PV > 80",
        T0,
        T0 + 3600 * S,
        name="hot {n}",
        asset="SiteA/R1",
        template="Excursion",
        attributes={"limit": 80},
    )
    stored = h.frames(template="Excursion")
    assert made.equals(stored)
    assert stored.num_rows == ev.num_rows > 1
    assert stored.column("start").to_pylist() == ev.column("start").to_pylist()
    ends = [
        None if o else e
        for e, o in zip(ev.column("end").to_pylist(), ev.column("ongoing").to_pylist(), strict=True)
    ]
    assert stored.column("end").to_pylist() == ends
    assert stored.column("name").to_pylist() == [f"hot {i + 1}" for i in range(ev.num_rows)]
    for attrs, row in zip(stored.column("attributes").to_pylist(), ev.to_pylist(), strict=True):
        a = json.loads(attrs)
        assert a["limit"] == 80 and a["TIC-101.PV.max"] == pytest.approx(row["TIC-101.PV.max"])
    again = h.frames_from_events(
        "TIC-101.PV > 80",
        T0,
        T0 + 3600 * S,
        name="hot {n}",
        asset="SiteA/R1",
        template="Excursion",
        attributes={"limit": 80},
    )
    assert again.equals(made) and h.frames(template="Excursion").num_rows == ev.num_rows


def test_frames_from_events_names_by_function_and_template_errors(h):
    made = h.frames_from_events(
        "TIC-101.PV > 80", T0, T0 + 3600 * S, name=lambda row: f"hot from {row['start']}"
    )
    assert made.column("name")[0].as_py() == f"hot from {made.column('start')[0].value}"
    with pytest.raises(InvalidArgumentError, match="use the fields"):
        h.frames_from_events("TIC-101.PV > 80", T0, T0 + 3600 * S, name="hot {batch}")


def _reference_twa(t, v, a, b):
    """Cut the (all Good, analog) series by hand at a and b: linear values at the edges, the
    samples between, trapezoids, divided by the length."""
    xs = [a] + [x for x in t if a < x < b] + [b]
    ys = np.interp(xs, t, v)
    return float(np.trapezoid(ys, xs) / (b - a))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cuts=st.lists(st.tuples(st.integers(10, 3500), st.integers(1, 900)), min_size=1, max_size=6))
def test_frame_summary_matches_a_brute_force_cut(h, cuts):
    series = h.read("TIC-101.PV")
    t = series.column("time").cast(pa.int64()).to_numpy()
    v = series.column("value").to_numpy()
    frames = pa.table({
        "name": [f"F{i}" for i in range(len(cuts))],
        "start": pa.array([T0 + a * S + 7 for a, _ in cuts], pa.int64()).cast(TS),
        "end": pa.array([T0 + min(a + n, 3550) * S + 3 for a, n in cuts], pa.int64()).cast(TS),
    })  # fmt: skip
    got = h.summary("TIC-101.PV", frames=frames, stats=["twa", "max", "count"])
    assert got.num_rows == 3 * frames.num_rows
    rows = got.to_pylist()
    for i, fr in enumerate(frames.to_pylist()):
        a, b = fr["start"].value, fr["end"].value
        twa, mx, cnt = rows[3 * i : 3 * i + 3]
        assert twa["frame"] == fr["name"] and twa["start"].value == a and twa["end"].value == b
        assert twa["value"] == pytest.approx(_reference_twa(t, v, a, b), rel=1e-9)
        inside = v[(t >= a) & (t < b)]
        if inside.size:
            assert mx["value"] == inside.max() and cnt["value"] == inside.size
        else:
            assert cnt["value"] is None or cnt["value"] == 0
        whole = historian.summarize(
            t, v, start=a, end=b, every=np.timedelta64(b - a, "ns"), stats=["twa", "max"]
        )
        assert [r["value"] for r in whole.to_pylist()] == pytest.approx([twa["value"], mx["value"]])


def test_summary_frames_by_name_dict_and_table_and_open_frames(h):
    h.add_frame("B-1", T0, T0 + 600 * S, asset="A/R1", template="Batch")
    h.add_frame("B-2", T0 + 300 * S, T0 + 900 * S, asset="A/R2", template="Batch")  # overlaps
    h.add_frame("OPEN", T0 + 3000 * S, None, asset="A/R1", template="Run")
    by_name = h.summary(
        ["TIC-101.PV", "RUN"], frames="B-*", stats=["twa", "duration_in_state_nonzero"]
    )
    assert by_name.column_names == [
        "tag",
        "frame",
        "asset",
        "start",
        "end",
        "stat",
        "value",
        "time",
        "status",
    ]
    assert by_name.num_rows == 2 * 2 * 2
    assert by_name.column("frame").to_pylist()[:4] == ["B-1", "B-1", "B-2", "B-2"]
    by_dict = h.summary(
        ["TIC-101.PV", "RUN"],
        frames={"template": "Batch"},
        stats=["twa", "duration_in_state_nonzero"],
    )
    assert by_dict.equals(by_name)
    by_table = h.summary(
        ["TIC-101.PV", "RUN"],
        frames=h.frames(template="Batch"),
        stats=["twa", "duration_in_state_nonzero"],
    )
    assert by_table.equals(by_name)
    run = [r for r in by_name.to_pylist() if r["tag"] == "RUN" and r["frame"] == "B-1"]
    assert run[1]["value"] == pytest.approx(300.0)  # RUN held 1 from 300 s to 600 s: seconds
    opened = h.summary("TIC-101.PV", frames="OPEN", stats=["max", "count"]).to_pylist()
    assert opened[0]["end"] is None and opened[1]["value"] == 60  # 3000..3590 s: 60 samples
    assert opened[0]["status"] & 0x4  # summarised up to now, past the data: Partial
    assert h.summary("TIC-101.PV", frames="NONE-*", stats=["twa"]).num_rows == 0


def test_summary_frames_refuses_bad_frames_and_annotations_count_per_frame(h):
    with pytest.raises(InvalidArgumentError, match="frames must be a table"):
        h.summary("TIC-101.PV", frames=42, stats=["twa"])
    with pytest.raises(InvalidDataError, match="no \\['start'\\]"):
        h.summary("TIC-101.PV", frames=pa.table({"name": ["x"]}), stats=["twa"])
    h.add_frame("B-1", T0, T0 + 600 * S)
    h.annotate("TIC-101.PV", T0 + 5 * S, "one", author="jo")
    h.annotate("TIC-101.PV", T0 + 700 * S, "outside", author="jo")
    s = h.summary("TIC-101.PV", frames="B-1", stats=["annotation_count"]).to_pylist()
    assert s[0]["value"] == 1.0


def test_frame_times_round_trip_exactly(h):
    h.add_frame("ns", T0 + 123_456_789, T0 + 987_654_321_987)
    f = h.frames().to_pylist()[0]
    assert (f["start"].value, f["end"].value) == (T0 + 123_456_789, T0 + 987_654_321_987)
    assert not math.isnan(
        h.summary("TIC-101.PV", frames="ns", stats=["twa"]).column("value")[0].as_py()
    )


def test_frame_summary_in_a_time_zone(h):
    h.add_frame("B-1", T0, T0 + 600 * S)
    utc = h.summary("TIC-101.PV", frames="B-1", stats=["twa"])
    paris = h.summary("TIC-101.PV", frames="B-1", stats=["twa"], tz="Europe/Paris")
    assert str(paris.schema.field("start").type) == "timestamp[ns, tz=Europe/Paris]"
    assert paris.column("start").cast(pa.int64()).equals(utc.column("start").cast(pa.int64()))
    assert paris.column("value").equals(utc.column("value"))
