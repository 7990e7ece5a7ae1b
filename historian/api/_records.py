"""Annotations and event frames (``docs/annotations.md``): annotate, annotations,
add_frame, frames, frames_from_events.

Methods of :class:`historian.api.Historian` (bound in its class body, see
:mod:`historian.api._method`); the work is done in ``historian.annotations`` and
``historian.frames``.
"""

from __future__ import annotations as _annotations  # h.annotations is defined below

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from historian.api._method import method

if TYPE_CHECKING:
    from historian.api import Historian


@method
def annotate(
    self: Historian,
    target: str,
    time: Any,
    text: str,
    *,
    author: str | None = None,
    end: Any = None,
) -> pa.Table:
    """Write an annotation on a tag or an asset at ``time`` (over ``[time, end)`` with
    ``end``); durable when it returns, like a point. Returns it as a one-row table.

    ``target``: a tag name or an asset path (``"SiteA/Area2/Pump1"``). ``author``: default
    the operating-system user (None when there is none). Last write wins per (target,
    time, author): annotating again replaces the text. The text is checked (at most 4,000
    characters, no control characters but tab and newline, no bidirectional overrides);
    see ``docs/annotations.md``.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.annotate("TIC-101.PV", "2026-01-01T08:00Z", "sensor replaced", author="jo")
    ...     h.annotations().column("text").to_pylist()
    ['sensor replaced']
    """
    from historian.annotations import annotate

    with self._call("annotate"):
        return annotate(self._store, target, time, text, author=author, end=end)


@method
def annotations(
    self: Historian, targets: str | Iterable[str] | None = None, start: Any = None, end: Any = None
) -> pa.Table:
    """The annotations of ``targets`` (names; None: all) that touch ``[start, end)`` (an
    instant in it, or a period that overlaps it), sorted by target and time: ``target,
    time, end, text, author, ingested`` (times ``timestamp[ns, UTC]``).

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.annotate("P-101", 0, "started", author="jo")
    ...     _ = h.annotate("P-101", 10**12, "stopped", author="jo")
    ...     h.annotations("P-101", 0, 10**9).column("text").to_pylist()
    ['started']
    """
    from historian.annotations import list_annotations

    with self._call("annotations"):
        return list_annotations(self._store, targets, start, end)


@method
def add_frame(
    self: Historian,
    name: str,
    start: Any,
    end: Any = None,
    *,
    asset: str | None = None,
    template: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Write an event frame ``[start, end)`` (``end=None``: still open); durable on
    return. Returns it as a one-row table of :meth:`frames`.

    ``asset``: the asset path it belongs to; ``template``: its kind (``"Batch"``);
    ``attributes``: a dict of str -> None/bool/int/float/str (a batch ID, a product).
    Last write wins per (asset, name, start): close an open frame by writing it again
    with its end.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.add_frame("B-1042", "2026-01-01T06:00Z", "2026-01-01T09:30Z",
    ...                     asset="SiteA/R1", template="Batch", attributes={"product": "PX"})
    ...     h.frames(template="Batch").column("attributes").to_pylist()
    ['{"product": "PX"}']
    """
    from historian.frames import add_frame

    with self._call("add_frame"):
        return add_frame(self._store, name, start, end, asset=asset, template=template,
                         attributes=attributes)  # fmt: skip


@method
def frames(
    self: Historian,
    start: Any = None,
    end: Any = None,
    *,
    asset: str | None = None,
    template: str | None = None,
    name: str | None = None,
) -> pa.Table:
    """The event frames that overlap ``[start, end)`` (an open one reaches to now), of
    ``asset`` or an asset under it, of ``template``, with a name matching the pattern
    ``name`` (``"B-*"``), sorted by start: ``name, asset, template, start, end,
    attributes`` (``end`` null while open; ``attributes`` JSON text: ``json.loads``).

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.add_frame("B-1", 0, 10**9, asset="SiteA/R1")
    ...     _ = h.add_frame("B-2", 10**9, None, asset="SiteB/R7")
    ...     h.frames(asset="SiteA").column("name").to_pylist()
    ['B-1']
    """
    from historian.frames import list_frames

    with self._call("frames"):
        return list_frames(self._store, start, end, asset=asset, template=template,
                           name=name)  # fmt: skip


@method
def frames_from_events(
    self: Historian,
    condition: Any,
    start: Any,
    end: Any,
    *,
    name: Any,
    asset: str | None = None,
    template: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    **events_kwargs: Any,
) -> pa.Table:
    """One event frame per event of :meth:`events` (``condition``, ``start``, ``end`` and
    ``events_kwargs`` as there), written in one durable write; returns the frames.

    Each frame has the event's start and end (an ``ongoing`` event gives an open frame)
    and its statistics as attributes (``"TIC-101.PV.max"``), then ``attributes``.
    ``name``: a template with ``{n}`` (1, 2, ...), ``{start}`` and ``{end}`` (ISO, UTC),
    or a function of the event row. Frames of the same events (same name, asset, start)
    replace each other, so running this again adds nothing.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TIC-101.PV")
    ...     _ = h.write("TIC-101.PV", [0, 10**9, 2 * 10**9], [70.0, 85.0, 60.0])
    ...     f = h.frames_from_events("TIC-101.PV > 80", 0, 4 * 10**9, name="hot {start}")
    ...     f.column("name").to_pylist()
    ['hot 1970-01-01T00:00:01Z']
    """
    from historian.frames import frames_from_events

    with self._call("frames_from_events"):
        events = self.events(condition, start, end, **events_kwargs)
        return frames_from_events(
            self._store, events, name=name, asset=asset, template=template, attributes=attributes
        )
