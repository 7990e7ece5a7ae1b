"""An s3:// store rides through object-storage outages and a stale writer cannot corrupt it.

The store talks to the moto server through a TCP proxy on 127.0.0.1 (``s3_proxy``) that is
killed (connections refused) or frozen (accepts, forwards nothing) while the test writes,
flushes, reads and takes the writer lease over.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

import historian
from historian import testing
from historian.errors import (
    BackgroundFlushError,
    CorruptDataError,
    LeaseLostError,
    StoreError,
    StoreLockedError,
)
from historian.storage.fs import StoreFS
from historian.storage.lease import LEASE_FILE
from historian.storage.table import CommitLog, commit_epoch

T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
S = 10**9
OUTAGE_WARNING = "does not answer"


def _open(uri, opts, local, **kw):
    return historian.open(uri, storage_options=opts, local_dir=str(local), **kw)


def _wait(condition, timeout, what):
    """Poll ``condition`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _warnings(caplog, text):
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def _values(h, tag="A"):
    return h.read(tag).column("value").to_pylist()


def test_writes_ride_through_a_kill_and_a_freeze(
    s3_uri, proxied_s3_options, s3_options, s3_proxy, tmp_path, caplog
):
    """No write() fails while the endpoint is refused or hung; the background flusher commits
    the backlog by itself afterwards; every acknowledged point is readable then and after a
    reopen elsewhere."""
    caplog.set_level(logging.WARNING, logger="historian")
    # flush_points=10: the memory table fills up during the outage (no inline flush waits)
    h = _open(s3_uri, proxied_s3_options, tmp_path / "w", flush_seconds=0.3, flush_points=10,
              bulk_points=20)  # fmt: skip
    h.define("A", unit="degC")
    h.write("A", [T0], [0.0])
    h.flush()
    expected = [0.0]
    slowest = 0.0
    committed_after: dict[str, float] = {}
    for outage, (start, stop) in (("kill", (s3_proxy.kill, s3_proxy.restore)),
                                  ("freeze", (s3_proxy.freeze, s3_proxy.thaw))):  # fmt: skip
        start()
        if outage == "kill":  # a bulk write (straight to files when S3 answers): into the WAL
            i = len(expected)
            t = time.perf_counter()
            assert h.write("A", T0 + np.arange(i, i + 25) * S, np.arange(i, i + 25.0)) == 25
            bulk_s = time.perf_counter() - t
            expected += [float(v) for v in range(i, i + 25)]
        for _ in range(30):
            i = len(expected)
            t = time.perf_counter()
            assert h.write("A", [T0 + i * S], [float(i)]) == 1  # never raises
            slowest = max(slowest, time.perf_counter() - t)
            expected.append(float(i))
        if outage == "kill":  # the background flusher tried, failed, and said so once
            _wait(lambda: len(_warnings(caplog, OUTAGE_WARNING)) == 1, 30, "the warning")
        else:  # a request hangs (timeouts are seconds): wait until the flusher sent one
            _wait(lambda: s3_proxy.swallowed > 0, 30, "a request into the frozen endpoint")
        back = time.monotonic()
        stop()
        _wait(lambda: testing.memory_points(h) == 0, 30,
              f"the backlog committed after the {outage}")  # fmt: skip
        committed_after[outage] = time.monotonic() - back
        assert committed_after[outage] < 15, committed_after
        assert h.info()["points_pending"] == 0
    assert slowest < 1.0, f"a write took {slowest:.2f} s during an outage"
    assert len(_warnings(caplog, "answers again")) >= 1
    assert len(_warnings(caplog, OUTAGE_WARNING)) <= 2  # once per outage, not per try
    print(f"slowest write {slowest * 1e3:.1f} ms, the bulk write {bulk_s * 1e3:.0f} ms; "
          f"backlog committed after {committed_after}")  # fmt: skip
    assert _values(h) == expected
    h.close()
    with _open(s3_uri, s3_options, tmp_path / "elsewhere", mode="r") as r:
        assert _values(r) == expected


def test_an_explicit_flush_retries_through_an_outage(
    s3_uri, proxied_s3_options, s3_proxy, tmp_path
):
    """flush() during an outage: a StoreError after its retry budget (points kept); a flush
    still retrying when the endpoint returns succeeds by itself; close() then loses nothing."""
    h = _open(s3_uri, proxied_s3_options, tmp_path / "w", flush_seconds=3600)
    h.define("A")
    h.write("A", [T0, T0 + S], [1.0, 2.0])
    s3_proxy.kill()
    h.flush_retry_s = 0.5
    with pytest.raises(StoreError, match="write-ahead log") as err:
        h.flush()
    assert not isinstance(err.value, LeaseLostError)
    assert testing.memory_points(h) == 2  # still in memory (and in the WAL)

    h.flush_retry_s = 60.0
    with testing.count_flush_tries(h) as tries:
        done: list[BaseException | None] = []
        flusher = threading.Thread(target=lambda: done.append(_try(h.flush)))
        flusher.start()
        _wait(lambda: len(tries) >= 2 and not done, 10, "the flush to retry during the outage")
        s3_proxy.restore()
        back = time.monotonic()
        flusher.join(timeout=30)
    # The flush succeeded; it may then report, once, a retry the store's own thread made
    # during the outage (BackgroundFlushError, by contract), when the load let that thread's
    # backoff run out before the endpoint came back.
    assert len(done) == 1 and (done[0] is None or isinstance(done[0], BackgroundFlushError)), done
    took = time.monotonic() - back
    assert took < 10, took
    print(f"the retrying flush returned {took:.2f} s after the endpoint came back")
    assert h.info()["points_in_files"] == 2
    h.close()


def _try(fn):
    try:
        fn()
    except BaseException as exc:  # handed to the test thread
        return exc
    return None


def test_a_reader_during_an_outage_gets_a_store_error(
    s3_uri, s3_options, proxied_s3_options, s3_proxy, tmp_path
):
    """Reads while the endpoint refuses connections: a clear StoreError, never a raw botocore
    or pyarrow error; the same reader works again once the endpoint is back."""
    with _open(s3_uri, s3_options, tmp_path / "w") as h:
        h.define("A")
        h.write("A", [T0], [1.0])
    r = _open(s3_uri, proxied_s3_options, tmp_path / "r", mode="r")
    assert _values(r) == [1.0]
    s3_proxy.kill()
    for call in (lambda: r.read("A"), r.info,
                 lambda: _open(s3_uri, proxied_s3_options, tmp_path / "r2", mode="r")):  # fmt: skip
        with pytest.raises(StoreError) as err:
            call()
        assert type(err.value).__module__ == "historian.errors", repr(err.value)

    def catalog_refused():  # the catalog is cached up to 1 s: raises once the reader looks
        try:
            r.tags()
        except StoreError as exc:
            assert type(exc).__module__ == "historian.errors", repr(exc)
            return True
        return False

    _wait(catalog_refused, 5, "the reader's catalog check to fail")
    s3_proxy.restore()
    assert _values(r) == [1.0]
    r.close()


def _take_over(fs):
    """Force a takeover: the holder's lease is rewritten as expired (as after a long pause)."""
    import json

    data, tag = fs.get_versioned(LEASE_FILE)
    doc = json.loads(data)
    assert fs.put_if_match(LEASE_FILE, json.dumps({**doc, "expires": 0.0}).encode(), tag)


def _epochs(uri, opts):
    fs = StoreFS.from_uri(uri, opts)
    log = CommitLog(fs.uri_of("points"), create=False, fs=fs)
    return [commit_epoch(log.read_commit(v)) for v in log.files.log_versions()]


def test_a_stale_writer_is_fenced_off(s3_uri, s3_options, tmp_path):
    """Lease takeover: the stale writer's flush and close raise LeaseLostError naming its WAL,
    its commit is refused, the log's epochs never decrease, and its points are replayed by the
    next writer on its machine."""
    fs = StoreFS.from_uri(s3_uri, s3_options)
    h1 = _open(s3_uri, s3_options, tmp_path / "one", flush_seconds=3600)
    h1.define("A")
    h1.write("A", [T0], [1.0])
    h1.flush()
    h1.write("A", [T0 + S], [2.0])  # acknowledged, in h1's WAL only
    _take_over(fs)
    h2 = _open(s3_uri, s3_options, tmp_path / "two", flush_seconds=3600)
    h2.write("A", [T0 + 2 * S], [3.0])
    h2.flush()
    assert testing.writer_lock(h2).epoch == 2
    h1.write("A", [T0 + 3 * S], [4.0])  # still local: h1 does not know yet
    with pytest.raises(LeaseLostError, match=r"write-ahead log .*one.*wal.*replays"):
        h1.flush()
    with pytest.raises(LeaseLostError):
        h1.write("A", [T0 + 4 * S], [5.0])  # now it knows
    with pytest.raises(LeaseLostError, match="2 acknowledged point"):
        h1.close()
    assert _values(h2) == [1.0, 3.0]  # nothing of the stale writer was committed
    h2.close()
    assert _epochs(s3_uri, s3_options)[-2:] == [1, 2]
    # The next writer on h1's machine (same local_dir) replays and commits its WAL.
    with _open(s3_uri, s3_options, tmp_path / "one", mode="w") as h3:
        assert testing.writer_lock(h3).epoch == 3
        assert _values(h3) == [1.0, 2.0, 3.0, 4.0]
    epochs = [e for e in _epochs(s3_uri, s3_options) if e is not None]
    assert epochs == sorted(epochs) and epochs[-1] == 3


@pytest.mark.parametrize("reads_first", [False, True], ids=["flush", "read-then-flush"])
def test_a_stale_commit_racing_the_takeover_is_refused(
    s3_uri, s3_options, tmp_path, monkeypatch, reads_first
):
    """The fencing gap: the stale writer passed its lease check, then the new writer committed.
    Its commit is refused, never landing after a commit of a newer epoch (also when a read
    had already moved its view of the log past that commit)."""
    fs = StoreFS.from_uri(s3_uri, s3_options)
    h1 = _open(s3_uri, s3_options, tmp_path / "one", flush_seconds=3600)
    h1.define("A")
    h1.write("A", [T0], [1.0])
    h1.flush()
    h1.write("A", [T0 + S], [2.0])
    _take_over(fs)
    with _open(s3_uri, s3_options, tmp_path / "two", flush_seconds=3600) as h2:
        h2.write("A", [T0 + 2 * S], [3.0])
        h2.flush()
    # h1 stalled right after its lease check succeeded: the check passes from here on
    monkeypatch.setattr(testing.writer_lock(h1), "renew", lambda: None)
    if reads_first:
        assert _values(h1) == [1.0, 2.0, 3.0]  # its snapshot now includes h2's commit
        assert (
            testing.commit_log(h1).snapshot().version == testing.commit_log(h2).snapshot().version
        )
    with pytest.raises(LeaseLostError, match="fenced off"):
        h1.flush()
    with pytest.raises(LeaseLostError):
        h1.close()
    epochs = [e for e in _epochs(s3_uri, s3_options) if e is not None]
    assert epochs == sorted(epochs), epochs


def test_readers_and_the_next_writer_ignore_a_fenced_off_commit(
    s3_uri, s3_options, tmp_path, monkeypatch
):
    """A commit of a lower epoch after a higher one (a writer without these checks): readers
    ignore it and report it in health as fenced off; the next writer refuses to build on it."""
    fs = StoreFS.from_uri(s3_uri, s3_options)
    h1 = _open(s3_uri, s3_options, tmp_path / "one", flush_seconds=3600)
    h1.define("A")
    h1.write("A", [T0], [1.0])
    h1.flush()
    _take_over(fs)
    with _open(s3_uri, s3_options, tmp_path / "two", flush_seconds=3600) as h2:
        h2.write("A", [T0 + S], [2.0])
        h2.flush()
    reader = _open(s3_uri, s3_options, tmp_path / "r", mode="r")
    assert _values(reader) == [1.0, 2.0]
    # The stale writer without fencing: its check passes and it does not look at the log.
    monkeypatch.setattr(testing.writer_lock(h1), "renew", lambda: None)
    monkeypatch.setattr(CommitLog, "_refuse_newer_epochs", lambda *a: None)
    h1.write("A", [T0 + 2 * S], [99.0])
    h1.flush()
    assert _epochs(s3_uri, s3_options)[-3:] == [1, 2, 1]  # the gap, reproduced
    monkeypatch.undo()
    assert _values(reader) == [1.0, 2.0]  # an open reader ignores it
    info = reader.info()
    assert info["health"] == "damaged" and any("fenced off" in p for p in info["problems"])
    reader.close()
    with _open(s3_uri, s3_options, tmp_path / "r2", mode="r") as fresh:  # so does a new one
        assert _values(fresh) == [1.0, 2.0]
    with pytest.raises(CorruptDataError, match="fenced off"):
        _open(s3_uri, s3_options, tmp_path / "three", mode="w")
    h1.close()  # nothing left to flush; its release of the lease is refused (not its lease)


def test_reopen_after_an_outage_loses_nothing(
    s3_uri, proxied_s3_options, s3_options, s3_proxy, tmp_path
):
    """A writer that closes during an outage: close() raises StoreError, the WAL keeps every
    acknowledged point, and the next open replays and commits them (once the lease it could not
    release has expired)."""
    h = _open(s3_uri, proxied_s3_options, tmp_path / "w", flush_seconds=3600, lease_ttl=3)
    h.define("A")
    h.write("A", [T0], [1.0])
    h.flush()
    s3_proxy.kill()
    h.write("A", T0 + np.arange(1, 50) * S, np.arange(1, 50, dtype=float))
    h.flush_retry_s = 0.3
    with pytest.raises(StoreError, match="write-ahead log"):
        h.close()
    s3_proxy.restore()
    opened: list = []

    def reopen():
        try:
            opened.append(_open(s3_uri, proxied_s3_options, tmp_path / "w", mode="w"))
        except StoreLockedError:  # the unreleased lease: free once it expires (3 s)
            return False
        return True

    _wait(reopen, 10, "the unreleased lease to expire")
    with opened[0] as again:
        assert _values(again) == [1.0, *range(1, 50)]
    with _open(s3_uri, s3_options, tmp_path / "elsewhere", mode="r") as r:
        assert r.info()["points_pending"] == 0 and len(_values(r)) == 50


def test_a_delta_commit_is_a_put_if_absent_on_s3(s3_uri, s3_options, tmp_path):
    """What the fencing relies on, checked on the installed deltalake against S3: with no commit
    retries, a commit from a stale view of the log fails instead of landing as version N+2."""
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import CommitProperties

    with _open(s3_uri, s3_options, tmp_path / "w") as h:
        h.define("A")
        h.write("A", [T0], [1.0])
    so = StoreFS.from_uri(s3_uri, s3_options).delta_storage_options()
    stale, fresh = (DeltaTable(f"{s3_uri}/points", storage_options=so) for _ in range(2))
    version = stale.version()
    fresh.create_write_transaction([], mode="append", schema=fresh.schema())
    with pytest.raises(CommitFailedError):
        stale.create_write_transaction(
            [],
            mode="append",
            schema=stale.schema(),
            commit_properties=CommitProperties(max_commit_retries=0),
        )
    assert DeltaTable(f"{s3_uri}/points", storage_options=so).version() == version + 1


def test_readers_see_new_definitions_while_the_writer_keeps_its_cache(s3_uri, s3_options, tmp_path):
    """The writer never re-reads tags.json for a write; a reader picks a new definition up
    within about a second (conditional GET)."""
    with _open(s3_uri, s3_options, tmp_path / "w") as h:
        h.define("A")
        h.write("A", [T0], [1.0])
        r = _open(s3_uri, s3_options, tmp_path / "r", mode="r")
        assert [t.name for t in testing.catalog(r).all()] == ["A"]
        h.define("B", unit="bar")
        _wait(lambda: "B" in testing.catalog(r), 5, "the reader to see tag B")
        assert r.tag("B").unit == "bar"
        calls = []
        for name in ("get_if_changed", "get_versioned", "read_bytes"):
            spied = getattr(testing.store_fs(h), name)
            setattr(testing.store_fs(h), name, lambda *a, f=spied: (calls.append(a), f(*a))[1])
        testing.catalog_due(h)  # a reader's cache would be due for a look now
        for i in range(20):
            h.write("B", [T0 + i * S], [float(i)])
        assert calls == []  # no round trip to object storage for the catalog
        r.close()


def test_an_outage_right_after_the_commit_does_not_fail_the_flush(
    s3_uri, proxied_s3_options, s3_options, s3_proxy, tmp_path, caplog
):
    """The commit landed, then the endpoint went away before the housekeeping look at the
    small files: flush() returns (the points are committed), the compaction check is skipped."""
    caplog.set_level(logging.WARNING, logger="historian")
    h = _open(s3_uri, proxied_s3_options, tmp_path / "w", flush_seconds=3600)
    h.define("A")
    h.write("A", [T0], [1.0])
    log = testing.commit_log(h)
    snapshot = log.snapshot

    def outage_then_snapshot():
        s3_proxy.kill()
        return snapshot()

    log.snapshot = outage_then_snapshot  # called by the compaction check after the commit
    h.flush()
    assert _warnings(caplog, "automatic compaction")
    with _open(s3_uri, s3_options, tmp_path / "r", mode="r") as r:
        assert _values(r) == [1.0]
    log.snapshot = snapshot
    s3_proxy.restore()
    h.close()
