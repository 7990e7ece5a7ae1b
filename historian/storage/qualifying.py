"""Qualification: each tag's rules (``historian.kernels.qualify``) over new points and history.

On write, one streaming :class:`~historian.kernels.qualify.Qualifier` per tag lives in the
writer, keyed by the tag's definition version, so a batch's result never depends on how the
stream was cut. Over stored history, :func:`qualify` (``Store.qualify``) runs the rules again
and, when asked, writes the points whose quality changed as new versions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from historian.model.tags import Tag
from historian.model.text import no_text
from historian.model.times import now_ns, user_ns, window_ns
from historian.storage import ingest
from historian.storage.files import TagSlice
from historian.storage.points import Points

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store


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


def qualify(
    store: Store,
    tags: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    *,
    rules: dict[str, Any] | None = None,
    apply: bool = False,
    now: Any = None,
    progress: bool | None = None,
) -> pa.Table:
    """:meth:`Store.qualify` (its docstring has the contract)."""
    from historian.kernels.qualify import qualify_history
    from historian.model.times import MAX_NS, MIN_NS
    from historian.progress import iterate as _progress
    from historian.storage.reader import _points_table

    store._check_open()
    names = store.resolve_tags(tags)
    if start is not None and end is not None:
        window_ns(start, end, empty=True)
    start_ns = MIN_NS if start is None else user_ns(start)
    end_ns = MAX_NS if end is None else user_ns(end)
    now_value = now_ns() if now is None else user_ns(now)
    series = store._series(names, start_ns, end_ns, with_reasons=True)
    out: dict[str, TagSlice | None] = {}
    previous: list[np.ndarray] = []
    changed_points = []
    for name in _progress(sorted(names), progress, "qualifying"):
        s = series[name]
        if s is None:
            continue
        tag = store._catalog.get(name)
        tag_rules = rules if rules is not None else tag.rules
        if rules is not None or not tag.rules:
            tag = Tag.from_dict({**tag.to_dict(), "rules": dict(tag_rules or {})})
        source_q = np.where(s.reasons == 0, s.quality, 0).astype(np.uint32)
        from historian.kernels.qualify import Qualifier

        qual = Qualifier.for_tag(tag)
        new_q, new_r = qualify_history(
            s.time, s.value, source_q, rules=qual.rules, now_ns=now_value
        )
        new_q = new_q.astype(np.uint32)
        numeric = slice(None) if s.text is None else no_text(s.text)  # a text has no number
        new_q[numeric] = ingest.mark_nonfinite(s.value[numeric], new_q[numeric])
        new_r = new_r.astype(np.uint32)
        previous.append(s.quality)
        out[name] = TagSlice(s.time, s.value, new_q, new_r, s.ingested, s.text)
        diff = (new_q != s.quality) | (new_r != s.reasons)
        if apply and diff.any():
            sel = np.flatnonzero(diff)
            changed_points.append((name, s, new_q, new_r, sel))
    if apply and changed_points:
        store._become_writer()
        for name, s, new_q, new_r, sel in changed_points:
            n = sel.size
            pts = Points.of_tag(
                name,
                s.time[sel],
                s.value[sel],
                new_q[sel],
                new_r[sel],
                np.zeros(n, np.int64),
                None if s.text is None else s.text[sel],
            )
            store._ingest(pts, qualified=True)
    table = _points_table(sorted(out), out, True)
    prev = np.concatenate(previous) if previous else np.zeros(0, np.uint32)
    return table.append_column("previous_quality", pa.array(prev, pa.uint32()))
