"""The commit layer: a Delta Lake table (through ``deltalake``) over our own Parquet files.

Why Delta (measured, see ``docs/format.md``): it commits files written by our own pyarrow writer
unchanged (encodings and page checksums kept), a commit is atomic for concurrent readers, it
needs no lock service on S3, and DuckDB, polars, Spark and pyarrow can read it.

delta-rs does not validate add actions, so :meth:`CommitLog.commit` checks each path is relative,
inside the table, and exists. Which WAL segments are already in files is recorded in the same
atomic commit as a Delta ``txn`` action (``app_id = "historian-wal"``), so WAL replay is exact.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from historian.errors import CorruptDataError, StoreError
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


class CommitLog:
    """Opens (or creates) the Delta table in ``table_dir`` and hands out snapshots."""

    def __init__(
        self,
        table_dir: str,
        *,
        create: bool,
        fs: StoreFS | None = None,
        fence: Callable[[], int] | None = None,
        wal_app_id: str = WAL_APP_ID,
    ) -> None:
        from deltalake import DeltaTable

        self.dir = table_dir
        self._lock = threading.Lock()
        self._fs = fs  # object storage (None: local folder)
        self._fence = fence  # () -> writer epoch, raises when this writer lost its lease
        self._wal_app_id = wal_app_id  # one per write-ahead log (its folder and host)
        so = None if fs is None else fs.delta_storage_options()
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
            os.makedirs(table_dir, exist_ok=True)
            DeltaTable.create(
                table_dir,
                schema=TABLE_SCHEMA,
                partition_by=PARTITION_COLUMNS,
                configuration=TABLE_CONFIG,
                name="points",
                description="historian points",
                storage_options=so,
            )
        self._dt = DeltaTable(table_dir, storage_options=so)
        self._snapshot: Snapshot | None = None

    def _has_newer(self, version: int) -> bool:
        path = os.path.join(self.dir, "_delta_log", f"{version + 1:020d}.json")
        return self._fs.exists(self._fs.rel(path)) if self._fs is not None else os.path.exists(path)

    def snapshot(self) -> Snapshot:
        """The latest committed snapshot (cheap when nothing changed: one ``stat``)."""
        with self._lock:
            snap = self._snapshot
            if snap is not None and not self._has_newer(snap.version):
                return snap
            self._dt.update_incremental()
            self._snapshot = self._build()
            return self._snapshot

    def _build(self) -> Snapshot:
        version = self._dt.version()
        wal_upto = self._dt.transaction_version(self._wal_app_id)
        actions = pa.table(self._dt.get_add_actions(flatten=True))
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

        def ns(col: str, fallback: int) -> np.ndarray:
            if col not in actions.column_names:
                return np.full(n, fallback, dtype=np.int64)
            arr = actions.column(col).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            return np.asarray(arr.fill_null(fallback // 1000).to_numpy(), dtype=np.int64) * 1000

        def text(col: str, fallback: str) -> list[str]:
            if col not in actions.column_names:
                return [fallback] * n
            return [fallback if v is None else v for v in actions.column(col).to_pylist()]

        return Snapshot(
            version=version,
            wal_upto=-1 if wal_upto is None else int(wal_upto),
            paths=actions.column("path").to_pylist(),
            sizes=np.asarray(actions.column("size_bytes").to_numpy(), dtype=np.int64),
            rows=np.asarray(actions.column("num_records").fill_null(0).to_numpy(), dtype=np.int64),
            tmin=ns("min.time", -(2**62)),
            tmax=ns("max.time", 2**62) + 999,  # stats are µs: cover the rest of the µs
            tag_min=text("min.tag", ""),
            tag_max=text("max.tag", "\U0010ffff"),
        )

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

        actions: list = []
        epoch = (
            None if self._fence is None else self._fence()
        )  # fencing: raises if the lease is lost
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
            actions.append(
                AddAction(
                    path=f.relpath,
                    size=f.size,
                    partition_values={"day": f.day},
                    modification_time=_mtime_ms(self._fs, self.dir, f.relpath),
                    data_change=operation != "compact",
                    stats=json.dumps(stats),
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
        props = CommitProperties(
            custom_metadata={"historian.operation": operation}
            | ({} if epoch is None else {"historian.writer_epoch": str(epoch)}),
            app_transactions=[Transaction(app_id=self._wal_app_id, version=wal_upto)]
            if wal_upto is not None
            else None,
        )
        with self._lock:
            self._dt.update_incremental()
            self._dt.create_write_transaction(
                actions,
                mode="append",
                schema=TABLE_SCHEMA,
                partition_by=PARTITION_COLUMNS,
                commit_properties=props,
            )
            self._dt.update_incremental()  # a DeltaTable does not advance after its own commit
            self._snapshot = self._build()
            return self._snapshot.version

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

    def vacuum(self, retention_hours: int) -> list[str]:
        """Delete files retired more than ``retention_hours`` ago (older readers stay safe)."""
        with self._lock:
            return list(
                self._dt.vacuum(
                    retention_hours=retention_hours,
                    dry_run=False,
                    enforce_retention_duration=False,
                    full=True,
                )
            )
