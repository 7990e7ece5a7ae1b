"""The ``historian demo`` application: the simulated plant collected, qualified and reported.

:func:`run_demo` starts :class:`~historian.sim.SimServers` (Modbus TCP and OPC UA on 127.0.0.1),
runs a :class:`~historian.acquisition.Collector` on them for a few seconds while injecting
sensor faults (a spike, a sensor failure, stuck values, a silent server), then prints what was
collected, the quality found by the qualification rules, a Part 13 summary and the strongest
lagged correlations. The OPC UA login of the simulator is passed to the collector explicitly
(``Collector(environ=...)``): the demo never changes ``os.environ``.

This is an application, not library code: it writes its report through ``out`` (``print`` by
default), and the CLI's ``historian demo`` is a thin wrapper over it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from historian.cli import _fmt_bytes, _fmt_int, _fmt_num, _fmt_time, _one_line, _out, _table

__all__ = ["DemoOptions", "run_demo", "warm_up"]

_SUMMARY_TAGS = (
    "TIC-101.PV", "TIC-101.SP", "TIC-101.OUT", "TI-102.PV", "PI-103.PV",
    "FIC-104.PV", "LIC-105.PV",
)  # fmt: skip

_TEXT_TAGS = ("REACTOR.BATCH", "REACTOR.STATE", "REACTOR.BATCH.MB")

#: Process signals the correlation looks at (counters and alarms left out).
_CORRELATE = (
    "TIC-101.PV", "TIC-101.OUT", "TI-102.PV", "PI-103.PV", "FIC-104.PV", "FV-104.POS",
    "LIC-105.PV", "TT-101.RAW", "TI-102.MB", "PI-103.MB", "TIC-101.OUT.MB",
)  # fmt: skip

#: Measurements (noisy analog signals) that get the full set of qualification rules.
_MEASUREMENTS = (
    "TIC-101.PV", "TI-102.PV", "PI-103.PV",  # OPC UA
    "FIC-104.PV", "LIC-105.PV", "TT-101.RAW", "TI-102.MB", "PI-103.MB",  # Modbus
)  # fmt: skip


@dataclass(frozen=True)
class DemoOptions:
    """How the demo runs (the ``historian demo`` options).

    Examples
    --------
    >>> DemoOptions(seconds=6, secure=False).faults
    True
    """

    seconds: float = 20.0
    secure: bool = True  # OPC UA Basic256Sha256 with certificates and a user login
    faults: bool = True  # inject the sensor faults
    progress: bool = True  # a progress bar (on a terminal only)
    shown_store: str = "demo.hist"  # the store path as the user wrote it (for the hints)


def run_demo(store: str, opts: DemoOptions) -> None:
    """Collect the simulated plant into ``store`` for ``opts.seconds`` and print the report.

    The analysis kernels are compiled (or loaded from Numba's cache) in a second process while
    the demo collects, so a first run does not add that time after the collection.
    """
    import asyncio
    import tempfile

    warm = _start_warm_up()
    try:
        with tempfile.TemporaryDirectory(prefix="historian-demo-") as workdir:
            result = asyncio.run(_collect(opts, store, workdir))
        _finish_warm_up(warm)
    finally:
        if warm is not None and warm.poll() is None:
            warm.kill()
            warm.wait()
    _report(opts, store, result)


def _rules(point: dict[str, Any], seconds: float) -> dict[str, Any] | None:
    """Qualification rules the demo puts on a point (None: the tag's defaults)."""
    tag = point["tag"]
    if point.get("kind", "analog") != "analog":
        return None
    lo, hi = point.get("lo"), point.get("hi")
    rules: dict[str, Any] = {}
    if lo is not None or hi is not None:
        rules["range"] = {k: v for k, v in (("lo", lo), ("hi", hi)) if v is not None}
    if tag in _MEASUREMENTS:
        span = (hi - lo) if lo is not None and hi is not None else 100.0
        flat = max(1.5, min(5.0, seconds / 8))
        rules.update(
            roc={"max_per_s": round(span / 2, 3)},
            spike={"window": 11, "k": 6, "min_deviation": round(span / 100, 3)},
            flatline={"duration": f"{flat:g}s", "epsilon": 0},
            gap={"expected": "1.5s"},
        )
    return rules or None


def _config(sim: Any, store: str, spool: str, seconds: float) -> dict[str, Any]:
    doc = sim.config(store=store, every="200ms", opcua_every="200ms")
    doc["collector"] = {"spool": spool, "health_every": "1h", "batch_interval": "200ms"}
    for section in ("modbus", "opcua"):
        for dev in doc.get(section, []):
            # values are float64: the plant's text signals (state, batch id) are left out
            dev["points"] = [
                p for p in dev["points"] if p.get("type") != "string" and p["tag"] not in _TEXT_TAGS
            ]
            for p in dev["points"]:
                rules = _rules(p, seconds)
                if rules:
                    p["rules"] = rules
    return doc


async def _faults(sim: Any, seconds: float, note: Callable[[str], None]) -> None:
    """A few sensor faults, so that qualification has something to find."""
    import asyncio

    from historian.model import quality as q

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, t0 + fraction * seconds - time.monotonic()))

    t0 = time.monotonic()
    mb, ua = sim.modbus, sim.opcua
    if mb is not None:
        await at(0.25)  # a wild sample on the Modbus feed flow
        note("spike: FIC-104.PV (Modbus) reads 99 m3/h for 0.45 s")
        mb.freeze(True)
        await mb.set_value("FIC-104.PV", 99.0)
        await asyncio.sleep(0.45)
        mb.freeze(False)
    if ua is not None:
        await at(0.4)  # the jacket thermometer fails
        note("sensor failure: TI-102.PV (OPC UA) reports Bad_SensorFailure for 1 s")
        ua.set_status("TI-102.PV", q.BAD_SENSOR_FAILURE)
        await asyncio.sleep(1.0)
        ua.set_status("TI-102.PV", None)
    if mb is not None:
        await at(0.55)  # the PLC answers stale data
        stuck = max(2.5, min(6.0, seconds / 5))
        note(f"stuck: the Modbus PLC answers frozen values for {stuck:g} s")
        mb.freeze(True)
        await asyncio.sleep(stuck)
        mb.freeze(False)
    if ua is not None:
        await at(0.8)  # the OPC UA server stops publishing
        note("silence: the OPC UA server publishes nothing for 2 s")
        ua.freeze(True)
        await asyncio.sleep(2.0)
        ua.freeze(False)


async def _collect(opts: DemoOptions, store: str, workdir: str) -> dict[str, Any]:
    import asyncio

    from historian.acquisition import Collector
    from historian.acquisition.config import from_dict
    from historian.sim import SimServers
    from historian.sim.servers import DEFAULT_PASSWORD, DEFAULT_USER, PASSWORD_ENV, USER_ENV

    seconds = float(opts.seconds)
    secure = opts.secure
    # the simulator's login, handed to the collector explicitly (never put in os.environ);
    # HISTORIAN_SIM_USER / HISTORIAN_SIM_PASSWORD, when set, choose another one
    user = os.environ.get(USER_ENV, DEFAULT_USER)
    password = os.environ.get(PASSWORD_ENV, DEFAULT_PASSWORD)
    users = {user: password}
    notes: list[str] = []
    sim = SimServers(secure=secure, pki_dir=os.path.join(workdir, "pki") if secure else None,
                     users=users)  # fmt: skip
    async with sim:
        doc = _config(sim, store, os.path.join(workdir, "spool"), seconds)
        collector = Collector(
            from_dict(doc, base_dir=os.getcwd()), environ={USER_ENV: user, PASSWORD_ENV: password}
        )
        _out(f"  Modbus TCP  {sim.endpoints['modbus']}  ({len(doc['modbus'][0]['points'])} points, "
             "polled every 200 ms)")  # fmt: skip
        ua_security = ("Basic256Sha256 SignAndEncrypt, certificates + user/password" if secure
                       else "SecurityPolicy None (allow_insecure, --insecure)")  # fmt: skip
        _out(f"  OPC UA      {sim.endpoints['opcua']}  ({len(doc['opcua'][0]['points'])} "
             f"variables, subscribed; {ua_security})")  # fmt: skip
        t_start = time.time_ns()
        task = asyncio.create_task(collector.arun())
        # wait (bounded) until both sources connect, so the N seconds are N seconds of data
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not task.done():
            sources = collector.health().sources
            if sources and all(s.connected for s in sources.values()):
                break
            await asyncio.sleep(0.05)
        faults = (
            None if not opts.faults else asyncio.create_task(_faults(sim, seconds, notes.append))
        )
        from historian.progress import bar as progress_bar

        # a bar only on a terminal (never \r updates in a log); --no-progress or
        # HISTORIAN_PROGRESS=0 turn it off there too
        bar = progress_bar(None if opts.progress else False, total=round(seconds),
                           desc="collecting", unit="s", leave=True,
                           bar_format="{desc}: {bar} {n:.0f}/{total:.0f} s{postfix}")  # fmt: skip
        t0 = time.monotonic()
        try:
            while not task.done():
                elapsed = time.monotonic() - t0
                if elapsed >= seconds:
                    break
                await asyncio.sleep(min(0.25, seconds - elapsed))
                if bar is not None:  # a no-op bar when none is drawn
                    h = collector.health()
                    got = sum(s.points for s in h.sources.values())
                    bar.n = min(round(seconds), round(time.monotonic() - t0))
                    bar.set_postfix_str(f"{got:,} points")
        finally:
            if bar is not None:
                bar.n = round(seconds) if time.monotonic() - t0 >= seconds else bar.n
                bar.refresh()
                bar.close()
            if faults is not None:
                faults.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await faults
            collector.request_stop()
            await task  # drains the queue, flushes and closes the store
        t_end = time.time_ns()
    return {"health": collector.health(), "start": t_start, "end": t_end, "secure": secure,
            "notes": notes, "config": doc}  # fmt: skip


def warm_up() -> None:
    """Compile (or load from the cache) the kernels the demo's report uses, on a tiny store.

    Run in a separate process while the demo collects: on a fresh install Numba compiles the
    Part 13 aggregates and the correlation for tens of seconds; in parallel that time is hidden
    behind the collection instead of added after it. The results land in Numba's cache.
    """
    import tempfile

    import numpy as np

    import historian

    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)
    with tempfile.TemporaryDirectory(prefix="historian-warmup-") as d, historian.open(d) as h:
        point = {"tag": "A", "kind": "analog", "lo": 0.0, "hi": 100.0}
        h.define("A", lo=0.0, hi=100.0, rules=_rules(point, 20.0))
        h.define("B", kind="step")
        t = time.time_ns() - 20 * 10**9 + np.arange(100, dtype=np.int64) * 200_000_000
        h.write("A", t, 50 + np.sin(np.arange(100) / 5.0))
        h.write("B", t, (np.arange(100) // 10 % 3).astype(float))
        start, end = int(t[0]), int(t[-1])
        h.summary(["A", "B"], start, end, 5.0, stats=["twa", "min", "max", "pct_good"])
        h.correlate(["A", "B"], start, end, 0.25, max_lag="2s", progress=False)
        h.read(None, start, end, reasons=True)


def _start_warm_up() -> Any:
    import subprocess

    try:
        return subprocess.Popen(
            [sys.executable, "-c", "from historian.sim.demo import warm_up; warm_up()"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:  # the report compiles what it needs itself
        return None


def _finish_warm_up(proc: Any, timeout: float = 120.0) -> None:
    if proc is None:
        return
    import subprocess

    if proc.poll() is None:
        _out("  compiling the analysis kernels (first run only; cached afterwards)...")
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _report(opts: DemoOptions, store: str, result: dict[str, Any]) -> None:
    import numpy as np

    import historian
    from historian.kernels import reason_names
    from historian.model import quality as q

    health, start, end = result["health"], result["start"], result["end"]
    cfg = result["config"]
    for note in result["notes"]:
        _out(f"  fault injected: {note}")
    with historian.open(store, mode="r") as h:
        pts = h.read(None, start, end, reasons=True)
        info = h.info()
        tags_tbl = h.tags()
        units = dict(zip(tags_tbl.column("name").to_pylist(), tags_tbl.column("unit").to_pylist(),
                         strict=True))  # fmt: skip
        tag_col = np.asarray(pts.column("tag").to_pylist(), dtype=object)
        quality = pts.column("quality").to_numpy()
        reasons = pts.column("reasons").to_numpy()
        n = pts.num_rows
        by_proto = {
            "Modbus TCP": {p["tag"] for d in cfg.get("modbus", []) for p in d["points"]},
            "OPC UA": {p["tag"] for d in cfg.get("opcua", []) for p in d["points"]},
        }
        seen = set(tag_col.tolist())
        _out()
        _out("== Collected")
        secs = (end - start) / 1e9
        for proto, tags in by_proto.items():
            m = int(np.isin(tag_col, list(tags)).sum())
            _out(f"  {proto:<11} {len(tags & seen):>2} tags  {_fmt_int(m):>8} points")
        _out(f"  total       {len(seen):>2} tags  {_fmt_int(n):>8} points in {secs:.1f} s "
             f"({n / max(secs, 1e-9):,.0f} points/s)")  # fmt: skip
        for name, s in health.sources.items():
            last = "-" if s.last_good_ns is None else _fmt_time(s.last_good_ns, ms=True)
            _out(f"  source {name}: {_fmt_int(s.points)} points, {s.errors} errors, "
                 f"{s.reconnects} reconnects, last good value {last}")  # fmt: skip
            if s.last_error and (s.errors or not s.points):
                _out(f"    last error: {_one_line(Exception(s.last_error))}")
        _out(f"  collector: written={_fmt_int(health.written_points)} dropped="
             f"{_fmt_int(health.dropped_points)} latency p50="
             f"{_fmt_num(health.latency_p50_s, 3)} s")  # fmt: skip
        total_points = info["points_in_files"] + info["points_pending"]
        bpp = info["bytes_per_point"]
        _out(
            f"  store: {_fmt_int(total_points)} points in {info['files']} file(s), "
            f"{_fmt_bytes(info['bytes'])}, "
            f"{'-' if bpp is None else f'{bpp:.2f}'} bytes/point"
            + (" (small files: Parquet footers dominate a short run)" if bpp and bpp > 4 else "")
        )

        _out()
        _out("== Quality and qualification")
        good = int(q.good_mask(quality).sum()) if n else 0
        bad = int(q.bad_mask(quality).sum()) if n else 0
        unc = n - good - bad
        _out(f"  Good {_fmt_int(good)}   Uncertain {_fmt_int(unc)}   Bad {_fmt_int(bad)}")
        codes, counts = np.unique(quality[quality != 0], return_counts=True)
        for code, c in sorted(zip(codes.tolist(), counts.tolist(), strict=True),
                              key=lambda x: -x[1])[:6]:  # fmt: skip
            _out(f"    {q.name(code):<36} {_fmt_int(c):>7}")
        flagged = int((reasons != 0).sum())
        bits: dict[str, int] = {}
        for r, c in zip(*np.unique(reasons[reasons != 0], return_counts=True), strict=True):
            for rule in reason_names(int(r)):
                bits[rule] = bits.get(rule, 0) + int(c)
        _out(f"  rules flagged {_fmt_int(flagged)} point(s) (a point can trip several rules):")
        if bits:
            _out("    " + "   ".join(f"{k} {_fmt_int(v)}" for k, v in
                                     sorted(bits.items(), key=lambda x: -x[1])))  # fmt: skip
        else:
            _out("    none")

        _summary(h, start, end, float(opts.seconds), seen, units)
        _correlations(h, start, end, seen)
    rel = opts.shown_store
    t0, t1 = _fmt_time(start), _fmt_time(end)
    _out()
    _out("== Next")
    _out(f"  historian info {rel}")
    _out(
        f"  historian query {rel} "
        '"SELECT tag, count(*) AS n, avg(value) AS mean FROM points GROUP BY tag"'
    )
    _out("  in a notebook:")
    _out("    import historian")
    _out(f"    h = historian.open({rel!r})")
    _out("    h.tags().to_pandas()")
    _out("    h.read('TIC-101.PV').to_pandas()")
    _out(f"    h.summary(['TIC-101.PV', 'TI-102.PV'], {t0!r}, {t1!r}, '5s',")
    _out("              stats=['twa', 'min', 'max']).to_pandas()")
    _out(f"    h.correlate(None, {t0!r}, {t1!r}, '1s', max_lag='10s').to_pandas()")


def _summary(h: Any, start: int, end: int, seconds: float, seen: set[str],
                  units: dict[str, str]) -> None:  # fmt: skip
    every_s = max(5, math.ceil(seconds / 4 / 5) * 5)  # about four intervals, whole 5 s
    every_ns = int(every_s * 1e9)
    first = -(-start // every_ns) * every_ns  # whole intervals only
    last = end // every_ns * every_ns
    if last <= first:
        first, last = start, end
        every_ns = max(1, last - first)
    tags = [t for t in _SUMMARY_TAGS if t in seen]
    _out()
    _out(
        f"== Summary ({every_ns / 1e9:.3g} s intervals; twa = time-weighted average, "
        "OPC UA Part 13)"
    )
    if not tags:
        _out("  no data")
        return
    table = h.summary(tags, first, last, every_ns / 1e9, stats=["twa", "min", "max", "pct_good"])
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for tag, st, stat, value in zip(table.column("tag").to_pylist(),
                                    table.column("start").cast("int64").to_pylist(),
                                    table.column("stat").to_pylist(),
                                    table.column("value").to_pylist(), strict=True):  # fmt: skip
        rows.setdefault((tag, st), {})[stat] = value
    out = []
    for (tag, st), vals in rows.items():
        pct = vals.get("pct_good")
        out.append([tag, units.get(tag, ""), _fmt_time(st)[11:19], _fmt_num(vals.get("twa")),
                    _fmt_num(vals.get("min")), _fmt_num(vals.get("max")),
                    "-" if pct is None else f"{pct:.0f}"])  # fmt: skip
    text = _table(["tag", "unit", "start", "twa", "min", "max", "% good"], out, "lllrrrr")
    _out("\n".join("  " + line for line in text.splitlines()))
    outside = sum(
        1 for v in rows.values()
        if None not in (v.get("twa"), v.get("min"), v.get("max"))
        and not v["min"] <= v["twa"] <= v["max"]
    )  # fmt: skip
    _out(
        "  min/max are raw samples inside the interval; twa is the area under the line drawn "
        "through the samples,"
    )
    _out(
        "  including the values interpolated at the interval's edges, so it can lie outside "
        "[min, max]" + (f" ({outside} row(s) here)." if outside else ".")
    )
    _out(
        "  '-': no raw sample in the interval (a step tag that did not change: twa is the held "
        "value)."
    )


def _correlations(h: Any, start: int, end: int, seen: set[str]) -> None:
    from historian.sim.servers import MODBUS_SOURCES

    def same(a: str, b: str) -> bool:  # one plant signal read over both protocols
        return MODBUS_SOURCES.get(a, a) == MODBUS_SOURCES.get(b, b)

    tags = [t for t in _CORRELATE if t in seen]
    span_s = (end - start) / 1e9
    every_s = 0.25 if span_s <= 40 else 0.5 if span_s <= 120 else 1.0
    max_lag_s = max(1.0, min(30.0, round(span_s / 4)))
    _out()
    _out(f"== Strongest lagged correlations (h.correlate: {every_s:g} s grid, lags up to "
         f"±{max_lag_s:g} s)")  # fmt: skip
    if len(tags) < 2:
        _out("  not enough tags")
        return
    every_ns = int(every_s * 1e9)
    first = -(-start // every_ns) * every_ns
    table = h.correlate(tags, first, end, every_s, max_lag=f"{max_lag_s:g}s", progress=False)
    rows, checks = [], []
    for row in table.to_pylist():
        a, b, r, lag = row["tag_a"], row["tag_b"], row["r_at_lag"], row["lag"]
        if r is None:
            continue
        if same(a, b):
            if row["r"] is not None:
                checks.append(f"{a} ~ {b} r={row['r']:+.3f}")
            continue
        lag_s = lag.total_seconds() if lag is not None else 0.0
        if lag_s < 0:  # read it as "b follows a"
            a, b, lag_s = b, a, -lag_s
        lead = f"{b} follows {a} by {lag_s:.2f} s" if lag_s > 0 else "in step"
        rows.append([a, b, f"{r:+.3f}", f"{lag_s:.2f}", str(row["n_at_lag"]), lead])
    if not rows:
        _out("  not enough data")
        return
    text = _table(["tag", "tag", "r", "lag s", "n", ""], rows[:6], "llrrrl")
    _out("\n".join("  " + line for line in text.splitlines()))
    if span_s < 60:
        _out(f"  (over {span_s:.0f} s, shared slow trends dominate; --seconds 120 shows the "
             "process lags better)")  # fmt: skip
    if checks:
        _out("  same signal over Modbus and OPC UA (lag 0): " + "; ".join(checks[:3]))
