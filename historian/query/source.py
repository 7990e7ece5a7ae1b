"""The engine seam: what the query layer needs from a store, as a Protocol.

``query/`` never reaches into a store's private state. Alignment (:mod:`historian.query.align`),
events, as-of joins and correlation take any object that implements :class:`SeriesSource`:
:class:`historian.storage.store.Store` (and so every ``Historian``) does, and so does whatever
runs the same reads elsewhere (``historian.dask`` computes the heavy alignment on a cluster and
hands the aligned arrays to the same correlation code).

Examples
--------
>>> import historian, tempfile
>>> with historian.open(tempfile.mkdtemp()) as h:
...     isinstance(h, SeriesSource)
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from historian.storage.files import TagSlice

__all__ = ["SeriesSource"]


@runtime_checkable
class SeriesSource(Protocol):
    """A source of tag series for the query layer. It shall implement:

    - ``resolve_tags(tags)``: the known names ``tags`` stands for (one name, a list, or None
      for all), validated, de-duplicated, in the order given; an unknown name raises
      :class:`historian.errors.TagNotFoundError`.
    - ``bounded_series(tags, start_ns, end_ns)``: per (resolved) tag the points in
      ``[start_ns, end_ns)`` plus the bounding points outside the window (back to the
      second-latest Good point before it, up to the first Good point after it), as a
      ``TagSlice`` (``time``, ``value``, ``quality`` arrays, sorted) or None for no points.
      This is the only way the query layer looks outside a window.
    - ``is_stepped(tags)``: per tag, True when its values are held between samples (step
      tags) rather than interpolated linearly.
    - ``read(tags, start, end)``: raw points ``start <= time < end`` as an Arrow table
      ``tag, time, value, quality`` (as :meth:`historian.api.Historian.read`).
    """

    def resolve_tags(self, tags: str | Iterable[str] | None) -> list[str]: ...

    def bounded_series(
        self, tags: Sequence[str], start_ns: int, end_ns: int
    ) -> Mapping[str, TagSlice | None]: ...

    def is_stepped(self, tags: Sequence[str]) -> dict[str, bool]: ...

    def read(
        self, tags: str | Iterable[str] | None = None, start: Any = None, end: Any = None
    ) -> pa.Table: ...
