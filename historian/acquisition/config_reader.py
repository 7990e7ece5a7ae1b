"""Reading a parsed TOML document into the config dataclasses, key by key.

:class:`Reader` has one typed getter per kind of value (string with choices, bounded integer,
duration, size, path, environment variable name, tag name) and one method per section; every
error is a :class:`~historian.errors.ConfigError` naming the key path and the fix, and unknown
keys are refused with a did-you-mean (:func:`check_keys`). :mod:`historian.acquisition.config`
holds the entry points (``load_config``, ``loads``, ``from_dict``) that use it.

Examples
--------
>>> from pathlib import Path
>>> from historian.acquisition.config_reader import Reader
>>> Reader(Path("/data")).collector({"batch_interval": "250ms"}).batch_interval_s
0.25
>>> Reader(Path("/data")).collector({"batch_intervall": 1})
Traceback (most recent call last):
...
historian.errors.ConfigError: collector.batch_intervall: unknown key; did you mean 'batch_interval'?
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from historian.acquisition.config_checks import (
    check_env_name,
    check_node_id,
    check_opcua_security,
    deprecated_policy,
)
from historian.acquisition.config_model import (
    ACQUIRE_MODES,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEPRECATED_POLICIES,
    MESSAGE_SIZE_RANGE,
    MODBUS_TABLES,
    MODBUS_TYPES,
    OPCUA_POINT_TYPES,
    ORDERS,
    SECURITY_MODES,
    SECURITY_POLICIES,
    CollectorSettings,
    ModbusSourceConfig,
    ModbusTls,
    OpcUaPoint,
    OpcUaSourceConfig,
    StoreConfig,
    TagSettings,
)
from historian.acquisition.modbus_plan import ModbusPoint
from historian.errors import ConfigError, HistorianError
from historian.model.tags import KINDS, validate_tag_name
from historian.model.times import duration_ns

__all__ = ["MAX_DEPTH", "Reader", "check_depth", "check_keys", "check_unique", "parse_size",
           "type_name"]  # fmt: skip

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
MAX_DEPTH = 16  # tables/arrays nested deeper than this are refused


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def check_depth(doc: dict[str, Any]) -> None:
    """Refuse tables/arrays nested deeper than ``MAX_DEPTH`` (iteratively: no recursion)."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"{where or 'config'}: nested more than {MAX_DEPTH} levels deep; flatten it"
            )
        if isinstance(value, dict):
            stack.extend((v, _join(where, str(k)), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))


def _safe_url(url: str) -> str:
    """``url`` without any ``user:password@`` part (for messages)."""
    head, sep, rest = url.partition("://")
    if not sep:
        return "<not a URL>" if "@" in url else url
    netloc, slash, path = rest.partition("/")
    return f"{head}://{netloc.rpartition('@')[2]}{slash}{path}"


def check_keys(d: dict[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
            raise ConfigError(f"{_join(prefix, key)}: unknown key; {hint}")


def type_name(v: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
            dict: "a table", list: "an array"}.get(type(v), type(v).__name__)  # fmt: skip


def parse_size(value: Any) -> int:
    """Bytes from an int or a string such as ``"256MB"``, ``"1GiB"``, ``"500k"``."""
    if isinstance(value, bool):
        raise ValueError("not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative size")
        return value
    if isinstance(value, str) and len(value) <= 40:
        m = _SIZE.match(value)
        if m:
            unit = (m.group(2) or "").lower()
            mult = _SIZE_UNITS[unit[:1]] if unit else 1
            if "i" in unit:
                mult = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[unit[:1]]
            return int(float(m.group(1)) * mult)
    raise ValueError(f"cannot parse size {value!r}")


_COMMON_TAG_KEYS = ("unit", "description", "kind", "lo", "hi", "rules", "compression", "states",
                    "metadata")  # fmt: skip
_MODBUS_POINT_KEYS = ("tag", "table", "address", "type", "word_order", "byte_order", "scale",
                      "offset", "count", "bit", *_COMMON_TAG_KEYS)  # fmt: skip
_OPCUA_POINT_KEYS = ("tag", "node", "sampling", "type", *_COMMON_TAG_KEYS)
_MODBUS_KEYS = ("name", "host", "port", "unit", "every", "timeout", "retries", "max_gap",
                "max_block", "backoff_max", "tls", "points")  # fmt: skip
_OPCUA_KEYS = ("name", "url", "acquire", "every", "security_policy", "security_mode",
               "certificate", "private_key", "private_key_password_env", "trust", "crl",
               "application_uri", "username_env", "password_env", "allow_insecure", "timeout",
               "queue_size", "reconnect_max_delay", "points", "server_uri", "server_thumbprint",
               "verify_server_host", "allow_plaintext_password", "max_message_size",
               "max_items_per_subscription", "publish_requests")  # fmt: skip
_COLLECTOR_KEYS = ("queue_size", "batch_size", "batch_interval", "spool", "spool_max_bytes",
                   "spool_segment_bytes", "health_every", "write_timeout")  # fmt: skip


class Reader:
    """Reads sections of a parsed document; relative paths resolve against ``base_dir``."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir

    # -- typed getters -----------------------------------------------------------------
    def table(self, d: dict[str, Any], key: str, prefix: str = "", required: bool = False) -> Any:
        if key not in d:
            if required:
                where = _join(prefix, key)
                raise ConfigError(f"{where}: missing table; add [{where}]")
            return None
        v = d[key]
        if not isinstance(v, dict):
            raise ConfigError(f"{_join(prefix, key)}: must be a table, not {type_name(v)}")
        return v

    def array(self, d: dict[str, Any], key: str, prefix: str = "") -> list[dict[str, Any]]:
        v = d.get(key, [])
        if isinstance(v, dict):
            raise ConfigError(
                f"{_join(prefix, key)}: must be an array of tables; write [[{_join(prefix, key)}]]"
                f" (double brackets), not [{_join(prefix, key)}]"
            )
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise ConfigError(f"{_join(prefix, key)}: must be an array of tables [[{key}]]")
        return v

    def str_(self, d: dict[str, Any], key: str, prefix: str, default: Any = ..., *,
             choices: tuple[str, ...] | None = None) -> Any:  # fmt: skip
        if key not in d:
            if default is ...:
                raise ConfigError(f'{_join(prefix, key)}: missing; add {key} = "..."')
            return default
        v = d[key]
        if not isinstance(v, str):
            raise ConfigError(f"{_join(prefix, key)}: must be a string, not {type_name(v)}")
        if choices is not None and v not in choices:
            close = difflib.get_close_matches(v, choices, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{_join(prefix, key)}: {v!r} is not one of {', '.join(choices)}{hint}"
            )
        return v

    def int_(self, d: dict[str, Any], key: str, prefix: str, default: Any = ..., *,
             lo: int | None = None, hi: int | None = None) -> Any:  # fmt: skip
        if key not in d:
            if default is ...:
                raise ConfigError(f"{_join(prefix, key)}: missing; add {key} = <integer>")
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{_join(prefix, key)}: must be an integer, not {type_name(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
            raise ConfigError(f"{_join(prefix, key)}: {v} is outside {rng}")
        return v

    def float_(self, d: dict[str, Any], key: str, prefix: str, default: Any = ...) -> Any:
        if key not in d:
            if default is ...:
                raise ConfigError(f"{_join(prefix, key)}: missing; add {key} = <number>")
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"{_join(prefix, key)}: must be a finite number, not {v!r}")
        return float(v)

    def bool_(self, d: dict[str, Any], key: str, prefix: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{_join(prefix, key)}: must be true or false, not {v!r}")
        return v

    def duration(self, d: dict[str, Any], key: str, prefix: str, default: Any, *,
                 minimum_s: float = 0.0, maximum_s: float = 86_400.0) -> Any:  # fmt: skip
        if key not in d:
            return default
        v = d[key]
        rng = f"{minimum_s:g} s .. {maximum_s:g} s"
        shown = repr(v) if not isinstance(v, str) or len(v) <= 40 else repr(v[:40] + "...")
        if (
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
            and (v > maximum_s or v < minimum_s)
        ):
            raise ConfigError(f"{_join(prefix, key)}: {shown} is outside the allowed {rng}")
        try:
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float | str)
                or (isinstance(v, str) and len(v) > 40)
            ):
                raise ValueError
            s = duration_ns(v) / 1e9
        except (HistorianError, ValueError, OverflowError, TypeError) as exc:
            raise ConfigError(
                f"{_join(prefix, key)}: {shown} is not a duration; use seconds (0.5) or a string "
                f'such as "500ms", "1s", "1min" (allowed: {rng})'
            ) from exc
        if not minimum_s <= s <= maximum_s:
            raise ConfigError(f"{_join(prefix, key)}: {shown} is outside the allowed {rng}")
        return s

    def size(self, d: dict[str, Any], key: str, prefix: str, default: int, *,
             lo: int, hi: int) -> int:  # fmt: skip
        if key not in d:
            return default
        v = d[key]
        rng = f"{lo} .. {hi} bytes"
        try:
            n = parse_size(v)
        except (ValueError, OverflowError) as exc:
            shown = repr(v) if not isinstance(v, str) or len(v) <= 40 else "the value"
            raise ConfigError(
                f'{_join(prefix, key)}: {shown} is not a size; use bytes or e.g. "500MB" '
                f"(allowed: {rng})"
            ) from exc
        if not lo <= n <= hi:
            raise ConfigError(f"{_join(prefix, key)}: {v!r} is outside the allowed {rng}")
        return n

    def path(self, d: dict[str, Any], key: str, prefix: str, default: Any = ...) -> Any:
        if key not in d and default is not ...:
            return default
        v = self.str_(d, key, prefix)
        if not v.strip():
            raise ConfigError(f"{_join(prefix, key)}: empty path")
        if "\x00" in v:
            raise ConfigError(f"{_join(prefix, key)}: the path contains a NUL byte; remove it")
        p = Path(v).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def env_name(self, d: dict[str, Any], key: str, prefix: str) -> str | None:
        v = self.str_(d, key, prefix, None)
        if v is not None:
            try:
                check_env_name(key, v)
            except ValueError as exc:
                raise ConfigError(f"{_join(prefix, key)}: {exc}") from exc
        return v

    def tag(self, d: dict[str, Any], prefix: str) -> str:
        name = self.str_(d, "tag", prefix)
        try:
            return validate_tag_name(name)
        except HistorianError as exc:
            raise ConfigError(f"{_join(prefix, 'tag')}: {exc}") from exc

    # -- sections ----------------------------------------------------------------------
    def store(self, d: dict[str, Any]) -> StoreConfig:
        check_keys(d, "store", ("path",))
        return StoreConfig(path=self.path(d, "path", "store"))

    def collector(self, d: dict[str, Any]) -> CollectorSettings:
        pre = "collector"
        check_keys(d, pre, _COLLECTOR_KEYS)
        base = CollectorSettings()
        sizes = {
            "spool_max_bytes": self.size(d, "spool_max_bytes", pre, base.spool_max_bytes,
                                         lo=10_000, hi=2**40),
            "spool_segment_bytes": self.size(d, "spool_segment_bytes", pre,
                                             base.spool_segment_bytes, lo=1_000, hi=2**28),
        }  # fmt: skip
        return CollectorSettings(
            queue_size=self.int_(d, "queue_size", pre, base.queue_size, lo=1_000, hi=100_000_000),
            batch_size=self.int_(d, "batch_size", pre, base.batch_size, lo=1, hi=1_000_000),
            batch_interval_s=self.duration(
                d, "batch_interval", pre, base.batch_interval_s, minimum_s=0.001, maximum_s=3600.0
            ),
            spool=self.path(d, "spool", pre, None),
            spool_max_bytes=sizes.get("spool_max_bytes", base.spool_max_bytes),
            spool_segment_bytes=sizes.get("spool_segment_bytes", base.spool_segment_bytes),
            health_every_s=self.duration(
                d, "health_every", pre, base.health_every_s, minimum_s=0.1
            ),
            write_timeout_s=self.duration(
                d, "write_timeout", pre, base.write_timeout_s, minimum_s=0.01, maximum_s=3600.0
            ),
        )

    def settings(self, d: dict[str, Any], prefix: str) -> TagSettings:
        kind = self.str_(d, "kind", prefix, "analog", choices=KINDS)
        lo = self.float_(d, "lo", prefix, None)
        hi = self.float_(d, "hi", prefix, None)
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(f"{prefix}: lo ({lo}) is above hi ({hi}); swap them")
        rules = self.table(d, "rules", prefix) or {}
        compression = self.table(d, "compression", prefix) or {}
        if compression:
            from historian.kernels.compress import compressor_from_dict

            try:
                compressor_from_dict(compression)
            except HistorianError as exc:
                raise ConfigError(
                    f"{_join(prefix, 'compression')}: {exc}; e.g. compression = "
                    "{ deadband = 0.5 } or "
                    '{ swinging_door = { deviation = 0.2, max_time = "10min" } }'
                ) from exc
        states_raw = self.table(d, "states", prefix) or {}
        states: dict[int, str] = {}
        for k, v in states_raw.items():
            try:
                states[int(k)] = str(v)
            except ValueError as exc:
                raise ConfigError(
                    f"{prefix}.states.{k}: state keys are integer codes, e.g. states = "
                    '{ 0 = "off", 1 = "on" }'
                ) from exc
        return TagSettings(
            unit=self.str_(d, "unit", prefix, ""),
            description=self.str_(d, "description", prefix, ""),
            kind=kind, lo=lo, hi=hi, rules=dict(rules), compression=dict(compression),
            states=states, metadata=dict(self.table(d, "metadata", prefix) or {}),
        )  # fmt: skip

    def modbus_points(
        self, items: list[dict[str, Any]], where: str, max_block: int = 125
    ) -> list[ModbusPoint]:
        points: list[ModbusPoint] = []
        for i, pd in enumerate(items):
            ppre = f"{where}[{i}]"
            check_keys(pd, ppre, _MODBUS_POINT_KEYS)
            table = self.str_(pd, "table", ppre, "holding", choices=MODBUS_TABLES)
            default_type = "bool" if table in ("coil", "discrete") else "uint16"
            typ = self.str_(pd, "type", ppre, default_type, choices=MODBUS_TYPES)
            if table in ("coil", "discrete") and typ != "bool":
                raise ConfigError(
                    f'{ppre}.type: table {table!r} holds bits; use type = "bool" (or read a '
                    "holding/input register)"
                )
            count = self.int_(pd, "count", ppre, 1, lo=1, hi=max_block)
            if "count" in pd and typ != "string":
                raise ConfigError(f'{ppre}.count: only used with type = "string"; remove it')
            bit = self.int_(pd, "bit", ppre, None, lo=0, hi=15)
            if bit is not None and (typ != "bool" or table in ("coil", "discrete")):
                raise ConfigError(
                    f'{ppre}.bit: only a type = "bool" point in a holding/input register '
                    "takes bit = 0..15"
                )
            settings = self.settings(pd, ppre)
            point = ModbusPoint(
                tag=self.tag(pd, ppre), address=self.int_(pd, "address", ppre, lo=0, hi=65535),
                table=table, type=typ,
                word_order=self.str_(pd, "word_order", ppre, "big", choices=ORDERS),
                byte_order=self.str_(pd, "byte_order", ppre, "big", choices=ORDERS),
                scale=self.float_(pd, "scale", ppre, 1.0),
                offset=self.float_(pd, "offset", ppre, 0.0),
                unit=settings.unit, count=count, bit=bit, settings=settings,
            )  # fmt: skip
            if point.address + point.width > 65536:
                raise ConfigError(f"{ppre}.address: the point runs past address 65535")
            if any(p.tag == point.tag for p in points):
                raise ConfigError(f"{ppre}.tag: {point.tag!r} is already a point of this device "
                                  "(duplicate tag); each tag has one point")  # fmt: skip
            points.append(point)
        return points

    def modbus(self, d: dict[str, Any], pre: str) -> ModbusSourceConfig:
        check_keys(d, pre, _MODBUS_KEYS)
        tls_d = self.table(d, "tls", pre)
        tls = None
        if tls_d is not None:
            tpre = f"{pre}.tls"
            check_keys(tls_d, tpre, ("ca", "certificate", "private_key"))
            tls = ModbusTls(ca=self.path(tls_d, "ca", tpre),
                            certificate=self.path(tls_d, "certificate", tpre),
                            private_key=self.path(tls_d, "private_key", tpre))  # fmt: skip
        max_block = self.int_(d, "max_block", pre, 125, lo=1, hi=125)
        points = self.modbus_points(self.array(d, "points", pre), f"{pre}.points", max_block)
        if not points:
            raise ConfigError(f"{pre}.points: no points; add at least one [[modbus.points]]")
        return ModbusSourceConfig(
            name=self._name(d, pre), host=self.str_(d, "host", pre),
            port=self.int_(d, "port", pre, 802 if tls else 502, lo=1, hi=65535),
            unit=self.int_(d, "unit", pre, 1, lo=0, hi=255),
            every_s=self.duration(d, "every", pre, 1.0, minimum_s=0.01),
            timeout_s=self.duration(d, "timeout", pre, 1.0, minimum_s=0.01, maximum_s=3600.0),
            retries=self.int_(d, "retries", pre, 0, lo=0, hi=10),
            max_gap=self.int_(d, "max_gap", pre, 0, lo=0, hi=124),
            max_block=max_block,
            backoff_max_s=self.duration(d, "backoff_max", pre, 30.0, minimum_s=0.1,
                                        maximum_s=3600.0),
            tls=tls, points=tuple(points),
        )  # fmt: skip

    def opcua(self, d: dict[str, Any], pre: str) -> OpcUaSourceConfig:
        check_keys(d, pre, _OPCUA_KEYS)
        url = self.str_(d, "url", pre)
        parsed = urlparse(url)
        if "@" in url.split("//", 1)[-1].split("/", 1)[0]:
            raise ConfigError(
                f"{pre}.url: credentials in the URL are refused (they would end up in logs); "
                "remove 'user:password@' and set username_env / password_env instead"
            )
        try:
            bad_port = parsed.port is not None and not 0 < parsed.port < 65536
        except ValueError:
            bad_port = True
        if parsed.scheme != "opc.tcp" or not parsed.hostname or bad_port or "\x00" in url:
            raise ConfigError(
                f"{pre}.url: {_safe_url(url)!r} is not an OPC UA URL like opc.tcp://host:4840"
            )
        if d.get("security_policy") in DEPRECATED_POLICIES:
            raise ConfigError(f"{pre}.{deprecated_policy(d['security_policy'])}")
        policy = self.str_(d, "security_policy", pre, "Basic256Sha256", choices=SECURITY_POLICIES)
        mode = self.str_(d, "security_mode", pre, "SignAndEncrypt", choices=SECURITY_MODES)
        allow_insecure = self.bool_(d, "allow_insecure", pre, False)
        cfg_points = []
        for i, pd in enumerate(self.array(d, "points", pre)):
            ppre = f"{pre}.points[{i}]"
            check_keys(pd, ppre, _OPCUA_POINT_KEYS)
            node = self.str_(pd, "node", ppre)
            try:
                check_node_id(node)
            except ValueError as exc:
                raise ConfigError(f"{ppre}.node: {exc}") from exc
            cfg_points.append(OpcUaPoint(
                tag=self.tag(pd, ppre), node=node,
                sampling_s=self.duration(pd, "sampling", ppre, None, maximum_s=86_400.0),
                settings=self.settings(pd, ppre),
                type=self.str_(pd, "type", ppre, "", choices=OPCUA_POINT_TYPES),
            ))  # fmt: skip
        if not cfg_points:
            raise ConfigError(f"{pre}.points: no points; add at least one [[opcua.points]]")
        cfg = OpcUaSourceConfig(
            name=self._name(d, pre), url=url,
            acquire=self.str_(d, "acquire", pre, "subscribe", choices=ACQUIRE_MODES),
            every_s=self.duration(d, "every", pre, 0.5, minimum_s=0.01),
            security_policy=policy, security_mode=mode,
            certificate=self.path(d, "certificate", pre, None),
            private_key=self.path(d, "private_key", pre, None),
            private_key_password_env=self.env_name(d, "private_key_password_env", pre),
            trust=self.path(d, "trust", pre, None), crl=self.path(d, "crl", pre, None),
            application_uri=self.str_(d, "application_uri", pre, None),
            username_env=self.env_name(d, "username_env", pre),
            password_env=self.env_name(d, "password_env", pre),
            allow_insecure=allow_insecure,
            timeout_s=self.duration(d, "timeout", pre, 4.0, minimum_s=0.1, maximum_s=3600.0),
            queue_size=self.int_(d, "queue_size", pre, 10_000, lo=10, hi=10_000_000),
            max_items_per_subscription=self.int_(d, "max_items_per_subscription", pre, 500, lo=1,
                                                 hi=100_000),
            publish_requests=self.int_(d, "publish_requests", pre, 0, lo=0, hi=100),
            reconnect_max_delay_s=self.duration(d, "reconnect_max_delay", pre, 30.0, minimum_s=0.1,
                                                maximum_s=3600.0),
            points=tuple(cfg_points),
            server_uri=self.str_(d, "server_uri", pre, None),
            server_thumbprint=self.str_(d, "server_thumbprint", pre, None),
            verify_server_host=self.bool_(d, "verify_server_host", pre, True),
            allow_plaintext_password=self.bool_(d, "allow_plaintext_password", pre, False),
            max_message_size=self.size(d, "max_message_size", pre, DEFAULT_MAX_MESSAGE_SIZE,
                                       lo=MESSAGE_SIZE_RANGE[0], hi=MESSAGE_SIZE_RANGE[1]),
        )  # fmt: skip
        try:
            check_opcua_security(cfg)
        except ValueError as exc:
            raise ConfigError(f"{pre}.{exc}") from exc
        return cfg

    def _name(self, d: dict[str, Any], pre: str) -> str:
        name = self.str_(d, "name", pre)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
            raise ConfigError(f"{pre}.name: {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        return name


def check_unique(
    modbus: tuple[ModbusSourceConfig, ...], opcua: tuple[OpcUaSourceConfig, ...]
) -> None:
    names: dict[str, str] = {}
    tags: dict[str, str] = {}
    groups: list[tuple[str, tuple[ModbusSourceConfig | OpcUaSourceConfig, ...]]] = [
        ("modbus", modbus), ("opcua", opcua),
    ]  # fmt: skip
    for kind, sources in groups:
        for i, src in enumerate(sources):
            where = f"{kind}[{i}]"
            points: tuple[ModbusPoint | OpcUaPoint, ...] = src.points
            if src.name in names:
                raise ConfigError(
                    f"{where}.name: {src.name!r} is already used by {names[src.name]}; names "
                    "must be unique"
                )
            names[src.name] = where
            for j, p in enumerate(points):
                pwhere = f"{where}.points[{j}]"
                if p.tag in tags:
                    raise ConfigError(
                        f"{pwhere}.tag: {p.tag!r} is already written by {tags[p.tag]}; each tag "
                        "has one source"
                    )
                tags[p.tag] = pwhere
