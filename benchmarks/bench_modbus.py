"""Modbus polls/s: historian's ModbusSource against raw pymodbus on the same server.

The server (historian.sim.SimModbusServer, 100 holding registers = 50 float32 points) runs in a
subprocess; the client side runs here, one connection, one FC3 request of 100 registers per poll.

1. Paired (the headline figure, robust on a busy machine): one connection, raw pymodbus reads
   and ModbusSource.poll_once alternating call by call; polls/s = 1 / median time per poll.
2. Back to back, each peer on its own connection for ``--seconds`` per round, rounds
   interleaved, the ratio to raw taken per round (same machine load) and then the median:

- raw pymodbus read            : ``read_holding_registers(0, count=100)``, nothing else
- raw pymodbus read + decode   : the same plus ``convert_from_registers`` of the 50 floats
- ModbusSource.poll_once       : historian's read + vectorised decode + SampleBatch
- ModbusSource.run (every=0)   : the full source loop, emitting each batch to a callback
- ModbusSource.run (every=10ms): the fastest rate a config allows; polls take longer than 10 ms
  here, so each late poll starts at once (skipped ticks counted)

3. The same raw-vs-source comparison against Modbus servers not written here, when present
   (npm modbus-serial's ServerTCP and pyModbusTCP's ModbusServer from tests/interop/servers;
   ``npm ci`` there): raw pymodbus loop vs ModbusSource.run (every=10ms), back to back.

Run: ``python benchmarks/bench_modbus.py [--seconds 3] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

POINTS = [
    {"tag": f"R{i:02d}", "table": "holding", "address": 2 * i, "type": "float32"} for i in range(50)
]

SERVER = """
import asyncio, sys
from historian.sim import SimModbusServer
POINTS = [{"tag": f"R{i:02d}", "table": "holding", "address": 2 * i, "type": "float32"}
          for i in range(50)]
async def main():
    srv = SimModbusServer(POINTS)
    await srv.start()
    for i, p in enumerate(POINTS):
        await srv.set_value(p["tag"], 1.5 * i)
    print(srv.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def raw_read(port: int, seconds: float, decode: bool) -> tuple[float, float]:
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    await client.connect()
    dt = client.DATATYPE.FLOAT32
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        rr = await client.read_holding_registers(0, count=100, device_id=1)
        if decode:
            client.convert_from_registers(rr.registers, dt)
        n += 1
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    client.close()
    return n / elapsed, cpu / n


async def source_poll(port: int, seconds: float) -> tuple[float, float]:
    from historian.acquisition.modbus import ModbusSource

    src = ModbusSource("bench", "127.0.0.1", port, points=POINTS, every=0, timeout=2)
    await src._connect()
    assert len(src.requests) == 1 and src.requests[0].count == 100
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        await src.poll_once()
        n += 1
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    src._close()
    return n / elapsed, cpu / n


async def source_run(port: int, seconds: float, every: float = 0.0) -> tuple[float, float]:
    from historian.acquisition.modbus import ModbusSource

    src = ModbusSource("bench", "127.0.0.1", port, points=POINTS, every=every, timeout=2)
    seen = {"n": 0, "last": None}

    def emit(batch):  # count, keep only the last batch (like a collector handing it on)
        seen["n"] += 1
        seen["last"] = batch

    stop = asyncio.Event()
    task = asyncio.create_task(src.run(emit, stop))
    while not src.health().connected:
        await asyncio.sleep(0.01)
    start_n, t0, c0 = seen["n"], time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    n, elapsed = seen["n"] - start_n, time.perf_counter() - t0
    cpu = time.process_time() - c0
    stop.set()
    await task
    assert not seen["last"].quality.any()
    return n / elapsed, cpu / n


async def paired(port: int, pairs: int) -> dict[str, list[float]]:
    from historian.acquisition.modbus import ModbusSource

    src = ModbusSource("bench", "127.0.0.1", port, points=POINTS, every=0, timeout=2)
    await src._connect()
    client, clock = src._client, time.perf_counter
    out: dict[str, list[float]] = {"raw pymodbus read": [], "ModbusSource.poll_once": []}
    for _ in range(200):  # warm up both paths
        await client.read_holding_registers(0, count=100, device_id=1)
        await src.poll_once()
    for _ in range(pairs):
        t0 = clock()
        await client.read_holding_registers(0, count=100, device_id=1)
        t1 = clock()
        await src.poll_once()
        t2 = clock()
        out["raw pymodbus read"].append(t1 - t0)
        out["ModbusSource.poll_once"].append(t2 - t1)
    src._close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--pairs", type=int, default=5000)
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        peers = {
            "raw pymodbus read": lambda: raw_read(port, args.seconds, False),
            "raw pymodbus read + decode": lambda: raw_read(port, args.seconds, True),
            "ModbusSource.poll_once": lambda: source_poll(port, args.seconds),
            "ModbusSource.run (every=0)": lambda: source_run(port, args.seconds),
            "ModbusSource.run (every=10ms)": lambda: source_run(port, args.seconds, 0.01),
        }
        pair = asyncio.run(paired(port, args.pairs))
        results: dict[str, list[float]] = {k: [] for k in peers}
        cpu: dict[str, list[float]] = {k: [] for k in peers}
        names = list(peers)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
                bench = peers[name]
                rate, cpu_s = asyncio.run(bench())
                results[name].append(rate)
                cpu[name].append(cpu_s)
    finally:
        proc.terminate()
        proc.wait()
    print(
        f"Modbus FC3, 100 registers (50 x float32) per poll, server in a subprocess (pymodbus "
        f"{_pymodbus_version()}, Python {sys.version.split()[0]})"
    )
    print()
    print(f"1. paired on one connection, {args.pairs} alternating polls each")
    print(f"{'peer':<28} {'median':>9} {'p90':>9} {'polls/s':>8} {'vs raw':>7}")
    raw_median = statistics.median(pair["raw pymodbus read"])
    for name, xs in pair.items():
        med, p90 = statistics.median(xs), statistics.quantiles(xs, n=10)[-1]
        print(
            f"{name:<28} {med * 1e6:>6.0f} us {p90 * 1e6:>6.0f} us {1 / med:>8,.0f}"
            f" {raw_median / med:>6.0%}"
        )
    print()
    raw = results["raw pymodbus read"]
    raw_cpu = cpu["raw pymodbus read"]
    print(
        f"2. back to back, 1 connection each, {args.rounds} interleaved rounds x "
        f"{args.seconds:g} s (median; ratio per round)"
    )
    print(f"{'peer':<28} {'polls/s':>8} {'(min-max)':>15} {'vs raw':>7} {'client CPU/poll':>16}")
    for name, vals in results.items():
        # ratio per round (same load on this shared machine), then the median
        ratio = statistics.median(v / r for v, r in zip(vals, raw, strict=True))
        c = statistics.median(cpu[name])
        print(
            f"{name:<28} {statistics.median(vals):>8,.0f} {min(vals):>7,.0f}-{max(vals):<7,.0f}"
            f" {ratio:>6.0%} {c * 1e6:>13.0f} us"
        )
    extra = statistics.median(
        (a - b) * 1e6 for a, b in zip(cpu["ModbusSource.poll_once"], raw_cpu, strict=True)
    )
    print(f"historian's added client CPU per poll (poll_once - raw read): {extra:.0f} us")
    third_party(args.seconds, max(3, args.rounds // 3))


def third_party(seconds: float, rounds: int) -> None:
    """Raw pymodbus vs ModbusSource.run (every=10ms) against servers not written here."""
    import pathlib
    import tempfile

    interop = pathlib.Path(__file__).resolve().parents[1] / "tests" / "interop"
    sys.path.insert(0, str(interop))
    try:
        import third_party as tp
    except ImportError as exc:
        print(f"\n3. third-party servers: not available ({exc})")
        return
    starters = {
        "npm modbus-serial": tp.start_modbus_serial,
        "  + 15 ms per answer": lambda folder: tp.start_modbus_serial(folder, delay_ms=15),
        "pyModbusTCP": tp.start_pymodbustcp,
    }
    print(
        f"\n3. third-party servers, back to back, {rounds} interleaved rounds x {seconds:g} s "
        "(median polls/s; ratio to raw per round)"
    )
    print(
        f"{'server':<22} {'raw pymodbus':>12} {'every=0':>9} {'ratio':>6} {'every=10ms':>11} "
        f"{'ratio':>6}  function codes received"
    )
    for label, start in starters.items():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                served = start(pathlib.Path(tmp))
            except (RuntimeError, OSError) as exc:
                print(f"{label:<18} not available: {exc}")
                continue
            try:
                raw, fast, tick, r_fast, r_tick = [], [], [], [], []
                for _ in range(rounds):
                    r = asyncio.run(raw_read(served.port, seconds, False))[0]
                    f = asyncio.run(source_run(served.port, seconds, 0.0))[0]
                    t = asyncio.run(source_run(served.port, seconds, 0.01))[0]
                    raw.append(r)
                    fast.append(f)
                    tick.append(t)
                    r_fast.append(f / r)
                    r_tick.append(t / r)
                fcs = {rec["rx"] for rec in served.records() if "rx" in rec}
            finally:
                tp.stop(served.proc)
        med = statistics.median
        print(
            f"{label:<22} {med(raw):>12,.0f} {med(fast):>9,.0f} {med(r_fast):>6.0%} "
            f"{med(tick):>11,.0f} {med(r_tick):>6.0%}  {sorted(fcs)}"
        )


def _pymodbus_version() -> str:
    import pymodbus

    return str(pymodbus.__version__)


if __name__ == "__main__":
    main()
