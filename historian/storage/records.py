"""Small append-only logs in the store folder: annotations and event frames.

Annotations and frames are few (people and batches write them, not PLCs) and must be durable
on return, readable by any process, replicated with the store and stored the same way on a
local folder and on S3. So each write call becomes **one immutable file** in
``<kind>/`` (``annotations/`` or ``frames/``), published whole or not at all through
:class:`~historian.storage.fs.StoreFS` (temp name + fsync + rename + fsync of the folder
locally, one PUT on S3) before the call returns: a kill -9 leaves the file complete or absent,
never torn. Files are never changed; a new write supersedes an older record of the same key
(the reader keeps the record with the newest ``ingested``: last write wins).

A file is JSON lines: a header line ``{"format": "historian-records", "version": 1, "kind":
..., "count": N, "crc32": "<8 hex>"}`` then ``N`` records, one JSON object a line (ASCII only:
every control character is escaped). The CRC32 covers the bytes after the header line, so a
damaged file is reported (:class:`~historian.errors.CorruptDataError`, naming it) instead of
read wrong. Names are ``<20-digit ingest ns>-<16 hex>.jsonl``: sorted by write time, unique,
checked by the replication receiver.

When a log has more than :data:`MERGE_FILES` files the writer merges them into one file (the
new file is published first, then the merged ones deleted; a crash in between leaves
duplicates, which the reader drops). A reader that lists a file a merge then deletes lists
again. Readers cache the records of each file they read (files never change).

Examples
--------
>>> import tempfile
>>> from historian.storage.fs import StoreFS
>>> log = RecordLog(StoreFS.from_uri(tempfile.mkdtemp()), "annotations")
>>> rel = log.append([{"target": "A", "time": 0, "text": "hi", "ingested": 1}])
>>> [r["text"] for r in log.read()]
['hi']
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time as _time
import uuid
import weakref
import zlib
from typing import TYPE_CHECKING, Any

from historian.errors import CorruptDataError, InvalidArgumentError, StoreError
from historian.storage.errmap import storage_errors
from historian.storage.fs import StoreFS

if TYPE_CHECKING:  # pragma: no cover
    from historian.storage.store import Store

log = logging.getLogger(__name__)

__all__ = ["KINDS", "MERGE_FILES", "RecordLog", "is_record_file", "record_log"]

#: The record logs of a store (folder names).
KINDS = ("annotations", "frames")
#: A log with more files than this is merged into one file by the writer.
MERGE_FILES = 256
#: The largest record file a write may produce (one call's records).
MAX_FILE_BYTES = 16 * 2**20
FORMAT = "historian-records"
VERSION = 1
_NAME = re.compile(r"[0-9]{20}-[0-9a-f]{16}\.jsonl")


def is_record_file(rel: str) -> bool:
    """True for ``annotations/<name>`` or ``frames/<name>`` with a valid record file name.

    >>> is_record_file("annotations/00000000000000000001-0123456789abcdef.jsonl")
    True
    >>> is_record_file("annotations/../tags.json")
    False
    """
    kind, sep, name = rel.partition("/")
    return bool(sep) and kind in KINDS and _NAME.fullmatch(name) is not None


def encode(kind: str, records: list[dict[str, Any]]) -> bytes:
    """The bytes of one record file (header line + one JSON line per record)."""
    try:
        body = b"".join(
            json.dumps(r, sort_keys=True, ensure_ascii=True, allow_nan=False,
                       separators=(",", ":")).encode("ascii") + b"\n"
            for r in records
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"a {kind} record is not JSON-serialisable ({exc})") from exc
    header = {"format": FORMAT, "version": VERSION, "kind": kind, "count": len(records),
              "crc32": f"{zlib.crc32(body):08x}"}  # fmt: skip
    return json.dumps(header, sort_keys=True).encode("ascii") + b"\n" + body


def decode(kind: str, data: bytes, where: str) -> list[dict[str, Any]]:
    """The records of a record file; :class:`CorruptDataError` naming ``where`` if damaged."""
    head, sep, body = data.partition(b"\n")
    try:
        header = json.loads(head)
        ok = (sep == b"\n" and isinstance(header, dict) and header.get("format") == FORMAT
              and header.get("kind") == kind)  # fmt: skip
    except ValueError:
        ok = False
    if not ok:
        raise CorruptDataError(f"{where} is not a historian {kind} record file (bad header)")
    if header.get("version") != VERSION:
        raise CorruptDataError(
            f"{where} has record format version {header.get('version')}; "
            f"this historian reads version {VERSION}: upgrade historian"
        )
    if f"{zlib.crc32(body):08x}" != header.get("crc32"):
        raise CorruptDataError(
            f"{where} fails its CRC32 check (damaged on disk or in transfer): restore it from "
            "a replica or a backup; `historian verify` checks the rest of the store"
        )
    try:
        records = [json.loads(line) for line in body.splitlines()]
    except ValueError as exc:  # pragma: no cover - the CRC matched bytes we did not write
        raise CorruptDataError(f"{where}: a record is not JSON ({exc})") from exc
    if len(records) != header.get("count"):
        raise CorruptDataError(
            f"{where} holds {len(records)} records, its header says {header.get('count')}"
        )
    return records


class RecordLog:
    """One record log (``annotations`` or ``frames``) of a store, on its :class:`StoreFS`."""

    def __init__(self, fs: StoreFS, kind: str) -> None:
        if kind not in KINDS:
            raise InvalidArgumentError(f"record log kind must be one of {KINDS}, not {kind!r}")
        self.fs = fs
        self.kind = kind
        self._lock = threading.RLock()  # the cache and the ingest stamps, between threads
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self.max_ingested = 0  # the newest ingest stamp this object has seen (ns)

    def _where(self, rel: str) -> str:
        return self.fs.uri_of(rel)

    def append(self, records: list[dict[str, Any]], *, stamp: bool = False) -> str:
        """Publish ``records`` as one new file (durable when this returns); its path.

        ``stamp``: set each record's ``ingested`` to one new ingest time (ns), later than any
        this log has seen (so a clock set back never lets an older write win)."""
        with self._lock:
            if stamp:
                now = max(_time.time_ns(), self.max_ingested + 1)
                for r in records:
                    r["ingested"] = now
            data = encode(self.kind, records)
            if len(data) > MAX_FILE_BYTES:
                raise InvalidArgumentError(
                    f"{len(records)} {self.kind} records make {len(data):,} bytes, over the "
                    f"{MAX_FILE_BYTES:,}-byte limit of one write: write them in smaller batches"
                )
            newest = max([int(r.get("ingested", 0)) for r in records] or [_time.time_ns()])
            rel = f"{self.kind}/{newest:020d}-{uuid.uuid4().hex[:16]}.jsonl"
            with storage_errors(f"writing {self._where(rel)}",
                                "nothing was written; fix the cause and retry"):  # fmt: skip
                self.fs.write_bytes(rel, data)
            self._cache[rel] = records
            self.max_ingested = max(self.max_ingested, newest)
        return rel

    def read(self) -> list[dict[str, Any]]:
        """Every record of the log, files in name order (duplicates after a merge possible)."""
        for _attempt in range(5):
            with storage_errors(f"reading {self._where(self.kind)}/",
                                "nothing was changed; fix the cause and retry"):  # fmt: skip
                names = [p for p in self.fs.list(self.kind) if is_record_file(p)]
                try:
                    return self._read_names(names)
                except FileNotFoundError:
                    continue  # a merge deleted a listed file: list again
        raise StoreError(
            f"the files of {self._where(self.kind)}/ kept changing while read; retry"
        )  # pragma: no cover - needs five merges in a row

    def _read_names(self, names: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self._lock:
            for rel in names:
                records = self._cache.get(rel)
                if records is None:
                    records = decode(self.kind, self.fs.read_bytes(rel), self._where(rel))
                    self._cache[rel] = records
                out.extend(records)
            for rel in set(self._cache) - set(names):
                del self._cache[rel]
            stamps = [int(r.get("ingested", 0)) for r in out]
            self.max_ingested = max([self.max_ingested, *stamps])
        return out

    def maybe_merge(self) -> bool:
        """Merge the files into one when there are more than :data:`MERGE_FILES` (writer only).
        True when it merged."""
        with self._lock:  # one merge at a time; appends of other threads wait
            names = [p for p in self.fs.list(self.kind) if is_record_file(p)]
            if len(names) <= MERGE_FILES:
                return False
            records = self._read_names(names)
            if len(encode(self.kind, records)) > MAX_FILE_BYTES:
                return False  # pragma: no cover - 16 MiB of notes: kept as many files
            merged = self.append(records)
            with storage_errors(f"merging {self._where(self.kind)}/",
                                "the merged file holds every record; the rest are deleted at "
                                "the next merge"):  # fmt: skip
                for rel in names:
                    self.fs.delete(rel)
                    self._cache.pop(rel, None)
        log.info("merged %d %s files into %s", len(names), self.kind, merged)
        return True


_LOGS: weakref.WeakKeyDictionary[Any, dict[str, RecordLog]] = weakref.WeakKeyDictionary()
_LOGS_LOCK = threading.Lock()


def record_log(store: Store, kind: str) -> RecordLog:
    """The :class:`RecordLog` ``kind`` of ``store`` (one per store object, so its cache lives
    as long as the store)."""
    with _LOGS_LOCK:
        logs = _LOGS.setdefault(store, {})
        if kind not in logs:
            fs = (
                store._fs
                if store._fs is not None
                else StoreFS.from_uri(store.path, fsync=store.settings.fsync)
            )
            logs[kind] = RecordLog(fs, kind)
        return logs[kind]


def append_records(store: Store, kind: str, records: list[dict[str, Any]]) -> str:
    """Write ``records`` to the log ``kind`` of ``store`` as its writer (taking the writer lock
    in mode "auto"; :class:`~historian.errors.ReadOnlyStoreError` on a read-only store or a
    replica), stamping each with a unique, increasing ``ingested`` (ns); durable on return."""
    store.check_open()
    store._become_writer()
    rlog = record_log(store, kind)
    if rlog.max_ingested == 0:
        rlog.read()  # the newest stamp already stored: ingest stamps never go backwards
    rel = rlog.append(records, stamp=True)
    rlog.maybe_merge()
    return rel


def read_records(store: Store, kind: str) -> list[dict[str, Any]]:
    """Every record of the log ``kind`` of ``store`` (any process, no lock)."""
    store.check_open()
    return record_log(store, kind).read()
