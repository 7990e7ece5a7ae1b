"""The store conformance suite (historian.testing.conformance) on a local folder and on S3
(a real S3 API: a moto server on 127.0.0.1)."""

from __future__ import annotations

import pytest

import historian
from historian.testing.conformance import StoreTests
from historian.testing.moto import moto_s3


class TestLocalStore(StoreTests):
    @pytest.fixture
    def open_store(self, tmp_path):
        def open_store(name, mode="auto", *, local="writer", **options):
            return historian.open(tmp_path / name, mode, **options)

        return open_store


@pytest.fixture(scope="module")
def s3():
    with moto_s3() as server:
        yield server


class TestS3Store(StoreTests):
    @pytest.fixture
    def open_store(self, s3, tmp_path):
        uris: dict[str, str] = {}

        def open_store(name, mode="auto", *, local="writer", **options):
            uri = uris.setdefault(name, s3.new_store())
            return historian.open(
                uri,
                mode,
                storage_options=s3.options,
                local_dir=tmp_path / f"{name}-{local}",
                **options,
            )

        return open_store
