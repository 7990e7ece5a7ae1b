"""Interval edges in local time (historian.model.calendar), without kernels or a store.

Each rule is checked three ways: against edges written out by hand (read off a zone table),
against zoneinfo directly, and against a brute-force reference that walks the window in 15-minute
steps (every zone offset and clock change here is a multiple of 15 minutes), reads the local wall
clock of each instant and puts an edge wherever the local day / week / month / shift changes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import historian
from historian.errors import InvalidArgumentError, ResourceLimitError
from historian.model.calendar import calendar_edges, is_calendar, iso, parse_every
from historian.model.times import to_ns

H = 3600 * 10**9
STEP = 15 * 60 * 10**9
UTC = dt.UTC
ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
]
SHIFTS = {"early": "06:00", "late": "14:00", "night": "22:00"}


def wall(ns: int, tz: str) -> dt.datetime:
    return (
        dt.datetime.fromtimestamp(ns // 10**9, UTC)
        .astimezone(zoneinfo.ZoneInfo(tz))
        .replace(tzinfo=None)
    )


def local(text: str, tz: str) -> int:
    """A local wall time (fold=0) as ns, by zoneinfo alone."""
    d = dt.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return int(d.timestamp()) * 10**9


def brute_edges(start: int, end: int, key) -> list[int]:
    """``start``, every 15-minute instant where ``key(instant)`` changes, ``end``."""
    out = [start]
    prev = key(start)
    u = -(-start // STEP) * STEP
    while u < end:
        k = key(u)
        if k != prev and u > start:
            out.append(u)
        prev = k
        u += STEP
    out.append(end)
    return out


def day_key(tz: str, n: int = 1, offset_h: int = 0, anchor: int | None = None):
    def key(u: int):
        d = (wall(u, tz) - dt.timedelta(hours=offset_h)).date().toordinal()
        return (d - anchor) // n if anchor is not None else d // n

    return key


def month_key(tz: str, n: int = 1):
    def key(u: int):
        w = wall(u, tz)
        return (w.year * 12 + w.month - 1) // n

    return key


def week_key(tz: str, week_start: int = 0):
    monday = dt.date(1970, 1, 5).toordinal() + week_start
    return lambda u: (wall(u, tz).date().toordinal() - monday) // 7


def shift_key(tz: str, shifts: dict[str, str]):
    starts = sorted(dt.time.fromisoformat(v) for v in shifts.values())

    def key(u: int):
        w = wall(u, tz)
        before = [i for i, s in enumerate(starts) if s <= w.time()]
        return (w.date(), before[-1]) if before else (w.date() - dt.timedelta(1), len(starts) - 1)

    return key


def shift_name(tz: str, shifts: dict[str, str], u: int) -> str:
    w = wall(u, tz).time()
    items = sorted(shifts.items(), key=lambda kv: kv[1])
    names = [n for n, s in items if dt.time.fromisoformat(s) <= w]
    return names[-1] if names else items[-1][0]


# --- by hand and by zoneinfo, over the clock changes of 2026 ---------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("Europe/Paris", "2026-03-29", 23),
        ("Europe/Paris", "2026-10-25", 25),
        ("America/New_York", "2026-03-08", 23),
        ("America/New_York", "2026-11-01", 25),
        ("Australia/Lord_Howe", "2026-04-05", 24.5),
        ("Australia/Lord_Howe", "2026-10-04", 23.5),
        ("Australia/Sydney", "2026-04-05", 25),
        ("Australia/Sydney", "2026-10-04", 23),
    ],
)
def test_a_local_day_on_a_clock_change_is_shorter_or_longer(tz, day, hours):
    d = dt.date.fromisoformat(day)
    start = local(f"{d - dt.timedelta(1)}T00:00", tz)
    end = local(f"{d + dt.timedelta(2)}T00:00", tz)
    iv = calendar_edges(start, end, "1d", tz=tz)
    expected = [local(f"{d + dt.timedelta(k)}T00:00", tz) for k in (-1, 0, 1, 2)]
    assert iv.edges.tolist() == expected
    assert np.diff(iv.edges).tolist() == [24 * H, round(hours * H), 24 * H]
    assert iv.tz == tz and iv.labels is None


def test_paris_edges_written_out():
    iv = calendar_edges(
        to_ns("2026-10-23T22:00Z"), to_ns("2026-10-26T23:00Z"), "1d", tz="Europe/Paris"
    )
    assert [iso(e, "Europe/Paris") for e in iv.edges] == [
        "2026-10-24T00:00:00+02:00",
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
        "2026-10-27T00:00:00+01:00",
    ]


def test_midnight_skipped_by_the_clock_change_starts_the_day_at_one():
    # Chile moves its clocks at midnight: 2026-09-06 starts at 01:00 -03 (= 04:00 UTC)
    iv = calendar_edges(
        to_ns("2026-09-05T04:00Z"), to_ns("2026-09-07T03:00Z"), "1d", tz="America/Santiago"
    )
    assert [iso(e, "America/Santiago") for e in iv.edges] == [
        "2026-09-05T00:00:00-04:00",
        "2026-09-06T01:00:00-03:00",
        "2026-09-07T00:00:00-03:00",
    ]


def test_shifts_across_spring_forward_and_fall_back():
    tz = "Europe/Paris"
    iv = calendar_edges(
        local("2026-03-28T22:00", tz), local("2026-03-29T22:00", tz), shifts=SHIFTS, tz=tz
    )
    assert iv.labels == ["night", "early", "late"]
    assert np.diff(iv.edges).tolist() == [7 * H, 8 * H, 8 * H]  # the night lost an hour
    iv = calendar_edges(
        local("2026-10-24T22:00", tz), local("2026-10-25T22:00", tz), shifts=SHIFTS, tz=tz
    )
    assert np.diff(iv.edges).tolist() == [9 * H, 8 * H, 8 * H]  # and got it back


def test_a_shift_starting_in_the_skipped_hour_uses_the_offset_before_the_change():
    # 02:30 does not exist in Paris on 2026-03-29: fold=0 reads it as 02:30+01:00 = 01:30 UTC,
    # which the clocks show as 03:30 CEST
    tz = "Europe/Paris"
    iv = calendar_edges(
        to_ns("2026-03-28T12:00Z"),
        to_ns("2026-03-30T12:00Z"),
        shifts={"day": "08:00", "maintenance": "02:30"},
        tz=tz,
    )
    got = dict(zip([iso(e, tz) for e in iv.edges], [*iv.labels, None], strict=True))
    assert got["2026-03-29T03:30:00+02:00"] == "maintenance"
    assert to_ns("2026-03-29T01:30Z") in iv.edges.tolist()
    assert got["2026-03-30T02:30:00+02:00"] == "maintenance"  # an ordinary day again


def test_a_shift_pushed_past_the_next_one_by_the_gap_has_no_interval_that_day():
    tz = "Europe/Paris"  # 02:45 -> 03:45 CEST, after the 03:00 shift: the 02:45 one is empty
    iv = calendar_edges(
        local("2026-03-29T00:00", tz),
        local("2026-03-29T12:00", tz),
        shifts={"a": "02:45", "b": "03:00", "c": "06:00"},
        tz=tz,
    )
    assert np.all(np.diff(iv.edges) > 0)
    assert iv.labels == ["c", "b", "c"]
    assert iso(iv.edges[1], tz) == "2026-03-29T03:45:00+02:00"


def test_an_ambiguous_time_means_its_first_occurrence():
    tz = "Europe/Paris"  # 02:30 happens twice on 2026-10-25: first at 00:30 UTC
    iv = calendar_edges(
        to_ns("2026-10-24T12:00Z"),
        to_ns("2026-10-25T12:00Z"),
        shifts={"day": "08:00", "x": "02:30"},
        tz=tz,
    )
    assert to_ns("2026-10-25T00:30Z") in iv.edges.tolist()


def test_weeks_months_quarters_years():
    tz = "Europe/Paris"
    iv = calendar_edges(local("2026-03-01T00:00", tz), local("2026-04-01T00:00", tz), "1w", tz=tz)
    assert [wall(e, tz).strftime("%a %d") for e in iv.edges[1:-1]] == [
        "Mon 02",
        "Mon 09",
        "Mon 16",
        "Mon 23",
        "Mon 30",
    ]
    iv = calendar_edges(
        local("2026-03-01T00:00", tz),
        local("2026-04-01T00:00", tz),
        "1week",
        tz=tz,
        week_start="sunday",
    )
    assert [wall(e, tz).strftime("%a") for e in iv.edges[1:-1]] == ["Sun"] * 4
    for every, firsts in [
        ("1mo", ["2026-02-01", "2026-03-01"]),
        ("1month", ["2026-02-01", "2026-03-01"]),
        ("1q", ["2026-04-01"]),
        ("quarter", ["2026-04-01"]),
    ]:
        iv = calendar_edges(
            local("2026-01-15T00:00", tz), local("2026-04-15T00:00", tz), every, tz=tz
        )
        got = [str(wall(e, tz).date()) for e in iv.edges[1:-1]]
        assert got[: len(firsts)] == firsts, every
    iv = calendar_edges(to_ns("2025-06-01"), to_ns("2028-06-01"), "1y", tz=tz)
    assert [iso(e, tz) for e in iv.edges[1:-1]] == [
        "2026-01-01T00:00:00+01:00",
        "2027-01-01T00:00:00+01:00",
        "2028-01-01T00:00:00+01:00",
    ]


def test_a_production_day_from_six_to_six():
    tz = "Europe/Paris"
    iv = calendar_edges(
        local("2026-03-28T06:00", tz), local("2026-03-30T06:00", tz), "1d", tz=tz, offset="6h"
    )
    assert [iso(e, tz) for e in iv.edges] == [
        "2026-03-28T06:00:00+01:00",
        "2026-03-29T06:00:00+02:00",
        "2026-03-30T06:00:00+02:00",
    ]


def test_fixed_intervals_keep_todays_rule_and_align_on_request():
    start, end = to_ns("2026-01-01T05:00Z"), to_ns("2026-01-02T05:00Z")
    plain = calendar_edges(start, end, "1d")  # no tz: 24 h from start, as always
    assert plain.edges.tolist() == [start, end] and plain.every_ns == 24 * H and plain.tz is None
    assert calendar_edges(start, end, "7h").edges.tolist() == [
        start + k * 7 * H for k in range(4)
    ] + [end]
    aligned = calendar_edges(start, end, "8h", offset="6h")
    assert [iso(e) for e in aligned.edges] == [
        "2026-01-01T05:00:00+00:00",
        "2026-01-01T06:00:00+00:00",
        "2026-01-01T14:00:00+00:00",
        "2026-01-01T22:00:00+00:00",
        "2026-01-02T05:00:00+00:00",
    ]
    same = calendar_edges(start, end, "8h", origin="2020-01-01T06:00Z")
    assert same.edges.tolist() == aligned.edges.tolist()
    local_h = calendar_edges(
        to_ns("2026-01-01T05:00Z"), to_ns("2026-01-01T12:00Z"), "8h", tz="Asia/Kolkata"
    )  # from local midnight (+05:30)
    assert [iso(e, "Asia/Kolkata") for e in local_h.edges[1:-1]] == ["2026-01-01T16:00:00+05:30"]


@pytest.mark.parametrize("text", ["1mo", "2 months", "1q", "1y", "year"])
def test_a_calendar_unit_is_not_a_duration(text):
    with pytest.raises(InvalidArgumentError, match="calendar interval"):
        historian.model.times.duration_ns(text)


def test_parse_every_and_calendar_kinds():
    assert parse_every("1d") == ("day", 1) and parse_every("2 weeks") == ("day", 14)
    assert parse_every("1y") == ("month", 12) and parse_every("year") == ("month", 12)
    assert parse_every("1h30m") == ("fixed", 5400 * 10**9)
    assert not is_calendar("1w") and is_calendar("1w", "UTC") and is_calendar("1q")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every": "1d", "tz": "Mars/Olympus"}, "unknown time zone"),
        ({"every": "1d", "tz": 5}, "tz must be"),
        ({"every": "1mo", "origin": "2026-01-01"}, "origin"),
        ({"every": "1d", "shifts": SHIFTS}, "either every"),
        ({"shifts": {"a": "25:00"}}, "local time of day"),
        ({"shifts": {"a": "06:00", "b": "06:00"}}, "both start"),
        ({"shifts": {}}, "shifts must be"),
        ({"every": "1w", "tz": "UTC", "week_start": "funday"}, "week_start"),
        ({"every": "1d", "tz": "UTC", "week_start": "monday"}, "week_start"),
        ({"every": "0mo"}, "positive"),
        ({"every": "0s"}, "positive"),
        ({}, "every is needed"),
    ],
)
def test_wrong_rules_are_refused_naming_the_fix(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        calendar_edges(0, 10**15, **kwargs)


def test_the_result_cell_budget_bounds_the_edges_before_they_are_made():
    with historian.limits.using(max_result_cells=100):
        with pytest.raises(ResourceLimitError, match="max_result_cells"):
            calendar_edges(to_ns("2000-01-01"), to_ns("2100-01-01"), "1d", tz="Europe/Paris")
        with pytest.raises(ResourceLimitError):
            calendar_edges(to_ns("2000-01-01"), to_ns("2100-01-01"), shifts=SHIFTS)
        with pytest.raises(ResourceLimitError):  # 3e9 intervals refused without allocating
            calendar_edges(to_ns("2000-01-01"), to_ns("2100-01-01"), "1s", offset="0s")
        assert (
            calendar_edges(
                local("2000-01-01T00:00", "Europe/Paris"),
                local("2008-01-01T00:00", "Europe/Paris"),
                "1mo",
                tz="Europe/Paris",
            ).count
            == 96
        )


# --- brute force ------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("window", [("2026-03-05", "2026-04-10"), ("2026-09-25", "2026-11-10")])
def test_days_weeks_shifts_match_the_brute_force_over_both_changes(tz, window):
    start, end = to_ns(window[0] + "T07:13Z"), to_ns(window[1])
    assert calendar_edges(start, end, "1d", tz=tz).edges.tolist() == brute_edges(
        start, end, day_key(tz)
    )
    assert calendar_edges(start, end, "1d", tz=tz, offset="6h").edges.tolist() == brute_edges(
        start, end, day_key(tz, offset_h=6)
    )
    assert calendar_edges(start, end, "1w", tz=tz).edges.tolist() == brute_edges(
        start, end, week_key(tz)
    )
    iv = calendar_edges(start, end, shifts=SHIFTS, tz=tz)
    assert iv.edges.tolist() == brute_edges(start, end, shift_key(tz, SHIFTS))
    assert iv.labels == [shift_name(tz, SHIFTS, int(e)) for e in iv.edges[:-1]]


@settings(max_examples=40, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    start=st.integers(to_ns("2020-01-01") // 10**9, to_ns("2030-01-01") // 10**9),
    days=st.integers(1, 70),
    rule=st.sampled_from(["1d", "3d", "1w", "1mo", "2mo", "1q", "shifts", "1d+6h"]),
)
def test_random_windows_and_zones_match_the_brute_force(tz, start, days, rule):
    start_ns = start * 10**9
    end_ns = start_ns + days * 86400 * 10**9 + 12_345
    if rule == "shifts":
        iv = calendar_edges(start_ns, end_ns, shifts=SHIFTS, tz=tz)
        key = shift_key(tz, SHIFTS)
        assert iv.labels == [shift_name(tz, SHIFTS, int(e)) for e in iv.edges[:-1]]
    elif rule == "1d+6h":
        iv, key = calendar_edges(start_ns, end_ns, "1d", tz=tz, offset="6h"), day_key(tz, 1, 6)
    elif rule.endswith("d"):
        n = int(rule[:-1])
        anchor = wall(start_ns, tz).date().toordinal()
        iv, key = calendar_edges(start_ns, end_ns, rule, tz=tz), day_key(tz, n, anchor=anchor)
    elif rule == "1w":
        iv, key = calendar_edges(start_ns, end_ns, rule, tz=tz), week_key(tz)
    else:
        n = {"1mo": 1, "2mo": 2, "1q": 3}[rule]
        iv, key = calendar_edges(start_ns, end_ns, rule, tz=tz), month_key(tz, n)
    edges = iv.edges.tolist()
    assert edges == brute_edges(start_ns, end_ns, key)
    assert edges[0] == start_ns and edges[-1] == end_ns
    assert all(b > a for a, b in itertools.pairwise(edges))
