"""Builds the small stores the documentation examples open (run by tests/test_docs_examples.py).

``demo.hist`` and ``plant.hist`` in the current folder: a reactor's temperature, flow and valve
over the last two hours at 1 s, with the temperature lagging the flow by two minutes.
"""

import numpy as np

import historian

_now = historian.model.now_ns() // 1_000_000_000 * 1_000_000_000
_t = _now - np.arange(7200, 0, -1, dtype=np.int64) * 1_000_000_000
_rng = np.random.default_rng(0)
_flow = 100 + np.cumsum(_rng.normal(0, 0.5, _t.size))
_temp = 60 + 0.4 * np.roll(_flow - 100, 120) + _rng.normal(0, 0.05, _t.size)
for _path in ("demo.hist", "plant.hist"):
    with historian.open(_path) as _h:
        _h.define("FIC-101.PV", unit="m3/h", lo=0, hi=300, description="feed flow")
        _h.define("FIC-104.PV", unit="m3/h", lo=0, hi=300, description="feed flow (demo name)")
        _h.define("PI-103.PV", unit="bar", lo=0, hi=20, description="reactor pressure")
        _h.define(
            "TIC-101.PV",
            unit="degC",
            lo=0,
            hi=200,
            description="reactor temperature",
            rules={"range": {}},
        )
        _h.define("XV-101.ST", kind="step", states={0: "closed", 1: "open"})
        _h.write("FIC-101.PV", _t, np.round(_flow, 2))
        _h.write("FIC-104.PV", _t, np.round(_flow, 2))
        _h.write("PI-103.PV", _t, np.round(1 + 0.05 * (_temp - 60), 3))
        _h.write("TIC-101.PV", _t, np.round(_temp, 2))
        _h.write("XV-101.ST", _t[::600], (np.arange(_t[::600].size) % 2).astype(float))
