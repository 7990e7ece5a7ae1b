"""Acquisition: Modbus and OPC UA sources, the collector, and its TOML configuration.

Heavy dependencies (asyncua, pymodbus, the store) are imported only when a name that needs them
is used, so ``import historian.acquisition`` stays light.

Examples
--------
>>> from historian.acquisition import load_config, Collector, OpcUaSource, browse
>>> callable(load_config) and callable(browse)
True
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BrowsedVariable",
    "Collector",
    "CollectorHealth",
    "Config",
    "ModbusSource",
    "OpcUaSource",
    "OpcUaSourceConfig",
    "SampleBatch",
    "Source",
    "SourceHealth",
    "abrowse",
    "browse",
    "config_stub",
    "load_config",
    "loads",
]

_LAZY = {
    "BrowsedVariable": "historian.acquisition.opcua_browse",
    "OpcUaSource": "historian.acquisition.opcua",
    "abrowse": "historian.acquisition.opcua_browse",
    "browse": "historian.acquisition.opcua_browse",
    "config_stub": "historian.acquisition.opcua_browse",
    "Collector": "historian.acquisition.collector",
    "CollectorHealth": "historian.acquisition.collector",
    "Config": "historian.acquisition.config",
    "OpcUaSourceConfig": "historian.acquisition.config",
    "load_config": "historian.acquisition.config",
    "loads": "historian.acquisition.config",
    "SampleBatch": "historian.acquisition.samples",
    "Source": "historian.acquisition.samples",
    "SourceHealth": "historian.acquisition.samples",
    "ModbusSource": "historian.acquisition.modbus",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'historian.acquisition' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
