"""The snapshot versions reads hold, in this process and in others: vacuum leaves their files.

A read takes one snapshot (a commit version ``v``) and reads the files it lists. Those files
may be replaced by a compaction right after; vacuum may delete a replaced file only once no
read of *any* process still holds a version older than the commit that replaced it (a file
removed by commit ``w`` is in every snapshot ``v < w`` and in none ``v >= w``). So:

- **In this process** a read registers itself (:meth:`ReadPins.hold`) *before* it takes its
  snapshot (holding everything until it names its version), and vacuum reads the registry
  directly: no window in which a just-taken snapshot is unprotected.
- **Other processes** see a process's holds through one small file per process and store,
  ``readers/<token>.pin`` next to the data: ``{"version": v, "host", "pid", "start",
  "expires"}`` (``version`` ``null`` when no read runs). A reader publishes a version *before*
  it takes its snapshot — the last version it saw (versions only grow, so it is no newer than
  the snapshot to come), or ``-1`` (everything) on its first read — and narrows it to the
  snapshot's version once taken (:func:`historian.storage.reader.snapshot_and_pending`). A
  vacuum that did not see the pin had read the log before it was published, so before the
  snapshot was taken: it deletes only files replaced at or before a version the snapshot is
  at least as new as, none of which the snapshot lists.
- A pin file counts while its process lives: same host and a running process of that pid and
  start time, or, seen from another host (a shared folder, S3), until ``expires`` (the holder
  refreshes it during long reads: :data:`PIN_TTL_S`). Files of dead readers are removed by the
  next vacuum; an unreadable pin file holds everything until it is :data:`PIN_TTL_S` old.
- A reader that cannot write its pin file (a read-only mount of the store) logs it once and
  reads without one: it is then covered only by ``grace_hours``.

Examples
--------
>>> import tempfile
>>> from historian.storage.fs import StoreFS
>>> fs = StoreFS.from_uri(tempfile.mkdtemp())
>>> pins = ReadPins.of(fs)
>>> pins.oldest() is None            # no read runs: nothing held
True
>>> with pins.hold() as held:
...     before = pins.oldest()       # registered, version not known yet: holds everything
...     held.set(7)
...     after = pins.oldest()
>>> before, after, pins.oldest() is None
(-1, 7, True)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time as _time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from historian.storage.fs import StoreFS

__all__ = ["HOLDS_ALL", "PIN_DIR", "PIN_TTL_S", "Held", "ReadPins"]

log = logging.getLogger(__name__)

PIN_DIR = "readers"
PIN_TTL_S = 600.0  #: how long a pin counts when its holder cannot be checked (another host)
HOLDS_ALL = -1  #: a hold whose snapshot is not taken yet: every retired file is still needed
_PIN_BYTES = 256  # fixed size: a rewrite is one pwrite of the same length, never a torn tail

_HOST = socket.gethostname()
_REGISTRY: dict[str, ReadPins] = {}
_REGISTRY_LOCK = threading.Lock()


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 of proc(5): starttime


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return start is None or _start_ticks(pid) in (None, start)


class Held:
    """One read's hold; :meth:`set` names the snapshot version it reads."""

    def __init__(self, pins: ReadPins, publish: bool) -> None:
        self._pins = pins
        self._publish = publish
        self.version = HOLDS_ALL

    def set(self, version: int) -> None:
        """Hold ``version`` (the snapshot just taken) instead of everything."""
        self._pins._move(self, int(version))

    def refresh(self) -> None:
        """Keep the published pin valid for readers on other hosts (long reads call this)."""
        if self._publish:
            self._pins._publish_if_stale()


class ReadPins:
    """The holds of this process on one store, and the holds every process published.

    One instance per store and process (:meth:`of`), shared by the writer and by read-only
    handles of the same store in this process.
    """

    def __init__(self, fs: StoreFS) -> None:
        self.fs = fs
        self._lock = threading.Lock()
        self._local: Counter[int] = Counter()  # version -> holds of this process
        self._shown: Counter[int] = Counter()  # the same, of holds other processes must see
        self._new_file()

    def _new_file(self) -> None:
        self._pid = os.getpid()
        self._start = _start_ticks(self._pid)
        self._rel = f"{PIN_DIR}/{uuid.uuid4().hex}.pin"
        self._fd: int | None = None
        self._published: tuple[int | None, float] | None = None  # (version, expires) on disk
        self._cannot_publish = False

    @classmethod
    def of(cls, fs: StoreFS) -> ReadPins:
        """The process-wide pins of the store at ``fs``."""
        with _REGISTRY_LOCK:
            pins = _REGISTRY.get(fs.uri)
            if pins is None:
                pins = _REGISTRY[fs.uri] = cls(fs)
            return pins

    # ------------------------------------------------------------------ holding
    @contextlib.contextmanager
    def hold(self, *, publish: bool = False) -> Iterator[Held]:
        """Register a read for the ``with`` block; ``publish`` shows it to other processes
        (reads of a process that is not the store's writer)."""
        held = Held(self, publish)
        with self._lock:
            self._local[HOLDS_ALL] += 1
            if publish:
                self._shown[HOLDS_ALL] += 1
        try:
            yield held
        finally:
            with self._lock:
                self._drop(held.version, publish)
                if publish:
                    self._write_locked()

    def _move(self, held: Held, version: int) -> None:
        with self._lock:
            self._drop(held.version, held._publish)
            held.version = version
            self._local[version] += 1
            if held._publish:
                self._shown[version] += 1
                self._write_locked()

    def _drop(self, version: int, publish: bool) -> None:
        for counts, applies in ((self._local, True), (self._shown, publish)):
            if applies:
                counts[version] -= 1
                if counts[version] <= 0:
                    del counts[version]

    # ------------------------------------------------------------------ the pin file
    def _publish_if_stale(self) -> None:
        with self._lock:
            if self._published is not None and self._published[1] - _time.time() < PIN_TTL_S / 2:
                self._published = None  # rewrite with a new expiry
            self._write_locked()

    def _write_locked(self) -> None:
        """Show the oldest version this process's published holds read (``None``: none)."""
        shown: int | None = min(self._shown) if self._shown else None
        if self._pid != os.getpid():  # a forked child: its own file, not its parent's
            if self._fd is not None:
                os.close(self._fd)  # the child's copy; the parent's stays open
            self._new_file()
        if self._cannot_publish or (self._published is not None and self._published[0] == shown):
            return
        expires = _time.time() + PIN_TTL_S
        record = {"version": shown, "host": _HOST, "pid": os.getpid(),
                  "start": self._start, "expires": round(expires, 1)}  # fmt: skip
        data = json.dumps(record, separators=(",", ":")).encode().ljust(_PIN_BYTES)
        try:
            if self.fs.is_local:
                if self._fd is None:
                    from historian.storage.perms import create_file, make_dirs

                    make_dirs(self.fs.path(PIN_DIR))
                    self._fd = create_file(self.fs.path(self._rel), os.O_WRONLY)
                os.pwrite(self._fd, data, 0)
            else:
                self.fs.write_bytes(self._rel, data)
        except OSError as exc:
            self._cannot_publish = True
            log.warning(
                "cannot write the read pin %s (%s): reads of this process are protected from "
                "vacuum only by the writer's grace_hours",
                self.fs.uri_of(self._rel), exc,
            )  # fmt: skip
            return
        self._published = (shown, expires)

    # ------------------------------------------------------------------ what vacuum asks
    def oldest(self) -> int | None:
        """The oldest version any live read holds (:data:`HOLDS_ALL` while one takes its
        snapshot), in this process or published by another; ``None`` when none is held.
        Pin files of readers that are gone are removed on the way."""
        with self._lock:
            held = [min(self._local)] if self._local else []
        for rel in self.fs.list(PIN_DIR):
            if rel == self._rel or not rel.endswith(".pin"):
                continue
            version = self._pin_version(rel)
            if version is not None:
                held.append(version)
        return min(held) if held else None

    def _pin_version(self, rel: str) -> int | None:
        """The version pin file ``rel`` holds, ``None`` if none (removing a dead reader's)."""
        try:
            raw = self.fs.read_bytes(rel)
        except (FileNotFoundError, OSError):
            return None  # its reader closed meanwhile
        record = _parse(raw)
        if record is None:  # unreadable: holds everything, unless it is old junk
            with contextlib.suppress(OSError):
                info = self.fs.filesystem.get_file_info(self.fs.path(rel))
                if info.mtime is not None and _time.time() - info.mtime.timestamp() > PIN_TTL_S:
                    self.fs.delete(rel)
                    return None
            return HOLDS_ALL
        if record.get("host") == _HOST:
            live = _alive(int(record["pid"]), record.get("start"))
        else:
            live = float(record.get("expires") or 0) > _time.time()
        if not live:
            log.info("removing the read pin %s of a reader that is gone", rel)
            with contextlib.suppress(OSError):
                self.fs.delete(rel)
            return None
        version = record.get("version")
        return None if version is None else int(version)

    def close(self) -> None:
        """Remove this process's pin file when no read of it is shown (a handle closes)."""
        with self._lock:
            if self._shown or self._pid != os.getpid():
                return
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
            if self._published is not None or self.fs.is_local:
                with contextlib.suppress(OSError):
                    self.fs.delete(self._rel)
            self._published = None


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw.decode("utf-8").strip() or "null")
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or "pid" not in record:
        return None
    try:
        int(record["pid"])
        if record.get("version") is not None:
            int(record["version"])
    except (TypeError, ValueError):
        return None
    return record
