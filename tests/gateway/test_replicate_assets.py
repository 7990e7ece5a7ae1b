"""Replication carries the asset model (``assets.json``): a folder, an mTLS and a diode copy
answer ``h.assets`` like the source, a later edit follows, the copy refuses edits, and a sink
refuses a damaged or tampered model before it lands."""

from __future__ import annotations

import json
import re
import threading

import pytest
from replica_fixtures import newest_version, replicate_over_mtls, wait_for, write_versions

import historian
from historian.acquisition.pki import make_pki
from historian.errors import CorruptDataError, ReadOnlyStoreError
from historian.gateway.diode import DiodeReceiver, DiodeSender
from historian.gateway.sink import FolderSink


def _model(path: str, pumps: int) -> None:
    with historian.open(path) as h:
        h.assets.define_template("Pump", attributes={"Flow": {"tag": "{asset}.FI", "unit": "m3/h"}})
        h.assets.add("SiteA", level="site")
        for k in range(1, pumps + 1):
            h.assets.add(f"SiteA/P-{k}", template="Pump", level="equipment_module")


def _same_model(ot: str, it: str) -> None:
    with historian.open(ot, mode="r") as a, historian.open(it, mode="r") as b:
        assert a.assets.to_toml() == b.assets.to_toml()
        assert a.assets.find().equals(b.assets.find())


def test_folder_copy_carries_the_asset_model_and_its_edits(tmp_path):
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 2)
    _model(ot, 2)
    historian.replicate(ot, it, once=True)
    _same_model(ot, it)
    with historian.open(ot) as h:  # an edit alone, no new points: it still follows
        h.assets.add("SiteA/P-3", template="Pump")
    st = historian.replicate(ot, it, once=True)
    assert st.files_sent == 0
    _same_model(ot, it)
    with historian.open(it, mode="r") as c:
        assert "SiteA/P-3" in c.assets.find().column("path").to_pylist()
    with historian.open(it) as c, pytest.raises(ReadOnlyStoreError):
        c.assets.add("SiteA/P-9", template="Pump")


def test_mtls_copy_carries_the_asset_model(tmp_path, tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 2)
    _model(ot, 2)
    replicate_over_mtls(ot, it, pki)
    _same_model(ot, it)


def test_diode_copy_carries_the_asset_model(tmp_path):
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    _model(ot, 2)  # the model exists before the points: shipped with the first version
    write_versions(ot, 3)
    rcv = DiodeReceiver(it, "udp://127.0.0.1:0")
    t = threading.Thread(target=rcv.serve_forever)
    t.start()
    s = DiodeSender(ot, f"udp://127.0.0.1:{rcv.port}", poll_s=0.05)
    try:
        s.send_new()
        newest = newest_version(ot)
        wait_for(lambda: rcv.newest == newest, what="the diode copy")
    finally:
        s.close()
        rcv.close()
        t.join()
    _same_model(ot, it)


def test_the_sink_refuses_a_damaged_or_tampered_model(tmp_path):
    ot = str(tmp_path / "ot.hist")
    write_versions(ot, 1)
    _model(ot, 1)
    with open(tmp_path / "ot.hist" / "assets.json", "rb") as f:
        good = f.read()
    doc = json.loads(good)
    doc["assets"][0]["description"] = "edited on the way"  # the recorded SHA-256 no longer fits
    sink = FolderSink(str(tmp_path / "it.hist"))
    for bad in (good[:-40], b"\xff\xfe", json.dumps(doc).encode(), b"[]"):
        with pytest.raises(CorruptDataError, match=re.escape("assets.json as received")):
            sink.put_aux("assets.json", bad)
    assert not (tmp_path / "it.hist" / "assets.json").exists()
    sink.put_aux("assets.json", good)
    assert (tmp_path / "it.hist" / "assets.json").read_bytes() == good
    with pytest.raises(CorruptDataError, match="refusing to write"):
        sink.put_aux("assets.lock", b"")
