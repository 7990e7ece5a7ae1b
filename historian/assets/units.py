"""Engineering units as UNECE Recommendation 20 common codes, with a display symbol.

OPC UA (Part 8, ``EUInformation``) names a unit by its UNECE code: ``namespaceUri`` is
:data:`UNECE_NAMESPACE` and ``unitId`` is the code's characters packed into an Int32, one byte
each (``"CEL"`` -> ``0x43454C`` = 4408652). The common engineering units ship in
``units.csv`` beside this module (code, symbol, name, ASCII aliases); an attribute's unit is
given as a code (``"CEL"``) or a symbol or alias from that table (``"°C"``, ``"degC"``). A code
outside the table (from an OPC UA server) is kept with the symbol the server gave.

Examples
--------
>>> u = unit("degC")
>>> u.code, u.symbol, u.unit_id
('CEL', '°C', 4408652)
>>> unit_from_id(4408652).code
'CEL'
>>> unit("m3/h").name
'cubic metre per hour'
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from historian.errors import InvalidArgumentError

__all__ = [
    "UNECE_NAMESPACE",
    "Unit",
    "code_from_id",
    "in_table",
    "unit",
    "unit_from_id",
    "unit_id",
    "units",
]

#: ``EUInformation.NamespaceUri`` of UNECE codes (OPC UA Part 8).
UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"
_CODE = re.compile(r"[A-Z0-9]{2,3}")


@dataclass(frozen=True)
class Unit:
    """A unit: UNECE common ``code``, display ``symbol``, English ``name``."""

    code: str
    symbol: str
    name: str = ""

    @property
    def unit_id(self) -> int:
        """The OPC UA ``EUInformation.UnitId`` of this code."""
        return unit_id(self.code)


def unit_id(code: str) -> int:
    """OPC UA ``UnitId`` of a UNECE code: its ASCII bytes, big-endian, as an int.

    >>> unit_id("KPA"), unit_id("P1")
    (4935745, 20529)
    """
    if not isinstance(code, str) or _CODE.fullmatch(code) is None:
        raise InvalidArgumentError(f"{code!r} is not a UNECE common code (2-3 of A-Z, 0-9)")
    out = 0
    for ch in code:
        out = (out << 8) | ord(ch)
    return out


def code_from_id(value: int) -> str:
    """The UNECE code an OPC UA ``UnitId`` packs (InvalidArgumentError when it packs none).

    >>> code_from_id(20529)
    'P1'
    """
    if not isinstance(value, int) or value <= 0 or value >= 1 << 24:
        raise InvalidArgumentError(f"OPC UA UnitId {value!r} packs no UNECE code")
    chars = []
    while value:
        chars.append(chr(value & 0xFF))
        value >>= 8
    code = "".join(reversed(chars))
    if _CODE.fullmatch(code) is None:
        raise InvalidArgumentError(f"OPC UA UnitId packs {code!r}, not a UNECE code")
    return code


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, Unit], dict[str, str]]:
    text = resources.files("historian.assets").joinpath("units.csv").read_text("utf-8")
    by_code: dict[str, Unit] = {}
    alias: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        u = Unit(row["code"], row["symbol"], row["name"])
        by_code[u.code] = u
        for a in [u.symbol, *row["aliases"].split()]:
            alias.setdefault(a, u.code)
    return by_code, alias


def in_table(code: str) -> bool:
    """True when ``code`` is in the shipped table (its symbol needs no override).

    >>> in_table("CEL"), in_table("XAX")
    (True, False)
    """
    return code in _table()[0]


def units() -> list[Unit]:
    """Every unit of the shipped table, in its order.

    >>> len(units()) > 50, units()[0].code
    (True, 'CEL')
    """
    return list(_table()[0].values())


def unit(text: str, symbol: str | None = None) -> Unit:
    """The unit a code, symbol or alias stands for.

    ``symbol`` gives the display symbol of a code outside the table (e.g. from an OPC UA
    ``EUInformation.DisplayName``); without it such a code is refused, with the fix.
    """
    by_code, alias = _table()
    if not isinstance(text, str):
        raise InvalidArgumentError(f"a unit must be a str, not {type(text).__name__}")
    if text in by_code:
        u = by_code[text]
        return u if symbol is None or symbol == u.symbol else Unit(u.code, symbol, u.name)
    if text in alias:
        return by_code[alias[text]]
    if symbol is not None and _CODE.fullmatch(text):
        if len(symbol) > 32 or not symbol.isprintable():
            raise InvalidArgumentError(f"unit symbol {symbol[:40]!r} is not printable text")
        return Unit(text, symbol)
    raise InvalidArgumentError(
        f"unknown unit {text[:40]!r}: give a UNECE Rec 20 code (e.g. 'CEL', 'MQH', 'BAR') or a "
        "symbol of historian.assets.units() (e.g. '°C', 'degC', 'm3/h'); a code outside the "
        "table needs its symbol: unit='XYZ', symbol='...'"
    )


def unit_from_id(value: int, symbol: str | None = None) -> Unit:
    """The unit of an OPC UA ``UnitId`` (``symbol``: the server's DisplayName, used for a code
    outside the table)."""
    code = code_from_id(value)
    by_code = _table()[0]
    if code in by_code:
        return by_code[code]
    return unit(code, symbol or code)
