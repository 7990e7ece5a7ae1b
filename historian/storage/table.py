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

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from historian.errors import CorruptDataError, LeaseLostError, StoreError, first_line
from historian.model import arrow
from historian.storage import health
from historian.storage.actions import add_action, add_stats, live_hashes, remove_actions
from historian.storage.chain import (
    CHAIN_KEY,
    HEAD_REL,
    MANIFEST_EVERY,
    SIG_KEY,
    Commit,
    Signer,
    build_record,
    chain_to_manifest,
    check_commit,
    head_text,
    parse_commit,
)
from historian.storage.files import PARTITION_COLUMNS, TABLE_SCHEMA, WrittenFile
from historian.storage.fs import StoreFS
from historian.storage.logcheck import (
    EPOCH_KEY,
    Damage,
    commit_epoch,
    fenced_off,
    log_name,
    not_housekeeping,
    wal_gap,
)
from historian.storage.pins import ReadPins
from historian.storage.snapshot import Snapshot, snapshot_from_actions
from historian.storage.tablefiles import TableFiles

log = logging.getLogger(__name__)

# Snapshot, wal_gap, log_name, commit_epoch and EPOCH_KEY are imported from here too.
__all__ = [
    "EPOCH_KEY",
    "TABLE_CONFIG",
    "WAL_APP_ID",
    "CommitLog",
    "Snapshot",
    "commit_epoch",
    "log_name",
    "wal_gap",
]

WAL_APP_ID = "historian-wal"
TABLE_CONFIG = {
    "delta.logRetentionDuration": "interval 7 days",
    "delta.checkpointInterval": "50",
    # Tombstones leave checkpoints after a minute, so a checkpoint (read at every open) does
    # not grow with history; historian's vacuum reads the removes from the commits themselves.
    "delta.deletedFileRetentionDuration": "interval 1 minutes",
}


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
        pins: ReadPins | None = None,
    ) -> None:
        self.dir = table_dir
        self._pins = pins  # the store's read pins: vacuum leaves what live reads hold
        self._lock = threading.Lock()
        self._fence = fence  # () -> writer epoch, raises when this writer lost its lease
        self._wal_app_id = wal_app_id  # one per write-ahead log (its folder and host)
        self._signer = signer
        # The table's own files through one interface (a local folder or the store's bucket).
        # check_files=False: repair, which removes the damaged files
        self.files = TableFiles(table_dir, fs, fsync=fsync, check_sizes=check_files)
        self._so = self.files.fs.delta_storage_options(bounded=True)  # None locally
        self.damaged: Damage | None = None
        self._damage_stamp: object = None
        self._head: tuple[int, str, bool] | None = None  # version, sha256, chained
        self._max_epoch: int | None = None  # the highest writer lease epoch of a commit read
        self._hashes: dict[str, tuple[int, str | None]] | None = None  # live files (writer)
        if not self.files.names("_delta_log"):
            if not create:
                raise StoreError(
                    f"{table_dir} holds no historian table yet; open it for writing first"
                )
            _create_table(self.files, self._so)
        self._dt = self._open_table(writer=create)
        self._snapshot: Snapshot | None = None
        self._vacuum_parsed: dict[str, Any] = {}  # log files parsed by vacuum

    # ------------------------------------------------------------------ the table's files
    def read_bytes(self, rel: str) -> bytes:
        """A file of the table (``rel`` relative to the table folder)."""
        return self.files.read_bytes(rel)

    def exists(self, rel: str) -> bool:
        return self.files.exists(rel)

    def read_commit(self, version: int) -> Commit:
        """The parsed commit ``version`` (:class:`CorruptDataError` when it is not valid)."""
        try:
            data = self.read_bytes(log_name(version))
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read commit {version} of {self.dir}: {exc}") from exc
        return parse_commit(version, data)

    # ------------------------------------------------------------------ opening
    def _check_newest(self, versions: list[int]) -> str | None:
        """What is wrong with the newest commit (None: nothing found)."""
        head = self.files.head_record()
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
            fenced = None if prev is None else fenced_off(c, commit_epoch(prev))
            if fenced is not None:
                return f"commit {newest}: {fenced}"
            if prev is not None:
                self._max_epoch = commit_epoch(prev)
            forged = prev is not None and prev.record is not None and c.record is None
            if forged and not_housekeeping(c):
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

        versions = self.files.log_versions()
        what = self._check_newest(versions) if versions else None
        for _ in range(3):  # a writer may commit between the listing and the head record read
            if what is None or "missing from the log" not in what:
                break
            again = self.files.log_versions()
            if again == versions:
                break
            versions = again
            what = self._check_newest(versions)
        if what is None:
            try:
                return DeltaTable(self.dir, storage_options=self._so)
            except DeltaError as exc:
                what = f"commit {versions[-1] if versions else 0}: {first_line(exc)}"
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
        self._damage_stamp = self.files.log_stamp()
        where = os.path.join(self.dir, log_name(damage.version))
        fix = f"historian repair {os.path.dirname(self.dir)}"
        if health.record(where, damage.what, fix):
            log.warning(
                "%s; the store is read-only at version %d until `%s`",
                damage.what,
                damage.version - 1,
                fix,
            )

    def _has_newer(self, version: int) -> bool:
        return self.exists(log_name(version + 1))

    def last_version(self) -> int | None:
        """The version of the last snapshot taken (no log access), None before the first."""
        snap = self._snapshot
        return None if snap is None else snap.version

    def snapshot(self) -> Snapshot:
        """The latest committed snapshot (cheap when nothing changed: one ``stat``)."""
        with self._lock:
            snap = self._snapshot
            if snap is not None and not self._has_newer(snap.version):
                return snap
            if self.damaged is not None and self.files.log_stamp() == self._damage_stamp:
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
            if why is None and rec is None and self._head[2] and not_housekeeping(c):
                why = "it carries no chain record although the commits before it do (forged?)"
            if why is None:
                why = fenced_off(c, self._max_epoch)
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
            self._set_damaged(Damage(good, f"commit {good}: {first_line(exc)}"))
            self._dt.load_as_version(version)
            c = self.read_commit(version)
            self._head = (version, c.sha256, c.record is not None)

    def _build(self) -> Snapshot:
        actions = arrow.table(self._dt.get_add_actions(flatten=True))
        snap = snapshot_from_actions(
            self._dt.version(), self._dt.transaction_version(self._wal_app_id), actions
        )
        if snap.paths:
            self.files.check_committed(snap.version, snap.paths, snap.sizes)
        return snap

    def _live_hashes(self) -> dict[str, tuple[int, str | None]]:
        """Path -> (size, sha256) of the live files, from the chain (loaded once per writer)."""
        if self._hashes is not None:
            return self._hashes
        chain = chain_to_manifest(self.read_commit, self._dt.version())
        snap = self._snapshot if self._snapshot is not None else self._build()
        live = dict(zip(snap.paths, snap.sizes.tolist(), strict=True))
        self._hashes = live_hashes(chain, live)
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
        if self.damaged is not None:
            raise CorruptDataError(
                f"commit {self.damaged.version} of {self.dir} is damaged "
                f"({self.damaged.what}); the store is read-only at version "
                f"{self.damaged.version - 1}. Run `historian repair {os.path.dirname(self.dir)}`."
            )
        actions: list[Any] = []
        chained: list[tuple[str, int, str, str]] = []
        epoch: int | None = None  # the writer's lease epoch, confirmed right before the commit
        for f in added:
            sha = self.files.check_added(f)
            stats_text = add_stats(f)
            chained.append((f.relpath, f.size, sha, stats_text))
            actions.append(add_action(f, stats_text, self.files.mtime_ms(f.relpath), operation))
        sizes = {}
        if removed:
            snap = self.snapshot()
            sizes = dict(zip(snap.paths, snap.sizes.tolist(), strict=True))
        actions.extend(remove_actions(removed or [], sizes, operation))
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
            wal = None if wal_upto is None else (self._wal_app_id, wal_upto)
            record = build_record(
                self._head[1],
                chained,
                removed or [],
                wal,
                manifest,
                None if self._signer is None else self._signer.key_id,
            )
            props = _commit_properties(
                record, operation, epoch, self._signer, wal, fenced=self._fence is not None
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
            self.files.write_bytes(HEAD_REL, json.dumps(doc).encode())
        except OSError:  # the commit stands; verify reports the head record as behind
            log.exception("cannot write the head record of %s", self.dir)

    def vacuum(self, retention_hours: float, *, min_age_s: float | None = None) -> list[str]:
        """Delete files retired more than ``retention_hours`` ago; fails safe (see
        :mod:`historian.storage.vacuum`): never a file some retained state or a live read
        (:mod:`historian.storage.pins`) may reference, nor one younger than ``min_age_s``
        (default: the retention, at most :data:`~historian.storage.vacuum.MIN_AGE_S`)."""
        from historian.storage.vacuum import vacuum_table

        held = self._pins.oldest if self._pins is not None else (lambda: None)
        return vacuum_table(
            self.files, self.snapshot(), retention_hours, min_age_s, self._vacuum_parsed, held
        )

    def max_ingested_us(self) -> int:
        """The largest ingest stamp (µs) of the committed files, from the commit statistics."""
        actions = arrow.table(self._dt.get_add_actions(flatten=True))
        if actions.num_rows == 0 or "max.ingested" not in actions.column_names:
            return 0
        col = actions.column("max.ingested").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        import pyarrow.compute as pc

        top = pc.max(col).as_py()
        return 0 if top is None else int(top)


def _commit_properties(
    record: str,
    operation: str,
    epoch: int | None,
    signer: Signer | None,
    wal: tuple[str, int] | None,
    *,
    fenced: bool,
) -> Any:
    """The Delta commit's metadata: operation, chain record, lease epoch, signature, WAL txn."""
    from deltalake.transaction import CommitProperties, Transaction

    custom = {"historian.operation": operation, CHAIN_KEY: record}
    if epoch is not None:
        custom[EPOCH_KEY] = str(epoch)
    if signer is not None:
        custom[SIG_KEY] = signer.sign(record)
    return CommitProperties(
        custom_metadata=custom,
        app_transactions=None if wal is None else [Transaction(app_id=wal[0], version=wal[1])],
        # A fenced writer commits exactly version current + 1 (a put-if-absent): if anyone
        # committed meanwhile, it fails instead of rebasing on top of them.
        max_commit_retries=0 if fenced else None,
    )


def _create_table(files: TableFiles, storage_options: dict[str, str] | None) -> None:
    """Create the empty points table (its first commit) in ``files.dir``."""
    from deltalake import DeltaTable

    if not files.remote:  # a local folder (on S3 a "folder" is only a key prefix)
        from historian.storage.perms import make_dirs

        make_dirs(files.dir)
    DeltaTable.create(
        files.dir,
        schema=TABLE_SCHEMA,
        partition_by=PARTITION_COLUMNS,
        configuration=TABLE_CONFIG,
        name="points",
        description="historian points",
        storage_options=storage_options,
    )
