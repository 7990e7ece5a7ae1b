"""A real pymodbus TCP (or Modbus/TLS) server serving a register map, with fault injection.

The server serves exactly the addresses of its register map (every other address answers
exception 2, like a real device), keeps its values across stop/restart on the same port, and
records every request it receives, so tests can prove a client never sent a write.

Fault injection: :meth:`SimModbusServer.stop`/:meth:`~SimModbusServer.start` (same port),
:meth:`~SimModbusServer.silence` (up, but requests go unanswered), :meth:`~SimModbusServer.freeze`
(values stop changing), :meth:`~SimModbusServer.fail` (exception responses on chosen addresses).

Examples
--------
>>> import asyncio
>>> async def demo():
...     srv = SimModbusServer([{"tag": "A", "table": "holding", "address": 0, "type": "int16"}])
...     await srv.start()
...     await srv.set_value("A", -5)
...     regs = await srv.registers("holding", 0, 1)
...     await srv.stop()
...     return regs, srv.write_count
>>> asyncio.run(demo())
([65531], 0)
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, cast

from historian.acquisition.modbus_plan import (
    BIT_TABLES,
    FUNCTION_CODES,
    READ_FUNCTION_CODES,
    ModbusPoint,
    encode_value,
    parse_points,
)

__all__ = ["SimModbusServer"]

log = logging.getLogger(__name__)

_FC_TABLE = {
    1: "coil",
    2: "discrete",
    3: "holding",
    4: "input",
    5: "coil",
    6: "holding",
    15: "coil",
    16: "holding",
    22: "holding",
    23: "holding",
}


def _runs(addresses: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous (start, count) runs of a set of addresses."""
    out: list[tuple[int, int]] = []
    for a in sorted(set(addresses)):
        if out and out[-1][0] + out[-1][1] == a:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((a, 1))
    return out


class SimModbusServer:
    """A Modbus TCP/TLS server on ``host`` serving the addresses of ``points``.

    Parameters
    ----------
    points : list of dict or ModbusPoint
        The register map (same keys as a collector config's ``[[modbus.points]]``).
    host, port : str, int
        Where to listen; port 0 picks a free port (kept across restarts).
    unit : int
        The device (unit) id served.
    sslctx : ssl.SSLContext, optional
        Serve Modbus/TLS with this server context.
    """

    def __init__(
        self,
        points: Iterable[Mapping[str, Any] | ModbusPoint],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        sslctx: ssl.SSLContext | None = None,
    ):
        items = list(points)
        dicts = [p for p in items if not isinstance(p, ModbusPoint)]
        self.points: dict[str, ModbusPoint] = {
            p.tag: p for p in items if isinstance(p, ModbusPoint)
        }
        self.points.update({p.tag: p for p in parse_points(dicts, where="sim.modbus")})
        self.host, self.port, self.unit, self.sslctx = host, port, unit, sslctx
        # current contents: table -> address -> register value (or bool for bit tables)
        self._data: dict[str, dict[int, int | bool]] = {t: {} for t in FUNCTION_CODES}
        for p in self.points.values():
            for a in range(p.address, p.address + p.width):
                self._data[p.table][a] = False if p.table in BIT_TABLES else 0
        self._server: Any = None
        self._faults: dict[tuple[str, int], int] = {}
        self.silenced = False
        self.frozen = False
        self.requests: Counter[int] = Counter()  # function code -> count
        self.writes: list[tuple[int, int]] = []  # (function code, address) of write requests

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen (again) on the same port, with the current values."""
        if self._server is not None:
            return
        from pymodbus.server import ModbusTcpServer, ModbusTlsServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        blocks = []
        for table in ("coil", "discrete", "holding", "input"):
            data = self._data[table]
            block = []
            for start, count in _runs(data):
                vals = [data[a] for a in range(start, start + count)]
                if table in BIT_TABLES:
                    block.append(
                        SimData(start, values=[bool(v) for v in vals], datatype=DataType.BITS)
                    )
                else:
                    block.append(
                        SimData(start, values=[int(v) for v in vals], datatype=DataType.REGISTERS)
                    )
            if not block:  # pymodbus needs a block per table: serve one unused address
                block.append(
                    SimData(
                        65535,
                        values=[0] if table not in BIT_TABLES else [False],
                        datatype=DataType.REGISTERS if table not in BIT_TABLES else DataType.BITS,
                    )
                )
            blocks.append(block)
        device = SimDevice(id=self.unit, simdata=cast(Any, tuple(blocks)), action=self._action)
        kwargs: dict[str, Any] = {"address": (self.host, self.port), "trace_pdu": self._trace_pdu}
        server: Any
        if self.sslctx is not None:
            server = ModbusTlsServer(device, sslctx=self.sslctx, **kwargs)
        else:
            server = ModbusTcpServer(device, **kwargs)
        await server.serve_forever(background=True)
        self.port = server.transport.sockets[0].getsockname()[1]
        self._server = server
        log.info("sim Modbus server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and drop the connections (values are kept)."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            await asyncio.sleep(0)
            log.info("sim Modbus server on port %s stopped", self.port)

    async def restart(self, down_s: float = 0.0) -> None:
        await self.stop()
        await asyncio.sleep(down_s)
        await self.start()

    # -- fault injection ---------------------------------------------------------------------
    def silence(self, on: bool = True) -> None:
        """While on, requests are received but never answered (clients time out)."""
        self.silenced = on

    def freeze(self, on: bool = True) -> None:
        """While on, :meth:`update` ignores new values (the device answers stale data)."""
        self.frozen = on

    def fail(self, table_or_tag: str, address: int | None = None, exception_code: int = 4) -> None:
        """Answer reads touching a point (by tag) or an address with ``exception_code``."""
        if address is None:
            p = self.points[table_or_tag]
            for a in range(p.address, p.address + p.width):
                self._faults[(p.table, a)] = exception_code
        else:
            self._faults[(table_or_tag, address)] = exception_code

    def clear_faults(self) -> None:
        self._faults.clear()
        self.silenced = self.frozen = False

    @property
    def write_count(self) -> int:
        """Write requests received (any function code other than 1-4)."""
        return len(self.writes)

    # -- values ----------------------------------------------------------------------------------
    async def set_value(self, tag: str, value: float | int | bool | str) -> None:
        """Set one point in engineering units (encoded with its type, orders, scale/offset)."""
        await self._write_points({tag: value}, force=True)

    async def update(self, values: Mapping[str, float | int | bool | str]) -> None:
        """Set the points among ``values`` that the map has (ignored while frozen)."""
        if not self.frozen:
            await self._write_points(values, force=False)

    async def _write_points(self, values: Mapping[str, Any], force: bool) -> None:
        changed: dict[str, set[int]] = {t: set() for t in FUNCTION_CODES}
        for tag, value in values.items():
            p = self.points.get(tag)
            if p is None:
                if force:
                    raise KeyError(f"no point {tag!r} in the sim register map")
                continue
            data = self._data[p.table]
            if p.table in BIT_TABLES:
                data[p.address] = bool(value)
                changed[p.table].add(p.address)
                continue
            for i, reg in enumerate(encode_value(p, value)):
                data[p.address + i] = reg
                changed[p.table].add(p.address + i)
        if self._server is None:
            return
        for table, addrs in changed.items():
            for start, count in _runs(addrs):
                vals = [self._data[table][a] for a in range(start, start + count)]
                await self._server.async_setValues(self.unit, FUNCTION_CODES[table], start, vals)

    async def registers(self, table: str, address: int, count: int) -> list[int] | list[bool]:
        """What the server holds now (read without the network)."""
        return cast(Any, [self._data[table][a] for a in range(address, address + count)])

    # -- pymodbus hooks ----------------------------------------------------------------------
    def _trace_pdu(self, sending: bool, pdu: Any) -> Any:
        if sending:
            return pdu
        fc = int(pdu.function_code)
        self.requests[fc] += 1
        if fc not in READ_FUNCTION_CODES:
            self.writes.append((fc, int(getattr(pdu, "address", -1))))
            log.warning("sim Modbus server received write request FC%d", fc)
        if self.silenced:
            return None  # dropped: no response is sent
        return pdu

    async def _action(
        self, fc: int, _start: int, address: int, count: int, _regs: Any, values: Any
    ) -> Any:
        if values is not None or not self._faults:
            return None
        table = _FC_TABLE.get(fc)
        for a in range(address, address + count):
            code = self._faults.get((table, a)) if table else None
            if code is not None:
                from pymodbus.constants import ExcCodes

                return ExcCodes(code)
        return None
