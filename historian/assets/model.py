"""The asset model as data: templates, assets (one path each), their versions, validation.

:class:`ModelState` is a plain container with the pure operations (define a template, add or
remove an asset, resolve an asset's attributes, find by path and template) and the JSON shape
that :mod:`historian.assets.persist` stores. It never does I/O: :class:`AssetModel
<historian.assets.facade.AssetModel>` loads, changes and saves it.

Every change of a template or an asset increments its ``version`` and keeps the definition it
replaces in ``history`` (with the UTC time it was replaced), as the tag catalog does.

Examples
--------
>>> s = ModelState()
>>> _ = s.define_template("Pump", {"Flow": {"tag": "{asset}.FI", "unit": "m3/h"}})
>>> _ = s.add("SiteA/Area2/P-101", template="Pump", level="equipment_module")
>>> s.attributes_of("SiteA/Area2/P-101")["Flow"].tag_for("SiteA/Area2/P-101")
'P-101.FI'
>>> [a.path for a in s.find("SiteA/**", template="Pump")]
['SiteA/Area2/P-101']
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from historian.assets.names import (
    path_matches,
    validate_attribute_name,
    validate_name,
    validate_path,
    validate_pattern,
)
from historian.assets.templates import MAX_ATTRIBUTES, Attribute, Template, as_attribute
from historian.errors import AssetNotFoundError, InvalidArgumentError

__all__ = ["ISA95_LEVELS", "MAX_ASSETS", "Asset", "ModelState"]

#: ISA-95 (IEC 62264) and ISA-88 equipment hierarchy levels an asset may name.
ISA95_LEVELS = (
    "enterprise",
    "site",
    "area",
    "work_center",
    "process_cell",
    "production_unit",
    "production_line",
    "storage_zone",
    "unit",
    "work_unit",
    "work_cell",
    "storage_unit",
    "equipment_module",
    "control_module",
)
#: Most assets one model holds ("sized for a library": a plant's equipment, not a fleet's).
MAX_ASSETS = 100_000
_FORMAT = 1


@dataclass(frozen=True)
class Asset:
    """One asset: its path, template, ISA-95 level, description and attribute overrides.

    ``overrides`` maps an attribute name to the fields that differ from the template's
    attribute (``{"Flow": {"tag": "FI-7.PV"}}``), or to the whole definition of an attribute
    the template does not have.
    """

    path: str
    template: str | None = None
    level: str | None = None
    description: str = ""
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 1

    @property
    def name(self) -> str:
        """The last path segment."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str | None:
        """The parent's path (None at the top)."""
        return self.path.rsplit("/", 1)[0] if "/" in self.path else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "template": self.template,
            "level": self.level,
            "description": self.description,
            "version": self.version,
            "overrides": {k: dict(v) for k, v in sorted(self.overrides.items())},
        }


def _level(level: Any) -> str | None:
    if level is None:
        return None
    if not isinstance(level, str):
        raise InvalidArgumentError(f"level must be a str, not {type(level).__name__}")
    norm = level.strip().lower().replace(" ", "_").replace("-", "_")
    if norm not in ISA95_LEVELS:
        raise InvalidArgumentError(
            f"unknown ISA-95 level {level[:40]!r}; use one of {', '.join(ISA95_LEVELS)} (or none)"
        )
    return norm


def _overrides(value: Any) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            "overrides must be a dict {attribute: {field: value}}, e.g. "
            f"{{'Flow': {{'tag': 'FI-7.PV'}}}}, not {type(value).__name__}"
        )
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidArgumentError(f"at most {MAX_ATTRIBUTES} attribute overrides per asset")
    out: dict[str, dict[str, Any]] = {}
    for name, changes in value.items():
        validate_attribute_name(name)
        if isinstance(changes, Attribute):
            changes = changes.to_dict()
        elif isinstance(changes, str):
            changes = {"tag": changes}
        if not isinstance(changes, Mapping):
            raise InvalidArgumentError(
                f"the override of {name!r} must be a dict of fields (tag=..., unit=...) or a "
                f"tag pattern, not {type(changes).__name__}"
            )
        out[name] = dict(changes)
    return out


def _now() -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime())


class ModelState:
    """Templates and assets of one store, with their history (see the module docstring)."""

    def __init__(self) -> None:
        self.templates: dict[str, Template] = {}
        self.assets: dict[str, Asset] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}

    # --- templates
    def define_template(
        self, name: str, attributes: Mapping[str, Any] | None = None, description: str = ""
    ) -> Template:
        """Add or replace a template; every asset using it must stay valid (else nothing
        changes)."""
        new = Template.build(validate_name(name), attributes, description)
        old = self.templates.get(name)
        if old is not None:
            if old.to_dict() == {**new.to_dict(), "version": old.version}:
                return old
            new = replace(new, version=old.version + 1)
        previous = dict(self.templates)
        self.templates[name] = new
        try:
            for asset in self.assets.values():
                if asset.template == name:
                    self.attributes_of(asset.path)
        except InvalidArgumentError:
            self.templates = previous
            raise
        if old is not None:
            self._keep(f"template:{name}", old.to_dict())
        return new

    def template(self, name: str) -> Template:
        try:
            return self.templates[name]
        except (KeyError, TypeError):
            raise AssetNotFoundError(
                f"unknown template {name!r}: define it first with "
                f"h.assets.define_template({name!r}, attributes={{...}}); known: "
                f"{sorted(self.templates)[:20]}"
            ) from None

    # --- assets
    def add(
        self,
        path: str,
        template: str | None = None,
        level: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> Asset:
        """Add or replace the asset at ``path`` (validated with its attributes)."""
        validate_path(path)
        if template is not None:
            self.template(template)
        if not isinstance(description, str) or len(description) > 1000:
            raise InvalidArgumentError("description must be a str of at most 1000 characters")
        new = Asset(path, template, _level(level), description, _overrides(overrides))
        old = self.assets.get(path)
        if old is None and len(self.assets) >= MAX_ASSETS:
            raise InvalidArgumentError(f"the model holds {MAX_ASSETS} assets, the most allowed")
        if old is not None:
            if old.to_dict() == {**new.to_dict(), "version": old.version}:
                return old
            new = replace(new, version=old.version + 1)
        self._resolve(new)  # validate before anything changes
        self.assets[path] = new
        if old is not None:
            self._keep(f"asset:{path}", old.to_dict())
        return new

    def remove(self, path: str) -> Asset:
        """Take the asset at ``path`` out (its definition joins its history)."""
        gone = self.asset(path)
        del self.assets[path]
        self._keep(f"asset:{path}", {**gone.to_dict(), "deleted": True})
        return gone

    def asset(self, path: str) -> Asset:
        try:
            return self.assets[path]
        except (KeyError, TypeError):
            raise AssetNotFoundError(
                f"unknown asset {path!r}: add it with h.assets.add({path!r}, template=...) or "
                "list the assets with h.assets.find()"
            ) from None

    def _keep(self, key: str, old: dict[str, Any]) -> None:
        self.history[key] = [*self.history.get(key, []), {**old, "replaced_at": _now()}]

    # --- resolution
    def attributes_of(self, path: str) -> dict[str, Attribute]:
        """The attributes of the asset at ``path``: template with overrides, validated."""
        return self._resolve(self.asset(path))

    def _resolve(self, asset: Asset) -> dict[str, Attribute]:
        base = {} if asset.template is None else dict(self.template(asset.template).attributes)
        for name, changes in asset.overrides.items():
            try:
                base[name] = (
                    base[name].with_changes(changes)
                    if name in base
                    else as_attribute(name, changes)
                )
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(
                    f"asset {asset.path!r}, attribute {name!r}: {exc}"
                ) from None
        for attr in base.values():
            attr.tag_for(asset.path)  # the rendered tag name must be valid
            missing = [n for n in attr.names if n not in base]
            if missing:
                raise InvalidArgumentError(
                    f"asset {asset.path!r}: derived attribute {attr.name!r} names {missing}, "
                    f"which it does not have (its attributes: {sorted(base)})"
                )
        _check_acyclic(asset.path, base)
        return base

    # --- queries
    def find(self, pattern: str | None = None, template: str | None = None) -> list[Asset]:
        """Assets whose path matches ``pattern`` (see :mod:`historian.assets.names`) and, when
        given, whose template is ``template``; sorted by path."""
        if pattern is not None:
            validate_pattern(pattern)
        if template is not None:
            self.template(template)
        return [
            a
            for p, a in sorted(self.assets.items())
            if (pattern is None or path_matches(pattern, p))
            and (template is None or a.template == template)
        ]

    def versions(self, key: str) -> list[dict[str, Any]]:
        """Every definition ``key`` (``"asset:<path>"`` or ``"template:<name>"``) has had,
        oldest first, the current one last (without ``replaced_at``)."""
        kind, _, name = key.partition(":")
        current: Any = (self.assets if kind == "asset" else self.templates).get(name)
        old = list(self.history.get(key, []))
        if current is None and not old:
            raise AssetNotFoundError(f"no {kind} {name!r} now or in the history")
        return old if current is None else [*old, current.to_dict()]

    # --- JSON
    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": _FORMAT,
            "templates": [self.templates[k].to_dict() for k in sorted(self.templates)],
            "assets": [self.assets[k].to_dict() for k in sorted(self.assets)],
        }
        if self.history:
            doc["history"] = {k: self.history[k] for k in sorted(self.history)}
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ModelState:
        """A state from :meth:`to_doc`'s shape, every definition validated again."""
        if doc.get("format", _FORMAT) != _FORMAT:
            raise InvalidArgumentError(
                f"asset model format {doc.get('format')!r} is not {_FORMAT}: upgrade historian"
            )
        s = cls()
        for t in doc.get("templates", []):
            s.templates[t["name"]] = Template.build(
                t["name"], t.get("attributes"), t.get("description", ""), int(t.get("version", 1))
            )
        for a in doc.get("assets", []):
            asset = Asset(
                validate_path(a["path"]),
                a.get("template"),
                _level(a.get("level")),
                a.get("description", ""),
                _overrides(a.get("overrides")),
                int(a.get("version", 1)),
            )
            s._resolve(asset)
            s.assets[asset.path] = asset
        s.history = {str(k): list(v) for k, v in dict(doc.get("history", {})).items()}
        return s


def _check_acyclic(path: str, attrs: Mapping[str, Attribute]) -> None:
    """Refuse derived attributes that depend on themselves through others."""
    state: dict[str, int] = {}
    for start in attrs:
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(attrs[start].names))]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(iter(children), None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                raise InvalidArgumentError(
                    f"asset {path!r}: derived attributes depend on each other in a circle "
                    f"({' -> '.join([n for n, _ in stack] + [child])})"
                )
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(attrs[child].names)))


def evaluation_order(attrs: Mapping[str, Attribute], wanted: Iterable[str]) -> list[str]:
    """The attributes needed for ``wanted``, each after the ones it reads (acyclic input)."""
    order: list[str] = []
    seen: set[str] = set()
    for w in wanted:
        stack = [(w, False)]
        while stack:
            node, done = stack.pop()
            if done:
                if node not in seen:
                    seen.add(node)
                    order.append(node)
                continue
            if node in seen:
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in attrs[node].names if c not in seen)
    return order
