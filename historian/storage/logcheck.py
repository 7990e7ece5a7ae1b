"""What a reader or writer checks in the commit log beyond Delta itself.

A damaged commit (:class:`Damage`), the writer lease epoch a commit records and a stale
writer's commit fenced off by it (``s3://``), housekeeping commits that carry no chain record,
and the WAL segments a lost newest commit leaves behind (:func:`wal_gap`). The chain record of
each commit is checked by :mod:`historian.storage.chain`; :class:`~historian.storage.table.
CommitLog` calls these while it opens and advances.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from historian.errors import CorruptDataError
from historian.storage import health
from historian.storage.chain import HOUSEKEEPING, Commit

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.table import CommitLog

__all__ = ["EPOCH_KEY", "Damage", "commit_epoch", "fenced_off", "log_name", "wal_gap"]

log = logging.getLogger(__name__)

#: The commit metadata key holding the writer lease epoch (``s3://`` stores).
EPOCH_KEY = "historian.writer_epoch"


@dataclass(frozen=True)
class Damage:
    """A commit the table could not use: its version and what is wrong with it."""

    version: int
    what: str


def log_name(version: int) -> str:
    """The commit file of ``version``, relative to the table folder.

    Examples
    --------
    >>> log_name(7)
    '_delta_log/00000000000000000007.json'
    """
    return f"_delta_log/{version:020d}.json"


def not_housekeeping(c: Commit) -> bool:
    """True for a commit that changes data (housekeeping commits may carry no chain record)."""
    return bool(c.adds or c.removes or c.other) or c.operation not in HOUSEKEEPING


def commit_epoch(c: Commit) -> int | None:
    """The writer lease epoch a commit records (``s3://`` stores), or None."""
    value = c.info.get(EPOCH_KEY)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def fenced_off(c: Commit, before: int | None) -> str | None:
    """Why ``c`` is a fenced-off commit (its epoch is lower than an earlier commit's), or None."""
    epoch = commit_epoch(c)
    if epoch is None or before is None or epoch >= before:
        return None
    return (
        f"it was written by a writer of lease epoch {epoch} after a commit of epoch {before}: "
        "a stale writer's commit, fenced off (readers ignore it and every commit after it)"
    )


def wal_gap(commit_log: CommitLog, wal_dir: str) -> str | None:
    """Report WAL segments missing between the committed position and the segments present.

    Segments are deleted only after the commit that covers them is durable, so segments after
    a gap mean that commit is gone from the log (a deleted newest commit): recorded as a problem
    and logged at WARNING, not silently dropped.
    """
    from historian.storage.wal import list_segments

    segments = list_segments(wal_dir)
    if not segments:
        return None
    try:
        upto = commit_log.snapshot().wal_upto
    except CorruptDataError:
        return None  # a damaged file: the first read that needs the snapshot says which
    if upto < 0 or segments[0] <= upto + 1:
        return None
    what = (
        f"WAL segments {upto + 1}..{segments[0] - 1} are missing although segment "
        f"{segments[0]} exists: the commit that covered them (after version "
        f"{commit_log.snapshot().version}) may have been lost from the log"
    )
    fix = f"historian verify {os.path.dirname(commit_log.dir)}, then historian repair"
    if health.record(os.path.join(wal_dir, "gap"), what, fix):
        log.warning("%s; run `%s`", what, fix)
    return what
