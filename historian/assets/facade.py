"""``h.assets``: the asset model of a store, edited from Python or TOML, queried by path.

:class:`AssetModel` joins the pure model (:mod:`historian.assets.model`), its file in the
store (:mod:`historian.assets.persist`) and the queries (:mod:`historian.assets.queries`).
Each edit is one atomic change of ``assets.json``; each query reads the current model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pyarrow as pa

from historian.assets import _query_methods
from historian.assets import queries as _q
from historian.assets.model import ModelState
from historian.assets.persist import AssetFile
from historian.assets.templates import Template
from historian.assets.tomlio import dump_toml, parse_toml
from historian.assets.units import unit as _unit
from historian.errors import ConfigError, InvalidArgumentError, argument_errors

__all__ = ["AssetModel"]

_T = TypeVar("_T")

_FIND_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("name", pa.string()),
        ("parent", pa.string()),
        ("level", pa.string()),
        ("template", pa.string()),
        ("description", pa.string()),
        ("version", pa.int64()),
    ]
)
_ATTR_SCHEMA = pa.schema(
    [
        ("asset", pa.string()),
        ("attribute", pa.string()),
        ("tag", pa.string()),
        ("expression", pa.string()),
        ("unit", pa.string()),
        ("symbol", pa.string()),
        ("unit_id", pa.int32()),
        ("kind", pa.string()),
        ("lo", pa.float64()),
        ("hi", pa.float64()),
        ("description", pa.string()),
        ("quality", pa.string()),
    ]
)


class AssetModel:
    """The asset model of one store: templates, assets on one path each, derived attributes.

    Get it as ``h.assets``. Edits are stored at once in the store folder (``assets.json``,
    versioned like tags); queries return long Arrow tables with an ``asset`` column.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     m = AssetModel(h)
    ...     _ = m.define_template("Pump", attributes={
    ...         "Flow": {"tag": "{asset}.FI.PV", "unit": "m3/h", "lo": 0, "hi": 120},
    ...         "Head": {"tag": "{asset}.PI.PV", "unit": "m"},
    ...         "Power": {"expression": "Flow * Head / 367", "unit": "kW"}})
    ...     _ = m.add("SiteA/Area2/P-101", template="Pump", level="equipment_module")
    ...     m.attribute_tags("SiteA/**").select(["attribute", "tag", "symbol"]).to_pylist()[0]
    {'attribute': 'Flow', 'tag': 'P-101.FI.PV', 'symbol': 'm³/h'}
    """

    def __init__(self, historian: Any, *, check_open: Callable[[], None] | None = None) -> None:
        from historian.storage.fs import StoreFS

        self._h = historian
        self._check_open = check_open or (lambda: None)
        fs = StoreFS.from_uri(historian.path, historian.storage_options)
        self._file = AssetFile(fs, read_only=historian.mode == "r")

    def _state(self) -> ModelState:
        self._check_open()
        return self._file.state()

    def _update(self, change: Callable[[ModelState], _T]) -> _T:
        self._check_open()
        return self._file.update(change)

    def __repr__(self) -> str:
        s = self._state()
        return (
            f"<historian asset model of {self._h.path!r}: {len(s.templates)} templates, "
            f"{len(s.assets)} assets>"
        )

    # --- editing
    def define_template(
        self, name: str, attributes: Mapping[str, Any] | None = None, *, description: str = ""
    ) -> Template:
        """Add or replace template ``name``: ``attributes`` maps an attribute name to a dict of
        fields (``tag`` pattern or ``expression``, ``unit``, ``symbol``, ``kind``, ``lo``,
        ``hi``, ``description``, ``quality``; see :class:`historian.assets.Attribute`) or to a
        tag pattern string. A change that would make an asset using it invalid is refused.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     t = h.assets.define_template("Tank", {"Level": "{asset}.LI.PV"})
        ...     t.attributes["Level"].tag, t.version
        ('{asset}.LI.PV', 1)
        """
        with argument_errors("h.assets.define_template"):
            return self._update(lambda s: s.define_template(name, attributes, description))

    def add(
        self,
        path: str,
        template: str | None = None,
        level: str | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """Add (or replace) the asset at ``path`` (``Site/Area/Unit/Equipment``).

        ``template``: a defined template; ``level``: an ISA-95/ISA-88 level (``"site"``,
        ``"area"``, ``"unit"``, ``"equipment_module"`` ...); ``overrides``: per attribute the
        fields that differ for this asset (``{"Flow": {"tag": "FI-7.PV"}}``), or whole new
        attributes. Returns the stored definition (with its ``version``).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.define_template("Tank", {"Level": "{asset}.LI.PV"})
        ...     a = h.assets.add("S/T-1", template="Tank", overrides={"Level": {"tag": "LT7"}})
        ...     h.assets.attribute_tags("S/T-1").column("tag").to_pylist()
        ['LT7']
        """
        with argument_errors("h.assets.add"):
            return self._update(
                lambda s: s.add(path, template, level, overrides, description)
            ).to_dict()

    def remove(self, path: str) -> dict[str, Any]:
        """Remove the asset at ``path`` (its definition stays in :meth:`versions`).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.add("S/T-1"); _ = h.assets.remove("S/T-1")
        ...     h.assets.find().num_rows, h.assets.versions("S/T-1")[-1]["deleted"]
        (0, True)
        """
        return self._update(lambda s: s.remove(path)).to_dict()

    def versions(
        self, path: str | None = None, *, template: str | None = None
    ) -> list[dict[str, Any]]:
        """Every definition the asset at ``path`` (or ``template``) has had, oldest first, the
        current one last; replaced ones carry ``replaced_at`` (UTC).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.add("S/T-1", level="unit"); _ = h.assets.add("S/T-1", level="area")
        ...     [(v["version"], v["level"]) for v in h.assets.versions("S/T-1")]
        [(1, 'unit'), (2, 'area')]
        """
        if (path is None) == (template is None):
            raise InvalidArgumentError("give an asset path or template=..., not both")
        key = f"asset:{path}" if path is not None else f"template:{template}"
        return self._state().versions(key)

    def templates(self) -> dict[str, Template]:
        """The templates by name.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.define_template("Tank", {"Level": "{asset}.LI"})
        ...     list(h.assets.templates())
        ['Tank']
        """
        return dict(self._state().templates)

    # --- listing
    def find(self, path_pattern: str | None = None, template: str | None = None) -> pa.Table:
        """The assets whose path matches ``path_pattern`` (``*``/``?`` in a segment, ``**`` for
        any number of segments) and whose template is ``template``: one row each, sorted by
        path (``path, name, parent, level, template, description, version``).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     for p in ["SiteA", "SiteA/Area2", "SiteA/Area2/P-101"]:
        ...         _ = h.assets.add(p)
        ...     h.assets.find("SiteA/**/P-*").column("path").to_pylist()
        ['SiteA/Area2/P-101']
        """
        rows = [
            {
                "path": a.path,
                "name": a.name,
                "parent": a.parent,
                "level": a.level,
                "template": a.template,
                "description": a.description,
                "version": a.version,
            }
            for a in self._state().find(path_pattern, template)
        ]
        return pa.Table.from_pylist(rows, schema=_FIND_SCHEMA)

    def attribute_tags(
        self,
        path_pattern: str | None = None,
        template: str | None = None,
        attribute: str | Iterable[str] | None = None,
    ) -> pa.Table:
        """The attributes of the assets :meth:`find` selects: one row per (asset, attribute)
        with its tag (null when derived), expression, unit (UNECE code), symbol, OPC UA
        ``unit_id``, kind, range, description and quality rule.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.define_template("Tank", {"Level": {"tag": "{asset}.LI", "unit": "%"}})
        ...     _ = h.assets.add("S/T-1", template="Tank")
        ...     r = h.assets.attribute_tags("S/**").to_pylist()[0]
        ...     r["tag"], r["unit"], r["unit_id"]
        ('T-1.LI', 'P1', 20529)
        """
        sel = _q.select(self._state(), path_pattern, template, attribute)
        rows = []
        for s in sel:
            a = s.definition
            rows.append(
                {
                    "asset": s.asset,
                    "attribute": s.attribute,
                    "tag": a.tag_for(s.asset),
                    "expression": a.expression,
                    "unit": a.unit,
                    "symbol": a.display_symbol,
                    "unit_id": None if a.unit is None else _unit(a.unit, a.symbol).unit_id,
                    "kind": a.kind,
                    "lo": a.lo,
                    "hi": a.hi,
                    "description": a.description,
                    "quality": a.quality if a.derived else None,
                }
            )
        return pa.Table.from_pylist(rows, schema=_ATTR_SCHEMA)

    def define_tags(self, path_pattern: str | None = None, template: str | None = None) -> int:
        """Define (or update) in the tag catalog the tags of the stored attributes of the assets
        :meth:`find` selects, with the unit symbol, kind, range and description their template
        gives (fields it leaves unset keep the tag's stored value); returns how many tags.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.define_template("Tank", {"Level": {"tag": "{asset}.LI", "unit": "%",
        ...                                                     "lo": 0, "hi": 100}})
        ...     _ = h.assets.add("S/T-1", template="Tank")
        ...     h.assets.define_tags(), h.tag("T-1.LI").unit, h.tag("T-1.LI").hi
        (1, '%', 100.0)
        """
        definitions: dict[str, dict[str, Any]] = {}
        for s in _q.select(self._state(), path_pattern, template, None):
            a = s.definition
            if a.derived:
                continue
            fields = {
                "unit": a.display_symbol,
                "kind": a.kind,
                "lo": a.lo,
                "hi": a.hi,
                "description": a.description or None,
            }
            tag = a.tag_for(s.asset)
            assert tag is not None
            definitions[tag] = {k: v for k, v in fields.items() if v is not None}
        if definitions:
            self._h.define_many(definitions)
        return len(definitions)

    # --- TOML
    def load_toml(self, source: str | os.PathLike[str]) -> int:
        """Define the templates and add the assets of a TOML file (or text, when ``source``
        holds a newline), in one atomic change; returns how many definitions changed.

        The shape is in :mod:`historian.assets.tomlio` and ``docs/assets.md``. Templates come
        first, so the assets of the same file can use them.

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     h.assets.load_toml('[[assets]]\\npath = "SiteA"\\nlevel = "site"\\n')
        1
        """
        text, where = _toml_text(source)
        templates, assets = parse_toml(text, where)
        try:
            return self.apply(templates, assets)
        except InvalidArgumentError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

    def to_toml(self) -> str:
        """The model as TOML text (:meth:`load_toml` reads it back).

        Examples
        --------
        >>> import historian, tempfile
        >>> with historian.open(tempfile.mkdtemp()) as h:
        ...     _ = h.assets.add("SiteA", level="site")
        ...     print(h.assets.to_toml())
        [[assets]]
        path = "SiteA"
        level = "site"
        <BLANKLINE>
        """
        return dump_toml(self._state())

    # --- OPC UA
    def import_opcua(self, url_or_config: Any, root: str = "i=85", **options: Any) -> int:
        """Add the objects of an OPC UA server as assets (see
        :func:`historian.assets.opcua_import.import_opcua`); returns how many were added or
        changed."""
        from historian.assets.opcua_import import import_opcua

        return import_opcua(self, url_or_config, root=root, **options)

    def apply(self, templates: list[dict[str, Any]], assets: list[dict[str, Any]]) -> int:
        """Define ``templates`` and add ``assets`` (the shapes of :func:`parse_toml`) in one
        atomic change; returns how many assets and templates were new or changed."""

        def change(s: ModelState) -> int:
            n = 0
            for t in templates:
                old = s.templates.get(t["name"])
                n += (
                    s.define_template(t["name"], t.get("attributes"), t.get("description", ""))
                    is not old
                )
            for a in assets:
                old_a = s.assets.get(a["path"])
                n += (
                    s.add(
                        a["path"],
                        a.get("template"),
                        a.get("level"),
                        a.get("overrides"),
                        a.get("description", ""),
                    )
                    is not old_a
                )
            return n

        with argument_errors("h.assets.apply"):
            return self._update(change)

    # --- queries
    read = _query_methods.read
    summary = _query_methods.summary
    interpolated = _query_methods.interpolated


def _toml_text(source: str | os.PathLike[str]) -> tuple[str, str]:
    if isinstance(source, str) and "\n" in source:
        return source, "asset model TOML"
    path = os.fspath(source)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the asset model file {path!r} ({exc})") from exc
