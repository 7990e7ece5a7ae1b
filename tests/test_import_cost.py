"""What a first session costs, structurally (timings are measured by
``benchmarks/bench_cold_start.py``, not asserted here).

A session as in the README -- open a store, define a tag with a range rule, write, read, summary,
interpolated, plot -- runs in fresh processes: one with an empty Numba cache, one reusing it.
Checked: pandas is never imported (the user passed no pandas objects), every kernel is compiled
for one set of argument types only, the number of specialisations stays small, and the second
process compiles nothing (everything comes from the cache).
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
n = 1000
t = T0 + np.arange(n, dtype=np.int64) * S
v = 50 + 20 * np.sin(np.arange(n) / 50.0)
with historian.open(os.path.join(sys.argv[1], "plant.hist")) as h:
    h.define("TIC-101.PV", unit="degC", lo=0, hi=200, rules={"range": {}})
    h.write("TIC-101.PV", t, v)
    assert h.read("TIC-101.PV").num_rows == n
    s = h.summary("TIC-101.PV", T0, T0 + n * S, "1min", stats=["twa", "min", "max", "count"])
    assert s.num_rows == 4 * 17
    assert h.interpolated("TIC-101.PV", T0, T0 + n * S, "10s").num_rows == 101
    assert h.plot("TIC-101.PV", T0, T0 + n * S, width=100).num_rows > 0
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
print(json.dumps({"pandas": "pandas" in sys.modules, "kernels": kernels}))
"""

#: Kernels (with the helpers they call) one such session compiles on a fresh machine: the
#: qualification kernel only, since summary, interpolated and plot of a few thousand points run
#: in numpy (kernels/_small.py). It was 46 before issue 19 (up to four specialisations of one
#: helper for literal arguments), then 18.
MAX_SPECIALISATIONS = 2


def _session(tmp_path, cache_dir) -> dict:
    store = tmp_path / f"store-{len(list(tmp_path.iterdir()))}"
    store.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.run([sys.executable, "-c", SESSION, str(store)], env=env,
                          capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_first_session_imports_no_pandas_and_compiles_each_kernel_once(tmp_path):
    cache = tmp_path / "numba-cache"
    cold = _session(tmp_path, cache)
    assert cold["pandas"] is False
    variants = {k: v["signatures"] for k, v in cold["kernels"].items() if len(v["signatures"]) > 1}
    assert not variants, f"kernels compiled for several argument types: {variants}"
    compiled = sum(v["compiled"] for v in cold["kernels"].values())
    assert 0 < compiled <= MAX_SPECIALISATIONS, sorted(cold["kernels"])

    warm = _session(tmp_path, cache)  # a second process: everything from the cache
    assert warm["pandas"] is False
    recompiled = {k for k, v in warm["kernels"].items() if v["compiled"]}
    assert not recompiled, f"compiled again although cached: {recompiled}"
    assert set(warm["kernels"]) <= set(cold["kernels"])
