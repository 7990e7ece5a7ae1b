"""The read service's catalog answers: SqlInfo, tables, table types, catalogs and schemas.

Flight SQL clients (ADBC, JDBC, Grafana) ask these before any query; the answers describe the
one catalog (``historian``), the one schema (``main``) and the views of ``h.sql``. Everything here
builds Arrow tables and touches no store; :mod:`historian.gateway.serve` calls it.

Examples
--------
>>> from historian.gateway.flightsql_catalog import like, table_types
>>> like("point%")("points_all"), like("tag_")("tags")
(True, True)
>>> table_types().column("table_type").to_pylist()
['TABLE', 'VIEW']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa

__all__ = [
    "CATALOG",
    "SCHEMA",
    "VIEWS",
    "catalogs",
    "db_schemas",
    "like",
    "sql_info",
    "table_types",
    "tables",
]

CATALOG = "historian"
SCHEMA = "main"
VIEWS = (("points", "VIEW"), ("points_all", "VIEW"), ("tags", "TABLE"))

# SqlInfo ids (FlightSql.proto) and their values: (union member, value)
_SQL_INFO: dict[int, tuple[int, Any]] = {
    0: (0, "historian"),  # FLIGHT_SQL_SERVER_NAME
    1: (0, ""),  # FLIGHT_SQL_SERVER_VERSION (set at start)
    2: (0, pa.__version__),  # FLIGHT_SQL_SERVER_ARROW_VERSION
    3: (1, True),  # FLIGHT_SQL_SERVER_READ_ONLY
    4: (1, True),  # FLIGHT_SQL_SERVER_SQL
    5: (1, False),  # FLIGHT_SQL_SERVER_SUBSTRAIT
    8: (3, 0),  # FLIGHT_SQL_SERVER_TRANSACTION: none
    9: (1, False),  # FLIGHT_SQL_SERVER_CANCEL
    10: (1, False),  # FLIGHT_SQL_SERVER_BULK_INGESTION
}
_SQL_INFO_TYPE = pa.dense_union(
    [
        pa.field("string_value", pa.string()),
        pa.field("bool_value", pa.bool_()),
        pa.field("bigint_value", pa.int64()),
        pa.field("int32_bitmask", pa.int32()),
        pa.field("string_list", pa.list_(pa.string())),
        pa.field("int32_to_int32_list_map", pa.map_(pa.int32(), pa.list_(pa.int32()))),
    ]
)
_SQL_INFO_SCHEMA = pa.schema(
    [
        pa.field("info_name", pa.uint32(), nullable=False),
        pa.field("value", _SQL_INFO_TYPE, nullable=False),
    ]
)
_TABLES_SCHEMA = pa.schema(
    [
        pa.field("catalog_name", pa.string()),
        pa.field("db_schema_name", pa.string()),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("table_type", pa.string(), nullable=False),
    ]
)
_TABLE_SCHEMA_FIELD = pa.field("table_schema", pa.binary(), nullable=False)


def like(pattern: str | None) -> Callable[[str], bool]:
    """A predicate for a Flight SQL filter pattern (SQL LIKE: ``%`` and ``_``; None: all)."""
    if pattern is None:
        return lambda _name: True
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    compiled = re.compile(rx, re.DOTALL)
    return lambda name: compiled.fullmatch(name) is not None


def sql_info(ids: list[int], version: str) -> pa.Table:
    """The ``CommandGetSqlInfo`` answer for ``ids`` (all when empty); ``version``: ours."""
    values = dict(_SQL_INFO)
    values[1] = (0, version)
    wanted = [i for i in (ids or sorted(values)) if i in values]
    members: list[list[Any]] = [[] for _ in range(6)]
    types, offsets = [], []
    for i in wanted:
        code, value = values[i]
        types.append(code)
        offsets.append(len(members[code]))
        members[code].append(value)
    children = [pa.array(members[k], type=_SQL_INFO_TYPE.field(k).type) for k in range(6)]
    union = pa.UnionArray.from_dense(
        pa.array(types, pa.int8()),
        pa.array(offsets, pa.int32()),
        children,
        [_SQL_INFO_TYPE.field(k).name for k in range(6)],
        list(range(6)),
    )
    return pa.Table.from_arrays([pa.array(wanted, pa.uint32()), union], schema=_SQL_INFO_SCHEMA)


def tables(fields: dict[str, Any], schema_of: Callable[[str], pa.Schema]) -> pa.Table:
    """The ``CommandGetTables`` answer; ``schema_of(view)`` gives a view's Arrow schema."""
    catalog_ok = fields.get("catalog") in (None, "", CATALOG)
    schema_ok = like(fields.get("db_schema_filter_pattern"))(SCHEMA)
    name_ok = like(fields.get("table_name_filter_pattern"))
    types = set(fields.get("table_types") or ())
    rows = [
        (view, kind)
        for view, kind in VIEWS
        if catalog_ok and schema_ok and name_ok(view) and (not types or kind in types)
    ]
    data: dict[str, Any] = {
        "catalog_name": [CATALOG] * len(rows),
        "db_schema_name": [SCHEMA] * len(rows),
        "table_name": [r[0] for r in rows],
        "table_type": [r[1] for r in rows],
    }
    schema = _TABLES_SCHEMA
    if fields.get("include_schema"):
        data["table_schema"] = [schema_of(view).serialize().to_pybytes() for view, _ in rows]
        schema = schema.append(_TABLE_SCHEMA_FIELD)
    return pa.table(data, schema=schema)


def table_types() -> pa.Table:
    """The ``CommandGetTableTypes`` answer."""
    return pa.table(
        {"table_type": pa.array(["TABLE", "VIEW"])},
        schema=pa.schema([pa.field("table_type", pa.string(), False)]),
    )


def catalogs() -> pa.Table:
    """The ``CommandGetCatalogs`` answer."""
    return pa.table(
        {"catalog_name": [CATALOG]},
        schema=pa.schema([pa.field("catalog_name", pa.string(), False)]),
    )


def db_schemas(fields: dict[str, Any]) -> pa.Table:
    """The ``CommandGetDbSchemas`` answer for its ``catalog`` and schema filter."""
    ok = fields.get("catalog") in (None, CATALOG) and like(fields.get("db_schema_filter_pattern"))(
        SCHEMA
    )
    return pa.table(
        {
            "catalog_name": [CATALOG] if ok else [],
            "db_schema_name": [SCHEMA] if ok else [],
        },
        schema=pa.schema(
            [
                pa.field("catalog_name", pa.string()),
                pa.field("db_schema_name", pa.string(), False),
            ]
        ),
    )
