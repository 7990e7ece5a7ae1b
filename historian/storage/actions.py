"""The Delta actions of one commit of data files, and the file hashes the chain keeps.

:func:`add_action` turns a written file (:class:`~historian.storage.files.WrittenFile`) into
an add action with the statistics readers choose files by (rows, tag and time ranges, ingest
stamps); :func:`remove_actions` retires files; :func:`live_hashes` folds the chain records of
the commits back to the last manifest into the (size, SHA-256) of every live file.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from historian.storage.chain import Commit
from historian.storage.files import WrittenFile

__all__ = ["add_action", "add_stats", "iso_us", "live_hashes", "remove_actions"]


def iso_us(ns: int, up: bool = False) -> str:
    """``ns`` as an ISO time in µs (Delta statistics), rounded up to the next µs with ``up``.

    Examples
    --------
    >>> iso_us(1_500), iso_us(1_500, up=True)
    ('1970-01-01T00:00:00.000001Z', '1970-01-01T00:00:00.000002Z')
    """
    us = ns // 1000 + (1 if up and ns % 1000 else 0)
    d = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=us)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_stats(f: WrittenFile) -> str:
    """The Delta statistics of a written file, as the JSON text of its add action."""
    stats = {
        "numRecords": f.rows,
        "minValues": {
            "tag": f.tag_min,
            "time": iso_us(f.time_min_ns),
            "ingested": iso_us(f.ingested_min_us * 1000),
        },
        "maxValues": {
            "tag": f.tag_max,
            "time": iso_us(f.time_max_ns, up=True),
            "ingested": iso_us(f.ingested_max_us * 1000),
        },
        "nullCount": {"tag": 0, "time": 0},
    }
    return json.dumps(stats)


def add_action(f: WrittenFile, stats_text: str, mtime_ms: int, operation: str) -> Any:
    """The add action of ``f`` (a compaction changes no data: ``data_change`` False)."""
    from deltalake.transaction import AddAction

    return AddAction(
        path=f.relpath,
        size=f.size,
        partition_values={"day": f.day},
        modification_time=mtime_ms,
        data_change=operation != "compact",
        stats=stats_text,
    )


def remove_actions(removed: list[str], sizes: dict[str, int], operation: str) -> list[Any]:
    """The remove actions retiring ``removed`` (relative paths), stamped now."""
    from deltalake.transaction import RemoveAction

    now_ms = int(_dt.datetime.now(_dt.UTC).timestamp() * 1000)
    return [
        RemoveAction(
            path=relpath,
            deletion_timestamp=now_ms,
            data_change=operation != "compact",
            size=sizes.get(relpath),
            partition_values={"day": relpath.split("/", 1)[0].removeprefix("day=")},
        )
        for relpath in removed
    ]


def live_hashes(chain: list[Commit], live: dict[str, int]) -> dict[str, tuple[int, str | None]]:
    """Path -> (size, SHA-256) of the ``live`` files (path -> size) from the chain records of
    ``chain`` (newest first, back to a manifest or a commit without a record); a file no
    record names keeps its size and no hash."""
    hashes: dict[str, tuple[int, str | None]] = {}
    for c in reversed(chain):
        rec = c.record
        if rec is None:
            continue
        if "manifest" in rec:
            hashes = {p: (int(s), h) for p, (s, h) in rec["manifest"].items()}
        else:
            for p in rec["removes"]:
                hashes.pop(p, None)
        for p, s, h, _ in rec["adds"]:
            hashes[p] = (int(s), h)
    return {p: hashes.get(p, (s, None)) for p, s in live.items()}
