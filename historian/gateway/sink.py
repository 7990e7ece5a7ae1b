"""Apply replicated versions to a copy: a folder or an ``s3://`` store (files first, commit last).

The copy's commit log is the source's, byte for byte: each commit is checked before it is
written (its version follows the copy's newest, its chain record links to the copy's newest
commit, and every file it adds is present with the recorded size and SHA-256). A data file is
written under ``tmp/replicate/``, hashed, and renamed (or uploaded) into place only when its
hash matches; the commit JSON comes last, so the copy's newest commit is always complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from typing import Any

from historian.assets.persist import ASSETS_FILE, decode_model
from historian.errors import CorruptDataError, StoreError
from historian.model import arrow
from historian.storage.chain import HEAD_REL, bad_path, check_commit, parse_commit
from historian.storage.fs import StoreFS, local_cache_dir
from historian.storage.records import decode as decode_records
from historian.storage.records import is_record_file
from historian.storage.table import log_name

log = logging.getLogger(__name__)

MARKER = "_historian/replica.json"  # a copy: historian refuses to open it for writing
LOG = "points/_delta_log"
_AUX = (f"{LOG}/_last_checkpoint", f"points/{HEAD_REL}", "tags.json", ASSETS_FILE)


def _aux_allowed(rel: str) -> bool:
    if rel in _AUX or is_record_file(rel):  # is_record_file: annotations/, frames/ files
        return True
    base = rel[len(LOG) + 1 :] if rel.startswith(LOG + "/") else ""
    return (
        base.endswith(".checkpoint.parquet") and base.split(".", 1)[0].isdigit() and "/" not in base
    )


class FolderSink:
    """The copy at ``path`` (a folder or ``s3://``); used by the sender and by the receiver."""

    def __init__(self, path: Any, storage_options: dict[str, Any] | None = None,
                 *, fsync: bool = True) -> None:  # fmt: skip
        self.fs = StoreFS.from_uri(path, storage_options, fsync=fsync)
        local = self.fs.root if self.fs.is_local else local_cache_dir(self.fs.uri)
        self._tmp = os.path.join(local, "tmp", "replicate")
        shutil.rmtree(self._tmp, ignore_errors=True)  # leftovers of a killed copy
        os.makedirs(self._tmp, exist_ok=True)
        self._newest: tuple[int, str | None] | None = None

    # ------------------------------------------------------------------ state
    def bind(self, table_id: str) -> None:
        """Mark the folder as a copy of table ``table_id`` (refuse a copy of another table)."""
        try:
            doc = json.loads(self.fs.read_bytes(MARKER))
        except FileNotFoundError:
            doc = None
        except ValueError as exc:
            raise CorruptDataError(f"{self.fs.uri_of(MARKER)} is not JSON ({exc})") from exc
        if doc is None:
            if self.fs.list(LOG) or self.fs.exists("tags.json"):
                raise StoreError(
                    f"{self.fs.uri} already holds a store that is not a replica; replicate "
                    "into an empty folder (a copy is made only from the start)"
                )
            doc = {"replica_of": table_id, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime())}  # fmt: skip
            self.fs.write_bytes(MARKER, json.dumps(doc).encode())
        elif doc.get("replica_of") != table_id:
            raise StoreError(
                f"{self.fs.uri} is a replica of table {doc.get('replica_of')}, not of {table_id}; "
                "give each source its own destination"
            )

    def newest(self) -> tuple[int, str | None]:
        """The copy's newest complete version and its commit's SHA-256 (-1, None: empty)."""
        if self._newest is None:
            versions = []
            for name in self.fs.list(LOG):
                base = name.rsplit("/", 1)[-1]
                if base.endswith(".json") and base[:-5].isdigit() and len(base) == 25:
                    versions.append(int(base[:-5]))
            if not versions:
                self._newest = (-1, None)
            else:
                v = max(versions)
                data = self.fs.read_bytes(f"points/{log_name(v)}")
                self._newest = (v, hashlib.sha256(data).hexdigest())
        return self._newest

    # ------------------------------------------------------------------ writes
    def has_file(self, rel: str, size: int) -> bool:
        """True when ``points/<rel>`` is already in place with ``size`` bytes (renamed only after
        its hash was checked, so a file in place is whole)."""
        try:
            return self.fs.size(f"points/{rel}") == size
        except FileNotFoundError:
            return False

    def put_file(self, rel: str, size: int, sha256: str | None, chunks: Iterable[bytes]) -> int:
        """Write ``points/<rel>`` from ``chunks``: temp file, size and SHA-256 check, rename."""
        why = bad_path(rel)
        if why is not None or not rel.endswith(".parquet"):
            raise CorruptDataError(f"refusing data file path {rel!r} ({why or 'not a .parquet'})")
        tmp = os.path.join(self._tmp, f"{uuid.uuid4().hex}.part")
        h = hashlib.sha256()
        n = 0
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    h.update(chunk)
                    n += len(chunk)
                    f.write(chunk)
                f.flush()
            if n != size or (sha256 is not None and h.hexdigest() != sha256):
                raise CorruptDataError(
                    f"data file {rel} arrived with {n} bytes, SHA-256 {h.hexdigest()[:16]}…; the "
                    f"commit records {size} bytes, {str(sha256)[:16]}…; it was not stored"
                )
            self.fs.publish(tmp, f"points/{rel}")
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot write {self.fs.uri_of('points/' + rel)}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return n

    def put_aux(self, rel: str, data: bytes) -> None:
        """A checkpoint, ``_last_checkpoint``, the head record, ``tags.json``, the asset model
        ``assets.json`` or an annotation or frame file (``annotations/…``, ``frames/…``)."""
        if not _aux_allowed(rel):
            raise CorruptDataError(
                f"refusing to write {rel!r}: not a replicated log or catalog file"
            )
        if is_record_file(rel):  # checked before it lands: header, count and CRC32
            decode_records(rel.split("/", 1)[0], data, f"{rel} as received")
        elif rel == ASSETS_FILE:  # checked before it lands: JSON, recorded SHA-256, definitions
            decode_model(data, f"{rel} as received")
        try:
            self.fs.write_bytes(rel, data)
        except OSError as exc:
            raise StoreError(f"cannot write {self.fs.uri_of(rel)}: {exc}") from exc

    def commit(self, version: int, data: bytes) -> None:
        """Write commit ``version`` after checking it against the copy (see the module doc)."""
        newest, sha = self.newest()
        if version != newest + 1:
            raise CorruptDataError(
                f"commit {version} does not follow the copy's newest version {newest}"
            )
        c = parse_commit(version, data)
        why = check_commit(c)
        rec = c.record
        if why is None and rec is not None and sha is not None and rec["prev"] != sha:
            why = f"its chain record does not link to the copy's commit {newest}"
        if why is None:
            for a in c.adds:
                rel = str(a.get("path"))
                if bad_path(rel) is not None or not self.has_file(rel, int(a.get("size", -1))):
                    why = f"its file {rel} is not in the copy with {a.get('size')} bytes"
                    break
        if why is not None:
            raise CorruptDataError(f"refusing commit {version}: {why}")
        try:
            self.fs.write_bytes(f"points/{log_name(version)}", data)
        except OSError as exc:
            raise StoreError(f"cannot write commit {version} to {self.fs.uri}: {exc}") from exc
        self._newest = (version, c.sha256)

    def seed(self, version: int, data: bytes, checkpoint: bytes) -> None:
        """Start an empty copy at checkpoint ``version`` (the source's older log was cleaned
        up): its checkpoint, then its commit, once every file of its manifest is in place."""
        if self.newest()[0] != -1:
            raise CorruptDataError(f"refusing to seed at version {version}: the copy is not empty")
        c = parse_commit(version, data)
        rec = c.record
        manifest = (rec or {}).get("manifest")
        why = check_commit(c) if manifest is not None else "it carries no manifest of live files"
        for rel, (size, _) in sorted((manifest or {}).items()):
            if why is None and (bad_path(rel) is not None or not self.has_file(rel, int(size))):
                why = f"its live file {rel} is not in the copy with {size} bytes"
        if why is not None:
            raise CorruptDataError(f"refusing to seed at commit {version}: {why}")
        self.put_aux(f"{LOG}/{version:020d}.checkpoint.parquet", checkpoint)
        try:
            self.fs.write_bytes(f"points/{log_name(version)}", data)
        except OSError as exc:
            raise StoreError(f"cannot write commit {version} to {self.fs.uri}: {exc}") from exc
        self._newest = (version, c.sha256)

    def delete(self, rel: str) -> bool:
        """``--follow-deletes``: remove ``points/<rel>`` when the copy's newest version no
        longer names it (a live file is never deleted). True when something was deleted."""
        from deltalake import DeltaTable

        if bad_path(rel) is not None or not rel.endswith(".parquet"):
            raise CorruptDataError(f"refusing to delete {rel!r}: not a data file path")
        if not self.fs.exists(f"points/{rel}"):
            return False
        dt = DeltaTable(self.fs.uri_of("points"), storage_options=self.fs.delta_storage_options())
        live = set(arrow.table(dt.get_add_actions(flatten=True)).column("path").to_pylist())
        if rel in live:
            raise CorruptDataError(f"refusing to delete {rel}: the copy's newest version reads it")
        self.fs.delete(f"points/{rel}")
        return True

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
