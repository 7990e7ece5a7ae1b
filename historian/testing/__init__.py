"""Tools for testing historian and what is built on it.

- :mod:`historian.testing.hooks`: act as a killed process, count flush tries, look at the
  commit log (fault-injection tests never reach into private attributes); re-exported here;
- :mod:`historian.testing.conformance`: :class:`~historian.testing.conformance.StoreTests`,
  the suite every store passes (run on a local folder and on S3 by
  ``tests/storage/test_conformance.py``; subclass it to check a new backend);
- :mod:`historian.testing.strategies`: hypothesis strategies for tag names, times and points;
- :mod:`historian.testing.moto`: a moto S3 server on 127.0.0.1 for tests (``moto_s3()``).

The last three need the ``test`` extra (pytest, hypothesis, moto) and are imported only
when used.

Examples
--------
>>> import historian, tempfile
>>> from historian import testing
>>> h = historian.open(tempfile.mkdtemp())
>>> _ = h.define("A"); _ = h.write("A", [0], [1.0])
>>> testing.memory_points(h)
1
>>> h.close()
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
