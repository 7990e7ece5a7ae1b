"""What every ``historian`` command shares: output helpers, usage errors, opening a store.

The commands print (the library logs); these helpers keep their output in one style: numbers
with thousands separators, times in ISO 8601 UTC, plain text tables without terminal escapes.

Examples
--------
>>> from historian.cli._common import _fmt_bytes, _table
>>> _fmt_bytes(2_500_000)
'2.5 MB'
>>> print(_table(["tag", "points"], [["TIC-101.PV", "1,024"]]))
tag         points
----------  ------
TIC-101.PV   1,024
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["AddCommand", "CliError"]

#: ``add(name, help, example, func)``: registers one command and returns its parser.
AddCommand = Callable[[str, str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser]


class CliError(Exception):
    """A usage problem the command reports as one line (exit code 2)."""


def _out(text: str = "") -> None:
    print(text, flush=True)


def _status(text: str = "") -> None:
    """A status line for the person at the terminal: stderr, so stdout stays the result."""
    print(text, file=sys.stderr, flush=True)


def _fmt_int(n: int | float | None) -> str:
    return "-" if n is None else f"{int(n):,}"


def _fmt_num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if xf != xf:  # NaN
        return "NaN"
    if xf == 0:
        return "0"
    mag = abs(xf)
    if mag >= 1e6 or mag < 1e-3:
        return f"{xf:.{digits - 1}e}"
    return (
        f"{xf:.{max(0, digits - len(str(int(mag))))}f}".rstrip("0").rstrip(".")
        if mag < 1e4
        else f"{xf:.0f}"
    )


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def _fmt_time(ns: int | None, ms: bool = False) -> str:
    if ns is None:
        return "-"
    import datetime as _dt

    d = _dt.datetime.fromtimestamp(ns / 1e9, _dt.UTC)
    text = d.isoformat(timespec="milliseconds" if ms else "seconds")
    return text.replace("+00:00", "Z")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A plain text table; ``align`` per column: 'l' or 'r' (default: l for text, r for numbers)."""
    # Tag units, descriptions and server strings are user/device data: no terminal escapes.
    from historian.acquisition.text import printable

    cells = [[printable(str(c)) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    if not align:
        align = "".join("r" if rows and all(_is_number(r[i]) for r in rows) else "l"
                        for i in range(len(headers)))  # fmt: skip

    def line(vals: Sequence[str]) -> str:
        parts = [v.rjust(w) if a == "r" else v.ljust(w)
                 for v, w, a in zip(vals, widths, align, strict=True)]  # fmt: skip
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _is_number(x: Any) -> bool:
    if isinstance(x, int | float):
        return True
    if isinstance(x, str):
        try:
            float(x.replace(",", ""))
        except ValueError:
            return x in ("-", "")
        return True
    return False


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Stop on SIGTERM like on Ctrl-C (services, ``timeout``, container stops)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
        # Ctrl-C even when started from a shell that ignores SIGINT for background jobs
        previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _open_store(path: str, mode: str = "r", **options: Any) -> Any:
    import historian

    if mode == "r" and not os.path.isdir(path):
        raise CliError(f"no store at {path!r} (a store is a folder made by historian.open)")
    return historian.open(path, mode=mode, **options)


_NO_PROGRESS = ("no progress bar (also HISTORIAN_PROGRESS=0; there is none anyway when stderr is "
                "not a terminal)")  # fmt: skip
