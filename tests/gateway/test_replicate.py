"""Replication to a folder: exact copies, following, late data, compaction, the bandwidth cap,
deletes, and a copy that refuses writes and mismatched or tampered input."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from replica_fixtures import (
    T0,
    assert_same,
    clean_up_early_log,
    late_and_compact,
    newest_version,
    write_versions,
)

import historian
from historian import testing
from historian.errors import CorruptDataError, ReadOnlyStoreError, StoreError
from historian.gateway.replicate import Replicator
from historian.gateway.sink import FolderSink


@pytest.fixture
def ot(tmp_path):
    path = str(tmp_path / "ot.hist")
    write_versions(path, 6)
    return path


def test_copy_answers_like_the_source_and_logs_are_identical(ot, tmp_path):
    it = str(tmp_path / "it.hist")
    st = historian.replicate(ot, it, once=True)
    assert st.versions_behind == 0 and st.replicated_version == newest_version(ot)
    assert_same(ot, it)
    log = "points/_delta_log"
    for name in sorted(os.listdir(os.path.join(ot, log))):
        if name.endswith(".json"):
            with (
                open(os.path.join(ot, log, name), "rb") as a,
                open(os.path.join(it, log, name), "rb") as b,
            ):
                assert a.read() == b.read(), name
    again = historian.replicate(ot, it, once=True)  # nothing new: nothing sent
    assert again.files_sent == 0 and again.replicated_version == st.replicated_version


def test_late_data_and_compaction_replicate(ot, tmp_path):
    it = str(tmp_path / "it.hist")
    historian.replicate(ot, it, once=True)
    late_and_compact(ot)  # commits that add late points and replace files
    st = historian.replicate(ot, it, once=True)
    assert st.replicated_version == newest_version(ot)
    assert_same(ot, it)


def test_follows_a_writer_and_reports_lag(ot, tmp_path):
    it = str(tmp_path / "it.hist")
    r = Replicator(ot, it, poll_s=0.02)
    t = threading.Thread(target=r.run)
    t.start()
    try:
        write_versions(ot, 5, start=6)
        late_and_compact(ot)
        target = newest_version(ot)
        deadline = time.monotonic() + 30
        while r.status.replicated_version < target or r.status.rounds < 2:
            assert time.monotonic() < deadline, r.status
            time.sleep(0.01)
    finally:
        r.stop()
        t.join()
    assert r.status.versions_behind == 0 and r.status.bytes_sent > 0
    assert r.status.as_dict()["versions_behind"] == 0
    assert_same(ot, it)


def test_the_copy_refuses_writes(ot, tmp_path):
    it = str(tmp_path / "it.hist")
    historian.replicate(ot, it, once=True)
    with historian.open(it) as c:
        with pytest.raises(ReadOnlyStoreError, match="replica"):
            c.write("TIC-101.PV", [T0], [1.0])
        with pytest.raises(ReadOnlyStoreError, match="replica"):
            c.define("NEW")
    with pytest.raises(ReadOnlyStoreError, match="replica"):
        historian.open(it, mode="w")
    assert_same(ot, it)


def test_bandwidth_cap_is_honoured(tmp_path):
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 4, points=8000)  # random doubles: about 300 kB of files
    cap = 150_000
    t0 = time.monotonic()
    st = historian.replicate(ot, it, once=True, max_bytes_per_s=cap)
    rate = st.bytes_sent / (time.monotonic() - t0)
    assert st.bytes_sent > 200_000
    assert 0.5 * cap < rate <= 1.1 * cap, rate
    assert_same(ot, it)


def test_retired_files_stay_unless_follow_deletes(ot, tmp_path):
    it, it2 = str(tmp_path / "it.hist"), str(tmp_path / "it2.hist")
    historian.replicate(ot, it, once=True)
    historian.replicate(ot, it2, once=True, follow_deletes=True)
    late_and_compact(ot)
    historian.replicate(ot, it, once=True)
    historian.replicate(ot, it2, once=True, follow_deletes=True)
    with historian.open(ot, mode="r") as h:
        removed = testing.commit_log(h).read_commit(newest_version(ot)).removes
    assert removed
    for rel in removed:  # what the source's vacuum does once the grace period is over
        os.unlink(os.path.join(ot, "points", rel))
    historian.replicate(ot, it, once=True)
    historian.replicate(ot, it2, once=True, follow_deletes=True)
    for rel in removed:
        assert os.path.exists(os.path.join(it, "points", rel))  # IT history kept
        assert not os.path.exists(os.path.join(it2, "points", rel))
    assert_same(ot, it)
    assert_same(ot, it2)


def test_a_copy_follows_one_source_only(ot, tmp_path):
    other = str(tmp_path / "other.hist")
    write_versions(other, 1)
    it = str(tmp_path / "it.hist")
    historian.replicate(ot, it, once=True)
    with pytest.raises(StoreError, match="replica of table"):
        historian.replicate(other, it, once=True)
    with pytest.raises(StoreError, match="not a replica"):
        historian.replicate(ot, other, once=True)  # never over an existing store
    assert_same(ot, it)


def test_tampered_file_and_out_of_order_commit_are_refused(ot, tmp_path):
    it = str(tmp_path / "it.hist")
    sink = FolderSink(it)
    try:
        with historian.open(ot, mode="r") as h:
            c = testing.commit_log(h).read_commit(0)
            c1 = testing.commit_log(h).read_commit(1)
        sink.bind("x")
        with open(os.path.join(ot, "points", "_delta_log", "00000000000000000001.json"), "rb") as f:
            data1 = f.read()
        with pytest.raises(CorruptDataError, match="does not follow"):
            sink.commit(1, data1)
        rel = c1.adds[0]["path"]
        size = int(c1.adds[0]["size"])
        sha = c1.record["adds"][0][2]
        with pytest.raises(CorruptDataError, match="not stored"):
            sink.put_file(rel, size, sha, iter([b"\0" * size]))
        assert not os.path.exists(os.path.join(it, "points", rel))
        with pytest.raises(CorruptDataError, match="refusing data file path"):
            sink.put_file("../escape.parquet", 1, None, iter([b"x"]))
        with pytest.raises(CorruptDataError, match="refusing to write"):
            sink.put_aux("writer.lock", b"x")
        assert c.version == 0
    finally:
        sink.close()
    assert newest_version(it) == -1


def test_a_file_vacuumed_before_it_was_shipped_stops_with_its_name(ot, tmp_path):
    it = str(tmp_path / "it.hist")
    historian.replicate(ot, it, once=True)
    write_versions(ot, 1, start=6)
    with historian.open(ot, mode="r") as h:
        rel = testing.commit_log(h).read_commit(newest_version(ot)).adds[0]["path"]
    os.unlink(os.path.join(ot, "points", rel))
    with pytest.raises(StoreError, match="is gone from the source"):
        historian.replicate(ot, it, once=True)
    assert newest_version(it) == newest_version(ot) - 1  # the copy stays at its last version


def test_a_signed_chain_verifies_on_the_copy_with_the_same_public_key(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from historian.storage.chain import Signer

    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (tmp_path / "chain.pub").write_bytes(Signer(key).public_pem())
    (tmp_path / "other.pub").write_bytes(Signer(other).public_pem())
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    with historian.open(ot, signing_key=key) as h:
        h.define("A")
        for i in range(3):
            h.write("A", [T0 + np.timedelta64(i, "s")], [float(i)])
            h.flush()
    historian.replicate(ot, it, once=True)
    report = historian.verify(it, public_key=str(tmp_path / "chain.pub"))
    assert report.ok and report.signed
    assert not historian.verify(it, public_key=str(tmp_path / "other.pub")).ok
    assert_same(ot, it)


def test_a_new_copy_of_a_source_with_a_cleaned_up_log_starts_at_its_checkpoint(tmp_path):
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 52, points=20)
    late_and_compact(ot)
    cp = clean_up_early_log(ot)
    st = historian.replicate(ot, it, once=True)
    assert st.replicated_version == newest_version(ot) and st.versions_behind == 0
    assert min(int(n[:-5]) for n in os.listdir(os.path.join(it, "points", "_delta_log"))
               if n.endswith(".json")) == cp  # fmt: skip
    assert_same(ot, it)
    write_versions(ot, 1, start=60)
    historian.replicate(ot, it, once=True)
    assert_same(ot, it)
