"""The few Flight SQL protobuf messages the read service speaks, encoded by hand.

pyarrow ships Flight but not the Flight SQL messages (``FlightSql.proto``), and the read service
needs only a dozen small messages whose fields are strings, bytes, bools and unsigned ints. Rather
than depend on ``protobuf``, this module encodes and decodes exactly those fields in the protobuf
wire format (varints and length-delimited fields) and the ``google.protobuf.Any`` wrapper every
Flight SQL command travels in. Unknown fields are skipped, as protobuf readers do; a malformed
message raises :class:`~historian.errors.InvalidArgumentError`.

Examples
--------
>>> from historian.gateway import flightsql_proto as fp
>>> blob = fp.pack("CommandStatementQuery", {"query": "SELECT 1"})
>>> fp.unpack(blob)
('CommandStatementQuery', {'query': 'SELECT 1'})
"""

from __future__ import annotations

from typing import Any

from historian.errors import InvalidArgumentError

__all__ = ["MESSAGES", "TYPE_PREFIX", "decode", "encode", "pack", "unpack"]

#: The ``type_url`` prefix of every Flight SQL message inside an ``Any``.
TYPE_PREFIX = "type.googleapis.com/arrow.flight.protocol.sql."

# field number -> (name, kind); kind: "string", "bytes", "bool", "uint", "strings", "uints"
_Fields = dict[int, tuple[str, str]]

#: The Flight SQL messages this module knows, with their field numbers (from FlightSql.proto).
MESSAGES: dict[str, _Fields] = {
    "CommandStatementQuery": {1: ("query", "string"), 2: ("transaction_id", "bytes")},
    "CommandStatementUpdate": {1: ("query", "string"), 2: ("transaction_id", "bytes")},
    "CommandStatementSubstraitPlan": {1: ("plan", "bytes"), 2: ("transaction_id", "bytes")},
    "CommandStatementIngest": {},
    "TicketStatementQuery": {1: ("statement_handle", "bytes")},
    "CommandPreparedStatementQuery": {1: ("prepared_statement_handle", "bytes")},
    "CommandPreparedStatementUpdate": {1: ("prepared_statement_handle", "bytes")},
    "ActionCreatePreparedStatementRequest": {
        1: ("query", "string"),
        2: ("transaction_id", "bytes"),
    },
    "ActionCreatePreparedStatementResult": {
        1: ("prepared_statement_handle", "bytes"),
        2: ("dataset_schema", "bytes"),
        3: ("parameter_schema", "bytes"),
    },
    "ActionClosePreparedStatementRequest": {1: ("prepared_statement_handle", "bytes")},
    "DoPutPreparedStatementResult": {1: ("prepared_statement_handle", "bytes")},
    "DoPutUpdateResult": {1: ("record_count", "uint")},
    "CommandGetSqlInfo": {1: ("info", "uints")},
    "CommandGetCatalogs": {},
    "CommandGetDbSchemas": {1: ("catalog", "string"), 2: ("db_schema_filter_pattern", "string")},
    "CommandGetTables": {
        1: ("catalog", "string"),
        2: ("db_schema_filter_pattern", "string"),
        3: ("table_name_filter_pattern", "string"),
        4: ("table_types", "strings"),
        5: ("include_schema", "bool"),
    },
    "CommandGetTableTypes": {},
    "CommandGetPrimaryKeys": {},
    "CommandGetExportedKeys": {},
    "CommandGetImportedKeys": {},
    "CommandGetCrossReference": {},
    "CommandGetXdbcTypeInfo": {},
}

_MAX_VARINT_BYTES = 10


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(_MAX_VARINT_BYTES):
        if pos >= len(data):
            break
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise InvalidArgumentError("malformed Flight SQL message: a truncated or overlong varint")


def _raw_fields(data: bytes) -> list[tuple[int, int, Any]]:
    """``(field number, wire type, value)`` of each field; value is an int or bytes."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise InvalidArgumentError(
                    "malformed Flight SQL message: a field runs past its end"
                )
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise InvalidArgumentError(f"malformed Flight SQL message: wire type {wire}")
        if pos > len(data):
            raise InvalidArgumentError("malformed Flight SQL message: a field runs past its end")
        out.append((number, wire, value))
    return out


def decode(name: str, data: bytes) -> dict[str, Any]:
    """The known fields of message ``name`` in ``data`` (absent fields are absent).

    Examples
    --------
    >>> decode("CommandGetSqlInfo", encode("CommandGetSqlInfo", {"info": [0, 3]}))
    {'info': [0, 3]}
    """
    fields = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, wire, value in _raw_fields(bytes(data)):
        if number not in fields:
            continue
        key, kind = fields[number]
        try:
            if kind == "string":
                out[key] = bytes(value).decode("utf-8")
            elif kind == "bytes":
                out[key] = bytes(value)
            elif kind in ("bool", "uint"):
                if wire != 0:
                    raise InvalidArgumentError(f"malformed Flight SQL message: {name}.{key}")
                out[key] = bool(value) if kind == "bool" else int(value)
            elif kind == "strings":
                out.setdefault(key, []).append(bytes(value).decode("utf-8"))
            elif kind == "uints":
                items = out.setdefault(key, [])
                if wire == 0:
                    items.append(int(value))
                else:  # packed
                    pos = 0
                    while pos < len(value):
                        item, pos = _read_varint(value, pos)
                        items.append(item)
        except (UnicodeDecodeError, TypeError) as exc:
            raise InvalidArgumentError(
                f"malformed Flight SQL message: {name}.{key} is not valid UTF-8"
            ) from exc
    return out


def encode(name: str, values: dict[str, Any]) -> bytes:
    """Message ``name`` with ``values`` in the protobuf wire format (None values are left out).

    Examples
    --------
    >>> encode("TicketStatementQuery", {"statement_handle": b"ab"})
    b'\\n\\x02ab'
    """
    out = bytearray()
    for number, (key, kind) in sorted(MESSAGES[name].items()):
        value = values.get(key)
        if value is None:
            continue
        if kind in ("string", "bytes"):
            blob = value.encode("utf-8") if kind == "string" else bytes(value)
            out += _varint(number << 3 | 2) + _varint(len(blob)) + blob
        elif kind in ("bool", "uint"):
            out += _varint(number << 3) + _varint(int(value))
        elif kind == "strings":
            for item in value:
                blob = item.encode("utf-8")
                out += _varint(number << 3 | 2) + _varint(len(blob)) + blob
        elif kind == "uints":
            packed = b"".join(_varint(int(v)) for v in value)
            out += _varint(number << 3 | 2) + _varint(len(packed)) + packed
    return bytes(out)


def pack(name: str, values: dict[str, Any]) -> bytes:
    """Message ``name`` wrapped in a ``google.protobuf.Any`` (how Flight SQL sends commands)."""
    body = encode(name, values)
    url = (TYPE_PREFIX + name).encode("utf-8")
    return (
        _varint(1 << 3 | 2)
        + _varint(len(url))
        + url
        + _varint(2 << 3 | 2)
        + _varint(len(body))
        + body
    )


def unpack(data: bytes) -> tuple[str, dict[str, Any]]:
    """``(message name, fields)`` of an ``Any``-wrapped Flight SQL message.

    Raises :class:`~historian.errors.InvalidArgumentError` for anything that is not an ``Any``
    holding a Flight SQL message; an unknown Flight SQL message comes back with its name and no
    fields, so the caller can refuse it by name.
    """
    url, body = "", b""
    for number, wire, value in _raw_fields(bytes(data)):
        if number == 1 and wire == 2:
            try:
                url = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidArgumentError("malformed Flight SQL command: bad type URL") from exc
        elif number == 2 and wire == 2:
            body = bytes(value)
    if not url.startswith(TYPE_PREFIX):
        raise InvalidArgumentError(
            "not a Flight SQL command: expected a protobuf Any holding an "
            f"arrow.flight.protocol.sql message, got type URL {url[:100]!r}"
        )
    name = url[len(TYPE_PREFIX) :]
    if name not in MESSAGES:
        return name, {}
    return name, decode(name, body)
