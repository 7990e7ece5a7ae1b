"""The plant commands: ``demo``, ``sim`` (the simulated plant), ``collect`` and ``browse``.

``demo`` checks its options here and runs :mod:`historian.sim.demo`; ``collect`` runs the
:class:`~historian.acquisition.Collector` of a TOML config; ``browse`` lists an OPC UA server's
variables (and prints a config stub).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from historian.cli._common import (
    _NO_PROGRESS,
    AddCommand,
    CliError,
    _fmt_int,
    _fmt_time,
    _one_line,
    _out,
    _sigterm_as_interrupt,
    _status,
    _table,
)
from historian.errors import HistorianError

__all__ = ["DEFAULT_DEMO_STORE", "cmd_browse", "cmd_collect", "cmd_demo", "cmd_sim", "register"]


DEFAULT_DEMO_STORE = "demo.hist"


def _prepare_demo_store(path: str, fresh: bool) -> str:
    """'new', 'reused' or 'fresh'; a folder that is not a store is never touched."""
    if not os.path.exists(path):
        return "new"
    looks_like_store = os.path.isdir(path) and (
        os.path.exists(os.path.join(path, "tags.json"))
        or os.path.isdir(os.path.join(path, "points"))
    )
    if not looks_like_store:
        if os.path.isdir(path) and not os.listdir(path):
            return "new"
        raise CliError(f"{path!r} exists and is not a historian store; choose another --store path")
    if not fresh:
        return "reused"
    import shutil

    shutil.rmtree(path)
    return "fresh"


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo application lives in :mod:`historian.sim.demo`; this checks the options."""
    store = os.path.abspath(args.store)
    if args.seconds <= 0:
        raise CliError("--seconds must be > 0")
    state = _prepare_demo_store(store, args.fresh)
    _out("historian demo: a simulated reactor served over Modbus TCP and OPC UA on 127.0.0.1,")
    _out(f"collected for {args.seconds:g} s through the Collector into {args.store}")
    _out({
        "new": "  store: new",
        "reused": "  store: exists, reused (new points are added; --fresh starts over)",
        "fresh": "  store: existed, deleted and started fresh (--fresh)",
    }[state])  # fmt: skip
    from historian.sim.demo import DemoOptions, run_demo

    run_demo(store, DemoOptions(seconds=float(args.seconds), secure=not args.insecure,
                                faults=not args.no_faults, progress=not args.no_progress,
                                shown_store=args.store))  # fmt: skip
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from historian.sim import plant_config_toml, serve_plant

    def ready(sim: Any) -> None:
        # Status on stderr, the config alone on stdout: `historian sim --print-config >
        # plant.toml` must leave a valid TOML file.
        _status("simulated plant serving on 127.0.0.1 (Ctrl-C to stop):")
        for proto, url in sim.endpoints.items():
            _status(f"  {proto:<7} {url}")
        if args.secure:
            _status("  OPC UA: Basic256Sha256 SignAndEncrypt; login from HISTORIAN_SIM_USER/"
                    "HISTORIAN_SIM_PASSWORD (default operator/operator-pw)")  # fmt: skip
            _status(f"  certificates in {os.path.dirname(sim.pki['ca_cert'])}")
        if args.print_config:
            _out(plant_config_toml(sim.modbus_port, sim.opcua_port, store=args.store,
                                   secure=args.secure, pki=sim.pki).rstrip())  # fmt: skip
            _out("# end of collector config")

    with _sigterm_as_interrupt():
        try:
            serve_plant(modbus_port=args.modbus_port, opcua_port=args.opcua_port,
                        seconds=args.seconds, secure=args.secure, pki_dir=args.pki,
                        on_ready=ready)  # fmt: skip
        except OSError as exc:
            raise CliError(f"cannot serve the plant: {exc} (a port in use? try --modbus-port/"
                           "--opcua-port, or 0 for free ports)") from None  # fmt: skip
    _status("stopped")
    return 0


def _print_health(health: Any) -> None:
    _out("collector health:")
    for name, s in health.sources.items():
        last = "never" if s.last_good_ns is None else _fmt_time(s.last_good_ns, ms=True)
        err = f"  last error: {s.last_error}" if s.last_error else ""
        _out(f"  {name}: points={_fmt_int(s.points)} errors={s.errors} "
             f"reconnects={s.reconnects} last good value {last}{err}")  # fmt: skip
    _out(f"  written={_fmt_int(health.written_points)} dropped={_fmt_int(health.dropped_points)}"
         f" spooled={_fmt_int(health.spooled_points)} (spool now {_fmt_int(health.spool_points)})"
         f" store_ok={health.store_ok}")  # fmt: skip
    if health.last_store_error:
        _out(f"  last store error: {health.last_store_error}")


def cmd_collect(args: argparse.Namespace) -> int:
    from historian.acquisition import Collector, load_config

    config = load_config(args.config)
    c = Collector(config)
    names = ", ".join(s.name for s in c.sources) or "none"
    until = f"for {args.seconds:g} s" if args.seconds else "until Ctrl-C"
    _out(f"collecting from {len(c.sources)} source(s) ({names}) into {config.store.path} {until}")
    with _sigterm_as_interrupt():
        c.start()
        try:
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            fut = c._future
            while deadline is None or time.monotonic() < deadline:
                if fut is not None and fut.done():
                    break
                left = 0.2 if deadline is None else deadline - time.monotonic()
                time.sleep(min(0.2, max(0.0, left)))
        except KeyboardInterrupt:
            _out("stopping (flushing to the store)...")
        finally:
            try:
                c.stop()
            except HistorianError:
                raise
            except Exception as exc:
                raise CliError(f"collector failed: {_one_line(exc)}") from exc
    health = c.health()
    _print_health(health)
    silent = [name for name, s in health.sources.items() if s.last_good_ns is None]
    for name in silent:
        why = health.sources[name].last_error or "no error was reported"
        _out(f"source {name} never delivered a Good value (never connected?): {why}")
    # Ctrl-C or SIGTERM is the normal way to stop a collector: 0, unless a source gave nothing
    return 1 if silent else 0


def cmd_browse(args: argparse.Namespace) -> int:
    from historian.acquisition import browse, config_stub
    from historian.acquisition.config import (
        DEPRECATED_POLICIES,
        OpcUaSourceConfig,
        check_opcua_security,
    )
    from historian.acquisition.text import printable

    if args.security_policy in DEPRECATED_POLICIES:  # refused even without a certificate
        raise CliError(
            f"--security-policy {args.security_policy}: deprecated (SHA-1 / RSA "
            "PKCS#1 v1.5, broken) and refused; use Basic256Sha256 or an Aes policy"
        )
    security = None
    if args.certificate or args.private_key or args.trust or args.username_env:
        from pathlib import Path

        def path(p: str | None) -> Path | None:
            return Path(p).expanduser().resolve() if p else None

        security = OpcUaSourceConfig(
            name="browse", url=args.url, security_policy=args.security_policy,
            security_mode=args.security_mode, certificate=path(args.certificate),
            private_key=path(args.private_key), trust=path(args.trust),
            username_env=args.username_env, password_env=args.password_env,
            allow_insecure=args.allow_insecure, server_uri=args.server_uri,
            server_thumbprint=args.server_thumbprint,
            allow_plaintext_password=args.allow_plaintext_password,
        )  # fmt: skip
        try:
            check_opcua_security(security)
        except ValueError as exc:
            raise CliError(f"browse {args.url}: {exc}") from exc
    from historian.errors import SourceSecurityError

    try:
        found = browse(args.url, security=security, allow_insecure=args.allow_insecure,
                       root=args.root, max_depth=args.max_depth, limit=args.limit)  # fmt: skip
    except SourceSecurityError as exc:
        if security is not None or args.allow_insecure:
            raise
        raise CliError(
            f"{args.url}: SecurityPolicy None is refused by default; pass --certificate, "
            "--private-key and --trust (and --username-env/--password-env) for a secure "
            "connection, or --allow-insecure on a trusted network segment"
        ) from exc
    if args.config_stub:
        _out(config_stub(found, name=args.name, url=args.url, security=security))
        return 0
    rows = [[printable(v.tag), printable(v.data_type), printable(v.node)] for v in found]
    _out(_table(["suggested tag", "type", "node"], rows, "lll"))
    _out(f"{len(found)} variable(s); --config-stub prints a [[opcua]] section to paste")
    return 0


def register(add: AddCommand) -> None:
    """Add the commands of this module to the ``historian`` parser."""
    p = add("demo", "Run the simulated plant, collect it over Modbus TCP and OPC UA, and report.",
            "historian demo --seconds 20 --store demo.hist", cmd_demo)  # fmt: skip
    p.add_argument("--store", default=DEFAULT_DEMO_STORE,
                   help=f"store folder (default ./{DEFAULT_DEMO_STORE}; an existing store is "
                        "reused: points are added)")  # fmt: skip
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete an existing store at --store first (only a historian store)",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="how long to collect (default 20)")
    p.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)
    p.add_argument(
        "--no-faults",
        action="store_true",
        help="do not inject sensor faults (spike, sensor failure, stuck, silence)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="OPC UA without security (default: Basic256Sha256 SignAndEncrypt)",
    )

    p = add("sim", "Serve the simulated plant (Modbus TCP + OPC UA on 127.0.0.1) until Ctrl-C.",
            "historian sim --print-config > plant.toml", cmd_sim)  # fmt: skip
    p.add_argument("--modbus-port", type=int, default=5020, help="default 5020 (0: a free port)")
    p.add_argument("--opcua-port", type=int, default=4840, help="default 4840 (0: a free port)")
    p.add_argument(
        "--secure",
        action="store_true",
        help="OPC UA Basic256Sha256 SignAndEncrypt with generated certificates",
    )
    p.add_argument("--pki", help="folder for the generated certificates (default: a temp folder)")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print a collector TOML config matching the servers",
    )
    p.add_argument("--store", default="plant.hist", help="store path put in the printed config")
    p.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)

    p = add("collect", "Run the collector of a TOML config until Ctrl-C or --seconds.",
            "historian collect plant.toml --seconds 60", cmd_collect)  # fmt: skip
    p.add_argument("config", help="collector config (TOML, see docs/acquisition.md)")
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="stop cleanly after N seconds of collection (counted once every tag is "
        "defined and the sources started)",
    )

    p = add(
        "browse",
        "List the variables of an OPC UA server (and print a config stub).",
        "historian browse opc.tcp://127.0.0.1:4840 --allow-insecure --config-stub",
        cmd_browse,
    )
    p.add_argument("url", help="opc.tcp://host:port[/path]")
    p.add_argument("--config-stub", action="store_true", help="print a [[opcua]] TOML section")
    p.add_argument("--name", default="server", help="source name in the config stub")
    p.add_argument("--allow-insecure", action="store_true", help="allow SecurityPolicy None")
    p.add_argument("--security-policy", default="Basic256Sha256")
    p.add_argument("--security-mode", default="SignAndEncrypt", choices=("Sign", "SignAndEncrypt"))
    p.add_argument("--certificate", help="client certificate (DER or PEM)")
    p.add_argument("--private-key", help="client private key (PEM)")
    p.add_argument("--trust", help="folder of trusted server/CA certificates")
    p.add_argument("--username-env", help="environment variable holding the user name")
    p.add_argument("--password-env", help="environment variable holding the password")
    p.add_argument("--server-uri", help="pin: the server's expected ApplicationUri")
    p.add_argument("--server-thumbprint", help="pin: SHA-256 thumbprint of the server certificate")
    p.add_argument(
        "--allow-plaintext-password",
        action="store_true",
        help="send the password even where the wire would carry it readable",
    )
    p.add_argument("--root", default="i=85", help="node to browse from (default Objects, i=85)")
    p.add_argument("--max-depth", type=int, default=10)
    p.add_argument("--limit", type=int, default=10_000)
