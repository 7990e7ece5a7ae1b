"""``historian repair``: rebuild what can be rebuilt, into a new version, keeping the evidence.

What it does, in this order (``dry_run=True``, the default, only reports it):

1. **Damaged newest commits** (not valid JSON, not matching their own chain record, not loadable
   by delta-rs, or named by the head record but missing): the damaged commit files, checkpoints
   after the last good version and the head record are *moved* into
   ``quarantine/<UTC time>/``; the log then ends at the last good version.
2. **A lost log** (``points/_delta_log`` missing or empty): a new table is created.
3. **Data files the log does not reference** (the files of a lost or damaged commit) are added
   back when their footer, page checksums and ``historian.index`` hold and no commit retired them
   (a compaction's or retention's leftovers are not resurrected); the stats come from the
   file's own index.
4. **Referenced files that are missing, or whose size or SHA-256 differs from their commit**
   are moved into ``quarantine/`` and removed from the table (their points are reported lost).
5. **Damaged WAL segments**: the valid batches are written to a new segment (replayed by the
   next writer) and the damaged segment is moved into ``quarantine/``.
6. **The tag catalog**: a damaged ``tags.json`` is moved into ``quarantine/``; every tag with
   points (in the files or the WAL) but no definition is defined again by name (units, ranges
   and rules must then be defined again).

Everything found is committed in one new version (``operation = "repair"``), recorded in the hash
chain like any commit. Repair needs the writer lock (no writer may run) and a local store.

Examples
--------
>>> import historian, tempfile
>>> path = tempfile.mkdtemp()
>>> with historian.open(path) as h:
...     _ = h.define("A")
...     _ = h.write("A", [0], [1.0])
>>> historian.repair(path).needed
False
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from historian.errors import CorruptDataError, InvalidArgumentError, StoreError
from historian.storage import health
from historian.storage.chain import HEAD_REL, bad_path, check_commit, parse_commit
from historian.storage.errmap import storage_errors
from historian.storage.fs import fsync_path, is_remote

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    """What repair found and what it did (or, in a dry run, would do)."""

    path: str
    dry_run: bool
    found: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    version: int | None = None  # the version the repair committed
    quarantine: str | None = None
    points_recovered: int = 0
    points_lost: int = 0

    @property
    def needed(self) -> bool:
        return bool(self.actions)

    def __str__(self) -> str:
        if not self.actions:
            return f"nothing to repair in {self.path}"
        lines = [f"{'dry run: would repair' if self.dry_run else 'repaired'} {self.path}"]
        lines += [f"  found: {f}" for f in self.found]
        verb = "would" if self.dry_run else "did"
        lines += [f"  {verb}: {a}" for a in self.actions]
        lines.append(
            f"  points {'to recover' if self.dry_run else 'recovered'}: {self.points_recovered:,}"
            f"; lost: {self.points_lost:,}"
        )
        if self.version is not None:
            lines.append(f"  committed as version {self.version}")
        if self.quarantine:
            lines.append(f"  evidence kept in {self.quarantine}")
        if self.dry_run:
            lines.append(
                "  (nothing was changed; run again with dry_run=False or without --dry-run)"
            )
        return "\n".join(lines)


def _file_facts(path: str) -> dict[str, Any]:
    """Check a data file whole (footer, page checksums, index) and describe it for a commit."""
    from historian.storage.files import INDEX_KEY

    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
        raw = (pf.metadata.metadata or {}).get(INDEX_KEY)
        if raw is None:
            raise CorruptDataError("no historian index")
        idx = json.loads(raw)
        rows = pf.metadata.num_rows
        table = pf.read(columns=["tag", "time"])  # decodes every page of them: checksums hold
        for g in range(pf.metadata.num_row_groups):  # and every other page
            pf.read_row_group(g)
        pf.close()
    except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
        raise CorruptDataError(f"{os.path.basename(path)}: {str(exc).splitlines()[0]}") from exc
    tags = idx["tags"]
    if table.num_rows != rows or not tags or len(idx["row_start"]) != len(tags):
        raise CorruptDataError(f"{os.path.basename(path)}: its index does not match its rows")
    unit = table.column("time").type.unit
    t = np.asarray(table.column("time").cast(pa.int64()).to_numpy()) * {
        "s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]  # fmt: skip
    return {
        "rows": rows,
        "tags": tags,
        "tag_min": tags[0],
        "tag_max": tags[-1],
        "time_min_ns": int(t.min()),
        "time_max_ns": int(t.max()),
        "ingested": idx.get("ingested", [0, 0]),
    }


def _move(src: str, root: str, quarantine: str) -> str:
    dst = os.path.join(quarantine, os.path.relpath(src, root))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.rename(src, dst)
    fsync_path(os.path.dirname(dst))
    fsync_path(os.path.dirname(src))
    log.info("repair: moved %s into %s", src, dst)
    return dst


def repair_store(path: str | os.PathLike[str], *, dry_run: bool = True) -> RepairReport:
    """Find the damage in the store at ``path`` and repair it (see the module documentation).

    ``dry_run=True`` (the default) changes nothing and reports what would be done. Returns a
    :class:`RepairReport`; ``str(report)`` is the human-readable account. ``historian repair
    STORE [--dry-run]`` is the same from the shell.

    Examples
    --------
    >>> import historian, os, tempfile
    >>> path = tempfile.mkdtemp()
    >>> with historian.open(path) as h:
    ...     _ = h.define("A")
    ...     _ = h.write("A", [0], [1.0])
    >>> os.remove(os.path.join(path, "points", "_delta_log", "00000000000000000001.json"))
    >>> report = historian.repair(path)  # a dry run: nothing changes
    >>> report.points_recovered, report.dry_run
    (1, True)
    >>> historian.repair(path, dry_run=False).version
    1
    """
    if is_remote(path):
        raise InvalidArgumentError("repair works on local stores; copy the store to disk first")
    root = os.path.abspath(os.fspath(path))
    table = os.path.join(root, "points")
    if not os.path.isdir(root):
        raise StoreError(f"no store at {root!r}")
    rep = RepairReport(root, dry_run)
    lock = None
    if not dry_run:
        from historian.storage.lock import WriterLock

        lock = WriterLock(root)
        lock.acquire()  # StoreLockedError while a writer runs
    try:
        with storage_errors(
            f"repairing {root}",
            "files already moved are in quarantine/ (listed in the log at INFO); "
            "fix the cause and run repair again",
        ):
            _repair(root, table, rep, dry_run)
    finally:
        if lock is not None:
            lock.release()
    if not dry_run:
        health.clear_under(root)
        log.info("repair of %s: %s", root, "; ".join(rep.actions) or "nothing to do")
    return rep


@dataclass
class _Plan:
    """What one repair does, built step by step in the module docstring's order."""

    root: str
    table: str
    stamp: str
    versions: list[int]
    moves: list[str] = field(default_factory=list)  # files to move into quarantine
    good: int | None = None  # the newest good version
    add: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    salvage: list[tuple[str, list[Any]]] = field(default_factory=list)
    undefined: list[str] = field(default_factory=list)
    wal_first: int | None = None

    @property
    def log_dir(self) -> str:
        return os.path.join(self.table, "_delta_log")

    @property
    def quarantine(self) -> str:
        return os.path.join(self.root, "quarantine", self.stamp)

    @property
    def new_log(self) -> bool:
        return not self.versions or self.good is None


def _repair(root: str, table: str, rep: RepairReport, dry_run: bool) -> None:
    log_dir = os.path.join(table, "_delta_log")
    versions = sorted(
        int(n[:-5]) for n in (os.listdir(log_dir) if os.path.isdir(log_dir) else [])
        if n.endswith(".json") and n[:-5].isdigit()
    )  # fmt: skip
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    plan = _Plan(root, table, stamp, versions)
    _plan_log(plan, rep)
    referenced = _plan_files(plan, rep)
    # 5. the WAL. Segments are deleted only once a commit covers them, so the segments below the
    # first one present were covered by commits whose files come back here.
    from historian.storage.wal import list_segments

    present = list_segments(os.path.join(root, "wal"))
    plan.wal_first = present[0] if present and plan.add else None
    wal_moves, plan.salvage = _plan_wal(root, rep)
    plan.moves += wal_moves
    # 6. the tag catalog
    live = [r for r in referenced
            if r not in plan.remove and os.path.exists(os.path.join(table, r))]  # fmt: skip
    catalog_move, plan.undefined = _plan_catalog(root, table, live, plan.add, plan.salvage, rep)
    plan.moves += catalog_move
    _describe(plan, rep)
    if dry_run or not rep.actions:
        return
    rep.quarantine = plan.quarantine
    rep.version = _apply(plan)


def _plan_log(plan: _Plan, rep: RepairReport) -> None:
    """Step 1: find the newest good version; damaged commits, their checkpoints, the head go."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    versions, table, log_dir = plan.versions, plan.table, plan.log_dir
    damaged: list[int] = []
    head = _read_head(table)
    for v in reversed(versions):
        why = _commit_problem(table, v, v == versions[-1] and head)
        if why is None:
            try:
                DeltaTable(table, version=v)
            except DeltaError as exc:
                why = str(exc).strip().splitlines()[0]
        if why is None:
            plan.good = v
            break
        damaged.append(v)
        rep.found.append(f"commit {v} is damaged: {why}")
    hv = head.get("version") if head is not None else None
    if versions and isinstance(hv, int) and hv > versions[-1]:
        rep.found.append(f"commit {hv} is missing (named by the head record)")
    plan.moves += [os.path.join(log_dir, f"{v:020d}.json") for v in sorted(damaged)]
    if plan.good is not None:
        plan.moves += _checkpoints_after(log_dir, plan.good, bool(damaged))
    head_path = os.path.join(table, HEAD_REL)
    if os.path.exists(head_path) and (damaged or plan.new_log or (
        head is not None and head.get("version", -1) > versions[-1]
    )):  # fmt: skip
        plan.moves.append(head_path)
    if not versions:
        rep.found.append("the commit log (points/_delta_log) is missing or empty")
    elif plan.good is None:
        rep.found.append("no version of the commit log can be read")


def _checkpoints_after(log_dir: str, good: int, damaged: bool) -> list[str]:
    """Checkpoints of damaged versions, and the pointer to one."""
    moves = []
    for name in sorted(os.listdir(log_dir)):
        base = name.split(".", 1)[0]
        if name.endswith(".parquet") and base.isdigit() and int(base) > good:
            moves.append(os.path.join(log_dir, name))
    last_cp = os.path.join(log_dir, "_last_checkpoint")
    if damaged and os.path.exists(last_cp):
        try:
            with open(last_cp) as f:
                if int(json.load(f).get("version", -1)) > good:
                    moves.append(last_cp)
        except (ValueError, OSError):
            moves.append(last_cp)
    return moves


def _plan_files(plan: _Plan, rep: RepairReport) -> dict[str, int]:
    """Steps 2-4: files to add back and to remove; returns what the good version references."""
    from deltalake import DeltaTable

    referenced: dict[str, int] = {}
    retired: set[str] = set()
    acts = None
    if plan.good is not None:
        dt = DeltaTable(plan.table, version=plan.good)
        acts = pa.table(dt.get_add_actions(flatten=True))
        referenced = dict(
            zip(acts.column("path").to_pylist(), acts.column("size_bytes").to_pylist(), strict=True)
        )
        retired = _retired(plan.log_dir, plan.versions, plan.good)
    for rel in sorted(set(_data_files(plan.table)) - set(referenced) - retired):
        try:
            facts = _file_facts(os.path.join(plan.table, rel))
        except CorruptDataError as exc:
            rep.found.append(f"unreferenced data file {rel} is damaged ({exc})")
            plan.moves.append(os.path.join(plan.table, rel))
            continue
        rep.found.append(f"data file {rel} ({facts['rows']:,} points) is in no commit")
        plan.add.append((rel, facts))
        rep.points_recovered += facts["rows"]
    hashes = _recorded_hashes(plan.table, plan.versions, plan.good)
    for rel, size in sorted(referenced.items()):
        if bad_path(rel) is not None:
            rep.found.append(f"the log adds {rel!r}, {bad_path(rel)} outside the table")
            plan.remove.append(rel)
            continue
        full = os.path.join(plan.table, rel)
        problem = _file_problem(full, size, hashes.get(rel))
        if problem is not None:
            rows = _rows_of(acts, rel) if acts is not None else 0
            rep.found.append(f"data file {rel} {problem} ({rows:,} points lost)")
            rep.points_lost += rows
            plan.remove.append(rel)
            if os.path.exists(full):
                plan.moves.append(full)
    return referenced


def _retired(log_dir: str, versions: list[int], good: int) -> set[str]:
    """Files some commit up to ``good`` removed: a compaction's leftovers stay dead."""
    retired: set[str] = set()
    for v in versions:
        if v <= good:
            try:
                with open(os.path.join(log_dir, f"{v:020d}.json"), "rb") as f:
                    retired.update(parse_commit(v, f.read()).removes)
            except (OSError, CorruptDataError):
                pass
    return retired


def _data_files(table: str) -> list[str]:
    on_disk = []
    for dirpath, dirs, names in os.walk(table):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        for n in names:
            if n.endswith(".parquet"):
                rel = os.path.relpath(os.path.join(dirpath, n), table)
                on_disk.append(rel.replace(os.sep, "/"))
    return on_disk


def _file_problem(full: str, size: int, sha: str | None) -> str | None:
    if not os.path.exists(full):
        return "is missing"
    if os.path.getsize(full) != size:
        return f"has {os.path.getsize(full)} bytes, its commit says {size}"
    if sha is not None:
        from historian.storage.chain import sha256_stream

        with open(full, "rb") as f:
            if sha256_stream(f)[0] != sha:
                return "differs from its commit (SHA-256)"
    return None


def _describe(plan: _Plan, rep: RepairReport) -> None:
    for m in plan.moves:
        rep.actions.append(f"move {os.path.relpath(m, plan.root)} into quarantine/{plan.stamp}/")
    if plan.new_log:
        rep.actions.append("create a new commit log")
    if plan.add:
        rep.actions.append(f"add {len(plan.add)} data file(s) back "
                           f"({rep.points_recovered:,} points)")  # fmt: skip
    if plan.remove:
        rep.actions.append(f"remove {len(plan.remove)} damaged or missing file(s) from the table")
    if plan.undefined:
        rep.actions.append(f"define {len(plan.undefined)} tag(s) from the data files (names "
                           "only: units and rules must be defined again)")  # fmt: skip
    for seg, batches in plan.salvage:
        npoints = sum(len(b) for b in batches)
        rep.actions.append(f"write the {len(batches)} valid batch(es) ({npoints:,} points) of "
                           f"{os.path.basename(seg)} to a new WAL segment")  # fmt: skip


def _apply(plan: _Plan) -> int | None:
    """Carry the plan out; returns the version committed (None: no commit was needed)."""
    from deltalake import DeltaTable

    for _seg, batches in plan.salvage:
        _write_salvaged(plan.root, batches)
    for m in plan.moves:
        _move(m, plan.root, plan.quarantine)
    if plan.new_log:
        log_dir = plan.log_dir
        if os.path.isdir(log_dir) and os.listdir(log_dir):
            for n in sorted(os.listdir(log_dir)):
                _move(os.path.join(log_dir, n), plan.root, plan.quarantine)
        from historian.storage.files import PARTITION_COLUMNS, TABLE_SCHEMA
        from historian.storage.table import TABLE_CONFIG

        DeltaTable.create(plan.table, schema=TABLE_SCHEMA, partition_by=PARTITION_COLUMNS,
                          configuration=TABLE_CONFIG, name="points",
                          description="historian points")  # fmt: skip
    version = None
    if plan.add or plan.remove:
        version = _commit(plan.table, plan.add, plan.remove, plan.wal_first)
    if plan.undefined:
        from historian.model.tags import Tag
        from historian.storage.catalog import Catalog

        catalog = Catalog(plan.root)
        for name in plan.undefined:
            catalog.put(Tag(name=name))
    return version


def _plan_catalog(
    root: str,
    table: str,
    live: list[str],
    add: list[tuple[str, dict[str, Any]]],
    salvage: list[tuple[str, list[Any]]],
    rep: RepairReport,
) -> tuple[list[str], list[str]]:
    """(files to move, tag names to define): a damaged ``tags.json``, tags with no definition."""
    from historian.model.tags import validate_tag_name
    from historian.storage.catalog import Catalog
    from historian.storage.files import INDEX_KEY
    from historian.storage.wal import list_segments, segment_name
    from historian.storage.walread import scan_segment

    path = os.path.join(root, "tags.json")
    moves: list[str] = []
    try:
        known = {t.name for t in Catalog(root).all()}
    except CorruptDataError as exc:
        why = str(exc).split(":")[-1].strip()
        rep.found.append(f"the tag catalog tags.json is damaged ({why})")
        moves.append(path)
        known = set()
    names: set[str] = set()
    for rel in live:
        try:
            meta = pq.read_metadata(os.path.join(table, rel)).metadata or {}
            names.update(json.loads(meta[INDEX_KEY])["tags"])
        except (pa.ArrowException, OSError, ValueError, KeyError):
            continue  # a damaged file: reported by the file checks
    for _, facts in add:
        names.update(facts["tags"])
    wal_dir = os.path.join(root, "wal")
    salvaged = {seg for seg, _ in salvage}
    batches = [b for _, bs in salvage for b in bs]
    for seg in list_segments(wal_dir):
        seg_path = os.path.join(wal_dir, segment_name(seg))
        if seg_path not in salvaged:
            batches += scan_segment(seg_path).batches
    for b in batches:
        names.update(str(n) for n in b.names)
    undefined = []
    for name in sorted(names - known):
        try:
            undefined.append(validate_tag_name(name))
        except ValueError:
            rep.found.append(f"points of an invalid tag name {name!r} (left undefined)")
    if undefined and not moves:
        rep.found.append(f"{len(undefined)} tag(s) have points but no definition, e.g. "
                         f"{undefined[:3]}")  # fmt: skip
    return moves, undefined


def _read_head(table: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(table, HEAD_REL), "rb") as f:
            head: dict[str, Any] = json.loads(f.read())
            return head
    except (OSError, ValueError):
        return None


def _commit_problem(table: str, v: int, head: Any) -> str | None:
    try:
        with open(os.path.join(table, "_delta_log", f"{v:020d}.json"), "rb") as f:
            c = parse_commit(v, f.read())
    except CorruptDataError as exc:
        return str(exc)
    if isinstance(head, dict) and head.get("version") == v and head.get("sha256") != c.sha256:
        return "changed after it was written (SHA-256 differs from the head record)"
    return check_commit(c)


def _recorded_hashes(table: str, versions: list[int], good: int | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for v in versions:
        if good is None or v > good:
            break
        try:
            with open(os.path.join(table, "_delta_log", f"{v:020d}.json"), "rb") as f:
                rec = parse_commit(v, f.read()).record
        except (OSError, CorruptDataError):
            continue
        if rec is None:
            continue
        for p, (_, h) in rec.get("manifest", {}).items():
            out.setdefault(p, h)
        for p, _, h, _ in rec["adds"]:
            out[p] = h
    return out


def _rows_of(acts: pa.Table, rel: str) -> int:
    paths = acts.column("path").to_pylist()
    if "num_records" not in acts.column_names or rel not in paths:
        return 0
    return int(acts.column("num_records")[paths.index(rel)].as_py() or 0)


def _plan_wal(root: str, rep: RepairReport) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    from historian.storage.wal import list_segments, segment_name
    from historian.storage.walread import scan_segment

    wal_dir = os.path.join(root, "wal")
    moves, salvage = [], []
    for seg in list_segments(wal_dir):
        path = os.path.join(wal_dir, segment_name(seg))
        scan = scan_segment(path)
        if not scan.damage:
            continue
        for what in scan.damage:
            rep.found.append(f"WAL segment {segment_name(seg)}: {what}")
        moves.append(path)
        if scan.batches:
            salvage.append((path, scan.batches))
    return moves, salvage


def _write_salvaged(root: str, batches: list[Any]) -> None:
    from historian.storage.wal import WalWriter, list_segments

    wal_dir = os.path.join(root, "wal")
    w = WalWriter(wal_dir, max([0, *list_segments(wal_dir)]) + 1)
    try:
        for b in batches:
            w.append(b)
    finally:
        w.close()


def _commit(
    table: str, add: list[tuple[str, dict[str, Any]]], remove: list[str], wal_first: int | None
) -> int:
    from historian.storage.files import WrittenFile
    from historian.storage.table import CommitLog

    written = []
    for rel, f in add:
        written.append(
            WrittenFile(
                relpath=rel,
                day=rel.split("/", 1)[0].removeprefix("day="),
                size=os.path.getsize(os.path.join(table, rel)),
                rows=f["rows"],
                tag_min=f["tag_min"],
                tag_max=f["tag_max"],
                time_min_ns=f["time_min_ns"],
                time_max_ns=f["time_max_ns"],
                ingested_min_us=int(f["ingested"][0]),
                ingested_max_us=int(f["ingested"][1]),
            )
        )
    # The damaged files are what this commit removes: the log opens without checking them.
    cl = CommitLog(table, create=False, check_files=False)
    covered = None if wal_first is None else wal_first - 1
    if covered is not None and covered <= cl.snapshot().wal_upto:
        covered = None  # already recorded
    return cl.commit(written, remove, wal_upto=covered, operation="repair")
