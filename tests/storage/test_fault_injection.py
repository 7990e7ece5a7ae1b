"""Fault injection at every step of write, flush, commit, compaction and retention.

Each test builds a store with flushed history (two days, several files) and points still only in
the write-ahead log, injects one fault (an fsync, rename, unlink, Parquet write or Delta commit
that fails, a MemoryError while converting the memory table, a full disk under the WAL), runs
one operation, and then either

- ``recover``: lifts the fault and keeps using the same writer (it must recover by itself: the
  next write and flush succeed), then closes; or
- ``close``: closes while the fault is still there (close may raise), then lifts it;

and finally reopens the store and checks every acknowledged point exactly once: none lost, none
duplicated (no second version of a point under another ingest stamp), values equal. A point whose
write raised may be present or absent, but whole; points a retention may have dropped are either
all there or all gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import historian
from historian import testing
from historian.errors import StoreError
from historian.storage import maintenance, memtable, reader, store

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000
DAY = 86_400 * S
TAGS = ("A", "B")
BATCH = 40


@dataclass
class Fault:
    """One injected fault: ``armed`` turns it on, ``fired`` counts how often it hit."""

    name: str
    root: str
    armed: bool = False
    fired: int = 0

    def hit(self) -> bool:
        if self.armed:
            self.fired += 1
            return True
        return False

    def under(self, path: str, *parts: str) -> bool:
        return os.path.abspath(path).startswith(os.path.join(self.root, *parts))


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def _install(fault: Fault, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch the one call the fault is about; it fails only while the fault is armed."""
    root, name = fault.root, fault.name
    if name.endswith("fsync"):
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            path = _fd_path(fd)
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            target = {
                "wal-file-fsync": not is_dir and fault.under(path, "wal"),
                "wal-dir-fsync": is_dir and path == os.path.join(root, "wal"),
                "data-file-fsync": not is_dir and fault.under(path, "tmp"),
                "day-dir-fsync": is_dir and fault.under(path, "points", "day="),
            }[name]
            if target and fault.hit():
                raise OSError(errno.EIO, "Input/output error (injected)")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    elif name == "rename":
        real_rename = os.rename

        def rename(src, dst, *a, **k):
            if fault.under(os.fspath(src), "tmp") and fault.hit():
                raise OSError(errno.EIO, "Input/output error (injected)")
            return real_rename(src, dst, *a, **k)

        monkeypatch.setattr(os, "rename", rename)
    elif name == "replace":
        real_replace = os.replace

        def replace(src, dst, *a, **k):
            if fault.under(os.fspath(dst), "points") and fault.hit():
                raise OSError(errno.EIO, "Input/output error (injected)")
            return real_replace(src, dst, *a, **k)

        monkeypatch.setattr(os, "replace", replace)
    elif name == "unlink":
        real_unlink = os.unlink

        def unlink(path, *a, **k):
            if fault.under(os.fspath(path)) and fault.hit():
                raise OSError(errno.EIO, "Input/output error (injected)")
            return real_unlink(path, *a, **k)

        monkeypatch.setattr(os, "unlink", unlink)
    elif name == "parquet-write":
        writer = pq.ParquetWriter

        class Full(writer):  # type: ignore[misc, valid-type]
            def write_table(self, *a, **k):
                if fault.hit():
                    raise OSError(errno.ENOSPC, "No space left on device (injected)")
                return super().write_table(*a, **k)

        monkeypatch.setattr(pq, "ParquetWriter", Full)
    elif name in ("delta-commit", "delta-commit-lands"):
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError

        real = DeltaTable.create_write_transaction

        def commit(self, *a, **k):
            if name == "delta-commit" and fault.hit():
                raise DeltaError("Generic error: injected commit failure")
            out = real(self, *a, **k)
            if name == "delta-commit-lands" and fault.hit():  # committed, but reported failed
                raise OSError(errno.EIO, "Input/output error after the commit (injected)")
            return out

        monkeypatch.setattr(DeltaTable, "create_write_transaction", commit)
    elif name == "memory":
        real_to_points = memtable.MemTable.to_points
        real_from_slices = maintenance.points_from_slices

        def to_points(self):
            if fault.hit():
                raise MemoryError("injected")
            return real_to_points(self)

        def from_slices(*a, **k):
            if fault.hit():
                raise MemoryError("injected")
            return real_from_slices(*a, **k)

        monkeypatch.setattr(memtable.MemTable, "to_points", to_points)
        monkeypatch.setattr(maintenance, "points_from_slices", from_slices)
        monkeypatch.setattr(reader, "points_from_slices", from_slices)
    elif name == "wal-append-enospc":
        import builtins

        from historian.storage import wal

        real_fdopen = os.fdopen

        class FullDisk:
            """A segment file whose writes fail while the disk is full."""

            def __init__(self, f):
                self._f = f

            def write(self, data):
                if fault.hit():
                    self._f.write(bytes(data)[: len(data) // 2])  # a torn batch
                    raise OSError(errno.ENOSPC, "No space left on device (injected)")
                return self._f.write(data)

            def __getattr__(self, attr):
                return getattr(self._f, attr)

        def fdopen(fd, *a, **k):
            f = real_fdopen(fd, *a, **k)
            return FullDisk(f) if fault.under(_fd_path(fd), "wal") else f

        monkeypatch.setattr(wal.os, "fdopen", fdopen)
        assert builtins  # the WAL opens segments through os.fdopen only
    else:  # pragma: no cover - a typo in the table below
        raise AssertionError(name)


FILE_FAULTS = [
    "memory",
    "parquet-write",
    "data-file-fsync",
    "rename",
    "day-dir-fsync",
    "delta-commit",
    "delta-commit-lands",
    "replace",  # the commit's head record (points/_historian/head.json), after the commit
]
FLUSH_FAULTS = ["wal-file-fsync", "wal-dir-fsync", *FILE_FAULTS, "unlink"]
WRITE_FAULTS = ["wal-append-enospc", "wal-file-fsync"]
CASES = (
    [("flush", f) for f in FLUSH_FAULTS]
    + [("compact", f) for f in FILE_FAULTS]
    + [("retain", f) for f in FILE_FAULTS]
    + [("write", f) for f in WRITE_FAULTS]
)


@dataclass
class Model:
    """What the store must hold: acknowledged points, and points that may or may not be there."""

    acked: dict[tuple[str, int], float] = field(default_factory=dict)
    maybe: dict[tuple[str, int], float] = field(default_factory=dict)
    droppable: dict[tuple[str, int], float] = field(default_factory=dict)
    n: int = 0

    def batch(self, day: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        self.n += 1
        t = T0 + day * DAY + self.n * 1000 * S + np.arange(BATCH) * S
        return {tag: (t, np.round(self.n + np.arange(BATCH) / 100 + k, 2))
                for k, tag in enumerate(TAGS)}  # fmt: skip

    def write(self, h: store.Store, day: int) -> None:
        for tag, (t, v) in self.batch(day).items():
            h.write(tag, t, v)
            self.acked.update(zip([(tag, int(x)) for x in t], v.tolist(), strict=True))

    def write_maybe(self, h: store.Store, day: int) -> BaseException | None:
        """Write one batch of tag A; returns the error it raised (its points become "maybe")."""
        t, v = self.batch(day)["A"]
        try:
            h.write("A", t, v)
        except StoreError as exc:
            self.maybe.update(zip([("A", int(x)) for x in t], v.tolist(), strict=True))
            return exc
        self.acked.update(zip([("A", int(x)) for x in t], v.tolist(), strict=True))
        return None

    def check(self, h: store.Store) -> None:
        got = h.read(list(TAGS))
        rows = list(
            zip(
                got.column("tag").to_pylist(),
                got.column("time").cast(pa.int64()).to_pylist(),
                got.column("value").to_pylist(),
                strict=True,
            )
        )
        seen = {(tag, t): v for tag, t, v in rows}
        assert len(seen) == len(rows), "a point was returned twice"
        missing = [k for k in self.acked if k not in seen]
        assert not missing, f"{len(missing)} acknowledged point(s) lost, e.g. {missing[:3]}"
        wrong = [k for k, v in self.acked.items() if seen[k] != v]
        assert not wrong, f"values changed, e.g. {wrong[:3]}"
        extra = set(seen) - set(self.acked) - set(self.maybe) - set(self.droppable)
        assert not extra, f"{len(extra)} point(s) never written, e.g. {sorted(extra)[:3]}"
        for group in (self.maybe, self.droppable):
            present = [k for k in group if k in seen]
            assert len(present) in (0, len(group)), "a batch is half there"
            assert all(seen[k] == group[k] for k in present)
        _check_one_version_per_point(h)


def _check_one_version_per_point(h: store.Store) -> None:
    """Across the committed files and the unflushed points, every (tag, time) has one version.

    Copies of the same version (the same ingest stamp, after a flush that committed but
    reported a failure) are harmless; a second *version* would mean a point was ingested twice.
    """
    paths, pending = h.scan_sources()
    tables = [pending.select(["tag", "time", "ingested"])]
    for p in paths:
        t = pq.read_table(p, columns=["tag", "time", "ingested"])
        tables.append(
            pa.table(
                {
                    "tag": t.column("tag").cast(pa.string()),
                    "time": t.column("time").cast(pa.timestamp("ns", tz="UTC")),
                    "ingested": t.column("ingested"),
                }
            )
        )
    allrows = pa.concat_tables(tables).group_by(["tag", "time", "ingested"]).aggregate([])
    per_point = allrows.group_by(["tag", "time"]).aggregate([("ingested", "count")])
    assert pc.max(per_point.column("ingested_count")).as_py() == 1


def _build(store_path) -> tuple[store.Store, Model]:
    h = historian.open(store_path, flush_points=10**9, flush_seconds=3600, auto_compact_files=0)
    for tag in TAGS:
        h.define(tag)
    m = Model()
    for day in (0, 0, 1, 1):  # two days, two files each
        m.write(h, day)
        h.flush()
    m.write(h, 1)  # only in the WAL
    m.write(h, 2)
    return h, m


def _run(op: str, h: store.Store, m: Model, fault: Fault) -> None:
    if op == "flush":
        fault.armed = True
        h.flush()
    elif op == "compact":
        h.flush()
        fault.armed = True
        h.compact()
    elif op == "retain":
        h.flush()
        cutoff = T0 + DAY + 3020 * S  # drops day 0 and rewrites a file of day 1 (it straddles)
        for k in [k for k in m.acked if k[1] < cutoff]:
            m.droppable[k] = m.acked.pop(k)
        fault.armed = True
        h.retain(cutoff)
    elif op == "write":
        fault.armed = True
        error = m.write_maybe(h, 2)
        assert isinstance(error, StoreError)
        fault.armed = False
        assert m.write_maybe(h, 2) is None  # the writer recovers by itself


@pytest.mark.parametrize("after", ["recover", "close"])
@pytest.mark.parametrize(("op", "fault_name"), CASES, ids=[f"{o}-{f}" for o, f in CASES])
def test_no_acknowledged_point_is_lost_or_doubled(store_path, monkeypatch, op, fault_name, after):
    fault = Fault(fault_name, os.path.abspath(store_path))
    _install(fault, monkeypatch)  # unarmed until the operation under test
    h, m = _build(store_path)
    # the operation may fail; what matters is what the store keeps
    with contextlib.suppress(StoreError, MemoryError):
        _run(op, h, m, fault)
    assert fault.fired, f"the {fault_name} fault never hit during {op}"
    if after == "recover":
        fault.armed = False
        m.check(h)  # still readable in the process
        m.write(h, 2)
        h.flush()  # the writer recovers by itself once the fault is gone
        h.compact()
        m.check(h)
        h.close()
    else:
        with contextlib.suppress(StoreError, MemoryError):
            h.close()
        fault.armed = False
        assert not h.writable  # the lock was released even if close failed
    with historian.open(store_path) as h2:
        m.check(h2)
        m.write(h2, 3)
        h2.flush()
    with historian.open(store_path, mode="r") as h3:
        m.check(h3)


# ---------------------------------------------------------------- fail safe: a lost log or commit
def _data_files(store_path) -> set[str]:
    return {
        os.path.relpath(os.path.join(root, n), store_path)
        for root, _, names in os.walk(os.path.join(store_path, "points"))
        for n in names
        if n.endswith(".parquet")
    }


def _flushed_store(store_path, flushes: int = 4) -> Model:
    m = Model()
    with historian.open(store_path, auto_compact_files=0) as h:
        for tag in TAGS:
            h.define(tag)
        for _ in range(flushes):
            m.write(h, 0)
            h.flush()
    return m


@pytest.mark.parametrize("loss", ["deleted", "emptied", "only-junk-left"])
def test_a_lost_log_is_refused_never_replaced_by_an_empty_table(store_path, loss):
    import shutil

    from historian.errors import CorruptDataError

    _flushed_store(store_path)
    files = _data_files(store_path)
    log_dir = os.path.join(store_path, "points", "_delta_log")
    shutil.rmtree(log_dir)
    if loss != "deleted":
        os.mkdir(log_dir)
    if loss == "only-junk-left":
        with open(os.path.join(log_dir, "_last_checkpoint.tmp"), "wb") as f:
            f.write(b"\x00" * 10)
    for mode in ("r", "auto"):  # refused at the open, or at the first read
        with (
            pytest.raises(CorruptDataError, match=r"_delta_log is missing.*historian repair"),
            historian.open(store_path, mode=mode) as h,
        ):
            h.read("A")
    with pytest.raises(CorruptDataError, match="4 data file"), historian.open(store_path) as h:
        h.write("A", [T0], [1.0])
    with (
        pytest.raises(CorruptDataError, match="historian repair"),
        historian.open(store_path, grace_hours=0) as h,
    ):
        h.compact()
    assert _data_files(store_path) == files
    assert os.path.exists(log_dir) == (loss != "deleted")  # nothing was created in its place
    if os.path.exists(log_dir):
        assert not [n for n in os.listdir(log_dir) if n.endswith(".json")]


def test_a_deleted_newest_commit_then_compaction_deletes_no_file(store_path):
    from historian.errors import CorruptDataError

    _flushed_store(store_path)
    files = _data_files(store_path)
    log_dir = os.path.join(store_path, "points", "_delta_log")
    newest = max(n for n in os.listdir(log_dir) if n.endswith(".json"))
    os.unlink(os.path.join(log_dir, newest))
    for path in files:  # old enough for any vacuum
        os.utime(os.path.join(store_path, path), (0, 1))
    with historian.open(store_path, grace_hours=0) as h:
        try:
            h.compact()
        except CorruptDataError as exc:
            assert "historian repair" in str(exc)
    assert _data_files(store_path) >= files


def test_vacuum_deletes_only_old_files_an_intact_log_retired(store_path):
    from historian.storage import vacuum

    _flushed_store(store_path)
    orphan = os.path.join(store_path, "points", "day=2026-01-01", "part-orphan.parquet")
    with open(orphan, "wb") as f:  # e.g. left by a flush whose commit failed
        f.write(b"PAR1")
    with historian.open(store_path, auto_compact_files=0) as h:
        assert h.compact() == 4
        live = {os.path.join("points", p) for p in testing.commit_log(h).snapshot().paths}
        replaced = _data_files(store_path) - live - {os.path.relpath(orphan, store_path)}
        assert len(replaced) == 4
        for path in _data_files(store_path):
            os.utime(os.path.join(store_path, path), (0, 1))
        # Files removed by the newest commit are kept (its previous state references them).
        assert testing.commit_log(h).vacuum(0, min_age_s=0) == []
        Model(n=100).write(h, 1)
        h.flush()
        new = os.path.join(store_path, "points", testing.commit_log(h).snapshot().paths[-1])
        os.utime(new, None)
        os.utime(os.path.join(store_path, sorted(replaced)[0]), None)  # one replaced file is young
        gone = testing.commit_log(h).vacuum(0, min_age_s=vacuum.MIN_AGE_S)
        assert len(gone) == 3 and not set(gone) & set(testing.commit_log(h).snapshot().paths)
        assert os.path.exists(new)
    assert os.path.exists(orphan)  # no log entry names it: never deleted
    folder = vacuum.LogFolder(names=["00000000000000000000.json", "00000000000000000002.json"],
                              read=lambda n: b"")  # fmt: skip
    assert vacuum.candidates(folder, set(), 2, 0)[1] == "commit(s) [1] are missing from the log"


@pytest.mark.parametrize("fault_name", ["parquet-write", "delta-commit", "memory"])
def test_a_fault_while_recovering_the_wal_at_open_keeps_every_point(
    store_path, monkeypatch, fault_name
):
    fault = Fault(fault_name, os.path.abspath(store_path))
    _install(fault, monkeypatch)
    h, m = _build(store_path)
    testing.crash(h)  # the process dies with points only in the WAL
    fault.armed = True
    with historian.open(store_path, auto_compact_files=0) as h2:
        h2.define("C")  # becomes the writer: replays the WAL, its flush fails
        assert fault.fired
        fault.armed = False
        m.check(h2)
        m.write(h2, 3)
    with historian.open(store_path, mode="r") as h3:
        m.check(h3)
        assert h3.info()["points_pending"] == 0
