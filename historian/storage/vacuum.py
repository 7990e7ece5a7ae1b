"""Vacuum that fails safe: delete only files the commit log itself retired, long enough ago.

Delta's own ``vacuum(full=True)`` deletes every file the *current* log does not reference: with a
lost ``_delta_log`` (or a lost newest commit) that is every data file of the store. This vacuum
reads the log folder itself and deletes a file only when all of these hold:

- a retained commit (JSON) or checkpoint has a ``remove`` action for it whose deletion time is
  older than the retention (``grace_hours``, 0 by default);
- no ``add`` of it appears in the current state, in the newest commit's previous state (files
  removed by the newest commit are kept) or in the newest checkpoint;
- no live read of any process holds a snapshot older than the commit that removed it
  (:mod:`historian.storage.pins`);
- with a retention, the file's own modification time is older than the retention, at most
  :data:`MIN_AGE_S` (a margin against a clock that jumped or a deletion timestamp written by a
  wrong clock; without a retention no clock is involved);
- the log is intact: commit versions are contiguous up to the newest, every commit parses, and
  the newest commit is the version the store reads. Otherwise nothing is deleted (the reason is
  logged), since an unreadable or missing commit may be the only reference to a file.

Files that no log entry names (e.g. written by a flush whose commit failed) are never deleted.

Examples
--------
>>> import historian, tempfile
>>> from historian import testing
>>> with historian.open(tempfile.mkdtemp(), auto_compact_files=0) as h:
...     _ = h.define("A")
...     for i in range(3):
...         _ = h.write("A", [i], [1.0]); h.flush()
...     _ = h.compact()  # the three flush files are replaced by one file
...     _ = h.write("A", [9], [1.0]); h.flush()  # a newer commit than the compaction's
...     len(testing.commit_log(h).vacuum(0))  # no read holds the old files
3
"""

from __future__ import annotations

import json
import logging
import os
import re
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from historian.storage.fs import fsync_path

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.snapshot import Snapshot
    from historian.storage.tablefiles import TableFiles

log = logging.getLogger(__name__)

MIN_AGE_S = 3600.0  # never delete a data file younger than this (by its own mtime)
_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")


@dataclass
class LogFolder:
    """What vacuum needs to know of a ``_delta_log`` folder, on disk or on S3."""

    names: list[str]  # file names in the folder
    read: Callable[[str], bytes]  # name -> bytes
    parsed: dict[str, tuple[list[str], list[tuple[str, int]]]] = field(default_factory=dict)


def _parse_commit(data: bytes) -> tuple[list[str], list[tuple[str, int]]]:
    adds, removes = [], []
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        if "add" in action:
            adds.append(unquote(action["add"]["path"]))
        elif "remove" in action:
            r = action["remove"]
            removes.append((unquote(r["path"]), int(r.get("deletionTimestamp") or 0)))
    return adds, removes


def _parse_checkpoint(data: bytes) -> tuple[list[str], list[tuple[str, int]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(data))
    adds: list[str] = []
    removes: list[tuple[str, int]] = []
    if "add" in table.column_names:
        adds = [unquote(a["path"]) for a in table.column("add").to_pylist() if a]
    if "remove" in table.column_names:
        removes = [
            (unquote(r["path"]), int(r.get("deletionTimestamp") or 0))
            for r in table.column("remove").to_pylist()
            if r
        ]
    return adds, removes


def candidates(
    folder: LogFolder, current: set[str], current_version: int, retention_hours: float
) -> tuple[dict[str, int], str | None]:
    """Relative paths safe to delete (before the pin and mtime checks), each with the version
    that removed it (a checkpoint's version for a tombstone only a checkpoint still holds: an
    upper bound), or ``({}, reason)``."""
    commits = sorted(int(m.group(1)) for n in folder.names if (m := _COMMIT.match(n)))
    checkpoints = [n for n in folder.names if _CHECKPOINT.match(n)]
    if not commits:
        return {}, "the commit log has no commits"
    newest = commits[-1]
    if newest != current_version:
        return {}, f"the log's newest commit is {newest}; the store reads version {current_version}"
    if commits != list(range(commits[0], newest + 1)):
        missing = sorted(set(range(commits[0], newest + 1)) - set(commits))
        return {}, f"commit(s) {missing[:5]} are missing from the log"
    if commits[0] > 0 and not checkpoints:
        return {}, f"commits before {commits[0]} are gone and no checkpoint covers them"
    # Only the newest checkpoint is a state to fall back on: an older one plus the (intact,
    # contiguous) commits after it leads to the newest, which needs none of the files they
    # removed. Keeping every checkpoint's files kept a copy of the store per checkpoint.
    newest_checkpoint = max((int(n[:20]) for n in checkpoints), default=None)
    keep: set[str] = set(current)
    removed: dict[str, tuple[int, int]] = {}  # path -> (deletion time ms, removing version)
    try:
        for name in [f"{v:020d}.json" for v in commits] + checkpoints:
            version = int(name[:20])
            got = folder.parsed.get(name)
            if got is None:
                parse = _parse_checkpoint if name.endswith(".parquet") else _parse_commit
                got = parse(folder.read(name))
                folder.parsed[name] = got
            adds, removes = got
            if name.endswith(".parquet") and version == newest_checkpoint:
                keep.update(adds)  # the state to fall back on if the commits after it are lost
            for path, ts in removes:
                if name == f"{newest:020d}.json":
                    keep.add(path)  # the previous state of the newest commit references it
                ts0, v0 = removed.get(path, (0, 0))
                removed[path] = (max(ts0, ts), max(v0, version))
    except (ValueError, KeyError, TypeError, OSError) as exc:  # a damaged commit or checkpoint
        return {}, f"a log file cannot be read ({exc})"
    horizon_ms = (_time.time() - retention_hours * 3600.0) * 1000.0
    out = {p: v for p, (ts, v) in sorted(removed.items())
           if ts < horizon_ms and p not in keep and _safe_relpath(p)}  # fmt: skip
    return out, None


def _safe_relpath(p: str) -> bool:
    parts = p.split("/")
    return (
        not p.startswith("/")
        and "://" not in p
        and ".." not in parts
        and p.endswith(".parquet")
        and len(parts) == 2
        and parts[0].startswith("day=")
    )


def old_enough(mtime_s: float, min_age_s: float) -> bool:
    return _time.time() - mtime_s >= min_age_s


def vacuum_table(
    files: TableFiles,
    snap: Snapshot,
    retention_hours: float,
    min_age_s: float | None,
    parsed: dict[str, Any],
    oldest_held: Callable[[], int | None] = lambda: None,
) -> list[str]:
    """Delete the table's files retired more than ``retention_hours`` ago, older than
    ``min_age_s`` by their own time (default: the retention, at most :data:`MIN_AGE_S`) and
    in no snapshot a live read holds (``oldest_held``: the oldest version held, ``None`` for
    none); the deleted relative paths. ``snap`` is the table's current snapshot, ``parsed`` a
    cache of parsed log files."""
    import pyarrow.fs as pafs

    margin = min(MIN_AGE_S, retention_hours * 3600.0) if min_age_s is None else min_age_s
    folder = LogFolder(
        names=[n.rsplit("/", 1)[-1] for n in files.names("_delta_log")],
        read=lambda name: files.read_bytes(f"_delta_log/{name}"),
        parsed=parsed,
    )
    todo, why = candidates(folder, set(snap.paths), snap.version, retention_hours)
    if why is not None:
        log.warning("vacuum of %s skipped: %s; no file was deleted", files.dir, why)
        return []
    if not todo:
        return []
    if not files.remote and files.fs.fsync:
        # The commits that retired these files must outlive a power cut before their files go:
        # delta-rs does not fsync what it writes to the log.
        fsync_path(os.path.join(files.dir, "_delta_log", f"{snap.version:020d}.json"))
        fsync_path(os.path.join(files.dir, "_delta_log"))
    # Asked after the log was read: a read that registers later takes a snapshot at least as
    # new as ``snap``, which lists none of the files below (see historian.storage.pins).
    held = oldest_held()
    removed = []
    for rel, removed_by in todo.items():
        if held is not None and held < removed_by:
            continue  # a live read's snapshot lists it: a later vacuum deletes it
        info = files.info(rel)
        if info.type != pafs.FileType.File:
            continue  # already gone
        if margin > 0 and (info.mtime is None or not old_enough(info.mtime.timestamp(), margin)):
            continue
        files.delete(rel)
        removed.append(rel)
    return removed
