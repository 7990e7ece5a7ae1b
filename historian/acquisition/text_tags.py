"""Text tags found by a source: defined ``type="string"`` before their first value is written.

An OPC UA source reads the DataType of its nodes when it connects; the tags of String and
LocalizedText variables are reported here, and :class:`TextTyper` defines them as text tags in
one catalog write, unless

- the config gives the point a ``type`` (``"number"`` or ``"string"``: the config decides), or
- the tag already holds numbers (a finite value in the store): it is never retyped silently; a
  WARNING names it and it stays a number tag whose points carry the text.

A tag is never changed back to a number tag.

Examples
--------
>>> import tempfile, pathlib, historian
>>> h = historian.open(pathlib.Path(tempfile.mkdtemp()) / "plant.hist")
>>> _ = h.define_many({"L1.BATCH": {}, "L1.TEMP": {}})
>>> TextTyper(h, fresh={"L1.BATCH", "L1.TEMP"}).retype(["L1.BATCH"])
['L1.BATCH']
>>> h.tag("L1.BATCH").type, h.tag("L1.TEMP").type
('string', 'number')
>>> h.close()
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from historian.errors import HistorianError, TagNotFoundError

__all__ = ["TextTyper"]

logger = logging.getLogger(__name__)


class TextTyper:
    """Decides which reported text tags become ``type="string"``, and defines them.

    Parameters
    ----------
    store : Historian-like
        ``define_many`` (or ``define``), ``tag`` and ``sql`` are used when present.
    explicit : mapping of str to str
        Tags whose point has a ``type`` in the config: left as the config defined them.
    fresh : collection of str
        Tags that were unknown to the store when the collector started (no history to check).
    """

    def __init__(self, store: Any, explicit: Mapping[str, str] | None = None,
                 fresh: Collection[str] = ()) -> None:  # fmt: skip
        self.store = store
        self.explicit = dict(explicit or {})
        self.fresh = set(fresh)
        self._settled: set[str] = set()  # decided once: text now, or kept a number tag

    def retype(self, names: Sequence[str]) -> list[str]:
        """Define the text tags among ``names`` ``type="string"`` (one catalog write); returns
        the tags retyped now. Blocking (the collector runs it in a worker thread)."""
        skip = self._settled | set(self.explicit)
        todo = [n for n in dict.fromkeys(names) if n not in skip and not self._is_text(n)]
        numeric = self._holding_numbers([n for n in todo if n not in self.fresh])
        for name in todo:
            self._settled.add(name)
            if name in numeric:
                logger.warning("collector: tag %r: its node holds texts (DataType String or "
                               "LocalizedText) but the tag holds numbers; it stays a number tag "
                               "whose points carry the texts (set type = \"string\" on a new tag "
                               "name to store it as a text tag)", name)  # fmt: skip
        retype = [n for n in todo if n not in numeric]
        if not retype:
            return []
        define_many = getattr(self.store, "define_many", None)
        if define_many is not None:
            define_many({n: {"type": "string"} for n in retype})
        else:
            for n in retype:
                self.store.define(n, type="string")
        logger.info(
            "collector: %d tag(s) defined as text tags from their DataType: %s",
            len(retype),
            ", ".join(retype[:10]) + (" ..." if len(retype) > 10 else ""),
        )
        return retype

    def _is_text(self, name: str) -> bool:
        try:
            tag = self.store.tag(name)
        except (TagNotFoundError, AttributeError):  # unknown, or a sink without tag()
            return False
        return bool(getattr(tag, "is_text", False))

    def _holding_numbers(self, names: list[str]) -> set[str]:
        """The tags among ``names`` with a finite value in the store (all of them when the
        store cannot tell: never retype what might hold numbers)."""
        if not names:
            return set()
        sql = getattr(self.store, "sql", None)
        if sql is None:
            return set(names)
        try:
            rows = sql("SELECT DISTINCT tag FROM points WHERE list_contains($names, tag) "
                       "AND isfinite(value)", {"names": names}).fetchall()  # fmt: skip
        except HistorianError as exc:
            logger.warning("collector: cannot tell whether tags %s hold numbers (%s); they stay "
                           "number tags", names[:10], exc)  # fmt: skip
            return set(names)
        return {str(r[0]) for r in rows}
