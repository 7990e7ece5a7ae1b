"""Resource budgets: how much one call may ask for, refused up front with a clear error.

Every budget lives in :class:`Limits` (a frozen dataclass of defaults). A request over a budget
raises :class:`~historian.errors.ResourceLimitError` *before* anything is allocated, naming what
was asked, the limit, and how to change it. Three ways to change a limit, most local first:

- for a block of code: ``with historian.limits.using(max_result_cells=10**9): ...``
  (a :class:`contextvars.ContextVar`: per thread and per asyncio task);
- for one store: ``historian.open(path, limits={"max_result_cells": 10**9})`` (or a
  :class:`Limits`); ``h.limits`` shows them and can be assigned;
- for the process: ``historian.limits.set_limits(max_result_cells=10**9)``.

The limits of a store apply to its calls; without ``limits=`` a store follows the block's or
the process's. ``max_file_decoded_bytes`` is checked where data files are decoded, which may be a
worker thread of the store: change it for the process (:func:`set_limits`).

See ``docs/limits.md`` for what each budget bounds and why its default is what it is.

Examples
--------
>>> import historian.limits as hl
>>> hl.current().max_plot_width
100000
>>> with hl.using(max_plot_width=10):
...     hl.current().max_plot_width
10
>>> try:
...     hl.current().check("max_plot_width", 10**9, "plot width (pixels)")
... except hl.ResourceLimitError as exc:
...     print(exc.limit, exc.asked)
max_plot_width 1000000000
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from historian.errors import InvalidArgumentError, ResourceLimitError

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "ResourceLimitError",
    "as_limits",
    "current",
    "set_limits",
    "using",
]


@dataclasses.dataclass(frozen=True)
class Limits:
    """The budgets of one call; every field is a positive int (see ``docs/limits.md``).

    Attributes
    ----------
    max_result_cells : int
        Values a summary or interpolation may produce: ``intervals x stats x tags`` for
        ``h.summary`` / ``historian.summarize`` (one row each), ``grid points x columns`` for
        ``h.interpolated`` (a ``<tag>.quality`` column counts too), the aligned ``times x tags``
        of ``h.events`` and ``h.correlate``. 5 x 10^7, the kernels' former per-tag guard, now
        counted over tags and stats too (measured peaks: ~120 bytes a summary row, ~55 bytes an
        interpolated value, so at most ~6 GB).
    max_plot_width : int
        Pixels of ``h.plot(width=...)``: 100,000 (up to 4 points a pixel come back).
    max_correlate_cells : int
        ``pairs x (2 x lag steps + 1)`` of ``h.correlate``: the coefficient and count matrices,
        16 bytes a cell. 2 x 10^7 (320 MB).
    max_correlate_work : int
        ``pairs x (2 x lag steps + 1) x grid samples``: the multiply-adds of ``h.correlate``.
        10^10 (about a minute on two cores).
    max_events : int
        Event rows ``h.events`` may return (before ``min_duration``): 10^6.
    max_file_decoded_bytes : int
        Decoded bytes one read may take from one data file, as declared by its Parquet footer:
        4 GiB (a decompression bomb is refused before it is decoded).
    max_rejected_rows : int
        Rejected rows an import keeps in its report (the rest are only counted): 100,000.

    Examples
    --------
    >>> from historian.limits import Limits
    >>> Limits(max_plot_width=4000).max_plot_width
    4000
    >>> Limits().replace(max_events=10).max_events
    10
    """

    max_result_cells: int = 50_000_000
    max_plot_width: int = 100_000
    max_correlate_cells: int = 20_000_000
    max_correlate_work: int = 10_000_000_000
    max_events: int = 1_000_000
    max_file_decoded_bytes: int = 4 << 30
    max_rejected_rows: int = 100_000

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidArgumentError(f"limit {f.name} must be a positive int, not {v!r}")

    def replace(self, **changes: int) -> Limits:
        """A copy with some limits changed (unknown names are refused)."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    def check(self, name: str, asked: int, what: str, fix: str = "") -> None:
        """Raise :class:`ResourceLimitError` when ``asked`` is over the limit ``name``.

        ``what`` says what was counted (``"summary rows (intervals x stats x tags)"``),
        ``fix`` how to ask for less.
        """
        limit = getattr(self, name)
        if asked > limit:
            raise ResourceLimitError(
                f"{what}: {asked:,} asked, over the limit {name}={limit:,}. "
                + (f"{fix}; or raise the limit: " if fix else "Raise the limit: ")
                + f"historian.open(path, limits={{{name!r}: N}}), "
                f"`with historian.limits.using({name}=N):` or "
                f"historian.limits.set_limits({name}=N) (see docs/limits.md)",
                limit=name,
                asked=asked,
                allowed=limit,
            )


DEFAULT_LIMITS = Limits()
_process: Limits = DEFAULT_LIMITS
_block: ContextVar[Limits | None] = ContextVar("historian_limits", default=None)


def _check_names(changes: Mapping[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(Limits)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidArgumentError(
            f"unknown limit(s) {', '.join(unknown)}; the limits are {', '.join(sorted(known))}"
        )


def as_limits(value: Limits | Mapping[str, int] | None, base: Limits | None = None) -> Limits:
    """A :class:`Limits` from a Limits, a dict of changes to ``base`` (default: the current
    limits), or None (``base``)."""
    base = current() if base is None else base
    if value is None:
        return base
    if isinstance(value, Limits):
        return value
    if isinstance(value, Mapping):
        return base.replace(**dict(value))
    raise InvalidArgumentError(
        f"limits must be a historian.limits.Limits or a dict, not {type(value).__name__}"
    )


def current() -> Limits:
    """The limits in effect here: the innermost :func:`using` block, else the process's."""
    block = _block.get()
    return _process if block is None else block


def set_limits(limits: Limits | None = None, **changes: int) -> Limits:
    """Change the process-wide limits; returns the previous ones (to restore them).

    ``set_limits(max_events=10**7)`` changes one; ``set_limits(DEFAULT_LIMITS)`` restores all.

    Examples
    --------
    >>> import historian.limits as hl
    >>> before = hl.set_limits(max_plot_width=5000)
    >>> hl.current().max_plot_width
    5000
    >>> _ = hl.set_limits(before)
    """
    global _process
    previous = _process
    _process = (previous if limits is None else as_limits(limits)).replace(**changes)
    return previous


@contextlib.contextmanager
def using(limits: Limits | Mapping[str, int] | None = None, **changes: int) -> Iterator[Limits]:
    """Limits for a block (this thread or asyncio task only); yields the limits in effect."""
    chosen = as_limits(limits).replace(**changes)
    token = _block.set(chosen)
    try:
        yield chosen
    finally:
        _block.reset(token)
