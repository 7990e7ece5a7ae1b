"""The collector configuration as frozen dataclasses: store, collector, Modbus and OPC UA sources.

:mod:`historian.acquisition.config` builds these from a TOML file (or a dict) and validates
them; code that takes a config (the sources, the collector) imports the types from here or from
``config``, where they are re-exported.

Examples
--------
>>> from historian.acquisition.config_model import Config, StoreConfig
>>> from pathlib import Path
>>> Config(store=StoreConfig(Path("/data/plant.hist"))).spool_path.as_posix()
'/data/plant.hist.spool'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from historian.acquisition.modbus_plan import TABLES, TYPES, ModbusPoint
from historian.model.tags import Tag

__all__ = [
    "ACQUIRE_MODES",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEPRECATED_POLICIES",
    "MESSAGE_SIZE_RANGE",
    "MODBUS_TABLES",
    "MODBUS_TYPES",
    "OPCUA_POINT_TYPES",
    "ORDERS",
    "SECURITY_MODES",
    "SECURITY_POLICIES",
    "CollectorSettings",
    "Config",
    "ModbusSourceConfig",
    "ModbusTls",
    "OpcUaPoint",
    "OpcUaSourceConfig",
    "StoreConfig",
    "TagSettings",
]

SECURITY_POLICIES = ("None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss")
#: Deprecated by OPC UA 1.04 (SHA-1, RSA PKCS#1 v1.5): refused on every path.
DEPRECATED_POLICIES = ("Basic128Rsa15", "Basic256")
SECURITY_MODES = ("Sign", "SignAndEncrypt")
ACQUIRE_MODES = ("subscribe", "poll")
MODBUS_TABLES = TABLES  # one list each, from the point model's module
MODBUS_TYPES = TYPES
ORDERS = ("big", "little")
#: The ``type`` of an ``[[opcua.points]]`` entry (omitted: from the node's DataType).
OPCUA_POINT_TYPES = ("number", "string")
#: Bounds of the ``max_message_size`` key (bytes).
MESSAGE_SIZE_RANGE = (2**20, 2**30)
DEFAULT_MAX_MESSAGE_SIZE = 64 * 2**20


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
    #: ``"string"`` (a text tag), ``"number"``, or ``""``: from the node's DataType when the
    #: source connects (String, LocalizedText and their subtypes: a text tag)
    type: str = ""


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
                    p.tag,
                    unit=s.unit,
                    description=s.description,
                    kind=s.kind,
                    lo=s.lo,
                    hi=s.hi,
                    rules=dict(s.rules),
                    compression=dict(s.compression),
                    states=dict(s.states),
                    metadata=dict(s.metadata),
                    type="string" if getattr(p, "type", "") == "string" else "number",
                )  # fmt: skip  (Modbus or OPC UA type = "string": a text tag)
        return out

    @property
    def spool_path(self) -> Path:
        """The spool folder: ``[collector] spool`` or ``<store path>.spool``."""
        if self.collector.spool is not None:
            return self.collector.spool
        return self.store.path.with_name(self.store.path.name + ".spool")
