"""The public ``Historian``: the storage engine plus retrieval, SQL and correlation on top."""

from __future__ import annotations

import os
from typing import Any

from historian.storage.store import Mode, Store


class Historian(Store):
    """A historian store: write, read, summarise, interpolate, plot, query.

    Open one with :func:`historian.open`. Safe to share between threads (writes are serialised,
    reads run concurrently). Use it as a context manager or call :meth:`close`.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TIC-101.PV", unit="degC")
    ...     _ = h.write("TIC-101.PV", ["2026-01-01T00:00:00Z"], [21.5])
    ...     h.read("TIC-101.PV").num_rows
    1
    """


def open(path: str | os.PathLike[str], mode: Mode = "auto", **options: Any) -> Historian:  # noqa: A001
    """Open (or create) a store folder and return a :class:`Historian`.

    Parameters
    ----------
    path : str or os.PathLike
        Folder of the store; created when missing.
    mode : {"auto", "w", "r"}
        ``"auto"``: read freely, take the writer lock at the first write; ``"w"``: take it now;
        ``"r"``: read-only. Any number of processes can read while one writes.
    **options
        Storage options, see :class:`historian.storage.store.Store`.

    Examples
    --------
    >>> import historian, tempfile
    >>> h = historian.open(tempfile.mkdtemp())
    >>> h.writable
    False
    >>> h.close()
    """
    return Historian(path, mode, **options)
