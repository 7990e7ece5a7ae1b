"""Replication keeps annotations and event frames: folder and mTLS copies answer h.annotations()
and h.frames() like the source, later writes follow, the copy refuses to write them, and the
receiver refuses a damaged or misnamed record file."""

from __future__ import annotations

import numpy as np
import pytest
from replica_fixtures import T0, replicate_over_mtls, write_versions

import historian
from historian.acquisition.pki import make_pki
from historian.errors import CorruptDataError, ReadOnlyStoreError
from historian.gateway.sink import FolderSink
from historian.storage.records import encode

T = int(T0.astype(np.int64))
S = 10**9


def _annotate_and_frame(path: str, k: int) -> None:
    with historian.open(path) as h:
        h.annotate("TIC-101.PV", T + k * S, f"note {k}", author="op")
        h.add_frame(
            f"B-{k}",
            T + k * S,
            T + (k + 30) * S,
            asset="Site/R1",
            template="Batch",
            attributes={"k": k},
        )


def _same(ot: str, it: str) -> None:
    with historian.open(ot, mode="r") as a, historian.open(it, mode="r") as b:
        assert a.annotations().equals(b.annotations())
        assert a.frames().equals(b.frames())
        assert a.summary("TIC-101.PV", frames="B-*", stats=["twa", "annotation_count"]).equals(
            b.summary("TIC-101.PV", frames="B-*", stats=["twa", "annotation_count"])
        )


def test_folder_copy_keeps_annotations_and_frames(tmp_path):
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 2)
    _annotate_and_frame(ot, 1)
    _annotate_and_frame(ot, 2)
    historian.replicate(ot, it, once=True)
    _same(ot, it)
    with historian.open(it, mode="r") as c:
        assert c.annotations().column("text").to_pylist() == ["note 1", "note 2"]
    _annotate_and_frame(ot, 3)  # no new points commit: the notes still follow
    st = historian.replicate(ot, it, once=True)
    assert st.files_sent == 0
    _same(ot, it)
    with historian.open(it) as c:
        with pytest.raises(ReadOnlyStoreError, match="replica"):
            c.annotate("TIC-101.PV", T, "written on the copy")
        with pytest.raises(ReadOnlyStoreError, match="replica"):
            c.add_frame("B-9", T, T + S)
        assert c.annotations().num_rows == 3


def test_mtls_copy_keeps_annotations_and_frames(tmp_path, tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 2)
    _annotate_and_frame(ot, 1)
    replicate_over_mtls(ot, it, pki)
    _same(ot, it)


def test_the_sink_refuses_damaged_or_misnamed_record_files(tmp_path):
    sink = FolderSink(str(tmp_path / "it.hist"))
    try:
        good = encode(
            "annotations",
            [{"target": "A", "time": 0, "end": None, "text": "x", "author": None, "ingested": 1}],
        )
        name = "annotations/00000000000000000001-0123456789abcdef.jsonl"
        bad = good.replace(b'"x"', b'"y"')  # same length, CRC no longer matches
        with pytest.raises(CorruptDataError, match="CRC32"):
            sink.put_aux(name, bad)
        with pytest.raises(CorruptDataError, match="not a replicated"):
            sink.put_aux("annotations/../tags.json", good)
        with pytest.raises(CorruptDataError, match="not a replicated"):
            sink.put_aux("frames/evil.sh", good)
        sink.put_aux(name, good)
        assert sink.fs.read_bytes(name) == good
    finally:
        sink.close()
