"""The ``historian`` parser and ``main``: options shared by every command, logging, exit codes.

Each command group (one module of :mod:`historian.cli`) registers its commands with
``register(add)``; :func:`main` runs the chosen one and maps its errors to one line on stderr
(exit 2), Ctrl-C to 130.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from historian.cli import assets, plant, query, replication, service, stores, transfer
from historian.cli._common import CliError, _one_line
from historian.errors import HistorianError

__all__ = ["build_parser", "main"]


def _common_options(default_verbose: Any, default_debug: Any) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=default_verbose,
                        help="log at INFO (-v) or DEBUG (-vv)")  # fmt: skip
    common.add_argument("--debug", action="store_true", default=default_debug,
                        help="show tracebacks of errors")  # fmt: skip
    return common


def _add(sub: Any, name: str, help_: str, example: str, func: Callable[[argparse.Namespace], int],
         parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:  # fmt: skip
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.set_defaults(func=func, command=name)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``historian`` command."""
    from historian import __version__

    common = _common_options(0, False)
    # -v/--debug after the command too
    after = _common_options(argparse.SUPPRESS, argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="historian",
        description="A time-series historian for industrial data: collect (Modbus, OPC UA), "
                    "qualify, store in open Parquet, summarise and correlate.",
        epilog="example:\n  historian demo\n\n'historian COMMAND --help' shows the options of "
               "a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"historian {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def add(name: str, help_: str, example: str, func: Callable[[argparse.Namespace], int]) -> Any:
        return _add(sub, name, help_, example, func, [after])

    for group in (plant, stores, assets, query, transfer, service, replication):
        group.register(add)
    return parser


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)  # fmt: skip
    if verbose < 2:  # the protocol libraries are chatty (e.g. a certificate without DNS names)
        for name in ("asyncua", "pymodbus"):
            logging.getLogger(name).setLevel(logging.ERROR if verbose <= 0 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``historian`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    _setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except (HistorianError, CliError) as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"historian {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `historian query ... | head`
        with contextlib.suppress(Exception):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
