"""Statistics of text tags: count, first, last and the time spent in each text state.

A text tag (``type="string"``) is a step tag whose value is a text: each point's text holds
until the next point. Statistics that need numbers (``twa``, ``mean``, ``min``, ``max``,
``std``, ``total`` ...) make no sense on texts and are refused with
:class:`~historian.errors.TextAggregateError`, which names the tag and :data:`TEXT_STATS`.

The summary of a text tag has the columns of ``SUMMARY_SCHEMA`` plus ``text``:

- ``count``: the number of Good points in the interval (``value``; ``text`` null);
- ``first`` / ``last``: the first / last point in the interval: ``value`` null, ``time`` the
  point's time, ``text`` its text, ``status`` its StatusCode (``Bad_NoData`` when the interval
  has no point);
- ``duration_in_state``: one row per text held during the interval, ``text`` the state and
  ``value`` the seconds it was held (a Bad or Uncertain point holds no state: its time counts
  for no text), in the order the states first appear.

Examples
--------
>>> import numpy as np
>>> t = np.array([0, 4, 6]) * 10**9
>>> tbl = text_summary("BATCH.ID", t, np.zeros(3, np.uint32), np.array(["A", "B", "A"], object),
...                    np.array([0, 10 * 10**9]), ["duration_in_state", "last"])
>>> [(r["stat"], r["text"], r["value"]) for r in tbl.to_pylist()]
[('duration_in_state', 'A', 8.0), ('duration_in_state', 'B', 2.0), ('last', 'A', None)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from historian.errors import TextAggregateError
from historian.model import quality as q
from historian.model.schema import SUMMARY_SCHEMA, TIME_TYPE

__all__ = [
    "TEXT_STATS",
    "TEXT_SUMMARY_SCHEMA",
    "check_text_stats",
    "refuse_text",
    "summary_with_texts",
    "text_summary",
    "text_tags",
]

#: The statistics a text tag has (the others need numbers).
TEXT_STATS = ("count", "first", "last", "duration_in_state")
#: A summary that includes a text tag: ``SUMMARY_SCHEMA`` plus ``text``.
TEXT_SUMMARY_SCHEMA = SUMMARY_SCHEMA.append(pa.field("text", pa.string()))
_ALIASES = {
    "count": "count",
    "first": "first",
    "start": "first",
    "last": "last",
    "end": "last",
    "duration_in_state": "duration_in_state",
}


def text_tags(source: Any, names: Iterable[str]) -> list[str]:
    """The text tags (``type="string"``) among ``names`` of a store."""
    return [t.name for t in source.tags_of(names) if t.is_text]


def check_text_stats(tags: Sequence[str], stats: Iterable[str] | str) -> list[str]:
    """The stats as asked, if every one works on texts; else :class:`TextAggregateError`."""
    asked = [stats] if isinstance(stats, str) else list(stats)
    wrong = tuple(s for s in asked if str(s).lower() not in _ALIASES)
    if tags and wrong:
        raise TextAggregateError(
            f"tag {tags[0]!r} is a text tag (type='string'): {', '.join(map(repr, wrong))} "
            f"need numbers; a text tag has {', '.join(TEXT_STATS)} (h.read gives the raw texts)",
            tag=tags[0],
            stats=wrong,
        )
    return asked


def refuse_text(source: Any, names: Iterable[str], call: str) -> None:
    """Raise :class:`TextAggregateError` if one of ``names`` is a text tag: ``call``
    (interpolated, plot) computes numbers, which a text tag does not have."""
    texts = text_tags(source, names)
    if texts:
        raise TextAggregateError(
            f"tag {texts[0]!r} is a text tag (type='string'): {call} gives numbers and a text "
            f"has none; use h.read for the raw texts or h.summary with "
            f"{', '.join(TEXT_STATS)}",
            tag=texts[0],
            stats=(call,),
        )


def _state_durations(
    t: np.ndarray, good: np.ndarray, text: np.ndarray, lo: int, hi: int
) -> dict[str, int]:
    """Nanoseconds each text is held in [lo, hi) (step: a point holds until the next one)."""
    out: dict[str, int] = {}
    i = int(np.searchsorted(t, lo, "right")) - 1  # the point holding at lo (may be before)
    i = max(i, 0)
    while i < t.size and t[i] < hi:
        a = max(int(t[i]), lo)
        b = min(int(t[i + 1]) if i + 1 < t.size else hi, hi)
        if b > a and good[i] and text[i] is not None:
            out[text[i]] = out.get(text[i], 0) + (b - a)
        i += 1
    return out


def _rows_of(
    t: np.ndarray, quality: np.ndarray, text: np.ndarray, lo: int, hi: int, stats: list[str]
) -> list[tuple[str, float | None, int | None, int, str | None]]:
    """(stat, value, time, status, text) rows of one interval."""
    a, b = int(np.searchsorted(t, lo, "left")), int(np.searchsorted(t, hi, "left"))
    good = q.good_mask(quality)
    rows: list[tuple[str, float | None, int | None, int, str | None]] = []
    for given in stats:
        stat = _ALIASES[given.lower()]
        if stat == "count":
            rows.append((given, float(np.count_nonzero(good[a:b])), None, q.GOOD, None))
        elif stat in ("first", "last"):
            if b <= a:
                rows.append((given, None, None, q.BAD_NO_DATA, None))
                continue
            k = a if stat == "first" else b - 1
            rows.append((given, None, int(t[k]), int(quality[k]), text[k]))
        else:
            held = _state_durations(t, good, text, lo, hi)
            rows.extend((given, ns / 1e9, None, q.GOOD, s) for s, ns in held.items())
    return rows


def text_summary(
    tag: str,
    t: np.ndarray,
    quality: np.ndarray,
    text: np.ndarray | None,
    edges: np.ndarray,
    stats: Sequence[str],
) -> pa.Table:
    """The summary (``TEXT_SUMMARY_SCHEMA``) of one text tag on the intervals ``edges``.

    ``t``/``quality``/``text`` are the tag's points, sorted, with the bounding point before the
    window (it holds the state at the window's start). ``stats`` from :data:`TEXT_STATS`.
    """
    check_text_stats([tag], stats)
    if text is None:
        text = np.full(t.size, None, dtype=object)
    cols: dict[str, list[Any]] = {
        k: [] for k in ("start", "stat", "value", "time", "status", "text")
    }
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        for stat, value, time, status, label in _rows_of(t, quality, text, lo, hi, list(stats)):
            for k, v in zip(cols, (lo, stat, value, time, status, label), strict=True):
                cols[k].append(v)
    n = len(cols["stat"])
    return pa.Table.from_arrays(
        [
            pa.array([tag] * n, pa.string()),
            pa.array(cols["start"], pa.int64()).cast(TIME_TYPE),
            pa.array(cols["stat"], pa.string()),
            pa.array(cols["value"], pa.float64()),
            pa.array(cols["time"], pa.int64()).cast(TIME_TYPE),
            pa.array(cols["status"], pa.uint32()),
            pa.array(cols["text"], pa.string()),
        ],
        schema=TEXT_SUMMARY_SCHEMA,
    )


def summary_with_texts(
    source: Any,
    names: Sequence[str],
    start_ns: int,
    end_ns: int,
    every_ns: int,
    stats: Sequence[str] | str,
    config: Any = None,
) -> pa.Table | None:
    """``h.summary`` of ``names`` when one of them is a text tag (None when none is).

    Text tags get :func:`text_summary`, the others the usual Part 13 summary; the table has
    ``TEXT_SUMMARY_SCHEMA`` (``text`` null on numeric tags' rows), rows in the order of
    ``names``. Every stat must work on texts (:data:`TEXT_STATS`), else
    :class:`TextAggregateError`.
    """
    from historian.kernels._config import interval_edges
    from historian.query.retrieval import check_summary_budget, summary_for_tags

    texts = text_tags(source, names)
    if not texts:
        return None
    stats = check_text_stats(texts, stats)
    # the same budget as a numeric summary (duration_in_state: one row per state held)
    check_summary_budget(len(names) * len(stats), start_ns, end_ns, every_ns, ["count"])
    series = source.bounded_series(list(names), start_ns, end_ns)
    edges = interval_edges(start_ns, end_ns, every_ns)
    stepped = source.is_stepped(list(names))
    parts = []
    for name in names:
        sl = series[name]
        t = np.zeros(0, np.int64) if sl is None else sl.time
        qual = np.zeros(0, np.uint32) if sl is None else sl.quality
        if name in texts:
            parts.append(text_summary(name, t, qual, None if sl is None else sl.text, edges, stats))
            continue
        v = np.zeros(0) if sl is None else sl.value
        part = summary_for_tags(
            {name: (t, v, qual)},
            start_ns=start_ns,
            end_ns=end_ns,
            every_ns=every_ns,
            stats=stats,
            config=config,
            stepped_by_tag=stepped,
        )
        parts.append(part.append_column("text", pa.nulls(part.num_rows, pa.string())))
    return pa.concat_tables(parts)
