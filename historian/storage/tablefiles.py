"""The files of the points table through one interface: a local folder or a bucket prefix.

:class:`TableFiles` is what :class:`~historian.storage.table.CommitLog` reads and checks the
table's files with: commit JSON, the head record, sizes and SHA-256 of data files, and the
check that a file about to be committed is inside the table and was not changed. All of it goes
through :class:`~historian.storage.fs.StoreFS`; where a local folder is cheaper another way
(``stat`` per file instead of one listing, ``realpath`` against symlinks) the local path is
taken inside these methods.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from typing import Any

import numpy as np
import pyarrow.fs as pafs

from historian.errors import CorruptDataError, StoreError
from historian.storage.chain import HEAD_REL, bad_path, sha256_stream
from historian.storage.files import WrittenFile
from historian.storage.fs import StoreFS

__all__ = ["TableFiles"]


class TableFiles:
    """The table folder ``table_dir`` of a store whose shared files are ``fs`` (None: a local
    folder, opened here).

    Examples
    --------
    >>> import tempfile
    >>> from historian.storage.tablefiles import TableFiles
    >>> files = TableFiles(tempfile.mkdtemp())
    >>> files.names("_delta_log"), files.exists("_delta_log/00000000000000000000.json")
    ([], False)
    """

    def __init__(
        self,
        table_dir: str,
        fs: StoreFS | None = None,
        *,
        fsync: bool = True,
        check_sizes: bool = True,
    ) -> None:
        self.dir = table_dir
        self._checked: dict[str, int] = {}  # sizes already checked against the disk
        self._check_sizes = check_sizes
        # without a store's StoreFS: the table folder on its own (repair, tests, doctests)
        self.fs = fs if fs is not None else StoreFS.from_uri(table_dir, fsync=fsync)
        self.remote = not self.fs.is_local
        rel = self.fs.rel(table_dir)
        self.prefix = rel + "/" if rel else ""

    def read_bytes(self, rel: str) -> bytes:
        """A file of the table (``rel`` relative to the table folder)."""
        return self.fs.read_bytes(self.prefix + rel)

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.fs.write_bytes(self.prefix + rel, data)

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.prefix + rel)

    def names(self, rel: str) -> list[str]:
        """The files under ``rel`` (relative to the store root), sorted."""
        return self.fs.list(self.prefix + rel)

    def delete(self, rel: str) -> None:
        self.fs.delete(self.prefix + rel)

    def info(self, rel: str) -> pafs.FileInfo:
        return self.fs.filesystem.get_file_info(self.fs.path(self.prefix + rel))

    def log_stamp(self) -> object:
        """What the log folder holds (names, sizes, times): a repair changes it."""
        sel = pafs.FileSelector(self.fs.path(self.prefix + "_delta_log"), allow_not_found=True)
        infos = self.fs.filesystem.get_file_info(sel)
        return tuple(sorted((i.path, i.size, i.mtime_ns) for i in infos))

    def sizes(self, paths: list[str]) -> dict[str, int]:
        """Sizes of data files (missing ones left out); one listing on object storage."""
        if not self.remote:  # a stat per file beats listing a large folder
            out = {}
            for p in paths:
                with contextlib.suppress(FileNotFoundError):
                    out[p] = os.stat(os.path.join(self.dir, p)).st_size
            return out
        base = self.fs.path(self.prefix.rstrip("/"))
        sel = pafs.FileSelector(base, allow_not_found=True, recursive=True)
        listed = {
            i.path[len(base) + 1 :]: int(i.size)
            for i in self.fs.filesystem.get_file_info(sel)
            if i.type == pafs.FileType.File
        }
        return {p: listed[p] for p in paths if p in listed}

    def sha256_of(self, relpath: str) -> tuple[str, int]:
        """(SHA-256, size) of a file of the table, read through."""
        with self.fs.open_input(self.prefix + relpath) as f:
            return sha256_stream(f)

    def mtime_ms(self, relpath: str) -> int:
        """The modification time of a data file for its add action (ms)."""
        if self.remote:  # the object was uploaded just now
            return int(_dt.datetime.now(_dt.UTC).timestamp() * 1000)
        return int(os.path.getmtime(os.path.join(self.dir, relpath)) * 1000)

    def check_added(self, f: WrittenFile) -> str:
        """Refuse a file outside the table, missing, or whose size changed; its SHA-256."""
        if self.remote:
            parts = f.relpath.split("/")
            outside = f.relpath.startswith("/") or ".." in parts or "://" in f.relpath
        else:  # the real path: a symlink out of the table is outside too
            full = os.path.realpath(os.path.join(self.dir, f.relpath))
            outside = os.path.isabs(f.relpath) or not full.startswith(
                os.path.realpath(self.dir) + os.sep
            )
        if outside:
            raise StoreError(
                f"refusing to commit {f.relpath!r}: not a relative path inside the table"
            )
        try:
            on_disk = self.fs.size(self.prefix + f.relpath)
        except FileNotFoundError:
            on_disk = -1
        if on_disk != f.size:
            what = "object" if self.remote else "file"
            raise CorruptDataError(
                f"refusing to commit {f.relpath!r}: {what} missing or size changed"
            )
        sha, size = self.sha256_of(f.relpath)
        if size != f.size:
            raise CorruptDataError(
                f"refusing to commit {f.relpath!r}: {size} bytes read, {f.size} written"
            )
        return sha

    def check_committed(self, version: int, paths: list[str], sizes: np.ndarray) -> None:
        """Refuse paths outside the table and files whose size differs from their commit."""
        if not self._check_sizes:
            return
        new = [(p, int(s)) for p, s in zip(paths, sizes.tolist(), strict=True)
               if self._checked.get(p) != s]  # fmt: skip
        if not new:
            return
        for p, _ in new:
            why = bad_path(p)
            if why is not None:
                raise CorruptDataError(
                    f"version {version} of the commit log of {self.dir} adds {p!r}, {why} "
                    "outside the table; refusing to read it. Run `historian verify "
                    f"{os.path.dirname(self.dir)}` to find the commit that did this."
                )
        on_disk = self.sizes([p for p, _ in new])
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

    def log_versions(self) -> list[int]:
        """The versions whose commit JSON is in ``_delta_log``, ascending."""
        out = []
        for name in self.names("_delta_log"):
            base = name.rsplit("/", 1)[-1]
            if base.endswith(".json") and base[:-5].isdigit() and len(base) == 25:
                out.append(int(base[:-5]))
        return sorted(out)

    def head_record(self) -> dict[str, Any] | None:
        """``_historian/head.json``: the newest commit as recorded outside the log (or None)."""
        try:
            doc: dict[str, Any] = json.loads(self.read_bytes(HEAD_REL))
            return doc
        except (FileNotFoundError, ValueError):
            return None
