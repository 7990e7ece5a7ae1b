"""The data file format in one place: column schema, value encoding and decoding, time units.

Every reader of the store's Parquet files (historian's own reader, the SQL views, the docs'
snippets for other engines) decodes a row's value the same way, so the rule lives here:

- ``value_int`` not null: the value is ``value_int / 10**decimals`` (exact: the writer checked
  that ``round(v * 10**d) / 10**d == v`` bit for bit);
- else ``value`` (a double; null = no value).

Times are stored in the coarsest unit (ms, then µs, then ns) that holds every time of the file
exactly; a store whose points are all whole milliseconds has ms in every file. See
``docs/format.md`` for the whole layout and how another engine reads it fast.

>>> import numpy as np
>>> as_int, dec, ok = scale_values(np.array([1.5, 2.25, float("nan")]), np.array([0, 3]))
>>> decode_values(np.array([1.5, 2.25, np.nan]), as_int.astype(float), dec, ok).tolist()[:2]
[1.5, 2.25]
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa

#: Format of the historian index in a file's key-value metadata. 1: day files, the index stored
#: twice (raw and inside ``ARROW:schema``); 2: files cut by size, the index stored once, with
#: ``dups`` (whether the file holds a repeated (tag, time)).
FORMAT_VERSION = 2
INDEX_KEY = b"historian.index"
INDEX_SHA_KEY = b"historian.index.sha256"  # hex SHA-256 of the exact bytes of INDEX_KEY's value
UNIT_NS = {"ms": 1_000_000, "us": 1_000, "ns": 1}
POW10 = 10.0 ** np.arange(0, 10)
MAX_DECIMALS = 6
_EXACT_INT_LIMIT = float(2**53)

#: The columns of a data file as historian writes them (``time``'s unit varies per file).
FILE_SCHEMA = pa.schema(
    [
        ("tag", pa.string()),
        ("time", pa.timestamp("ns", tz="UTC")),
        ("value", pa.float64()),
        ("value_int", pa.int64()),
        ("decimals", pa.int8()),
        ("quality", pa.int64()),
        ("reasons", pa.int32()),
        ("ingested", pa.timestamp("us", tz="UTC")),
    ]
)

#: The Delta table schema (partition column ``day`` lives in the path, not in the file: the UTC
#: day of the file's first point; a file may hold later days too, so never filter on ``day``).
TABLE_SCHEMA = pa.schema(
    [
        *[
            f.with_type(pa.timestamp("us", tz="UTC")) if f.name == "time" else f
            for f in FILE_SCHEMA
        ],
        ("day", pa.date32()),
    ]
)
PARTITION_COLUMNS = ["day"]

#: The value of a row in SQL (DuckDB, Spark): exact, see the module docstring.
VALUE_SQL = "coalesce(value, value_int::DOUBLE / pow(10, decimals))"


def time_unit(t_ns: np.ndarray) -> str:
    """The coarsest unit that holds every time exactly.

    >>> time_unit(np.array([0, 1_000_000])), time_unit(np.array([1_000])), time_unit(np.array([1]))
    ('ms', 'us', 'ns')
    """
    if t_ns.size == 0 or not np.any(t_ns % 1_000_000):
        return "ms"
    if not np.any(t_ns % 1_000):
        return "us"
    return "ns"


def scale_values(
    value: np.ndarray, run_bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split values into (value_int, decimals, int_valid) per run ``[b[i], b[i+1])``.

    Per run (one tag), the smallest number of decimals d <= 6 such that
    ``round(v*10**d)/10**d == v`` exactly for every finite value; rows that do not round-trip
    (NaN, inf, -0.0) stay float (``int_valid`` False).

    >>> as_int, dec, ok = scale_values(np.array([0.5, 1.25]), np.array([0, 2]))
    >>> as_int.tolist(), dec.tolist(), ok.tolist()
    ([50, 125], [2, 2], [True, True])
    """
    n = value.size
    as_int = np.zeros(n, dtype=np.int64)
    decimals = np.zeros(n, dtype=np.int8)
    int_valid = np.zeros(n, dtype=bool)
    for lo, hi in itertools.pairwise(run_bounds):
        v = value[lo:hi]
        ok = np.isfinite(v) & ~((v == 0) & np.signbit(v))
        vv = v[ok]
        if vv.size == 0:
            continue
        biggest = float(np.max(np.abs(vv)))
        for d in range(MAX_DECIMALS + 1):
            if biggest * POW10[d] >= _EXACT_INT_LIMIT:
                break
            scaled = np.round(vv * POW10[d])
            if np.array_equal(scaled / POW10[d], vv):
                idx = np.flatnonzero(ok) + lo
                as_int[idx] = scaled.astype(np.int64)
                decimals[lo:hi] = d
                int_valid[idx] = True
                break
    return as_int, decimals, int_valid


def decode_values(
    value: np.ndarray, value_int: np.ndarray, decimals: np.ndarray | int, int_valid: np.ndarray
) -> np.ndarray:
    """The values of rows: ``value_int / 10**decimals`` where ``int_valid``, else ``value``.

    >>> decode_values(np.array([np.nan, 2.5]), np.array([15.0, 0.0]), 1,
    ...               np.array([True, False])).tolist()
    [1.5, 2.5]
    """
    scaled = np.asarray(value_int, dtype=np.float64) / POW10[np.asarray(decimals, dtype=np.int64)]
    return np.where(int_valid, scaled, value)
