"""h.asof against pandas merge_asof, and the wide pivot against pandas pivot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import historian
from historian.errors import InvalidArgumentError
from historian.query.asof import match_asof, wide

S = 1_000_000_000
T0 = 1_767_225_600 * S
BAD = 0x80310000


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(11)
    h = historian.open(tmp_path_factory.mktemp("asof") / "p.hist")
    for i, name in enumerate(["TIC-101.PV", "FIC-101.PV"]):
        h.define(name)
        t = T0 + np.sort(rng.choice(3600, 400 + 100 * i, replace=False)) * S
        v = np.round(rng.normal(50, 5, t.size), 2)
        q = np.where(rng.random(t.size) < 0.05, BAD, 0).astype(np.uint32)
        v[rng.random(t.size) < 0.02] = np.nan
        h.write(name, t, v, quality=q)
        if i == 0:
            h.flush()
    yield h
    h.close()


def _pandas_reference(store, events: pd.DataFrame, tag, direction, tolerance):
    raw = store.read(tag).to_pandas()[["time", "value", "quality"]]
    raw = raw.rename(columns={"value": tag, "quality": f"{tag}.quality"})
    kw = {} if tolerance is None else {"tolerance": pd.Timedelta(tolerance)}
    ev = events.reset_index().sort_values("time")
    got = pd.merge_asof(ev, raw, on="time", direction=direction, **kw)
    return got.sort_values("index").reset_index(drop=True)


@pytest.mark.parametrize("direction", ["backward", "forward", "nearest"])
@pytest.mark.parametrize("tolerance", [None, "7s"])
def test_matches_pandas_merge_asof(store, direction, tolerance):
    rng = np.random.default_rng(3)
    ev_t = T0 + rng.integers(-60, 3700, 300) * S + rng.integers(0, S, 300)
    ev_t[:5] = T0 + np.array([0, 1, 2, 3, 4]) * S  # exact hits possible
    events = pd.DataFrame({"time": pd.to_datetime(ev_t, utc=True), "batch": np.arange(300)})
    got = store.asof(
        events, ["TIC-101.PV", "FIC-101.PV"], direction=direction, tolerance=tolerance
    ).to_pandas()
    assert got["batch"].tolist() == list(range(300))  # order kept
    for tag in ["TIC-101.PV", "FIC-101.PV"]:
        want = _pandas_reference(store, events, tag, direction, tolerance)
        assert np.allclose(got[tag].to_numpy(float), want[tag].to_numpy(float), equal_nan=True)
        matched = want[f"{tag}.quality"].notna()
        assert (
            got.loc[matched, f"{tag}.quality"].to_numpy()
            == want.loc[matched, f"{tag}.quality"].to_numpy()
        ).all()
        assert (got.loc[~matched, f"{tag}.quality"] == 0x809B0000).all()


def test_event_inputs_and_options(store):
    times = [T0 + 10 * S, T0 + 20 * S]
    a = store.asof(times, "TIC-101.PV", sample_time=True)
    assert a.column_names == ["time", "TIC-101.PV", "TIC-101.PV.quality", "TIC-101.PV.time"]
    b = store.asof(
        pa.table({"t": pa.array(times, pa.timestamp("ns", "UTC"))}), "TIC-101.PV", on="t"
    )
    c = store.asof(
        pl.DataFrame({"time": pl.Series(times).cast(pl.Datetime("ns", "UTC"))}), "TIC-101.PV"
    )
    assert a.column("TIC-101.PV").equals(b.column("TIC-101.PV"))
    assert a.column("TIC-101.PV").equals(c.column("TIC-101.PV"))
    assert store.asof([], "TIC-101.PV").num_rows == 0
    with pytest.raises(InvalidArgumentError):
        store.asof(times, "TIC-101.PV", direction="sideways")
    with pytest.raises(InvalidArgumentError):
        store.asof(pa.table({"x": [1]}), "TIC-101.PV")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 100), max_size=20, unique=True),
    st.lists(st.integers(-10, 110), max_size=20),
    st.sampled_from(["backward", "forward", "nearest"]),
    st.one_of(st.none(), st.integers(0, 15)),
)
def test_match_asof_brute_force(samples, events, direction, tol):
    t = np.array(sorted(samples), dtype=np.int64)
    got = match_asof(t, np.array(events, dtype=np.int64), direction, tol)
    for e, g in zip(events, got.tolist(), strict=True):
        cands = [
            i
            for i, x in enumerate(t.tolist())
            if (direction != "backward" or x <= e) and (direction != "forward" or x >= e)
        ]
        if direction == "nearest":  # closest; ties to the earlier sample
            cands = sorted(cands, key=lambda i: (abs(t[i] - e), t[i]))[:1]
        elif direction == "backward":
            cands = cands[-1:]
        else:
            cands = cands[:1]
        if cands and tol is not None and abs(int(t[cands[0]]) - e) > tol:
            cands = []
        assert g == (cands[0] if cands else -1)


def test_wide_matches_pandas_pivot(store):
    long = store.read(["TIC-101.PV", "FIC-101.PV"])
    w = store.read_wide(["TIC-101.PV", "FIC-101.PV"], quality=True)
    ref = long.to_pandas().pivot(index="time", columns="tag", values="value")
    assert w.column("time").to_pandas().tolist() == ref.index.tolist()
    for tag in ["TIC-101.PV", "FIC-101.PV"]:
        assert np.allclose(
            w.column(tag).to_numpy(zero_copy_only=False).astype(float),
            ref[tag].to_numpy(float),
            equal_nan=True,
        )
    assert w.column_names == [
        "time",
        "FIC-101.PV",
        "FIC-101.PV.quality",
        "TIC-101.PV",
        "TIC-101.PV.quality",
    ]
    assert wide(long.slice(0, 0)).column_names == ["time"]


def test_far_samples_found_by_growing_windows(tmp_path):
    day = 86_400 * S
    with historian.open(tmp_path / "far.hist") as h:
        h.define("A")
        h.write("A", [T0 - 400 * day, T0 - 40 * day, T0 + 50 * day], [1.0, 2.0, 3.0])
        h.flush()
        ev = [T0 - 500 * day, T0 - 300 * day, T0, T0 + 60 * day]
        back = h.asof(ev, "A").column("A").to_pylist()
        assert back == [None, 1.0, 2.0, 3.0]
        fwd = h.asof(ev, "A", direction="forward").column("A").to_pylist()
        assert fwd == [1.0, 2.0, 3.0, None]
        near = h.asof(ev, "A", direction="nearest").column("A").to_pylist()
        assert near == [1.0, 1.0, 2.0, 3.0]
        assert h.asof(ev, "A", tolerance="20d").column("A").to_pylist() == [None, None, None, 3.0]
