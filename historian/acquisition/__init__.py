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
# --- modbus (sim/modbus developer) ---
__all__ += ["ModbusSource"]

_LAZY = {
    "BrowsedVariable": "historian.acquisition.opcua",
    "OpcUaSource": "historian.acquisition.opcua",
    "abrowse": "historian.acquisition.opcua",
    "browse": "historian.acquisition.opcua",
    "config_stub": "historian.acquisition.opcua",
    "Collector": "historian.acquisition.collector",
    "CollectorHealth": "historian.acquisition.collector",
    "Config": "historian.acquisition.config",
    "OpcUaSourceConfig": "historian.acquisition.config",
    "load_config": "historian.acquisition.config",
    "loads": "historian.acquisition.config",
    "SampleBatch": "historian.acquisition.samples",
    "Source": "historian.acquisition.samples",
    "SourceHealth": "historian.acquisition.samples",
    # --- modbus (sim/modbus developer) ---
    "ModbusSource": "historian.acquisition.modbus",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'historian.acquisition' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
