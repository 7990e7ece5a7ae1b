"""The commit layer: a Delta Lake table (through ``deltalake``) over our own Parquet files.

Why Delta (measured, see ``docs/format.md``): it commits files written by our own pyarrow writer
unchanged (encodings and page checksums kept), a commit is atomic for concurrent readers, it
needs no lock service on S3, and DuckDB, polars, Spark and pyarrow can read it.

delta-rs does not validate add actions, so :meth:`CommitLog.commit` checks each path is relative,
inside the table, and exists. Which WAL segments are already in files is recorded in the same
atomic commit as a Delta ``txn`` action (``app_id = "historian-wal"``), so WAL replay is exact.

Tamper evidence (:mod:`historian.storage.chain`): every commit records the size and SHA-256 of
the files it adds and the SHA-256 of the previous commit file. Readers check each new commit
against its record and the previous one, refuse add paths outside the table, and check every
file's size. A damaged newest commit is reported and the table opens read-only at the last good
version; a writer refuses to open until ``historian repair`` ran.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from historian.errors import CorruptDataError, LeaseLostError, StoreError
from historian.model import arrow
from historian.storage import health
from historian.storage.chain import (
    CHAIN_KEY,
    HEAD_REL,
    HOUSEKEEPING,
    MANIFEST_EVERY,
    SIG_KEY,
    Commit,
    Signer,
    bad_path,
    build_record,
    check_commit,
    head_text,
    parse_commit,
    sha256_stream,
)
from historian.storage.files import PARTITION_COLUMNS, TABLE_SCHEMA, WrittenFile
from historian.storage.fs import StoreFS

log = logging.getLogger(__name__)

WAL_APP_ID = "historian-wal"
TABLE_CONFIG = {
    "delta.logRetentionDuration": "interval 7 days",
    "delta.checkpointInterval": "50",
    "delta.deletedFileRetentionDuration": "interval 1 hours",
}


@dataclass(frozen=True)
class Snapshot:
    """The files of one committed table version (what every read of that version sees)."""

    version: int
    wal_upto: int  # WAL segments with id <= wal_upto are in files (-1: none)
    paths: list[str]  # relative paths
    sizes: np.ndarray
    rows: np.ndarray
    tmin: np.ndarray  # ns, rounded down to µs (conservative)
    tmax: np.ndarray  # ns, rounded up to µs
    tag_min: list[str]
    tag_max: list[str]

    def select(self, start_ns: int, end_ns: int, tags: list[str] | None = None) -> list[int]:
        """Indices of files that may hold points of ``tags`` in [start, end)."""
        keep = (self.tmax >= start_ns) & (self.tmin < end_ns)
        idx = np.flatnonzero(keep).tolist()
        if tags is not None and idx:
            lo, hi = min(tags), max(tags)
            idx = [i for i in idx if not (self.tag_max[i] < lo or self.tag_min[i] > hi)]
        return idx


def _mtime_ms(fs: StoreFS | None, table_dir: str, relpath: str) -> int:
    if fs is not None:  # the object was uploaded just now
        return int(_dt.datetime.now(_dt.UTC).timestamp() * 1000)
    return int(os.path.getmtime(os.path.join(table_dir, relpath)) * 1000)


def _iso(ns: int, up: bool = False) -> str:
    us = ns // 1000 + (1 if up and ns % 1000 else 0)
    d = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=us)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Damage:
    """A commit the table could not use: its version and what is wrong with it."""

    version: int
    what: str


def _one_line(exc: BaseException) -> str:
    """A dependency error's first line (delta-rs appends a Rust backtrace)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _not_housekeeping(c: Commit) -> bool:
    return bool(c.adds or c.removes or c.other) or c.operation not in HOUSEKEEPING


def wal_gap(commit_log: CommitLog, wal_dir: str) -> str | None:
    """Report WAL segments missing between the committed position and the segments present.

    Segments are deleted only after the commit that covers them is durable, so segments after
    a gap mean that commit is gone from the log (a deleted newest commit): recorded as a problem
    and logged at WARNING, not silently dropped.
    """
    from historian.storage.wal import list_segments

    segments = list_segments(wal_dir)
    if not segments:
        return None
    try:
        upto = commit_log.snapshot().wal_upto
    except CorruptDataError:
        return None  # a damaged file: the first read that needs the snapshot says which
    if upto < 0 or segments[0] <= upto + 1:
        return None
    what = (
        f"WAL segments {upto + 1}..{segments[0] - 1} are missing although segment "
        f"{segments[0]} exists: the commit that covered them (after version "
        f"{commit_log.snapshot().version}) may have been lost from the log"
    )
    fix = f"historian verify {os.path.dirname(commit_log.dir)}, then historian repair"
    if health.record(os.path.join(wal_dir, "gap"), what, fix):
        log.warning("%s; run `%s`", what, fix)
    return what


EPOCH_KEY = "historian.writer_epoch"


def commit_epoch(c: Commit) -> int | None:
    """The writer lease epoch a commit records (``s3://`` stores), or None."""
    value = c.info.get(EPOCH_KEY)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _fenced_off(c: Commit, before: int | None) -> str | None:
    """Why ``c`` is a fenced-off commit (its epoch is lower than an earlier commit's), or None."""
    epoch = commit_epoch(c)
    if epoch is None or before is None or epoch >= before:
        return None
    return (
        f"it was written by a writer of lease epoch {epoch} after a commit of epoch {before}: "
        "a stale writer's commit, fenced off (readers ignore it and every commit after it)"
    )


def log_name(version: int) -> str:
    return f"_delta_log/{version:020d}.json"


from historian.model.times import MAX_NS as _MAX_NS  # noqa: E402
_MIN_US = -(2**63) // 1000 + 1  # the smallest µs whose ns fits int64
_MAX_US = (_MAX_NS - 999) // 1000  # the largest µs whose ns + 999 fits int64


def _us_to_ns(us: np.ndarray, up: bool) -> np.ndarray:
    """µs statistics as ns bounds, saturating at the int64 limits (never wrapping around):
    ``up`` gives the end of the µs (an upper bound), else its start (a lower bound)."""
    inside = np.clip(us, _MIN_US, _MAX_US) * 1000  # a lower bound, also when clipped
    if not up:
        return np.where(us < _MIN_US, -_MAX_NS, inside)
    return np.where(us > _MAX_US, _MAX_NS, np.where(us < _MIN_US, -_MAX_NS, inside + 999))


class CommitLog:
    """Opens (or creates) the Delta table in ``table_dir`` and hands out snapshots.

    ``create=True`` (the writer): a damaged or missing newest commit raises
    :class:`CorruptDataError`. ``create=False`` (a reader): the table opens at the last good
    version instead, :attr:`damaged` says which commit is bad, and :meth:`commit` refuses.
    """

    def __init__(
        self,
        table_dir: str,
        *,
        create: bool,
        fs: StoreFS | None = None,
        fence: Callable[[], int] | None = None,
        wal_app_id: str = WAL_APP_ID,
        signer: Signer | None = None,
        fsync: bool = True,
        check_files: bool = True,
    ) -> None:
        from deltalake import DeltaTable

        self.dir = table_dir
        self._lock = threading.Lock()
        self._fs = fs  # object storage (None: local folder)
        self._fence = fence  # () -> writer epoch, raises when this writer lost its lease
        self._wal_app_id = wal_app_id  # one per write-ahead log (its folder and host)
        self._signer = signer
        self._so = None if fs is None else fs.delta_storage_options(bounded=True)
        # The table's own files through one interface (a local folder or the store's bucket).
        self._tfs = fs if fs is not None else StoreFS.from_uri(table_dir, fsync=fsync)
        self._tprefix = "" if fs is None else fs.rel(table_dir) + "/"
        self.damaged: Damage | None = None
        self._damage_stamp: object = None
        self._head: tuple[int, str, bool] | None = None  # version, sha256, chained
        self._max_epoch: int | None = None  # the highest writer lease epoch of a commit read
        self._hashes: dict[str, tuple[int, str | None]] | None = None  # live files (writer)
        self._checked: dict[str, int] = {}  # sizes already checked against the disk
        self._check_sizes = check_files  # False: repair, which removes the damaged files
        log_dir = os.path.join(table_dir, "_delta_log")
        if (
            (not fs.list(fs.rel(log_dir)))
            if fs is not None
            else (not os.path.isdir(log_dir) or not os.listdir(log_dir))
        ):
            if not create:
                raise StoreError(
                    f"{table_dir} holds no historian table yet; open it for writing first"
                )
            if fs is None:  # a local folder (on S3 a "folder" is only a key prefix)
                from historian.storage.perms import make_dirs

                make_dirs(table_dir)
            DeltaTable.create(
                table_dir,
                schema=TABLE_SCHEMA,
                partition_by=PARTITION_COLUMNS,
                configuration=TABLE_CONFIG,
                name="points",
                description="historian points",
                storage_options=self._so,
            )
        self._dt = self._open_table(writer=create)
        self._snapshot: Snapshot | None = None

    # ------------------------------------------------------------------ the table's files
    def read_bytes(self, rel: str) -> bytes:
        """A file of the table (``rel`` relative to the table folder)."""
        return self._tfs.read_bytes(self._tprefix + rel)

    def exists(self, rel: str) -> bool:
        return self._tfs.exists(self._tprefix + rel)

    def log_versions(self) -> list[int]:
        """The versions whose commit JSON is in ``_delta_log``, ascending."""
        out = []
        for name in self._tfs.list(self._tprefix + "_delta_log"):
            base = name.rsplit("/", 1)[-1]
            if base.endswith(".json") and base[:-5].isdigit() and len(base) == 25:
                out.append(int(base[:-5]))
        return sorted(out)

    def read_commit(self, version: int) -> Commit:
        """The parsed commit ``version`` (:class:`CorruptDataError` when it is not valid)."""
        try:
            data = self.read_bytes(log_name(version))
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read commit {version} of {self.dir}: {exc}") from exc
        return parse_commit(version, data)

    def head_record(self) -> dict | None:
        """``_historian/head.json``: the newest commit as recorded outside the log (or None)."""
        try:
            return json.loads(self.read_bytes(HEAD_REL))
        except (FileNotFoundError, ValueError):
            return None

    # ------------------------------------------------------------------ opening
    def _check_newest(self, versions: list[int]) -> str | None:
        """What is wrong with the newest commit (None: nothing found)."""
        head = self.head_record()
        newest = versions[-1]
        hv = None if head is None else head.get("version")
        if isinstance(hv, int) and hv > newest:
            return (
                f"commit {hv} is missing from the log (the head record "
                f"names it; the newest commit file is {newest})"
            )
        try:
            c = self.read_commit(newest)
        except CorruptDataError as exc:
            return str(exc)
        if head is not None and head.get("version") == newest and head.get("sha256") != c.sha256:
            return f"commit {newest} changed after it was written (its SHA-256 differs)"
        why = check_commit(c)
        if why is not None:
            return f"commit {newest}: {why}"
        if newest - 1 in versions:
            try:
                prev = self.read_commit(newest - 1)
            except CorruptDataError:
                prev = None  # an older commit: found by verify, delta-rs reads the checkpoint
            if prev is not None and c.record is not None and c.record["prev"] != prev.sha256:
                return f"commit {newest - 1} changed after commit {newest} was written"
            fenced = None if prev is None else _fenced_off(c, commit_epoch(prev))
            if fenced is not None:
                return f"commit {newest}: {fenced}"
            if prev is not None:
                self._max_epoch = commit_epoch(prev)
            forged = prev is not None and prev.record is not None and c.record is None
            if forged and _not_housekeeping(c):
                return (
                    f"commit {newest} carries no chain record although commit "
                    f"{newest - 1} does (forged?)"
                )
        self._head = (newest, c.sha256, c.record is not None)
        self._max_epoch = max(self._max_epoch or 0, commit_epoch(c) or 0) or None
        return None

    def _open_table(self, *, writer: bool) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError

        versions = self.log_versions()
        what = self._check_newest(versions) if versions else None
        for _ in range(3):  # a writer may commit between the listing and the head record read
            if what is None or "missing from the log" not in what:
                break
            again = self.log_versions()
            if again == versions:
                break
            versions = again
            what = self._check_newest(versions)
        if what is None:
            try:
                return DeltaTable(self.dir, storage_options=self._so)
            except DeltaError as exc:
                what = f"commit {versions[-1] if versions else 0}: {_one_line(exc)}"
        newest = versions[-1] if versions else 0
        missing = what.startswith("commit") and "missing from the log" in what
        bad = newest + 1 if missing else newest
        self._set_damaged(Damage(bad, what))
        if writer:
            raise CorruptDataError(
                f"the store's commit log is damaged: {what}. Nothing was changed; readers see "
                f"version {bad - 1}. Run `historian repair {os.path.dirname(self.dir)}` "
                "(try --dry-run first) before writing."
            )
        candidates = versions if missing else versions[:-1]
        for v in reversed(candidates[-MANIFEST_EVERY:]):
            try:
                dt = DeltaTable(self.dir, version=v, storage_options=self._so)
            except DeltaError:
                continue
            c = self.read_commit(v)
            self._head = (v, c.sha256, c.record is not None)
            return dt
        raise CorruptDataError(
            f"no version of the commit log of {self.dir} can be read ({what}); "
            f"run `historian repair {os.path.dirname(self.dir)}` to rebuild it from the files"
        )

    def _set_damaged(self, damage: Damage) -> None:
        self.damaged = damage
        self._damage_stamp = self._log_stamp()
        where = os.path.join(self.dir, log_name(damage.version))
        fix = f"historian repair {os.path.dirname(self.dir)}"
        if health.record(where, damage.what, fix):
            log.warning(
                "%s; the store is read-only at version %d until `%s`",
                damage.what,
                damage.version - 1,
                fix,
            )

    def _log_stamp(self) -> object:
        """What the log folder holds (names, sizes, times): a repair changes it."""
        import pyarrow.fs as pafs

        sel = pafs.FileSelector(self._tfs.path(self._tprefix + "_delta_log"), allow_not_found=True)
        infos = self._tfs.filesystem.get_file_info(sel)
        return tuple(sorted((i.path, i.size, i.mtime_ns) for i in infos))

    # ------------------------------------------------------------------ snapshots
    def _has_newer(self, version: int) -> bool:
        return self.exists(log_name(version + 1))

    def snapshot(self) -> Snapshot:
        """The latest committed snapshot (cheap when nothing changed: one ``stat``)."""
        with self._lock:
            snap = self._snapshot
            if snap is not None and not self._has_newer(snap.version):
                return snap
            if self.damaged is not None and self._log_stamp() == self._damage_stamp:
                if snap is not None:
                    return snap  # pinned at the last good version until a repair
            else:
                self._advance()
            self._snapshot = self._build()
            return self._snapshot

    def _advance(self) -> None:
        """Move to the newest commit that holds up (each new one checked against its record)."""
        from deltalake.exceptions import DeltaError

        if self._head is None or self.damaged is not None:
            self.damaged = None
            self._dt = self._open_table(writer=False)
            if self.damaged is None:  # repaired meanwhile (by another process)
                health.clear_under(os.path.join(self.dir, "_delta_log"))
            return
        version, sha, _ = self._head
        good = version
        while self._has_newer(good):
            v = good + 1
            try:
                c = self.read_commit(v)
            except FileNotFoundError:
                break
            except CorruptDataError as exc:
                self._set_damaged(Damage(v, str(exc)))
                break
            why = check_commit(c)
            rec = c.record
            if why is None and rec is not None and rec["prev"] != sha:
                why = f"its record does not link to commit {v - 1} (one of them was changed)"
            if why is None and rec is None and self._head[2] and _not_housekeeping(c):
                why = "it carries no chain record although the commits before it do (forged?)"
            if why is None:
                why = _fenced_off(c, self._max_epoch)
            if why is not None:
                self._set_damaged(Damage(v, f"commit {v}: {why}"))
                break
            good, sha = v, c.sha256
            self._head = (v, sha, rec is not None)
            self._max_epoch = max(self._max_epoch or 0, commit_epoch(c) or 0) or None
        if good == version:
            return
        try:
            if self.damaged is None:
                self._dt.update_incremental()
                if self._dt.version() != good:  # a newer commit arrived meanwhile
                    self._dt.load_as_version(good)
            else:
                self._dt.load_as_version(good)
        except DeltaError as exc:
            self._set_damaged(Damage(good, f"commit {good}: {_one_line(exc)}"))
            self._dt.load_as_version(version)
            c = self.read_commit(version)
            self._head = (version, c.sha256, c.record is not None)

    def _build(self) -> Snapshot:
        version = self._dt.version()
        wal_upto = self._dt.transaction_version(self._wal_app_id)
        actions = arrow.table(self._dt.get_add_actions(flatten=True))
        n = actions.num_rows
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Snapshot(
                version,
                -1 if wal_upto is None else wal_upto,
                [],
                empty,
                empty,
                empty,
                empty,
                [],
                [],
            )

        def ns(col: str, fallback: int, up: bool = False) -> np.ndarray:
            if col not in actions.column_names:
                return np.full(n, fallback, dtype=np.int64)
            arr = actions.column(col).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            us = np.asarray(arrow.to_numpy(arr, fill=fallback // 1000), dtype=np.int64)
            return _us_to_ns(us, up)

        def text(col: str, fallback: str) -> list[str]:
            if col not in actions.column_names:
                return [fallback] * n
            return [fallback if v is None else v for v in actions.column(col).to_pylist()]

        paths = actions.column("path").to_pylist()
        sizes = np.asarray(arrow.to_numpy(actions.column("size_bytes")), dtype=np.int64)
        self._check_files(version, paths, sizes)
        return Snapshot(
            version=version,
            wal_upto=-1 if wal_upto is None else int(wal_upto),
            paths=paths,
            sizes=sizes,
            rows=np.asarray(arrow.to_numpy(actions.column("num_records"), fill=0), dtype=np.int64),
            tmin=ns("min.time", -(2**62)),
            tmax=ns("max.time", 2**62, up=True),  # stats are µs: cover the rest of the µs
            tag_min=text("min.tag", ""),
            tag_max=text("max.tag", "\U0010ffff"),
        )

    def _check_files(self, version: int, paths: list[str], sizes: np.ndarray) -> None:
        """Refuse paths outside the table and files whose size differs from their commit."""
        new = [(p, int(s)) for p, s in zip(paths, sizes.tolist(), strict=True)
               if self._checked.get(p) != s]  # fmt: skip
        if not new or not self._check_sizes:
            return
        for p, _ in new:
            why = bad_path(p)
            if why is not None:
                raise CorruptDataError(
                    f"version {version} of the commit log of {self.dir} adds {p!r}, {why} "
                    "outside the table; refusing to read it. Run `historian verify "
                    f"{os.path.dirname(self.dir)}` to find the commit that did this."
                )
        on_disk = self._sizes([p for p, _ in new])
        for p, size in new:
            got = on_disk.get(p)
            if got is None:
                continue  # missing: the read that needs it says so
            if got != size:
                raise CorruptDataError(
                    f"data file {p} has {got} bytes but version {version} of the commit log "
                    f"says {size}: it was changed after the commit. Run `historian verify "
                    f"{os.path.dirname(self.dir)}`, then `historian repair` to set it aside."
                )
            self._checked[p] = size

    def _sizes(self, paths: list[str]) -> dict[str, int]:
        """Sizes on disk (missing files left out); one listing on object storage."""
        if self._fs is None:
            out = {}
            for p in paths:
                with contextlib.suppress(FileNotFoundError):
                    out[p] = os.stat(os.path.join(self.dir, p)).st_size
            return out
        import pyarrow.fs as pafs

        base = self._fs.path(self._tprefix.rstrip("/"))
        sel = pafs.FileSelector(base, allow_not_found=True, recursive=True)
        listed = {
            i.path[len(base) + 1 :]: int(i.size)
            for i in self._fs.filesystem.get_file_info(sel)
            if i.type == pafs.FileType.File
        }
        return {p: listed[p] for p in paths if p in listed}

    # ------------------------------------------------------------------ committing
    def sha256_of(self, relpath: str) -> tuple[str, int]:
        """(SHA-256, size) of a file of the table, read through."""
        if self._fs is None:
            with open(os.path.join(self.dir, relpath), "rb") as f:
                return sha256_stream(f)
        with self._fs.open_input(self._tprefix + relpath) as f:
            return sha256_stream(f)

    def _live_hashes(self) -> dict[str, tuple[int, str | None]]:
        """Path -> (size, sha256) of the live files, from the chain (loaded once per writer)."""
        if self._hashes is not None:
            return self._hashes
        version = self._dt.version()
        chain: list[Commit] = []
        v = version
        while v >= 0:
            try:
                c = self.read_commit(v)
            except (FileNotFoundError, CorruptDataError):
                break
            rec = c.record
            if rec is None:
                break
            chain.append(c)
            if "manifest" in rec:
                break
            v -= 1
        hashes: dict[str, tuple[int, str | None]] = {}
        for c in reversed(chain):
            rec = c.record
            assert rec is not None
            if "manifest" in rec:
                hashes = {p: (int(s), h) for p, (s, h) in rec["manifest"].items()}
                for p, s, h, _ in rec["adds"]:
                    hashes[p] = (int(s), h)
                continue
            for p in rec["removes"]:
                hashes.pop(p, None)
            for p, s, h, _ in rec["adds"]:
                hashes[p] = (int(s), h)
        snap = self._snapshot if self._snapshot is not None else self._build()
        live = dict(zip(snap.paths, snap.sizes.tolist(), strict=True))
        self._hashes = {p: hashes.get(p, (s, None)) for p, s in live.items()}
        return self._hashes

    def commit(
        self,
        added: list[WrittenFile],
        removed: list[str] | None = None,
        *,
        wal_upto: int | None = None,
        operation: str = "write",
    ) -> int:
        """Atomically publish ``added`` files and retire ``removed`` ones; returns the version."""
        from deltalake.transaction import AddAction, CommitProperties, RemoveAction, Transaction

        if self.damaged is not None:
            raise CorruptDataError(
                f"commit {self.damaged.version} of {self.dir} is damaged "
                f"({self.damaged.what}); the store is read-only at version "
                f"{self.damaged.version - 1}. Run `historian repair {os.path.dirname(self.dir)}`."
            )
        actions: list = []
        chained: list[tuple[str, int, str, str]] = []
        epoch: int | None = None  # the writer's lease epoch, confirmed right before the commit
        for f in added:
            if self._fs is not None:  # object storage
                self._check_remote(f)
            else:
                full = os.path.realpath(os.path.join(self.dir, f.relpath))
                if os.path.isabs(f.relpath) or not full.startswith(
                    os.path.realpath(self.dir) + os.sep
                ):
                    raise StoreError(
                        f"refusing to commit {f.relpath!r}: not a relative path inside the table"
                    )
                if not os.path.isfile(full) or os.path.getsize(full) != f.size:
                    raise CorruptDataError(
                        f"refusing to commit {f.relpath!r}: file missing or size changed"
                    )
            sha, size = self.sha256_of(f.relpath)
            if size != f.size:
                raise CorruptDataError(
                    f"refusing to commit {f.relpath!r}: {size} bytes read, {f.size} written"
                )
            stats = {
                "numRecords": f.rows,
                "minValues": {
                    "tag": f.tag_min,
                    "time": _iso(f.time_min_ns),
                    "ingested": _iso(f.ingested_min_us * 1000),
                },
                "maxValues": {
                    "tag": f.tag_max,
                    "time": _iso(f.time_max_ns, up=True),
                    "ingested": _iso(f.ingested_max_us * 1000),
                },
                "nullCount": {"tag": 0, "time": 0},
            }
            stats_text = json.dumps(stats)
            chained.append((f.relpath, f.size, sha, stats_text))
            actions.append(
                AddAction(
                    path=f.relpath,
                    size=f.size,
                    partition_values={"day": f.day},
                    modification_time=_mtime_ms(self._fs, self.dir, f.relpath),
                    data_change=operation != "compact",
                    stats=stats_text,
                )
            )
        now_ms = int(_dt.datetime.now(_dt.UTC).timestamp() * 1000)
        sizes = {}
        if removed:
            snap = self.snapshot()
            sizes = dict(zip(snap.paths, snap.sizes.tolist(), strict=True))
        for relpath in removed or []:
            day = relpath.split("/", 1)[0].removeprefix("day=")
            actions.append(
                RemoveAction(
                    path=relpath,
                    deletion_timestamp=now_ms,
                    data_change=operation != "compact",
                    size=sizes.get(relpath),
                    partition_values={"day": day},
                )
            )
        with self._lock:
            known = self._dt.version()
            self._dt.update_incremental()
            current = self._dt.version()
            if self._fence is not None:
                # Fencing: a conditional renewal of the lease (412 once another writer took it
                # over), then no commit on top of a commit of a newer epoch.
                epoch = self._fence()
                self._refuse_newer_epochs(known, current, epoch)
            if self._head is None or self._head[0] != current:
                c = self.read_commit(current)
                self._head = (current, c.sha256, c.record is not None)
            hashes = self._live_hashes()
            after = dict(hashes)
            for p in removed or []:
                after.pop(p, None)
            for p, s, h, _ in chained:
                after[p] = (s, h)
            # The checkpoint versions (49, 99, ...): the JSON Delta's log cleanup keeps first.
            at_checkpoint = (current + 2) % MANIFEST_EVERY == 0
            manifest = after if at_checkpoint or not self._head[2] else None
            record = build_record(
                self._head[1],
                chained,
                removed or [],
                None if wal_upto is None else (self._wal_app_id, wal_upto),
                manifest,
                None if self._signer is None else self._signer.key_id,
            )
            custom = {"historian.operation": operation, CHAIN_KEY: record}
            if epoch is not None:
                custom[EPOCH_KEY] = str(epoch)
            if self._signer is not None:
                custom[SIG_KEY] = self._signer.sign(record)
            props = CommitProperties(
                custom_metadata=custom,
                app_transactions=[Transaction(app_id=self._wal_app_id, version=wal_upto)]
                if wal_upto is not None
                else None,
                # A fenced writer commits exactly version current + 1 (a put-if-absent): if
                # anyone committed meanwhile, it fails instead of rebasing on top of them.
                max_commit_retries=0 if self._fence is not None else None,
            )
            try:
                self._dt.create_write_transaction(
                    actions,
                    mode="append",
                    schema=TABLE_SCHEMA,
                    partition_by=PARTITION_COLUMNS,
                    commit_properties=props,
                )
            except Exception as exc:
                if self._fence is not None and type(exc).__name__ == "CommitFailedError":
                    self._dt.update_incremental()
                    self._refuse_newer_epochs(current, self._dt.version(), epoch)
                    self._hashes = None  # someone else's commit: rebuild the live hashes
                    raise StoreError(
                        f"commit {current + 1} of {self.dir} was taken by another commit "
                        "meanwhile; nothing was committed (retry)"
                    ) from exc
                raise
            self._dt.update_incremental()  # a DeltaTable does not advance after its own commit
            version = self._dt.version()
            self._hashes = after
            if epoch is not None:
                self._max_epoch = max(self._max_epoch or 0, epoch)
            self._write_head(version)
            self._snapshot = self._build()
            return self._snapshot.version

    def _refuse_newer_epochs(self, known: int, current: int, epoch: int | None) -> None:
        """Fencing: refuse to commit after a commit of a higher lease epoch (another writer took
        the lease over); commits of other writers, if any, invalidate the cached file hashes.

        The epochs of commits read earlier (opening, snapshots) count too (``_max_epoch``).
        """
        if current != known:
            self._hashes = None
        for v in range(known + 1, current + 1):
            try:
                c = self.read_commit(v)
            except (FileNotFoundError, CorruptDataError):
                continue  # the reader side reports it
            other = commit_epoch(c)
            if other is not None and (self._max_epoch is None or other > self._max_epoch):
                self._max_epoch = other
        if epoch is not None and self._max_epoch is not None and self._max_epoch > epoch:
            raise LeaseLostError(
                f"the commit log of {self.dir} holds a commit of lease epoch {self._max_epoch}, "
                f"newer than this writer's epoch {epoch}: this writer was fenced off and its "
                "commit is refused"
            )

    def _write_head(self, version: int) -> None:
        """Record the newest commit outside the log (a deleted newest commit then shows)."""
        try:
            sha = parse_commit(version, self.read_bytes(log_name(version))).sha256
        except (OSError, CorruptDataError):
            log.exception("cannot read back commit %d of %s", version, self.dir)
            return
        self._head = (version, sha, True)
        doc: dict[str, Any] = {"version": version, "sha256": sha}
        if self._signer is not None:
            doc["key"] = self._signer.key_id
            doc["sig"] = self._signer.sign(head_text(version, sha))
        try:
            self._tfs.write_bytes(self._tprefix + HEAD_REL, json.dumps(doc).encode())
        except OSError:  # the commit stands; verify reports the head record as behind
            log.exception("cannot write the head record of %s", self.dir)

    def _check_remote(self, f: WrittenFile) -> None:
        assert self._fs is not None
        parts = f.relpath.split("/")
        if f.relpath.startswith("/") or ".." in parts or "://" in f.relpath:
            raise StoreError(
                f"refusing to commit {f.relpath!r}: not a relative path inside the table"
            )
        try:
            size = self._fs.size(self._fs.rel(f"{self.dir}/{f.relpath}"))
        except FileNotFoundError:
            size = -1
        if size != f.size:
            raise CorruptDataError(
                f"refusing to commit {f.relpath!r}: object missing or size changed"
            )

    def vacuum(self, retention_hours: float, *, min_age_s: float | None = None) -> list[str]:
        """Delete files retired more than ``retention_hours`` ago; fails safe (see
        :mod:`historian.storage.vacuum`): never a file some retained state may reference, nor
        one younger than ``min_age_s`` (default :data:`~historian.storage.vacuum.MIN_AGE_S`)."""
        import pyarrow.fs as pafs

        from historian.storage import vacuum as vac

        margin = vac.MIN_AGE_S if min_age_s is None else min_age_s
        snap = self.snapshot()
        logdir = self._tprefix + "_delta_log"
        folder = vac.LogFolder(
            names=[n.rsplit("/", 1)[-1] for n in self._tfs.list(logdir)],
            read=lambda name: self._tfs.read_bytes(f"{logdir}/{name}"),
            parsed=self.__dict__.setdefault("_vacuum_parsed", {}),
        )
        todo, why = vac.candidates(folder, set(snap.paths), snap.version, retention_hours)
        if why is not None:
            log.warning("vacuum of %s skipped: %s; no file was deleted", self.dir, why)
            return []
        removed = []
        for rel in todo:
            info = self._tfs.filesystem.get_file_info(self._tfs.path(self._tprefix + rel))
            if info.type != pafs.FileType.File:
                continue  # already gone
            if info.mtime is None or not vac.old_enough(info.mtime.timestamp(), margin):
                continue
            self._tfs.delete(self._tprefix + rel)
            removed.append(rel)
        return removed

    def max_ingested_us(self) -> int:
        """The largest ingest stamp (µs) of the committed files, from the commit statistics."""
        actions = arrow.table(self._dt.get_add_actions(flatten=True))
        if actions.num_rows == 0 or "max.ingested" not in actions.column_names:
            return 0
        col = actions.column("max.ingested").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        import pyarrow.compute as pc

        top = pc.max(col).as_py()
        return 0 if top is None else int(top)
