"""The writer lock: one writer process per store, freed by the kernel when the holder dies."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os

from historian.errors import StoreError, StoreLockedError
from historian.storage.perms import FILE_MODE


class WriterLock:
    """An exclusive, non-blocking ``flock`` on ``<store>/writer.lock``.

    Examples
    --------
    >>> import tempfile
    >>> lock = WriterLock(tempfile.mkdtemp())
    >>> lock.acquire(); lock.held
    True
    >>> lock.release()
    """

    def __init__(self, store_dir: str) -> None:
        self.path = os.path.join(store_dir, "writer.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            # Never through a symlink: another user could point it at a file of ours.
            fd = os.open(
                self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
            )
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StoreError(
                    f"{self.path} is a symbolic link; the writer lock is never opened through "
                    "one. Remove the link (and check who created it), then open the store again"
                ) from exc
            raise StoreError(
                f"cannot open the writer lock {self.path} ({exc.strerror or exc}); check the "
                "store folder's permissions"
            ) from exc
        with contextlib.suppress(OSError):  # another owner's lock in a shared group folder:
            os.fchmod(fd, FILE_MODE)  # its mode is theirs
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            if holder == f"pid {os.getpid()}":  # a notebook cell that opens the store, run twice
                raise StoreLockedError(
                    f"the store {os.path.dirname(self.path)!r} is already being written by this "
                    f"process ({holder}): another Historian object of it is still open here (a "
                    "notebook cell run twice?). Close the earlier one with h.close(), or reuse "
                    "it; open with historian.open(path, mode='r') to only read."
                ) from None
            raise StoreLockedError(
                f"the store {os.path.dirname(self.path)!r} is being written by another process "
                f"({holder}); only one writer at a time. Open it read-only with "
                "historian.open(path, mode='r') to read while it is written, "
                "or stop the other writer."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown pid"
    except OSError:
        return "unknown pid"
