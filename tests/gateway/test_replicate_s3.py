"""Replication to an ``s3://`` copy (moto on 127.0.0.1): same answers, resumable, read-only."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest
from replica_fixtures import late_and_compact, newest_version, write_versions

import historian
from historian.errors import ReadOnlyStoreError

# The moto server fixtures of tests/scale, reused as they are (one S3 API for both suites).
_spec = importlib.util.spec_from_file_location(
    "_gateway_scale_conftest", pathlib.Path(__file__).parents[1] / "scale" / "conftest.py"
)
_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_scale)
moto_endpoint, s3_options, s3_bucket, s3_uri = (
    _scale.moto_endpoint,
    _scale.s3_options,
    _scale.s3_bucket,
    _scale.s3_uri,
)


def test_replicate_to_s3_then_read_equal_and_refuse_writes(tmp_path, s3_uri, s3_options):
    ot = str(tmp_path / "ot.hist")
    write_versions(ot, 4)
    st = historian.replicate(ot, s3_uri, once=True, dst_storage_options=s3_options)
    assert st.replicated_version == newest_version(ot)
    late_and_compact(ot)
    st = historian.replicate(ot, s3_uri, once=True, dst_storage_options=s3_options)
    assert st.versions_behind == 0 and st.replicated_version == newest_version(ot)
    with (
        historian.open(ot, mode="r") as a,
        historian.open(s3_uri, storage_options=s3_options, local_dir=str(tmp_path / "cache")) as b,
    ):
        assert a.read().equals(b.read())
        assert a.read(reasons=True).equals(b.read(reasons=True))
        with pytest.raises(ReadOnlyStoreError, match="replica"):
            b.define("NEW")
