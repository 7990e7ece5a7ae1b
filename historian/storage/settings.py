"""What a store was opened with: where its parts live and how it writes (one frozen value).

:class:`StoreSettings` is the store's shared, read-only state: every job module (flushing,
maintenance, reading, opening) reads its paths and tuning from ``store.settings`` instead of a
field each on the store. :func:`locate` turns the path given to ``historian.open`` into the
store's shared files (:class:`~historian.storage.fs.StoreFS` for ``s3://``) and its local
folder (the write-ahead log and temporary files always live on local disk).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from historian.errors import InvalidArgumentError, StoreError
from historian.storage.files import WriterOptions
from historian.storage.fs import StoreFS, is_remote, local_cache_dir
from historian.storage.perms import make_dirs

__all__ = ["Located", "StoreSettings", "locate"]


@dataclass(frozen=True)
class StoreSettings:
    """The paths and options of one open store (see :class:`~historian.storage.store.Store`
    for what each option does).

    Examples
    --------
    >>> import historian, tempfile
    >>> from historian.testing import engine
    >>> with historian.open(tempfile.mkdtemp(), part_rows=1000) as h:
    ...     engine(h).settings.part_rows
    1000
    """

    table_dir: str  #: the Delta table (``points/``), a local path or an ``s3://`` URI
    wal_dir: str  #: write-ahead log segments (local disk)
    tmp_dir: str  #: files being written (local disk)
    options: WriterOptions  #: how data files are written (row groups, fsync)
    flush_points: int = 1_000_000
    flush_ns: int = 60 * 10**9
    bulk_points: int = 250_000
    fsync: bool = True
    history_ns: int = 7 * 86_400 * 10**9
    auto_compact_files: int = 8
    compact_rows: int = 1_000_000
    part_rows: int = 2_000_000
    write_threads: int = 2
    read_threads: int = 2
    grace_hours: float = 0
    background: bool = True  #: flushes and compactions on the store's thread, never in write()

    def __post_init__(self) -> None:
        g = self.grace_hours
        if isinstance(g, bool) or not isinstance(g, int | float) or not 0 <= g < float("inf"):
            raise InvalidArgumentError(
                f"grace_hours must be a number of hours >= 0 (0: replaced files go as soon as "
                f"no read holds them), not {g!r}"
            )


@dataclass(frozen=True)
class Located:
    """Where a store lives: ``path`` (absolute folder or ``s3://`` URI), ``fs`` (its shared
    files: the folder itself or the bucket prefix), ``local`` (the local folder of the WAL and
    temp files), ``table_dir`` and ``created`` (this open made the folder)."""

    path: str
    fs: StoreFS
    local: str
    table_dir: str
    created: bool


def locate(
    path: str | os.PathLike[str],
    mode: str,
    storage_options: dict[str, Any] | None,
    local_dir: str | os.PathLike[str] | None,
    fsync: bool,
) -> Located:
    """Find (or, unless ``mode == "r"``, create) the store at ``path``."""
    if is_remote(path):
        fs = StoreFS.from_uri(path, storage_options, fsync=fsync)
        if mode == "r" and not (fs.exists("tags.json") or fs.list("points/_delta_log")):
            raise StoreError(f"no store at {fs.uri!r} (mode='r' does not create one)")
        # The write-ahead log and temp files stay on local disk.
        local = (os.path.abspath(os.fspath(local_dir)) if local_dir is not None
                 else local_cache_dir(fs.uri))  # fmt: skip
        return Located(fs.uri, fs, local, fs.uri_of("points"), created=False)
    if storage_options:
        raise InvalidArgumentError("storage_options apply to s3:// stores only")
    # "~/plant.hist" means the home folder, as in the CLI and the collector config
    where = os.path.abspath(os.path.expanduser(os.fspath(path)))
    created = False
    if not os.path.isdir(where):
        if mode == "r":
            raise StoreError(
                f"no store at {where!r}: the folder does not exist (check the path; "
                "mode='r' does not create one)"
            )
        created = True
        try:
            make_dirs(where)  # owner and group only (0o750), whatever the umask
        except OSError as exc:
            raise StoreError(
                f"cannot create the store folder {where!r} ({exc.strerror or exc})"
            ) from exc
    return Located(
        where, StoreFS.from_uri(where, fsync=fsync), where, os.path.join(where, "points"), created
    )
