"""Shared fixtures: real stores on disk in tmp_path."""

from __future__ import annotations

import hashlib
import os

import pytest

import historian


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "plant.hist"


@pytest.fixture
def h(store_path):
    with historian.open(store_path) as store:
        yield store


def _file_hashes(root) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        if os.path.relpath(dirpath, root).split(os.sep)[0] == "readers":
            continue  # read pins of running reads (historian.storage.pins), not the store's data
        for name in names:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture
def file_hashes():
    """``file_hashes(folder)``: SHA-256 of every file under it, by relative path (to assert that
    something changed nothing)."""
    return _file_hashes
