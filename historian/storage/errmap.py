"""Map the storage dependencies' errors (OSError, Arrow, delta-rs) to the historian tree, once.

Examples
--------
>>> import errno
>>> from historian.errors import StoreError
>>> try:
...     with storage_errors("flushing /tmp/x.hist", "retry"):
...         raise OSError(errno.ENOSPC, "No space left on device")
... except StoreError as exc:
...     print(exc, "/", type(exc.__cause__).__name__)
flushing /tmp/x.hist failed: No space left on device; retry / OSError
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pyarrow as pa

from historian.errors import HistorianError, StoreError


def is_dependency_error(exc: BaseException) -> bool:
    """True for an OSError, an Arrow error or a delta-rs error not already a HistorianError."""
    if isinstance(exc, HistorianError):
        return False
    if isinstance(exc, (OSError, pa.ArrowException)):
        return True
    delta = sys.modules.get("deltalake.exceptions")
    return delta is not None and isinstance(exc, getattr(delta, "DeltaError", ()))


@contextlib.contextmanager
def storage_errors(
    action: str,
    consequence: str = "nothing acknowledged was lost (the write-ahead log keeps it); "
    "fix the cause and retry",
) -> Iterator[None]:
    """Re-raise a dependency error inside the block as :class:`StoreError` (``from exc``)."""
    try:
        yield
    except Exception as exc:
        if not is_dependency_error(exc):
            raise
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0:1]
        text = reason if isinstance(reason, str) else (reason[0] if reason else type(exc).__name__)
        raise StoreError(f"{action} failed: {text}; {consequence}") from exc
