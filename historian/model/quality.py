"""Quality codes: OPC UA StatusCodes (uint32), as used end to end by historian.

The top two bits give the severity: ``00`` Good, ``01`` Uncertain, ``10``/``11`` Bad. The low
bits carry the historian info bits of OPC UA Part 4/13 (Calculated, Interpolated, Partial, ...).

Examples
--------
>>> from historian.model import quality as q
>>> q.is_bad(q.BAD_NO_COMMUNICATION), q.is_good(q.GOOD), q.is_uncertain(q.UNCERTAIN)
(True, True, True)
>>> q.name(0x80310000)
'BadNoCommunication'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.model._status_codes import STATUS_CODES

# Severity masks: the top two bits. BAD is also the "Bad bit": ``code & BAD`` is set for Bad
# (``10`` and ``11``), clear for Good and Uncertain.
SEVERITY_MASK = 0xC0000000
GOOD = 0x00000000
UNCERTAIN = 0x40000000
BAD = 0x80000000
#: Severity and sub-code, without the 16 info bits: ``code & CODE_MASK`` names the condition.
CODE_MASK = 0xFFFF0000

# Sub-codes used by historian (values from the OPC UA StatusCode table).
GOOD_CLAMPED = 0x00300000
UNCERTAIN_LAST_USABLE_VALUE = 0x40900000
UNCERTAIN_SENSOR_NOT_ACCURATE = 0x40930000
UNCERTAIN_ENGINEERING_UNITS_EXCEEDED = 0x40940000
UNCERTAIN_SUBSTITUTE_VALUE = 0x40910000
UNCERTAIN_DATA_SUB_NORMAL = 0x40A40000
UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE = 0x408F0000
BAD_NO_COMMUNICATION = 0x80310000
BAD_NOT_CONNECTED = 0x808A0000
BAD_COMMUNICATION_ERROR = 0x80050000
BAD_DEVICE_FAILURE = 0x808B0000
BAD_SENSOR_FAILURE = 0x808C0000
BAD_OUT_OF_RANGE = 0x803C0000
BAD_NO_DATA = 0x809B0000
BAD_DATA_LOST = 0x809D0000
BAD_TIMEOUT = 0x800A0000
BAD_DECODING_ERROR = 0x80070000
BAD_TYPE_MISMATCH = 0x80740000
BAD_INVALID_TIMESTAMP = 0x80230000
BAD_CONFIGURATION_ERROR = 0x80890000
BAD_OUT_OF_SERVICE = 0x808D0000
BAD_WAITING_FOR_INITIAL_DATA = 0x80320000
BAD_SECURITY_CHECKS_FAILED = 0x80130000

# Historian info bits (Part 4, 7.39.1; Part 13): InfoType=DataValue plus the data-location bits.
INFO_TYPE_DATA_VALUE = 0x00000400
INFO_OVERFLOW = 0x00000080  # with InfoType DataValue: values were lost from a queue (Part 4)
HISTORIAN_RAW = 0x0
HISTORIAN_CALCULATED = 0x1
HISTORIAN_INTERPOLATED = 0x2
HISTORIAN_PARTIAL = 0x4
HISTORIAN_EXTRA_DATA = 0x8
HISTORIAN_MULTI_VALUE = 0x10
HISTORIAN_BITS_MASK = 0x1F

#: Every OPC UA StatusCode by code: ``{0x80310000: "BadNoCommunication", ...}`` (the OPC
#: Foundation's list, generated into :mod:`historian.model._status_codes`).
NAMES: dict[int, str] = {c: n for c, (n, _doc) in STATUS_CODES.items()}
_NAMES = NAMES
_CODES = {v.replace("_", ""): k for k, v in _NAMES.items()}  # "Bad_X" and "BadX" alike


def is_good(code: int) -> bool:
    """True when the severity bits of ``code`` say Good."""
    return (int(code) & SEVERITY_MASK) == 0


def is_uncertain(code: int) -> bool:
    """True when the severity bits of ``code`` say Uncertain."""
    return (int(code) & SEVERITY_MASK) == UNCERTAIN


def is_bad(code: int) -> bool:
    """True when the severity bits of ``code`` say Bad (``10`` or ``11``)."""
    return (int(code) & 0x80000000) != 0


def good_mask(codes: np.ndarray) -> np.ndarray:
    """Vectorised :func:`is_good` over a uint32 array.

    >>> good_mask(np.array([0, 0x40000000, 0x80310000], dtype=np.uint32)).tolist()
    [True, False, False]
    """
    mask: np.ndarray = (np.asarray(codes, dtype=np.uint32) & np.uint32(SEVERITY_MASK)) == 0
    return mask


def bad_mask(codes: np.ndarray) -> np.ndarray:
    """Vectorised :func:`is_bad` over a uint32 array."""
    mask: np.ndarray = (np.asarray(codes, dtype=np.uint32) & np.uint32(BAD)) != 0
    return mask


def severity(code: int) -> int:
    """The base severity code (GOOD, UNCERTAIN or BAD) of ``code``."""
    c = int(code)
    if c & 0x80000000:
        return BAD
    return c & SEVERITY_MASK


def name(code: int) -> str:
    """A readable name: the sub-code name plus historian bits, e.g. ``'Good, Calculated'``."""
    c = int(code)
    base = c & 0xFFFF0000
    text = _NAMES.get(base) or _NAMES.get(severity(c), hex(c))
    if base not in _NAMES:
        text = f"{text} (0x{base:08X})"
    bits = c & HISTORIAN_BITS_MASK
    extras = []
    if bits & 0x3 == HISTORIAN_CALCULATED:
        extras.append("Calculated")
    elif bits & 0x3 == HISTORIAN_INTERPOLATED:
        extras.append("Interpolated")
    if bits & HISTORIAN_PARTIAL:
        extras.append("Partial")
    if bits & HISTORIAN_EXTRA_DATA:
        extras.append("ExtraData")
    if bits & HISTORIAN_MULTI_VALUE:
        extras.append("MultipleValues")
    return ", ".join([text, *extras])


def description(code_: int) -> str:
    """The OPC Foundation's one-line description of a StatusCode (its sub-code).

    >>> description(BAD_OUT_OF_RANGE)
    'The value was out of range.'
    """
    c = int(code_) & 0xFFFF0000
    entry = STATUS_CODES.get(c) or STATUS_CODES.get(severity(c))
    return entry[1] if entry else ""


def code(name_: str) -> int:
    """The StatusCode for a name such as ``'BadNoCommunication'`` or ``'Bad_NoCommunication'``.

    >>> hex(code("Bad_SensorFailure"))
    '0x808c0000'
    """
    key = name_.strip().replace("_", "")
    if key not in _CODES:
        folded = {k.casefold(): k for k in _CODES}.get(key.casefold())
        hint = f" (did you mean {folded!r}?)" if folded else ""
        raise KeyError(f"unknown StatusCode name {name_!r}{hint}; see historian.quality.NAMES")
    return _CODES[key]


def parse(value: Any) -> int:
    """One StatusCode from an int, a name (``"Bad"``, ``"Bad_NoCommunication"``) or a number in
    text (``"0x80310000"``, ``"0"``); raises ``ValueError`` naming the value.

    >>> parse("Bad_NoCommunication") == parse("0x80310000") == parse(0x80310000)
    True
    >>> parse("Good")
    0
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not an OPC UA StatusCode")
    if isinstance(value, int | np.integer) or (
        isinstance(value, float | np.floating) and float(value).is_integer()
    ):
        c = int(value)
    elif isinstance(value, str | np.str_):
        text = str(value).strip()
        try:
            c = int(text, 0)
        except ValueError:
            try:
                return code(text)
            except KeyError as exc:
                raise ValueError(str(exc.args[0])) from None
    else:
        raise ValueError(f"{value!r} is not an OPC UA StatusCode")
    if not 0 <= c <= 0xFFFFFFFF:
        raise ValueError(f"{value!r} does not fit in a uint32 OPC UA StatusCode")
    return c


def codes(values: Any) -> np.ndarray:
    """Many StatusCodes as uint32, from ints, names or both (each distinct value parsed once).

    >>> codes(["Good", "Bad_NoCommunication", 0x40000000, "0x808C0000"]).tolist()
    [0, 2150694912, 1073741824, 2156658688]
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
            raise ValueError("quality values must fit in uint32 (OPC UA StatusCodes)")
        return arr.astype(np.uint32)
    flat = arr.ravel().tolist()
    table: dict[Any, int] = {}
    out = np.empty(len(flat), dtype=np.uint32)
    for i, v in enumerate(flat):
        c = table.get(v)
        if c is None:
            c = table[v] = parse(v)
        out[i] = c
    return out.reshape(arr.shape)


def names(values: Any) -> list[str]:
    """:func:`name` for a whole column (numpy, Arrow, pandas, a list): each distinct code named
    once. ``pd.Series(names(t["quality"]))`` or ``t.append_column("quality_name",
    pa.array(names(t["quality"])))`` adds a readable column.

    >>> names([0, 0x80310000, 0, 0x40000000 | 0x1])
    ['Good', 'BadNoCommunication', 'Good', 'Uncertain, Calculated']
    """
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        try:
            values = values.to_numpy(zero_copy_only=False)
        except TypeError:  # pandas / polars
            values = values.to_numpy()
    arr = np.asarray(values, dtype=np.int64)
    uniq, inverse = np.unique(arr, return_inverse=True)
    labels = [name(int(c)) for c in uniq]
    return [labels[i] for i in inverse.ravel().tolist()]
