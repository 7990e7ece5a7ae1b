"""The shared vocabulary of acquisition: what a source emits and how it reports its health.

A source (Modbus, OPC UA, ...) emits :class:`SampleBatch` objects: parallel numpy arrays of
points ``(tag, t_ns, value, quality)`` that came in together (one poll, one publish). A batch is
what the collector queues and writes; it is never mutated after it is emitted.

- ``t_ns``: int64 nanoseconds since the epoch, UTC (source timestamp when the protocol has one,
  else the time the response arrived).
- ``values``: float64; NaN where there is no value (Bad points, string tags).
- ``quality``: uint32 OPC UA StatusCodes (:mod:`historian.model.quality`).
- ``text``: optional, for string points (e.g. Modbus ``type = "string"``): the text, or None.

A :class:`Source` is anything with an async ``run(emit, stop)`` and a ``health()``; it never
raises from ``run`` because of the device (it emits Bad points and reconnects instead), and
returns when ``stop`` is set.

Examples
--------
>>> import numpy as np
>>> from historian.model import quality as q
>>> b = SampleBatch.from_points(
...     ["FIC-101.PV", "TIC-101.PV"], 1_767_225_600_000_000_000, [1.5, None],
...     [q.GOOD, q.BAD_NO_COMMUNICATION], source="plc1")
>>> len(b), b.values.tolist()[0], bool(np.isnan(b.values[1])), b.quality.dtype.name
(2, 1.5, True, 'uint32')
>>> SampleBatch.concat([b, b]).tags
['FIC-101.PV', 'TIC-101.PV', 'FIC-101.PV', 'TIC-101.PV']
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from historian.errors import InvalidDataError

__all__ = ["Emit", "SampleBatch", "Source", "SourceHealth"]


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Points that arrived together from one source, as parallel arrays.

    Parameters
    ----------
    tags : list of str or ndarray of str/object
        Tag name of each point.
    t_ns : ndarray of int64
        Time of each point, ns since the epoch (UTC).
    values : ndarray of float64
        Value of each point; NaN where there is none (Bad quality, string points).
    quality : ndarray of uint32
        OPC UA StatusCode of each point (0 = Good).
    source : str
        Name of the source (the ``name`` of its config section).
    text : list of (str or None), optional
        Text of string points (same length as ``tags``), None for numeric batches.
    """

    tags: list[str] | np.ndarray
    t_ns: np.ndarray
    values: np.ndarray
    quality: np.ndarray
    source: str
    text: list[str | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.tags)
        for name, arr, dtype in (
            ("t_ns", self.t_ns, np.int64),
            ("values", self.values, np.float64),
            ("quality", self.quality, np.uint32),
        ):
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 1:
                raise InvalidDataError(
                    f"SampleBatch.{name} must be a 1-D {np.dtype(dtype).name} ndarray, got "
                    f"{getattr(arr, 'dtype', type(arr).__name__)}"
                )
            if len(arr) != n:
                raise InvalidDataError(
                    f"SampleBatch.{name} has {len(arr)} entries but there are {n} tags"
                )
        if self.text is not None and len(self.text) != n:
            raise InvalidDataError(f"SampleBatch.text has {len(self.text)} entries, expected {n}")

    def __len__(self) -> int:
        return len(self.tags)

    @classmethod
    def from_points(
        cls,
        tags: Sequence[str],
        t_ns: int | Sequence[int] | np.ndarray,
        values: Sequence[float | None] | np.ndarray,
        quality: int | Sequence[int] | np.ndarray,
        *,
        source: str,
        text: list[str | None] | None = None,
    ) -> SampleBatch:
        """Build a batch from Python sequences; a scalar ``t_ns``/``quality`` applies to all."""
        n = len(tags)
        t = np.full(n, t_ns, np.int64) if np.ndim(t_ns) == 0 else np.asarray(t_ns, np.int64)
        v = np.array([math.nan if x is None else x for x in values], dtype=np.float64)
        qa = np.full(n, quality, np.uint32) if np.ndim(quality) == 0 else np.asarray(quality)
        qa = qa.astype(np.uint32, copy=False)
        return cls(list(tags), t, v, qa, source, text)

    @classmethod
    def concat(cls, batches: Sequence[SampleBatch]) -> SampleBatch:
        """One batch holding the points of ``batches`` in order (source of the first)."""
        if not batches:
            raise InvalidDataError("SampleBatch.concat needs at least one batch")
        tags: list[str] = []
        for b in batches:
            tags.extend(b.tags.tolist() if isinstance(b.tags, np.ndarray) else b.tags)
        text: list[str | None] | None = None
        if any(b.text is not None for b in batches):
            text = []
            for b in batches:
                text.extend(b.text if b.text is not None else [None] * len(b))
        return cls(
            tags,
            np.concatenate([b.t_ns for b in batches]),
            np.concatenate([b.values for b in batches]),
            np.concatenate([b.quality for b in batches]),
            batches[0].source,
            text,
        )


Emit = Callable[[SampleBatch], None]
"""The callback a source calls with each batch. It must not block (the collector queues)."""


@dataclass(slots=True)
class SourceHealth:
    """A snapshot of a source's state, cheap to take at any time.

    Attributes
    ----------
    connected : bool
        True while the source talks to its device/server.
    last_good_ns : int or None
        Time (ns, UTC) of the last Good point emitted.
    errors : int
        Failed requests/sessions since start.
    reconnects : int
        Successful reconnections after a loss (the first connect does not count).
    points : int
        Points emitted since start (all qualities).
    points_per_s : float
        Recent emission rate.
    last_error : str
        The last error message ("" if none); never contains secrets.
    extra : dict
        Source-specific counters (e.g. ``skipped_ticks`` for a poller).
    backlog : int
        Notifications received but not yet emitted (OPC UA); 0 for a poller.
    latency_p50_s, latency_p95_s : float or None
        Recent source timestamp -> stored latency of this source's Good points (filled in by
        the collector's :meth:`~historian.acquisition.collector.Collector.health`).
    """

    connected: bool = False
    last_good_ns: int | None = None
    errors: int = 0
    reconnects: int = 0
    points: int = 0
    points_per_s: float = 0.0
    last_error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    backlog: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None


@runtime_checkable
class Source(Protocol):
    """What the collector drives: one device/server connection.

    ``run`` connects, acquires and emits batches until ``stop`` is set, then disconnects and
    returns. Device problems never escape: they become Bad points (once per state change per
    tag), counted in :meth:`health`, and the source reconnects with backoff.
    """

    name: str

    async def run(self, emit: Emit, stop: asyncio.Event) -> None: ...

    def health(self) -> SourceHealth: ...
