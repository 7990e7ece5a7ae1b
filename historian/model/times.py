"""Time parsing: everything becomes int64 nanoseconds since the Unix epoch, UTC.

Accepted inputs: ISO-8601 strings (``"2026-01-01T00:00:00Z"``, offsets allowed), relative strings
(``"now"``, ``"now-1h"``, ``"now+30s"``), ``datetime`` (naive means UTC), ``date``, numpy
``datetime64``, pandas ``Timestamp``, and integers (nanoseconds; see :func:`to_ns` for the int
times that are refused because they look like epoch seconds, milliseconds or microseconds, and
:func:`seconds` / :func:`milliseconds` to pass those). Durations (``every``) accept
seconds as a number, ``timedelta``, numpy ``timedelta64`` or strings such as ``"1min"``,
``"500ms"``, ``"1h30m"``. Calendar intervals (``"1mo"``, ``"1q"``, ``"1y"``, local days) are
not durations: see :mod:`historian.model.calendar`.

Examples
--------
>>> to_ns("2026-01-01T00:00:00Z")
1767225600000000000
>>> to_ns("2026-01-01T01:00:00+01:00") == to_ns("2026-01-01")
True
>>> duration_ns("1min"), duration_ns(0.5), duration_ns("1h30m"), duration_ns("1 week")
(60000000000, 500000000, 5400000000000, 604800000000000)
"""

from __future__ import annotations

import datetime as _dt
import re
import time as _time
from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError, InvalidTimeError, InvalidWindowError

__all__ = [
    "as_time",
    "duration_ns",
    "local_time",
    "milliseconds",
    "now_ns",
    "seconds",
    "to_ns",
    "to_ns_array",
    "user_ns",
    "user_ns_array",
    "window_ns",
]

NS_PER_S = 1_000_000_000
HOUR_NS = 3600 * NS_PER_S
DAY_NS = 24 * HOUR_NS
#: The stored time range: every int64 but -2**63 (NaT in numpy and Arrow). An end time of
#: MAX_NS means "unbounded": the point at 2**63 - 1 ns is included.
MIN_NS = -(2**63) + 1
MAX_NS = 2**63 - 1
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "sec": NS_PER_S,
    "m": 60 * NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "hr": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
    "day": 86400 * NS_PER_S,
    "days": 86400 * NS_PER_S,
    "w": 7 * 86400 * NS_PER_S,
    # words, as people type them: "1 week", "2 hours", "90 seconds"
    "second": NS_PER_S,
    "seconds": NS_PER_S,
    "secs": NS_PER_S,
    "mins": 60 * NS_PER_S,
    "hrs": 3600 * NS_PER_S,
    "minute": 60 * NS_PER_S,
    "minutes": 60 * NS_PER_S,
    "hour": 3600 * NS_PER_S,
    "hours": 3600 * NS_PER_S,
    "week": 7 * 86400 * NS_PER_S,
    "weeks": 7 * 86400 * NS_PER_S,
}
_DURATION_PART = re.compile(
    r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|"
    r"hours|hour|hrs|hr|h|days|day|d|weeks|week|w)(?![a-z])\s*"
)
_CALENDAR_UNIT = re.compile(r"^\d*\s*(mo|mon|months?|q|qtr|quarters?|y|yr|years?)$", re.I)
_RELATIVE = re.compile(r"^\s*now\s*(?:([+-])\s*(.+))?$", re.IGNORECASE)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def now_ns() -> int:
    """The current UTC time in nanoseconds."""
    return _time.time_ns()


def duration_ns(value: Any) -> int:
    """A positive or zero duration in nanoseconds.

    Numbers are seconds; strings combine parts such as ``"1h30m"``, ``"500ms"``, ``"2d"``.
    """
    if isinstance(value, bool):
        raise InvalidArgumentError(
            f"duration must be seconds, a timedelta or a string, not {value!r}"
        )
    if isinstance(value, _dt.timedelta):
        ns = (value.days * 86400 + value.seconds) * NS_PER_S + value.microseconds * 1000
    elif isinstance(value, np.timedelta64):
        ns = int(value.astype("timedelta64[ns]").astype(np.int64))
    elif isinstance(value, int | float | np.integer | np.floating):
        if not np.isfinite(value):
            raise InvalidArgumentError(f"duration must be finite, got {value!r}")
        ns = (
            round(float(value) * NS_PER_S)
            if isinstance(value, float | np.floating)
            else int(value) * NS_PER_S
        )
    elif isinstance(value, str):
        ns = _parse_duration_string(value)
    elif hasattr(value, "value") and type(value).__name__ == "Timedelta":  # pandas
        ns = int(value.value)
    else:
        raise InvalidArgumentError(
            "duration must be seconds, a timedelta or a string like '1min', "
            f"not {type(value).__name__}"
        )
    if ns < 0:
        raise InvalidArgumentError(f"duration must not be negative, got {value!r}")
    return ns


def _parse_duration_string(text: str) -> int:
    pos, total, s = 0, 0.0, text.strip()
    if not s:
        raise InvalidArgumentError("empty duration string; use e.g. '1min', '10s', '500ms'")
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m and _CALENDAR_UNIT.match(s):
            raise InvalidArgumentError(
                f"{text!r} is a calendar interval with no fixed length: it is an every= of "
                "summary, interpolated, events or correlate (docs/calendar.md), not a duration"
            )
        if not m:
            raise InvalidArgumentError(
                f"cannot parse duration {text!r}; use e.g. '1min', '10s', '500ms', '1h30m', "
                "'1 week'"
            )
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    return round(total)


def _check_range(ns: int, original: Any) -> int:
    if not (-(2**63) < ns < 2**63):
        raise InvalidTimeError(
            f"time {original!r} is outside the range of int64 nanoseconds (years 1677-2262)"
        )
    return ns


def _datetime_to_ns(d: _dt.datetime) -> int:
    if d.tzinfo is None:  # naive datetimes are UTC (documented)
        d = d.replace(tzinfo=_dt.UTC)
    delta = d - _EPOCH
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


# Int times are nanoseconds. An int that reads as a date in [2000, 2100) when taken as epoch
# seconds, milliseconds or microseconds, and is not a multiple of 10**6, is almost certainly not
# nanoseconds (as ns it is a moment in January 1970): it is refused with the ways to say what it
# is. Multiples of 10**6 (0, 10**9, 3600 * 10**9, ms grids ...) stay ns: the round values tests
# and examples use. See docs/storage.md ("Times").
_EPOCH_UNITS = (
    ("seconds", 1, "historian.seconds(t)"),
    ("milliseconds", 1_000, "historian.milliseconds(t)"),
    ("microseconds", 1_000_000, ""),
)
_Y2000_S, _Y2100_S = 946_684_800, 4_102_444_800
_ROUND = 1_000_000
_NAT = np.iinfo(np.int64).min


def _epoch_unit(lo: int, hi: int) -> tuple[str, int, str] | None:
    """The unit in which every int of [lo, hi] reads as a date in [2000, 2100), if any."""
    for unit in _EPOCH_UNITS:
        if _Y2000_S * unit[1] <= lo and hi < _Y2100_S * unit[1]:
            return unit
    return None


def _refuse_epoch_unit(t: int, unit: tuple[str, int, str], one: bool) -> InvalidTimeError:
    name, scale, fix = unit
    np_unit = {1: "s", 1_000: "ms", 1_000_000: "us"}[scale]
    subject = f"time {t!r} looks" if one else f"int times such as {t!r} look"
    return InvalidTimeError(
        f"{subject} like epoch {name} ({_iso(t * (NS_PER_S // scale))}), but int times are "
        f"nanoseconds (it would be {_iso(t)}); pass {fix + ', ' if fix else ''}"
        f"np.datetime64(t, {np_unit!r}) or "
        f"t * {NS_PER_S // scale:_} - or np.datetime64(t, 'ns') if it really is nanoseconds"
    )


def local_time(t: Any, tz: str) -> Any:
    """Wall-clock times of a time zone as int64 ns (UTC): what a naive time means on site.

    historian reads a time without a zone (``"2026-03-29 02:30"``, a naive ``datetime``, a
    naive pandas timestamp) as UTC, everywhere. For local plant time, say the zone here:
    ``h.read(tag, historian.local_time("2026-01-05 08:00", "Europe/Berlin"))``. ``t`` is one
    time or a sequence of them (strings, datetimes, pandas); a time that a daylight-saving
    change makes ambiguous or skips is refused, naming it, rather than guessed.

    Examples
    --------
    >>> import historian
    >>> historian.local_time("2026-01-05 08:00", "Europe/Berlin") == to_ns("2026-01-05T07:00Z")
    True
    >>> historian.local_time(["2026-07-01 08:00"], "Europe/Berlin").tolist() == [
    ...     to_ns("2026-07-01T06:00Z")]
    True
    """
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidArgumentError(
            f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
    if isinstance(t, str | _dt.datetime) or type(t).__name__ == "Timestamp":
        return _local_one(t, zone)
    values = t.tolist() if hasattr(t, "tolist") else list(t)
    return np.array([_local_one(v, zone) for v in values], dtype=np.int64)


def _local_one(t: Any, zone: Any) -> int:
    if type(t).__name__ == "Timestamp":
        t = t.to_pydatetime()
    if isinstance(t, str):
        try:
            t = _dt.datetime.fromisoformat(t.strip())
        except ValueError:
            raise InvalidTimeError(
                f"cannot parse local time {t!r}; use e.g. '2026-01-05 08:00'"
            ) from None
    if not isinstance(t, _dt.datetime):
        raise InvalidTimeError(f"a local time is a string or a datetime, not {t!r}")
    if t.tzinfo is not None:
        raise InvalidTimeError(f"{t.isoformat()} already carries a zone; pass it as it is")
    a, b = t.replace(tzinfo=zone, fold=0), t.replace(tzinfo=zone, fold=1)
    if a.astimezone(_dt.UTC).astimezone(zone).replace(tzinfo=None) != t:
        raise InvalidTimeError(
            f"{t.isoformat()} does not exist in {zone.key} (a daylight-saving change skips it)"
        )
    if a.utcoffset() != b.utcoffset():
        raise InvalidTimeError(
            f"{t.isoformat()} in {zone.key} is ambiguous (a daylight-saving change repeats "
            "it); pass it with its UTC offset, e.g. an ISO string ending in +01:00 or +02:00"
        )
    return _datetime_to_ns(a)


def epoch_like(ns: np.ndarray) -> list[str | None]:
    """Per int time, the epoch unit it looks like (``"seconds"``, ``"milliseconds"``,
    ``"microseconds"``: the rule of :func:`user_ns`, value by value), or None.

    >>> epoch_like(np.array([1796304525, 10**9, 1796304525123]))
    ['seconds', None, 'milliseconds']
    """
    ns = np.asarray(ns, dtype=np.int64)
    out: list[str | None] = [None] * ns.size
    odd = (ns % _ROUND) != 0
    for name, scale, _fix in _EPOCH_UNITS:
        hit = odd & (ns >= _Y2000_S * scale) & (ns < _Y2100_S * scale)
        for i in np.flatnonzero(hit).tolist():
            out[i] = name
    return out


def seconds(t: Any) -> Any:
    """Epoch seconds (an int, a float or an array of them) as int64 nanoseconds.

    Examples
    --------
    >>> import historian
    >>> historian.seconds(1796304525)
    1796304525000000000
    >>> historian.seconds([1796304525, 1796304525.25]).tolist()
    [1796304525000000000, 1796304525250000000]
    """
    return _scaled(t, NS_PER_S, "seconds")


def milliseconds(t: Any) -> Any:
    """Epoch milliseconds (an int, a float or an array of them) as int64 nanoseconds.

    Examples
    --------
    >>> import historian
    >>> historian.milliseconds(1796304525123)
    1796304525123000000
    """
    return _scaled(t, 1_000_000, "milliseconds")


def _scaled(t: Any, scale: int, what: str) -> Any:
    if isinstance(t, bool):
        raise InvalidTimeError(f"epoch {what} must be numbers, not {t!r}")
    if isinstance(t, int | np.integer):
        return _check_range(int(t) * scale, t)
    if isinstance(t, float | np.floating):
        if not np.isfinite(t):
            raise InvalidTimeError(f"epoch {what} must be finite, not {t!r}")
        whole = int(np.floor(t))
        return _check_range(whole * scale + round((float(t) - whole) * scale), t)
    arr = np.asarray(t)
    if arr.dtype.kind in "iu":
        big = np.abs(arr.astype(np.float64)).max(initial=0) * scale >= 2**63
        if big:
            raise InvalidTimeError(f"epoch {what} outside years 1677-2262")
        return arr.astype(np.int64) * np.int64(scale)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidTimeError(f"epoch {what} must be finite")
        whole = np.floor(arr)
        if np.abs(whole).max(initial=0) * scale >= 2**63:
            raise InvalidTimeError(f"epoch {what} outside years 1677-2262")
        return whole.astype(np.int64) * np.int64(scale) + np.round((arr - whole) * scale).astype(
            np.int64
        )
    raise InvalidTimeError(f"epoch {what} must be numbers, not {arr.dtype}")


def user_ns(value: Any) -> int:
    """A time the user gave, as int64 ns: :func:`to_ns`, and an int that looks like epoch
    seconds, milliseconds or microseconds is refused.

    Such an int reads as a date in [2000, 2100) in that unit and is not a multiple of 10**6; as
    nanoseconds it would be a moment in January 1970. The error says how to pass it:
    ``historian.seconds(t)``, ``historian.milliseconds(t)`` or a ``numpy.datetime64`` with its
    unit (``np.datetime64(t, "ns")`` is never questioned). Every public call that takes a time
    uses this; internal code passes ``np.datetime64(t_ns, "ns")`` or calls :func:`to_ns`.

    Examples
    --------
    >>> user_ns(0), user_ns(10**9), user_ns(np.datetime64(1796304525, "s"))
    (0, 1000000000, 1796304525000000000)
    >>> user_ns(1796304525)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    historian.errors.InvalidTimeError: time 1796304525 looks like epoch seconds (2026-12-03...
    """
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        t = int(value)
        unit = _epoch_unit(t, t) if t % _ROUND else None
        if unit is not None:
            raise _refuse_epoch_unit(t, unit, True)
    return to_ns(value)


def user_ns_array(values: Any) -> np.ndarray:
    """Times the user gave, as an int64 ndarray: :func:`to_ns_array`, with the check of
    :func:`user_ns` on int times (an array that is all plausible epoch seconds, ms or us).

    >>> user_ns_array([0, 10**9]).tolist()
    [0, 1000000000]
    """
    ns = to_ns_array(values)
    # every time must fit one epoch unit: if the first does not, no unit fits (and no pass over
    # the array is needed for min and max)
    if ns.size and _int_typed(values) and _epoch_unit(int(ns[0]), int(ns[0])) is not None:
        unit = _epoch_unit(int(ns.min()), int(ns.max()))
        if unit is not None:
            off = np.flatnonzero(ns % _ROUND)
            if off.size:
                raise _refuse_epoch_unit(int(ns[off[0]]), unit, False)
    return ns


def _int_typed(values: Any) -> bool:
    """True when ``values`` hold integers (not datetimes that became ints)."""
    dtype = getattr(values, "dtype", None)
    if dtype is not None:
        kind = getattr(dtype, "kind", None)
        if kind is not None:  # numpy / pandas
            return kind in "iu"
        return "int" in str(dtype).lower() and "date" not in str(dtype).lower()  # polars
    ty = getattr(values, "type", None)
    if ty is not None and type(values).__module__.startswith("pyarrow"):
        import pyarrow as pa

        return bool(pa.types.is_integer(ty))
    if isinstance(values, list | tuple):
        return any(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values)
    return False


def as_time(t_ns: int | None) -> np.datetime64 | None:
    """An int64 ns time computed inside historian, wrapped so that a public call takes it as is.

    >>> str(as_time(3_600_000_000_010))
    '1970-01-01T01:00:00.000000010'
    """
    return None if t_ns is None else np.datetime64(int(t_ns), "ns")


def to_ns(value: Any) -> int:
    """One time as int64 nanoseconds since the epoch (UTC); an int is nanoseconds.

    Raises :class:`~historian.errors.InvalidTimeError` naming the accepted forms. Public calls
    use :func:`user_ns`, which also refuses ints that look like epoch seconds.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidTimeError(
            f"time must be a string, datetime, datetime64 or int ns, not {value!r}"
        )
    if isinstance(value, int | np.integer):
        return _check_range(int(value), value)
    if isinstance(value, float | np.floating):
        raise InvalidTimeError(
            f"time {value!r} is a float; pass int nanoseconds, a datetime or an ISO string"
            " (epoch seconds: historian.seconds(t))"
        )
    if hasattr(value, "value") and type(value).__name__ == "Timestamp":  # pandas, without import
        if value.tzinfo is None:
            return int(value.value)
        return int(value.tz_convert("UTC").value)
    if isinstance(value, _dt.datetime):
        return _check_range(_datetime_to_ns(value), value)
    if isinstance(value, _dt.date):
        return _datetime_to_ns(_dt.datetime(value.year, value.month, value.day))
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InvalidTimeError("time is NaT (not a time)")
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, str):
        return _parse_time_string(value)
    raise InvalidTimeError(
        f"cannot use {type(value).__name__} as a time; pass an ISO string, datetime, "
        "numpy datetime64, pandas Timestamp or int nanoseconds"
    )


def window_ns(start: Any, end: Any, *, empty: bool = False) -> tuple[int, int]:
    """A window ``[start, end)`` as int64 ns: the one rule of every call that takes a window.

    An end before the start is refused with :class:`~historian.errors.InvalidWindowError`
    naming both times (the arguments were probably swapped), never read as an empty window.
    ``start == end`` is an empty window: allowed where ``empty`` (``read`` returns no rows),
    refused where an interval is needed (summary, interpolated, plot, correlate, events).

    >>> window_ns("2026-01-01", "2026-01-02")
    (1767225600000000000, 1767312000000000000)
    >>> window_ns("2026-01-02", "2026-01-01")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    historian.errors.InvalidWindowError: end '2026-01-01' (2026-01-01T00:00:00Z) must be ...
    """
    start_ns, end_ns = user_ns(start), user_ns(end)
    if end_ns < start_ns or (end_ns == start_ns and not empty):
        raise InvalidWindowError(
            f"end {end!r} ({_iso(end_ns)}) must be after start {start!r} ({_iso(start_ns)})"
            + ("; swap them (a window is [start, end))" if end_ns < start_ns else
               "; the window [start, end) is empty")
        )  # fmt: skip
    return start_ns, end_ns


def _iso(ns: int) -> str:
    text = str(np.datetime64(int(ns), "ns"))
    text = re.sub(r"\.?0+$", "", text) if "." in text else text
    return text + "Z"


def _parse_time_string(text: str) -> int:
    m = _RELATIVE.match(text)
    if m:
        base = now_ns()
        if m.group(1) is None:
            return base
        try:
            offset = duration_ns(m.group(2))
        except InvalidArgumentError as exc:
            raise InvalidTimeError(f"cannot parse relative time {text!r}: {exc}") from None
        return base + offset if m.group(1) == "+" else base - offset
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    fraction = re.search(r"\.(\d+)", s)
    if fraction is None or len(fraction.group(1)) <= 6:  # datetime keeps µs; numpy below keeps ns
        try:
            parsed = _dt.datetime.fromisoformat(s)
        except ValueError:
            parsed = None
        if parsed is not None:
            return _check_range(_datetime_to_ns(parsed), text)
    # Sub-microsecond precision or forms datetime does not take: numpy parses ns.
    try:
        body, offset_ns = _split_offset(s)
        if (
            not np.datetime64("1677-09-22")
            <= np.datetime64(body, "D")
            <= np.datetime64("2262-04-10")
        ):
            raise OverflowError
        ns = int(np.datetime64(body, "ns").astype(np.int64)) - offset_ns
    except OverflowError:
        raise InvalidTimeError(f"time {text!r} is outside years 1677-2262") from None
    except ValueError:
        raise InvalidTimeError(
            f"cannot parse time {text!r}; use ISO 8601 such as '2026-01-31T12:00:00Z', "
            "or a relative time such as 'now-1h'"
        ) from None
    return _check_range(ns, text)


def _split_offset(s: str) -> tuple[str, int]:
    m = re.search(r"([+-])(\d\d):?(\d\d)$", s)
    if m and "T" in s:
        sign = 1 if m.group(1) == "+" else -1
        return s[: m.start()], sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60) * NS_PER_S
    return s, 0


def to_ns_array(values: Any) -> np.ndarray:
    """Many times as an int64 ndarray of nanoseconds (UTC).

    Accepts numpy int/datetime64 arrays, pandas Series/DatetimeIndex, pyarrow arrays, and lists of
    anything :func:`to_ns` accepts.

    >>> to_ns_array(["2026-01-01", "2026-01-01T00:00:01Z"]).tolist()
    [1767225600000000000, 1767225601000000000]
    """
    mod = type(values).__module__
    if mod.startswith("pyarrow"):
        done = _arrow_ns(values)
        if isinstance(done, np.ndarray):
            return done
        values = done
    elif mod.startswith("polars"):
        values = values.to_numpy()
    elif mod.startswith("pandas"):
        return _pandas_ns(values)
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.ndim != 1:
        if arr.ndim == 0:
            raise InvalidTimeError("times must be a 1-D sequence, got a scalar")
        raise InvalidTimeError(f"times must be 1-D, got shape {arr.shape}")
    return _numpy_ns(arr)


def _arrow_ns(values: Any) -> np.ndarray | list[Any]:
    """A pyarrow array of times or integers as int64 ns; other types as a list to parse."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_timestamp(arr.type):
        arr = pc.cast(arr, pa.timestamp("ns", arr.type.tz), safe=True)
        if arr.null_count:
            raise InvalidTimeError("time column contains nulls")
        return np.asarray(arr.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    if pa.types.is_integer(arr.type):
        if arr.null_count:
            raise InvalidTimeError("time column contains nulls")
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)
    return list(arr.to_pylist())


def _pandas_ns(values: Any) -> np.ndarray:
    import pandas as pd

    idx = pd.DatetimeIndex(values) if not isinstance(values, pd.DatetimeIndex) else values
    if idx.hasnans:
        raise InvalidTimeError("times contain NaT (not a time)")
    if idx.unit != "ns":
        idx = idx.as_unit("ns")
    out: np.ndarray = idx.asi8  # int64 ns since the epoch, UTC for tz-aware too: a view, no copy
    return out


def _numpy_ns(arr: np.ndarray) -> np.ndarray:
    """A 1-D numpy array of times (datetime64, ints, or objects to parse) as int64 ns."""
    if arr.dtype.kind == "M":
        if arr.size and arr.view(np.int64).min() == _NAT:  # NaT is int64's minimum
            raise InvalidTimeError("times contain NaT (not a time)")
        if arr.dtype == np.dtype("datetime64[ns]"):
            return arr.view(np.int64)  # a view, not a copy (contiguous or strided alike)
        try:
            return arr.astype("datetime64[ns]").view(np.int64)
        except OverflowError:
            raise InvalidTimeError("a time is outside years 1677-2262") from None
    if arr.dtype.kind in "iu":
        if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise InvalidTimeError("a time exceeds int64 nanoseconds")
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        raise InvalidTimeError(
            "times are floats; pass int nanoseconds, datetime64 or ISO strings (epoch seconds: "
            "historian.seconds(t))"
        )
    if arr.dtype.kind == "b":
        raise InvalidTimeError(
            "times are booleans; pass int nanoseconds, datetime64 or ISO strings"
        )
    return np.fromiter((to_ns(v) for v in arr.tolist()), dtype=np.int64, count=len(arr))
