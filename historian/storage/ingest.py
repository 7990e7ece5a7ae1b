"""Turning user input (numpy, lists, pandas, polars, Arrow) into validated columns.

Everything is checked *before* anything reaches the write-ahead log, so a bad call writes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from historian.errors import InvalidDataError
from historian.model import quality as q
from historian.model.times import user_ns_array


def values_array(values: Any, n_expected: int | None = None) -> np.ndarray:
    """Values as float64; numbers and booleans only."""
    mod = type(values).__module__
    if mod.startswith("pyarrow"):
        arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if not (
            pa.types.is_floating(arr.type)
            or pa.types.is_integer(arr.type)
            or pa.types.is_boolean(arr.type)
            or pa.types.is_null(arr.type)
        ):
            raise InvalidDataError(f"values must be numbers, got Arrow type {arr.type}")
        out = np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    elif mod.startswith("polars"):
        out = values_array(values.to_arrow())
    else:
        if mod.startswith("pandas"):
            values = (
                values.to_numpy(dtype=np.float64, na_value=np.nan)
                if values.dtype.kind in "biufcO"
                else values.to_numpy()
            )
        arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
        if arr.ndim != 1:
            raise InvalidDataError(f"values must be 1-D, got shape {arr.shape}")
        if arr.dtype.kind in "fiub":
            out = arr.astype(np.float64, copy=False)
        elif arr.dtype.kind == "O":
            try:
                out = np.array(
                    [np.nan if v is None else _number(v) for v in arr.tolist()], dtype=np.float64
                )
            except (TypeError, ValueError):
                raise InvalidDataError(
                    "values must be numbers (float, int or bool; None for no value); "
                    f"got {_first_bad(arr)!r}"
                ) from None
        else:
            raise InvalidDataError(
                f"values must be numbers (float, int or bool), got dtype {arr.dtype}; "
                "convert strings with float(...) or store state codes with a state table"
            )
    if n_expected is not None and out.size != n_expected:
        raise InvalidDataError(
            f"got {n_expected} times but {out.size} values; they must have the same length"
        )
    return np.ascontiguousarray(out)


def _number(v: Any) -> float:
    if isinstance(v, str | bytes):
        raise TypeError(v)
    return float(v)


def _first_bad(arr: np.ndarray) -> Any:
    for v in arr.tolist():
        if v is not None and (
            isinstance(v, str | bytes) or not isinstance(v, int | float | np.number)
        ):
            return v
    return None


def quality_array(quality: Any, n: int) -> np.ndarray:
    """OPC UA StatusCodes as uint32; None means Good; a scalar applies to every point.

    Codes are ints or StatusCode names (``"Bad"``, ``"Bad_NoCommunication"``, ``"0x80310000"``),
    one or one per point, in any container (numpy, list, pandas, polars, Arrow).
    """
    if quality is None:
        return np.zeros(n, dtype=np.uint32)
    if isinstance(quality, int | np.integer | str | np.str_) and not isinstance(quality, bool):
        return np.full(n, _one_code(quality), dtype=np.uint32)
    mod = type(quality).__module__
    if mod.startswith("pyarrow"):
        arr_pa = quality.combine_chunks() if isinstance(quality, pa.ChunkedArray) else quality
        if pa.types.is_dictionary(arr_pa.type):
            arr_pa = arr_pa.dictionary_decode()
        if arr_pa.null_count:
            raise InvalidDataError("quality has nulls; use 0 (Good) or a StatusCode per point")
        quality = arr_pa.to_numpy(zero_copy_only=False)
    elif mod.startswith(("polars", "pandas")):
        quality = np.asarray(quality.to_numpy())
    arr = np.asarray(quality)
    if arr.ndim != 1 or arr.size != n:
        raise InvalidDataError(
            f"quality must be None, one StatusCode, or {n} StatusCodes; got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iuOUS":
        raise InvalidDataError(
            "quality must be integer OPC UA StatusCodes (uint32) or their names (such as "
            f"'Bad_NoCommunication'), got dtype {arr.dtype}"
        )
    try:
        return q.codes(arr)
    except ValueError as exc:
        raise InvalidDataError(f"quality: {exc}{_QUALITY_HINT}") from None


_QUALITY_HINT = (
    "; use an int (0 Good, 0x40000000 Uncertain, 0x80000000 Bad) or a StatusCode name such as "
    "'Good', 'Bad' or 'Bad_NoCommunication'"
)


def _one_code(value: Any) -> int:
    try:
        return q.parse(value)
    except ValueError as exc:
        raise InvalidDataError(f"quality: {exc}{_QUALITY_HINT}") from None


def mark_nonfinite(values: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """NaN/inf values become Bad (unless already Bad); the raw value is kept.

    NaN (no value) -> ``Bad``; +-inf -> ``Bad_OutOfRange``. DuckDB orders NaN above every number,
    so keeping such points Good would poison ``max()`` and ``value > x`` in SQL.
    """
    bad_now = q.bad_mask(quality)
    nan = np.isnan(values) & ~bad_now
    inf = np.isinf(values) & ~bad_now
    if nan.any() or inf.any():
        quality = quality.copy()
        quality[nan] = q.BAD
        quality[inf] = q.BAD_OUT_OF_RANGE
    return quality


def last_per_time(t: np.ndarray) -> np.ndarray | None:
    """Indices sorting ``t`` that keep the last of equal times; None if already strictly sorted."""
    if t.size < 2 or bool(np.all(t[1:] > t[:-1])):
        return None
    order = np.argsort(t, kind="stable")
    ts = t[order]
    keep = np.ones(ts.size, dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]
    return order[keep]


def table_columns(
    table: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(names, codes, times ns, values, quality, texts) from a long table: Arrow, pandas or
    polars.

    ``names`` are the distinct tags, sorted; ``codes`` index them per row. ``texts`` is None
    without a ``text`` column; with one, ``value`` may be left out (no value: NaN).
    """
    from historian.storage.points import encode_tags

    mod = type(table).__module__
    if mod.startswith("pandas"):
        if "quality" in table.columns and table["quality"].dtype.kind == "O":
            # StatusCode names, or names and ints mixed: Arrow cannot type such a column
            table = table.assign(quality=quality_array(table["quality"], len(table)))
        try:
            table = pa.Table.from_pandas(table, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidDataError(f"write_table cannot read this DataFrame: {exc}") from exc
    elif mod.startswith("polars"):
        table = table.to_arrow()
    elif isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise InvalidDataError(
            f"write_table takes a pyarrow/pandas/polars table, not {type(table).__name__}"
        )
    has_text = "text" in table.column_names
    missing = [
        c
        for c in ("tag", "time", "value")
        if c not in table.column_names and not (c == "value" and has_text)
    ]
    if missing:
        raise InvalidDataError(
            f"the table lacks column(s) {missing}; a long table needs tag, time, value[, quality] "
            f"(it has {table.column_names})"
        )
    tag_col = table.column("tag")
    value_type = tag_col.type.value_type if pa.types.is_dictionary(tag_col.type) else tag_col.type
    if not (
        pa.types.is_string(value_type)
        or pa.types.is_large_string(value_type)
        or pa.types.is_string_view(value_type)
    ):
        raise InvalidDataError(f"column 'tag' must hold strings, got {tag_col.type}")
    if tag_col.null_count:
        raise InvalidDataError("column 'tag' has nulls; every row needs a tag")
    if not pa.types.is_dictionary(tag_col.type) and not pa.types.is_string(tag_col.type):
        tag_col = tag_col.cast(pa.string())
    names, codes = encode_tags(tag_col)
    times = user_ns_array(table.column("time"))
    values = (
        values_array(table.column("value"), len(codes))
        if "value" in table.column_names
        else np.full(len(codes), np.nan)
    )
    qual = quality_array(
        table.column("quality") if "quality" in table.column_names else None, len(codes)
    )
    texts = None
    if has_text:
        from historian.model.text import text_array

        texts = text_array(table.column("text"), len(codes))
        if not np.any(texts != None):  # noqa: E711 - element-wise: no row has a text
            texts = None
    return names, codes, times, values, qual, texts
