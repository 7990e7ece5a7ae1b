"""``historian verify``: check the whole hash chain of the commit log and every file's hash.

What is checked (the record format is in :mod:`historian.storage.chain`):

* every commit file is present (no gap) and is valid JSON, each chained commit matches its own
  record (paths, sizes, stats, removes, WAL position) and links to the previous commit's SHA-256;
* the head record (``points/_historian/head.json``) names the newest commit and its SHA-256;
* with a public key: every commit from the first signed one on, and the head, carry a valid
  Ed25519 signature of that key (and at least one does);
* the live files the log (with its checkpoints) lists are the ones the chain says, their paths
  stay inside the table, and each file's size and SHA-256 are the recorded ones.

Stores written before the chain existed report ``unchained_before`` (the first chained version)
instead of a break. The report names the first break: version, file, what differs.

Examples
--------
>>> import historian, tempfile
>>> path = tempfile.mkdtemp()
>>> with historian.open(path) as h:
...     _ = h.define("A")
...     _ = h.write("A", [0, 1], [1.0, 2.0])
>>> report = verify_store(path)
>>> report.ok, report.files
(True, 1)
"""

from __future__ import annotations

import os
import time as _time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from historian.errors import CorruptDataError, StoreError
from historian.storage.chain import (
    HEAD_REL,
    HOUSEKEEPING,
    Commit,
    Verifier,
    bad_path,
    check_commit,
    head_text,
    parse_commit,
    sha256_stream,
)
from historian.storage.errmap import storage_errors
from historian.storage.fs import StoreFS


@dataclass(frozen=True)
class Break:
    """One place where the store differs from what was committed."""

    version: int | None  # the commit concerned (None: not tied to one)
    file: str | None  # the data or log file concerned
    what: str

    def __str__(self) -> str:
        at = [] if self.version is None else [f"version {self.version}"]
        at += [] if self.file is None else [self.file]
        return f"{', '.join(at) or 'store'}: {self.what}"


@dataclass
class VerifyReport:
    """The result of :func:`verify_store`; ``ok`` is False when anything was broken."""

    path: str
    version: int | None = None
    commits: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    unchained_before: int | None = None
    unhashed_files: int = 0
    signed: bool = False
    breaks: list[Break] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> Break | None:
        """The earliest break (by commit version, then file)."""
        if not self.breaks:
            return None
        return min(self.breaks, key=lambda b: -1 if b.version is None else b.version)

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_table(self) -> pa.Table:
        """The breaks as a table (version, file, what), earliest first."""
        rows = sorted(self.breaks, key=lambda b: -1 if b.version is None else b.version)
        return pa.table(
            {
                "version": pa.array([b.version for b in rows], pa.int64()),
                "file": pa.array([b.file for b in rows], pa.string()),
                "what": pa.array([b.what for b in rows], pa.string()),
            }
        )

    def __str__(self) -> str:
        head = (
            f"{'intact' if self.ok else 'BROKEN'}: {self.path} at version {self.version}, "
            f"{self.commits} commit(s), {self.files} file(s), {self.bytes / 1e6:.1f} MB hashed "
            f"in {self.seconds:.2f} s ({self.mb_per_s:.0f} MB/s)"
            + (", signed" if self.signed else "")
        )
        lines = [head]
        if self.unchained_before is not None:
            lines.append(
                f"  unchained before version {self.unchained_before} (written before the hash "
                "chain existed; their files are checked by size only)"
            )
        lines += [f"  note: {n}" for n in self.notes]
        first = self.first_break
        if first is not None:
            lines.append(f"  first break: {first}")
            lines += [f"  also: {b}" for b in self.breaks if b is not first][:20]
        return "\n".join(lines)


def _live_from_log(table_uri: str, storage_options: dict[str, Any] | None) -> dict[str, int] | str:
    """Path -> size of the newest version as delta-rs (and so every reader) sees it."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    try:
        dt = DeltaTable(table_uri, storage_options=storage_options)
        actions = pa.table(dt.get_add_actions(flatten=True))
    except DeltaError as exc:
        return str(exc).strip().splitlines()[0]
    return dict(
        zip(
            actions.column("path").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            strict=True,
        )
    )


def verify_store(
    path: str | os.PathLike[str],
    *,
    public_key: Any = None,
    hashes: bool = True,
    threads: int = 2,
    storage_options: dict[str, Any] | None = None,
) -> VerifyReport:
    """Check the commit chain and every live file of the store at ``path``.

    ``public_key``: an Ed25519 public key (PEM path, ``"env:NAME"`` or PEM bytes) that every
    commit from the first signed one on must be signed with. ``hashes=False`` checks sizes only.
    Never changes anything. See :mod:`historian.storage.verify` for the list of checks;
    ``historian verify STORE`` is the same from the shell.

    Examples
    --------
    >>> import historian, tempfile
    >>> path = tempfile.mkdtemp()
    >>> with historian.open(path) as h:
    ...     _ = h.define("A")
    ...     _ = h.write("A", [0], [1.0])
    >>> historian.verify(path).ok
    True
    """
    with storage_errors(f"verifying {path}", "nothing was changed; fix the cause and retry"):
        return _verify(path, public_key, hashes, threads, storage_options)


_LOGDIR = "points/_delta_log"
_Live = dict[str, tuple[int, str | None, int]]  # path -> size, sha, version added


def _verify(
    path: str | os.PathLike[str],
    public_key: Any,
    hashes: bool,
    threads: int,
    storage_options: dict[str, Any] | None,
) -> VerifyReport:
    t0 = _time.perf_counter()
    fs = StoreFS.from_uri(path, storage_options)
    if fs.is_local and not os.path.isdir(fs.uri):
        raise StoreError(f"no store at {fs.uri!r}: the folder does not exist (check the path)")
    verifier = None if public_key is None else Verifier(public_key)
    rep = VerifyReport(fs.uri)
    versions = _list_versions(fs)
    if not versions:
        _report_no_log(fs, rep)
    else:
        _check_gaps(rep, versions)
        replay = _Replay(fs, rep, verifier, complete=versions[0] == 0)
        for v in versions:
            replay.commit(v)
        replay.finish(versions)
        _check_head(fs, rep, replay.prev, verifier)
        live = _reconcile_with_log(fs, rep, replay.live, replay.complete)
        _check_files(fs, rep, live, hashes, threads)
    rep.seconds = _time.perf_counter() - t0
    return rep


def _list_versions(fs: StoreFS) -> list[int]:
    names = (n.rsplit("/", 1)[-1] for n in fs.list(_LOGDIR))
    return sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())


def _report_no_log(fs: StoreFS, rep: VerifyReport) -> None:
    data = [n for n in fs.list("points", recursive=True) if n.endswith(".parquet")]
    what = "no commit log (points/_delta_log is missing or empty)"
    if data:
        what += f" but {len(data)} data file(s) exist: run `historian repair {fs.uri}`"
    rep.breaks.append(Break(None, _LOGDIR, what))


def _check_gaps(rep: VerifyReport, versions: list[int]) -> None:
    rep.version = versions[-1]
    present = set(versions)
    for v in range(versions[0], versions[-1] + 1):
        if v not in present:
            rep.breaks.append(Break(v, _commit_rel(v), "commit file is missing"))
    if versions[0] > 0:
        rep.notes.append(f"commits before version {versions[0]} were cleaned up by the log "
                         "retention; the chain starts there")  # fmt: skip


def _commit_rel(v: int) -> str:
    return f"{_LOGDIR}/{v:020d}.json"


@dataclass
class _Replay:
    """Replays the commits oldest first: which files live, and where the chain breaks."""

    fs: StoreFS
    rep: VerifyReport
    verifier: Verifier | None
    complete: bool  # the replay knows every live file (no commit was cleaned up)
    live: _Live = field(default_factory=dict)
    prev: Commit | None = None
    first_signed: int | None = None
    chain_started: bool = False
    legacy: bool = False  # commits written before the hash chain existed

    def commit(self, v: int) -> None:
        rel = _commit_rel(v)
        try:
            c = parse_commit(v, self.fs.read_bytes(rel))
        except CorruptDataError as exc:
            self.rep.breaks.append(Break(v, rel, str(exc)))
            self.prev = None
            return
        self.rep.commits += 1
        rec = c.record  # parsed on each access
        if rec is None:
            self._unchained(c, rel)
        else:
            self._chained(c, rec, rel)
        self.prev = c

    def _unchained(self, c: Commit, rel: str) -> None:
        housekeeping = c.operation in HOUSEKEEPING and not (c.adds or c.removes)
        if self.chain_started and not housekeeping:
            what = "commit carries no chain record (written by another tool, or forged)"
            self.rep.breaks.append(Break(c.version, rel, what))
        elif c.version > 0 and not housekeeping:
            self.legacy = True
        _apply_unchained(c, self.live)

    def _chained(self, c: Commit, rec: dict[str, Any], rel: str) -> None:
        v = c.version
        if not self.chain_started:
            self.chain_started = True
            if self.legacy:
                self.rep.unchained_before = v
        why = check_commit(c)
        if why is not None:
            self.rep.breaks.append(Break(v, rel, why))
        prev = self.prev
        if prev is not None and prev.version == v - 1 and rec["prev"] != prev.sha256:
            self.rep.breaks.append(Break(v - 1, _commit_rel(v - 1),
                                         f"changed after commit {v} was written (its SHA-256 is "
                                         f"not the one commit {v} recorded)"))  # fmt: skip
        self._check_signature(c, rec, rel)
        for p in rec["removes"]:
            self.live.pop(p, None)
        for p, s, h, _ in rec["adds"]:
            self.live[p] = (int(s), h, v)
        if "manifest" in rec:
            self._check_manifest(v, rec["manifest"], rel)

    def _check_signature(self, c: Commit, rec: dict[str, Any], rel: str) -> None:
        verifier = self.verifier
        if verifier is None:
            return
        if c.sig is not None and self.first_signed is None:
            self.first_signed = c.version
        signed_ok = rec.get("key") == verifier.key_id and verifier.check(c.record_text or "", c.sig)
        if self.first_signed is not None and not signed_ok:
            self.rep.breaks.append(Break(c.version, rel, "signature missing or not made with "
                                                         "this key"))  # fmt: skip

    def _check_manifest(self, v: int, raw: dict[str, Any], rel: str) -> None:
        manifest = {p: (int(s), h) for p, (s, h) in raw.items()}
        if not self.complete:  # the oldest commits were cleaned up: the manifest says what lives
            self.live = {p: (s, h, self.live.get(p, (0, None, v))[2])
                         for p, (s, h) in manifest.items()}  # fmt: skip
            self.complete = True
            return
        known = {p: (s, h) for p, (s, h, _) in self.live.items()}
        differ = sorted(p for p in set(known) | set(manifest)
                        if p not in known or p not in manifest
                        or known[p][0] != manifest[p][0]
                        or (None not in (known[p][1], manifest[p][1])
                        and known[p][1] != manifest[p][1]))  # fmt: skip
        if differ:
            self.rep.breaks.append(Break(v, rel, f"its manifest disagrees with the chain "
                                                 f"about {differ[0]}"))  # fmt: skip

    def finish(self, versions: list[int]) -> None:
        """What the whole replay says: where the chain starts and whether it is signed."""
        rep = self.rep
        if self.legacy and not self.chain_started:
            rep.unchained_before = versions[-1] + 1
        if self.verifier is None:
            return
        rep.signed = self.first_signed is not None
        if self.first_signed is None:
            rep.breaks.append(Break(rep.version, None, "no commit is signed with this key"))
        elif self.first_signed > versions[0]:
            rep.notes.append(f"commits before version {self.first_signed} are not signed")


def _reconcile_with_log(fs: StoreFS, rep: VerifyReport, live: _Live, complete: bool) -> _Live:
    """The live files as the chain says, checked against what delta-rs (every reader) loads."""
    seen = _live_from_log(fs.uri_of("points"), fs.delta_storage_options())
    if isinstance(seen, str):
        rep.breaks.append(Break(rep.version, None, f"the log does not load: {seen}"))
        seen = {p: s for p, (s, _, _) in live.items()}
    for p, size in seen.items():
        if p not in live:
            if complete:
                rep.breaks.append(Break(None, p, "listed by the log (or its checkpoint) but "
                                                 "added by no commit of the chain"))  # fmt: skip
            live[p] = (int(size), None, -1)
        elif live[p][0] != size:
            rep.breaks.append(Break(live[p][2], p, f"the log says {size} bytes, the chain "
                                                   f"{live[p][0]}"))  # fmt: skip
    for p in [p for p in live if p not in seen]:
        what = "in the chain but not in the log's snapshot (a remove or checkpoint was forged)"
        rep.breaks.append(Break(live[p][2], p, what))
        del live[p]
    return live


def _apply_unchained(c: Commit, live: dict[str, tuple[int, str | None, int]]) -> None:
    for p in c.removes:
        live.pop(p, None)
    for a in c.adds:
        live[str(a.get("path"))] = (int(a.get("size", -1)), None, c.version)


def _check_head(fs: StoreFS, rep: VerifyReport, newest: Commit | None, verifier: Any) -> None:
    import json

    try:
        head = json.loads(fs.read_bytes(f"points/{HEAD_REL}"))
    except FileNotFoundError:
        if rep.unchained_before is None and newest is not None and newest.record is not None:
            rep.notes.append("no head record (points/_historian/head.json): a deleted newest "
                             "commit would not show")  # fmt: skip
        return
    except ValueError:
        rep.breaks.append(Break(None, f"points/{HEAD_REL}", "head record is not valid JSON"))
        return
    hv, hs = head.get("version"), head.get("sha256")
    assert rep.version is not None
    if not isinstance(hv, int):
        rep.breaks.append(Break(None, f"points/{HEAD_REL}", "head record has no version"))
    elif hv > rep.version and fs.exists(f"points/_delta_log/{hv:020d}.json"):
        rep.notes.append(f"commits after version {rep.version} arrived while verifying")
    elif hv > rep.version:
        rep.breaks.append(Break(hv, f"points/_delta_log/{hv:020d}.json",
                                f"commit is missing: the head record names version {hv}, the "
                                f"log ends at {rep.version} (deleted?)"))  # fmt: skip
    elif hv == rep.version and newest is not None and newest.version == hv and hs != newest.sha256:
        rep.breaks.append(Break(hv, f"points/_delta_log/{hv:020d}.json",
                                "changed after it was written (SHA-256 differs from the head "
                                "record)"))  # fmt: skip
    elif hv < rep.version:
        rep.notes.append(f"the head record names version {hv} (a crash between a commit and "
                         "its head record); the next commit updates it")  # fmt: skip
    if (
        verifier is not None
        and rep.signed
        and isinstance(hv, int)
        and (
            head.get("key") != verifier.key_id
            or not verifier.check(head_text(hv, str(hs)), head.get("sig"))
        )
    ):
        what = "head record signature missing or not made with this key"
        rep.breaks.append(Break(hv, f"points/{HEAD_REL}", what))


def _check_files(
    fs: StoreFS,
    rep: VerifyReport,
    live: dict[str, tuple[int, str | None, int]],
    hashes: bool,
    threads: int,
) -> None:
    todo = []
    for p, (size, sha, v) in sorted(live.items()):
        why = bad_path(p)
        if why is not None:
            rep.breaks.append(Break(v if v >= 0 else None, p, f"add path is {why} outside the "
                                                             "table"))  # fmt: skip
            continue
        todo.append((p, size, sha, v))
        if sha is None:
            rep.unhashed_files += 1

    def one(item: tuple[str, int, str | None, int]) -> tuple[int, Break | None]:
        p, size, sha, v = item
        ver = v if v >= 0 else None
        rel = f"points/{p}"
        try:
            got = fs.size(rel)
        except (FileNotFoundError, StoreError):
            return 0, Break(ver, p, "data file is missing")
        if got != size:
            return 0, Break(ver, p, f"size is {got} bytes, the commit recorded {size}")
        if not hashes or sha is None:
            return 0, None
        try:
            with fs.open_input(rel) as f:
                digest, n = sha256_stream(f)
        except OSError as exc:
            return 0, Break(ver, p, f"cannot be read ({getattr(exc, 'strerror', None) or exc})")
        if digest != sha:
            return n, Break(ver, p, f"content differs from the commit (SHA-256 {digest[:12]}... "
                                    f"instead of {sha[:12]}...)")  # fmt: skip
        return n, None

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for n, brk in pool.map(one, todo):
            rep.files += 1
            rep.bytes += n
            if brk is not None:
                rep.breaks.append(brk)
    if rep.unhashed_files:
        rep.notes.append(f"{rep.unhashed_files} file(s) have no recorded SHA-256 (added before "
                         "the chain): checked by size only")  # fmt: skip
