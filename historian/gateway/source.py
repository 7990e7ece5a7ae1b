"""Read an OT store's committed state for replication: commit JSONs, data files, the catalog."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from historian.errors import StoreError
from historian.storage.chain import HEAD_REL, parse_commit
from historian.storage.fs import StoreFS
from historian.storage.pins import Held, ReadPins
from historian.storage.records import KINDS, is_record_file
from historian.storage.table import log_name

LOG = "points/_delta_log"
CATALOG_FILES = ("tags.json", "assets.json")  # replaced whole: shipped when they change


@dataclass(frozen=True)
class FileRef:
    """A data file a commit adds: path relative to ``points/``, size and SHA-256 (or None)."""

    path: str
    size: int
    sha256: str | None


@dataclass(frozen=True)
class Version:
    """One committed version of the source: the commit's bytes and what it adds and removes."""

    version: int
    data: bytes
    sha256: str
    adds: list[FileRef]
    removes: list[str]


class SourceStore:
    """The committed, read-only view of a store the replicator ships (a folder or ``s3://``)."""

    def __init__(self, path: Any, storage_options: dict[str, Any] | None = None) -> None:
        self.fs = StoreFS.from_uri(path, storage_options)
        if not self.fs.list(LOG):
            raise StoreError(f"{self.fs.uri} holds no historian table (no {LOG}): nothing to ship")
        self._hold: contextlib.ExitStack | None = None
        self._held: Held | None = None

    def hold_after(self, version: int) -> None:
        """Pin the files of the versions after ``version`` (those still to ship) against the
        source's vacuum while this shipper lives (:mod:`historian.storage.pins`); a version
        already gone before the pin is reported by :meth:`exists`."""
        if self._held is None:
            self._hold = contextlib.ExitStack()
            self._held = self._hold.enter_context(ReadPins.of(self.fs).hold(publish=True))
        self._held.set(max(version, 0))

    def release(self) -> None:
        """Drop the pin of :meth:`hold_after` (the shipper stops)."""
        if self._hold is not None:
            self._hold.close()
            self._hold = self._held = None
            ReadPins.of(self.fs).close()

    def versions(self) -> list[int]:
        """Commit versions present in the log, ascending."""
        out = []
        for name in self.fs.list(LOG):
            base = name.rsplit("/", 1)[-1]
            if base.endswith(".json") and base[:-5].isdigit() and len(base) == 25:
                out.append(int(base[:-5]))
        return sorted(out)

    def table_id(self) -> str:
        """The Delta table id (``metaData.id``): a copy follows one source only."""
        from deltalake import DeltaTable

        so = self.fs.delta_storage_options()
        return str(DeltaTable(self.fs.uri_of("points"), storage_options=so).metadata().id)

    def version(self, v: int) -> Version:
        """Commit ``v`` parsed (its chain record gives each added file's SHA-256)."""
        data = self.fs.read_bytes(f"points/{log_name(v)}")
        c = parse_commit(v, data)
        shas: dict[str, str] = {}
        rec = c.record
        if rec is not None:
            shas = {str(a[0]): str(a[2]) for a in rec["adds"]}
        adds = [FileRef(str(a["path"]), int(a["size"]), shas.get(str(a["path"]))) for a in c.adds]
        return Version(v, data, c.sha256, adds, list(c.removes))

    def seed(self, v: int) -> tuple[list[FileRef], bytes]:
        """A copy's starting point when the log before ``v`` was cleaned up: the files live at
        checkpoint version ``v`` (hashes from the manifest of its chain record) and the
        checkpoint's bytes."""
        cp = f"{LOG}/{v:020d}.checkpoint.parquet"
        if not self.fs.exists(cp):
            raise StoreError(
                f"the source's oldest commit {v} has no checkpoint: a copy cannot start there"
            )
        rec = parse_commit(v, self.fs.read_bytes(f"points/{log_name(v)}")).record
        manifest = (rec or {}).get("manifest") or {}
        files = [FileRef(str(p), int(sz), h) for p, (sz, h) in sorted(manifest.items())]
        if rec is None or (not files and "manifest" not in rec):
            raise StoreError(f"commit {v} carries no manifest of live files: cannot seed a copy")
        return files, self.fs.read_bytes(cp)

    def open_file(self, rel: str) -> Iterator[bytes]:
        """The bytes of ``points/<rel>`` in chunks."""
        with self.fs.filesystem.open_input_stream(self.fs.path(f"points/{rel}")) as f:
            while chunk := f.read(1 << 20):
                yield chunk

    def exists(self, rel: str) -> bool:
        return self.fs.exists(f"points/{rel}")

    def aux_for(self, v: int) -> list[tuple[str, bytes]]:
        """Files that belong with version ``v`` besides its commit: its checkpoint."""
        out: list[tuple[str, bytes]] = []
        cp = f"{LOG}/{v:020d}.checkpoint.parquet"
        if self.fs.exists(cp):
            out.append((cp, self.fs.read_bytes(cp)))
            last = f"{LOG}/_last_checkpoint"
            if self.fs.exists(last):
                doc = self.fs.read_bytes(last)
                try:
                    if json.loads(doc).get("version") == v:
                        out.append((last, doc))
                except ValueError:
                    pass
        return out

    def head_for(self, v: int, sha: str) -> bytes:
        """The head record for version ``v``: the source's own when it names ``v`` (signed), else
        an unsigned one built from the commit's SHA-256."""
        try:
            doc = self.fs.read_bytes(f"points/{HEAD_REL}")
            if json.loads(doc).get("version") == v:
                return doc
        except (FileNotFoundError, ValueError):
            pass
        return json.dumps({"version": v, "sha256": sha}).encode()

    def record_files(self) -> list[tuple[str, int]]:
        """The annotation and frame files (``annotations/``, ``frames/``) with their sizes:
        immutable, so a copy needs each one once."""
        out = []
        for kind in KINDS:
            for rel in self.fs.list(kind):
                if is_record_file(rel):
                    out.append((rel, self.fs.size(rel)))
        return out

    def read_record_file(self, rel: str) -> bytes:
        """The bytes of a file of :meth:`record_files`."""
        if not is_record_file(rel):
            raise StoreError(f"{rel!r} is not an annotation or frame file")
        return self.fs.read_bytes(rel)

    def catalog(self) -> bytes | None:
        """The tag catalog ``tags.json`` (None when the store has none yet)."""
        try:
            return self.fs.read_bytes("tags.json")
        except FileNotFoundError:
            return None

    def catalog_files(self) -> list[tuple[str, bytes]]:
        """The catalogs a copy carries, each replaced whole: the tag catalog ``tags.json`` and
        the asset model ``assets.json``, those the store has."""
        out = []
        for rel in CATALOG_FILES:
            with contextlib.suppress(FileNotFoundError):
                out.append((rel, self.fs.read_bytes(rel)))
        return out
