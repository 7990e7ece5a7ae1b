"""Modbus register maps: parsing, request planning and decoding. Pure: no I/O, no pymodbus.

A register map is a list of point dicts (the ``[[modbus.points]]`` of a collector config)::

    {"tag": "FIC-101.PV", "table": "holding", "address": 0, "type": "float32",
     "word_order": "big", "byte_order": "big", "scale": 1.0, "offset": 0.0, "unit": "m3/h"}

- ``table``: ``holding`` (FC3), ``input`` (FC4), ``coil`` (FC1), ``discrete`` (FC2).
- ``type``: ``int16 uint16 int32 uint32 int64 uint64 float32 float64 bool string``; a string
  takes ``count`` registers (2 characters each); ``bool`` in a register table reads ``bit``
  (0 = least significant, default: the register is non-zero).
- ``word_order``: ``big`` = the first register holds the most significant word; ``little`` =
  the registers are in reverse order. ``byte_order``: ``big`` = each register sends its high
  byte first (the Modbus standard); ``little`` = the two bytes of each register are swapped.
  So for float32: big/big = ABCD, little/big = CDAB, big/little = BADC, little/little = DCBA.
- ``scale``/``offset``: the value stored is ``raw * scale + offset``.

:func:`plan_requests` groups points into reads of at most 125 registers (2000 bits) that only
touch configured addresses (plus at most ``max_gap`` unconfigured ones between two points).
:class:`RequestDecoder` turns the registers of one response into values and StatusCodes with a
few numpy operations, whatever the number of points.

Examples
--------
>>> pts = parse_points([
...     {"tag": "A", "table": "holding", "address": 0, "type": "float32"},
...     {"tag": "B", "table": "holding", "address": 2, "type": "int16", "scale": 0.1},
...     {"tag": "C", "table": "holding", "address": 10, "type": "uint16"},
... ])
>>> [(r.table, r.address, r.count) for r in plan_requests(pts)]
[('holding', 0, 3), ('holding', 10, 1)]
>>> [(r.address, r.count) for r in plan_requests(pts, max_gap=7)]
[(0, 11)]
>>> regs = encode_value(pts[0], 31.5) + encode_value(pts[1], -12.3)
>>> values, quality, text = RequestDecoder(plan_requests(pts)[0], pts).decode(regs)
>>> values.round(6).tolist(), quality.tolist()
([31.5, -12.3], [0, 0])
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from historian.errors import ConfigError
from historian.model import quality as q

if TYPE_CHECKING:
    from historian.acquisition.config import TagSettings

__all__ = [
    "BIT_TABLES",
    "FUNCTION_CODES",
    "MAX_BITS",
    "MAX_REGISTERS",
    "READ_FUNCTION_CODES",
    "TABLES",
    "TYPES",
    "ModbusPoint",
    "ReadRequest",
    "RequestDecoder",
    "decode_value",
    "encode_value",
    "exception_status",
    "parse_points",
    "plan_requests",
]

MAX_REGISTERS = 125
MAX_BITS = 2000
TABLES = ("holding", "input", "coil", "discrete")
BIT_TABLES = ("coil", "discrete")
FUNCTION_CODES = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
READ_FUNCTION_CODES = frozenset(FUNCTION_CODES.values())

# type -> (registers, big-endian numpy dtype)
_NUMERIC = {
    "int16": (1, ">i2"),
    "uint16": (1, ">u2"),
    "int32": (2, ">i4"),
    "uint32": (2, ">u4"),
    "int64": (4, ">i8"),
    "uint64": (4, ">u8"),
    "float32": (2, ">f4"),
    "float64": (4, ">f8"),
}
TYPES = (*_NUMERIC, "bool", "string")


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """One configured point of a register map (see the module docstring for the keys).

    The one Modbus point model: the TOML loader (:mod:`historian.acquisition.config`) builds
    these, :func:`plan_requests` and :class:`RequestDecoder` work on them, the source and the
    simulator use them. ``settings`` holds what the point says about its tag (a
    :class:`~historian.acquisition.config.TagSettings`; None when built outside a config).
    """

    tag: str
    table: str
    address: int
    type: str = "uint16"
    word_order: str = "big"
    byte_order: str = "big"
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    count: int = 1
    bit: int | None = None
    settings: TagSettings | None = field(default=None, compare=False)

    @property
    def registers(self) -> int:
        """Registers (or bits, for coil/discrete) the point spans (same as :attr:`width`)."""
        return self.width

    @property
    def width(self) -> int:
        """Number of registers (or bits, for coils/discrete inputs) the point occupies."""
        if self.table in BIT_TABLES:
            return 1
        if self.type == "string":
            return self.count
        if self.type == "bool":
            return 1
        return _NUMERIC[self.type][0]

    @property
    def function_code(self) -> int:
        """The Modbus read function code of the point's table (1-4)."""
        return FUNCTION_CODES[self.table]


def parse_points(
    items: Iterable[Mapping[str, Any]], *, where: str = "modbus.points"
) -> list[ModbusPoint]:
    """Validate point dicts and return :class:`ModbusPoint` objects.

    The same validation as the TOML loader
    (:func:`historian.acquisition.config.modbus_points`): one path, one set of messages.
    Raises :class:`~historian.errors.ConfigError` naming the point and the key to fix.
    """
    from historian.acquisition.config import modbus_points  # config builds on this module

    return modbus_points(items, where=where)


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read: ``count`` registers/bits of ``table`` from ``address``, serving ``points``.

    ``points`` are indices into the point list given to :func:`plan_requests`.
    """

    table: str
    address: int
    count: int
    points: tuple[int, ...]

    @property
    def function_code(self) -> int:
        return FUNCTION_CODES[self.table]


def plan_requests(
    points: Sequence[ModbusPoint],
    *,
    max_gap: int = 0,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
) -> list[ReadRequest]:
    """Group points into as few reads as the limits allow.

    Two points share a read when the addresses between them that no point uses number at most
    ``max_gap`` (default 0: a read never touches an address that is not configured, because a
    device answers a read that touches an address it does not serve with an exception). Every
    configured address is read exactly once; overlapping points share registers.
    """
    if max_gap < 0:
        raise ConfigError(f"max_gap must be >= 0, got {max_gap}")
    if not 1 <= max_registers <= MAX_REGISTERS or not 1 <= max_bits <= MAX_BITS:
        raise ConfigError(f"max block must be 1..{MAX_REGISTERS} registers, 1..{MAX_BITS} bits")
    requests: list[ReadRequest] = []
    for table in TABLES:
        limit = max_bits if table in BIT_TABLES else max_registers
        members = sorted(
            (p.address, p.address + p.width, i) for i, p in enumerate(points) if p.table == table
        )
        start = end = -1
        group: list[int] = []
        for lo, hi, i in members:
            if hi - lo > limit:
                raise ConfigError(f"point {points[i].tag!r} spans {hi - lo} > {limit} addresses")
            if group and lo <= end + max_gap and max(hi, end) - start <= limit:
                end = max(end, hi)
                group.append(i)
                continue
            if group:
                requests.append(ReadRequest(table, start, end - start, tuple(group)))
            start, end, group = lo, hi, [i]
        if group:
            requests.append(ReadRequest(table, start, end - start, tuple(group)))
    return requests


def _byte_index(point: ModbusPoint, base: int) -> list[int]:
    """Offsets, in the big-endian bytes of a response, of the value's bytes, most significant
    first."""
    regs = list(range(point.address - base, point.address - base + point.width))
    if point.word_order == "little":
        regs.reverse()
    hi_lo = (1, 0) if point.byte_order == "little" else (0, 1)
    return [2 * r + b for r in regs for b in hi_lo]


class RequestDecoder:
    """Decode the response of one :class:`ReadRequest` into values, StatusCodes and texts.

    The work is prepared once; :meth:`decode` then costs one ``struct`` pack and a few numpy
    operations per numeric type in the request.
    """

    def __init__(self, request: ReadRequest, points: Sequence[ModbusPoint]):
        self.request = request
        self.points = [points[i] for i in request.points]
        self.tags = [p.tag for p in self.points]
        self.n = len(self.points)
        self.is_bits = request.table in BIT_TABLES
        base = request.address
        groups: dict[str, list[int]] = {}
        self._strings: list[int] = []
        self._bools: list[tuple[int, int, int | None]] = []
        for k, p in enumerate(self.points):
            if self.is_bits or p.type == "bool":
                self._bools.append((k, p.address - base, p.bit))
            elif p.type == "string":
                self._strings.append(k)
            else:
                groups.setdefault(p.type, []).append(k)
        # One gather per type: the byte positions of each point's value, big-endian, with the
        # word order (register order) and byte order (bytes within a register) folded in.
        self._groups = []
        for typ, ks in groups.items():
            index = np.array([_byte_index(self.points[k], base) for k in ks], dtype=np.intp)
            scale = np.array([self.points[k].scale for k in ks])
            offset = np.array([self.points[k].offset for k in ks])
            plain = bool(np.all(scale == 1.0) and np.all(offset == 0.0))
            every = ks == list(range(self.n))
            self._groups.append(
                (
                    np.array(ks, dtype=np.intp),
                    index,
                    np.dtype(_NUMERIC[typ][1]),
                    scale,
                    offset,
                    plain,
                    typ.startswith("float"),
                    every,
                )
            )
        self._pack = struct.Struct(f">{request.count}H").pack if not self.is_bits else None
        self.has_text = bool(self._strings)

    def decode(
        self, data: Sequence[int] | Sequence[bool] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[str | None] | None]:
        """Values (float64), StatusCodes (uint32) and texts (None unless strings) of a response.

        ``data`` holds the registers (or bits) of the response. A response shorter than the
        request, or a value that cannot be decoded (a NaN/Inf float, invalid UTF-8), gives
        ``Bad_DecodingError`` with a NaN value; the other points keep their values.
        """
        status = np.zeros(self.n, dtype=np.uint32)
        text: list[str | None] | None = [None] * self.n if self.has_text else None
        if len(data) < self.request.count:
            status[:] = q.BAD_DECODING_ERROR
            return np.full(self.n, np.nan), status, text
        if self.is_bits:
            bits = np.empty(self.n)
            for k, off, _ in self._bools:
                bits[k] = 1.0 if data[off] else 0.0
            return bits, status, text
        assert self._pack is not None
        try:  # anything that is not a register 0..65535 is garbage
            buf = np.frombuffer(self._pack(*data[: self.request.count]), dtype=np.uint8)
        except (struct.error, TypeError):
            status[:] = q.BAD_DECODING_ERROR
            return np.full(self.n, np.nan), status, text
        values = self._decode_numbers(buf, status)
        regs = data
        for k, off, bit in self._bools:
            reg = int(regs[off])
            values[k] = float((reg >> bit) & 1) if bit is not None else float(reg != 0)
        for k in self._strings:
            p = self.points[k]
            lo = p.address - self.request.address
            s = decode_value(p, [int(r) for r in regs[lo : lo + p.width]])
            if s is None:
                status[k] = q.BAD_DECODING_ERROR
            elif text is not None:
                text[k] = str(s)
        return values, status, text

    def _decode_numbers(self, buf: np.ndarray, status: np.ndarray) -> np.ndarray:
        """The numeric points of the response bytes ``buf``, one vectorised step per type;
        a NaN/Inf float gets ``Bad_DecodingError`` in ``status``; other points stay NaN."""
        values: np.ndarray | None = None
        for ks, index, dtype, scale, offset, plain, is_float, every in self._groups:
            raw = buf[index].view(dtype).ravel().astype(np.float64)
            if is_float:
                finite = np.isfinite(raw)
                if not finite.all():
                    bad = ~finite
                    status[ks[bad]] = q.BAD_DECODING_ERROR
                    raw[bad] = np.nan
            if not plain:
                raw = raw * scale + offset
            if every:  # one type fills the whole request, in order
                values = raw
            else:
                if values is None:
                    values = np.full(self.n, np.nan)
                values[ks] = raw
        return np.full(self.n, np.nan) if values is None else values


def _to_bytes(point: ModbusPoint, registers: Sequence[int]) -> bytes:
    regs = list(registers)
    if point.word_order == "little":
        regs.reverse()
    fmt = "<" if point.byte_order == "little" else ">"
    return struct.pack(f"{fmt}{len(regs)}H", *regs)


def decode_value(point: ModbusPoint, registers: Sequence[int]) -> float | str | None:
    """Decode one point from its own registers (slow path, one point; used for strings/tests).

    Numbers come back scaled (``raw * scale + offset``); a string comes back as ``str`` with
    trailing NULs and spaces removed; None when the bytes cannot be decoded.

    >>> p = ModbusPoint("X", "holding", 0, "float32", word_order="little", byte_order="little")
    >>> round(decode_value(p, [0xDA77, 0xFB41]), 4)
    31.4335
    """
    if point.type == "string":
        try:
            return _to_bytes(point, registers).decode("utf-8").rstrip("\x00 ")
        except UnicodeDecodeError:
            return None
    if point.type == "bool":
        reg = int(registers[0])
        return float((reg >> point.bit) & 1) if point.bit is not None else float(reg != 0)
    raw = float(np.frombuffer(_to_bytes(point, registers), dtype=_NUMERIC[point.type][1])[0])
    if not math.isfinite(raw):
        return None
    return raw * point.scale + point.offset


def encode_value(point: ModbusPoint, value: float | int | str | bool) -> list[int]:
    """The registers a device holds for ``value`` (the inverse of decoding; for simulators).

    Numbers are given in engineering units and unscaled (``(value - offset) / scale``, rounded
    for integer types). Coil/discrete points are not registers: use ``bool(value)`` instead.

    >>> encode_value(ModbusPoint("X", "holding", 0, "int32", word_order="little"), -2)
    [65534, 65535]
    """
    if point.table in BIT_TABLES:
        raise ValueError("coils and discrete inputs hold bits, not registers")
    if point.type == "string":
        data = str(value).encode("utf-8")[: 2 * point.count].ljust(2 * point.count, b"\x00")
        regs = list(struct.unpack(f">{point.count}H", data))
    elif point.type == "bool":
        regs = [(1 << point.bit) if value and point.bit is not None else int(bool(value))]
        return regs
    else:
        dtype = np.dtype(_NUMERIC[point.type][1])
        raw = (float(value) - point.offset) / point.scale
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            if isinstance(value, int) and point.scale == 1.0 and point.offset == 0.0:
                iv = int(value)  # exact for 64-bit integers
            else:
                iv = round(raw)
            iv = min(max(iv, int(info.min)), int(info.max))
            data = np.array([iv], dtype=dtype).tobytes()
        else:
            data = np.array([raw], dtype=dtype).tobytes()
        regs = list(struct.unpack(f">{len(data) // 2}H", data))
    if point.byte_order == "little":
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    if point.word_order == "little":
        regs.reverse()
    return regs


_EXCEPTION_STATUS = {
    1: q.BAD_CONFIGURATION_ERROR,  # illegal function: the device has no such table
    2: q.BAD_CONFIGURATION_ERROR,  # illegal data address: the map names an unserved address
    3: q.BAD_CONFIGURATION_ERROR,  # illegal data value (e.g. count)
    4: q.BAD_DEVICE_FAILURE,  # server device failure
    5: q.BAD_DEVICE_FAILURE,  # acknowledge (long operation): no data now
    6: q.BAD_DEVICE_FAILURE,  # server device busy
    8: q.BAD_DEVICE_FAILURE,  # memory parity error
    10: q.BAD_NO_COMMUNICATION,  # gateway path unavailable
    11: q.BAD_NO_COMMUNICATION,  # gateway target failed to respond
}


def exception_status(exception_code: int) -> int:
    """The StatusCode recorded for a Modbus exception response.

    >>> q.name(exception_status(2)), q.name(exception_status(4)), q.name(exception_status(11))
    ('BadConfigurationError', 'BadDeviceFailure', 'BadNoCommunication')
    """
    return _EXCEPTION_STATUS.get(int(exception_code), q.BAD_DEVICE_FAILURE)
