"""Third-party servers (node-opcua, npm modbus-serial, pyModbusTCP) on 127.0.0.1, for the
interop tests and the benchmarks.

The npm packages are installed by ``.ci/run`` (``npm ci`` in ``tests/interop/servers``, pinned
by its package-lock.json). Each server runs in a subprocess on a free port and logs what it
served to a JSON-lines file the tests compare against.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVERS = Path(__file__).parent / "servers"
USER, PASSWORD = "operator", "interop-Pa55word"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node() -> str:
    """The node executable, with the pinned npm packages installed (``npm ci`` once if missing,
    so the README's test command works on a fresh clone too, not only through ``.ci/run``)."""
    exe = shutil.which("node")
    if exe is None:
        raise RuntimeError(
            "the interop servers need Node.js and npm (e.g. apt-get install nodejs npm)"
        )
    if not (SERVERS / "node_modules" / "node-opcua").is_dir():
        import fcntl

        with open(SERVERS / ".npm-install.lock", "w") as lock:  # pytest-xdist workers: one install
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (SERVERS / "node_modules" / "node-opcua").is_dir():
                npm = shutil.which("npm")
                if npm is None:
                    raise RuntimeError("npm is needed to install tests/interop/servers' packages")
                done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SERVERS,
                                      capture_output=True, text=True, timeout=600)  # fmt: skip
                if done.returncode != 0:
                    raise RuntimeError(f"npm ci in {SERVERS} failed:\n{done.stderr[-2000:]}")
    return exe


@dataclass
class Served:
    """A running third-party server."""

    proc: subprocess.Popen[str]
    port: int
    log: Path

    def records(self) -> list[dict]:
        if not self.log.exists():
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.endswith("\n")]


def _start(cmd: list[str], log: Path) -> Served:
    """Start a server printing ``ready <port>`` (its stderr goes to a file next to ``log``);
    a few tries, for a free port taken meanwhile."""
    errfile = log.with_suffix(".stderr")
    for _ in range(3):
        port = free_port()
        argv = [a.replace("@PORT@", str(port)) for a in cmd]
        with open(errfile, "w") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=err, text=True, cwd=SERVERS)  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "ready <port>", or "" when the server died
        while line and not line.startswith("ready"):
            line = proc.stdout.readline()
        if line.startswith("ready"):
            return Served(proc, port, log)
        stop(proc)
    raise RuntimeError(f"server {cmd[:2]} did not start: {errfile.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()  # the servers exit when stdin closes
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for f in (proc.stdin, proc.stdout):
        if f is not None and not f.closed:
            f.close()


def start_node_opcua(folder: Path, pki: dict[str, str] | None, *, vars: int = 0,
                     hz: float = 10.0) -> Served:  # fmt: skip
    """node-opcua: Basic256Sha256 SignAndEncrypt with ``USER``/``PASSWORD`` (SecurityPolicy
    None without ``pki``); ``vars`` more Double variables change ``hz`` times a second."""
    log = folder / "opcua-served.jsonl"
    opts: dict = {"port": "@PORT@", "pki": str(folder / "node-pki"), "log": str(log),
                  "vars": vars, "hz": hz}  # fmt: skip
    if pki is not None:
        opts.update(cert=pki["server_chain"], key=pki["server_key"], uri=pki["server_uri"],
                    user=USER, password=PASSWORD, issuers=[pki["ca_der"]],
                    crls=[pki["ca_crl"]], trust=[pki["client_cert_der"]])  # fmt: skip
    text = json.dumps(opts).replace('"@PORT@"', "@PORT@")
    return _start([node(), "opcua_server.js", text], log)


def start_modbus_serial(folder: Path, delay_ms: float = 0) -> Served:
    """npm modbus-serial's ServerTCP; ``delay_ms`` before each holding-register answer."""
    log = folder / "modbus-served.jsonl"
    opts = {"port": "@PORT@", "log": str(log), "delay": delay_ms}
    text = json.dumps(opts).replace('"@PORT@"', "@PORT@")
    return _start([node(), "modbus_server.js", text], log)


def start_pymodbustcp(folder: Path) -> Served:
    log = folder / "pymodbustcp-served.jsonl"
    return _start([sys.executable, str(SERVERS / "pymodbustcp_server.py"), "@PORT@", str(log)],
                  log)  # fmt: skip


def opcua_env(monkeypatch: Any) -> tuple[str, str]:
    """Put the user and password in the environment; returns the variable names."""
    monkeypatch.setenv("INTEROP_UA_USER", USER)
    monkeypatch.setenv("INTEROP_UA_PASSWORD", PASSWORD)
    return "INTEROP_UA_USER", "INTEROP_UA_PASSWORD"
