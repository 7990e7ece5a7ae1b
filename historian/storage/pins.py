"""Files pinned by the reads of this process: vacuum never deletes them, whatever their age.

A read pins the files of the snapshot it reads for as long as it reads them (``h.read_batches``
for the life of its iterator); vacuum, which deletes a replaced file only after ``grace_hours``,
also skips every file a read of this process still pins. Readers in other processes are
covered by the grace period alone.

Examples
--------
>>> from historian.storage import pins
>>> with pins.pinned(["/s/points/day=2026-01-01/part-1.parquet"]):
...     pins.is_pinned("/s/points/day=2026-01-01/part-1.parquet")
True
>>> pins.is_pinned("/s/points/day=2026-01-01/part-1.parquet")
False
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["is_pinned", "pinned"]

_LOCK = threading.Lock()
_PINS: Counter[str] = Counter()  # full path -> reads holding it


@contextmanager
def pinned(paths: Iterable[str]) -> Iterator[None]:
    """Pin ``paths`` (full paths, as the file cache names them) for the ``with`` block."""
    held = list(paths)
    with _LOCK:
        _PINS.update(held)
    try:
        yield
    finally:
        with _LOCK:
            _PINS.subtract(held)
            for p in held:
                if _PINS[p] <= 0:
                    del _PINS[p]


def is_pinned(path: str) -> bool:
    """Whether a read of this process holds ``path``."""
    with _LOCK:
        return _PINS[path] > 0 if path in _PINS else False
