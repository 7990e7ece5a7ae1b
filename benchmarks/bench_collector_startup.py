"""Collector start-up: time until N tags are defined and the sources polling, on a fresh store.

A config with N Modbus points (holding registers, int16, unit and range per point, split into
``[[modbus]]`` devices of 2,000 points) is generated on the fly against a pymodbus server
(historian.sim.SimModbusServer) on 127.0.0.1 in a subprocess. Measured from ``Collector(...)``
to :meth:`Collector.wait_ready` (store open, every tag in the catalog, sources started), then to
the first Good point of every tag in the store; both on a fresh store in a temporary folder.
A second start on the same store (tags already defined) is measured too.

Run: ``python benchmarks/bench_collector_startup.py [--tags 1000 10000]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PER_DEVICE = 2000

SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from historian.sim import SimModbusServer
    n = int(sys.argv[1])
    async def main():
        srv = SimModbusServer([{"tag": f"R{i}", "table": "holding", "address": i % 60000,
                                "type": "int16"} for i in range(min(n, 60000))])
        await srv.start()
        print(srv.port, flush=True)
        await asyncio.Event().wait()
    asyncio.run(main())
    """
)


def config_text(n: int, port: int, store: Path) -> str:
    out = [f'[store]\npath = "{store}"\n', '[collector]\nhealth_every = "1h"\n']
    for dev in range((n + PER_DEVICE - 1) // PER_DEVICE):
        out.append(f'[[modbus]]\nname = "plc{dev}"\nhost = "127.0.0.1"\nport = {port}\n'
                   f'unit = 1\nevery = "1s"\ntimeout = "2s"\n')  # fmt: skip
        for i in range(dev * PER_DEVICE, min(n, (dev + 1) * PER_DEVICE)):
            out.append(f'  [[modbus.points]]\n  tag = "AREA{i // 1000}.TI-{i:05d}.PV"\n'
                       f'  address = {i - dev * PER_DEVICE}\n  type = "int16"\n'
                       f'  unit = "degC"\n  lo = -50\n  hi = 500\n')  # fmt: skip
    return "\n".join(out)


def start_once(cfg_path: Path, n: int) -> tuple[float, float, float]:
    import historian
    from historian.acquisition import Collector

    t0 = time.perf_counter()
    c = Collector(cfg_path)
    t_parse = time.perf_counter() - t0
    c.start()
    assert c.wait_ready(60)
    t_ready = time.perf_counter() - t0
    while sum(s.points for s in c.health().sources.values()) < n:
        if time.perf_counter() - t0 > 120:
            raise SystemExit("the sources did not poll every tag within 120 s")
        time.sleep(0.01)
    t_first = time.perf_counter() - t0
    c.stop()
    with historian.open(c.config.store.path, mode="r") as h:
        assert h.tags().num_rows == n, h.tags().num_rows
    return t_parse, t_ready, t_first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, nargs="+", default=[1000, 10000])
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(PER_DEVICE)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port = int(proc.stdout.readline())
        print("collector start-up on a fresh store (Modbus, pymodbus server in a subprocess)")
        print(f"{'tags':>7} {'run':<7} {'config':>8} {'ready':>8} {'first poll':>11}")
        for n in args.tags:
            with tempfile.TemporaryDirectory() as tmp:
                cfg = Path(tmp) / "plant.toml"
                cfg.write_text(config_text(n, port, Path(tmp) / "plant.hist"))
                for run in ("fresh", "again"):
                    t_parse, t_ready, t_first = start_once(cfg, n)
                    print(f"{n:>7,} {run:<7} {t_parse:>6.2f} s {t_ready:>6.2f} s "
                          f"{t_first:>9.2f} s")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait()
    print(
        "config: parse and validate the TOML; ready: store open, every tag defined (one "
        "catalog write), sources started; first poll: every tag has a point"
    )


if __name__ == "__main__":
    main()
