"""The replication commands: ``replicate`` (push a store to a read-only copy) and ``receive``."""

from __future__ import annotations

import argparse
from typing import Any

from historian.cli._common import AddCommand, CliError, _fmt_int, _out

__all__ = ["cmd_receive", "cmd_replicate", "register"]


def _tls_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"tls_cert": args.tls_cert, "tls_key": args.tls_key, "tls_ca": args.tls_ca}


def cmd_replicate(args: argparse.Namespace) -> int:
    from historian.gateway.replicate import replicate

    if args.diode:
        opts: dict[str, Any] = {"repeat": args.repeat, "resend_s": args.resend,
                                "resend_versions": args.resend_versions}  # fmt: skip
    else:
        opts = {"follow_deletes": args.follow_deletes, **_tls_options(args)}
    st = replicate(args.src, args.dst, once=args.once, max_bytes_per_s=args.max_bytes_per_s,
                   poll_s=args.poll, status_every_s=args.status_every, diode=args.diode,
                   **opts)  # fmt: skip
    _out(f"{args.dst} at version {st.replicated_version} of {st.source_version} "
         f"({st.versions_behind} behind); {st.files_sent} file(s), "
         f"{_fmt_int(st.bytes_sent)} bytes sent")  # fmt: skip
    return 0 if st.versions_behind == 0 or not args.once else 1


def cmd_receive(args: argparse.Namespace) -> int:
    from historian.gateway.receive import receive

    if args.diode:
        from historian.gateway.diode import DiodeReceiver

        r = DiodeReceiver(args.store, args.diode)
        try:
            r.serve_forever(status_every_s=args.status_every)
        except KeyboardInterrupt:
            pass
        finally:
            r.close()
        return 0
    if not args.listen:
        raise CliError("give --listen HOST:PORT (TLS) or --diode udp://HOST:PORT")
    if not (args.tls_cert and args.tls_key and args.tls_ca):
        raise CliError("--listen needs --tls-cert, --tls-key and --tls-ca (the CA of the senders' "
                       "client certificates)")  # fmt: skip
    receive(args.store, args.listen, cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_ca)
    return 0


def register(add: AddCommand) -> None:
    """Add the commands of this module to the ``historian`` parser."""
    p = add("replicate", "Push a store's committed files and commit log to a read-only copy "
            "(a folder, s3://, or a receiver tls://HOST:PORT) and keep following it.",
            "historian replicate ot.hist tls://it-gw:7443 --tls-cert ot.pem --tls-key ot.key "
            "--tls-ca ca.pem", cmd_replicate)  # fmt: skip
    p.add_argument("src", help="the source (OT) store")
    p.add_argument("dst", help="a folder, s3://bucket/prefix, or tls://HOST:PORT")
    p.add_argument("--once", action="store_true", help="catch up and stop (default: follow)")
    p.add_argument("--follow-deletes", action="store_true",
                   help="delete from the copy the files the source deleted after compaction or "
                        "retention (default: the copy keeps them, so its old versions stay "
                        "readable)")  # fmt: skip
    p.add_argument(
        "--max-bytes-per-s",
        type=float,
        metavar="N",
        help="bandwidth cap of data files sent (default: none)",
    )
    p.add_argument(
        "--poll",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often to look for new commits when following (default 1)",
    )
    p.add_argument(
        "--status-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="log lag and rate at INFO this often (default 60; use -v to see it)",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="tls://: this sender's client certificate")
    p.add_argument("--tls-key", metavar="PEM", help="tls://: its private key")
    p.add_argument("--tls-ca", metavar="PEM", help="tls://: the CA that signed the receiver")
    p.add_argument(
        "--diode",
        action="store_true",
        help="DST is udp://HOST:PORT behind a data diode: no return channel",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="--diode: send every datagram N times (default 1)",
    )
    p.add_argument(
        "--resend",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="--diode: resend the newest --resend-versions this often (default 10)",
    )
    p.add_argument("--resend-versions", type=int, default=100, metavar="N",
                   help="--diode: how many of the newest versions each resend covers "
                        "(default 100)")  # fmt: skip

    p = add("receive", "Accept pushes from `historian replicate` into a read-only copy: TLS 1.3, "
            "client certificates required; it never serves data.",
            "historian receive it.hist --listen 0.0.0.0:7443 --tls-cert it.pem --tls-key it.key "
            "--tls-ca ca.pem", cmd_receive)  # fmt: skip
    p.add_argument("store", help="the copy (a folder or s3://); created at the first push")
    p.add_argument("--listen", metavar="HOST:PORT", help="TLS: address to listen on")
    p.add_argument("--diode", metavar="udp://HOST:PORT",
                   help="receive from a data diode on this UDP address instead (no TLS, nothing "
                        "sent back)")  # fmt: skip
    p.add_argument(
        "--status-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="--diode: log the missing versions this often (default 60)",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="this receiver's server certificate")
    p.add_argument("--tls-key", metavar="PEM", help="its private key")
    p.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="the CA whose client certificates may push (all others are refused)",
    )
