"""Shared fixtures: real stores on disk in tmp_path."""

from __future__ import annotations

import pytest

import historian


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "plant.hist"


@pytest.fixture
def h(store_path):
    with historian.open(store_path) as store:
        yield store
