"""``assets.json`` in the store folder: the asset model, versioned and checksummed like
``tags.json``, changed by atomic read-modify-write.

The document holds the templates, the assets and the history of every definition replaced
(``{"format": 1, "templates": [...], "assets": [...], "history": {...}, "sha256": ...}``); the
SHA-256 covers the canonical JSON of everything else, so a damaged or half-edited file is
refused with the fix instead of being half-read.

A change reads the current file, applies itself and writes the whole file back, so edits made
by several processes never overwrite each other:

- local folder: under an ``flock`` on ``assets.lock``, written to a temporary name (mode
  ``0o640``, never through a symlink), fsynced and renamed over ``assets.json``, then the folder
  fsynced (:meth:`historian.storage.fs.StoreFS.write_bytes`);
- object storage (``s3://``): a conditional PUT (``If-None-Match: *`` for the first version,
  ``If-Match: <ETag>`` after), retried from a fresh read when another writer got there first.

Readers reload the file when it changed (stat locally; on S3 a conditional GET at most once a
second). Asset edits do not need the store's writer lock (a notebook may edit the model while a
collector writes points); a store opened with ``mode="r"`` and a replica refuse them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time as _time
from collections.abc import Callable
from typing import Any, TypeVar

from historian.assets.model import ModelState
from historian.errors import CorruptDataError, HistorianError, ReadOnlyStoreError, StoreError
from historian.storage.errmap import storage_errors
from historian.storage.fs import StoreFS
from historian.storage.perms import FILE_MODE

__all__ = ["ASSETS_FILE", "AssetFile", "decode_model"]

ASSETS_FILE = "assets.json"
_LOCK_FILE = "assets.lock"
_T = TypeVar("_T")
_RETRIES = 20


def digest(doc: dict[str, Any]) -> str:
    """SHA-256 of ``doc`` without its ``sha256`` key, as canonical JSON (sorted keys, no
    spaces, UTF-8): any JSON tool can recompute it."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _damaged(where: str, why: str) -> CorruptDataError:
    return CorruptDataError(
        f"the asset model {where} is damaged: {why}. Restore it from a backup, or "
        "move it away and load the model again (h.assets.load_toml(...)); the points are "
        "not affected"
    )


def decode_model(data: bytes, where: str) -> ModelState:
    """The model held by the bytes of an ``assets.json`` (``where`` names it in errors).

    Raises :class:`~historian.errors.CorruptDataError` when the bytes are not the JSON object
    whose recorded SHA-256 matches, or a definition in it is invalid; a replica's receiver
    checks a shipped model this way before it lands.

    >>> try:
    ...     decode_model(b"[]", "x/assets.json")
    ... except CorruptDataError as exc:
    ...     print(str(exc).split(".", 2)[1])
    json is damaged: not a JSON object
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _damaged(where, f"not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise _damaged(where, "not a JSON object")
    recorded = doc.pop("sha256", None)
    if recorded != digest(doc):
        raise _damaged(where, "its content fails the SHA-256 recorded in it")
    try:
        return ModelState.from_doc(doc)
    except HistorianError as exc:
        raise _damaged(where, f"a definition is invalid ({exc})") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _damaged(where, f"an entry cannot be read ({exc!r})") from exc


class AssetFile:
    """The asset model file of one store (see the module docstring)."""

    def __init__(self, fs: StoreFS, *, read_only: bool = False) -> None:
        self._fs = fs
        self.read_only = read_only
        self._lock = threading.Lock()
        self._state = ModelState()
        self._stamp: Any = None
        self._checked = -1e9

    @property
    def where(self) -> str:
        return self._fs.uri_of(ASSETS_FILE)

    # --- reading
    def state(self) -> ModelState:
        """The current model (reloaded if the file changed)."""
        with (
            self._lock,
            storage_errors(
                f"reading the asset model {self.where}",
                "nothing was changed; fix the cause and retry",
            ),
        ):
            self._refresh(force=False)
            return self._state

    def _refresh(self, force: bool) -> None:
        if self._fs.is_local:
            try:
                st = os.stat(self._fs.path(ASSETS_FILE))
            except FileNotFoundError:
                self._state, self._stamp = ModelState(), None
                return
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                with open(self._fs.path(ASSETS_FILE), "rb") as f:
                    self._state = self._decode(f.read())
                self._stamp = stamp
            return
        now = _time.monotonic()
        if not force and now - self._checked < 1.0:
            return
        got = self._fs.get_if_changed(ASSETS_FILE, self._stamp)
        self._checked = now
        if got is None:
            self._state, self._stamp = ModelState(), None
        elif got[0] is not None:
            self._state, self._stamp = self._decode(got[0]), got[1]

    def _decode(self, data: bytes) -> ModelState:
        return decode_model(data, self.where)

    @staticmethod
    def _encode(state: ModelState) -> bytes:
        doc = state.to_doc()
        doc["sha256"] = digest(doc)
        return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False).encode()

    # --- changing
    def update(self, change: Callable[[ModelState], _T]) -> _T:
        """Apply ``change`` to a fresh copy of the model and store the result atomically;
        nothing is stored when ``change`` raises. Returns what ``change`` returned."""
        if self.read_only:
            raise ReadOnlyStoreError(
                f"the store {self._fs.uri} is open read-only (mode='r'): open it with "
                "historian.open(path) to edit its asset model"
            )
        from historian.gateway.sink import MARKER  # the file that marks a replica

        with storage_errors(f"checking {self._fs.uri}", "nothing was changed"):
            replica = self._fs.exists(MARKER)
        if replica:
            raise ReadOnlyStoreError(
                f"the store {self._fs.uri} is a replica (it has {MARKER}): edit the asset model "
                "of the source store instead"
            )
        with (
            self._lock,
            storage_errors(
                f"writing the asset model {self.where}",
                "the asset model is unchanged; fix the cause and make the change again",
            ),
        ):
            if self._fs.is_local:
                return self._update_local(change)
            return self._update_remote(change)

    def _copy(self) -> ModelState:
        return ModelState.from_doc(self._state.to_doc())

    def _update_local(self, change: Callable[[ModelState], _T]) -> _T:
        lock = self._fs.path(_LOCK_FILE)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._refresh(force=True)
            state = self._copy()
            result = change(state)
            self._fs.write_bytes(ASSETS_FILE, self._encode(state))
            self._state, self._stamp = state, None
            self._refresh(force=True)
            return result
        finally:
            os.close(fd)  # releases the flock

    def _update_remote(self, change: Callable[[ModelState], _T]) -> _T:
        for _ in range(_RETRIES):
            got = self._fs.get_versioned(ASSETS_FILE)
            self._state = ModelState() if got is None else self._decode(got[0])
            state = self._copy()
            result = change(state)
            data = self._encode(state)
            if got is None:
                if self._fs.put_if_absent(ASSETS_FILE, data):
                    self._state, self._stamp = state, None
                    self._refresh(force=True)
                    return result
            else:
                swapped = self._fs.swap(ASSETS_FILE, data, got[1])
                if swapped is not None:
                    self._state, self._stamp = state, swapped
                    return result
        raise StoreError(
            f"the asset model {self.where} kept changing under this edit ({_RETRIES} tries): "
            "another process is editing it in a loop; retry later"
        )
