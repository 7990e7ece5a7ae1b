"""The tag catalog calls of a store: define, look up, list and resolve tag names.

Definitions are versioned (``tag_versions``) and written to ``tags.json`` by an atomic replace;
a changed definition merges with the stored one. The functions take the
:class:`~historian.storage.store.Store` whose catalog they use; its methods call them in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.model.tags import UNSET, Tag, validate_tag_name

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store


def define(
    store: Store,
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
    type: str = UNSET,  # the tag's value type, as in Tag
) -> Tag:
    """Define a tag, or update one; returns the stored definition (``Store.define``)."""
    given = {
        k: v
        for k, v in (("unit", unit), ("kind", kind), ("lo", lo), ("hi", hi),
                     ("rules", rules), ("description", description),
                     ("compression", compression), ("states", states),
                     ("metadata", metadata), ("type", type))
        if v is not UNSET
    }  # fmt: skip
    return store.define_many({name: given}, replace=replace)[0]


def define_many(
    store: Store, definitions: Mapping[str, Mapping[str, Any]], *, replace: bool = False
) -> list[Tag]:
    """:meth:`Store.define_many` (its docstring has the contract)."""
    allowed = ("unit", "kind", "lo", "hi", "rules", "description", "compression",
               "states", "metadata", "type")  # fmt: skip
    pending: list[tuple[str, dict[str, Any]]] = []
    for name, settings in definitions.items():
        unknown = sorted(set(settings) - set(allowed))
        if unknown:
            raise InvalidArgumentError(f"define_many: tag {name!r}: unknown settings "
                                       f"{unknown}; use {', '.join(allowed)}")  # fmt: skip
        given = {k: v for k, v in settings.items() if v is not UNSET}
        for k in ("rules", "compression", "states", "metadata"):
            if k in given:
                given[k] = dict(given[k] or {})
        name = validate_tag_name(name)
        check_rules(store, merged_tag(store, name, given, replace))  # before the lock
        pending.append((name, given))
    store._become_writer()
    return store._catalog.put_many([merged_tag(store, n, g, replace) for n, g in pending])


def merged_tag(store: Store, name: str, given: dict[str, Any], replace: bool) -> Tag:
    fields: dict[str, Any] = {}
    if not replace and name in store._catalog:
        fields = store._catalog.get(name).to_dict()
        fields.pop("version")
    return Tag(**{**fields, **given, "name": name})


def tag_versions(store: Store, name: str) -> list[Tag]:
    """:meth:`Store.tag_versions` (its docstring has the contract)."""
    store._check_open()
    return [t for t, _ in store._catalog.versions(name)]


def check_rules(store: Store, tag: Tag) -> None:
    if tag.rules:
        from historian.storage.qualifying import validate_rules

        validate_rules(tag)


def tag(store: Store, name: str) -> Tag:
    """:meth:`Store.tag` (its docstring has the contract)."""
    store._check_open()
    return store._catalog.get(name)


def tags(store: Store, pattern: str | None = None) -> pa.Table:
    """:meth:`Store.tags` (its docstring has the contract)."""
    store._check_open()
    rows = store._catalog.search(pattern)
    return pa.table(
        {
            "name": pa.array([t.name for t in rows], pa.string()),
            "unit": pa.array([t.unit for t in rows], pa.string()),
            "kind": pa.array([t.kind for t in rows], pa.string()),
            "lo": pa.array([t.lo for t in rows], pa.float64()),
            "hi": pa.array([t.hi for t in rows], pa.float64()),
            "description": pa.array([t.description for t in rows], pa.string()),
            "version": pa.array([t.version for t in rows], pa.int32()),
            "type": pa.array([t.type for t in rows], pa.string()),  # number | string
        }
    )


def resolve_tags(store: Store, tags: str | Iterable[str] | None) -> list[str]:
    """:meth:`Store.resolve_tags` (its docstring has the contract)."""
    store._check_open()  # every call that names tags refuses a closed store
    if tags is None:
        return [t.name for t in store._catalog.all()]
    names = [tags] if isinstance(tags, str) else list(tags)
    for name in names:
        if not isinstance(name, str):
            raise InvalidDataError(f"tag names must be str, got {name!r}")
        validate_tag_name(name)
    store._catalog.get_many(names)  # unknown names raise
    return list(dict.fromkeys(names))


def is_stepped(store: Store, tags: Sequence[str]) -> dict[str, bool]:
    """:meth:`Store.is_stepped` (its docstring has the contract)."""
    return {t.name: t.stepped for t in store._catalog.get_many(tags)}


def tags_of(store: Store, names: Iterable[str]) -> list[Tag]:
    """:meth:`Store.tags_of` (its docstring has the contract)."""
    store._check_open()
    return store._catalog.get_many(names)
