"""The public ``Historian``: the storage engine plus retrieval, SQL and correlation on top."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from historian.errors import InvalidArgumentError
from historian.model.times import duration_ns, to_ns
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

    # --- retrieval: summary, interpolated, plot (storage developer) ---
    def _window(self, start: Any, end: Any, every: Any | None = None) -> tuple[int, int, int]:
        start_ns, end_ns = to_ns(start), to_ns(end)
        if end_ns <= start_ns:
            raise InvalidArgumentError(f"end ({end!r}) must be after start ({start!r})")
        every_ns = 0 if every is None else duration_ns(every)
        if every is not None and every_ns <= 0:
            raise InvalidArgumentError(f"every must be a positive duration, not {every!r}")
        return start_ns, end_ns, every_ns

    def _stepped(self, names: list[str]) -> dict[str, bool]:
        return {n: self.tag(n).stepped for n in names}

    def summary(
        self,
        tags: str | Iterable[str] | None,
        start: Any,
        end: Any,
        every: Any,
        stats: Iterable[str] | str = ("twa", "min", "max", "count"),
        config: Any = None,
    ) -> pa.Table:
        """Aggregates per interval, OPC UA Part 13 semantics, as a long table.

        One row per (tag, interval, stat): ``tag, start, stat, value, time, status``. ``stats``
        takes friendly names (``twa``, ``mean``, ``min``, ``max``, ``count``, ``pct_good`` ...) and
        Part 13 names (``"TimeAverage2"``); see ``docs/aggregates.md``. ``config`` is Part 13's
        AggregateConfiguration (TreatUncertainAsBad, PercentDataBad, PercentDataGood,
        UseSlopedExtrapolation) as a dict. Step tags are aggregated as Stepped. Bounding values
        just outside each interval come from the store, so intervals at the window edges are
        exact.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("FIC-101.PV")
        ...     _ = h.write("FIC-101.PV", [0, 10**9, 2 * 10**9, 3 * 10**9], [0.0, 10.0, 10.0, 0.0])
        ...     s = h.summary("FIC-101.PV", 0, 4 * 10**9, "2s", stats=["twa", "max"])
        ...     s.select(["stat", "value"]).to_pylist()[:2]
        [{'stat': 'twa', 'value': 7.5}, {'stat': 'max', 'value': 10.0}]
        """
        from historian.query.retrieval import summary_for_tags

        names = self._resolve_tags(tags)
        start_ns, end_ns, every_ns = self._window(start, end, every)
        series = self._bounded_series(names, start_ns, end_ns)
        return summary_for_tags(
            {n: _arrays(series[n]) for n in names},
            start_ns=start_ns, end_ns=end_ns, every_ns=every_ns, stats=stats, config=config,
            stepped_by_tag=self._stepped(names),
        )

    def interpolated(
        self,
        tags: str | Iterable[str] | None,
        start: Any,
        end: Any,
        every: Any,
        *,
        max_gap: Any = None,
        extrapolate: bool = False,
        quality: bool = False,
        config: Any = None,
    ) -> pa.Table:
        """Values on a regular grid: ``time`` plus one column per tag (wide).

        Linear between good samples for analog tags, held for step tags (Part 13 Interpolative);
        null where there is no value, the status is Bad, past the last sample (unless
        ``extrapolate``), or where the samples around a grid time are more than ``max_gap`` apart
        (staleness bound). ``quality=True`` adds a ``<tag>.quality`` StatusCode column per tag.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", [0, 10 * 10**9], [0.0, 10.0])
        ...     h.interpolated("A", 0, 10 * 10**9, "5s").column("A").to_pylist()
        [0.0, 5.0, 10.0]
        """
        from historian.query.retrieval import interpolated_for_tags

        names = self._resolve_tags(tags)
        start_ns, end_ns, every_ns = self._window(start, end, every)
        series = self._bounded_series(names, start_ns, end_ns + 1)
        return interpolated_for_tags(
            {n: _arrays(series[n]) for n in names},
            start_ns=start_ns, end_ns=end_ns, every_ns=every_ns, stepped_by_tag=self._stepped(names),
            max_gap_ns=None if max_gap is None else duration_ns(max_gap), extrapolate=extrapolate,
            quality=quality, config=config,
        )

    def plot(self, tag: str, start: Any, end: Any, width: int = 1000) -> pa.Table:
        """Values to draw ``tag`` on ``width`` pixels: per pixel the first, last, min, max and any
        Bad point (PI PlotValues), as raw points (tag, time, value, quality).

        A chart drawn from these points looks identical to one drawn from every point.

        Examples
        --------
        >>> import historian, tempfile, numpy as np
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.define("A")
        ...     _ = h.write("A", np.arange(10_000) * 10**6, np.sin(np.arange(10_000) / 100))
        ...     h.plot("A", 0, 10**10, width=100).num_rows <= 4 * 100 + 2
        True
        """
        from historian.query.retrieval import plot_for_tag

        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise InvalidArgumentError(f"width must be a positive number of pixels, not {width!r}")
        (name,) = self._resolve_tags([tag])
        start_ns, end_ns, _ = self._window(start, end)
        series = self._bounded_series([name], start_ns, end_ns)[name]
        t, v, q = _arrays(series)
        return plot_for_tag(t, v, q, start_ns=start_ns, end_ns=end_ns, width=width, tag=name)


def _arrays(s: Any) -> tuple[Any, Any, Any]:
    import numpy as np

    if s is None:
        return np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.uint32)
    return s.time, s.value, s.quality


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
