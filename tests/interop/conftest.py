"""Fixtures: the third-party servers of :mod:`third_party`, one per test, on free ports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pki_files import make_interop_pki
from third_party import (
    Served,
    start_modbus_serial,
    start_node_opcua,
    start_pymodbustcp,
    stop,
)


@pytest.fixture(scope="session")
def interop_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_interop_pki(tmp_path_factory.mktemp("interop-pki"))


@pytest.fixture
def node_opcua(tmp_path: Path, interop_pki: dict[str, str]) -> Iterator[Served]:
    served = start_node_opcua(tmp_path, interop_pki)
    try:
        yield served
    finally:
        stop(served.proc)


@pytest.fixture(params=["modbus-serial", "pyModbusTCP"])
def modbus_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    start = start_modbus_serial if request.param == "modbus-serial" else start_pymodbustcp
    served = start(tmp_path)
    try:
        yield served
    finally:
        stop(served.proc)
