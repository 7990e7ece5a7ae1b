"""Pure Modbus planning and decoding: no sockets. pymodbus' own converter is the oracle."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from historian.acquisition.modbus_plan import (
    MAX_BITS,
    MAX_REGISTERS,
    TYPES,
    ModbusPoint,
    RequestDecoder,
    decode_value,
    encode_value,
    exception_status,
    parse_points,
    plan_requests,
)
from historian.errors import ConfigError
from historian.model import quality as q

NUMERIC = [t for t in TYPES if t not in ("bool", "string")]
ORDERS = [(w, b) for w in ("big", "little") for b in ("big", "little")]
_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q",
           "uint64": "Q", "float32": "f", "float64": "d"}  # fmt: skip


def reference_registers(typ: str, value, word_order: str, byte_order: str) -> list[int]:
    """Independent reference: big-endian bytes, split in registers, then reorder."""
    data = struct.pack(">" + _STRUCT[typ], value)
    regs = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if byte_order == "little":
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    if word_order == "little":
        regs = regs[::-1]
    return regs


def pymodbus_decode(typ: str, regs: list[int], word_order: str, byte_order: str):
    from pymodbus.client import ModbusTcpClient as C

    if byte_order == "little":
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return C.convert_from_registers(regs, getattr(C.DATATYPE, typ.upper()), word_order=word_order)


def values_for(typ: str):
    if typ.startswith("float"):
        width = 32 if typ == "float32" else 64
        return st.floats(allow_nan=False, allow_infinity=False, width=width)
    bits = int(typ.removeprefix("u").removeprefix("int"))
    if typ.startswith("u"):
        return st.integers(0, 2**bits - 1)
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


# --- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", NUMERIC)
@pytest.mark.parametrize(("word_order", "byte_order"), ORDERS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_type_and_order_decodes_exactly(typ, word_order, byte_order, data):
    value = data.draw(values_for(typ))
    regs = reference_registers(typ, value, word_order, byte_order)
    assert pymodbus_decode(typ, regs, word_order, byte_order) == value  # the oracle agrees
    p = ModbusPoint("X", "holding", 7, typ, word_order, byte_order)
    req = plan_requests([p])[0]
    values, status, _ = RequestDecoder(req, [p]).decode(regs)
    assert status.tolist() == [q.GOOD]
    if typ in ("int64", "uint64"):  # float64 holds 53 bits: the value is the nearest double
        assert values[0] == float(value)
    else:
        assert values[0] == value
    assert encode_value(p, value) == regs
    assert decode_value(p, regs) == float(value)


def test_known_vectors():
    # pymodbus issue #2616: DCBA float32
    p = ModbusPoint("X", "holding", 0, "float32", "little", "little")
    assert round(decode_value(p, [0xDA77, 0xFB41]), 4) == 31.4335
    # 123.456 as ABCD = 0x42F6 0xE979; CDAB swaps the words; BADC swaps bytes
    for wo, bo, regs in [("big", "big", [0x42F6, 0xE979]), ("little", "big", [0xE979, 0x42F6]),
                         ("big", "little", [0xF642, 0x79E9]), ("little", "little", [0x79E9, 0xF642])]:  # fmt: skip
        p = ModbusPoint("X", "holding", 0, "float32", wo, bo)
        assert abs(decode_value(p, regs) - 123.456) < 1e-4
        assert encode_value(p, 123.456) == regs
    assert decode_value(ModbusPoint("X", "input", 0, "int16"), [0xFFFF]) == -1
    assert decode_value(ModbusPoint("X", "input", 0, "uint32", "little"), [0x0002, 0x0001]) == 65538


@pytest.mark.parametrize(("word_order", "byte_order", "regs"), [
    ("big", "big", [0x4142, 0x4344]), ("big", "little", [0x4241, 0x4443]),
    ("little", "big", [0x4344, 0x4142]),
])  # fmt: skip
def test_strings(word_order, byte_order, regs):
    p = ModbusPoint("S", "holding", 0, "string", word_order, byte_order, count=2)
    assert decode_value(p, regs) == "ABCD"
    assert encode_value(p, "ABCD") == regs
    pad = ModbusPoint("S", "holding", 0, "string", count=4)
    assert decode_value(pad, encode_value(pad, "AB")) == "AB"


def test_scale_offset_bool_bits_and_mixed_request():
    pts = parse_points([
        {"tag": "T", "table": "input", "address": 0, "type": "int16", "scale": 0.1, "offset": -5},
        {"tag": "B3", "table": "input", "address": 1, "type": "bool", "bit": 3},
        {"tag": "NZ", "table": "input", "address": 1, "type": "bool"},
        {"tag": "F", "table": "input", "address": 2, "type": "float32", "word_order": "little"},
        {"tag": "S", "table": "input", "address": 4, "type": "string", "count": 2},
    ])  # fmt: skip
    (req,) = plan_requests(pts)
    regs = [250, 0b1000, *encode_value(pts[3], 1.5), *encode_value(pts[4], "OK")]
    values, status, text = RequestDecoder(req, pts).decode(regs)
    assert values[:4].tolist() == pytest.approx([20.0, 1.0, 1.0, 1.5])
    assert math.isnan(values[4]) and text == [None, None, None, None, "OK"]
    assert status.tolist() == [0] * 5
    bits = parse_points([{"tag": "C0", "table": "coil", "address": 10},
                         {"tag": "C2", "table": "coil", "address": 12}])  # fmt: skip
    (breq,) = plan_requests(bits, max_gap=1)
    assert (breq.address, breq.count) == (10, 3)
    values, status, _ = RequestDecoder(breq, bits).decode([True, False, False, True, False])
    assert values.tolist() == [1.0, 0.0]


def test_garbage_becomes_bad_decoding_error_not_an_exception():
    pts = parse_points([
        {"tag": "F", "table": "holding", "address": 0, "type": "float32"},
        {"tag": "G", "table": "holding", "address": 2, "type": "uint16"},
        {"tag": "S", "table": "holding", "address": 3, "type": "string", "count": 1},
    ])  # fmt: skip
    dec = RequestDecoder(plan_requests(pts)[0], pts)
    nan = encode_value(pts[0], float("nan"))
    values, status, text = dec.decode([*nan, 7, 0xFFFE])  # NaN float, invalid UTF-8
    assert status.tolist() == [q.BAD_DECODING_ERROR, q.GOOD, q.BAD_DECODING_ERROR]
    assert math.isnan(values[0]) and values[1] == 7 and text == [None, None, None]
    values, status, _ = dec.decode([1, 2])  # short response
    assert (status == q.BAD_DECODING_ERROR).all() and np.isnan(values).all()
    values, status, _ = dec.decode([1, 2, 70000, 4])  # not a register
    assert (status == q.BAD_DECODING_ERROR).all()


def test_exception_codes_map_to_bad_statuses():
    assert exception_status(2) == q.BAD_CONFIGURATION_ERROR
    assert exception_status(4) == q.BAD_DEVICE_FAILURE
    assert exception_status(6) == q.BAD_DEVICE_FAILURE
    assert exception_status(11) == q.BAD_NO_COMMUNICATION
    assert all(q.is_bad(exception_status(c)) for c in range(256))


# --- planning ---------------------------------------------------------------------------------


@st.composite
def register_maps(draw):
    """Register maps whose points do not overlap (as on real devices)."""
    n = draw(st.integers(1, 60))
    out: list[dict] = []
    used: dict[str, set[int]] = {}
    for i in range(n):
        table = draw(st.sampled_from(["holding", "input", "coil", "discrete"]))
        if table in ("coil", "discrete"):
            typ, extra = "bool", {}
        else:
            typ = draw(st.sampled_from(["uint16", "int32", "float64", "string"]))
            extra = {"count": draw(st.integers(1, 125))} if typ == "string" else {}
        address = draw(st.integers(0, 3000))
        (p,) = parse_points([{"tag": f"P{i}", "table": table, "address": address, "type": typ,
                              **extra}])  # fmt: skip
        span = set(range(p.address, p.address + p.width))
        if span & used.setdefault(table, set()):
            continue
        used[table] |= span
        out.append(p)
    return out


@settings(max_examples=300, deadline=None)
@given(points=register_maps(), max_gap=st.sampled_from([0, 0, 1, 5, 50]))
def test_plan_properties(points, max_gap):
    requests = plan_requests(points, max_gap=max_gap)
    configured: dict[str, set[int]] = {}
    for p in points:
        configured.setdefault(p.table, set()).update(range(p.address, p.address + p.width))
    covered: dict[str, list[int]] = {}
    seen_points = []
    for r in requests:
        limit = MAX_BITS if r.table in ("coil", "discrete") else MAX_REGISTERS
        assert 1 <= r.count <= limit
        span = range(r.address, r.address + r.count)
        covered.setdefault(r.table, []).extend(a for a in span if a in configured[r.table])
        for i in r.points:  # each point lies inside its request
            p = points[i]
            assert p.table == r.table
            assert r.address <= p.address and p.address + p.width <= r.address + r.count
        seen_points.extend(r.points)
        if max_gap == 0:  # never touches an address the map does not name
            assert all(a in configured[r.table] for a in span)
        else:  # unconfigured runs inside a request are at most max_gap long
            run = 0
            for a in span:
                run = 0 if a in configured[r.table] else run + 1
                assert run <= max_gap
    assert sorted(seen_points) == list(range(len(points)))  # every point in exactly one read
    for table, addrs in configured.items():  # every configured address read exactly once
        assert sorted(covered[table]) == sorted(addrs)


def test_overlapping_points_share_a_read():
    pts = parse_points([
        {"tag": "U32", "address": 10, "type": "uint32"},
        {"tag": "HI", "address": 10, "type": "uint16"},
        {"tag": "LO", "address": 11, "type": "int16"},
    ])  # fmt: skip
    (req,) = plan_requests(pts)
    assert (req.address, req.count, sorted(req.points)) == (10, 2, [0, 1, 2])
    values, _, _ = RequestDecoder(req, pts).decode([1, 0xFFFF])
    assert sorted(values.tolist()) == [-1.0, 1.0, 65536.0 + 65535.0]


def test_plan_examples():
    pts = parse_points([{"tag": f"R{a}", "table": "holding", "address": a} for a in range(300)])
    assert [(r.address, r.count) for r in plan_requests(pts)] == [(0, 125), (125, 125), (250, 50)]
    assert [r.count for r in plan_requests(pts, max_registers=100)] == [100, 100, 100]
    gap = parse_points([{"tag": "A", "address": 0}, {"tag": "B", "address": 3}])
    assert len(plan_requests(gap)) == 2
    assert len(plan_requests(gap, max_gap=1)) == 2
    assert len(plan_requests(gap, max_gap=2)) == 1


@pytest.mark.parametrize(("point", "key"), [
    ({"table": "holding", "address": 0}, "tag"),
    ({"tag": "A", "table": "holdings", "address": 0}, "table"),
    ({"tag": "A", "address": -1}, "address"),
    ({"tag": "A", "address": 65535, "type": "float32"}, "address"),
    ({"tag": "A", "address": 0, "type": "float16"}, "type"),
    ({"tag": "A", "table": "coil", "address": 0, "type": "int16"}, "type"),
    ({"tag": "A", "address": 0, "word_order": "middle"}, "word_order"),
    ({"tag": "A", "address": 0, "byte_order": "BADC"}, "byte_order"),
    ({"tag": "A", "address": 0, "scale": "x"}, "scale"),
    ({"tag": "A", "address": 0, "type": "string"}, None),
    ({"tag": "A", "address": 0, "type": "string", "count": 126}, "count"),
    ({"tag": "A", "address": 0, "count": 2}, "count"),
    ({"tag": "A", "address": 0, "bit": 3}, "bit"),
    ({"tag": "A", "address": 0, "adress": 1}, "adress"),
    ({"tag": "../etc", "address": 0}, "tag"),
])  # fmt: skip
def test_config_errors_name_the_key(point, key):
    if key is None:  # a string without count is one register: allowed
        assert parse_points([point])[0].count == 1
        return
    # one validation path (the TOML loader's): the message names the point and the key
    with pytest.raises(ConfigError, match=rf"^modbus\.points\[0\]\.{key}: "):
        parse_points([point])


def test_duplicate_tags_refused():
    with pytest.raises(ConfigError, match="duplicate"):
        parse_points([{"tag": "A", "address": 0}, {"tag": "A", "address": 1}])
