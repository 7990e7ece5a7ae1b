"""Qualification on write: each tag's rules (``historian.kernels.qualify``) over new points.

One streaming :class:`~historian.kernels.qualify.Qualifier` per tag lives in the writer, keyed by
the tag's definition version, so a batch's result never depends on how the stream was cut.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.model.tags import Tag


def validate_rules(tag: Tag) -> None:
    """Raise :class:`~historian.errors.InvalidArgumentError` for a malformed rules dict."""
    from historian.kernels.qualify import Qualifier

    Qualifier.for_tag(tag)  # a range rule without lo/hi takes the tag's engineering range


def qualifier_for(cache: dict[str, Any], tag: Tag) -> Any:
    """The streaming qualifier of ``tag`` (a new one when its definition changed)."""
    from historian.kernels.qualify import Qualifier

    entry = cache.get(tag.name)
    if entry is None or entry[0] != tag.version:
        previous = entry[1] if entry is not None else None
        q = Qualifier.for_tag(tag)
        if previous is not None:  # new rules continue from the stream seen so far
            q = Qualifier.from_state(previous.state_dict(), q.rules)
        entry = (tag.version, q)
        cache[tag.name] = entry
    return entry[1]


def qualify_points(
    catalog: Any, cache: dict[str, Any], points: Any, quality: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(quality, reasons) for ``points`` after the rules of their tags."""
    reasons = np.zeros(len(quality), dtype=np.uint32)
    tags = [catalog.get(str(name)) for name in points.names]
    if not any(t.rules for t in tags):
        return quality, reasons
    quality = quality.copy()
    single = len(tags) == 1
    for code, tag in enumerate(tags):
        if not tag.rules:
            continue
        rows = slice(None) if single else np.flatnonzero(points.codes == code)
        q, r = qualifier_for(cache, tag).qualify(
            points.time[rows], points.value[rows], quality[rows]
        )
        quality[rows] = q
        reasons[rows] = r
    return quality, reasons
