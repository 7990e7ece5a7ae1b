"""File and folder permissions of a local store: owner and group only, whatever the umask.

Every folder the store creates gets :data:`DIR_MODE` (``0o750``) and every file it creates
:data:`FILE_MODE` (``0o640``), set with ``chmod`` after creation so that a permissive umask
(``0o000``) cannot make points world-readable. Files written by delta-rs (the commit log) follow
the umask, but sit inside ``0o750`` folders, so other users cannot reach them either.

Examples
--------
>>> import os, stat, tempfile
>>> d = make_dirs(os.path.join(tempfile.mkdtemp(), "a", "b"))
>>> oct(stat.S_IMODE(os.stat(d).st_mode))
'0o750'
"""

from __future__ import annotations

import os

FILE_MODE = 0o640
DIR_MODE = 0o750


def make_dirs(path: str) -> str:
    """Create ``path`` and missing parents with :data:`DIR_MODE`; returns ``path``.

    Only folders created by this call are chmod-ed (an existing folder keeps its mode).
    """
    missing = []
    p = os.path.abspath(path)
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    for d in missing:
        os.chmod(d, DIR_MODE)
    return path


def create_file(path: str, flags: int = os.O_WRONLY) -> int:
    """Create a new file (never an existing one, never through a symlink); returns the fd."""
    fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd
