"""Kernels import Numba on their first call (kernels/_jit.py): not at import, once for all
threads, and every name that held a stand-in then holds the real dispatcher."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import json, sys, threading
import numpy as np
import historian, historian.kernels
from historian.kernels import _fast
plot = sys.modules["historian.kernels.plot"]  # the module (the package exports a function plot)
before = "numba" in sys.modules
t = np.arange(20_000, dtype=np.int64)  # above the numpy paths' size: the kernels run
v = np.sin(t / 100.0)
errors = []
def first_call(i):
    try:
        if i % 2:
            historian.kernels.plot_indices(t, v, start_ns=0, end_ns=20_000, width=50)
        else:
            historian.kernels.aggregate(t, v, start_ns=0, end_ns=20_000, every_ns=1000,
                                        stat="max")
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=first_call, args=(i,)) for i in range(4)]
for th in threads: th.start()
for th in threads: th.join()
from numba.core.registry import CPUDispatcher
print(json.dumps({"before": before, "errors": errors,
                  "fast": isinstance(_fast.edge_index, CPUDispatcher),
                  "imported_name": isinstance(plot.edge_index, CPUDispatcher),
                  "helper": isinstance(_fast._sum_min_max, CPUDispatcher)}))
"""


def test_numba_is_imported_on_the_first_kernel_call_from_any_thread(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {
        "before": False,
        "errors": [],
        "fast": True,
        "imported_name": True,
        "helper": True,
    }
