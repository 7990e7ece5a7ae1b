"""Checking rows: tag names, times, values and qualities, each bad row rejected with its reason.

:func:`check_batch` splits a batch of the source into the rows to write (a ``points`` table)
and the rejected rows (with the raw cells, a short reason such as ``"unparseable time"`` and a
detail that says how to fix it). Tag names are checked once per distinct name; unknown tags are
defined (``define=True``) or rejected.

Examples
--------
>>> from historian.importing.rows import quality_code
>>> quality_code("Bad_NoCommunication") == 0x80310000, quality_code("0x40000000"), quality_code("x")
(True, 1073741824, None)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from historian.errors import HistorianError
from historian.model import quality as q
from historian.model.schema import TIME_TYPE
from historian.model.tags import validate_tag_name
from historian.model.times import epoch_like, to_ns

__all__ = ["REJECTED_SCHEMA", "check_batch", "quality_code"]

_Why = dict[int, tuple[str, str]]  # row -> (reason, detail)

_UINT32_MAX = 2**32 - 1
_CELL_SHOWN = 200  # characters of a rejected cell kept in the report
REJECTED_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("tag", pa.string()),
        ("time", pa.string()),
        ("value", pa.string()),
        ("quality", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)


class _Verdicts:
    """The first reason (and its detail) each row of a batch is rejected for."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.detail = np.full(n, None, dtype=object)

    def reject(self, mask: np.ndarray, why: str, what: Any) -> None:
        """Reject the rows of ``mask`` not rejected yet; ``what``: the detail, or row -> detail."""
        free = mask & (self.reason == None)  # noqa: E711 - elementwise on an object array
        if free.any():
            self.reason[free] = why
            for i in np.flatnonzero(free).tolist():
                self.detail[i] = what(i) if callable(what) else what

    def reject_rows(self, why: _Why) -> None:
        """Reject each row of ``why`` not rejected yet, with its (reason, detail)."""
        for i, verdict in why.items():
            if self.reason[i] is None:
                self.reason[i], self.detail[i] = verdict

    def bad(self) -> np.ndarray:
        return self.reason != None  # noqa: E711


def check_batch(
    batch: pa.RecordBatch,
    row0: int,
    h: Any,
    known: set[str],
    name_errors: dict[str, str],
    define: bool,
    defined: list[str],
    *,
    columns: tuple[str, str, str, str | None],
) -> tuple[pa.Table | None, pa.Table | None]:
    """``(rows to write, rejected rows)`` of ``batch`` (either None when empty).

    ``row0`` is the row number of the batch's first row; ``known`` (the store's tags) and
    ``name_errors`` (invalid names seen) are updated; with ``define`` unknown valid tags are
    defined in ``h`` and appended to ``defined``. ``columns``: the tag, time, value and quality
    column names (quality None or absent: all Good).
    """
    tag_c, time_c, value_c, quality_c = columns
    verdicts = _Verdicts(batch.num_rows)
    tags = _check_tags(batch.column(batch.schema.get_field_index(tag_c)), h, known, name_errors,
                       define, defined, verdicts)  # fmt: skip
    t_ns, v, qual = _parse_columns(batch, time_c, value_c, quality_c, verdicts)
    bad = verdicts.bad()
    good_idx = np.flatnonzero(~bad)
    good = None
    if good_idx.size:
        take = pa.array(good_idx)
        good = pa.table(
            {
                "tag": tags.take(take),
                "time": pa.array(t_ns[good_idx], pa.int64()).cast(TIME_TYPE),
                "value": pa.array(v[good_idx], pa.float64()),
                "quality": pa.array(qual[good_idx], pa.uint32()),
            }
        )
    rejected = _rejected(batch, row0, np.flatnonzero(bad), columns, verdicts) if bad.any() else None
    return good, rejected


def _check_tags(
    tags: pa.Array,
    h: Any,
    known: set[str],
    name_errors: dict[str, str],
    define: bool,
    defined: list[str],
    verdicts: _Verdicts,
) -> pa.Array:
    """The trimmed tag names as text; each distinct name is checked (and defined) once."""
    if not (pa.types.is_string(tags.type) or pa.types.is_large_string(tags.type)):
        tags = (
            tags.cast(pa.string())
            if not pa.types.is_dictionary(tags.type)
            else tags.dictionary_decode().cast(pa.string())
        )
    tags = pc.utf8_trim_whitespace(tags)
    enc = pc.dictionary_encode(tags)
    names = enc.dictionary.to_pylist()
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    verdicts.reject(idx == -1, "empty tag", "the row has no tag name")
    for k, name in enumerate(names):
        if name == "":
            verdicts.reject(idx == k, "empty tag", "the row has no tag name")
            continue
        if name not in known and name not in name_errors:
            try:
                validate_tag_name(name)
            except HistorianError as exc:
                name_errors[name] = str(exc)
            else:
                if define:
                    h.define(name)
                    known.add(name)
                    defined.append(name)
        if name in name_errors:
            verdicts.reject(idx == k, "invalid tag name", name_errors[name])
        elif name not in known:
            verdicts.reject(idx == k, "unknown tag",
                            f"tag {name!r} is not defined: define it with h.define({name!r}, "
                            "unit=...) or import with define=True")  # fmt: skip
    return tags


def _parse_columns(
    batch: pa.RecordBatch,
    time_c: str,
    value_c: str,
    quality_c: str | None,
    verdicts: _Verdicts,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_ns, values, quality)`` of the batch; the rows that do not parse are rejected."""
    t_ns, t_why = _parse_times(batch.column(batch.schema.get_field_index(time_c)))
    verdicts.reject_rows(t_why)
    v, v_why = _parse_values(batch.column(batch.schema.get_field_index(value_c)))
    if not v.flags.writeable:
        v = v.copy()
    if quality_c is not None and quality_c in batch.schema.names:
        qual, q_why = _parse_quality(batch.column(batch.schema.get_field_index(quality_c)))
    else:
        qual, q_why = np.zeros(batch.num_rows, np.uint32), {}
    verdicts.reject_rows(q_why)
    for i, why in v_why.items():
        if why[0] == "empty value" and i not in q_why and qual[i] & q.BAD:
            v[i] = np.nan  # a Bad point without a value (e.g. Bad_NoCommunication) is history too
            continue
        verdicts.reject_rows({i: why})
    return t_ns, v, qual


def _rejected(
    batch: pa.RecordBatch,
    row0: int,
    bad_idx: np.ndarray,
    columns: tuple[str, str, str, str | None],
    verdicts: _Verdicts,
) -> pa.Table:
    """The rejected rows: row number, the raw cells (cut short), reason and detail."""
    take = pa.array(bad_idx)

    def raw(col: str | None) -> pa.Array:
        if col is None or col not in batch.schema.names:
            return pa.nulls(bad_idx.size, pa.string())
        arr = batch.column(batch.schema.get_field_index(col)).take(take)
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        return pc.utf8_slice_codeunits(arr.cast(pa.string()), 0, _CELL_SHOWN)

    return pa.table(
        [
            pa.array(bad_idx + row0, pa.int64()),
            *(raw(c) for c in columns),
            pa.array(verdicts.reason[bad_idx].tolist(), pa.string()),
            pa.array(
                [
                    d if len(d) <= 2 * _CELL_SHOWN else d[: 2 * _CELL_SHOWN] + "..."
                    for d in verdicts.detail[bad_idx].tolist()
                ],
                pa.string(),
            ),
        ],
        schema=REJECTED_SCHEMA,
    )


def _is_text(arr: pa.Array) -> bool:
    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def _parse_times(arr: pa.Array) -> tuple[np.ndarray, _Why]:
    """int64 ns per row and {row: (reason, detail)} for the rows that are not times."""
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        if pa.types.is_date(arr.type):
            arr = arr.cast(pa.timestamp("s"))
        ns = pc.cast(arr, pa.timestamp("ns", arr.type.tz)).cast(pa.int64())
        return _with_nulls(ns, "time")
    if pa.types.is_integer(arr.type):
        return _epoch_rows(*_with_nulls(arr.cast(pa.int64()), "time"))
    if pa.types.is_floating(arr.type):
        floats = ("unparseable time", "time is a float; use int nanoseconds or ISO 8601 text")
        return np.zeros(n, np.int64), dict.fromkeys(range(n), floats)
    if _is_text(arr):
        text = pc.utf8_trim_whitespace(arr)
        # with a zone / without one (= UTC) / int nanoseconds
        for ty in (TIME_TYPE, pa.timestamp("ns"), pa.int64()):
            try:
                got = _with_nulls(pc.cast(text, ty).cast(pa.int64()), "time")
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            return _epoch_rows(*got) if ty == pa.int64() else got
        values = text.to_pylist()
    else:
        values = arr.to_pylist()
    out = np.zeros(n, np.int64)
    why: _Why = {}
    for i, s in enumerate(values):
        if s is None or s == "":
            why[i] = ("empty time", "the row has no time")
            continue
        try:
            out[i] = int(s) if isinstance(s, str) and s.lstrip("-").isdigit() else to_ns(s)
        except (HistorianError, ValueError, TypeError, OverflowError):
            why[i] = (
                "unparseable time",
                f"time {str(s)[:60]!r} is not a time; use ISO 8601 such as "
                "'2026-01-31T12:00:00Z' (no zone means UTC) or int nanoseconds",
            )
    return out, why


def _epoch_rows(ns: np.ndarray, why: _Why) -> tuple[np.ndarray, _Why]:
    """Reject int times that look like epoch seconds/ms/us (historian.model.times.user_ns)."""
    for i, unit in enumerate(epoch_like(ns)):
        if unit is not None and i not in why:
            why[i] = ("unparseable time",
                      f"time {int(ns[i])} looks like epoch {unit}, but int times are "
                      "nanoseconds; write ISO 8601 (such as '2026-01-31T12:00:00Z') or "
                      "nanoseconds")  # fmt: skip
    return ns, why


def _with_nulls(ns: pa.Array, what: str) -> tuple[np.ndarray, _Why]:
    why: _Why = {}
    if ns.null_count:
        nulls = np.flatnonzero(ns.is_null().to_numpy(zero_copy_only=False))
        why = dict.fromkeys(nulls.tolist(), (f"empty {what}", f"the row has no {what}"))
        ns = ns.fill_null(0)
    return np.asarray(ns.to_numpy(zero_copy_only=False), dtype=np.int64), why


def _parse_values(arr: pa.Array) -> tuple[np.ndarray, _Why]:
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if (
        pa.types.is_boolean(arr.type)
        or pa.types.is_integer(arr.type)
        or pa.types.is_floating(arr.type)
        or pa.types.is_decimal(arr.type)
        or pa.types.is_null(arr.type)
    ):
        v = arr.cast(pa.float64())
        why: _Why = {}
        if v.null_count:
            nulls = np.flatnonzero(v.is_null().to_numpy(zero_copy_only=False))
            why = dict.fromkeys(nulls.tolist(), _EMPTY_VALUE)
            v = v.fill_null(np.nan)
        return np.asarray(v.to_numpy(zero_copy_only=False), dtype=np.float64), why
    if _is_text(arr):
        text = pc.utf8_trim_whitespace(arr)
        try:
            v = pc.cast(text, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return np.asarray(v.fill_null(np.nan).to_numpy(zero_copy_only=False), np.float64), {
                i: _EMPTY_VALUE
                for i in np.flatnonzero(v.is_null().to_numpy(zero_copy_only=False)).tolist()
            }
        values = text.to_pylist()
    else:
        values = arr.to_pylist()
    out = np.zeros(n, np.float64)
    why = {}
    for i, s in enumerate(values):
        if s is None or s == "":
            why[i] = _EMPTY_VALUE
            out[i] = np.nan
            continue
        try:
            if isinstance(s, bytes):
                raise TypeError(s)
            out[i] = float(s)
        except (TypeError, ValueError):
            why[i] = (
                "non-numeric value",
                f"value {str(s)[:40]!r} is not a number; fix the cell, or give the row a Bad "
                "quality if it has no value",
            )
    return out, why


_EMPTY_VALUE = (
    "empty value",
    "the row has no value; a row without a value needs a Bad quality (e.g. Bad_NoCommunication)",
)


def _parse_quality(arr: pa.Array) -> tuple[np.ndarray, _Why]:
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_integer(arr.type) and not arr.null_count:
        a = np.asarray(arr.to_numpy(zero_copy_only=False))
        if a.size == 0 or (a.min() >= 0 and a.max() <= _UINT32_MAX):
            return a.astype(np.uint32), {}
    out = np.zeros(n, np.uint32)
    why: _Why = {}
    cache: dict[Any, int | None] = {}
    for i, s in enumerate(arr.to_pylist()):
        if s is None or (isinstance(s, str) and not s.strip()):
            continue  # an empty quality is Good
        code = cache.get(s, -1)
        if code == -1:
            code = cache[s] = quality_code(s)
        if code is None:
            why[i] = (
                "invalid quality",
                f"quality {str(s)[:40]!r} is not an OPC UA StatusCode; use an integer "
                "(0 = Good, 0x40000000 Uncertain, 0x80000000 Bad) or a name such as "
                "'Good' or 'Bad_NoCommunication'",
            )
        else:
            out[i] = code
    return out, why


def quality_code(s: Any) -> int | None:
    """The StatusCode of a quality cell (an integer, hex text or a name), None if not one."""
    if isinstance(s, bool):
        return None
    if isinstance(s, int | float):
        return int(s) if float(s).is_integer() and 0 <= s <= _UINT32_MAX else None
    if not isinstance(s, str):
        return None
    text = s.strip()
    try:
        c = int(text, 0)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            try:
                return q.code(text)
            except KeyError:
                return None
        return int(f) if f.is_integer() and 0 <= f <= _UINT32_MAX else None
    return c if 0 <= c <= _UINT32_MAX else None
