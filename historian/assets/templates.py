"""Templates: the attributes an asset of one type has, and how each maps to a tag.

An :class:`Attribute` is either *stored* (a ``tag`` pattern such as ``"{asset}.PV"``, rendered
per asset into a tag name) or *derived* (an ``expression`` over other attributes of the same
asset, computed on read; see :mod:`historian.assets.derived`). It carries a unit (UNECE code,
:mod:`historian.assets.units`), a kind (``analog``/``step``), an engineering range and a
description. An asset may override any field of any attribute, or add attributes.

Tag patterns know four placeholders, and nothing else (no ``str.format``: a pattern is data):
``{asset}`` the last path segment, ``{parent}`` the one before it, ``{path}`` the whole path,
``{attribute}`` the attribute name. The rendered name must be a valid tag name.

Examples
--------
>>> a = Attribute("Flow", tag="{asset}.FI.PV", unit="m3/h", lo=0, hi=120)
>>> a.unit, render_tag(a.tag, "SiteA/Area2/P-101", "Flow")
('MQH', 'P-101.FI.PV')
>>> Attribute("Power", expression="Flow * Head * 9.81 / 3600", unit="kW").names
['Flow', 'Head']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from historian.assets.names import validate_attribute_name, validate_name
from historian.assets.units import in_table
from historian.assets.units import unit as _unit
from historian.errors import InvalidArgumentError, InvalidTagNameError
from historian.model.expressions import parse_expression
from historian.model.tags import KINDS, validate_tag_name

__all__ = ["QUALITY_RULES", "Attribute", "Template", "render_tag"]

#: How a derived attribute's status follows its inputs: ``worst`` (the worst input status:
#: Bad beats Uncertain beats Good) or ``ignore_uncertain`` (Uncertain inputs count as Good;
#: a Bad input still makes the result Bad).
QUALITY_RULES = ("worst", "ignore_uncertain")
_PLACEHOLDER = re.compile(r"\{(asset|parent|path|attribute)\}")
MAX_ATTRIBUTES = 500
_TEXT_MAX = 1000


def _check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgumentError(f"a tag pattern must be a non-empty str, not {pattern!r}")
    rest = _PLACEHOLDER.sub("x", pattern)
    if "{" in rest or "}" in rest:
        raise InvalidArgumentError(
            f"tag pattern {pattern[:60]!r}: only {{asset}}, {{parent}}, {{path}} and "
            "{attribute} may appear in braces"
        )
    try:
        validate_tag_name(rest)
    except InvalidTagNameError as exc:
        raise InvalidArgumentError(
            f"tag pattern {pattern[:60]!r} cannot give a valid tag name ({exc})"
        ) from None
    return pattern


def render_tag(pattern: str, path: str, attribute: str) -> str:
    """The tag name ``pattern`` gives for the asset at ``path`` (validated)."""
    segments = path.split("/")
    values = {
        "asset": segments[-1],
        "parent": segments[-2] if len(segments) > 1 else "",
        "path": path,
        "attribute": attribute,
    }
    name = _PLACEHOLDER.sub(lambda m: values[m.group(1)], pattern)
    try:
        return validate_tag_name(name)
    except InvalidTagNameError as exc:
        raise InvalidArgumentError(
            f"the tag pattern {pattern!r} gives {name!r} for asset {path!r}, attribute "
            f"{attribute!r}, which is not a valid tag name ({exc}); override its tag for this "
            "asset or change the pattern"
        ) from None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a str, not {type(value).__name__}")
    if len(value) > _TEXT_MAX:
        raise InvalidArgumentError(f"{what} is longer than {_TEXT_MAX} characters")
    return value


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgumentError(f"{what} must be a finite number, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Attribute:
    """One attribute of a template (or of one asset).

    Parameters
    ----------
    name
        An identifier (``Flow``, ``T_in``): derived expressions name attributes.
    tag
        Tag-name pattern of a stored attribute (see the module docstring). Neither ``tag`` nor
        ``expression``: the pattern ``"{asset}.{attribute}"``.
    expression
        A derived attribute: arithmetic over other attributes of the same asset
        (:func:`historian.model.expressions.parse_expression`).
    unit, symbol
        A UNECE code or a symbol/alias of the unit table; ``symbol`` overrides the display
        symbol (a code outside the table needs one).
    kind
        ``analog`` (interpolated linearly) or ``step`` (held); None: the tag's own kind.
    lo, hi
        Engineering range.
    description
        Free text.
    quality
        Derived attributes: one of :data:`QUALITY_RULES` (default ``worst``).
    """

    name: str
    tag: str | None = None
    expression: str | None = None
    unit: str | None = None
    symbol: str | None = None
    kind: str | None = None
    lo: float | None = None
    hi: float | None = None
    description: str = ""
    quality: str = "worst"
    names: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        validate_attribute_name(self.name)
        if self.tag is not None and self.expression is not None:
            raise InvalidArgumentError(
                f"attribute {self.name!r} has both a tag and an expression: a stored attribute "
                "has a tag pattern, a derived one an expression"
            )
        if self.tag is not None:
            _check_pattern(self.tag)
        if self.expression is not None:
            expr = parse_expression(_text(self.expression, f"the expression of {self.name!r}"))
            if self.name in expr.names:
                raise InvalidArgumentError(
                    f"derived attribute {self.name!r} names itself in {self.expression!r}"
                )
            for n in expr.names:
                validate_attribute_name(n)
            set_(self, "names", list(expr.names))
        if self.unit is not None:
            u = _unit(self.unit, self.symbol)
            set_(self, "unit", u.code)
            table_symbol = self.symbol is None or (
                in_table(u.code) and self.symbol == _unit(u.code).symbol
            )
            set_(self, "symbol", None if table_symbol else self.symbol)
        elif self.symbol is not None:
            raise InvalidArgumentError(f"attribute {self.name!r}: a symbol needs a unit code")
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidArgumentError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.quality not in QUALITY_RULES:
            raise InvalidArgumentError(
                f"quality must be one of {QUALITY_RULES}, not {self.quality!r}"
            )
        set_(self, "lo", _number(self.lo, f"lo of {self.name!r}"))
        set_(self, "hi", _number(self.hi, f"hi of {self.name!r}"))
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise InvalidArgumentError(
                f"attribute {self.name!r}: lo {self.lo} is above hi {self.hi}"
            )
        _text(self.description, f"the description of {self.name!r}")

    @property
    def derived(self) -> bool:
        """True for a derived attribute (an expression, no tag)."""
        return self.expression is not None

    @property
    def display_symbol(self) -> str | None:
        """The symbol to show: the override, else the unit table's."""
        if self.unit is None:
            return None
        return self.symbol or _unit(self.unit).symbol

    def tag_for(self, path: str) -> str | None:
        """The tag name of this attribute on the asset at ``path`` (None when derived)."""
        if self.derived:
            return None
        return render_tag(self.tag or "{asset}.{attribute}", path, self.name)

    def with_changes(self, changes: Mapping[str, Any]) -> Attribute:
        """This attribute with ``changes`` applied (an asset's override), validated again.
        Giving ``tag`` drops an inherited ``expression`` and the other way round."""
        known = {f.name for f in fields(self)} - {"name", "names"}
        unknown = set(changes) - known
        if unknown:
            raise InvalidArgumentError(
                f"unknown attribute field(s) {sorted(unknown)} for {self.name!r}; use "
                f"{sorted(known)}"
            )
        extra: dict[str, Any] = {}
        if "tag" in changes and changes["tag"] is not None:
            extra["expression"] = None
        if "expression" in changes and changes["expression"] is not None:
            extra["tag"] = None
        return replace(self, **{**extra, **changes})

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from the defaults (for JSON and TOML)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("name", "names"):
                continue
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> Attribute:
        """An attribute from :meth:`to_dict`'s shape (unknown keys refused, with the fix)."""
        if not isinstance(d, Mapping):
            raise InvalidArgumentError(
                f"attribute {name!r} must be a table of fields (tag=..., unit=...), not "
                f"{type(d).__name__}"
            )
        known = {f.name for f in fields(cls)} - {"name", "names"}
        unknown = set(d) - known
        if unknown:
            raise InvalidArgumentError(
                f"unknown field(s) {sorted(unknown)} of attribute {name!r}; use {sorted(known)}"
            )
        return cls(name, **dict(d))


@dataclass(frozen=True)
class Template:
    """A named set of attributes (``Pump``: ``Flow``, ``Speed``, ``Power`` ...)."""

    name: str
    attributes: dict[str, Attribute] = field(default_factory=dict)
    description: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        validate_name(self.name, "template name")
        _text(self.description, f"the description of template {self.name!r}")
        if len(self.attributes) > MAX_ATTRIBUTES:
            raise InvalidArgumentError(
                f"template {self.name!r} has {len(self.attributes)} attributes; at most "
                f"{MAX_ATTRIBUTES}"
            )

    @classmethod
    def build(
        cls,
        name: str,
        attributes: Mapping[str, Any] | None,
        description: str = "",
        version: int = 1,
    ) -> Template:
        """A template from ``{name: Attribute | dict | "tag pattern"}``.

        >>> Template.build("Pump", {"Flow": "{asset}.FI", "Speed": {"unit": "rpm"}}).attributes[
        ...     "Speed"].unit
        'RPM'
        """
        if attributes is not None and not isinstance(attributes, Mapping):
            raise InvalidArgumentError(
                "attributes must be a dict {name: {tag=..., unit=...}}, not "
                f"{type(attributes).__name__}"
            )
        attrs = {
            validate_attribute_name(k): as_attribute(k, v) for k, v in (attributes or {}).items()
        }
        return cls(name, attrs, description, version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "attributes": {k: a.to_dict() for k, a in sorted(self.attributes.items())},
        }


def as_attribute(name: str, value: Any) -> Attribute:
    """An :class:`Attribute` from an Attribute, a dict of fields or a tag pattern string."""
    if isinstance(value, Attribute):
        if value.name != name:
            return replace(value, name=name)
        return value
    if isinstance(value, str):
        return Attribute(name, tag=value)
    if value is None:
        return Attribute(name)
    return Attribute.from_dict(name, value)
