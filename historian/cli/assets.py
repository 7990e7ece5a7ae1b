"""The ``assets`` command: list a store's asset model, show attributes and tags, load or dump
its TOML."""

from __future__ import annotations

from typing import TYPE_CHECKING

from historian.cli._common import AddCommand, _open_store, _out, _table

if TYPE_CHECKING:
    import argparse

__all__ = ["cmd_assets", "register"]


def cmd_assets(args: argparse.Namespace) -> int:
    if args.load:
        with _open_store(args.store, mode="auto") as h:
            n = h.assets.load_toml(args.load)
            _out(f"{n} templates and assets new or changed from {args.load}")
            return 0
    with _open_store(args.store) as h:
        if args.toml:
            _out(h.assets.to_toml().rstrip("\n"))
            return 0
        if args.attributes:
            t = h.assets.attribute_tags(args.pattern, args.template)
            cols = ["asset", "attribute", "tag", "expression", "symbol", "lo", "hi"]
            rows = [
                ["" if v is None else str(v) for v in r]
                for r in zip(*(t.column(c).to_pylist() for c in cols), strict=True)
            ]
            _out(
                _table(
                    ["asset", "attribute", "tag", "expression", "unit", "lo", "hi"], rows, "lllllrr"
                )
            )
            return 0
        t = h.assets.find(args.pattern, args.template)
        cols = ["path", "template", "level", "description"]
        rows = [
            ["" if v is None else str(v) for v in r]
            for r in zip(*(t.column(c).to_pylist() for c in cols), strict=True)
        ]
        if rows:
            _out(_table(cols, rows, "llll"))
        _out(f"{len(rows)} assets")
    return 0


def register(add: AddCommand) -> None:
    """Add the command of this module to the ``historian`` parser."""
    p = add(
        "assets",
        "List the asset model of a store (paths, templates, ISA-95 levels), its "
        "attributes and tags, or load/dump it as TOML (docs/assets.md).",
        "historian assets plant.hist 'SiteA/**' --template Pump --attributes",
        cmd_assets,
    )
    p.add_argument("store")
    p.add_argument(
        "pattern",
        nargs="?",
        default=None,
        help="asset path pattern: '*' within a segment, '**' for any depth",
    )
    p.add_argument("--template", help="only assets of this template")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--attributes",
        action="store_true",
        help="one row per attribute: its tag (or expression), unit and range",
    )
    g.add_argument("--toml", action="store_true", help="print the whole model as TOML")
    g.add_argument(
        "--load",
        metavar="FILE",
        help="define the templates and add the assets of a TOML file (one atomic "
        "change; the store is opened for writing)",
    )
