"""Push-only replication of an OT store to an IT copy (``historian replicate``).

The sender ships every committed version in order: the data files the commit adds, then the
commit JSON itself (byte for byte, so the copy's hash chain is the source's), then the version's
checkpoint and head record; the tag catalog follows whenever it changed, and so do the
annotation and frame files (``annotations/``, ``frames/``: immutable, each shipped once). The
copy's newest commit is the resume point: a version cut off by a kill is redone, a complete
one never is.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from historian.errors import HistorianError, InvalidArgumentError, StoreError
from historian.gateway.ratelimit import RateLimiter
from historian.gateway.sink import FolderSink
from historian.gateway.source import SourceStore

log = logging.getLogger(__name__)


@dataclass
class ReplicationStatus:
    """Lag and health of one replication (returned by :func:`replicate`, kept up to date by
    :class:`Replicator`)."""

    source_version: int = -1
    replicated_version: int = -1
    files_sent: int = 0
    bytes_sent: int = 0
    bytes_per_s: float = 0.0  # over the last round that shipped something
    rounds: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.time)

    @property
    def versions_behind(self) -> int:
        return max(0, self.source_version - self.replicated_version)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["versions_behind"] = self.versions_behind
        return d


def _open_sink(dst: str, options: dict[str, Any]) -> Any:
    if dst.startswith("tls://"):
        from historian.gateway.client import TLSSink, client_context

        hostport = dst[6:].rstrip("/")
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit():
            raise InvalidArgumentError(f"{dst!r}: write tls://HOST:PORT")
        missing = [k for k in ("tls_cert", "tls_key", "tls_ca") if not options.get(k)]
        if missing:
            raise InvalidArgumentError(
                f"a tls:// destination needs {', '.join(missing)} (the sender's client "
                "certificate and key, and the CA that signed the receiver's certificate)"
            )
        ctx = client_context(options["tls_cert"], options["tls_key"], options["tls_ca"])
        return TLSSink(host.strip("[]"), int(port), ctx)
    if dst.startswith("udp://"):
        raise InvalidArgumentError(f"{dst!r} is a diode destination: pass diode=True (--diode)")
    return FolderSink(dst, options.get("dst_storage_options"))


class Replicator:
    """Follow ``src`` into ``dst``; :meth:`run` until :meth:`stop`, or :meth:`catch_up` once.

    Examples
    --------
    >>> import historian, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with historian.open(os.path.join(d, "ot.hist")) as h:
    ...     _ = h.define("A"); _ = h.write("A", historian.seconds([0, 1]), [1.0, 2.0]); h.flush()
    >>> r = Replicator(os.path.join(d, "ot.hist"), os.path.join(d, "it.hist"))
    >>> r.catch_up().versions_behind
    0
    """

    def __init__(self, src: Any, dst: Any, *, follow_deletes: bool = False,
                 max_bytes_per_s: float | None = None, poll_s: float = 1.0,
                 status_every_s: float = 60.0, **options: Any) -> None:  # fmt: skip
        if max_bytes_per_s is not None and max_bytes_per_s <= 0:
            raise InvalidArgumentError("max_bytes_per_s must be positive (or None: no cap)")
        self.src_path, self.dst = src, str(dst)
        self.follow_deletes = follow_deletes
        self.poll_s = poll_s
        self.status_every_s = status_every_s
        self.options = options
        self.status = ReplicationStatus()
        self._stop = threading.Event()
        self._limit = RateLimiter(max_bytes_per_s, self._stop)
        self._src: SourceStore | None = None
        self._catalogs: dict[str, bytes] = {}  # what was last shipped of each catalog file
        self._records_sent: dict[str, int] = {}  # annotation/frame files shipped (rel -> size)
        self._removed: set[str] = set()  # retired in the source, maybe still on its disk
        self._seen: set[int] = set()  # versions whose removes are in _removed
        self._last_log = 0.0

    def stop(self) -> None:
        """Ask :meth:`run` to return after the file it is sending."""
        self._stop.set()

    def _chunks(self, rel: str) -> Any:
        assert self._src is not None
        for chunk in self._src.open_file(rel):
            self._limit.take(len(chunk))
            yield chunk

    def catch_up(self) -> ReplicationStatus:
        """Ship every version the destination lacks, then the catalog; one connection."""
        from deltalake.exceptions import DeltaError

        try:
            return self._catch_up()
        except HistorianError:
            raise
        except (OSError, DeltaError) as exc:  # a file read of the source or the copy
            raise StoreError(f"replication {self.src_path} -> {self.dst}: {exc}; nothing "
                             "half-done is kept, the next round resumes") from exc  # fmt: skip

    def _catch_up(self) -> ReplicationStatus:
        if self._src is None:
            self._src = SourceStore(self.src_path, self.options.get("src_storage_options"))
        src = self._src
        sink = _open_sink(self.dst, self.options)
        st = self.status
        t0, sent0 = time.monotonic(), st.bytes_sent
        try:
            sink.bind(src.table_id())
            versions = src.versions()
            st.source_version = versions[-1] if versions else -1
            start = sink.newest()[0] + 1
            src.hold_after(start - 1)  # the source's vacuum leaves what is still to ship
            if versions and start == 0 and versions[0] > 0:
                start = self._seed(src, sink, versions[0])
            if versions and start < versions[0]:
                raise HistorianError(
                    f"the source's log starts at version {versions[0]} (older commits were "
                    f"cleaned up) but the copy needs version {start}: start a new copy"
                )
            for v in range(start, st.source_version + 1):
                if self._stop.is_set():
                    break
                ver = src.version(v)
                for f in ver.adds:
                    if not sink.has_file(f.path, f.size):
                        if not src.exists(f.path):
                            raise StoreError(
                                f"file {f.path} of version {v} is gone from the source (vacuumed "
                                "before it was replicated); this copy cannot go on past version "
                                f"{v - 1}: raise grace_hours on the source and start a new copy"
                            )
                        chunks = self._chunks(f.path)
                        st.bytes_sent += sink.put_file(f.path, f.size, f.sha256, chunks)
                        st.files_sent += 1
                sink.commit(v, ver.data)
                for rel, data in src.aux_for(v):
                    sink.put_aux(rel, data)
                sink.put_aux("points/_historian/head.json", src.head_for(v, ver.sha256))
                st.replicated_version = v
                self._maybe_log()
            st.replicated_version = sink.newest()[0]
            self._ship_catalogs_and_records(src, sink)
            if self.follow_deletes:
                self._follow_deletes(src, sink, versions, st.replicated_version)
        finally:
            sink.close()
        dt = time.monotonic() - t0
        if st.bytes_sent > sent0 and dt > 0:
            st.bytes_per_s = (st.bytes_sent - sent0) / dt
        st.rounds += 1
        st.last_error = None
        return st

    def _ship_catalogs_and_records(self, src: SourceStore, sink: Any) -> None:
        """The catalogs that changed since they were last shipped (``tags.json``,
        ``assets.json``: replaced whole) and the annotation and frame files not shipped yet."""
        for rel, data in src.catalog_files():
            if self._catalogs.get(rel) != data:
                sink.put_aux(rel, data)
                self._catalogs[rel] = data
        for rel, size in src.record_files():  # immutable files: each shipped once
            if self._records_sent.get(rel) != size:
                sink.put_aux(rel, src.read_record_file(rel))
                self._records_sent[rel] = size

    def _seed(self, src: SourceStore, sink: Any, v: int) -> int:
        """A new copy of a source whose log before ``v`` was cleaned up: its live files, then
        checkpoint ``v`` and commit ``v``; returns the next version to ship."""
        files, checkpoint = src.seed(v)
        log.info("the source's log starts at version %d: seeding the copy from its checkpoint "
                 "(%d live files)", v, len(files))  # fmt: skip
        for f in files:
            if not sink.has_file(f.path, f.size):
                self.status.bytes_sent += sink.put_file(f.path, f.size, f.sha256,
                                                        self._chunks(f.path))  # fmt: skip
                self.status.files_sent += 1
        ver = src.version(v)
        sink.seed(v, ver.data, checkpoint)
        sink.put_aux("points/_historian/head.json", src.head_for(v, ver.sha256))
        self.status.replicated_version = v
        return v + 1

    def _follow_deletes(self, src: SourceStore, sink: Any, versions: list[int],
                        upto: int) -> None:  # fmt: skip
        """Delete from the copy the retired files the source no longer has (every remove
        action of the replicated versions still in the source's log; a restart rechecks)."""
        for v in versions:
            if v <= upto and v not in self._seen:
                self._seen.add(v)
                self._removed.update(src.version(v).removes)
        for rel in sorted(self._removed):
            if not src.exists(rel):
                if sink.delete(rel):
                    log.info("removed %s from the copy (the source deleted it)", rel)
                self._removed.discard(rel)

    def _maybe_log(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_log >= self.status_every_s:
            self._last_log = now
            st = self.status
            log.info("replication %s -> %s: version %d of %d (%d behind), %d bytes sent, %.0f B/s",
                     self.src_path, self.dst, st.replicated_version, st.source_version,
                     st.versions_behind, st.bytes_sent, st.bytes_per_s)  # fmt: skip

    def run(self) -> ReplicationStatus:
        """Follow the source until :meth:`stop`; errors are logged and retried (backing off)."""
        backoff = self.poll_s
        while not self._stop.is_set():
            try:
                self.catch_up()
                backoff = self.poll_s
            except HistorianError as exc:
                self.status.last_error = str(exc)
                log.warning("replication to %s: %s; retrying in %.1f s", self.dst, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self._maybe_log()
            self._stop.wait(self.poll_s)
        if self._src is not None:
            self._src.release()
        return self.status


def replicate(src: Any, dst: Any, *, once: bool = False, follow_deletes: bool = False,
              max_bytes_per_s: float | None = None, poll_s: float = 1.0, diode: bool = False,
              **options: Any) -> ReplicationStatus:  # fmt: skip
    """Push the committed versions of the store ``src`` to ``dst`` and keep following it.

    ``dst`` is a folder, an ``s3://`` store or a receiver ``tls://HOST:PORT`` (then give
    ``tls_cert``, ``tls_key`` and ``tls_ca``), or with ``diode=True`` a ``udp://HOST:PORT``
    diode receiver (options ``repeat``, ``resend_s``, ``resend_versions``; no return channel, so
    the status counts what was sent, not what arrived). With ``once=True`` it catches up and
    returns; otherwise it follows until interrupted. The copy refuses writes; retired files stay
    in it unless ``follow_deletes`` (see ``docs/gateway.md``).

    Examples
    --------
    >>> import historian, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> ot, it = os.path.join(d, "ot.hist"), os.path.join(d, "it.hist")
    >>> with historian.open(ot) as h:
    ...     _ = h.define("A"); _ = h.write("A", historian.seconds([0, 1]), [1.0, 2.0]); h.flush()
    >>> historian.replicate(ot, it, once=True).versions_behind
    0
    >>> with historian.open(it) as c:
    ...     c.read("A").column("value").to_pylist()
    [1.0, 2.0]
    """
    if diode:
        return _replicate_diode(src, str(dst), once=once, max_bytes_per_s=max_bytes_per_s,
                                poll_s=poll_s, **options)  # fmt: skip
    r = Replicator(src, dst, follow_deletes=follow_deletes, max_bytes_per_s=max_bytes_per_s,
                   poll_s=poll_s, **options)  # fmt: skip
    if once:
        st = r.catch_up()
        r._maybe_log(force=True)
        return st
    try:
        return r.run()
    except KeyboardInterrupt:
        r.stop()
        return r.status


def _replicate_diode(src: Any, dst: str, *, once: bool, max_bytes_per_s: float | None,
                     poll_s: float, **options: Any) -> ReplicationStatus:  # fmt: skip
    from historian.gateway.diode import DiodeSender

    known = ("repeat", "resend_s", "resend_versions", "start_version", "status_every_s")
    extra = set(options) - set(known)
    if extra:
        raise InvalidArgumentError(f"diode mode does not take {', '.join(sorted(extra))}")
    options.pop("status_every_s", None)
    s = DiodeSender(src, dst, max_bytes_per_s=max_bytes_per_s, poll_s=poll_s, **options)
    try:
        if once:
            s.send_new()
        else:
            try:
                s.run()
            except KeyboardInterrupt:
                s.stop()
    finally:
        s.close()
    versions = s.src.versions()
    return ReplicationStatus(source_version=versions[-1] if versions else -1,
                             replicated_version=s.sent_upto)  # fmt: skip
