"""What the first call costs: ``import historian`` and a first session, as whole processes.

    python benchmarks/bench_cold_start.py [--repeat 3] [--skip-peers] [--baseline DIR] [--json]

Every figure is the wall time of a fresh Python process (``subprocess``), so it includes the
interpreter start, the imports and Numba's compilation or cache loading:

* ``import``: ``import historian`` alone;
* ``cold session``: a first session with an empty ``NUMBA_CACHE_DIR`` (a new venv, a CI run, a
  container start): ``import historian``, open a store in a temporary folder, define a tag (with a
  range rule, as in the README), write 1,000 points, read them, ``summary`` (twa, min, max,
  count), ``interpolated`` and ``plot``;
* ``warm session``: the same with the cache directory of a previous run (every later start);
* ``cold/warm summarize``: ``import historian`` and a first ``historian.summarize`` (twa, min,
  max, count) of 1,000 points in arrays, no store (the issue's first figure);
* ``polars``: ``import polars`` and a first ``group_by_dynamic`` aggregation of the same 1,000
  points, for reference (if polars is installed).

Each process also reports how many Numba specialisations the session has (compiled or loaded
from the cache: a structural figure, the same on every machine) and whether pandas and numba
were imported.
Wall and CPU seconds of the whole process are printed; on a shared machine CPU time is the steadier
figure. ``--baseline DIR`` measures another checkout too (``git worktree add DIR <commit>``), its
processes interleaved with this one's, for a before/after in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SESSION = r"""
import json, os, sys, tempfile, time
t0 = time.perf_counter()
import historian
t_import = time.perf_counter() - t0
if os.environ.get("BENCH_IMPORT_ONLY"):
    print(json.dumps({"import": t_import}))
    raise SystemExit
import numpy as np
S = 1_000_000_000
T0 = 1_767_225_600 * S
n = 1000
t = T0 + np.arange(n, dtype=np.int64) * S
v = 50 + 20 * np.sin(np.arange(n) / 50.0)
with tempfile.TemporaryDirectory() as d:
    with historian.open(os.path.join(d, "plant.hist")) as h:
        h.define("TIC-101.PV", unit="degC", lo=0, hi=200, rules={"range": {}})
        h.write("TIC-101.PV", t, v)
        raw = h.read("TIC-101.PV")
        s = h.summary("TIC-101.PV", T0, T0 + n * S, "1min", stats=["twa", "min", "max", "count"])
        w = h.interpolated("TIC-101.PV", T0, T0 + n * S, "10s")
        p = h.plot("TIC-101.PV", T0, T0 + n * S, width=100)
        assert raw.num_rows == n and s.num_rows == 4 * 17 and p.num_rows > 0, (raw, s, p)
t_session = time.perf_counter() - t0
specs = {}
numba_used = "numba" in sys.modules
if numba_used:  # (importing numba only to count would add its import to every process)
    from numba.core.registry import CPUDispatcher
    for name, mod in list(sys.modules.items()):
        if name.startswith("historian."):
            for attr, obj in vars(mod).items():
                if isinstance(obj, CPUDispatcher) and obj.signatures:
                    specs[f"{obj.__module__}.{obj.__name__}"] = [str(s) for s in obj.signatures]
print(json.dumps({"import": t_import, "session": t_session, "specs": specs,
                  "pandas": "pandas" in sys.modules, "numba": numba_used}))
"""

SUMMARIZE = r"""
import numpy as np, historian
t = np.arange(1000, dtype=np.int64) * 1_000_000_000
s = historian.summarize(t, np.sin(np.arange(1000.0)), start=0, end=1000 * 10**9, every="1min",
                        stats=["twa", "min", "max", "count"])
assert s.num_rows == 4 * 17
"""

POLARS = r"""
import time
t0 = time.perf_counter()
import numpy as np, polars as pl
S = 1_000_000_000
n = 1000
t = (1_767_225_600 * S + np.arange(n, dtype=np.int64) * S).astype("datetime64[ns]")
v = 50 + 20 * np.sin(np.arange(n) / 50.0)
df = pl.DataFrame({"time": t, "value": v})
out = df.group_by_dynamic("time", every="1m").agg(
    pl.col("value").mean().alias("mean"), pl.col("value").min().alias("min"),
    pl.col("value").max().alias("max"), pl.col("value").count().alias("count"))
assert out.height == 17
print(time.perf_counter() - t0)
"""


def run(
    code: str, cache_dir: str | None, path: str | None = None, **env: str
) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the whole process, its stdout)."""
    e = dict(os.environ, **env)
    e.pop("NUMBA_DISABLE_JIT", None)
    if cache_dir is not None:
        e["NUMBA_CACHE_DIR"] = cache_dir
    if path is not None:
        e["PYTHONPATH"] = path
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # run outside any checkout: ``python -c`` puts the working folder first on sys.path
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=e,
        capture_output=True,
        text=True,
        cwd=path or tempfile.gettempdir(),
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        raise SystemExit(f"the benchmark process failed:\n{proc.stderr}")
    return wall, cpu, proc.stdout


def measure(path: str | None, warm_dir: str, rows: dict, report: dict) -> None:
    """One process of each kind for the checkout at ``path`` (None: the installed historian)."""
    wall, cpu, out = run(SESSION, warm_dir, path, BENCH_IMPORT_ONLY="1")
    rows["import"].append((wall, cpu))
    with tempfile.TemporaryDirectory() as cold_dir:
        wall, cpu, out = run(SESSION, cold_dir, path)
    rows["cold session"].append((wall, cpu))
    wall, cpu, out = run(SESSION, warm_dir, path)
    rows["warm session"].append((wall, cpu))
    report.update(json.loads(out))
    with tempfile.TemporaryDirectory() as cold_dir:
        rows["cold summarize"].append(run(SUMMARIZE, cold_dir, path)[:2])
    rows["warm summarize"].append(run(SUMMARIZE, warm_dir, path)[:2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="processes per figure (median)")
    ap.add_argument("--skip-peers", action="store_true", help="no polars reference")
    ap.add_argument("--baseline", metavar="DIR", help="another checkout to measure (before)")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = ap.parse_args()
    kinds = ("import", "cold session", "warm session", "cold summarize", "warm summarize")
    trees = {"now": None} if not args.baseline else {"before": args.baseline, "now": None}
    rows = {tree: {k: [] for k in kinds} for tree in trees}
    reports: dict[str, dict] = {tree: {} for tree in trees}
    with tempfile.TemporaryDirectory() as warm_root:
        dirs = {tree: tempfile.mkdtemp(dir=warm_root) for tree in trees}
        for tree, path in trees.items():
            run(SESSION, dirs[tree], path)  # fill the warm cache
        for _ in range(args.repeat):
            for tree, path in trees.items():
                measure(path, dirs[tree], rows[tree], reports[tree])
    peers: list[tuple[float, float]] = []
    if not args.skip_peers:
        try:
            import polars  # noqa: F401
        except ImportError:
            pass
        else:
            peers = [run(POLARS, None)[:2] for _ in range(args.repeat)]

    def med(pairs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)

    def specs(tree: str) -> int:
        return sum(len(v) for v in reports[tree]["specs"].values())

    if args.json:
        print(
            json.dumps(
                {
                    tree: {k: med(v) for k, v in rows[tree].items()}
                    | {"specialisations": specs(tree), "pandas": reports[tree]["pandas"]}
                    for tree in trees
                }
                | ({"polars": med(peers)} if peers else {})
            )
        )
        return
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load "
        f"{os.getloadavg()[0]:.2f}; median of {args.repeat} processes; seconds, wall / CPU"
    )
    print(f"{'':28}" + "".join(f"{tree:>18}" for tree in trees))
    for k in kinds:
        cells = "".join("{:>10.2f} / {:<5.2f}".format(*med(rows[tree][k])) for tree in trees)
        print(f"{k:28}{cells}")
    if peers:
        print(f"{'polars import + first agg':28}" + "{:>10.2f} / {:<5.2f}".format(*med(peers)))
    for tree in trees:
        r = reports[tree]
        print(
            f"{tree}: {specs(tree)} Numba specialisations in a warm session; "
            f"pandas imported: {r['pandas']}; numba imported: {r.get('numba', True)}"
        )
        for name, sigs in sorted(r["specs"].items()):
            print(f"  {len(sigs)}  {name}")


if __name__ == "__main__":
    main()
