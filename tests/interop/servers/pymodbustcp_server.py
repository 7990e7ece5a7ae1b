"""A Modbus TCP server built on pyModbusTCP's ModbusServer (not on pymodbus), for historian's
interop tests and benchmarks (127.0.0.1 only).

usage: python pymodbustcp_server.py PORT LOG

The same map and JSON-lines log as ``modbus_server.js``: ``{"rx": fc, ...}`` for every request
received (before it is processed), ``{"fc", "address", "values", "t_ms"}`` for every response
served.
Prints ``ready <port>`` once listening; exits when stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from pyModbusTCP.server import DataBank, DataHandler, ModbusServer

port, log_path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process' life


def record(obj: dict) -> None:
    with lock:
        log.write(json.dumps(obj) + "\n")
        log.flush()


STR_AT, STR_REGS = 100, 16  # holding 100..115: a UTF-8 string, big-endian bytes, NUL padded
holding = [0] * (STR_AT + STR_REGS)
text = [""]


def batch_text(n: int) -> str:
    """Empty now and then, non-ASCII, never longer than 32 bytes (as modbus_server.js)."""
    return "" if n % 4 == 0 else f"B-{n:05d} \u00e9t\u00e9 \u2603"


def change() -> None:
    k = 0
    while True:
        k += 1
        s = batch_text(k)
        raw = s.encode("utf-8").ljust(2 * STR_REGS, b"\0")
        regs = [int.from_bytes(raw[2 * i : 2 * i + 2], "big") for i in range(STR_REGS)]
        with lock:
            holding[:] = [(k * 7 + i * 13) & 0xFFFF for i in range(STR_AT)] + regs
            text[0] = s
        time.sleep(0.2)


class Handler(DataHandler):
    def _serve(self, fc: int, address: int, values: list,
               served_text: str | None = None) -> DataHandler.Return:  # fmt: skip
        line = {"fc": fc, "address": address, "values": values, "t_ms": time.time() * 1000}
        if served_text is not None:
            line["text"] = served_text
        record(line)
        return DataHandler.Return(exp_code=0, data=values)

    def _refuse(self) -> DataHandler.Return:
        return DataHandler.Return(exp_code=2)  # illegal data address

    def read_h_regs(self, address, count, srv_info):
        if address + count > len(holding):
            return self._refuse()
        with lock:
            values = holding[address : address + count]
            covers = address <= STR_AT and address + count >= STR_AT + STR_REGS
            served_text = text[0] if covers else None
        return self._serve(3, address, values, served_text)

    def read_i_regs(self, address, count, srv_info):
        if address + count > 10:
            return self._refuse()
        return self._serve(4, address, [1000 + address + i for i in range(count)])

    def read_coils(self, address, count, srv_info):
        if address + count > 16:
            return self._refuse()
        return self._serve(1, address, [(address + i) % 2 == 1 for i in range(count)])

    def read_d_inputs(self, address, count, srv_info):
        if address + count > 16:
            return self._refuse()
        return self._serve(2, address, [(address + i) % 3 == 0 for i in range(count)])

    def write_h_regs(self, address, words_l, srv_info):
        return self._refuse()

    def write_coils(self, address, bits_l, srv_info):
        return self._refuse()


class LoggingServer(ModbusServer):
    def _internal_engine(self, session_data):
        record({"rx": session_data.request.pdu.func_code, "unit": session_data.request.mbap.unit_id,
                "tid": session_data.request.mbap.transaction_id})  # fmt: skip
        super()._internal_engine(session_data)


def main() -> None:
    threading.Thread(target=change, daemon=True).start()
    server = LoggingServer(host="127.0.0.1", port=port, no_block=True,
                           data_hdl=Handler(data_bank=DataBank()))  # fmt: skip
    server.start()
    print(f"ready {port}", flush=True)
    sys.stdin.read()  # until the parent closes stdin (or dies)
    server.stop()


if __name__ == "__main__":
    main()
