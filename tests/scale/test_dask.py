"""historian.dask on a LocalCluster (2 worker processes): same tables as the single-process calls."""

from __future__ import annotations

import dask.dataframe  # noqa: F401 - a test extra: fail loudly if missing, never skip
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import historian
import historian.dask as hd

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01
TAGS = ["FIC-101.PV", "TIC-101.PV", "LIC-101.PV", "PIC-101.PV", "XV-101.ST"]
STATS = [
    "twa",
    "min",
    "max",
    "count",
    "mean",
    "first",
    "last",
    "std",
    "range",
    "delta",
    "total",
    "pct_good",
    "duration_good",
    "TimeAverage",
    "Interpolative",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """3 days of irregular samples, 5 % Bad, a step tag, a gap; files plus unflushed points."""
    path = tmp_path_factory.mktemp("dask") / "plant.hist"
    rng = np.random.default_rng(42)
    with historian.open(path) as h:
        for name in TAGS:
            h.define(name, kind="step" if name.endswith(".ST") else "analog")
        for i, name in enumerate(TAGS):
            n = 12_000
            t = T0 + np.sort(rng.choice(3 * 86_400 * 10, n, replace=False)) * (S // 10)
            t = t[(t < T0 + 30 * 3600 * S) | (t > T0 + 33 * 3600 * S)]  # a 3 h gap
            v = np.round(np.cumsum(rng.normal(0, 1, t.size)), 3) + 10 * i
            q = np.where(rng.random(t.size) < 0.05, 0x80000000, 0).astype(np.uint32)
            h.write(name, t, v, q)
        h.flush()
        h.write("FIC-101.PV", T0 + np.arange(50) * 7 * S + 3, np.arange(50.0))  # corrections
    return path


@pytest.mark.parametrize(
    ("partition", "tags_per_task"), [(None, None), ("7h", 2), ("1h", 1), ("2d", 5)]
)
def test_summary_equals_single_process_bit_for_bit(store, dask_client, partition, tags_per_task):
    start, end = T0 + 3600 * S + 123, T0 + 2 * 86_400 * S + 123
    with historian.open(store, mode="r") as h:
        single = h.summary(TAGS, start, end, "10min", stats=STATS)
    got = hd.summary(
        store,
        TAGS,
        start,
        end,
        "10min",
        stats=STATS,
        partition=partition,
        tags_per_task=tags_per_task,
    )
    assert got.schema == single.schema
    assert got.equals(single)


def test_summary_with_config_and_uneven_end(store, dask_client):
    cfg = {"TreatUncertainAsBad": True, "PercentDataGood": 90, "PercentDataBad": 10}
    start, end = T0, T0 + 86_400 * S + 17 * S  # the last interval is shorter
    with historian.open(store, mode="r") as h:
        single = h.summary(TAGS[:3], start, end, "1h", stats=["twa", "min", "count"], config=cfg)
    got = hd.summary(
        store,
        TAGS[:3],
        start,
        end,
        "1h",
        stats=["twa", "min", "count"],
        config=cfg,
        partition="5h",
        tags_per_task=2,
    )
    assert got.equals(single)


def test_interpolated_equals_single_process(store, dask_client):
    start, end = T0 + 5 * S, T0 + 2 * 86_400 * S
    with historian.open(store, mode="r") as h:
        single = h.interpolated(TAGS, start, end, "5min", max_gap="20min", quality=True)
    got = hd.interpolated(
        store,
        TAGS,
        start,
        end,
        "5min",
        max_gap="20min",
        quality=True,
        partition="3h",
        tags_per_task=2,
    )
    assert got.column_names == single.column_names
    assert got.equals(single)


def test_correlate_equals_single_process(store, dask_client):
    start, end = T0, T0 + 2 * 86_400 * S
    with historian.open(store, mode="r") as h:
        single = h.correlate(TAGS[:4], start, end, "5min", max_lag="30min", progress=False)
    got = hd.correlate(store, TAGS[:4], start, end, "5min", max_lag="30min", partition="6h")
    assert got.equals(single)


def test_read_dask_divisions_prune_and_rows_match(store, dask_client):
    with historian.open(store, mode="r") as h:
        expected = h.read(TAGS[:2], T0 + 3600 * S, T0 + 50 * 3600 * S)
    ddf = hd.read_dask(store, TAGS[:2], T0 + 3600 * S, T0 + 50 * 3600 * S, partition="6h")
    assert ddf.known_divisions
    assert ddf.npartitions == 9  # 01:00-06:00, then 6 h chunks, up to 02:00 on day 3
    sel = ddf.loc["2026-01-01T07:00:00Z":"2026-01-01T11:00:00Z"]
    assert sel.npartitions == 1
    part = sel.compute()
    assert part.index.min() >= pd.Timestamp("2026-01-01T07:00:00Z")
    assert part.index.max() <= pd.Timestamp("2026-01-01T11:00:00Z")
    df = ddf.compute()
    assert df.index.is_monotonic_increasing
    got = df.reset_index().sort_values(["tag", "time"], kind="stable")
    assert got["tag"].tolist() == expected.column("tag").to_pylist()
    assert (
        got["time"].astype("int64").to_numpy()
        == expected.column("time").cast(pa.int64()).to_numpy()
    ).all()
    np.testing.assert_array_equal(
        got["value"].to_numpy(), expected.column("value").to_numpy(zero_copy_only=False)
    )
    np.testing.assert_array_equal(got["quality"].to_numpy(), expected.column("quality").to_numpy())


def test_read_dask_groupby_runs_on_the_cluster(store, dask_client):
    ddf = hd.read_dask(store, None, T0, T0 + 86_400 * S, partition="6h")
    counts = ddf.groupby("tag")["value"].count().compute()
    with historian.open(store, mode="r") as h:
        t = h.read(None, T0, T0 + 86_400 * S)
    exp = {}
    for tag, v in zip(t.column("tag").to_pylist(), t.column("value").to_pylist(), strict=True):
        exp[tag] = exp.get(tag, 0) + (v is not None)
    assert counts.to_dict() == exp


def test_workers_see_the_writers_unflushed_points(tmp_path, dask_client):
    """A writer's acknowledged points not yet in files (its WAL) are read by the workers too."""
    with historian.open(tmp_path / "live.hist", flush_seconds=3600) as h:
        h.define("A")
        h.write("A", T0 + np.arange(1_000) * S, np.arange(1_000.0))
        h.flush()
        h.write("A", T0 + (1_000 + np.arange(500)) * S, np.arange(500.0))  # WAL only
        h.write("A", T0 + np.arange(10) * S, -np.arange(10.0))  # corrections, WAL only
        assert h.info()["points_pending"] == 510
        single = h.summary("A", T0, T0 + 1_500 * S, "1min", stats=["twa", "min", "count"])
        got = hd.summary(
            h, "A", T0, T0 + 1_500 * S, "1min", stats=["twa", "min", "count"], partition="7min"
        )
        assert got.equals(single)
        assert len(hd.read_dask(h, "A", partition="5min")) == 1_500
