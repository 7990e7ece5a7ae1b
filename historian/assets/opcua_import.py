"""Import an asset hierarchy from an OPC UA server's address space.

Walks from ``root`` (the Objects folder by default) along ``Organizes`` and ``HasComponent``
references (and their subtypes, e.g. ``HasOrderedComponent``). Every Object below the root
becomes an asset whose path is its browse path (``Plant/Area1/Pump1``); the Variables it holds
become its attributes, with the tag name ``historian browse`` suggests for them (so a collector
config written by ``config_stub`` fills exactly these tags), their ``EURange`` as ``lo``/``hi``
and their ``EngineeringUnits`` (``EUInformation``; the ``UnitId`` is the UNECE code packed as
an Int32, OPC UA Part 8) as the unit. An Object of a server-defined type (``PumpType``) gets a
template of that name holding the attributes of the first such object (units, ranges,
descriptions); what differs on an instance becomes its override.

Names from the server are data: a browse name becomes a path segment or an attribute name only
after every character outside the allowed set is replaced (``Flow rate`` -> ``Flow_rate``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from historian.assets.names import MAX_DEPTH, validate_path
from historian.assets.units import in_table, unit_from_id
from historian.errors import HistorianError, InvalidArgumentError

if TYPE_CHECKING:  # pragma: no cover
    from historian.assets.facade import AssetModel

__all__ = ["BrowsedAsset", "abrowse_assets", "import_opcua"]

log = logging.getLogger(__name__)
_CHUNK = 500
_BASE_TYPES = {"BaseObjectType", "FolderType"}


@dataclass
class BrowsedAsset:
    """An Object found by :func:`abrowse_assets`: its path, type and variables."""

    path: str
    type_name: str | None
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)


def _segment(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.:\-]+", "_", name)
    s = re.sub(r"\.{2,}", ".", s).strip("._-:")[:64]
    return s or "_"


def _ident(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")[:63] or "_"
    return f"_{s}" if s[0].isdigit() else s


def _unique(name: str, used: set[str]) -> str:
    out, n = name, 2
    while out in used:
        out, n = f"{name}_{n}", n + 1
    used.add(out)
    return out


async def _children(node: Any, ua: Any) -> list[Any]:
    refs = await node.get_references(
        refs=ua.ObjectIds.HierarchicalReferences,
        direction=ua.BrowseDirection.Forward,
        nodeclassmask=ua.NodeClass.Object | ua.NodeClass.Variable,
    )
    return list(refs)


async def abrowse_assets(
    client: Any, root: str = "i=85", *, max_depth: int = MAX_DEPTH, limit: int = 10_000
) -> list[BrowsedAsset]:
    """The Objects under ``root`` with their variables (see the module docstring)."""
    from asyncua import ua

    from historian.acquisition.opcua_browse import suggest_tag

    follow = {ua.ObjectIds.Organizes, ua.ObjectIds.HasComponent, ua.ObjectIds.HasOrderedComponent}
    start = client.get_node(root)
    start_name = (await start.read_browse_name()).Name
    frontier: list[tuple[Any, str, str, int]] = [(start, start_name, "", 0)]
    seen: set[Any] = set()
    found: list[BrowsedAsset] = []
    variables: list[tuple[BrowsedAsset, str, Any]] = []
    type_ids: dict[Any, str | None] = {}
    while frontier and len(variables) < limit:
        node, browse_path, asset_path, depth = frontier.pop(0)
        asset = next((a for a in found if a.path == asset_path), None) if asset_path else None
        used = set() if asset is None else set(asset.attributes)
        for ref in await _children(node, ua):
            nid = ref.NodeId
            if nid in seen or nid.NamespaceIndex == 0:
                continue
            if (
                ref.ReferenceTypeId.Identifier not in follow
                or ref.ReferenceTypeId.NamespaceIndex != 0
            ):
                continue
            seen.add(nid)
            name = ref.BrowseName.Name
            if ref.NodeClass == ua.NodeClass.Object and depth + 1 <= max_depth:
                path = f"{asset_path}/{_segment(name)}" if asset_path else _segment(name)
                child = BrowsedAsset(path, None)
                child.type_name = await _type_name(client, ref.TypeDefinition, type_ids)
                found.append(child)
                frontier.append((client.get_node(nid), f"{browse_path}/{name}", path, depth + 1))
            elif ref.NodeClass == ua.NodeClass.Variable and asset is not None:
                attr = _unique(_ident(name), used)
                asset.attributes[attr] = {"tag": suggest_tag(f"{browse_path}/{name}")}
                variables.append((asset, attr, client.get_node(nid)))
                if len(variables) >= limit:
                    break
    await _read_properties(client, variables, ua)
    return found


async def _type_name(client: Any, type_id: Any, cache: dict[Any, str | None]) -> str | None:
    if type_id is None or type_id.Identifier in (0, None):
        return None
    key = type_id.to_string()
    if key not in cache:
        name = (await client.get_node(type_id).read_browse_name()).Name
        cache[key] = None if name in _BASE_TYPES or type_id.NamespaceIndex == 0 else name
    return cache[key]


async def _read_properties(
    client: Any, variables: list[tuple[BrowsedAsset, str, Any]], ua: Any
) -> None:
    """EURange, EngineeringUnits and Description of each variable (batched reads)."""
    props: list[tuple[dict[str, Any], str, Any]] = []
    descriptions: list[tuple[dict[str, Any], Any]] = []
    for asset, attr, node in variables:
        d = asset.attributes[attr]
        for ref in await node.get_references(
            refs=ua.ObjectIds.HasProperty, direction=ua.BrowseDirection.Forward
        ):
            if ref.BrowseName.Name in ("EURange", "EngineeringUnits"):
                props.append((d, ref.BrowseName.Name, client.get_node(ref.NodeId)))
        descriptions.append((d, node))
    for i in range(0, len(props), _CHUNK):
        chunk = props[i : i + _CHUNK]
        values = await client.read_values([n for _, _, n in chunk])
        for (d, what, _), value in zip(chunk, values, strict=True):
            _apply_property(d, what, value)
    for i in range(0, len(descriptions), _CHUNK):
        chunk_d = descriptions[i : i + _CHUNK]
        texts = await client.read_attributes([n for _, n in chunk_d], ua.AttributeIds.Description)
        for (d, _), dv in zip(chunk_d, texts, strict=True):
            text = getattr(getattr(dv.Value, "Value", None), "Text", None)
            if isinstance(text, str) and text and text.isprintable():
                d["description"] = text[:1000]


def _apply_property(d: dict[str, Any], what: str, value: Any) -> None:
    if what == "EURange" and value is not None:
        lo, hi = getattr(value, "Low", None), getattr(value, "High", None)
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo <= hi:
            d["lo"], d["hi"] = float(lo), float(hi)
    elif what == "EngineeringUnits" and value is not None:
        unit_id = getattr(value, "UnitId", None)
        shown = getattr(getattr(value, "DisplayName", None), "Text", None)
        try:
            u = unit_from_id(int(unit_id or 0), shown if isinstance(shown, str) else None)
        except (InvalidArgumentError, TypeError, ValueError):
            log.debug(
                "EUInformation with UnitId %r (%r) is not a UNECE code: no unit", unit_id, shown
            )
            return
        d["unit"] = u.code
        if not in_table(u.code) or (
            isinstance(shown, str)
            and shown
            and shown != u.symbol
            and len(shown) <= 32
            and shown.isprintable()
        ):
            d["symbol"] = u.symbol if not in_table(u.code) else shown


def _definitions(
    found: list[BrowsedAsset], prefix: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Templates (one per server type) and assets (with overrides) of the browsed objects."""
    templates: dict[str, dict[str, Any]] = {}
    assets = []
    for b in found:
        path = f"{prefix}/{b.path}" if prefix else b.path
        overrides: dict[str, dict[str, Any]] = {}
        template = _segment(b.type_name) if b.type_name else None
        if template is not None and template not in templates:
            templates[template] = {
                "name": template,
                "description": "",
                "attributes": {
                    k: {f: v for f, v in d.items() if f != "tag"} for k, d in b.attributes.items()
                },
            }
        base = templates[template]["attributes"] if template else {}
        for attr, d in b.attributes.items():
            fields = dict(base.get(attr, {}))
            changes = {f: v for f, v in d.items() if fields.get(f) != v}
            for f in fields:  # a field the template has and this instance lacks
                if f not in d:
                    changes[f] = None
            overrides[attr] = changes
        assets.append({"path": path, "template": template, "overrides": overrides})
    return list(templates.values()), assets


def import_opcua(
    model: AssetModel,
    url_or_config: Any,
    *,
    root: str = "i=85",
    security: Any = None,
    allow_insecure: bool = False,
    prefix: str | None = None,
    max_depth: int = MAX_DEPTH,
    limit: int = 10_000,
) -> int:
    """Browse an OPC UA server and add what it holds to ``model`` in one atomic change;
    returns how many templates and assets were new or changed.

    ``url_or_config``: ``opc.tcp://...`` (then ``security`` or ``allow_insecure`` as for
    :func:`historian.acquisition.browse`) or an :class:`~historian.acquisition.config.
    OpcUaSourceConfig` (its URL and security settings). ``root``: the node to start from;
    ``prefix``: a path to put the imported assets under (``"SiteA"``).
    """
    from historian._sync import sync
    from historian.acquisition.config import OpcUaSourceConfig
    from historian.acquisition.opcua_browse import connected

    if isinstance(url_or_config, OpcUaSourceConfig):
        url, security = url_or_config.url, url_or_config
    elif isinstance(url_or_config, str):
        url = url_or_config
    else:
        raise InvalidArgumentError(
            "import_opcua takes an opc.tcp:// URL or an OpcUaSourceConfig, not "
            f"{type(url_or_config).__name__}"
        )

    async def run() -> list[BrowsedAsset]:
        async with connected(
            url, security=security, allow_insecure=allow_insecure, what="import assets from"
        ) as client:
            return await abrowse_assets(client, root, max_depth=max_depth, limit=limit)

    if prefix is not None:
        validate_path(prefix)
    max_depth = min(max_depth, MAX_DEPTH - (0 if prefix is None else prefix.count("/") + 1))
    found = sync(run())
    templates, assets = _definitions(found, prefix)
    log.info("OPC UA %s: %d objects, %d types to import", url, len(assets), len(templates))
    try:
        return model.apply(templates, assets)
    except HistorianError as exc:
        raise type(exc)(f"importing from {url}: {exc}") from exc
