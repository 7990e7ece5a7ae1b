"""Interval edges in local time: calendar days, weeks, months, quarters, years, and shifts.

One job: turn a window ``[start, end)`` and an interval rule (``every``, ``tz``, ``offset``,
``origin``, ``week_start``, ``shifts``) into the int64 ns (UTC) edges of the intervals. The
aggregates work on arbitrary edges, so a 23 h or 25 h local day is summarised exactly.
Pure Python, numpy and :mod:`zoneinfo` (no pyarrow).

The rules (also in ``docs/calendar.md``):

- **Fixed intervals** (``"15min"``, ``"8h"``; ``"1d"`` and ``"1w"`` without ``tz``) are elapsed
  time. Without ``tz``, ``offset`` or ``origin`` they start at ``start`` (as always). With any of
  them they are aligned on ``origin + k * every``; ``origin`` defaults to midnight of the day the
  window starts (local midnight with ``tz``, UTC midnight without) plus ``offset``.
- **Calendar intervals** (``"1d"``/``"1w"`` with ``tz``; ``"1mo"``, ``"1q"``, ``"1y"`` always,
  in UTC without ``tz``) follow the wall clock: a local day runs from midnight (plus
  ``offset``, e.g. ``"6h"`` for a production day) to the next, 23 h or 25 h on the days the
  clocks change. Weeks start on Monday (ISO 8601) unless ``week_start`` names another day; ``n``
  months are aligned on January (``"3mo"`` is quarters), ``n`` years on years divisible by n,
  ``n`` days on the local date of ``start``.
- **Shifts** (``shifts={"early": "06:00", "late": "14:00", "night": "22:00"}``): one interval per
  shift occurrence, from its local start time to the start of the next shift.
- The first interval starts at ``start`` and the last ends at ``end`` (both may be partial).
- A wall time is converted to UTC with :mod:`zoneinfo`'s ``fold=0`` rule. A time that occurs
  twice (autumn) means its **first** occurrence. A time that does not exist (spring forward,
  e.g. 02:30 in Paris on the last Sunday of March) is read with the offset **before** the change:
  02:30 is taken as 02:30+01:00 = 01:30 UTC, which the clocks show as 03:30 CEST. If that puts a
  shift's start after the next shift's start, that shift has no interval that day.

Examples
--------
>>> from historian.model.times import to_ns
>>> iv = calendar_edges(to_ns("2026-03-28T23:00Z"), to_ns("2026-03-30T22:00Z"), "1d",
...                     tz="Europe/Paris")
>>> [iso(e, "Europe/Paris") for e in iv.edges]
['2026-03-29T00:00:00+01:00', '2026-03-30T00:00:00+02:00', '2026-03-31T00:00:00+02:00']
>>> (iv.edges[1:] - iv.edges[:-1]).tolist() == [23 * 3600 * 10**9, 24 * 3600 * 10**9]
True
>>> iv = calendar_edges(to_ns("2026-01-05T05:00Z"), to_ns("2026-01-06T05:00Z"),
...                     shifts={"early": "06:00", "late": "14:00", "night": "22:00"},
...                     tz="Europe/Paris")
>>> iv.labels
['early', 'late', 'night']
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError
from historian.model.times import DAY_NS

__all__ = ["Intervals", "calendar_edges", "is_calendar", "iso", "parse_every", "zone"]

_UTC = _dt.UTC
_EPOCH = _dt.datetime(1970, 1, 1)
_DAY_UNITS = {"d": 1, "day": 1, "days": 1, "w": 7, "wk": 7, "week": 7, "weeks": 7}
_MONTH_UNITS = {
    "mo": 1, "mon": 1, "month": 1, "months": 1,
    "q": 3, "qtr": 3, "quarter": 3, "quarters": 3,
    "y": 12, "yr": 12, "year": 12, "years": 12,
}  # fmt: skip
_CALENDAR = re.compile(r"^\s*(\d+)?\s*([a-z]+)\s*$")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


@dataclass(frozen=True)
class Intervals:
    """The intervals of a window: ``edges`` (int64 ns UTC, strictly increasing, the first is
    ``start`` and the last ``end``), the shift name per interval (``labels``, shifts only), the
    zone name of the result columns (``tz``) and, when the intervals are ``start + k * every``
    (the rule of a plain fixed ``every``), ``every_ns``.

    >>> iv = calendar_edges(0, 10, "4ns")
    >>> iv.edges.tolist(), iv.every_ns
    ([0, 4, 8, 10], 4)
    """

    edges: np.ndarray
    labels: list[str] | None = None
    tz: str | None = None
    every_ns: int | None = None

    @property
    def count(self) -> int:
        """The number of intervals."""
        return int(self.edges.size - 1)


def zone(tz: Any) -> Any:
    """A :class:`zoneinfo.ZoneInfo` from an IANA name or a ZoneInfo (``datetime.UTC`` too).

    >>> zone("Europe/Paris").key
    'Europe/Paris'
    """
    import zoneinfo

    if isinstance(tz, zoneinfo.ZoneInfo):
        return tz
    if tz is _UTC:
        return zoneinfo.ZoneInfo("UTC")
    if not isinstance(tz, str):
        raise InvalidArgumentError(
            f"tz must be an IANA zone name such as 'Europe/Paris' or a zoneinfo.ZoneInfo, "
            f"not {type(tz).__name__}"
        )
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidArgumentError(
            f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from None


def parse_every(every: Any) -> tuple[str, int]:
    """``("fixed", ns)``, ``("day", n days)`` or ``("month", n months)`` for an ``every``.

    Day units (``d``, ``day``, ``w``, ``week``) are returned as days; whether they are calendar
    days depends on ``tz`` (see :func:`is_calendar`). Months, quarters and years are months.

    >>> parse_every("1mo"), parse_every("quarter"), parse_every("2y"), parse_every("1week")
    (('month', 1), ('month', 3), ('month', 24), ('day', 7))
    >>> parse_every("90s")
    ('fixed', 90000000000)
    """
    from historian.model.times import duration_ns

    if isinstance(every, str):
        m = _CALENDAR.match(every.lower())
        if m and (m.group(2) in _DAY_UNITS or m.group(2) in _MONTH_UNITS):
            n = int(m.group(1) or 1)
            if n <= 0:
                raise InvalidArgumentError(f"every must be positive, not {every!r}")
            if m.group(2) in _DAY_UNITS:
                return "day", n * _DAY_UNITS[m.group(2)]
            return "month", n * _MONTH_UNITS[m.group(2)]
    ns = duration_ns(every)
    if ns <= 0:
        raise InvalidArgumentError(f"every must be a positive duration, not {every!r}")
    return "fixed", ns


def is_calendar(every: Any, tz: Any = None) -> bool:
    """True when ``every`` follows the calendar: months/quarters/years, or days/weeks with a tz.

    >>> is_calendar("1d"), is_calendar("1d", "Europe/Paris"), is_calendar("1mo")
    (False, True, True)
    """
    if every is None:
        return False
    kind, _n = parse_every(every)
    return kind == "month" or (kind == "day" and tz is not None)


def iso(ns: int, tz: Any = "UTC") -> str:
    """An int64 ns time as local ISO 8601 with its offset (seconds precision).

    >>> iso(0, "Europe/Paris")
    '1970-01-01T01:00:00+01:00'
    """
    return _utc(int(ns)).astimezone(zone(tz)).isoformat()


def _utc(ns: int) -> _dt.datetime:
    return (_EPOCH + _dt.timedelta(microseconds=ns // 1000)).replace(tzinfo=_UTC)


def _wall(ns: int, z: Any) -> _dt.datetime:
    """The naive local wall time of an instant."""
    return _utc(ns).astimezone(z).replace(tzinfo=None)


def _instant(wall: _dt.datetime, z: Any) -> int:
    """A naive local wall time as int64 ns UTC, fold=0 (first occurrence; the offset before
    a gap)."""
    off = wall.replace(tzinfo=z, fold=0).utcoffset()
    delta = wall - off - _EPOCH  # type: ignore[operator]
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def _wall_offset(offset: Any) -> _dt.timedelta:
    from historian.model.times import duration_ns

    if offset is None:
        return _dt.timedelta(0)
    ns = duration_ns(offset)
    return _dt.timedelta(microseconds=ns // 1000)


def _shift_time(name: str, value: Any) -> _dt.time:
    if isinstance(value, _dt.time):
        return value.replace(tzinfo=None)
    m = _HHMM.match(value) if isinstance(value, str) else None
    if m:
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h < 24 and mi < 60 and s < 60:
            return _dt.time(h, mi, s)
    raise InvalidArgumentError(
        f"shift {name!r} starts at {value!r}; give a local time of day such as '06:00'"
    )


class _Cap:
    """Counts boundaries against ``max_result_cells`` while they are made (never more)."""

    def __init__(self, what: str) -> None:
        from historian.limits import current

        self.limits = current()
        self.cap = int(self.limits.max_result_cells)
        self.what = what

    def check(self, n: int) -> None:
        if n > self.cap:
            self.limits.check(
                "max_result_cells",
                n,
                f"more than {self.cap:,} {self.what}",
                "use a larger `every` or a shorter window",
            )


def calendar_edges(
    start_ns: int,
    end_ns: int,
    every: Any = None,
    *,
    tz: Any = None,
    origin: Any = None,
    offset: Any = None,
    week_start: str | int | None = None,
    shifts: dict[str, Any] | None = None,
) -> Intervals:
    """The :class:`Intervals` of ``[start_ns, end_ns)`` for an interval rule (module docstring).

    ``every`` is a duration (``"15min"``, seconds, ``timedelta``) or a calendar unit (``"1d"``,
    ``"1w"``/``"1week"``, ``"1mo"``/``"1month"``, ``"1q"``/``"quarter"``, ``"1y"``/``"year"``);
    ``shifts`` replaces ``every``. ``origin`` (a time) and ``offset`` (a duration) align fixed
    intervals; ``offset`` also moves calendar boundaries (``"6h"``: days from 06:00 to 06:00).
    The number of intervals is bounded by ``max_result_cells`` before they are all made.

    >>> from historian.model.times import to_ns
    >>> iv = calendar_edges(to_ns("2026-01-01T05:00Z"), to_ns("2026-01-02T00:00Z"), "8h",
    ...                     offset="6h")
    >>> [iso(e) for e in iv.edges]  # doctest: +NORMALIZE_WHITESPACE
    ['2026-01-01T05:00:00+00:00', '2026-01-01T06:00:00+00:00', '2026-01-01T14:00:00+00:00',
     '2026-01-01T22:00:00+00:00', '2026-01-02T00:00:00+00:00']
    """
    start_ns, end_ns = int(start_ns), int(end_ns)
    if end_ns <= start_ns:
        raise InvalidArgumentError(f"end ({end_ns}) must be after start ({start_ns})")
    z = None if tz is None else zone(tz)
    tz_name = None if z is None else z.key
    if week_start is not None and not isinstance(week_start, str | int):
        raise InvalidArgumentError(f"week_start must be a day name, not {week_start!r}")
    if shifts is not None:
        if every is not None:
            raise InvalidArgumentError("give either every= or shifts=, not both")
        if origin is not None or offset is not None:
            raise InvalidArgumentError("shifts= start at their own times: drop origin/offset")
        return _shift_edges(start_ns, end_ns, shifts, z or zone("UTC"), tz_name)
    if every is None:
        raise InvalidArgumentError("every is needed (e.g. '1h', '1d', '1mo') or shifts={...}")
    kind, n = parse_every(every)
    if kind == "month" or (kind == "day" and z is not None):
        if origin is not None:
            raise InvalidArgumentError(
                f"origin= aligns fixed intervals; calendar intervals ({every!r}) follow the "
                "calendar: move their boundaries with offset= (e.g. offset='6h')"
            )
        wz = z or zone("UTC")
        if kind == "day":
            return _day_edges(start_ns, end_ns, n, week_start, _wall_offset(offset), wz, tz_name)
        return _month_edges(start_ns, end_ns, n, _wall_offset(offset), wz, tz_name)
    every_ns = n if kind == "fixed" else n * DAY_NS
    if week_start is not None:
        raise InvalidArgumentError("week_start= is for calendar weeks: pass tz= with every='1w'")
    if origin is None and offset is None and z is None:
        return Intervals(_fixed(start_ns, end_ns, start_ns, every_ns), None, None, every_ns)
    if origin is not None:
        from historian.model.times import user_ns

        o = user_ns(origin) + (0 if offset is None else _ns(_wall_offset(offset)))
    else:
        midnight = _dt.datetime.combine(_wall(start_ns, z or zone("UTC")).date(), _dt.time())
        o = _instant(midnight + _wall_offset(offset), z or zone("UTC"))
    edges = _fixed(start_ns, end_ns, o, every_ns)
    return Intervals(edges, None, tz_name, every_ns if (o - start_ns) % every_ns == 0 else None)


def _ns(td: _dt.timedelta) -> int:
    return (td.days * 86400 + td.seconds) * 10**9 + td.microseconds * 1000


def _fixed(start_ns: int, end_ns: int, origin_ns: int, every_ns: int) -> np.ndarray:
    """``start``, the points ``origin + k * every`` strictly inside, ``end``."""
    k0 = (start_ns - origin_ns) // every_ns + 1  # first point after start
    k1 = -(-(end_ns - origin_ns) // every_ns) - 1  # last point before end
    n = max(0, k1 - k0 + 1)
    _Cap("intervals of [start, end) at this `every`").check(n + 1)
    first = origin_ns + k0 * every_ns  # Python ints: no overflow
    inner = (first + np.arange(n, dtype=np.int64) * np.int64(every_ns) if n
             else np.zeros(0, np.int64))  # fmt: skip
    return np.concatenate(
        [np.array([start_ns], np.int64), inner.astype(np.int64), np.array([end_ns], np.int64)]
    )


def _finish(
    start_ns: int,
    end_ns: int,
    bounds: list[int],
    labels: list[str] | None,
    first_label: str | None,
    tz_name: str | None,
) -> Intervals:
    """Edges from sorted candidate boundaries: clipped to the window, zero-length ones dropped."""
    edges, out = [start_ns], [first_label] if labels is not None else None
    for i, b in enumerate(bounds):
        if start_ns < b < end_ns:
            if b == edges[-1]:  # the previous interval is empty: the later label wins
                if out is not None:
                    out[-1] = labels[i]  # type: ignore[index]
                continue
            edges.append(b)
            if out is not None:
                out.append(labels[i])  # type: ignore[index]
    edges.append(end_ns)
    return Intervals(np.array(edges, dtype=np.int64), out, tz_name, None)  # type: ignore[arg-type]


def _day_edges(
    start_ns: int,
    end_ns: int,
    days: int,
    week_start: Any,
    offset: _dt.timedelta,
    z: Any,
    tz_name: str | None,
) -> Intervals:
    if days % 7 == 0 or week_start is not None:
        if days % 7:
            raise InvalidArgumentError("week_start= is for weeks: use every='1w'")
        anchor = _dt.date(1970, 1, 5).toordinal() + _weekday(week_start)  # a Monday, + days
    else:
        anchor = (_wall(start_ns, z) - offset).date().toordinal()
    first = (_wall(start_ns, z) - offset).date().toordinal()
    k0 = (first - anchor) // days * days + anchor - days  # one period early: the gap rule
    walls = (
        _dt.datetime.combine(_dt.date.fromordinal(k), _dt.time()) + offset
        for k in range(k0, _dt.date.max.toordinal() + 1, days)
    )
    return _walk(start_ns, end_ns, walls, z, tz_name)


def _month_edges(
    start_ns: int, end_ns: int, months: int, offset: _dt.timedelta, z: Any, tz_name: str | None
) -> Intervals:
    w = _wall(start_ns, z) - offset
    k0 = (w.year * 12 + w.month - 1) // months * months - months
    walls = (_dt.datetime(k // 12, k % 12 + 1, 1) + offset for k in range(k0, 10000 * 12, months))
    return _walk(start_ns, end_ns, walls, z, tz_name)


def _walk(
    start_ns: int, end_ns: int, walls: Iterator[_dt.datetime], z: Any, tz_name: str | None
) -> Intervals:
    """The intervals whose boundaries are the local wall times ``walls`` (increasing)."""
    cap = _Cap("calendar intervals of [start, end)")
    bounds: list[int] = []
    for wall in walls:
        b = _instant(wall, z)
        if b >= end_ns:
            break
        if b > start_ns:
            bounds.append(max(b, bounds[-1]) if bounds else b)
            cap.check(len(bounds) + 1)
    return _finish(start_ns, end_ns, bounds, None, None, tz_name)


def _weekday(week_start: Any) -> int:
    if week_start is None:
        return 0
    if isinstance(week_start, int) and not isinstance(week_start, bool) and 0 <= week_start < 7:
        return week_start
    if isinstance(week_start, str):
        low = week_start.strip().lower()
        for i, name in enumerate(_WEEKDAYS):
            if len(low) >= 3 and name.startswith(low):
                return i
    raise InvalidArgumentError(
        f"week_start must be a day such as 'monday' or 'sunday' (or 0-6, Monday = 0), "
        f"not {week_start!r}"
    )


def _shift_edges(start_ns: int, end_ns: int, shifts: Any, z: Any, tz_name: str | None) -> Intervals:
    if not isinstance(shifts, dict) or not shifts:
        raise InvalidArgumentError(
            "shifts must be a dict of name -> local start time, e.g. "
            "{'early': '06:00', 'late': '14:00', 'night': '22:00'}"
        )
    times = sorted(
        ((_shift_time(str(k), v), str(k)) for k, v in shifts.items()), key=lambda p: p[0]
    )
    for (t0, n0), (t1, n1) in itertools.pairwise(times):
        if t0 == t1:
            raise InvalidArgumentError(f"shifts {n0!r} and {n1!r} both start at {t0}")
    day = _wall(start_ns, z).date().toordinal() - 2  # early: the shift in progress at start
    cap = _Cap("shift intervals of [start, end)")
    bounds: list[int] = []
    labels: list[str] = []
    first_label = times[-1][1]
    done = False
    while not done:
        date = _dt.date.fromordinal(day)
        for t, name in times:
            b = _instant(_dt.datetime.combine(date, t), z)
            if bounds:
                b = max(b, bounds[-1])  # a start pushed past the next one by a gap: empty shift
            if b >= end_ns:
                done = True
                break
            if b <= start_ns:
                first_label = name
            else:
                cap.check(len(bounds) + 2)
            bounds.append(b)
            labels.append(name)
        day += 1
    return _finish(start_ns, end_ns, bounds, labels, first_label, tz_name)
