"""Private files of the acquisition side (spool segments, keys): never through a symlink, 0600.

``O_NOFOLLOW`` makes ``open`` fail with ``ELOOP`` when the last path component is a symlink, so
a link planted in a spool or PKI folder cannot redirect a write (or a key read) elsewhere.

Examples
--------
>>> import os, stat, tempfile
>>> d = tempfile.mkdtemp()
>>> fd = open_private(os.path.join(d, "f"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
>>> os.close(fd); oct(stat.S_IMODE(os.stat(os.path.join(d, "f")).st_mode))
'0o600'
>>> os.symlink(os.path.join(d, "f"), os.path.join(d, "link"))
>>> read_private(os.path.join(d, "link"))
Traceback (most recent call last):
...
OSError: [Errno 40] ... is a symbolic link; refusing to follow it
"""

from __future__ import annotations

import errno
import os

__all__ = ["PRIVATE_MODE", "open_private", "read_private"]

PRIVATE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open`` without following a symlink; a file it creates gets mode 0600.

    Raises ``OSError`` (``ELOOP``) with a message naming the path when it is a symlink.
    """
    try:
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC, PRIVATE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, f"{os.fspath(path)} is a symbolic link; refusing to follow "
                          "it") from exc  # fmt: skip
        raise
    if flags & os.O_CREAT:
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, PRIVATE_MODE)
        except BaseException:
            os.close(fd)
            raise
    return fd


def read_private(path: str | os.PathLike[str], limit: int = 1 << 30) -> bytes:
    """The bytes of ``path`` (at most ``limit``), refusing a symlink."""
    fd = open_private(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)
