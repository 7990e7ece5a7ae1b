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

import os
import tomllib
from pathlib import Path
from typing import Any

from historian.acquisition.config_checks import (
    check_env_name,
    check_node_id,
    check_opcua_security,
    normalize_thumbprint,
)
from historian.acquisition.config_model import (
    ACQUIRE_MODES,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEPRECATED_POLICIES,
    MESSAGE_SIZE_RANGE,
    MODBUS_TABLES,
    MODBUS_TYPES,
    ORDERS,
    SECURITY_MODES,
    SECURITY_POLICIES,
    CollectorSettings,
    Config,
    ModbusSourceConfig,
    ModbusTls,
    OpcUaPoint,
    OpcUaSourceConfig,
    StoreConfig,
    TagSettings,
)
from historian.acquisition.config_reader import (
    MAX_DEPTH,
    Reader,
    check_depth,
    check_keys,
    check_unique,
    parse_size,
    type_name,
)
from historian.acquisition.modbus_plan import ModbusPoint
from historian.errors import ConfigError

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

# Names that lived here before the split into config_model, config_checks and config_reader.
_MOVED = (ACQUIRE_MODES, DEFAULT_MAX_MESSAGE_SIZE, DEPRECATED_POLICIES, MESSAGE_SIZE_RANGE,
          MODBUS_TABLES, MODBUS_TYPES, ORDERS, SECURITY_MODES, SECURITY_POLICIES, check_env_name,
          check_node_id, check_opcua_security, normalize_thumbprint, parse_size)  # fmt: skip

_MAX_TEXT = 16 * 2**20  # a config file larger than this is refused (it is a few kB normally)


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
            f"invalid TOML{where}: arrays or tables nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None  # the cause is a traceback thousands of frames deep
    return from_dict(doc, base_dir=base_dir, source_file=source_file)


def from_dict(
    doc: dict[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    source_file: Path | None = None,
) -> Config:
    """Validate an already-parsed document (the dict ``tomllib`` returns)."""
    r = Reader(Path(base_dir) if base_dir is not None else Path.cwd())
    check_depth(doc)
    check_keys(doc, "", ("store", "collector", "modbus", "opcua"))
    store = r.store(r.table(doc, "store", required=True) or {})
    collector = r.collector(r.table(doc, "collector") or {})
    modbus = tuple(r.modbus(d, f"modbus[{i}]") for i, d in enumerate(r.array(doc, "modbus")))
    opcua = tuple(r.opcua(d, f"opcua[{i}]") for i, d in enumerate(r.array(doc, "opcua")))
    check_unique(modbus, opcua)
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
        raise ConfigError(f"{where}: must be a table/dict, not {type_name(section)}")
    r = Reader(Path(base_dir) if base_dir is not None else Path.cwd())
    check_depth(section)
    return r.modbus(section, where)


def modbus_points(items: Any, *, where: str = "modbus.points") -> list[ModbusPoint]:
    """Validate ``[[modbus.points]]`` tables (dicts) exactly as the TOML loader does.

    Examples
    --------
    >>> [p.width for p in modbus_points([{"tag": "A", "address": 0, "type": "float32"}])]
    [2]
    >>> modbus_points([{"tag": "A", "address": 0, "type": "f32"}])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    historian.errors.ConfigError: modbus.points[0].type: 'f32' is not one of ... 'float32'?
    """
    items = list(items)
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            if not hasattr(raw, "keys"):
                raise ConfigError(f"{where}[{i}]: a point must be a table/dict, not "
                                  f"{type_name(raw)}")  # fmt: skip
            items[i] = dict(raw)
    return Reader(Path.cwd()).modbus_points(items, where)
