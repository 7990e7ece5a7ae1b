"""Annotations: notes on a tag or an asset at a time (or over a period), kept in the store.

An annotation is ``(target, time, text, author, end)``: ``target`` a tag name or an asset path
(``SiteA/Area2/Pump1``; the same characters as a tag name, and not required to be defined),
``time`` the instant it refers to, ``end`` an optional end for a note about a period. It is
written like a point -- durable when :meth:`Historian.annotate` returns (one fsync'd,
checksummed file in ``annotations/``, see :mod:`historian.storage.records`) -- and read by any
process without a lock.

**Last write wins** per ``(target, time, author)``: annotating the same instant of the same
target again under the same author replaces the text (and ``end``); another author's note at
the same instant is a second annotation. Every version keeps its ``ingested`` time in the log.

Texts are for people and end up in web pages, terminals and CSV files, so they are checked:
at most :data:`MAX_TEXT_CHARS` characters (:data:`MAX_AUTHOR_CHARS` for an author), no control
characters other than tab and newline (``\\r\\n`` becomes ``\\n``), no bidirectional override or
isolate characters (they can make a text read differently from what it holds), no lone
surrogates. The author defaults to the operating-system user (``getpass.getuser()``), or None
when there is none.

Examples
--------
The functions take the storage engine; ``h.annotate`` and ``h.annotations`` call them.

>>> import tempfile
>>> from historian.storage.store import open_store
>>> with open_store(tempfile.mkdtemp()) as store:
...     _ = annotate(store, "TIC-101.PV", "2026-01-01T08:00Z", "sensor replaced", author="jo")
...     list_annotations(store).select(["target", "text", "author"]).to_pylist()
[{'target': 'TIC-101.PV', 'text': 'sensor replaced', 'author': 'jo'}]
"""

from __future__ import annotations

import getpass
import logging
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa

from historian.errors import InvalidArgumentError, InvalidTagNameError
from historian.model.tags import validate_tag_name
from historian.model.times import MAX_NS, MIN_NS, user_ns, window_ns
from historian.storage.records import append_records, read_records

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

log = logging.getLogger(__name__)

__all__ = [
    "ANNOTATIONS_SCHEMA",
    "MAX_AUTHOR_CHARS",
    "MAX_TEXT_CHARS",
    "ReadResult",
    "annotate",
    "clean_text",
    "counted_times",
    "default_author",
    "list_annotations",
    "read_result",
    "times_by_target",
]

#: The longest annotation text (characters).
MAX_TEXT_CHARS = 4000
#: The longest author name (characters).
MAX_AUTHOR_CHARS = 120
_TS = pa.timestamp("ns", tz="UTC")
ANNOTATIONS_SCHEMA = pa.schema(
    [
        pa.field("target", pa.string(), nullable=False),
        pa.field("time", _TS, nullable=False),
        pa.field("end", _TS),
        pa.field("text", pa.string(), nullable=False),
        pa.field("author", pa.string()),
        pa.field("ingested", _TS, nullable=False),
    ]
)
# Bidirectional embeddings, overrides and isolates ("Trojan Source", CVE-2021-42574).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ReadResult(NamedTuple):
    """``h.read(..., annotations=True)``: the points and the annotations of the same tags and
    window, as two tables (``points, notes = h.read(...)``)."""

    points: pa.Table
    annotations: pa.Table


def clean_text(value: Any, what: str, limit: int, *, newlines: bool) -> str:
    """``value`` checked as a text for people (see the module docstring); ``\\r\\n`` -> ``\\n``.

    >>> clean_text("ok\\r\\nsecond line", "text", 100, newlines=True)
    'ok\\nsecond line'
    >>> clean_text("a\\x1b[31m", "text", 100, newlines=True)
    Traceback (most recent call last):
    ...
    historian.errors.InvalidArgumentError: text holds the control character U+001B at \
position 1; remove it (only tab and newline are allowed)
    """
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a str, not {type(value).__name__}")
    text = value.replace("\r\n", "\n")
    if not text.strip():
        raise InvalidArgumentError(f"{what} is empty; write something people can read")
    if len(text) > limit:
        raise InvalidArgumentError(f"{what} is {len(text):,} characters; the limit is {limit:,} "
                                   "(shorten it, or link to a document)")  # fmt: skip
    allowed = "\t\n" if newlines else ""
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if (cat == "Cc" and ch not in allowed) or ch in "\u2028\u2029":
            raise InvalidArgumentError(
                f"{what} holds the control character U+{ord(ch):04X} at position {i}; remove it "
                + ("(only tab and newline are allowed)" if newlines else
                   "(a single line of printable characters)"))  # fmt: skip
        if ch in _BIDI:
            raise InvalidArgumentError(
                f"{what} holds the bidirectional control U+{ord(ch):04X} at position {i}, which "
                "can make a text display differently from what it holds; remove it"
            )
        if cat == "Cs":
            raise InvalidArgumentError(f"{what} holds a lone surrogate at position {i} (not "
                                       "valid Unicode text); fix the encoding")  # fmt: skip
    return text


def default_author() -> str | None:
    """The operating-system user name, or None when there is none (a container without one)."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError, ImportError):
        return None
    try:
        return clean_text(name, "author", MAX_AUTHOR_CHARS, newlines=False)
    except InvalidArgumentError:
        return None


def _author(author: Any) -> str | None:
    if author is None:
        return default_author()
    return clean_text(author, "author", MAX_AUTHOR_CHARS, newlines=False)


def _target(target: Any) -> str:
    """A tag name, or an asset path of :mod:`historian.assets` (``_Site/...`` is a path, not
    a tag name)."""
    try:
        return validate_tag_name(target)
    except InvalidTagNameError as exc:  # say it is about the target
        from historian.assets.names import validate_path

        try:
            return validate_path(target)
        except InvalidArgumentError:
            pass
        raise InvalidTagNameError(f"annotation target: {exc} (a tag name or an asset path "
                                  "such as 'SiteA/Area2/Pump1')") from None  # fmt: skip


def annotate(
    store: Store, target: str, time: Any, text: str, *, author: str | None = None, end: Any = None
) -> pa.Table:
    """:meth:`Historian.annotate`: write one annotation; durable on return. Returns it as a
    one-row table of :data:`ANNOTATIONS_SCHEMA`."""
    name = _target(target)
    t = user_ns(time)
    e = None if end is None else user_ns(end)
    if e is not None and e < t:
        raise InvalidArgumentError(
            f"annotation end {end!r} is before its time {time!r}; swap "
            "them, or leave end out for a note about one instant"
        )
    record = {"target": name, "time": t, "end": e,
              "text": clean_text(text, "text", MAX_TEXT_CHARS, newlines=True),
              "author": _author(author)}  # fmt: skip
    append_records(store, "annotations", [record])
    return _table([record])


def _latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Last write wins per (target, time, author); sorted by target, time, author."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records:
        key = (r["target"], r["time"], r.get("author"))
        old = best.get(key)
        if old is None or int(r["ingested"]) >= int(old["ingested"]):
            best[key] = r
    return [best[k] for k in sorted(best, key=lambda k: (k[0], k[1], k[2] or ""))]


def _table(records: list[dict[str, Any]]) -> pa.Table:
    cols = {f.name: [r.get(f.name) for r in records] for f in ANNOTATIONS_SCHEMA}
    return pa.Table.from_pydict(
        {k: pa.array(v, pa.int64()).cast(_TS) if ANNOTATIONS_SCHEMA.field(k).type == _TS
         else pa.array(v, pa.string()) for k, v in cols.items()},
        schema=ANNOTATIONS_SCHEMA,
    )  # fmt: skip


def _names(targets: str | Iterable[str] | None) -> set[str] | None:
    if targets is None:
        return None
    if isinstance(targets, str):
        return {_target(targets)}
    return {_target(t) for t in targets}


def _window(start: Any, end: Any) -> tuple[int, int]:
    if start is not None and end is not None:
        return window_ns(start, end, empty=True)
    return (MIN_NS if start is None else user_ns(start)), (MAX_NS if end is None else user_ns(end))


def select(
    store: Store, targets: str | Iterable[str] | None, start_ns: int, end_ns: int
) -> list[dict[str, Any]]:
    """The current annotations of ``targets`` (None: all) that touch ``[start, end)``: an
    instant in it, or a period that overlaps it."""
    names = _names(targets)
    out = []
    for r in _latest(read_records(store, "annotations")):
        if names is not None and r["target"] not in names:
            continue
        t, e = int(r["time"]), r.get("end")
        if e is None or int(e) == t:
            keep = start_ns <= t < end_ns
        else:
            keep = t < end_ns and int(e) > start_ns
        if keep:
            out.append(r)
    return out


def list_annotations(
    store: Store, targets: str | Iterable[str] | None = None, start: Any = None, end: Any = None
) -> pa.Table:
    """:meth:`Historian.annotations`: the current annotations as a table (see the module)."""
    start_ns, end_ns = _window(start, end)
    return _table(select(store, targets, start_ns, end_ns))


def read_result(
    store: Store, points: pa.Table, tags: str | Iterable[str] | None, start: Any, end: Any
) -> ReadResult:
    """``h.read(..., annotations=True)``: ``points`` and the annotations of the same tags that
    touch the same window."""
    return ReadResult(points, list_annotations(store, store.resolve_tags(tags), start, end))


def counted_times(store: Store, names: list[str], stats: Any) -> dict[str, np.ndarray] | None:
    """The annotation times per tag when ``stats`` asks for AnnotationCount, else None (no
    annotation file is read for summaries that do not count them)."""
    from historian.kernels import resolve_stat
    from historian.kernels.aggregates import ANNOTATION_AGGREGATES

    wanted = [stats] if isinstance(stats, str) else list(stats or ())
    if not any(isinstance(x, str) and resolve_stat(x) in ANNOTATION_AGGREGATES for x in wanted):
        return None
    return times_by_target(store, names)


def times_by_target(
    store: Store, names: Iterable[str], start_ns: int = MIN_NS, end_ns: int = MAX_NS
) -> dict[str, np.ndarray]:
    """Annotation times (sorted int64 ns) per target of ``names``: what AnnotationCount counts
    (an annotation counts at its ``time``)."""
    wanted = list(names)
    found: dict[str, list[int]] = {n: [] for n in wanted}
    for r in select(store, wanted, start_ns, end_ns):
        found[r["target"]].append(int(r["time"]))
    return {n: np.sort(np.array(v, dtype=np.int64)) for n, v in found.items()}
