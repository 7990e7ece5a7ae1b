"""numpy to Arrow and back without importing pandas.

pyarrow imports pandas (~0.3 s) the first time ``pa.array()``, ``Array.to_numpy()`` or
``pa.table(<stream>)`` runs, even on numpy input: its pandas shim looks for pandas objects first.
These drop-ins build fixed-width arrays and strings from buffers instead (zero-copy where the
dtype already matches) and fall back to pyarrow for anything else, so pandas is imported only
when pandas objects are passed.

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> a = array(np.array([1.0, np.nan, 3.0]), pa.float64(), mask=np.array([False, True, False]))
>>> a.to_pylist(), a.null_count
([1.0, None, 3.0], 1)
>>> to_numpy(array(np.arange(3), pa.int64())).tolist()
[0, 1, 2]
>>> array(["TIC-101.PV", "FIC-104.PV"], pa.string()).to_pylist()
['TIC-101.PV', 'FIC-104.PV']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["array", "table", "to_numpy"]


def _numpy_dtype(type_: pa.DataType) -> np.dtype | None:
    """The numpy dtype of a fixed-width Arrow type's values buffer (None: not fixed-width)."""
    t = pa.types
    if t.is_boolean(type_) or t.is_dictionary(type_) or t.is_decimal(type_):
        return None
    if t.is_integer(type_):
        return np.dtype(f"{'u' if t.is_unsigned_integer(type_) else 'i'}{type_.bit_width // 8}")
    if t.is_floating(type_):
        return np.dtype(f"f{type_.bit_width // 8}")
    if t.is_timestamp(type_) or t.is_duration(type_) or t.is_date64(type_):
        return np.dtype(np.int64)
    if t.is_date32(type_):
        return np.dtype(np.int32)
    return None


def _validity(mask: Any, n: int) -> tuple[pa.Buffer | None, int]:
    if mask is None:
        return None, 0
    m = np.asarray(mask, dtype=bool)
    if m.shape != (n,):
        raise ValueError(f"mask has shape {m.shape}, values have {n} entries")
    nulls = int(np.count_nonzero(m))
    return (pa.py_buffer(np.packbits(~m, bitorder="little")) if nulls else None), nulls


def array(values: Any, type: pa.DataType | None = None, mask: Any = None) -> pa.Array:
    """``pa.array(values, type, mask=mask)`` without the pandas import.

    Fast for numpy arrays whose dtype is the Arrow type's (no copy) and for sequences of str
    with ``type=pa.string()``; anything else goes to ``pa.array``.
    """
    if type is not None and isinstance(values, np.ndarray) and values.ndim == 1:
        dtype = _numpy_dtype(type)
        if dtype is not None and values.dtype == dtype:
            a = np.ascontiguousarray(values)
            validity, nulls = _validity(mask, a.size)
            return pa.Array.from_buffers(
                type, a.size, [validity, pa.py_buffer(a)], null_count=nulls
            )
    if type is not None and pa.types.is_string(type) and mask is None:
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        if all(isinstance(s, str) for s in items):
            encoded = [s.encode() for s in items]
            offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum([len(b) for b in encoded], out=offsets[1:])
            if offsets[-1] < 2**31:
                return pa.Array.from_buffers(
                    type,
                    len(encoded),
                    [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))],
                )
    return pa.array(values, type, mask=mask)


def to_numpy(arr: pa.Array | pa.ChunkedArray, fill: Any = None) -> np.ndarray:
    """``arr.to_numpy(zero_copy_only=False)`` without the pandas import.

    A read-only view of the values for fixed-width arrays without nulls (timestamps as
    datetime64 of their unit, as pyarrow gives them), numbers with nulls as floats with NaN
    there (as pyarrow); anything else goes to pyarrow. With ``fill``, nulls take that value and
    the dtype stays the type's (``arr.fill_null(fill).to_numpy()``, whose scalar also imports
    pandas).
    """
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            arr = arr.chunk(0)
        elif arr.num_chunks == 0 or _numpy_dtype(arr.type) is None:
            out: np.ndarray = arr.to_numpy() if fill is None else arr.fill_null(fill).to_numpy()
            return out
        else:  # a new, writeable array (as pyarrow)
            return np.concatenate([to_numpy(c, fill) for c in arr.chunks])
    dtype = _numpy_dtype(arr.type)
    t = pa.types
    if dtype is None or (
        arr.null_count
        and not (t.is_integer(arr.type) or t.is_floating(arr.type) or fill is not None)
    ):
        whole: np.ndarray = arr.to_numpy(zero_copy_only=False)
        return whole
    buf = arr.buffers()[1]
    if buf is None:  # an empty array may have no values buffer
        values = np.empty(0, dtype=dtype)
    else:
        values = np.frombuffer(buf, dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)
        values.flags.writeable = False  # Arrow memory is immutable (as pyarrow's views)
    if arr.null_count:  # as pyarrow: floats with NaN where null (integers as float64)
        bits = np.unpackbits(
            np.frombuffer(arr.buffers()[0], dtype=np.uint8),
            count=arr.offset + len(arr),
            bitorder="little",
        )
        if fill is not None:
            out = values.copy()
            out[bits[arr.offset :] == 0] = fill
            values = out
        else:
            out = values.astype(values.dtype if t.is_floating(arr.type) else np.float64)
            out[bits[arr.offset :] == 0] = np.nan
            return out
    if t.is_timestamp(arr.type):  # as pyarrow: datetime64 / timedelta64 of the type's unit
        return values.view(f"datetime64[{arr.type.unit}]")
    if t.is_duration(arr.type):
        return values.view(f"timedelta64[{arr.type.unit}]")
    if t.is_date32(arr.type):
        return values.view("datetime64[D]")
    if t.is_date64(arr.type):
        return values.view("datetime64[ms]")
    return values


def table(data: Any) -> pa.Table:
    """``pa.table(data)`` for objects with an Arrow C stream (e.g. deltalake's arro3 tables)
    without the pandas import (``pa.table`` checks for a DataFrame first)."""
    if hasattr(data, "__arrow_c_stream__") and not isinstance(data, pa.Table):
        return pa.RecordBatchReader.from_stream(data).read_all()
    return pa.table(data)
