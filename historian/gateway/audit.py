"""The read service's append-only audit log: one JSON line per request, hash-chained.

``STORE/_gateway/audit.jsonl`` (mode 0600, opened with ``O_APPEND`` and without following
symlinks) holds one JSON object per request, accepted or refused: ``time`` (UTC, ISO 8601),
``token`` (the token's *name*, or null when none matched; a token itself is never written),
``peer`` (the client address as gRPC reports it), ``method`` (the Flight RPC), ``command`` (the
Flight SQL command), ``sql`` and ``params``, ``rows``, ``ms`` (duration), ``refused`` (bool),
``reason`` and ``prev``: the SHA-256 (hex) of the previous line's bytes (64 zeros for the first
line). ``STORE/_gateway/audit.head`` holds the number of lines and the hash of the last one, so
an edited, removed, inserted *or truncated* line breaks :meth:`AuditLog.verify`.

Examples
--------
>>> import tempfile
>>> from historian.gateway.audit import AuditLog
>>> log = AuditLog(tempfile.mkdtemp())
>>> log.append({"token": "grafana", "method": "DoGet", "refused": False})
>>> [r["token"] for r in log.records()], log.verify()
(['grafana'], 1)
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from historian.errors import CorruptDataError, StoreError
from historian.gateway.tokens import GATEWAY_DIR, open_private, private_dir

__all__ = ["GENESIS", "AuditLog"]

log = logging.getLogger(__name__)

#: ``prev`` of the first line.
GENESIS = "0" * 64
_FILE = "audit.jsonl"
_HEAD = "audit.head"
_MAX_TEXT = 10_000  # characters of SQL kept per line


def _default(x: Any) -> Any:
    if isinstance(x, bytes):
        return x.hex()
    return str(x)


class AuditLog:
    """The audit log of one store; :meth:`append` is thread-safe and process-safe (flock)."""

    def __init__(self, store: str | os.PathLike[str]):
        self._store = os.fspath(store)
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        """Where the log is kept."""
        return os.path.join(self._store, GATEWAY_DIR, _FILE)

    def _head_path(self) -> str:
        return os.path.join(self._store, GATEWAY_DIR, _HEAD)

    def append(self, record: dict[str, Any]) -> None:
        """Write one line (``time`` and ``prev`` are added); durable (fsync) when it returns."""
        rec = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")}
        rec.update(record)
        if isinstance(rec.get("sql"), str) and len(rec["sql"]) > _MAX_TEXT:
            rec["sql"] = rec["sql"][:_MAX_TEXT] + f"... ({len(record['sql']):,} characters)"
        folder = private_dir(self._store)
        with self._lock:
            fd = open_private(os.path.join(folder, _FILE), os.O_RDWR | os.O_APPEND | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                count, prev = self._head()
                rec["prev"] = prev
                line = (json.dumps(rec, default=_default, sort_keys=False) + "\n").encode("utf-8")
                os.write(fd, line)
                os.fsync(fd)
                self._write_head(folder, count + 1, hashlib.sha256(line).hexdigest())
            except OSError as exc:
                raise StoreError(
                    f"cannot append to the audit log {self.path!r}: {exc.strerror}"
                ) from exc
            finally:
                os.close(fd)

    def _head(self) -> tuple[int, str]:
        if not os.path.lexists(self._head_path()):
            return 0, GENESIS
        fd = open_private(self._head_path(), os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            raw = f.read()
        try:
            doc = json.loads(raw)
            return int(doc["lines"]), str(doc["last"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptDataError(f"the audit head {self._head_path()!r} is damaged") from exc

    def _write_head(self, folder: str, count: int, last: str) -> None:
        tmp = os.path.join(folder, f".{_HEAD}.tmp")
        data = json.dumps({"lines": count, "last": last}).encode("utf-8")
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._head_path())

    def _lines(self) -> Iterator[bytes]:
        if not os.path.lexists(self.path):
            return
        fd = open_private(self.path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            yield from f

    def records(self, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """The records, oldest first (``since``: those at or after that aware datetime)."""
        out = []
        for line in self._lines():
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise CorruptDataError(f"the audit log {self.path!r} has a damaged line") from exc
            if since is not None and dt.datetime.fromisoformat(rec["time"]) < since:
                continue
            out.append(rec)
        return out

    def verify(self) -> int:
        """Check the hash chain and the head; the number of lines, or CorruptDataError."""
        prev, n = GENESIS, 0
        for line in self._lines():
            n += 1
            try:
                got = json.loads(line).get("prev")
            except ValueError as exc:
                raise CorruptDataError(
                    f"the audit log {self.path!r}: line {n} is not JSON (edited?)"
                ) from exc
            if got != prev:
                raise CorruptDataError(
                    f"the audit log {self.path!r} is broken at line {n}: it does not follow the "
                    "line before it (a line was edited, removed or inserted)"
                )
            prev = hashlib.sha256(line).hexdigest()
        count, last = self._head()
        if (count, last) != (n, prev):
            raise CorruptDataError(
                f"the audit log {self.path!r} has {n} lines but its head records {count}: lines "
                "were removed from its end (truncated) or appended outside the service"
            )
        return n
