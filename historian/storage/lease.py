"""The writer lease: one writer per store on object storage, where there is no ``flock``.

A small JSON object ``<store>/writer.lease`` names the holder, an expiry time and an **epoch**
(a fencing token that grows by one at every change of holder)::

    {"owner": "<uuid>", "holder": "host pid 123", "epoch": 7, "expires": 1767225660.5, "ttl": 60}

- **Acquire**: absent → create it with ``If-None-Match: *`` (epoch 1). Present and expired →
  replace it with ``If-Match: <etag of what we read>`` (epoch + 1). Present and live →
  :class:`~historian.errors.StoreLockedError` naming the holder and when the lease expires.
  Two processes racing for the same lease: the storage answers one of them 412, and that one
  gets ``StoreLockedError``.
- **Renew**: a daemon thread rewrites it with ``If-Match`` every ``ttl/3`` seconds. If a renewal
  finds the object changed (someone took over after an expiry) the lease is **lost**.
- **Fencing**: the holder calls :meth:`WriterLease.check` right before each commit: a
  renewal with ``If-Match``, so the storage itself answers whether the lease is still ours at
  that moment (412 once another writer took over: :class:`LeaseLostError`). The
  epoch is recorded in every commit's metadata, and the commit layer refuses to commit on top
  of a commit of a higher epoch (:mod:`historian.storage.table`), so the log's epochs never
  decrease.
- **Release**: rewrite it as already expired (``If-Match``), so a clean close frees the store at
  once and the epoch keeps growing; after a crash the next writer waits for the expiry.

Expiry compares wall clocks of different hosts: keep them NTP-synchronised, and keep ``ttl``
well above the worst clock skew (default 60 s, margin 10 s).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time as _time
import uuid
from typing import Any

from historian.errors import LeaseLostError, StoreError, StoreLockedError
from historian.storage.fs import StoreFS

log = logging.getLogger(__name__)

__all__ = ["LEASE_FILE", "LeaseLostError", "WriterLease"]

LEASE_FILE = "writer.lease"


class WriterLease:
    """An expiring, fenced writer lease stored next to the data (S3 or a local folder).

    Same interface as the local :class:`~historian.storage.lock.WriterLock`: ``acquire``,
    ``release``, ``held``; plus ``epoch`` and ``check``.

    Examples
    --------
    >>> import tempfile
    >>> fs = StoreFS.from_uri(tempfile.mkdtemp())
    >>> a, b = WriterLease(fs, ttl=30), WriterLease(fs, ttl=30)
    >>> a.acquire(); a.epoch
    1
    >>> try:
    ...     b.acquire()
    ... except StoreLockedError:
    ...     print("refused")
    refused
    >>> a.release(); b.acquire(); b.epoch
    2
    >>> b.release()
    """

    def __init__(
        self, fs: StoreFS, *, ttl: float = 60.0, margin: float | None = None, renew: bool = True
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, not {ttl!r}")
        self.fs = fs
        self.ttl = float(ttl)
        self.margin = float(margin) if margin is not None else min(10.0, self.ttl / 6)
        self.owner = uuid.uuid4().hex
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        self.epoch = 0
        self._etag: str | None = None
        self._renewed = 0.0  # monotonic time of the last successful write
        self._lost: str | None = None
        self._renew = renew
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._etag is not None and self._lost is None

    @property
    def lost(self) -> str | None:
        """Why the lease was lost for good (another writer took it over), or None."""
        return self._lost

    def _doc(self, epoch: int, expires: float) -> bytes:
        return json.dumps(
            {
                "owner": self.owner,
                "holder": self.holder,
                "epoch": epoch,
                "expires": expires,
                "ttl": self.ttl,
            },
            sort_keys=True,
        ).encode()

    def acquire(self) -> None:
        """Take the lease or raise :class:`StoreLockedError` (a live lease is held elsewhere)."""
        if self.held:
            return
        for _ in range(3):
            current = self.fs.get_versioned(LEASE_FILE)
            started = _time.monotonic()
            if current is None:
                epoch = 1
                ok = self.fs.put_if_absent(LEASE_FILE, self._doc(epoch, _time.time() + self.ttl))
            else:
                doc = _parse(current[0])
                expires = float(doc.get("expires", 0.0))
                if doc.get("owner") != self.owner and expires > _time.time():
                    raise StoreLockedError(
                        f"the store {self.fs.uri!r} is being written by another process "
                        f"({doc.get('holder', 'unknown')}, lease epoch {doc.get('epoch')}, "
                        "expires in "
                        f"{expires - _time.time():.0f} s); only one writer at a time. Open it with "
                        "mode='r' to read while it is written, or stop the other writer (a crashed "
                        "writer's lease is taken over once it expires)."
                    )
                epoch = int(doc.get("epoch", 0)) + 1
                ok = self.fs.put_if_match(
                    LEASE_FILE, self._doc(epoch, _time.time() + self.ttl), current[1]
                )
            if ok:
                got = self.fs.get_versioned(LEASE_FILE)
                if got is None or _parse(got[0]).get("owner") != self.owner:
                    continue  # pragma: no cover - lost a race after the conditional write
                with self._lock:
                    self._etag, self.epoch, self._renewed, self._lost = got[1], epoch, started, None
                log.info("took the writer lease of %s (epoch %d)", self.fs.uri, epoch)
                self._start_renewal()
                return
            # Someone else wrote between our read and our conditional write: look again.
        current = self.fs.get_versioned(LEASE_FILE)
        holder = _parse(current[0]).get("holder", "unknown") if current else "unknown"
        raise StoreLockedError(
            f"the store {self.fs.uri!r} is being written by another process ({holder}); "
            "another writer took the lease at the same moment"
        )

    def _start_renewal(self) -> None:
        if not self._renew:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._renew_loop, name="historian-lease", daemon=True
        )
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
            except LeaseLostError:
                return
            except Exception as exc:  # a transient error: retry at the next tick; check() fences
                log.warning(
                    "renewing the writer lease of %s failed (%s); will retry", self.fs.uri, exc
                )

    def renew(self) -> None:
        """Extend the lease (compare-and-swap on the version we wrote last)."""
        with self._lock:
            if self._etag is None:
                return
            if self._lost is not None:
                raise LeaseLostError(self._lost)
            started = _time.monotonic()
            # One conditional PUT: it succeeds only on the version we wrote last, so its new
            # ETag is ours (no read-back needed).
            new_tag = self.fs.swap(
                LEASE_FILE, self._doc(self.epoch, _time.time() + self.ttl), self._etag
            )
            if new_tag is None:
                self._lost = (
                    f"the writer lease of {self.fs.uri!r} (epoch {self.epoch}) was taken over by "
                    "another writer after it expired; this process can no longer write"
                )
                log.error("%s", self._lost)
                raise LeaseLostError(self._lost)
            self._etag, self._renewed = new_tag, started

    def mark_lost(self, why: str) -> None:
        """Record that the lease is lost for good (e.g. the log holds a commit of a newer
        epoch): :attr:`held` turns False and every later :meth:`check` raises."""
        with self._lock:
            if self._lost is None:
                self._lost = why
                log.error("%s", why)

    def check(self, *, confirm: bool = True) -> int:
        """The epoch, or :class:`LeaseLostError` unless the lease is surely still ours (fencing).

        ``confirm`` (the default, before a commit): renew the lease now with a conditional
        write, so the storage itself confirms that no one took it over. ``confirm=False``
        renews only when the background renewal fell behind. Storage that does not answer is
        a :class:`StoreError` while the last renewal is recent, then :class:`LeaseLostError`.
        """
        if self._etag is None:
            if self._lost is not None:
                raise LeaseLostError(self._lost)
            raise LeaseLostError(f"this process does not hold the writer lease of {self.fs.uri!r}")
        if self._lost is not None:
            raise LeaseLostError(self._lost)
        age = _time.monotonic() - self._renewed
        if confirm or age > self.ttl - self.margin:
            try:
                self.renew()  # confirm, or the renewal fell behind (a paused process?)
            except LeaseLostError:
                raise
            except Exception as exc:
                if age <= self.ttl - self.margin:
                    raise  # the storage is unreachable, the lease still surely ours: retry
                raise LeaseLostError(
                    f"the writer lease of {self.fs.uri!r} could not be renewed for {age:.0f} s: "
                    f"{exc}"
                ) from exc
        return self.epoch

    def release(self) -> None:
        """Give the lease up: the next writer may take it at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            etag, self._etag = self._etag, None
            if etag is None or self._lost is not None:
                return
            # Mark it expired with a conditional write (never clobbers a new holder). It is not
            # deleted: the next holder replaces it with epoch + 1, so epochs only ever grow.
            try:
                self.fs.put_if_match(LEASE_FILE, self._doc(self.epoch, 0.0), etag)
            except StoreError as exc:  # unreachable storage: the lease then simply expires
                log.warning(
                    "cannot release the writer lease of %s (%s); it expires by itself within "
                    "%.0f s",
                    self.fs.uri,
                    exc,
                    self.ttl,
                )
                return
            log.info("released the writer lease of %s (epoch %d)", self.fs.uri, self.epoch)

    def __repr__(self) -> str:
        state = "held" if self.held else ("lost" if self._lost else "free")
        return f"<WriterLease {self.fs.uri!r} epoch {self.epoch} {state}>"


def _parse(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
