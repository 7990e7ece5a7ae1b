"""Tags: validated names and their definitions (unit, kind, range, rules, compression, metadata).

A tag name uses letters, digits and ``. _ - : /``, starts with a letter or digit, never contains
``..`` or ``//``, and has at most :data:`MAX_TAG_LENGTH` characters, so it can never become a path
or an SQL fragment.

Examples
--------
>>> t = Tag("TIC-101.PV", unit="degC", kind="analog", lo=0, hi=200)
>>> t.kind, t.unit
('analog', 'degC')
>>> validate_tag_name("../x")
Traceback (most recent call last):
...
historian.errors.InvalidTagNameError: invalid tag name '../x': ...
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from historian.errors import InvalidArgumentError, InvalidTagNameError

__all__ = ["KINDS", "MAX_TAG_LENGTH", "TYPES", "UNSET", "Tag", "validate_tag_name"]

MAX_TAG_LENGTH = 200
KINDS = ("analog", "step")
#: Value types: ``number`` (a float64 per point) or ``string`` (a text per point; a text tag
#: always behaves as a step tag). See docs/format.md "Text values".
TYPES = ("number", "string")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")


class _Unset:
    """The default of a ``define()`` field the caller did not give (``None`` is a value)."""

    def __repr__(self) -> str:
        return "<not given>"


#: ``h.define(name, unit=...)``: fields left at UNSET keep the stored value of an existing tag.
UNSET: Any = _Unset()
_RULE = "letters, digits and . _ - : / only, starting with a letter or digit, no '..' or '//'"


def validate_tag_name(name: object) -> str:
    """Return ``name`` if it is a valid tag name, else raise :class:`InvalidTagNameError`."""
    if not isinstance(name, str):
        raise InvalidTagNameError(f"tag name must be a str, not {type(name).__name__}")
    if not name:
        raise InvalidTagNameError("tag name is empty")
    if len(name) > MAX_TAG_LENGTH:
        raise InvalidTagNameError(
            f"tag name {name[:40]!r}... is {len(name)} characters; the limit is {MAX_TAG_LENGTH}"
        )
    if not _NAME.fullmatch(name) or ".." in name or "//" in name or name.endswith("/"):
        raise InvalidTagNameError(f"invalid tag name {name!r}: use {_RULE}")
    return name


def _finite_or_none(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(f):
        raise InvalidArgumentError(f"{what} must be finite, not {value!r}")
    return f


@dataclass(frozen=True)
class Tag:
    """A tag definition.

    Parameters
    ----------
    name : str
        The validated tag name.
    unit : str
        Engineering unit, e.g. ``"degC"``.
    description : str
        Free text.
    kind : {"analog", "step"}
        ``analog`` interpolates linearly between samples; ``step`` holds its value (digital states,
        setpoints, counters read as states).
    lo, hi : float or None
        Engineering range.
    rules : dict
        Qualification rules (see :mod:`historian.kernels.qualify`); versioned with the tag.
    compression : dict
        Optional source compression (``{"deadband": 0.1}`` or ``{"swinging_door": 0.1}``).
    states : dict
        For digital/enum tags, the state table ``{code: label}``.
    metadata : dict
        Free metadata.
    version : int
        Incremented whenever the definition changes (rules are versioned with the tag).
    type : {"number", "string"}
        ``string``: a text tag (batch IDs, recipe names, state texts); its points carry a text
        and no number, and it is always a step tag (``kind`` becomes ``"step"``).

    Examples
    --------
    >>> Tag("PUMP-1.RUN", kind="step", states={0: "off", 1: "on"}).states[1]
    'on'
    >>> Tag("BATCH.ID", type="string").kind
    'step'
    """

    name: str
    unit: str = ""
    description: str = ""
    kind: str = "analog"
    lo: float | None = None
    hi: float | None = None
    rules: dict[str, Any] = field(default_factory=dict)
    compression: dict[str, Any] = field(default_factory=dict)
    states: dict[int, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    type: str = "number"

    def __post_init__(self) -> None:
        validate_tag_name(self.name)
        if self.type not in TYPES:
            raise InvalidArgumentError(
                f"type must be one of {TYPES}, not {self.type!r} (tag {self.name!r})"
            )
        if self.type == "string":
            object.__setattr__(self, "kind", "step")  # a text is held until the next one
        if self.kind not in KINDS:
            raise InvalidArgumentError(f"kind must be one of {KINDS}, not {self.kind!r}")
        object.__setattr__(self, "lo", _finite_or_none(self.lo, "lo"))
        object.__setattr__(self, "hi", _finite_or_none(self.hi, "hi"))
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise InvalidArgumentError(
                f"lo ({self.lo}) is above hi ({self.hi}) for tag {self.name!r}"
            )
        object.__setattr__(self, "states", {int(k): str(v) for k, v in self.states.items()})

    @property
    def is_text(self) -> bool:
        """True for text tags (``type="string"``)."""
        return self.type == "string"

    @property
    def stepped(self) -> bool:
        """True for step tags (held values), False for analog (linear interpolation)."""
        return self.kind == "step"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (state keys become strings)."""
        d = asdict(self)
        d["states"] = {str(k): v for k, v in self.states.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tag:
        """The inverse of :meth:`to_dict`."""
        return cls(**d)
