"""StoreFS and the writer lease, on a local folder and on a real S3 API (moto server)."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from historian.errors import InvalidArgumentError, StoreLockedError
from historian.storage.fs import StoreFS, local_cache_dir
from historian.storage.lease import LEASE_FILE, LeaseLostError, WriterLease


@pytest.fixture(params=["local", "s3"])
def fs(request, tmp_path):
    if request.param == "local":
        return StoreFS.from_uri(tmp_path / "store")
    uri = request.getfixturevalue("s3_uri")
    return StoreFS.from_uri(uri, request.getfixturevalue("s3_options"))


def test_publish_write_read_list_delete(fs, tmp_path):
    local = tmp_path / "part.parquet.tmp"
    pq.write_table(pa.table({"a": [1, 2, 3]}), local)
    size = fs.publish(str(local), "points/day=2026-01-01/part-1.parquet")
    assert not local.exists()
    assert fs.size("points/day=2026-01-01/part-1.parquet") == size
    assert (
        pq.ParquetFile(fs.open_input("points/day=2026-01-01/part-1.parquet")).read().num_rows == 3
    )
    fs.write_bytes("tags.json", b'{"tags": []}')
    assert fs.read_bytes("tags.json") == b'{"tags": []}'
    assert fs.exists("tags.json") and not fs.exists("nope.json")
    assert fs.list("points", recursive=True) == ["points/day=2026-01-01/part-1.parquet"]
    assert fs.list("missing") == []
    fs.delete("tags.json")
    fs.delete("tags.json")  # twice is fine
    assert not fs.exists("tags.json")


def test_conditional_writes(fs):
    assert fs.put_if_absent("x.json", b"1")
    assert not fs.put_if_absent("x.json", b"2")
    data, tag = fs.get_versioned("x.json")
    assert data == b"1"
    assert fs.put_if_match("x.json", b"3", tag)
    assert not fs.put_if_match("x.json", b"4", tag)  # stale version: refused
    assert fs.read_bytes("x.json") == b"3"
    assert fs.get_versioned("absent.json") is None
    # conditional GET (what readers of tags.json use): no body while the version is unchanged
    data, now = fs.get_versioned("x.json")
    assert fs.get_if_changed("x.json", now) == (None, now)
    assert fs.get_if_changed("x.json", tag) == (b"3", now)
    assert fs.get_if_changed("absent.json", now) is None
    # swap: the compare-and-swap that returns the new version's tag (the lease renewal)
    newer = fs.swap("x.json", b"5", now)
    assert newer is not None and fs.get_versioned("x.json") == (b"5", newer)
    assert fs.swap("x.json", b"6", now) is None and fs.read_bytes("x.json") == b"5"


def test_paths_never_escape_the_store(fs):
    with pytest.raises(OSError, match=r"'\.\.'"):
        fs.path("../other/x")


def test_options_are_checked(s3_options):
    with pytest.raises(InvalidArgumentError, match="unknown storage option"):
        StoreFS.from_uri("s3://bucket/x", {"endpoint": "http://127.0.0.1:1", "colour": "red"})
    with pytest.raises(InvalidArgumentError, match="allow_http"):
        StoreFS.from_uri("s3://bucket/x", {**s3_options, "allow_http": "false"})
    with pytest.raises(InvalidArgumentError, match="s3://"):
        StoreFS.from_uri("/tmp/x", {"region": "eu-west-1"})
    opts = StoreFS.from_uri("s3://bucket/x", s3_options).s3
    assert opts.deltalake()["AWS_ALLOW_HTTP"] == "true"
    assert opts.deltalake()["AWS_ENDPOINT_URL"] == s3_options["endpoint_url"]
    assert "testing" not in repr(opts) or "session_token" not in repr(opts)


def test_cache_dir_is_per_uri(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a, b = local_cache_dir("s3://b/one"), local_cache_dir("s3://b/two")
    assert a != b and a.startswith(str(tmp_path / "historian"))
    assert local_cache_dir("s3://b/one/") == a


def test_second_writer_is_refused_then_takes_over_after_expiry(fs):
    a = WriterLease(fs, ttl=1.5, margin=0.3, renew=False)
    b = WriterLease(fs, ttl=1.5, margin=0.3, renew=False)
    a.acquire()
    assert a.held and a.epoch == 1
    with pytest.raises(StoreLockedError, match="another process"):
        b.acquire()
    time.sleep(1.7)  # a crashed (no renewal): its lease expires
    b.acquire()
    assert b.epoch == 2
    with pytest.raises(LeaseLostError):
        a.renew()  # the old holder finds out, and is fenced
    with pytest.raises(LeaseLostError):
        a.check()
    b.check()
    b.release()
    c = WriterLease(fs, ttl=5)
    c.acquire()  # a clean release frees it at once; epochs keep growing
    assert c.epoch == 3
    c.release()


def test_renewal_keeps_the_lease(fs):
    a = WriterLease(fs, ttl=1.2, margin=0.2)
    a.acquire()
    try:
        time.sleep(1.6)  # longer than the ttl: the renewal thread kept it alive
        a.check()
        with pytest.raises(StoreLockedError):
            WriterLease(fs, ttl=1.2).acquire()
    finally:
        a.release()
    assert b'"expires": 0.0' in fs.read_bytes(LEASE_FILE)


def test_racing_writers_get_one_lease(fs):
    from concurrent.futures import ThreadPoolExecutor

    leases = [WriterLease(fs, ttl=30, renew=False) for _ in range(6)]

    def take(lease):
        try:
            lease.acquire()
            return True
        except StoreLockedError:
            return False

    with ThreadPoolExecutor(6) as pool:
        won = list(pool.map(take, leases))
    assert sum(won) == 1
    for lease, w in zip(leases, won, strict=True):
        if w:
            lease.release()
