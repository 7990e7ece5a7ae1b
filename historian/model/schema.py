"""Arrow schemas of the public results."""

from __future__ import annotations

import pyarrow as pa

TIME_TYPE = pa.timestamp("ns", tz="UTC")

#: Raw points as returned by ``Historian.read``: sorted by (tag, time).
POINTS_SCHEMA = pa.schema(
    [
        pa.field("tag", pa.string(), nullable=False),
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("value", pa.float64()),
        pa.field("quality", pa.uint32(), nullable=False),
    ]
)

#: Summaries (``Historian.summary``, ``historian.summarize``): one row per (tag, interval, stat).
SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("tag", pa.string(), nullable=False),
        pa.field("start", TIME_TYPE, nullable=False),
        pa.field("stat", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("time", TIME_TYPE),
        pa.field("status", pa.uint32(), nullable=False),
    ]
)
