"""Bearer tokens of the read service: made once, stored hashed, each with a read scope.

A token is ``hist_`` followed by 43 URL-safe characters (32 random bytes from :mod:`secrets`).
It is shown once, by :meth:`TokenFile.add`; the store keeps only a per-token random salt and
``sha256(salt + token)``, in ``STORE/_gateway/tokens.json`` (mode 0600, in a 0700 folder, opened
without following symlinks, replaced atomically). A presented token is checked against every
entry with :func:`hmac.compare_digest` (constant time); 256 random bits make a salted SHA-256
as strong as a slow hash here (there is no password to guess).

Read scope: each token has tag patterns in :func:`fnmatch.fnmatchcase` syntax (``*`` any run,
``?`` one character, ``[AB]`` a set; case-sensitive). A tag is visible to the token when its name
matches at least one pattern; ``*`` sees every tag. The read service applies the scope to the
snapshot before the user's SQL runs (``points``, ``points_all`` and ``tags`` hold only visible
tags). A revoked token stays in the file, marked, so ``token list`` shows when it was revoked.

Examples
--------
>>> import tempfile
>>> from historian.gateway.tokens import TokenFile
>>> tokens = TokenFile(tempfile.mkdtemp())
>>> secret = tokens.add("grafana", ["TIC-*"])
>>> entry = tokens.check(secret)
>>> entry.name, entry.allows("TIC-101.PV"), entry.allows("FIC-200.PV")
('grafana', True, False)
>>> tokens.check("hist_wrong") is None
True
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import errno
import fcntl
import fnmatch
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from historian.errors import InvalidArgumentError, StoreError

__all__ = ["GATEWAY_DIR", "Token", "TokenFile", "open_private", "private_dir"]

log = logging.getLogger(__name__)

#: Folder of the read service's files inside a store (tokens, audit log).
GATEWAY_DIR = "_gateway"
_FILE = "tokens.json"
_LOCK = "tokens.lock"
_PREFIX = "hist_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_MAX_PATTERNS = 256


def private_dir(store: str | os.PathLike[str]) -> str:
    """``STORE/_gateway``, created 0700; refused when it is a symlink or open to others."""
    folder = os.path.join(os.fspath(store), GATEWAY_DIR)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(
            f"cannot create {folder!r}: {exc.strerror} (is the store writable?)"
        ) from exc
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{folder!r} is not a plain folder (a symlink?): remove it and retry")
    if st.st_mode & 0o077:
        raise StoreError(f"{folder!r} is open to other users: chmod 700 {folder}")
    return folder


def open_private(path: str, flags: int) -> int:
    """``os.open`` without following a symlink, creating the file 0600; refuses a shared file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(
                f"{path!r} is a symlink: remove it (the gateway files are never read through links)"
            ) from exc
        raise StoreError(f"cannot open {path!r}: {exc.strerror}") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
        os.close(fd)
        raise StoreError(f"{path!r} is not a private regular file: chmod 600 {path}")
    return fd


def _hash(salt: bytes, token: str) -> bytes:
    return hashlib.sha256(salt + token.encode("utf-8")).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Token:
    """One token entry as stored (never the token itself).

    Examples
    --------
    >>> Token("it", ("TIC-*", "FIC-1??.PV")).allows("FIC-101.PV")
    True
    """

    name: str
    tags: tuple[str, ...]
    created: str = ""
    revoked: str | None = None
    salt: bytes = field(default=b"", repr=False)
    digest: bytes = field(default=b"", repr=False)

    def allows(self, tag: str) -> bool:
        """True when ``tag`` matches one of the token's patterns (fnmatch, case-sensitive)."""
        return any(fnmatch.fnmatchcase(tag, pattern) for pattern in self.tags)

    def as_dict(self) -> dict[str, Any]:
        """The entry as shown by ``historian token list`` (no salt, no hash)."""
        return {
            "name": self.name,
            "tags": list(self.tags),
            "created": self.created,
            "revoked": self.revoked,
        }


class TokenFile:
    """The tokens of one store (``STORE/_gateway/tokens.json``); see the module docstring."""

    def __init__(self, store: str | os.PathLike[str]):
        self._store = os.fspath(store)

    @property
    def path(self) -> str:
        """Where the tokens are kept."""
        return os.path.join(self._store, GATEWAY_DIR, _FILE)

    # ------------------------------------------------------------------ reading
    def load(self) -> list[Token]:
        """Every entry, revoked ones included (an empty list before the first ``add``)."""
        folder = os.path.join(self._store, GATEWAY_DIR)
        if not os.path.lexists(os.path.join(folder, _FILE)):
            return []
        private_dir(self._store)
        fd = open_private(self.path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            raw = f.read()
        try:
            doc = json.loads(raw)
            return [
                Token(
                    e["name"],
                    tuple(e["tags"]),
                    e.get("created", ""),
                    e.get("revoked"),
                    base64.b64decode(e["salt"]),
                    base64.b64decode(e["hash"]),
                )
                for e in doc["tokens"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{self.path!r} is not a valid tokens file ({exc}); restore it from a backup or "
                "remove it and add the tokens again"
            ) from exc

    def check(self, presented: str | None) -> Token | None:
        """The live entry whose hash matches ``presented``; None for a wrong or revoked token.

        Every entry is compared (constant time each), so the time taken does not tell which
        entry came close.
        """
        if not presented or len(presented) > 512:
            return None
        found = None
        for entry in self.load():
            if hmac.compare_digest(_hash(entry.salt, presented), entry.digest):
                found = entry
        if found is None or found.revoked is not None:
            return None
        return found

    def find(self, presented: str | None) -> Token | None:
        """The entry matching ``presented`` even when revoked (to name it in the audit log)."""
        if not presented or len(presented) > 512:
            return None
        found = None
        for entry in self.load():
            if hmac.compare_digest(_hash(entry.salt, presented), entry.digest):
                found = entry
        return found

    # ------------------------------------------------------------------ writing
    def add(self, name: str, tags: Sequence[str]) -> str:
        """Make a token named ``name`` with read scope ``tags``; returns it (shown only now)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidArgumentError(
                f"token name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-' "
                "(starting with a letter or digit)"
            )
        patterns = [tags] if isinstance(tags, str) else list(tags)
        if (
            not patterns
            or len(patterns) > _MAX_PATTERNS
            or not all(isinstance(p, str) and p and "\x00" not in p for p in patterns)
        ):
            raise InvalidArgumentError(
                "a token needs 1 to 256 non-empty tag patterns, e.g. --tags 'TIC-*' 'FIC-1*' "
                "(fnmatch syntax; '*' for every tag)"
            )
        token = _PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        with self._locked() as entries:
            if any(e["name"] == name for e in entries):
                raise InvalidArgumentError(
                    f"a token named {name!r} exists: revoke it (historian token revoke) and add "
                    "one with another name, or pick another name"
                )
            entries.append(
                {
                    "name": name,
                    "tags": patterns,
                    "created": _now(),
                    "revoked": None,
                    "salt": _b64(salt),
                    "hash": _b64(_hash(salt, token)),
                }
            )
        log.info("token %r added with scope %s", name, patterns)
        return token

    def revoke(self, name: str) -> Token:
        """Mark the token ``name`` revoked (refused from the next request on); returns it."""
        with self._locked() as entries:
            for e in entries:
                if e["name"] == name and e.get("revoked") is None:
                    e["revoked"] = _now()
                    log.info("token %r revoked", name)
                    return Token(e["name"], tuple(e["tags"]), e["created"], e["revoked"])
        raise InvalidArgumentError(
            f"no live token named {name!r}: `historian token list STORE` shows the tokens"
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[dict[str, Any]]]:
        """The entries as dicts, under the tokens lock; written back atomically on success."""
        folder = private_dir(self._store)
        lock_fd = open_private(os.path.join(folder, _LOCK), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            entries = [
                {**t.as_dict(), "salt": _b64(t.salt), "hash": _b64(t.digest)} for t in self.load()
            ]
            yield entries
            self._write(folder, entries)
        finally:
            os.close(lock_fd)

    def _write(self, folder: str, entries: list[dict[str, Any]]) -> None:
        tmp = os.path.join(folder, f".{_FILE}.{secrets.token_hex(6)}.tmp")
        data = json.dumps({"version": 1, "tokens": entries}, indent=1).encode("utf-8")
        try:
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StoreError(f"cannot write {self.path!r}: {exc.strerror}") from exc


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
