"""Diode mode: replication over UDP with no return channel (``--diode``).

Each version is sent as objects — 0: a JSON manifest (table id, then each file, the commit and
the catalog with size and SHA-256), 1..n: those objects — cut into datagrams::

    magic "HD1" | version u64 | object u32 | chunk u32 | chunks u32 | crc32 u32 | payload

The receiver drops a datagram whose CRC32 fails, keeps chunks until an object is whole, checks
its SHA-256 against the manifest, writes files through :class:`FolderSink` and applies a commit
only when it is whole, verified and the next version of the copy. It reports exactly which
versions are missing. Every datagram is sent ``repeat`` times, and the sender resends the
newest ``resend_versions`` versions every ``resend_s`` seconds, which heals any gap inside that
window (nothing ever travels back: the sender cannot know what was lost).

What changes without a commit — the catalogs (``tags.json``, ``assets.json``) and new
annotation or frame files — travels as a *side bundle*: a manifest and its objects under a
version number at or above :data:`SIDE_BASE` (``2**63`` plus the sender's clock in µs, so
bundles of a restarted sender still sort after its earlier ones). The receiver writes a bundle
as soon as it is whole and verified, needs no commit for it, and never lets an older bundle's
catalog replace a newer one; the sender resends its newest ``resend_versions`` bundles with
the versions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from historian.errors import HistorianError, InvalidArgumentError, StoreError
from historian.gateway.ratelimit import RateLimiter
from historian.gateway.sink import FolderSink
from historian.gateway.source import CATALOG_FILES, SourceStore

log = logging.getLogger(__name__)

MAGIC = b"HD1"
HEAD = struct.Struct(">3sQIIII")  # magic, version, object, chunk, chunks, crc32
PAYLOAD = 1200  # bytes of data per datagram (fits an Ethernet MTU with IP/UDP headers)
SIDE_BASE = 1 << 63  # version numbers from here on carry side bundles (catalogs, record files)


def parse_udp(uri: str) -> tuple[str, int]:
    """``udp://HOST:PORT`` -> (host, port)."""
    if not uri.startswith("udp://"):
        raise InvalidArgumentError(f"{uri!r}: diode mode needs udp://HOST:PORT")
    host, _, port = uri[6:].rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise InvalidArgumentError(f"{uri!r}: write udp://HOST:PORT")
    return host.strip("[]"), int(port)


def datagrams(version: int, obj: int, data: bytes, size: int = PAYLOAD) -> list[bytes]:
    """The datagrams of one object (at least one, even for empty data)."""
    n = max(1, -(-len(data) // size))
    out = []
    for i in range(n):
        part = data[i * size : (i + 1) * size]
        head = HEAD.pack(MAGIC, version, obj, i, n, 0)
        crc = zlib.crc32(head[:-4] + part)
        out.append(HEAD.pack(MAGIC, version, obj, i, n, crc) + part)
    return out


def parse_datagram(d: bytes) -> tuple[int, int, int, int, bytes] | None:
    """(version, object, chunk, chunks, payload), or None for anything damaged or foreign."""
    if len(d) < HEAD.size:
        return None
    magic, v, obj, i, n, crc = HEAD.unpack_from(d)
    if magic != MAGIC or i >= n or zlib.crc32(d[: HEAD.size - 4] + d[HEAD.size :]) != crc:
        return None
    return v, obj, i, n, d[HEAD.size :]


def _with_manifest(objs: list[tuple[str, str, bytes]], table_id: str) -> list[bytes]:
    manifest = {"table_id": table_id, "objects": [
        [kind, name, len(data), hashlib.sha256(data).hexdigest()] for kind, name, data in objs
    ]}  # fmt: skip
    return [json.dumps(manifest).encode()] + [data for _, _, data in objs]


def version_objects(src: SourceStore, v: int, table_id: str) -> list[bytes]:
    """Manifest first, then the data files, the commit, its checkpoint, head record, catalog."""
    ver = src.version(v)
    objs: list[tuple[str, str, bytes]] = []
    for f in ver.adds:
        objs.append(("file", f.path, b"".join(src.open_file(f.path))))
    objs.append(("commit", str(v), ver.data))
    for rel, data in src.aux_for(v):
        objs.append(("aux", rel, data))
    objs.append(("aux", "points/_historian/head.json", src.head_for(v, ver.sha256)))
    for rel, data in src.catalog_files():  # tags.json, assets.json
        objs.append(("aux", rel, data))
    return _with_manifest(objs, table_id)


class DiodeSender:
    """Send ``src`` to ``udp://HOST:PORT``; :meth:`run` follows it, :meth:`send_all` once."""

    def __init__(self, src: Any, dst: str, *, repeat: int = 1, resend_s: float = 10.0,
                 resend_versions: int = 100, max_bytes_per_s: float | None = None,
                 poll_s: float = 1.0, payload: int = PAYLOAD,
                 start_version: int = 0) -> None:  # fmt: skip
        self.addr = parse_udp(dst)
        self.src = SourceStore(src)
        self.repeat, self.resend_s, self.window = max(1, repeat), resend_s, resend_versions
        self.poll_s, self.payload = poll_s, payload
        self._stop = threading.Event()
        self._limit = RateLimiter(max_bytes_per_s, self._stop)
        self.sent_upto = start_version - 1
        self.datagrams_sent = 0
        self._table_id = self.src.table_id()
        self._shipped: dict[str, bytes | int] = {}  # side files sent: catalog bytes, record size
        self._bundles: list[tuple[int, list[bytes]]] = []  # the newest side bundles, resent
        self._sock = socket.socket(socket.AF_INET6 if ":" in self.addr[0] else socket.AF_INET,
                                   socket.SOCK_DGRAM)  # fmt: skip

    def stop(self) -> None:
        self._stop.set()

    def send_version(self, v: int) -> None:
        self._send_objects(v, version_objects(self.src, v, self._table_id))

    def send_side(self) -> bool:
        """A side bundle of the catalogs that changed and the record files not sent yet (none
        when nothing changed); True when one was sent."""
        objs: list[tuple[str, str, bytes]] = []
        for rel, data in self.src.catalog_files():
            if self._shipped.get(rel) != data:
                objs.append(("aux", rel, data))
        for rel, size in self.src.record_files():
            if self._shipped.get(rel) != size:
                objs.append(("aux", rel, self.src.read_record_file(rel)))
        if not objs:
            return False
        seq = max(SIDE_BASE + time.time_ns() // 1000,
                  self._bundles[-1][0] + 1 if self._bundles else 0)  # fmt: skip
        bundle = _with_manifest(objs, self._table_id)
        self._send_objects(seq, bundle)
        for _, rel, data in objs:
            self._shipped[rel] = data if rel in CATALOG_FILES else len(data)
        self._bundles = [*self._bundles, (seq, bundle)][-self.window :]
        return True

    def _send_objects(self, v: int, objects: list[bytes]) -> None:
        for obj, data in enumerate(objects):
            for d in datagrams(v, obj, data, self.payload):
                for _ in range(self.repeat):
                    self._limit.take(len(d))
                    try:
                        self._sock.sendto(d, self.addr)
                    except OSError as exc:
                        raise StoreError(f"cannot send to udp://{self.addr[0]}:"
                                         f"{self.addr[1]} ({exc})") from exc  # fmt: skip
                    self.datagrams_sent += 1

    def send_new(self) -> int:
        """Send the versions not sent yet, then a side bundle of what changed without a commit;
        returns the source's newest version."""
        # The source's vacuum leaves what is still to send, and what a resend sends again.
        self.src.hold_after(self.sent_upto - self.window)
        versions = self.src.versions()
        newest = versions[-1] if versions else -1
        for v in range(max(self.sent_upto + 1, versions[0] if versions else 0), newest + 1):
            if self._stop.is_set():
                return newest
            self.send_version(v)
            self.sent_upto = v
        self.send_side()
        return newest

    def resend(self) -> None:
        """The newest ``resend_versions`` versions and side bundles again (heals gaps the
        receiver reports)."""
        for v in range(max(0, self.sent_upto - self.window + 1), self.sent_upto + 1):
            if self._stop.is_set():
                return
            self.send_version(v)
        for seq, bundle in self._bundles:
            if self._stop.is_set():
                return
            self._send_objects(seq, bundle)

    def run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                self.send_new()
                if time.monotonic() - last >= self.resend_s:
                    self.resend()
                    last = time.monotonic()
            except (HistorianError, OSError) as exc:  # a source file read; retried next round
                log.warning("diode sender: %s; retrying", exc)
            self._stop.wait(self.poll_s)

    def close(self) -> None:
        self._sock.close()
        self.src.release()


@dataclass
class _Partial:
    chunks: int
    parts: dict[int, bytes] = field(default_factory=dict)


class DiodeReceiver:
    """Assemble datagrams on ``udp://HOST:PORT`` into verified commits of the copy ``store``.

    Examples
    --------
    >>> import tempfile, os
    >>> r = DiodeReceiver(os.path.join(tempfile.mkdtemp(), "it.hist"), "udp://127.0.0.1:0")
    >>> r.port > 0, r.missing()
    (True, [])
    >>> r.close()
    """

    def __init__(self, store: Any, listen: str) -> None:
        host, port = parse_udp(listen)
        self.sink = FolderSink(store)
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_DGRAM)  # fmt: skip
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise StoreError(f"cannot listen on {listen} ({exc})") from exc
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._parts: dict[tuple[int, int], _Partial] = {}
        self._manifest: dict[int, list] = {}
        self._done: dict[int, set[int]] = {}  # version -> objects whole and verified
        self._commits: dict[int, bytes] = {}
        self._aux: dict[int, list[tuple[str, bytes]]] = {}
        self._early: dict[tuple[int, int], bytes] = {}  # objects whose manifest is not here yet
        self._side_applied: set[int] = set()  # side bundles written (a resend is skipped)
        self._catalog_seq: dict[str, int] = {}  # catalog file -> the bundle that last wrote it
        self._bound = False
        self.highest_seen = -1
        self.dropped = 0  # datagrams with a bad checksum or header

    def missing(self) -> list[int]:
        """Versions after the copy's newest, up to the highest one seen, not yet applied."""
        newest = self.sink.newest()[0]
        return [v for v in range(newest + 1, self.highest_seen + 1) if not self._complete(v)]

    def _complete(self, v: int) -> bool:
        man = self._manifest.get(v)
        return man is not None and len(self._done.get(v, ())) == len(man) + 1

    @property
    def newest(self) -> int:
        return self.sink.newest()[0]

    def handle(self, d: bytes) -> None:
        """One datagram (public for tests)."""
        got = parse_datagram(d)
        if got is None:
            self.dropped += 1
            return
        v, obj, i, n, payload = got
        side = v >= SIDE_BASE
        seen = v in self._side_applied if side else v <= self.sink.newest()[0]
        if seen or obj in self._done.get(v, ()):
            return
        if not side:
            self.highest_seen = max(self.highest_seen, v)
        p = self._parts.setdefault((v, obj), _Partial(n))
        if p.chunks != n:
            self.dropped += 1
            return
        p.parts[i] = payload
        if len(p.parts) < n:
            return
        data = b"".join(p.parts[k] for k in range(n))
        del self._parts[(v, obj)]
        self._object(v, obj, data)
        if side:
            self._apply_side(v)
        else:
            self._apply()

    def _apply_side(self, seq: int) -> None:
        """Write side bundle ``seq`` once it is whole and verified; a catalog only when no newer
        bundle wrote it already."""
        if not self._complete(seq):
            return
        for name, data in self._aux.pop(seq, []):
            if name in CATALOG_FILES and self._catalog_seq.get(name, -1) > seq:
                continue  # an older bundle arriving late: keep the newer catalog
            self.sink.put_aux(name, data)
            if name in CATALOG_FILES:
                self._catalog_seq[name] = seq
        self._manifest.pop(seq, None)
        self._done.pop(seq, None)
        self._side_applied.add(seq)
        log.info("diode: applied the catalogs and record files of side bundle %d", seq - SIDE_BASE)

    def _object(self, v: int, obj: int, data: bytes) -> None:
        if obj == 0:
            try:
                doc = json.loads(data)
                objects = doc["objects"]
                table_id = str(doc["table_id"])
            except (ValueError, KeyError, TypeError):
                self.dropped += 1
                return
            if not self._bound:
                self.sink.bind(table_id)
                self._bound = True
            self._manifest[v] = objects
            self._done.setdefault(v, set()).add(0)
            waiting = [(o, dd) for (vv, o), dd in self._early.items() if vv == v]
            for o, dd in waiting:
                del self._early[(v, o)]
                self._object(v, o, dd)
            return
        man = self._manifest.get(v)
        if man is None:  # the manifest has not arrived yet: keep the object until it does
            self._early[(v, obj)] = data
            return
        if obj > len(man):
            self.dropped += 1
            return
        kind, name, size, sha = man[obj - 1]
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
            self.dropped += 1
            return
        if kind == "file":
            if not self.sink.has_file(name, size):
                self.sink.put_file(name, size, sha, iter([data]))
        elif kind == "commit":
            self._commits[v] = data
        else:
            self._aux.setdefault(v, []).append((name, data))
        self._done.setdefault(v, set()).add(obj)

    def _apply(self) -> None:
        while True:
            v = self.sink.newest()[0] + 1
            if not self._complete(v):
                return
            self.sink.commit(v, self._commits.pop(v))
            for name, data in self._aux.pop(v, []):
                if name in CATALOG_FILES and name in self._catalog_seq:
                    continue  # side bundles carry every catalog change since: theirs is newer
                self.sink.put_aux(name, data)
            self._manifest.pop(v, None)
            self._done.pop(v, None)
            stale = [k for k in self._parts if k[0] <= v] + [k for k in self._early if k[0] <= v]
            for key in stale:
                self._parts.pop(key, None)
                self._early.pop(key, None)
            log.info("diode: applied version %d", v)

    def serve_forever(self, status_every_s: float = 60.0) -> None:
        """Receive until :meth:`close`; logs the missing versions every ``status_every_s``."""
        self.sock.settimeout(0.2)
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                d = self.sock.recv(65536)
            except TimeoutError:
                d = b""
            except OSError:
                if self._stop.is_set():
                    return
                raise
            if d:
                try:
                    self.handle(d)
                except (HistorianError, OSError) as exc:  # the version is received again
                    log.warning("diode: %s", exc)
            if time.monotonic() - last >= status_every_s:
                last = time.monotonic()
                miss = self.missing()
                log.info("diode: copy at version %d; missing %s", self.newest, miss or "none")

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self.sink.close()
