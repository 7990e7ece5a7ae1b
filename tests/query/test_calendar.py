"""Calendar intervals on a real store: local days of 23 h and 25 h, shifts, zones in results.

References: ``historian.summarize`` called interval by interval on the same arrays with the
explicit edges (each call one interval of its exact length, on the whole series), and a
brute-force time-weighted average (trapezoids over a 1-minute series whose samples fall on
every edge).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.errors import InvalidArgumentError, InvalidWindowError, ResourceLimitError
from historian.model.calendar import calendar_edges
from historian.model.times import to_ns

H = 3600 * 10**9
MIN = 60 * 10**9
PARIS = "Europe/Paris"
SHIFTS = {"early": "06:00", "late": "14:00", "night": "22:00"}
STATS = ["twa", "min", "max", "count", "pct_good", "DurationBad", "first", "last", "delta"]


def local(text: str, tz: str = PARIS) -> int:
    return (
        int(dt.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(tz)).timestamp())
        * 10**9
    )


def minute_series(start: str, end: str, seed: int = 0, bad: float = 0.0, jitter: bool = False):
    """1-minute samples; ``jitter``: times moved by up to 50 s, so none sits on an edge and the
    intervals need the samples before and after them."""
    t = np.arange(to_ns(start), to_ns(end), MIN, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if jitter:
        t = t + rng.integers(1, 50, t.size) * 10**9
    v = 20 + 5 * np.sin(np.arange(t.size) / 90.0) + rng.normal(0, 0.3, t.size)
    q = np.where(rng.random(t.size) < bad, np.uint32(0x80000000), np.uint32(0))
    return t, v, q.astype(np.uint32)


def reference(t, v, q, edges, stats, config=None, stepped=False):
    """historian.summarize per interval, on the whole arrays, with the interval's exact edges."""
    rows = []
    for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        s = historian.summarize(
            t,
            v,
            q,
            start=np.datetime64(a, "ns"),
            end=np.datetime64(b, "ns"),
            every=np.timedelta64(b - a, "ns"),
            stats=stats,
            config=config,
            stepped=stepped,
        )
        rows += s.to_pylist()
    return rows


def same_rows(got: pa.Table, want: list[dict]) -> None:
    got_rows = got.to_pylist()
    assert len(got_rows) == len(want)
    for g, w in zip(got_rows, want, strict=True):
        assert g["stat"] == w["stat"] and g["status"] == w["status"]
        assert g["start"] == w["start"] and g["time"] == w["time"]
        if w["value"] is None:
            assert g["value"] is None
        else:
            assert g["value"] == pytest.approx(w["value"], rel=1e-12, abs=1e-12)


def brute_twa(t, v, a, b):
    inside = (t >= a) & (t <= b)
    return float(np.trapezoid(v[inside], t[inside]) / (b - a))


@pytest.mark.parametrize(
    ("first", "last", "hours"),
    [
        ("2026-03-28", "2026-03-31", [24, 23, 24]),
        ("2026-10-24", "2026-10-27", [24, 25, 24]),
    ],
)
def test_local_days_over_a_clock_change_are_exact(h, first, last, hours):
    t, v, _ = minute_series(
        "2026-03-20" if first < "2026-06" else "2026-10-20",
        "2026-04-05" if first < "2026-06" else "2026-11-01",
    )
    h.define("TIC-101.PV", unit="degC")
    h.write("TIC-101.PV", t, v)
    start, end = local(f"{first}T00:00"), local(f"{last}T00:00")
    s = h.summary(
        "TIC-101.PV",
        np.datetime64(start, "ns"),
        np.datetime64(end, "ns"),
        "1d",
        stats=["twa", "count"],
        tz=PARIS,
    )
    assert s.schema.field("start").type == pa.timestamp("ns", tz=PARIS)
    assert s.schema.field("time").type == pa.timestamp("ns", tz=PARIS)
    starts = s.column("start").cast(pa.int64()).to_numpy()[::2]
    edges = np.append(starts, end)
    assert (np.diff(edges) // H).tolist() == hours
    twa = s.column("value").to_pylist()[::2]
    counts = s.column("value").to_pylist()[1::2]
    assert counts == [x * 60.0 for x in hours]
    for k in range(3):
        assert twa[k] == pytest.approx(brute_twa(t, v, edges[k], edges[k + 1]), rel=1e-12)
    same_rows(s, reference(t, v, None, edges, ["twa", "count"]))
    # the same arrays through historian.summarize(tz=...) give the same table
    arrays = historian.summarize(
        t,
        v,
        start=np.datetime64(start, "ns"),
        end=np.datetime64(end, "ns"),
        every="1d",
        tz=PARIS,
        stats=["twa", "count"],
        tag="TIC-101.PV",
    )
    assert arrays.equals(s)


@pytest.mark.parametrize("kind", ["analog", "step"])
def test_every_stat_with_bad_data_matches_the_per_interval_reference(h, kind):
    t, v, q = minute_series("2026-10-20", "2026-10-30", seed=3, bad=0.3, jitter=True)
    q[(t >= to_ns("2026-10-24T20:00Z")) & (t < to_ns("2026-10-25T05:00Z"))] = 0x80000000
    h.define("FIC-101.PV", kind=kind)
    h.write("FIC-101.PV", t, v, q)
    start, end = local("2026-10-23T07:30"), local("2026-10-27T00:00")
    for kwargs in (
        {"every": "1d", "tz": PARIS},
        {"shifts": SHIFTS, "tz": PARIS},
        {"every": "1d", "tz": PARIS, "offset": "6h"},
    ):
        s = h.summary(
            "FIC-101.PV",
            np.datetime64(start, "ns"),
            np.datetime64(end, "ns"),
            stats=STATS,
            config={"PercentDataGood": 70},
            **kwargs,
        )
        edges = calendar_edges(start, end, **kwargs).edges
        want = reference(
            t, v, q, edges, STATS, config={"PercentDataGood": 70}, stepped=kind == "step"
        )
        same_rows(s, want)  # aware datetimes: the same instants compare equal across zones


def test_average_temperature_per_shift_across_the_spring_change(h):
    t, v, _ = minute_series("2026-03-27", "2026-03-31", seed=1)
    h.define("TIC-101.PV", unit="degC")
    h.write("TIC-101.PV", t, v)
    start, end = local("2026-03-28T06:00"), local("2026-03-30T06:00")
    s = h.summary(
        "TIC-101.PV",
        np.datetime64(start, "ns"),
        np.datetime64(end, "ns"),
        shifts=SHIFTS,
        tz=PARIS,
        stats="twa",
    )
    assert s.column_names == ["tag", "start", "shift", "stat", "value", "time", "status"]
    assert s.column("shift").to_pylist() == ["early", "late", "night"] * 2
    edges = np.append(s.column("start").cast(pa.int64()).to_numpy(), end)
    assert (np.diff(edges) // H).tolist() == [8, 8, 7, 8, 8, 8]  # the night of the change: 7 h
    for k, value in enumerate(s.column("value").to_pylist()):
        assert value == pytest.approx(brute_twa(t, v, edges[k], edges[k + 1]), rel=1e-12)
    per_shift = s.to_pandas().groupby("shift")["value"].mean()
    assert set(per_shift.index) == set(SHIFTS)


def test_plain_every_keeps_todays_result_and_utc(h):
    t, v, _ = minute_series("2026-03-27", "2026-03-31")
    h.define("A")
    h.write("A", t, v)
    a = h.summary("A", "2026-03-28T05:00Z", "2026-03-30T05:00Z", "1d", stats=["twa"])
    b = h.summary("A", "2026-03-28T05:00Z", "2026-03-30T05:00Z", "24h", stats=["twa"])
    assert a.equals(b) and a.schema.field("start").type == pa.timestamp("ns", tz="UTC")
    assert a.column("start").cast(pa.int64()).to_pylist() == [
        to_ns("2026-03-28T05:00Z"),
        to_ns("2026-03-29T05:00Z"),
    ]
    aligned = h.summary(
        "A", "2026-03-28T05:00Z", "2026-03-29T00:00Z", "8h", offset="6h", stats=["count"]
    )
    assert aligned.column("value").to_pylist() == [60.0, 480.0, 480.0, 120.0]


def test_months_quarters_and_years_without_tz_are_utc_calendar(h):
    t = np.arange(to_ns("2026-01-01"), to_ns("2027-01-01"), H, dtype=np.int64)
    h.define("A")
    h.write("A", t, np.ones(t.size))
    s = h.summary("A", "2026-01-01", "2027-01-01", "1q", stats=["count"])
    assert s.column("value").to_pylist() == [90 * 24.0, 91 * 24.0, 92 * 24.0, 92 * 24.0]
    m = h.summary("A", "2026-01-01", "2027-01-01", "1month", stats=["count"])
    assert m.column("value").to_pylist()[:3] == [31 * 24.0, 28 * 24.0, 31 * 24.0]
    y = h.summary("A", "2026-01-01", "2027-01-01", "1y", stats=["count"], tz="UTC")
    assert y.column("value").to_pylist() == [365 * 24.0]


def test_interpolated_plot_events_correlate_carry_the_zone(h):
    t, v, _ = minute_series("2026-03-27", "2026-03-31")
    h.define("A"), h.define("B")
    h.write("A", t, v)
    h.write("B", t, 2 * v)
    start, end = (
        np.datetime64(local("2026-03-28T00:00"), "ns"),
        np.datetime64(local("2026-03-30T00:00"), "ns"),
    )
    g = h.interpolated(["A", "B"], start, end, "1d", tz=PARIS)
    assert g.schema.field("time").type == pa.timestamp("ns", tz=PARIS)
    assert g.column("time").cast(pa.int64()).to_pylist() == [
        local("2026-03-28T00:00"),
        local("2026-03-29T00:00"),
        local("2026-03-30T00:00"),
    ]
    assert g.column("A").to_pylist()[1] == pytest.approx(v[t == local("2026-03-29T00:00")][0])
    p = h.plot("A", start, end, width=50, tz=PARIS)
    assert p.schema.field("time").type == pa.timestamp("ns", tz=PARIS)
    e = h.events("A > 24", start, end, every="1h", tz=PARIS, stats=[])
    assert e.schema.field("start").type == pa.timestamp("ns", tz=PARIS)
    assert e.num_rows > 0
    raw = h.events("A > 24", start, end, tz=PARIS, stats=["max"])  # own sample times
    assert raw.schema.field("end").type == pa.timestamp("ns", tz=PARIS)
    utc = h.events("A > 24", start, end, stats=["max"])
    assert raw.num_rows == utc.num_rows > 0
    assert raw.column("start").cast(pa.int64()).equals(utc.column("start").cast(pa.int64()))
    with pytest.raises(InvalidArgumentError, match="pass every"):
        h.events("A > 24", start, end, offset="1h")
    c = h.correlate(["A", "B"], start, end, "1h", tz=PARIS, offset="30min", progress=False)
    assert c.column("r").to_pylist()[0] == pytest.approx(1.0)
    with pytest.raises(InvalidArgumentError, match="calendar interval"):
        h.correlate(["A", "B"], start, end, "1d", max_lag="2d", tz=PARIS, progress=False)
    daily = h.correlate(["A", "B"], start, end, "1d", tz=PARIS, min_samples=2, progress=False)
    assert daily.column("n").to_pylist() == [2]


def test_budgets_and_reversed_windows_still_apply(h):
    h.define("A")
    h.write("A", [to_ns("2026-01-01")], [1.0])
    with historian.limits.using(max_result_cells=100):
        with pytest.raises(ResourceLimitError, match="max_result_cells"):
            h.summary("A", "2020-01-01", "2026-01-01", "1d", tz=PARIS, stats=["twa"])
        with pytest.raises(ResourceLimitError):  # 60 months x 2 stats = 120 rows
            h.summary("A", "2021-01-01", "2026-01-01", "1mo", tz=PARIS, stats=["twa", "max"])
        with pytest.raises(ResourceLimitError):
            h.interpolated("A", "2020-01-01", "2026-01-01", "1d", tz=PARIS)
        assert (
            h.summary("A", "2021-01-01", "2026-01-01", "1mo", tz=PARIS, stats=["twa"]).num_rows
            == 61
        )
    for call in (
        lambda: h.summary("A", "2026-02-01", "2026-01-01", "1d", tz=PARIS),
        lambda: h.summary("A", "2026-02-01", "2026-01-01", shifts=SHIFTS),
        lambda: h.interpolated("A", "2026-02-01", "2026-01-01", "1d", tz=PARIS),
        lambda: historian.summarize(
            [0], [1.0], start="2026-02-01", end="2026-01-01", every="1mo", stats="twa"
        ),
    ):
        with pytest.raises(InvalidWindowError):
            call()
    with pytest.raises(InvalidArgumentError, match="every is needed"):
        h.summary("A", "2026-01-01", "2026-02-01", stats=["twa"])
    with pytest.raises(InvalidArgumentError, match="unknown time zone"):
        h.summary("A", "2026-01-01", "2026-02-01", "1d", tz="Europe/Pariss")
