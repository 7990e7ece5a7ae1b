"""The asset model: assets on one hierarchical path, templates, units, derived attributes.

``h.assets`` (an :class:`AssetModel`) holds the model of a store; see ``docs/assets.md``.
Modules, one job each: :mod:`~historian.assets.names` (paths, names, patterns),
:mod:`~historian.assets.units` (UNECE Rec 20 codes and OPC UA UnitIds),
:mod:`~historian.assets.templates` (attributes and tag patterns), :mod:`~historian.assets.model`
(the model as data, versions), :mod:`~historian.assets.derived` (expressions with quality),
:mod:`~historian.assets.persist` (``assets.json``), :mod:`~historian.assets.tomlio` (TOML),
:mod:`~historian.assets.opcua_import` (OPC UA browse), :mod:`~historian.assets.queries`
(read, summary, interpolated by asset) and :mod:`~historian.assets.facade` (``h.assets``).

Examples
--------
>>> from historian.assets import unit
>>> unit("bar").unit_id
4342098
"""

from __future__ import annotations

from historian.assets.facade import AssetModel
from historian.assets.model import ISA95_LEVELS, Asset
from historian.assets.templates import QUALITY_RULES, Attribute, Template
from historian.assets.units import UNECE_NAMESPACE, Unit, unit, unit_from_id, units

__all__ = [
    "ISA95_LEVELS",
    "QUALITY_RULES",
    "UNECE_NAMESPACE",
    "Asset",
    "AssetModel",
    "Attribute",
    "Template",
    "Unit",
    "unit",
    "unit_from_id",
    "units",
]
