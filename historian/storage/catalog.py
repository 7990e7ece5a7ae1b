"""The tag catalog: ``tags.json`` in the store folder, replaced atomically by the writer.

Readers reload it when its size or mtime changes; it is small and read in one ``open`` so a
concurrent replace (rename) never shows a torn file. On object storage readers look at most
once a second, with a conditional GET (``If-None-Match: <ETag>``: no body when unchanged).

The writer holds the lock or lease, so it is the only one who changes the catalog: once the
store sets :attr:`Catalog.writer`, lookups (``get``, ``in``, every ``write()``) use the cached
copy and never touch object storage; it is re-read only by an explicit check
(``reload(force=True)``: when the writer takes the lease, and before each ``define``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import threading
import time as _time
from collections.abc import Iterable
from typing import Any

from historian.errors import CorruptDataError, InvalidTagNameError, TagNotFoundError
from historian.model.tags import Tag
from historian.storage.errmap import storage_errors
from historian.storage.fs import StoreFS

CATALOG_FILE = "tags.json"


class Catalog:
    """Tag definitions of one store."""

    def __init__(self, store_dir: str, fs: StoreFS | None = None) -> None:
        # read and written through StoreFS; a local folder is checked with one stat per look
        self._fs = fs if fs is not None else StoreFS.from_uri(store_dir)
        self._checked = -1e9  # monotonic time of the last remote check
        self.path = os.path.join(store_dir, CATALOG_FILE)
        self._tags: dict[str, Tag] = {}
        self._folded: dict[str, str] = {}
        # what the file was when read: (mtime_ns, size) locally, its ETag on object storage
        self._stamp: tuple[int, int] | str | None = None
        # Earlier definitions of each tag, oldest first (tags.json "history"): a define() that
        # changes a tag keeps the definition it replaces.
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        #: Set by the store when its open created the folder (for the "no tags" message).
        self.created = False
        #: Set by the store once it holds the writer lock/lease: no other process changes the
        #: catalog then, so lookups use the cached copy (no round trip to object storage).
        self.writer = False
        self.reload()

    def reload(self, *, force: bool = False) -> None:
        """Re-read the file if another process replaced it.

        ``force``: check now even on object storage, where readers otherwise look at most once
        a second and the writer never looks (it alone changes the catalog).
        """
        if not self._fs.is_local:
            if force or not self.writer:
                self._reload_remote(force)
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        with open(self.path, "rb") as f:
            doc = self._decode(f.read())
        tags = self._parse_tags(doc)
        with self._lock:
            self._tags = tags
            self._history = dict(doc.get("history", {}))
            self._folded = {name.casefold(): name for name in tags}
            self._stamp = stamp

    def _reload_remote(self, force: bool = False) -> None:
        # Object storage: look at most once a second, with a conditional GET on the ETag (an
        # unchanged catalog answers 304 without a body).
        now = _time.monotonic()
        if not force and now - self._checked < 1.0:
            return
        stamp = self._stamp if isinstance(self._stamp, str) else None
        got = self._fs.get_if_changed(CATALOG_FILE, stamp)
        self._checked = now
        if got is None or got[0] is None or got[1] == self._stamp:
            return
        doc = self._decode(got[0])
        tags = self._parse_tags(doc)
        with self._lock:
            self._tags = tags
            self._history = dict(doc.get("history", {}))
            self._folded = {name.casefold(): name for name in tags}
            self._stamp = got[1]

    def _damaged(self, why: str) -> CorruptDataError:
        store = self._fs.uri
        return CorruptDataError(
            f"the tag catalog {self.path} is damaged: {why}. Restore it from a backup, or run "
            f"`historian repair {store}` to rebuild it from the data files (tag names; units "
            "and rules must then be defined again)"
        )

    def _decode(self, data: bytes) -> dict[str, Any]:
        """The catalog document, its SHA-256 checked (a catalog without one is accepted: an
        older store, or edited by hand)."""
        try:
            doc = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise self._damaged(f"byte {exc.start} is not valid UTF-8") from exc
        except ValueError as exc:
            raise self._damaged(f"not valid JSON ({exc})") from exc
        if not isinstance(doc, dict):
            raise self._damaged("not a JSON object")
        digest = doc.pop("sha256", None)
        if digest is not None and digest != _digest(doc):
            raise self._damaged("its content fails the SHA-256 recorded in it")
        return doc

    def _parse_tags(self, doc: dict[str, Any]) -> dict[str, Tag]:
        try:
            return {d["name"]: Tag.from_dict(d) for d in doc.get("tags", [])}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._damaged(f"a tag entry cannot be read ({exc!r})") from exc

    def get(self, name: str) -> Tag:
        return self.get_many([name])[0]

    def get_many(self, names: Iterable[str]) -> list[Tag]:
        """:meth:`get` of each name, looking for a newer catalog once (one ``stat``, not one
        per name: 10,000 names cost ~70 ms of stats otherwise)."""
        self.reload()
        tags = self._tags  # one version of the catalog for the whole list
        out = []
        for name in names:
            tag = tags.get(name)
            if tag is None:
                raise TagNotFoundError(self._missing_message(name))
            out.append(tag)
        return out

    def _missing_message(self, name: str) -> str:
        hint = ""
        same = self._folded.get(name.casefold()) if isinstance(name, str) else None
        if same:
            hint = f" Did you mean {same!r}? (tag names are case-sensitive)"
        if not self._tags:  # a typo in the store path lands here: say what the store is
            store = self._fs.uri
            hint = (
                f" The store {store!r} has no tags at all"
                + (": this historian.open() just created it, empty - is the path right?"
                   if self.created else " (nothing was ever defined or written in it).")
            )  # fmt: skip
        return (
            f"unknown tag {name!r}: define it first with h.define({name!r}, unit=..., kind=...)"
            f" or list the known tags with h.tags().{hint}"
        )

    def __contains__(self, name: object) -> bool:
        self.reload()
        return name in self._tags

    def all(self) -> list[Tag]:
        self.reload()
        return [self._tags[k] for k in sorted(self._tags)]

    def search(self, pattern: str | None) -> list[Tag]:
        """Tags whose name matches a glob (``"TIC-*"``) or, with ``re:``, a regular expression."""
        tags = self.all()
        if pattern is None:
            return tags
        if pattern.startswith("re:"):
            rx = re.compile(pattern[3:])
            return [t for t in tags if rx.search(t.name)]
        return [t for t in tags if fnmatch.fnmatchcase(t.name, pattern)]

    def put(self, tag: Tag) -> Tag:
        """Add or update a definition (the version increments when anything changes)."""
        return self.put_many([tag])[0]

    def put_many(self, new: list[Tag]) -> list[Tag]:
        """Add or update many definitions in one write of the catalog (all or none); returns
        the stored definitions in the order given (unchanged ones are not rewritten)."""
        self.reload(force=True)  # the explicit check that the cached copy is current
        with self._lock:
            tags = dict(self._tags)
            history = dict(self._history)
            folded = dict(self._folded)
            out: list[Tag] = []
            changed = False
            for tag in new:
                other = folded.get(tag.name.casefold())
                if other is not None and other != tag.name:
                    raise InvalidTagNameError(
                        f"tag {tag.name!r} differs from the existing tag {other!r} only by case; "
                        "use the existing name or choose a clearly different one"
                    )
                old = tags.get(tag.name)
                if old is not None:
                    if _same(old, tag):
                        out.append(old)
                        continue
                    tag = Tag.from_dict({**tag.to_dict(), "version": old.version + 1})
                    replaced = {**old.to_dict(), "replaced_at": _utc_now()}
                    history[tag.name] = [*history.get(tag.name, []), replaced]
                tags[tag.name] = tag
                folded[tag.name.casefold()] = tag.name
                out.append(tag)
                changed = True
            if changed:
                self._write(tags, history)
                self._tags = tags
                self._history = history
                self._folded = folded
            return out

    def versions(self, name: str) -> list[tuple[Tag, str | None]]:
        """Every definition ``name`` has had, oldest first, with the UTC time each was replaced
        (``None`` for the current one; a deleted or renamed tag has no current one)."""
        self.reload()
        with self._lock:
            current = self._tags.get(name)
            old = list(self._history.get(name, []))
        if current is None and not old:
            raise TagNotFoundError(self._missing_message(name))
        fields = set(Tag.__dataclass_fields__)
        out: list[tuple[Tag, str | None]] = []
        for d in old:
            out.append((Tag.from_dict({k: v for k, v in d.items() if k in fields}),
                        d.get("replaced_at")))  # fmt: skip
        return out if current is None else [*out, (current, None)]

    def remove(self, name: str, note: dict[str, Any]) -> Tag:
        """Take ``name`` out of the catalog; its definition joins its history with ``note``
        (``{"deleted_at": ...}``, ``{"renamed_to": ...}``)."""
        self.reload()
        with self._lock:
            gone = self._tags.get(name)
            if gone is None:
                raise TagNotFoundError(self._missing_message(name))
            tags = {k: v for k, v in self._tags.items() if k != name}
            entry = {**gone.to_dict(), "replaced_at": _utc_now(), **note}
            history = {**self._history, name: [*self._history.get(name, []), entry]}
            self._write(tags, history)
            self._tags, self._history = tags, history
            self._folded = {n.casefold(): n for n in tags}
            return gone

    def _write(self, tags: dict[str, Tag], history: dict[str, list[dict[str, Any]]]) -> None:
        doc: dict[str, Any] = {"format": 1, "tags": [tags[k].to_dict() for k in sorted(tags)]}
        if history:
            doc["history"] = {k: history[k] for k in sorted(history)}
        doc["sha256"] = _digest(doc)
        data = json.dumps(doc, indent=1, sort_keys=True).encode()
        with storage_errors(
            f"writing the tag catalog {self.path}",
            "the catalog is unchanged; fix the cause and define the tag again",
        ):
            # Readers see the old or the new file: one PUT, or temp file + fsync + rename.
            self._fs.write_bytes(CATALOG_FILE, data)
            if self._fs.is_local:
                st = os.stat(self.path)
                self._stamp = (st.st_mtime_ns, st.st_size)


def _digest(doc: dict[str, Any]) -> str:
    """SHA-256 of the catalog document without its ``sha256`` key, as canonical JSON (sorted
    keys, no spaces, UTF-8), so any JSON tool can recompute it."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _utc_now() -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime())


def _same(a: Tag, b: Tag) -> bool:
    da, db = a.to_dict(), b.to_dict()
    da.pop("version")
    db.pop("version")
    return da == db
