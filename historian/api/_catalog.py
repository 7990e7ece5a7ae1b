"""Tags and assets: define, look up, rename and delete tags; the asset model.

Methods of :class:`historian.api.Historian` (bound in its class body, see
:mod:`historian.api._method`); the storage calls delegate to the ``Store`` in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from historian.api._method import boundary, method
from historian.model.tags import UNSET, Tag

if TYPE_CHECKING:
    from historian.api import Historian
    from historian.assets import AssetModel


@boundary
def define(
    self: Historian,
    name: str,
    *,
    unit: str = UNSET,
    kind: str = UNSET,
    lo: float | None = UNSET,
    hi: float | None = UNSET,
    rules: dict[str, Any] | None = UNSET,
    description: str = UNSET,
    compression: dict[str, Any] | None = UNSET,
    states: dict[int, str] | None = UNSET,
    metadata: dict[str, Any] | None = UNSET,
    replace: bool = False,
    type: str = UNSET,  # "number" or "string" (a text tag), as Tag.type
) -> Tag:
    """Define a tag, or update one; returns the stored definition.

    On an existing tag only the fields given change: ``h.define(name, unit="K")`` keeps its
    range, description and rules (pass ``lo=None`` to clear a limit, ``rules={}`` to drop
    the rules). ``replace=True`` starts from the defaults instead, as for a new tag. Every
    change increments ``version``; the replaced definitions are kept
    (:meth:`tag_versions`). ``type="string"`` makes a text tag (batch IDs, recipes, state
    texts: ``h.write(name, times, ["B-001", ...])``), always a step tag (docs/format.md).

    Examples
    --------
    >>> import historian, tempfile
    >>> h = historian.open(tempfile.mkdtemp())
    >>> h.define("TIC-101.PV", unit="degC", lo=0, hi=200).version
    1
    >>> t = h.define("TIC-101.PV", unit="K")           # lo/hi kept
    >>> t.unit, t.hi, t.version
    ('K', 200.0, 2)
    >>> h.define("TIC-101.PV", unit="K", replace=True).hi is None
    True
    >>> h.define("BATCH.ID", type="string").kind
    'step'
    >>> h.close()
    """
    return self._store.define(
        name,
        unit=unit,
        kind=kind,
        lo=lo,
        hi=hi,
        rules=rules,
        description=description,
        compression=compression,
        states=states,
        metadata=metadata,
        replace=replace,
        type=type,
    )


@method
def define_many(
    self: Historian, definitions: Mapping[str, Mapping[str, Any]], *, replace: bool = False
) -> list[Tag]:
    """Define or update many tags in one write of the catalog; returns the stored
    definitions in the order given.

    ``definitions`` maps each name to the keyword arguments :meth:`define` takes (``unit``,
    ``kind``, ``lo``, ``hi``, ``rules``, ...); the same merge rules apply. All or none: a
    bad definition raises before anything is written. A collector with 10,000 tags starts
    in one catalog write instead of 10,000.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     tags = h.define_many({"TIC-101.PV": {"unit": "degC"}, "FIC-101.PV": {}})
    ...     [(t.name, t.unit) for t in tags]
    [('TIC-101.PV', 'degC'), ('FIC-101.PV', '')]
    """
    return self._store.define_many(definitions, replace=replace)


@boundary
def tag(self: Historian, name: str) -> Tag:
    """The definition of one tag (raises :class:`~historian.errors.TagNotFoundError`).

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TIC-101.PV", unit="degC", lo=0, hi=200)
    ...     h.tag("TIC-101.PV").hi
    200.0
    """
    return self._store.tag(name)


@boundary
def tag_versions(self: Historian, name: str) -> list[Tag]:
    """Every definition of ``name``, oldest first; the last one is the current.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TIC-101.PV", unit="degC", hi=100)
    ...     _ = h.define("TIC-101.PV", hi=150)
    ...     [(t.version, t.hi) for t in h.tag_versions("TIC-101.PV")]
    [(1, 100.0), (2, 150.0)]
    """
    return self._store.tag_versions(name)


@boundary
def tags(self: Historian, pattern: str | None = None) -> pa.Table:
    """Defined tags as a table; ``pattern`` is a glob (``"TIC-*"``) or ``"re:<regex>"``.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     for name in ("TIC-101.PV", "TIC-101.SP", "FIC-104.PV"):
    ...         _ = h.define(name)
    ...     h.tags("TIC-*").column("name").to_pylist()
    ['TIC-101.PV', 'TIC-101.SP']
    """
    return self._store.tags(pattern)


@method
def resolve_tags(self: Historian, tags: str | Iterable[str] | None) -> list[str]:
    """The known tag names ``tags`` stands for: one name, a list (validated, de-duplicated,
    in order) or None for every defined tag; an unknown name raises TagNotFoundError.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A"); _ = h.define("B")
    ...     h.resolve_tags(["B", "A", "B"]), h.resolve_tags(None)
    (['B', 'A'], ['A', 'B'])
    """
    return self._store.resolve_tags(tags)


@method
def is_stepped(self: Historian, tags: Sequence[str]) -> dict[str, bool]:
    """Per tag of ``tags`` (known names): True for a step tag (values held between
    samples), False for an analog one (interpolated linearly).

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A"); _ = h.define("RUN", kind="step")
    ...     h.is_stepped(["A", "RUN"])
    {'A': False, 'RUN': True}
    """
    return self._store.is_stepped(tags)


@boundary
def delete_tag(self: Historian, name: str) -> int:
    """Delete a tag: its points (as :meth:`delete`) and its definition, which stays in the
    catalog's history (``tags.json``) with the time it was deleted; returns rows removed.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("OLD.TAG")
    ...     _ = h.write("OLD.TAG", [0, 1], [1.0, 2.0])
    ...     h.delete_tag("OLD.TAG"), h.tags().num_rows
    (2, 0)
    """
    return self._store.delete_tag(name)


@boundary
def rename_tag(self: Historian, old: str, new: str) -> Tag:
    """Rename a tag: its definition and every stored row (versions and ingest stamps kept,
    so ``as_of`` reads still work) move to ``new``, in one Delta commit with operation
    ``"rename"``; the catalog's history of ``new`` records where it came from. ``new``
    must not be defined yet. Stop writers of ``old`` first. Returns the new definition.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TI-1", unit="degC")
    ...     _ = h.write("TI-1", [0], [20.0])
    ...     t = h.rename_tag("TI-1", "TI-101.PV")
    ...     t.unit, h.read("TI-101.PV").num_rows, h.tags().column("name").to_pylist()
    ('degC', 1, ['TI-101.PV'])
    """
    return self._store.rename_tag(old, new)


@method
def assets(self: Historian) -> AssetModel:
    """The store's asset model (:class:`historian.assets.AssetModel`, ``docs/assets.md``):
    templates, assets on one path each, derived attributes, queries by path and template.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.assets.add("SiteA/Area2/P-101", level="equipment_module")
    ...     h.assets.find("SiteA/**").column("path").to_pylist()
    ['SiteA/Area2/P-101']
    """
    from historian.assets import AssetModel

    self._store.check_open()
    return AssetModel(self, check_open=self._store.check_open)
