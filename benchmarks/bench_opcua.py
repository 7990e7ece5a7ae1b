"""OPC UA acquisition benchmark: N variables at R Hz from an asyncua server in a subprocess.

Rows (side by side):

- ``raw asyncua``: a bare asyncua client subscription (iterator mode) counting notifications;
  the ceiling of this setup.
- ``collector``: historian's Collector (OpcUaSource -> queue -> batches -> store) writing into
  a real store in a temporary folder.

Each variable's value is its update counter, so loss is measured exactly: per tag, the stored
counters must be contiguous from the first to the last one seen. Latency is source timestamp ->
notification received (raw) and source timestamp -> write acknowledged, i.e. readable through
``read()`` (collector). RSS of this process is sampled every second.

``--server node-opcua`` runs the same against node-opcua (npm, tests/interop/servers, after
``npm ci`` there; SecurityPolicy None), a server not written here; ``--server both`` runs both.
``--publish-requests`` and ``--max-items`` set the source's ``publish_requests`` and
``max_items_per_subscription`` (defaults: the config defaults).

Run: ``python benchmarks/bench_opcua.py [--vars 1000] [--hz 10] [--seconds 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

NS = "urn:historian:bench"

SERVER = textwrap.dedent(
    """
    import asyncio, datetime as dt, logging, os, sys, time
    from asyncua import Server, ua
    logging.disable(logging.WARNING)
    port, n, hz = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    cert, key, uri = (sys.argv[4:7] + [None] * 3)[:3]
    async def main():
        s = Server(); await s.init()
        s.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench/")
        if cert:
            s.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            await s.load_certificate(cert)
            await s.load_private_key(key, format="pem")
            await s.set_application_uri(uri)
        else:
            s.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        s.disable_clock()
        idx = await s.register_namespace("@NS@")
        obj = await s.nodes.objects.add_object(ua.NodeId("Bench", idx), "Bench")
        ids = []
        for i in range(n):
            v = await obj.add_variable(ua.NodeId(f"V{i:05d}", idx), f"V{i:05d}", 0.0,
                                       ua.VariantType.Double)
            ids.append(v.nodeid)
        await s.start()
        parent = os.getppid()
        async def orphan_guard():  # exit with the benchmark, even if it is killed
            while os.getppid() == parent:
                await asyncio.sleep(1)
            os._exit(0)
        guard = asyncio.create_task(orphan_guard())
        print("ready", flush=True)
        k, period, nxt = 0, 1.0 / hz, time.monotonic()
        while True:
            k += 1
            now = dt.datetime.now(dt.UTC)
            for nid in ids:
                dv = ua.DataValue(ua.Variant(float(k), ua.VariantType.Double),
                                  SourceTimestamp=now, ServerTimestamp=now)
                await s.write_attribute_value(nid, dv)
            nxt += period
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
    asyncio.run(main())
    """
).replace("@NS@", NS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


INTEROP_NS = "urn:historian:interop"
SAMPLING_MS = 10.0  # faster than the changes: a server that samples (node-opcua) misses none


def start_node_opcua(n: int, hz: float) -> tuple[object, str]:
    """node-opcua from tests/interop/servers (SecurityPolicy None): (served, url)."""
    import pathlib

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "interop"))
    import third_party as tp

    served = tp.start_node_opcua(pathlib.Path(tempfile.mkdtemp(prefix="bench-node-")), None,
                                 vars=n, hz=hz)  # fmt: skip
    return served, f"opc.tcp://127.0.0.1:{served.port}/interop"


def start_server(n: int, hz: float, pki: dict[str, str] | None = None,
                 ) -> tuple[subprocess.Popen[str], str]:  # fmt: skip
    port = free_port()
    extra = []
    if pki is not None:
        from historian.acquisition.pki import SERVER_URI

        extra = [pki["server_cert_der"], pki["server_key"], SERVER_URI]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(n), str(hz), *extra],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready" not in line:
        proc.kill()
        raise RuntimeError("benchmark server did not start")
    return proc, f"opc.tcp://127.0.0.1:{port}/bench/"


def loss_of(counters: dict[str, list[float]]) -> tuple[int, int]:
    """(missing, received) over all tags: gaps inside each tag's contiguous counter range."""
    missing = received = 0
    for vals in counters.values():
        u = np.unique(np.asarray(vals))
        u = u[u > 0]
        if u.size:
            missing += int(u[-1] - u[0] + 1 - u.size)
            received += int(u.size)
    return missing, received


async def bench_raw(url: str, n: int, hz: float, seconds: float, ns: str = NS,
                    **_: object) -> dict[str, float]:  # fmt: skip
    from asyncua import Client, ua
    from asyncua.common.subscription import DataChangeEvent

    client = Client(url, timeout=10, watchdog_intervall=5.0)
    await client.connect()
    idx = await client.get_namespace_index(ns)
    nodes = [client.get_node(ua.NodeId(f"V{i:05d}", idx)) for i in range(n)]
    period_ms = 1000.0 / hz
    sub = await client.create_subscription(period_ms, None, queue_maxsize=100_000)
    for i in range(0, n, 1000):
        await sub.subscribe_data_change(
            nodes[i : i + 1000], sampling_interval=SAMPLING_MS, queuesize=10
        )  # fmt: skip  (as the collector)
    counters: dict[str, list[float]] = {}
    lat: list[float] = []
    c0 = cpu_s()
    end = time.monotonic() + seconds
    count = 0
    rss = [rss_mb()]
    next_rss = time.monotonic() + 1
    while time.monotonic() < end:
        ev = await sub.next_event(timeout=0.5)
        if not isinstance(ev, DataChangeEvent):
            continue
        count += 1
        counters.setdefault(str(ev.node.nodeid.Identifier), []).append(ev.value)
        if count % 50 == 0:
            st = ev.data.monitored_item.Value.SourceTimestamp
            lat.append(time.time() - st.timestamp())
        if time.monotonic() >= next_rss:
            rss.append(rss_mb())
            next_rss += 1
    cpu = (cpu_s() - c0) / seconds
    await client.disconnect()
    missing, received = loss_of(counters)
    return {"notif_per_s": count / seconds, "received": received, "missing": missing, "cpu": cpu,
            "p50_ms": 1000 * float(np.percentile(lat, 50)),
            "p95_ms": 1000 * float(np.percentile(lat, 95)),
            "rss_start": rss[0], "rss_max": max(rss), "rss_end": rss[-1]}  # fmt: skip


async def bench_collector(url: str, n: int, hz: float, seconds: float,
                          pki: dict[str, str] | None = None, ns: str = NS,
                          source_keys: str = "") -> dict[str, float]:  # fmt: skip
    import pyarrow as pa

    import historian
    from historian.acquisition.collector import Collector
    from historian.acquisition.config import loads

    folder = tempfile.mkdtemp(prefix="bench-opcua-")
    every = f"{1000.0 / hz:.0f}ms"
    text = f"""
[store]
path = "bench.hist"
[collector]
health_every = "1h"
[[opcua]]
name = "bench"
url = "{url}"
every = "{every}"
queue_size = 100000
{source_keys}
"""
    if pki is None:
        text += 'security_policy = "None"\nallow_insecure = true\n'
    else:
        text += (f'certificate = "{pki["client_cert_der"]}"\nprivate_key = "{pki["client_key"]}"\n'
                 f'trust = "{pki["trusted"]}"\n')  # fmt: skip
    for i in range(n):
        text += f'[[opcua.points]]\ntag = "V{i:05d}"\nnode = "nsu={ns};s=V{i:05d}"\n'
        text += f'sampling = "{SAMPLING_MS:g}ms"\n'
    store = historian.open(os.path.join(folder, "bench.hist"))
    c = Collector(loads(text, base_dir=folder), store=store)
    task = asyncio.create_task(c.arun())
    while not c.health().sources["bench"].connected:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # subscriptions created, initial values in
    p0 = c.health().sources["bench"].points
    rss = [rss_mb()]
    c0 = cpu_s()
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(1.0)
        rss.append(rss_mb())
    h = c.health()
    rate = (h.sources["bench"].points - p0) / (time.monotonic() - t0)
    cpu = (cpu_s() - c0) / (time.monotonic() - t0)
    c.request_stop()
    await task
    table = store.read()
    store.close()
    tags = table.column("tag").to_pylist()
    values = table.column("value").to_numpy(zero_copy_only=False)
    counters: dict[str, list[float]] = {}
    for tag, v in zip(tags, values, strict=True):
        counters.setdefault(tag, []).append(v)
    missing, received = loss_of(counters)
    bad = int(pa.compute.sum(pa.compute.not_equal(table.column("quality"), 0)).as_py() or 0)
    return {"notif_per_s": rate, "received": received, "cpu": cpu,
            "missing": missing, "dropped": h.dropped_points, "bad": bad,
            "p50_ms": 1000 * (h.latency_p50_s or float("nan")),
            "p95_ms": 1000 * (h.latency_p95_s or float("nan")),
            "rss_start": rss[0], "rss_max": max(rss), "rss_end": rss[-1],
            "rss_series": " ".join(f"{x:.0f}" for x in rss[::10])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vars", type=int, default=1000)
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--secure",
        action="store_true",
        help="add a collector run over Basic256Sha256 SignAndEncrypt",
    )
    ap.add_argument("--no-raw", action="store_true", help="skip the raw asyncua run")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--server", choices=["asyncua", "node-opcua", "both"], default="asyncua")
    ap.add_argument("--publish-requests", type=int, default=None)
    ap.add_argument("--max-items", type=int, default=None)
    ap.add_argument(
        "--sampling-ms",
        type=float,
        default=SAMPLING_MS,
        help="sampling interval asked for each variable",
    )
    args = ap.parse_args()
    globals()["SAMPLING_MS"] = args.sampling_ms
    keys = ""
    if args.publish_requests is not None:
        keys += f"publish_requests = {args.publish_requests}\n"
    if args.max_items is not None:
        keys += f"max_items_per_subscription = {args.max_items}\n"
    import logging

    logging.basicConfig(level=logging.ERROR)
    results = {}
    runs: list[tuple[str, object, dict[str, str] | None]] = [
        ("raw asyncua", bench_raw, None),
        ("collector", bench_collector, None),
    ]
    if args.no_raw:
        runs.pop(0)
    if args.secure:
        from historian.acquisition.pki import make_pki

        runs.append(("collector S&E", bench_collector, make_pki(tempfile.mkdtemp())))
    servers = ["asyncua", "node-opcua"] if args.server == "both" else [args.server]
    for server in servers:
        for name, fn, pki in runs:
            if server == "node-opcua" and pki is not None:
                continue  # node-opcua runs with SecurityPolicy None here
            label = name if server == "asyncua" else f"{name} (node-opcua)"
            if server == "node-opcua":
                served, url = start_node_opcua(args.vars, args.hz)
                proc, ns = served.proc, INTEROP_NS  # type: ignore[attr-defined]
            else:
                proc, url = start_server(args.vars, args.hz, pki)
                ns = NS
            try:
                time.sleep(1.0)
                kw: dict[str, object] = {"ns": ns}
                if pki is not None:
                    kw["pki"] = pki
                if fn is bench_collector:
                    kw["source_keys"] = keys
                results[label] = asyncio.run(fn(url, args.vars, args.hz, args.seconds, **kw))  # type: ignore[operator]
            finally:
                proc.kill()
                proc.wait()
                for f in (proc.stdin, proc.stdout):
                    if f is not None:
                        f.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    target = args.vars * args.hz
    print(
        f"OPC UA subscription: {args.vars} variables at {args.hz:g} Hz "
        f"(target {target:,.0f} notifications/s), {args.seconds:g} s, server in a subprocess"
    )
    print(
        f"{'client':<14} {'notif/s':>9} {'received':>10} {'missing':>8} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'CPU %':>6} {'RSS MB start/max/end':>22}"
    )
    for name, r in results.items():
        rss = f"{r['rss_start']:.0f}/{r['rss_max']:.0f}/{r['rss_end']:.0f}"
        print(
            f"{name:<14} {r['notif_per_s']:>9,.0f} {r['received']:>10,} {r['missing']:>8,} "
            f"{r['p50_ms']:>8.0f} {r['p95_ms']:>8.0f} {100 * r['cpu']:>6.0f} {rss:>22}"
        )
    for label, c in results.items():
        if "rss_series" in c:
            print(
                f"{label}: RSS MB every 10 s: {c['rss_series']}; dropped {c['dropped']}, "
                f"non-Good points {c['bad']}"
            )
    print(
        "latency = source "
        "timestamp -> write acknowledged (readable via read()); CPU % of one core, client "
        "process only; missing = gaps in each variable's update counter"
    )


if __name__ == "__main__":
    main()
