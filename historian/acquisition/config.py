"""Collector configuration: a TOML file parsed into frozen dataclasses and validated.

Every error is a :class:`~historian.errors.ConfigError` naming the key path (for example
``modbus[0].points[3].type``) and how to fix it; unknown keys are refused with a did-you-mean.
Relative paths are resolved against the folder of the config file. Secrets never appear in the
file: only the *names* of environment variables (``username_env``, ``password_env``).

The full key reference is in ``docs/acquisition.md``.

Examples
--------
>>> cfg = loads('''
... [store]
... path = "plant.hist"
...
... [[opcua]]
... name = "reactor"
... url = "opc.tcp://127.0.0.1:4840"
... security_policy = "None"
... allow_insecure = true
...
...   [[opcua.points]]
...   tag = "TIC-101.PV"
...   node = "nsu=urn:example:plant;s=Reactor.Temperature"
...   unit = "degC"
... ''', base_dir="/data")
>>> cfg.store.path.as_posix(), cfg.opcua[0].points[0].tag, cfg.opcua[0].acquire
('/data/plant.hist', 'TIC-101.PV', 'subscribe')
>>> loads('[store]\\npaht = "x"')
Traceback (most recent call last):
...
historian.errors.ConfigError: store.paht: unknown key; did you mean 'path'?
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from historian.acquisition.modbus_plan import TABLES, TYPES, ModbusPoint
from historian.errors import ConfigError, HistorianError
from historian.model.tags import KINDS, Tag, validate_tag_name
from historian.model.times import duration_ns

__all__ = [
    "CollectorSettings",
    "Config",
    "ModbusPoint",
    "ModbusSourceConfig",
    "ModbusTls",
    "OpcUaPoint",
    "OpcUaSourceConfig",
    "StoreConfig",
    "TagSettings",
    "load_config",
    "loads",
    "modbus_points",
    "modbus_source_config",
]

SECURITY_POLICIES = ("None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss")
#: Deprecated by OPC UA 1.04 (SHA-1, RSA PKCS#1 v1.5): refused on every path.
DEPRECATED_POLICIES = ("Basic128Rsa15", "Basic256")
SECURITY_MODES = ("Sign", "SignAndEncrypt")
ACQUIRE_MODES = ("subscribe", "poll")
MODBUS_TABLES = TABLES  # one list each, from the point model's module
MODBUS_TYPES = TYPES
ORDERS = ("big", "little")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_MAX_TEXT = 16 * 2**20  # a config file larger than this is refused (it is a few kB normally)
_MAX_DEPTH = 16  # tables/arrays nested deeper than this are refused
_THUMBPRINT = re.compile(r"[0-9a-fA-F]{64}")
#: Bounds of the ``max_message_size`` key (bytes).
MESSAGE_SIZE_RANGE = (2**20, 2**30)
DEFAULT_MAX_MESSAGE_SIZE = 64 * 2**20


# --------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class TagSettings:
    """What a point says about its tag; the collector ``define``\\ s it in the store at start."""

    unit: str = ""
    description: str = ""
    kind: str = "analog"
    lo: float | None = None
    hi: float | None = None
    rules: dict[str, Any] = field(default_factory=dict)
    compression: dict[str, Any] = field(default_factory=dict)
    states: dict[int, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreConfig:
    """``[store]``: where the collector writes."""

    path: Path


@dataclass(frozen=True)
class CollectorSettings:
    """``[collector]`` (optional): queue, batching, spool and health logging."""

    queue_size: int = 200_000
    batch_size: int = 1_000
    batch_interval_s: float = 0.2
    spool: Path | None = None  # default: "<store path>.spool" next to the store
    spool_max_bytes: int = 1_000_000_000  # 10 kB .. 1 TiB
    spool_segment_bytes: int = 8_000_000  # 1 kB .. 256 MiB (a segment is read whole)
    health_every_s: float = 60.0
    write_timeout_s: float = 5.0


@dataclass(frozen=True)
class ModbusTls:
    """``tls = { ca, certificate, private_key }`` of a Modbus/TLS device."""

    ca: Path
    certificate: Path
    private_key: Path


@dataclass(frozen=True)
class ModbusSourceConfig:
    """One ``[[modbus]]`` device."""

    name: str
    host: str
    port: int = 502
    unit: int = 1
    every_s: float = 1.0
    timeout_s: float = 1.0
    retries: int = 0
    max_gap: int = 0
    max_block: int = 125
    backoff_max_s: float = 30.0
    tls: ModbusTls | None = None
    points: tuple[ModbusPoint, ...] = ()


@dataclass(frozen=True)
class OpcUaPoint:
    """One ``[[opcua.points]]`` entry."""

    tag: str
    node: str
    sampling_s: float | None = None  # default: the source's ``every``
    settings: TagSettings = field(default_factory=TagSettings)


@dataclass(frozen=True)
class OpcUaSourceConfig:
    """One ``[[opcua]]`` server. Also usable directly: ``OpcUaSourceConfig(name=, url=, ...)``."""

    name: str
    url: str
    acquire: str = "subscribe"
    every_s: float = 0.5
    security_policy: str = "Basic256Sha256"
    security_mode: str = "SignAndEncrypt"
    certificate: Path | None = None
    private_key: Path | None = None
    private_key_password_env: str | None = None
    trust: Path | None = None
    crl: Path | None = None
    application_uri: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    allow_insecure: bool = False
    timeout_s: float = 4.0
    queue_size: int = 10_000
    reconnect_max_delay_s: float = 30.0
    points: tuple[OpcUaPoint, ...] = ()
    server_uri: str | None = None  # pin: the server's ApplicationUri (and its certificate's URI)
    server_thumbprint: str | None = None  # pin: SHA-256 of the server certificate (hex)
    verify_server_host: bool = True  # the URL host must be in the server certificate's SAN
    allow_plaintext_password: bool = False  # send a password the wire would carry readable
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE  # bytes a server may send in one message
    max_items_per_subscription: int = 500  # points are spread over ceil(n / this) subscriptions
    publish_requests: int = 0  # PublishRequests kept in flight; 0: subscriptions + 2


@dataclass(frozen=True)
class Config:
    """A whole collector configuration (see :func:`load_config`)."""

    store: StoreConfig
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    modbus: tuple[ModbusSourceConfig, ...] = ()
    opcua: tuple[OpcUaSourceConfig, ...] = ()
    source_file: Path | None = None

    def tags(self) -> dict[str, Tag]:
        """Every tag the sources write, as :class:`~historian.model.Tag` definitions."""
        out: dict[str, Tag] = {}
        sources: list[ModbusSourceConfig | OpcUaSourceConfig] = [*self.modbus, *self.opcua]
        for src in sources:
            points: tuple[ModbusPoint | OpcUaPoint, ...] = src.points
            for p in points:
                s = p.settings or TagSettings(unit=getattr(p, "unit", ""))
                out[p.tag] = Tag(
                    p.tag, unit=s.unit, description=s.description, kind=s.kind, lo=s.lo, hi=s.hi,
                    rules=dict(s.rules), compression=dict(s.compression), states=dict(s.states),
                    metadata=dict(s.metadata),
                )  # fmt: skip
        return out

    @property
    def spool_path(self) -> Path:
        """The spool folder: ``[collector] spool`` or ``<store path>.spool``."""
        if self.collector.spool is not None:
            return self.collector.spool
        return self.store.path.with_name(self.store.path.name + ".spool")


# --------------------------------------------------------------------------- entry points
def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a collector TOML file.

    Parameters
    ----------
    path : str or path-like
        The TOML file. Relative paths inside it are resolved against its folder.

    Raises
    ------
    ConfigError
        Naming the key path and the fix; also for a missing file or invalid TOML.
    """
    if "\x00" in os.fspath(path):
        raise ConfigError("config file: the path contains a NUL byte")
    p = Path(path).expanduser()
    try:
        with p.open("rb") as f:
            raw = f.read(_MAX_TEXT + 1)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {str(p)!r} not found") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(p)!r}: {exc}") from exc
    if len(raw) > _MAX_TEXT:
        raise ConfigError(f"config file {str(p)!r} is larger than {_MAX_TEXT} bytes; is it the "
                          "right file?")  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text ({exc.reason} at byte "
                          f"{exc.start})") from exc  # fmt: skip
    return loads(text, base_dir=p.resolve().parent, source_file=p.resolve())


def loads(
    text: str,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    source_file: Path | None = None,
) -> Config:
    """Parse and validate a config from TOML text; relative paths resolve against ``base_dir``."""
    where = f" in {source_file}" if source_file else ""
    if len(text) > _MAX_TEXT:
        raise ConfigError(f"config text{where} is longer than {_MAX_TEXT} characters")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML{where}: {exc}") from exc
    except RecursionError:
        raise ConfigError(
            f"invalid TOML{where}: arrays or tables nested too deeply (at most {_MAX_DEPTH} levels)"
        ) from None  # the cause is a traceback thousands of frames deep
    return from_dict(doc, base_dir=base_dir, source_file=source_file)


def from_dict(
    doc: dict[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    source_file: Path | None = None,
) -> Config:
    """Validate an already-parsed document (the dict ``tomllib`` returns)."""
    r = _Reader(Path(base_dir) if base_dir is not None else Path.cwd())
    _check_depth(doc)
    _check_keys(doc, "", ("store", "collector", "modbus", "opcua"))
    store = r.store(r.table(doc, "store", required=True) or {})
    collector = r.collector(r.table(doc, "collector") or {})
    modbus = tuple(r.modbus(d, f"modbus[{i}]") for i, d in enumerate(r.array(doc, "modbus")))
    opcua = tuple(r.opcua(d, f"opcua[{i}]") for i, d in enumerate(r.array(doc, "opcua")))
    _check_unique(modbus, opcua)
    return Config(store=store, collector=collector, modbus=modbus, opcua=opcua,
                  source_file=source_file)  # fmt: skip


def modbus_source_config(
    section: dict[str, Any],
    *,
    where: str = "modbus",
    base_dir: str | os.PathLike[str] | None = None,
) -> ModbusSourceConfig:
    """Validate one ``[[modbus]]`` table (a dict) exactly as the TOML loader does.

    The one validation path of a Modbus device: :func:`load_config` and
    :meth:`ModbusSource.from_config(dict) <historian.acquisition.modbus.ModbusSource.from_config>`
    both end here.

    Examples
    --------
    >>> cfg = modbus_source_config({"name": "plc1", "host": "127.0.0.1", "backoff_max": "5s",
    ...                             "points": [{"tag": "FIC-101.PV", "address": 0}]})
    >>> cfg.backoff_max_s, cfg.points[0].table
    (5.0, 'holding')
    """
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: must be a table/dict, not {_type_name(section)}")
    r = _Reader(Path(base_dir) if base_dir is not None else Path.cwd())
    _check_depth(section)
    return r.modbus(section, where)


def modbus_points(items: Any, *, where: str = "modbus.points") -> list[ModbusPoint]:
    """Validate ``[[modbus.points]]`` tables (dicts) exactly as the TOML loader does.

    Examples
    --------
    >>> [p.width for p in modbus_points([{"tag": "A", "address": 0, "type": "float32"}])]
    [2]
    >>> modbus_points([{"tag": "A", "address": 0, "type": "f32"}])
    Traceback (most recent call last):
    ...
    historian.errors.ConfigError: modbus.points[0].type: 'f32' is not one of int16, uint16, int32, uint32, int64, uint64, float32, float64, bool, string; did you mean 'float32'?
    """
    items = list(items)
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            if not hasattr(raw, "keys"):
                raise ConfigError(f"{where}[{i}]: a point must be a table/dict, not "
                                  f"{_type_name(raw)}")  # fmt: skip
            items[i] = dict(raw)
    return _Reader(Path.cwd()).modbus_points(items, where)


# --------------------------------------------------------------------------- helpers
def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _check_depth(doc: dict[str, Any]) -> None:
    """Refuse tables/arrays nested deeper than ``_MAX_DEPTH`` (iteratively: no recursion)."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise ConfigError(
                f"{where or 'config'}: nested more than {_MAX_DEPTH} levels deep; flatten it"
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


def _check_keys(d: dict[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
            raise ConfigError(f"{_join(prefix, key)}: unknown key; {hint}")


def _type_name(v: Any) -> str:
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
_OPCUA_POINT_KEYS = ("tag", "node", "sampling", *_COMMON_TAG_KEYS)
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


class _Reader:
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
            raise ConfigError(f"{_join(prefix, key)}: must be a table, not {_type_name(v)}")
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
                raise ConfigError(f"{_join(prefix, key)}: missing; add {key} = \"...\"")
            return default
        v = d[key]
        if not isinstance(v, str):
            raise ConfigError(f"{_join(prefix, key)}: must be a string, not {_type_name(v)}")
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
            raise ConfigError(f"{_join(prefix, key)}: must be an integer, not {_type_name(v)}")
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
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and (
            v > maximum_s or v < minimum_s
        ):
            raise ConfigError(f"{_join(prefix, key)}: {shown} is outside the allowed {rng}")
        try:
            if isinstance(v, bool) or not isinstance(v, int | float | str) or (
                isinstance(v, str) and len(v) > 40
            ):
                raise ValueError
            s = duration_ns(v) / 1e9
        except (HistorianError, ValueError, OverflowError, TypeError) as exc:
            raise ConfigError(
                f"{_join(prefix, key)}: {shown} is not a duration; use seconds (0.5) or a string "
                f"such as \"500ms\", \"1s\", \"1min\" (allowed: {rng})"
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
                f"{_join(prefix, key)}: {shown} is not a size; use bytes or e.g. \"500MB\" "
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
        _check_keys(d, "store", ("path",))
        return StoreConfig(path=self.path(d, "path", "store"))

    def collector(self, d: dict[str, Any]) -> CollectorSettings:
        pre = "collector"
        _check_keys(d, pre, _COLLECTOR_KEYS)
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
            batch_interval_s=self.duration(d, "batch_interval", pre, base.batch_interval_s,
                                           minimum_s=0.001, maximum_s=3600.0),
            spool=self.path(d, "spool", pre, None),
            spool_max_bytes=sizes.get("spool_max_bytes", base.spool_max_bytes),
            spool_segment_bytes=sizes.get("spool_segment_bytes", base.spool_segment_bytes),
            health_every_s=self.duration(d, "health_every", pre, base.health_every_s,
                                         minimum_s=0.1),
            write_timeout_s=self.duration(d, "write_timeout", pre, base.write_timeout_s,
                                          minimum_s=0.01, maximum_s=3600.0),
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
                    "{ swinging_door = { deviation = 0.2, max_time = \"10min\" } }"
                ) from exc
        states_raw = self.table(d, "states", prefix) or {}
        states: dict[int, str] = {}
        for k, v in states_raw.items():
            try:
                states[int(k)] = str(v)
            except ValueError as exc:
                raise ConfigError(
                    f"{prefix}.states.{k}: state keys are integer codes, e.g. states = "
                    "{ 0 = \"off\", 1 = \"on\" }"
                ) from exc
        return TagSettings(
            unit=self.str_(d, "unit", prefix, ""),
            description=self.str_(d, "description", prefix, ""),
            kind=kind, lo=lo, hi=hi, rules=dict(rules), compression=dict(compression),
            states=states, metadata=dict(self.table(d, "metadata", prefix) or {}),
        )  # fmt: skip

    def modbus_points(self, items: list[dict[str, Any]], where: str,
                      max_block: int = 125) -> list[ModbusPoint]:
        points: list[ModbusPoint] = []
        for i, pd in enumerate(items):
            ppre = f"{where}[{i}]"
            _check_keys(pd, ppre, _MODBUS_POINT_KEYS)
            table = self.str_(pd, "table", ppre, "holding", choices=MODBUS_TABLES)
            default_type = "bool" if table in ("coil", "discrete") else "uint16"
            typ = self.str_(pd, "type", ppre, default_type, choices=MODBUS_TYPES)
            if table in ("coil", "discrete") and typ != "bool":
                raise ConfigError(
                    f"{ppre}.type: table {table!r} holds bits; use type = \"bool\" (or read a "
                    "holding/input register)"
                )
            count = self.int_(pd, "count", ppre, 1, lo=1, hi=max_block)
            if "count" in pd and typ != "string":
                raise ConfigError(f"{ppre}.count: only used with type = \"string\"; remove it")
            bit = self.int_(pd, "bit", ppre, None, lo=0, hi=15)
            if bit is not None and (typ != "bool" or table in ("coil", "discrete")):
                raise ConfigError(
                    f"{ppre}.bit: only a type = \"bool\" point in a holding/input register "
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
        _check_keys(d, pre, _MODBUS_KEYS)
        tls_d = self.table(d, "tls", pre)
        tls = None
        if tls_d is not None:
            tpre = f"{pre}.tls"
            _check_keys(tls_d, tpre, ("ca", "certificate", "private_key"))
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
        _check_keys(d, pre, _OPCUA_KEYS)
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
            raise ConfigError(f"{pre}.{_deprecated_policy(d['security_policy'])}")
        policy = self.str_(d, "security_policy", pre, "Basic256Sha256", choices=SECURITY_POLICIES)
        mode = self.str_(d, "security_mode", pre, "SignAndEncrypt", choices=SECURITY_MODES)
        allow_insecure = self.bool_(d, "allow_insecure", pre, False)
        cfg_points = []
        for i, pd in enumerate(self.array(d, "points", pre)):
            ppre = f"{pre}.points[{i}]"
            _check_keys(pd, ppre, _OPCUA_POINT_KEYS)
            node = self.str_(pd, "node", ppre)
            try:
                check_node_id(node)
            except ValueError as exc:
                raise ConfigError(f"{ppre}.node: {exc}") from exc
            cfg_points.append(OpcUaPoint(
                tag=self.tag(pd, ppre), node=node,
                sampling_s=self.duration(pd, "sampling", ppre, None, maximum_s=86_400.0),
                settings=self.settings(pd, ppre),
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
            raise ConfigError(
                f"{pre}.name: {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        return name


def check_node_id(node: str) -> None:
    """Raise ValueError unless ``node`` is an OPC UA node id string (``nsu=...;s=...`` etc.)."""
    m = re.fullmatch(r"(?:(nsu=[^;]+|ns=\d+);)?([isgb])=(.+)", node.strip(), re.DOTALL)
    if not m:
        raise ValueError(
            f"{node!r} is not a node id; use e.g. \"nsu=urn:example:plant;s=Reactor.Temperature\""
            " (namespace URI form, preferred) or \"ns=2;i=1001\""
        )
    if m.group(2) == "i" and not m.group(3).isdigit():
        raise ValueError(f"{node!r}: a numeric identifier (i=) must be digits")


def check_env_name(key: str, value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is an environment variable name.

    The message never repeats the value: a secret pasted by mistake stays out of logs.

    Examples
    --------
    >>> check_env_name("password_env", "PLANT_OPCUA_PASSWORD")
    >>> check_env_name("password_env", "hunter2!")
    Traceback (most recent call last):
    ...
    ValueError: the value of password_env is not a valid environment variable name; give the \
variable's NAME (e.g. "PLANT_OPCUA_PASSWORD"), never the secret itself
    """
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value) or len(value) > 255:
        raise ValueError(
            f"the value of {key} is not a valid environment variable name; give the variable's "
            "NAME (e.g. \"PLANT_OPCUA_PASSWORD\"), never the secret itself"
        )


def normalize_thumbprint(value: str) -> str:
    """A SHA-256 certificate thumbprint as 64 lower-case hex digits (``:`` and spaces removed).

    Examples
    --------
    >>> normalize_thumbprint("AB:" * 31 + "AB")
    'abababababababababababababababababababababababababababababababab'
    """
    t = re.sub(r"[\s:]", "", value)
    if not _THUMBPRINT.fullmatch(t):
        raise ValueError(
            "server_thumbprint: not a SHA-256 thumbprint; give the 64 hex digits of the server "
            "certificate's SHA-256 fingerprint (e.g. from `openssl x509 -noout -fingerprint "
            "-sha256 -in server.der -inform der`)"
        )
    return t.lower()


def _deprecated_policy(name: str) -> str:
    return (
        f"security_policy: {name!r} is deprecated (SHA-1 / RSA PKCS#1 v1.5, broken) and refused; "
        "use \"Basic256Sha256\", \"Aes128Sha256RsaOaep\" or \"Aes256Sha256RsaPss\""
    )


def check_opcua_security(cfg: OpcUaSourceConfig) -> None:
    """Raise ``ValueError('<key>: <why and fix>')`` for an insecure, incomplete or out-of-range
    setup (the same checks for a TOML file and for a config built in Python)."""
    if cfg.security_policy in DEPRECATED_POLICIES:
        raise ValueError(_deprecated_policy(cfg.security_policy))
    if cfg.security_policy not in SECURITY_POLICIES:
        raise ValueError(
            f"security_policy: {cfg.security_policy!r} is not one of {', '.join(SECURITY_POLICIES)}"
        )
    if cfg.security_mode not in SECURITY_MODES:
        raise ValueError(
            f"security_mode: {cfg.security_mode!r} is not one of {', '.join(SECURITY_MODES)}"
        )
    for key in ("username_env", "password_env", "private_key_password_env"):
        value = getattr(cfg, key)
        if value is not None:
            check_env_name(key, value)
    for key in ("certificate", "private_key", "trust", "crl"):
        value = getattr(cfg, key)
        if value is not None and "\x00" in os.fspath(value):
            raise ValueError(f"{key}: the path contains a NUL byte; remove it")
    lo, hi = MESSAGE_SIZE_RANGE
    if isinstance(cfg.max_message_size, bool) or not isinstance(cfg.max_message_size, int) or not (
        lo <= cfg.max_message_size <= hi
    ):
        raise ValueError(f"max_message_size: must be {lo} .. {hi} bytes")
    if not isinstance(cfg.queue_size, int) or not 10 <= cfg.queue_size <= 10_000_000:
        raise ValueError("queue_size: must be 10 .. 10000000")
    for key, low, top in (("max_items_per_subscription", 1, 100_000),
                          ("publish_requests", 0, 100)):  # fmt: skip
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
            raise ValueError(f"{key}: must be {low} .. {top}")
    for key, top in (("every_s", 86_400.0), ("timeout_s", 3600.0),
                     ("reconnect_max_delay_s", 3600.0)):  # fmt: skip
        value = getattr(cfg, key)
        if not isinstance(value, int | float) or not 0 < value <= top:
            raise ValueError(f"{key.removesuffix('_s')}: must be a duration above 0 and at most "
                             f"{top:g} s")  # fmt: skip
    if cfg.server_thumbprint is not None:
        normalize_thumbprint(cfg.server_thumbprint)
    if cfg.server_uri is not None and not cfg.server_uri.strip():
        raise ValueError("server_uri: empty; give the server's ApplicationUri or remove the key")
    if not cfg.verify_server_host and cfg.server_thumbprint is None:
        raise ValueError(
            "verify_server_host: false needs server_thumbprint (pin the exact certificate "
            "instead of checking the host name)"
        )
    if cfg.security_policy == "None":
        if not cfg.allow_insecure:
            raise ValueError(
                "security_policy: \"None\" sends everything unsigned and in clear and is refused; "
                "use security_policy = \"Basic256Sha256\" with a certificate, or set "
                "allow_insecure = true for this endpoint if it is on a trusted segment"
            )
        if cfg.username_env or cfg.password_env:
            raise ValueError(
                "password_env: a password is never sent over security_policy \"None\"; use "
                "Basic256Sha256 or remove username_env/password_env"
            )
        return
    for key in ("certificate", "private_key", "trust"):
        if getattr(cfg, key) is None:
            fix = {
                "certificate": "the client certificate (DER or PEM), e.g. \"pki/client.der\"",
                "private_key": "the client's private key (PEM), e.g. \"pki/client.pem\"",
                "trust": "a folder of trusted server/CA certificates, e.g. \"pki/trusted\"",
            }[key]
            raise ValueError(
                f"{key}: missing; security_policy {cfg.security_policy!r} needs {key} = {fix}"
            )
    if bool(cfg.username_env) != bool(cfg.password_env):
        raise ValueError("password_env: set both username_env and password_env, or neither")


def _check_unique(
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
