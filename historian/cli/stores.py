"""The store commands: ``info``, ``verify``, ``repair``, ``compact`` and ``retain``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from historian.cli._common import (
    _NO_PROGRESS,
    AddCommand,
    _fmt_bytes,
    _fmt_int,
    _fmt_time,
    _one_line,
    _open_store,
    _out,
    _status,
    _table,
)

if TYPE_CHECKING:
    import argparse

__all__ = ["cmd_compact", "cmd_info", "cmd_repair", "cmd_retain", "cmd_verify", "register"]


def cmd_info(args: argparse.Namespace) -> int:
    from historian.errors import CorruptDataError

    try:
        with _open_store(args.store) as h:
            i = h.info()
            tags = h.tags() if i["tags"] is not None else None
    except CorruptDataError as exc:  # damaged beyond opening: exit 1 (2 is a usage error)
        _status(f"problem: {_one_line(exc)}")
        _status(f"the store is damaged; run `historian verify {args.store}` and "
                f"`historian repair {args.store} --dry-run`")  # fmt: skip
        return 1
    points = i["points"]  # each (tag, time) once; rows when too many to count
    bpp = i["bytes_per_point"]
    _out(f"path        {i['path']}")
    _out(f"tags        {_fmt_int(i['tags'])}")
    pending = f" ({_fmt_int(i['points_pending'])} not yet in files)" if i["points_pending"] else ""
    _out(f"points      {_fmt_int(points)}{pending}")
    _out(f"files       {_fmt_int(i['files'])}  ({_fmt_bytes(i['bytes'])})")
    _out(f"bytes/point {'-' if bpp is None else f'{bpp:.2f}'}")
    _out(f"time span   {_fmt_time(i['first_ns'], ms=True)} .. {_fmt_time(i['last_ns'], ms=True)}")
    _out(f"version     {i['version'] if i['version'] is not None else '-'}")
    _out(f"health      {i['health']}")
    if i["problems"]:
        for problem in i["problems"]:
            _status(f"problem: {problem}")
        _status("the store is damaged; see docs/storage.md 'When something is damaged', or run "
                f"`historian verify {args.store}` and `historian repair {args.store} "
                "--dry-run`")  # fmt: skip
        return 1
    if tags is not None and tags.num_rows:
        _out()
        cols = [tags.column(c).to_pylist() for c in ("name", "unit", "kind", "description")]
        rows = [[n, u or "", k, d or ""] for n, u, k, d in zip(*cols, strict=True)]
        shown = rows[: args.max_tags] if args.max_tags else rows
        _out(_table(["tag", "unit", "kind", "description"], shown, "llll"))
        if len(shown) < len(rows):
            _out(f"... and {len(rows) - len(shown)} more (--max-tags 0 lists all)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    import historian

    report = historian.verify(args.store, public_key=args.public_key,
                              hashes=not args.sizes_only)  # fmt: skip
    _out(str(report))
    return 0 if report.ok else 1


def cmd_repair(args: argparse.Namespace) -> int:
    import historian

    report = historian.repair(args.store, dry_run=args.dry_run)
    _out(str(report))
    return 1 if args.dry_run and report.needed else 0


def cmd_compact(args: argparse.Namespace) -> int:
    with _open_store(args.store, mode="w") as h:
        before = h.info()
        replaced = h.compact(full=args.full, progress=False if args.no_progress else None)
        after = h.info()
    _out(f"compacted {args.store}: {replaced} file(s) replaced; files {before['files']} -> "
         f"{after['files']}, {_fmt_bytes(before['bytes'])} -> "
         f"{_fmt_bytes(after['bytes'])}")  # fmt: skip
    if replaced:
        _out("replaced files are deleted after a grace period (readers of older snapshots)")
    return 0


def cmd_retain(args: argparse.Namespace) -> int:
    older_than = " ".join(args.older_than)  # `--older-than 1 week` is two words to the shell
    with _open_store(args.store, mode="w") as h:
        dropped = h.retain(older_than)
        info = h.info()
    _out(f"dropped {_fmt_int(dropped)} point(s) older than {older_than}; "
         f"{_fmt_int(info['points'])} left, time span "
         f"{_fmt_time(info['first_ns'])} .. {_fmt_time(info['last_ns'])}")  # fmt: skip
    return 0


def register(add: AddCommand) -> None:
    """Add the commands of this module to the ``historian`` parser."""
    p = add("info", "Show a store: path, tags, points, files, bytes/point, time span.",
            "historian info demo.hist", cmd_info)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--max-tags", type=int, default=50, help="tags to list (0: all; default 50)")

    p = add("verify", "Check the hash chain of commits and every file's size and SHA-256; "
            "exit 1 naming the first break (version, file, what differs).",
            "historian verify demo.hist --public-key chain.pub", cmd_verify)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--public-key", metavar="PEM",
                   help="Ed25519 public key (PEM file, or env:NAME) the commits must be signed "
                        "with")  # fmt: skip
    p.add_argument(
        "--sizes-only",
        action="store_true",
        help="check file sizes, not SHA-256 (fast; misses same-size rewrites)",
    )

    p = add("repair", "Rebuild what can be rebuilt (damaged newest commit, lost log, files lost "
            "from the log, damaged WAL batches) into a new version; evidence goes to "
            "quarantine/.", "historian repair demo.hist --dry-run", cmd_repair)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--dry-run", action="store_true",
                   help="report what was found and what would be done; change nothing "
                        "(exit 1 when a repair is needed)")  # fmt: skip

    p = add("compact", "Merge small files and resolve duplicates (safe while readers run).",
            "historian compact demo.hist --full", cmd_compact)  # fmt: skip
    p.add_argument("store")
    p.add_argument("--full", action="store_true", help="rewrite every day with 2+ files")
    p.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)

    p = add("retain", "Drop points older than an age or a time (safe while readers run).",
            "historian retain demo.hist --older-than 30d", cmd_retain)  # fmt: skip
    p.add_argument("store")
    p.add_argument(
        "--older-than",
        required=True,
        nargs="+",
        metavar="AGE|TIME",
        help="an age (30d, 12h, '1 week', 1 week) or a time (ISO)",
    )
