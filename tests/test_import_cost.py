"""What a first session costs, structurally (timings are measured by
``benchmarks/bench_cold_start.py``, not asserted here).

A session as in the README -- open a store, define a tag with a range rule, write, read, summary,
interpolated, plot -- runs in fresh processes. Of 1,000 points: neither pandas nor Numba is
imported (the numpy paths for small inputs serve it). Of 10,000 points, with an empty Numba cache
and then reusing it: pandas is not imported, every kernel is compiled for one set of argument
types only, the number of specialisations stays small, and the second process compiles nothing
(everything comes from the cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SESSION = r"""
import json, os, sys
import numpy as np
import historian

S = 1_000_000_000
T0 = 1_767_225_600 * S
n = int(sys.argv[2])
t = T0 + np.arange(n, dtype=np.int64) * S
v = 50 + 20 * np.sin(np.arange(n) / 50.0)
with historian.open(os.path.join(sys.argv[1], "plant.hist")) as h:
    h.define("TIC-101.PV", unit="degC", lo=0, hi=200, rules={"range": {}})
    h.write("TIC-101.PV", t, v)
    assert h.read("TIC-101.PV").num_rows == n
    s = h.summary("TIC-101.PV", T0, T0 + n * S, "1min", stats=["twa", "min", "max", "count"])
    assert s.num_rows == 4 * -(-n // 60)
    assert h.interpolated("TIC-101.PV", T0, T0 + n * S, "10s").num_rows == n // 10 + 1
    assert h.plot("TIC-101.PV", T0, T0 + n * S, width=100).num_rows > 0
numba_used = "numba" in sys.modules  # before the import below
from numba.core.registry import CPUDispatcher
kernels = {}
for name, mod in list(sys.modules.items()):
    if name.startswith("historian."):
        for obj in vars(mod).values():
            if isinstance(obj, CPUDispatcher) and obj.signatures:
                kernels[f"{obj.__module__}.{obj.__name__}"] = {
                    "signatures": [str(sig) for sig in obj.signatures],
                    "compiled": sum(obj.stats.cache_misses.values()),
                }
print(json.dumps({"pandas": "pandas" in sys.modules, "numba": numba_used,
                  "kernels": kernels}))
"""

#: Kernels (with the helpers they call) a session of 10,000 points compiles on a fresh machine
#: (a session of a few thousand points compiles none: kernels/_small.py). It was 46 before
#: issue 19 (up to four specialisations of one helper for literal arguments).
MAX_SPECIALISATIONS = 18


def _session(tmp_path, cache_dir, n) -> dict:
    store = tmp_path / f"store-{len(list(tmp_path.iterdir()))}"
    store.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.run(
        [sys.executable, "-c", SESSION, str(store), str(n)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_small_first_session_imports_neither_pandas_nor_numba(tmp_path):
    cold = _session(tmp_path, tmp_path / "numba-cache", 1000)
    assert cold == {"pandas": False, "numba": False, "kernels": {}}


def test_a_large_session_compiles_each_kernel_once_and_a_second_process_none(tmp_path):
    cache = tmp_path / "numba-cache"
    cold = _session(tmp_path, cache, 10_000)
    assert cold["pandas"] is False and cold["numba"] is True
    variants = {k: v["signatures"] for k, v in cold["kernels"].items() if len(v["signatures"]) > 1}
    assert not variants, f"kernels compiled for several argument types: {variants}"
    compiled = sum(v["compiled"] for v in cold["kernels"].values())
    assert 0 < compiled <= MAX_SPECIALISATIONS, sorted(cold["kernels"])

    warm = _session(tmp_path, cache, 10_000)  # a second process: everything from the cache
    assert warm["pandas"] is False
    recompiled = {k for k, v in warm["kernels"].items() if v["compiled"]}
    assert not recompiled, f"compiled again although cached: {recompiled}"
    assert set(warm["kernels"]) <= set(cold["kernels"])
