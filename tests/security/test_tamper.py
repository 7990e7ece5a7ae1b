"""Tamper evidence (issue 10, item 2): someone with write access to the store folder rewrites a
data file, forges, deletes or edits a commit, or points an add action outside the table.

Each attack runs against a real store on disk; ``historian verify`` / ``h.verify()`` must name the
first break (version, file, what differs) and exit non-zero, readers must refuse what they can
check cheaply (sizes, paths, the newest commit), and verifying changes no file.
"""

from __future__ import annotations

import glob
import json
import logging
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import historian
from historian.cli import main
from historian.errors import CorruptDataError, InvalidArgumentError
from historian.storage.chain import Signer, build_record, parse_commit

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z
DAY = 86_400 * S


def _make(path, **options) -> None:
    """Three flushes over two days: commits 1..3, each adding one file (or two)."""
    with historian.open(path, auto_compact_files=0, **options) as h:
        h.define("TIC-101.PV")
        h.define("FIC-101.PV")
        for k in range(3):
            t = [T0 + k * DAY // 2 + i * S for i in range(100)]
            h.write("TIC-101.PV", t, [20.0 + k + i / 100 for i in range(100)])
            h.write("FIC-101.PV", t, [5.0 + k for _ in range(100)])
            h.flush()


def _read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _text(path) -> str:
    with open(path) as f:
        return f.read()


def _log(path, v: int) -> str:
    return os.path.join(path, "points", "_delta_log", f"{v:020d}.json")


def _newest(path) -> int:
    names = glob.glob(os.path.join(path, "points", "_delta_log", "*.json"))
    return max(int(os.path.basename(n)[:-5]) for n in names)


def _data_files(path) -> list[str]:
    return sorted(glob.glob(os.path.join(path, "points", "day=*", "*.parquet")))


def _verify_cli(path, capsys, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", str(path), *extra])
    return code, capsys.readouterr().out


def _append_commit(path, lines: list[dict]) -> int:
    v = _newest(path) + 1
    with open(_log(path, v), "w") as f:
        f.write("\n".join(json.dumps(x) for x in lines) + "\n")
    return v


def _forge_add(path, relpath: str, size: int, *, chained: bool = True) -> int:
    """A commit adding ``relpath`` with a chain record recomputed as an attacker would."""
    v = _newest(path)
    with open(_log(path, v), "rb") as f:
        prev = parse_commit(v, f.read()).sha256
    stats = json.dumps({"numRecords": 1, "minValues": {"tag": "TIC-101.PV"},
                        "maxValues": {"tag": "TIC-101.PV"}})  # fmt: skip
    info = {"timestamp": 1, "operation": "WRITE"}
    if chained:
        info["historian.chain"] = build_record(prev, [(relpath, size, "00" * 32, stats)], [], None)
    add = {"path": relpath, "partitionValues": {"day": "2026-01-01"}, "size": size,
           "modificationTime": 1, "dataChange": True, "stats": stats}  # fmt: skip
    return _append_commit(path, [{"commitInfo": info}, {"add": add}])


def test_an_intact_store_verifies_and_verify_changes_nothing(store_path, capsys, file_hashes):
    _make(store_path)
    before = file_hashes(store_path)
    with historian.open(store_path, mode="r") as h:
        report = h.verify()
    assert report.ok and report.first_break is None
    assert report.files == len(_data_files(store_path)) and report.bytes > 0
    assert report.unchained_before is None and report.unhashed_files == 0
    code, out = _verify_cli(store_path, capsys)
    assert code == 0 and out.startswith("intact")
    assert file_hashes(store_path) == before


def test_a_same_size_rewrite_of_a_data_file_is_named_by_verify(store_path, capsys):
    _make(store_path)
    victim = _data_files(store_path)[0]
    data = bytearray(_read(victim))
    data[len(data) // 3] ^= 0x01  # same size: readers' size check cannot see it
    with open(victim, "wb") as f:
        f.write(data)
    report = historian.verify(store_path)
    assert not report.ok
    brk = report.first_break
    assert brk.file == os.path.relpath(victim, os.path.join(store_path, "points"))
    assert "SHA-256" in brk.what and brk.version in (1, 2, 3)
    code, out = _verify_cli(store_path, capsys)
    assert code == 1 and "first break" in out and os.path.basename(victim) in out
    # --sizes-only cannot see a same-size rewrite (documented), the full check can
    code, _ = _verify_cli(store_path, capsys, "--sizes-only")
    assert code == 0


def test_a_data_file_of_another_size_is_refused_by_readers(store_path):
    _make(store_path)
    victim = _data_files(store_path)[-1]
    with open(victim, "ab") as f:
        f.write(b"\0" * 100)  # e.g. a file of another store copied over it
    with historian.open(store_path, mode="r") as h, pytest.raises(CorruptDataError) as err:
        h.read("TIC-101.PV")
    assert os.path.basename(victim) in str(err.value) and "bytes" in str(err.value)
    brk = historian.verify(store_path).first_break
    assert "size" in brk.what and os.path.basename(victim) in brk.file


def test_a_forged_commit_is_refused_by_readers_and_named_by_verify(store_path, caplog, capsys):
    _make(store_path)
    good = _newest(store_path)
    # A commit that removes history, written without the chain (another tool, or by hand).
    victim = os.path.relpath(_data_files(store_path)[0], os.path.join(store_path, "points"))
    forged = _append_commit(store_path, [
        {"commitInfo": {"timestamp": 1, "operation": "DELETE"}},
        {"remove": {"path": victim, "deletionTimestamp": 1, "dataChange": True}},
    ])  # fmt: skip
    with caplog.at_level(logging.WARNING), historian.open(store_path, mode="r") as h:
        assert h.info()["version"] == good  # read-only at the last good version
        assert h.read("TIC-101.PV").num_rows == 300  # the "deleted" file is still read
        assert any(f"commit {forged}" in p for p in h.info()["problems"])
    assert any("chain record" in r.getMessage() for r in caplog.records)
    with pytest.raises(CorruptDataError, match="historian repair"):
        historian.open(store_path, mode="w")
    code, out = _verify_cli(store_path, capsys)
    assert code == 1 and f"version {forged}" in out and "no chain record" in out


def test_a_forged_commit_with_a_recomputed_record_needs_the_signing_key(tmp_path, capsys):
    key = Ed25519PrivateKey.generate()
    priv, pub = tmp_path / "chain.key", tmp_path / "chain.pub"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))  # fmt: skip
    pub.write_bytes(Signer(key).public_pem())
    store = tmp_path / "signed.hist"
    _make(store, signing_key=str(priv))
    assert historian.verify(store, public_key=str(pub)).ok
    assert historian.verify(store, public_key=str(pub)).signed
    # The attacker knows the record format and recomputes it, but has no key.
    victim = _data_files(store)[0]
    forged = _forge_add(store, os.path.relpath(victim, store / "points"),
                        os.path.getsize(victim))  # fmt: skip
    assert historian.verify(store).ok is False  # the head record still names the old head
    code, out = _verify_cli(store, capsys, "--public-key", str(pub))
    assert code == 1 and f"version {forged}" in out and "signature" in out


def test_a_signed_chain_fails_with_the_wrong_public_key(tmp_path, capsys):
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    store = tmp_path / "signed.hist"
    _make(store, signing_key=key)
    (tmp_path / "other.pub").write_bytes(Signer(other).public_pem())
    report = historian.verify(store, public_key=str(tmp_path / "other.pub"))
    assert not report.ok and "signature" in report.first_break.what
    (tmp_path / "right.pub").write_bytes(Signer(key).public_pem())
    assert _verify_cli(store, capsys, "--public-key", str(tmp_path / "right.pub"))[0] == 0
    # An unsigned store checked against a key: nothing is signed with it.
    plain = tmp_path / "plain.hist"
    _make(plain)
    report = historian.verify(plain, public_key=str(tmp_path / "right.pub"))
    assert "no commit is signed" in str(report)


def test_the_signing_key_comes_from_a_file_or_an_env_var_and_is_never_shown(
    tmp_path, monkeypatch, caplog
):
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    monkeypatch.setenv("HIST_CHAIN_KEY", pem.decode())
    store = tmp_path / "env.hist"
    with caplog.at_level(logging.DEBUG):
        _make(store, signing_key="env:HIST_CHAIN_KEY")
    (tmp_path / "k.pub").write_bytes(Signer(key).public_pem())
    assert historian.verify(store, public_key=str(tmp_path / "k.pub")).signed
    secret = pem.decode().splitlines()[1]
    assert secret not in caplog.text and secret not in repr(Signer(key))
    monkeypatch.setenv("HIST_BAD_KEY", "-----BEGIN PRIVATE KEY-----\nnot a key\n")
    with pytest.raises(InvalidArgumentError) as err:
        historian.open(tmp_path / "x.hist", signing_key="env:HIST_BAD_KEY")
    assert "not a key" not in str(err.value)


def test_a_deleted_commit_is_named_by_verify(store_path, capsys):
    _make(store_path)
    newest = _newest(store_path)
    os.remove(_log(store_path, 2))  # a commit in the middle
    code, out = _verify_cli(store_path, capsys)
    assert code == 1 and "version 2" in out and "missing" in out
    os.remove(_log(store_path, newest))  # and the newest: the head record still names it
    report = historian.verify(store_path)
    assert any(b.version == newest and "missing" in b.what for b in report.breaks)


def test_edited_stats_are_named_by_verify_and_refused_by_readers(store_path, capsys):
    _make(store_path)
    # Older commit: a reader prunes with these stats (here: hide the file from time filters).
    path = _log(store_path, 1)
    text = _text(path)
    edited = text.replace("2026-01-01T00:01:39", "2025-01-01T00:01:39", 1)
    assert edited != text
    with open(path, "w") as f:
        f.write(edited)
    code, out = _verify_cli(store_path, capsys)
    assert code == 1 and "version 1" in out and "stats" in out
    # Newest commit: readers check it against its record and fall back to the version before.
    newest = _newest(store_path)
    path = _log(store_path, newest)
    text = _text(path)
    with open(path, "w") as f:
        f.write(text.replace('numRecords\\": 200', 'numRecords\\": 201', 1))
    with historian.open(store_path, mode="r") as h:
        assert h.info()["version"] == newest - 1
        assert any("stats" in p or "record" in p for p in h.info()["problems"])


@pytest.mark.parametrize("kind", ["parent", "absolute", "url"])
def test_an_add_path_outside_the_table_is_refused(tmp_path, kind, capsys):
    other = tmp_path / "other-store"
    _make(other)
    theirs = _data_files(other)[0]
    store = tmp_path / "store"
    _make(store)
    rel = {
        "parent": "../../other-store/points/" + os.path.relpath(theirs, other / "points"),
        "absolute": theirs,
        "url": "file://" + theirs,
    }[kind]
    forged = _forge_add(store, rel, os.path.getsize(theirs))
    with (
        historian.open(store, mode="r") as h,
        pytest.raises(CorruptDataError, match="outside the table"),
    ):
        h.read("TIC-101.PV")
    code, out = _verify_cli(store, capsys)
    assert code == 1 and "outside the table" in out and f"version {forged}" in out


def test_a_store_written_before_the_chain_verifies_as_unchained(store_path, capsys):
    _make(store_path)
    # Strip the chain from commits 1 and 2, as a store written by an older version looks.
    for v in (1, 2):
        path = _log(store_path, v)
        lines = [json.loads(ln) for ln in _text(path).splitlines() if ln.strip()]
        for ln in lines:
            ln.get("commitInfo", {}).pop("historian.chain", None)
        with open(path, "w") as f:
            f.write("\n".join(json.dumps(ln) for ln in lines) + "\n")
    report = historian.verify(store_path)
    # Commit 3 recorded the SHA-256 of the original commit 2: that link breaks, and the chain
    # starts at 3. Older files are checked by size only.
    assert report.unchained_before == 3
    assert [b.version for b in report.breaks] == [2]
    assert report.unhashed_files == 2
    assert "unchained before version 3" in _verify_cli(store_path, capsys)[1]


def test_file_hashes_outlive_the_delta_log_cleanup(store_path):
    with historian.open(store_path, auto_compact_files=0, fsync=False) as h:
        h.define("A")
        for i in range(52):  # past the checkpoint at version 49
            h.write("A", [T0 + i * S], [float(i)])
            h.flush()
    log_dir = os.path.join(store_path, "points", "_delta_log")
    assert os.path.exists(os.path.join(log_dir, f"{49:020d}.checkpoint.parquet"))
    for v in range(49):  # what Delta's cleanup of expired commits does
        os.remove(_log(store_path, v))
    report = historian.verify(store_path)
    assert report.ok and report.unhashed_files == 0 and report.files == 52
    assert "cleaned up" in str(report)
    victim = sorted(_data_files(store_path))[0]  # added at version 1, long before the cleanup
    data = bytearray(_read(victim))
    data[len(data) // 2] ^= 0x01
    with open(victim, "wb") as f:
        f.write(data)
    brk = historian.verify(store_path).first_break
    assert brk.file == os.path.relpath(victim, os.path.join(store_path, "points"))
    assert "SHA-256" in brk.what


_MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()   # runs until the test closes our stdin
server.stop()
"""


@pytest.fixture(scope="module")
def s3_store():
    """A store prefix in a bucket of a moto S3 server on 127.0.0.1 (its own process)."""
    import subprocess
    import sys
    import uuid

    import boto3

    proc = subprocess.Popen([sys.executable, "-c", _MOTO], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        endpoint = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        opts = {"endpoint_url": endpoint, "region": "us-east-1", "access_key_id": "testing",
                "secret_access_key": "testing", "allow_http": "true"}  # fmt: skip
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing",
                              aws_secret_access_key="testing")  # fmt: skip
        bucket = "hist-" + uuid.uuid4().hex[:8]
        client.create_bucket(Bucket=bucket)
        yield client, bucket, opts
    finally:
        proc.stdin.close()
        proc.stdout.close()
        proc.wait(timeout=10)


def test_verify_on_an_s3_store_names_a_rewritten_object(s3_store, tmp_path):
    client, bucket, opts = s3_store
    uri = f"s3://{bucket}/tamper/plant.hist"
    with historian.open(uri, storage_options=opts, local_dir=tmp_path / "local") as h:
        h.define("A")
        for k in range(3):
            h.write("A", [T0 + k * S], [float(k)])
            h.flush()
        assert h.verify().ok
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert "tamper/plant.hist/points/_historian/head.json" in keys
    victim = sorted(k for k in keys if k.endswith(".parquet") and "/day=" in k)[0]
    body = bytearray(client.get_object(Bucket=bucket, Key=victim)["Body"].read())
    body[len(body) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=victim, Body=bytes(body))
    brk = historian.verify(uri, storage_options=opts).first_break
    assert victim.endswith(brk.file) and "SHA-256" in brk.what and brk.version == 1
