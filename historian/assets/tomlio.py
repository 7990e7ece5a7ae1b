"""The asset model as TOML: what an engineer edits by hand and keeps under version control.

.. code-block:: toml

    [templates.Pump]
    description = "Centrifugal pump"

    [templates.Pump.attributes.Flow]
    tag = "{asset}.FI.PV"        # tag-name pattern: {asset} {parent} {path} {attribute}
    unit = "MQH"                 # UNECE code, or a symbol: "m3/h"
    lo = 0.0
    hi = 120.0

    [templates.Pump.attributes.Power]
    expression = "Flow * Head / 367"   # derived: computed on read
    unit = "KWT"

    [[assets]]
    path = "SiteA/Area2/P-101"
    template = "Pump"
    level = "equipment_module"   # ISA-95 / ISA-88 level, optional

    [assets.overrides.Flow]      # this asset's Flow differs from the template
    tag = "FI-7.PV"
    unset = ["hi"]               # fields this asset clears (TOML has no null)

:func:`parse_toml` reads such a text into (templates, assets) definitions; :func:`dump_toml`
writes a model back (strings escaped, so names coming from a server cannot add keys).

Examples
--------
>>> from historian.assets.model import ModelState
>>> s = ModelState()
>>> _ = s.define_template("Pump", {"Flow": {"tag": "{asset}.FI", "unit": "m3/h"}})
>>> _ = s.add("SiteA/P-1", template="Pump")
>>> templates, assets = parse_toml(dump_toml(s))
>>> templates[0]["name"], assets[0]["path"]
('Pump', 'SiteA/P-1')
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from historian.acquisition.text import toml_string
from historian.assets.model import ModelState
from historian.errors import ConfigError

__all__ = ["dump_toml", "parse_toml"]

MAX_TOML_BYTES = 16 * 1024 * 1024
_ASSET_KEYS = {"path", "template", "level", "description", "overrides"}
_TEMPLATE_KEYS = {"description", "attributes"}


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table, not {type(value).__name__}")
    return value


def parse_toml(
    text: str, where: str = "asset model"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Template and asset definitions of a TOML text (ConfigError names the key to fix)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TOML_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_TOML_BYTES} bytes")
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigError(f"{where}: invalid TOML ({exc})") from exc
    unknown = set(doc) - {"templates", "assets"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown top-level key(s) {sorted(unknown)}; use "
            "[templates.NAME] and [[assets]]"
        )
    templates = []
    for name, t in _table(doc.get("templates", {}), f"{where}: templates").items():
        t = _table(t, f"{where}: templates.{name}")
        bad = set(t) - _TEMPLATE_KEYS
        if bad:
            raise ConfigError(
                f"{where}: templates.{name}: unknown key(s) {sorted(bad)}; use "
                f"{sorted(_TEMPLATE_KEYS)}"
            )
        attrs = _table(t.get("attributes", {}), f"{where}: templates.{name}.attributes")
        templates.append(
            {"name": name, "attributes": dict(attrs), "description": t.get("description", "")}
        )
    assets = []
    items = doc.get("assets", [])
    if not isinstance(items, list):
        raise ConfigError(f"{where}: assets must be an array of tables ([[assets]])")
    for i, a in enumerate(items):
        a = _table(a, f"{where}: assets[{i}]")
        bad = set(a) - _ASSET_KEYS
        if bad or "path" not in a:
            raise ConfigError(
                f"{where}: assets[{i}]: unknown key(s) {sorted(bad)} or no path; "
                f"use {sorted(_ASSET_KEYS)}"
            )
        assets.append(
            {**a, "overrides": _overrides(a.get("overrides", {}), f"{where}: assets[{i}]")}
        )
    return templates, assets


def _overrides(value: Any, where: str) -> dict[str, dict[str, Any]]:
    """Overrides with their ``unset = [...]`` lists turned into fields set to None."""
    out: dict[str, dict[str, Any]] = {}
    for name, changes in _table(value, f"{where}.overrides").items():
        changes = dict(_table(changes, f"{where}.overrides.{name}"))
        unset = changes.pop("unset", [])
        if not isinstance(unset, list) or not all(isinstance(k, str) for k in unset):
            raise ConfigError(f"{where}.overrides.{name}.unset must be a list of field names")
        out[name] = {**changes, **dict.fromkeys(unset)}
    return out


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v))
    return toml_string(str(v))


def dump_toml(state: ModelState) -> str:
    """The model as TOML (see the module docstring); :func:`parse_toml` reads it back."""
    out: list[str] = []
    for name in sorted(state.templates):
        t = state.templates[name]
        key = f"templates.{toml_string(name)}"
        out.append(f"[{key}]")
        if t.description:
            out.append(f"description = {toml_string(t.description)}")
        out.append("")
        for attr_name, attr in sorted(t.attributes.items()):
            out.append(f"[{key}.attributes.{attr_name}]")
            out += [f"{k} = {_value(v)}" for k, v in attr.to_dict().items()]
            out.append("")
    for path in sorted(state.assets):
        a = state.assets[path]
        out.append("[[assets]]")
        out.append(f"path = {toml_string(a.path)}")
        for k in ("template", "level", "description"):
            v = getattr(a, k)
            if v:
                out.append(f"{k} = {toml_string(v)}")
        out.append("")
        for attr_name, changes in sorted(a.overrides.items()):
            out.append(f"[assets.overrides.{attr_name}]")
            out += [f"{k} = {_value(v)}" for k, v in changes.items() if v is not None]
            unset = sorted(k for k, v in changes.items() if v is None)
            if unset:  # TOML has no null: fields this asset clears are listed
                out.append(f"unset = [{', '.join(toml_string(k) for k in unset)}]")
            out.append("")
    return "\n".join(out)
