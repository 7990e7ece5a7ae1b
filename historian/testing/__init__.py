"""Tools for testing historian and what is built on it.

- :mod:`historian.testing.hooks`: act as a killed process, count flush tries, look at the
  commit log (fault-injection tests never reach into private attributes);
"""

from __future__ import annotations

from historian.testing.hooks import (
    become_writer,
    catalog,
    catalog_due,
    commit_log,
    count_flush_tries,
    crash,
    engine,
    is_closed,
    memory_points,
    pause_lease,
    store_fs,
    wal_segment_id,
    writer_lock,
)

__all__ = [
    "become_writer",
    "catalog",
    "catalog_due",
    "commit_log",
    "count_flush_tries",
    "crash",
    "engine",
    "is_closed",
    "memory_points",
    "pause_lease",
    "store_fs",
    "wal_segment_id",
    "writer_lock",
]
