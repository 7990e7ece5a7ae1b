"""Arrow tables on top of the kernels: summarize, summary_for_tags, interpolated, plot."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from historian.errors import InvalidArgumentError
from historian.model import quality as q
from historian.model.schema import POINTS_SCHEMA, SUMMARY_SCHEMA
from historian.query import (
    AggregateConfig,
    interpolated_for_tags,
    plot_for_tag,
    summarize,
    summary_for_tags,
)

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def _series(n=11, step_s=6, bad_at=()):
    t = T0 + np.arange(n, dtype=np.int64) * step_s * S
    v = np.arange(n, dtype=float)
    qual = np.zeros(n, dtype=np.uint32)
    for i in bad_at:
        qual[i] = q.BAD_SENSOR_FAILURE
        v[i] = np.nan
    return t, v, qual


def test_summarize_schema_and_values():
    t, v, _ = _series()
    tbl = summarize(
        t,
        v,
        start="2026-01-01T00:00:00Z",
        end="2026-01-01T00:01:00Z",
        every="30s",
        stats=["twa", "mean", "min", "max", "count", "first", "last"],
        tag="TIC-101.PV",
    )
    assert tbl.schema == SUMMARY_SCHEMA
    assert tbl.num_rows == 2 * 7
    rows = tbl.to_pylist()
    first = {r["stat"]: r for r in rows[:7]}
    assert first["count"]["value"] == 5  # samples at 0, 6, 12, 18, 24 s
    assert first["mean"]["value"] == 2.0
    assert first["min"]["value"] == 0.0 and first["max"]["value"] == 4.0
    assert first["max"]["time"] == pd.Timestamp("2026-01-01T00:00:24Z")  # time of the max
    assert first["twa"]["value"] == pytest.approx(2.5)  # linear 0..5 over 30 s
    assert first["first"]["value"] == 0.0 and first["last"]["value"] == 4.0
    assert all(r["tag"] == "TIC-101.PV" for r in rows)
    assert first["twa"]["status"] == q.HISTORIAN_CALCULATED | q.INFO_TYPE_DATA_VALUE


@pytest.mark.parametrize("every", [30, 30.0, dt.timedelta(seconds=30), "30s", "0.5min"])
def test_every_forms(every):
    t, v, _ = _series()
    tbl = summarize(t, v, start=T0, end=T0 + 60 * S, every=every, stats="count")
    assert tbl.column("value").to_pylist() == [5.0, 5.0]


def test_time_inputs_pandas_and_strings():
    t, v, _ = _series()
    idx = pd.to_datetime(t, utc=True)
    a = summarize(
        idx,
        v,
        start=dt.datetime(2026, 1, 1),
        end="2026-01-01T00:01:00Z",
        every="1min",
        stats="mean",
    )
    b = summarize(t, pd.Series(v), start=T0, end=T0 + 60 * S, every=60, stats="Average")
    assert a.column("value").to_pylist() == b.column("value").to_pylist() == [4.5]


def test_unknown_stat_lists_valid_names():
    t, v, _ = _series()
    with pytest.raises(InvalidArgumentError) as exc:
        summarize(t, v, start=T0, end=T0 + 60 * S, every=60, stats=["twa", "avrage"])
    msg = str(exc.value)
    assert "avrage" in msg and "twa" in msg and "TimeAverage2" in msg


def test_value_null_where_bad_and_config_dict():
    t, v, qual = _series(bad_at=(6, 7, 8, 9))
    tbl = summarize(
        t,
        v,
        qual,
        start=T0,
        end=T0 + 60 * S,
        every=30,
        stats=["mean", "twa", "pct_good", "duration_bad", "DurationBad"],
        config={"PercentDataBad": 50, "PercentDataGood": 100},
    )
    rows = {(r["start"].second, r["stat"]): r for r in tbl.to_pylist()}
    second = {k[1]: r for k, r in rows.items() if k[0] == 30}
    # 30..60 s: Good for 6 s (sample at 30 s), Bad from 36 s on: 80 % Bad >= PercentDataBad
    assert q.is_bad(second["twa"]["status"]) and second["twa"]["value"] is None
    assert second["duration_bad"]["value"] == pytest.approx(24.0)  # seconds (friendly name)
    assert second["DurationBad"]["value"] == pytest.approx(24000.0)  # ms (Part 13 name)
    assert second["pct_good"]["value"] == pytest.approx(100 * 6 / 30)
    assert AggregateConfig.from_any({"TreatUncertainAsBad": True}).treat_uncertain_as_bad


def test_summary_for_tags_order_and_stepped():
    t, v, qual = _series()
    tbl = summary_for_tags(
        {"B": (t, v, qual), "A": (t, v, None)},
        start_ns=T0,
        end_ns=T0 + 60 * S,
        every_ns=60 * S,
        stats=["twa", "count"],
        config=None,
        stepped_by_tag={"B": True},
    )
    assert tbl.column("tag").to_pylist() == ["B", "B", "A", "A"]
    assert tbl.column("stat").to_pylist() == ["twa", "count"] * 2
    twa_b, twa_a = tbl.column("value").to_pylist()[0], tbl.column("value").to_pylist()[2]
    assert twa_a == pytest.approx(5.0)  # linear
    assert twa_b == pytest.approx(4.5)  # held values
    empty = summary_for_tags({}, start_ns=T0, end_ns=T0 + S, every_ns=S, stats="twa")
    assert empty.num_rows == 0 and empty.schema == SUMMARY_SCHEMA


def test_summary_empty_series_gives_bad_no_data_rows():
    tbl = summary_for_tags(
        {"X": (np.array([], np.int64), np.array([]), None)},
        start_ns=T0,
        end_ns=T0 + 2 * S,
        every_ns=S,
        stats=["twa", "count"],
    )
    assert tbl.num_rows == 4
    assert set(tbl.column("status").to_pylist()) == {q.BAD_NO_DATA}
    assert tbl.column("value").null_count == 4


def test_interpolated_wide_max_gap_extrapolate_quality():
    t = T0 + np.array([0, 10, 20, 100], dtype=np.int64) * S
    v = np.array([0.0, 10.0, 20.0, 100.0])
    series = {"A": (t, v, None), "B": (t[:2], v[:2], np.array([0, q.UNCERTAIN], np.uint32))}
    tbl = interpolated_for_tags(
        series, start_ns=T0, end_ns=T0 + 110 * S, every_ns=10 * S, max_gap_ns=30 * S, quality=True
    )
    assert tbl.column_names == ["time", "A", "A.quality", "B", "B.quality"]
    assert tbl.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    a = tbl.column("A").to_pylist()
    assert a[:3] == [0.0, 10.0, 20.0]
    assert a[3:10] == [None] * 7  # 20 -> 100 s is an 80 s gap > max_gap
    assert a[10] == 100.0 and a[11] is None  # no extrapolation past the last sample
    b = tbl.column("B").to_pylist()
    assert b[0] == 0.0 and b[1] == 10.0 and b[2] is None
    assert tbl.column("B.quality").to_pylist()[1] == q.UNCERTAIN
    ext = interpolated_for_tags(
        {"A": (t, v, None)},
        start_ns=T0 + 100 * S,
        end_ns=T0 + 120 * S,
        every_ns=10 * S,
        extrapolate=True,
    )
    assert ext.column("A").to_pylist() == [100.0, 100.0, 100.0]


def test_interpolated_step_tag():
    t = T0 + np.array([0, 10], dtype=np.int64) * S
    tbl = interpolated_for_tags(
        {"S": (t, np.array([1.0, 2.0]), None)},
        start_ns=T0,
        end_ns=T0 + 10 * S,
        every_ns=5 * S,
        stepped_by_tag={"S": True},
    )
    assert tbl.column("S").to_pylist() == [1.0, 1.0, 2.0]


def test_plot_for_tag_keeps_extremes_and_bad_points():
    rng = np.random.default_rng(3)
    n = 20_000
    t = T0 + np.sort(rng.choice(10**6, n, replace=False)).astype(np.int64) * 1000
    v = np.cumsum(rng.normal(size=n))
    qual = np.zeros(n, np.uint32)
    qual[[17, 5000, 5001]] = q.BAD_NO_COMMUNICATION
    start, end, width = T0, T0 + 10**9, 50
    tbl = plot_for_tag(t, v, qual, start_ns=start, end_ns=end, width=width, tag="X")
    assert tbl.schema == POINTS_SCHEMA
    times = tbl.column("time").cast(pa.int64()).to_numpy()
    assert np.all(np.diff(times) > 0)
    assert tbl.num_rows <= 5 * width + 2
    kept = set(times.tolist())
    assert int(t[17]) in kept and int(t[5000]) in kept
    edges = [start + (end - start) * p // width for p in range(width + 1)]
    for p in range(width):
        sel = (t >= edges[p]) & (t < edges[p + 1])
        if sel.any():
            ts, vs = t[sel], v[sel]
            assert {int(ts[0]), int(ts[-1]), int(ts[np.argmin(vs)]), int(ts[np.argmax(vs)])} <= kept
