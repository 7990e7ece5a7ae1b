"""The simulated plant served over Modbus TCP and OPC UA at the same time.

:class:`SimServers` runs a :class:`~historian.sim.plant.Plant` in real time and serves it with a
:class:`~historian.sim.modbus_server.SimModbusServer` (register map :data:`MODBUS_POINTS`) and
a :class:`~historian.sim.opcua_server.SimOpcuaServer` (NodeIds ``nsu=urn:historian:sim;s=...``),
both on 127.0.0.1. :func:`plant_config` gives the collector config that matches them and
:func:`serve_plant` serves them from synchronous code (the ``historian sim`` command).

Examples
--------
>>> import asyncio
>>> async def demo():
...     async with SimServers(opcua=False) as sim:
...         await asyncio.sleep(0.3)
...         cfg = sim.config()
...         return cfg["modbus"][0]["port"] == sim.modbus_port, len(cfg["modbus"][0]["points"])
>>> asyncio.run(demo())
(True, 17)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from historian.sim.modbus_server import SimModbusServer
from historian.sim.opcua_server import NAMESPACE_URI, SimOpcuaServer
from historian.sim.plant import TAGS, Plant

__all__ = [
    "MODBUS_POINTS",
    "OPCUA_TAGS",
    "SimServers",
    "plant_config",
    "plant_config_toml",
    "serve_plant",
    "server_ssl_context",
]

log = logging.getLogger(__name__)

_RAW_FULL_SCALE = 27648  # Siemens S7 analog input: 0..27648 counts for 0..100 % of range

#: The plant's Modbus register map (unit 1). Holding 13-19 and above 31 are not served.
MODBUS_POINTS: list[dict[str, Any]] = [
    # holding registers (FC3)
    {"tag": "FIC-104.PV", "table": "holding", "address": 0, "type": "float32", "unit": "m3/h"},
    {
        "tag": "LIC-105.PV",
        "table": "holding",
        "address": 2,
        "type": "float32",
        "word_order": "little",
        "unit": "%",
    },
    {
        "tag": "FV-104.POS",
        "table": "holding",
        "address": 4,
        "type": "int16",
        "scale": 0.1,
        "unit": "%",
    },
    {"tag": "P-106.STARTS", "table": "holding", "address": 5, "type": "uint16"},
    {"tag": "FQ-104.TOTAL", "table": "holding", "address": 6, "type": "float64", "unit": "m3"},
    {
        "tag": "P-106.RUNTIME",
        "table": "holding",
        "address": 10,
        "type": "uint32",
        "word_order": "little",
        "unit": "s",
    },
    {
        "tag": "TIC-101.SP.MB",
        "table": "holding",
        "address": 12,
        "type": "uint16",
        "scale": 0.1,
        "unit": "degC",
    },
    {"tag": "REACTOR.STATE", "table": "holding", "address": 20, "type": "string", "count": 8},
    {
        "tag": "REACTOR.BATCH.MB",
        "table": "holding",
        "address": 28,
        "type": "string",
        "count": 4,
        "byte_order": "little",
    },
    # input registers (FC4)
    {
        "tag": "TT-101.RAW",
        "table": "input",
        "address": 0,
        "type": "int16",
        "scale": 150.0 / _RAW_FULL_SCALE,
        "unit": "degC",
    },
    {
        "tag": "TI-102.MB",
        "table": "input",
        "address": 2,
        "type": "float32",
        "byte_order": "little",
        "unit": "degC",
    },
    {
        "tag": "TIC-101.OUT.MB",
        "table": "input",
        "address": 4,
        "type": "float32",
        "word_order": "little",
        "byte_order": "little",
        "unit": "%",
    },
    {"tag": "JQ-101.ENERGY.MB", "table": "input", "address": 6, "type": "int64", "unit": "Wh"},
    {
        "tag": "PI-103.MB",
        "table": "input",
        "address": 10,
        "type": "int32",
        "scale": 0.001,
        "unit": "bar",
    },
    # coils (FC1) and discrete inputs (FC2)
    {"tag": "P-106.CMD", "table": "coil", "address": 0, "type": "bool"},
    {"tag": "P-106.RUN", "table": "discrete", "address": 0, "type": "bool"},
    {"tag": "LAH-105", "table": "discrete", "address": 2, "type": "bool"},
]

#: Plant signal behind each Modbus point (same name when absent).
MODBUS_SOURCES: dict[str, str] = {
    "TIC-101.SP.MB": "TIC-101.SP",
    "REACTOR.BATCH.MB": "REACTOR.BATCH",
    "TT-101.RAW": "TIC-101.PV",
    "TI-102.MB": "TI-102.PV",
    "TIC-101.OUT.MB": "TIC-101.OUT",
    "JQ-101.ENERGY.MB": "JQ-101.ENERGY",
    "PI-103.MB": "PI-103.PV",
    "P-106.CMD": "P-106.RUN",
}

#: Tags collected over OPC UA by :func:`plant_config` (the server serves every plant tag).
OPCUA_TAGS = (
    "TIC-101.PV",
    "TIC-101.SP",
    "TIC-101.OUT",
    "TI-102.PV",
    "PI-103.PV",
    "JQ-101.ENERGY",
    "TAH-101",
    "LAL-105",
    "REACTOR.BATCH",
)

DEFAULT_USER = "operator"
DEFAULT_PASSWORD = "operator-pw"
USER_ENV = "HISTORIAN_SIM_USER"
PASSWORD_ENV = "HISTORIAN_SIM_PASSWORD"


def server_ssl_context(pki: Mapping[str, str]) -> ssl.SSLContext:
    """A TLS server context for Modbus/TLS: the pki's server certificate, client certs required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
    ctx.load_verify_locations(pki["ca_cert"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def plant_config(
    modbus_port: int,
    opcua_port: int,
    *,
    store: str = "plant.hist",
    host: str = "127.0.0.1",
    every: str = "500ms",
    opcua_every: str = "500ms",
    acquire: str = "subscribe",
    secure: bool = False,
    pki: Mapping[str, str] | None = None,
    modbus_tls: bool = False,
) -> dict[str, Any]:
    """The collector config (DESIGN.md's TOML shape, as a dict) for the simulated servers.

    Modbus collects the flow/level/pump side (:data:`MODBUS_POINTS`), OPC UA the temperature
    side (:data:`OPCUA_TAGS`). With ``secure`` the OPC UA section uses Basic256Sha256
    SignAndEncrypt with the pki's client certificate, trusts the pki's CA and reads the login
    from ``HISTORIAN_SIM_USER``/``HISTORIAN_SIM_PASSWORD``; otherwise it sets
    ``security_policy = "None"`` with ``allow_insecure = true`` (a lab simulator).

    >>> cfg = plant_config(5020, 4840)
    >>> cfg["modbus"][0]["points"][0]["tag"], cfg["opcua"][0]["points"][0]["node"]
    ('FIC-104.PV', 'nsu=urn:historian:sim;s=Reactor.Temperature')
    """
    modbus: dict[str, Any] = {
        "name": "plc1",
        "host": host,
        "port": int(modbus_port),
        "unit": 1,
        "every": every,
        "points": [
            _with_settings(p, MODBUS_SOURCES.get(p["tag"], p["tag"])) for p in MODBUS_POINTS
        ],
    }
    if modbus_tls:
        if not pki:
            raise ValueError("modbus_tls=True needs pki= (paths from make_pki)")
        modbus["tls"] = {
            "ca": pki["ca_cert"],
            "certificate": pki["client_cert"],
            "private_key": pki["client_key"],
        }
    opcua: dict[str, Any] = {
        "name": "reactor",
        "url": f"opc.tcp://{host}:{int(opcua_port)}/historian/sim/",
        "acquire": acquire,
        "every": opcua_every,
    }
    if secure:
        if not pki:
            raise ValueError("secure=True needs pki= (paths from make_pki)")
        opcua.update(
            security_policy="Basic256Sha256",
            security_mode="SignAndEncrypt",
            certificate=pki["client_cert_der"],
            private_key=pki["client_key"],
            trust=pki["trusted"],
            username_env=USER_ENV,
            password_env=PASSWORD_ENV,
            allow_insecure=False,
        )
    else:
        opcua.update(security_policy="None", allow_insecure=True)
    opcua["points"] = [
        _with_settings({"tag": tag, "node": f"nsu={NAMESPACE_URI};s={TAGS[tag].opcua}"}, tag)
        for tag in OPCUA_TAGS
    ]
    return {"store": {"path": store}, "modbus": [modbus], "opcua": [opcua]}


def _with_settings(point: Mapping[str, Any], plant_tag: str) -> dict[str, Any]:
    """The point plus the tag settings (description, unit, kind, range) of its plant signal."""
    info = TAGS[plant_tag]
    out = dict(point)
    copy = "" if plant_tag == point["tag"] else f" (from {plant_tag})"
    out["description"] = info.description + copy
    if info.unit and "unit" not in out:
        out["unit"] = info.unit
    out["kind"] = info.kind
    if info.lo is not None:
        out["lo"] = info.lo
    if info.hi is not None:
        out["hi"] = info.hi
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def plant_config_toml(*args: Any, **kwargs: Any) -> str:
    """:func:`plant_config` as TOML text (same arguments), ready for ``historian collect``."""
    cfg = plant_config(*args, **kwargs)
    lines = ["# collector config for the historian simulated plant", "[store]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in cfg["store"].items()]
    for section in ("modbus", "opcua"):
        for dev in cfg[section]:
            lines += ["", f"[[{section}]]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in dev.items() if k != "points"]
            for p in dev["points"]:
                body = ", ".join(f"{k} = {_toml_value(v)}" for k, v in p.items())
                lines.append(f"\n  [[{section}.points]]")
                lines.append(f"  {body.replace(', ', chr(10) + '  ')}")
    return "\n".join(lines) + "\n"


class SimServers:
    """The plant, ticking in real time, served over Modbus TCP (or TLS) and OPC UA.

    Parameters
    ----------
    modbus_port, opcua_port : int
        0 picks free ports (read them back from :attr:`modbus_port`/:attr:`opcua_port`).
    seed, speed, tick_s : int, float, float
        Plant seed, plant seconds per real second, real seconds per update.
    secure : bool
        OPC UA with Basic256Sha256 only, certificates and user/password (see
        :class:`~historian.sim.opcua_server.SimOpcuaServer`).
    modbus_tls : bool
        Serve Modbus/TLS (client certificates required) instead of plain Modbus TCP.
    pki_dir : str, optional
        Where certificates are made when ``secure``/``modbus_tls`` (default: a temp folder).
    modbus, opcua : bool
        Serve each protocol (both by default).
    """

    def __init__(
        self,
        *,
        modbus_port: int = 0,
        opcua_port: int = 0,
        seed: int = 0,
        speed: float = 30.0,
        tick_s: float = 0.1,
        secure: bool = False,
        modbus_tls: bool = False,
        allow_insecure: bool = False,
        pki_dir: str | None = None,
        users: Mapping[str, str] | None = None,
        modbus: bool = True,
        opcua: bool = True,
    ):
        self.plant = Plant(seed=seed, speed=speed, dt_s=tick_s)
        self.tick_s = tick_s
        self.secure, self.modbus_tls = secure, modbus_tls
        self.pki: dict[str, str] | None = None
        if secure or modbus_tls:
            from historian.acquisition.pki import make_pki

            self.pki = make_pki(pki_dir or tempfile.mkdtemp(prefix="historian-sim-pki-"))
        self.modbus = (
            SimModbusServer(
                MODBUS_POINTS,
                port=modbus_port,
                sslctx=server_ssl_context(self.pki) if modbus_tls and self.pki else None,
            )
            if modbus
            else None
        )
        self.opcua = (
            SimOpcuaServer(
                port=opcua_port,
                secure=secure,
                pki=self.pki,
                users=users or {DEFAULT_USER: DEFAULT_PASSWORD},
                allow_insecure=allow_insecure,
            )
            if opcua
            else None
        )
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self.ticks = 0

    @property
    def modbus_port(self) -> int:
        return self.modbus.port if self.modbus else 0

    @property
    def opcua_port(self) -> int:
        return self.opcua.port if self.opcua else 0

    @property
    def opcua_endpoint(self) -> str:
        return self.opcua.endpoint if self.opcua else ""

    @property
    def endpoints(self) -> dict[str, str]:
        """``{"modbus": "127.0.0.1:PORT", "opcua": "opc.tcp://..."}`` of the running servers."""
        out = {}
        if self.modbus:
            scheme = "modbus+tls" if self.modbus_tls else "modbus"
            out["modbus"] = f"{scheme}://{self.modbus.host}:{self.modbus.port}"
        if self.opcua:
            out["opcua"] = self.opcua.endpoint
        return out

    def config(self, **kwargs: Any) -> dict[str, Any]:
        """:func:`plant_config` for these servers (keyword arguments passed through)."""
        kwargs.setdefault("secure", self.secure)
        kwargs.setdefault("modbus_tls", self.modbus_tls)
        kwargs.setdefault("pki", self.pki)
        return plant_config(self.modbus_port, self.opcua_port, **kwargs)

    async def start(self) -> None:
        """Start both servers and the plant clock (values are published before returning)."""
        if self.modbus:
            await self.modbus.start()
        if self.opcua:
            await self.opcua.start()
        self._t0 = time.monotonic() - self.plant.real_time_s
        await self._publish()
        self._task = asyncio.create_task(self._run(), name="historian-sim-plant")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.opcua:
            await self.opcua.stop()
        if self.modbus:
            await self.modbus.stop()

    async def __aenter__(self) -> SimServers:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _publish(self) -> None:
        values = self.plant.values()
        t_ns = time.time_ns()
        if self.modbus:
            mb = {p["tag"]: values[MODBUS_SOURCES.get(p["tag"], p["tag"])] for p in MODBUS_POINTS}
            await self.modbus.update(mb)
        if self.opcua:
            await self.opcua.publish(values, t_ns)
        self.ticks += 1

    async def _run(self) -> None:
        next_t = time.monotonic()
        while True:
            next_t += self.tick_s
            behind = time.monotonic() - self._t0 - self.plant.real_time_s
            if behind > 10.0:  # the process was suspended: do not replay minutes at once
                self._t0 += behind - self.tick_s
            self.plant.advance_to(time.monotonic() - self._t0)
            try:
                await self._publish()
            except Exception:  # a server being restarted by a test: publish next tick
                log.debug("sim publish failed", exc_info=True)
            delay = next_t - time.monotonic()
            if delay < 0:  # fell behind: skip ticks rather than pile up
                next_t = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)


def serve_plant(
    modbus_port: int = 5020,
    opcua_port: int = 4840,
    seconds: float | None = None,
    secure: bool = False,
    *,
    seed: int = 0,
    modbus_tls: bool = False,
    pki_dir: str | None = None,
    on_ready: Callable[[SimServers], None] | None = None,
) -> None:
    """Serve the simulated plant until Ctrl-C (or for ``seconds``); blocking, for CLI/notebooks.

    ``on_ready(sim)`` is called once the servers listen (e.g. to print ``sim.endpoints`` and
    ``sim.config()``). With ``secure``, the OPC UA login is ``operator``/``operator-pw`` unless
    ``HISTORIAN_SIM_USER``/``HISTORIAN_SIM_PASSWORD`` are set. Binds 127.0.0.1 only.
    """
    users = {os.environ.get(USER_ENV, DEFAULT_USER): os.environ.get(PASSWORD_ENV, DEFAULT_PASSWORD)}

    async def main() -> None:
        sim = SimServers(
            modbus_port=modbus_port,
            opcua_port=opcua_port,
            seed=seed,
            secure=secure,
            modbus_tls=modbus_tls,
            pki_dir=pki_dir,
            users=users,
        )
        async with sim:
            log.info("simulated plant serving %s", sim.endpoints)
            if on_ready is not None:
                on_ready(sim)
            if seconds is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(seconds)

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # plain script / CLI
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
        return
    # inside a running loop (Jupyter): serve from a thread with its own loop
    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    with contextlib.suppress(KeyboardInterrupt):
        thread.join()
