"""The ``historian`` command: demo, sim, collect, browse, info, verify, repair, query, compact,
retain, import, export, serve, token, audit, replicate, receive.

Every command has ``--help`` with an example (``historian demo --help``). Errors raised by the
library (:class:`~historian.errors.HistorianError`) are printed as one line on stderr with exit
code 2; ``--debug`` shows the traceback. ``-v`` logs at INFO, ``-vv`` at DEBUG (the library logs,
the command prints). Heavy modules are imported inside the commands, so ``historian --help`` is
quick.

One module per command group, each registering its commands with ``register(add)``:
:mod:`~historian.cli.plant` (demo, sim, collect, browse), :mod:`~historian.cli.stores` (info,
verify, repair, compact, retain), :mod:`~historian.cli.query`, :mod:`~historian.cli.transfer`
(import, export), :mod:`~historian.cli.service` (serve, token, audit) and
:mod:`~historian.cli.replication` (replicate, receive); the parser and :func:`main` are in
``_app.py``, the shared output helpers in ``_common.py``.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
historian ...
0
"""

from __future__ import annotations

from historian.cli._app import build_parser, main
from historian.cli._common import (
    CliError,
    _fmt_bytes,
    _fmt_int,
    _fmt_num,
    _fmt_time,
    _one_line,
    _out,
    _table,
)
from historian.cli.plant import DEFAULT_DEMO_STORE

__all__ = ["main"]

# Shared with historian.sim.demo (its report uses the commands' output style).
_SHARED = (CliError, DEFAULT_DEMO_STORE, build_parser, _fmt_bytes, _fmt_int, _fmt_num, _fmt_time,
           _one_line, _out, _table)  # fmt: skip
