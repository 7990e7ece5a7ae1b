"""Annotations and event frames on an S3 store (moto on 127.0.0.1): written by the writer
(one PUT each), read by another process's reader with nothing local, merged, and refused on a
read-only open."""

from __future__ import annotations

import pytest

import historian
from historian.errors import ReadOnlyStoreError
from historian.storage import records
from historian.storage.fs import StoreFS

T0 = 1_767_225_600_000_000_000
S = 1_000_000_000


def _open(uri, options, local, mode="auto"):
    return historian.open(uri, mode, storage_options=options, local_dir=str(local))


def test_annotations_and_frames_live_in_the_bucket(s3_uri, s3_options, tmp_path, monkeypatch):
    monkeypatch.setattr(records, "MERGE_FILES", 4)
    with _open(s3_uri, s3_options, tmp_path / "a") as h:
        h.define("TIC-101.PV")
        h.write("TIC-101.PV", [T0, T0 + 60 * S], [1.0, 2.0])
        h.flush()
        for i in range(6):  # merged past 4 files
            h.annotate("TIC-101.PV", T0 + i * S, f"note {i}", author="op")
        h.add_frame("B-1", T0, T0 + 30 * S, asset="Site/R1", attributes={"id": "B-1"})
        written = h.annotations()
        summary = h.summary("TIC-101.PV", frames="B-*", stats=["twa", "annotation_count"])
    with _open(s3_uri, s3_options, tmp_path / "b", mode="r") as r:
        assert r.annotations().equals(written)
        assert r.frames().column("name").to_pylist() == ["B-1"]
        assert r.summary("TIC-101.PV", frames="B-*", stats=["twa", "annotation_count"]).equals(
            summary
        )
        assert summary.column("value").to_pylist()[1] == 6.0
        with pytest.raises(ReadOnlyStoreError, match="mode='r'"):
            r.annotate("TIC-101.PV", T0, "from a reader")
    assert not (tmp_path / "b" / "annotations").exists()  # nothing local: all in the bucket
    objects = StoreFS.from_uri(s3_uri, s3_options).list("annotations")
    assert 1 <= len(objects) <= 4 and all(records.is_record_file(o) for o in objects)
