"""Damage found while a store is used, kept where ``h.info()`` and ``historian info`` see it.

A damaged WAL batch that was skipped, a damaged newest commit the store fell back from, a file
whose size differs from its commit: each is logged at WARNING once and recorded here, keyed by the
damaged file's path, until a repair clears it. The registry is per process and thread-safe.

Examples
--------
>>> record("/tmp/x.hist/wal/1.arrows", "batch 3 fails its CRC32", "historian repair /tmp/x.hist")
True
>>> [p.what for p in under("/tmp/x.hist")]
['batch 3 fails its CRC32']
>>> clear_under("/tmp/x.hist")
>>> under("/tmp/x.hist")
[]
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

_lock = threading.Lock()
_problems: dict[tuple[str, str], Problem] = {}


@dataclass(frozen=True)
class Problem:
    """One damage found: the file, what is wrong, and what fixes it."""

    where: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what} ({self.fix})"


def record(where: str, what: str, fix: str) -> bool:
    """Record a problem; False when the same one was already recorded (log it only once)."""
    key = (os.path.abspath(where) if "://" not in where else where, what)
    with _lock:
        if key in _problems:
            return False
        _problems[key] = Problem(key[0], what, fix)
        return True


def under(prefix: str) -> list[Problem]:
    """The problems recorded for files under ``prefix`` (a store folder), oldest first."""
    base = (os.path.abspath(prefix) if "://" not in prefix else prefix).rstrip("/") + "/"
    with _lock:
        return [p for (w, _), p in _problems.items() if w.startswith(base) or w == base[:-1]]


def clear_under(prefix: str) -> None:
    """Forget the problems under ``prefix`` (after a repair, or when they are gone)."""
    base = (os.path.abspath(prefix) if "://" not in prefix else prefix).rstrip("/") + "/"
    with _lock:
        for key in [k for k in _problems if k[0].startswith(base) or k[0] == base[:-1]]:
            del _problems[key]
