"""The asset model: queries by path and template beside the per-tag calls and pandas.

    python benchmarks/bench_assets.py [--pumps 20] [--hours 24]

In a temporary store, ``--pumps`` assets of a ``Pump`` template with two stored attributes
(``Flow``, ``Head``: 1 s data, Head sampled half a second after Flow so the derived attribute
interpolates) and a derived one (``Power = Flow * Head / 367``):

* hourly twa of a stored attribute by asset (``h.assets.summary``) beside one ``h.summary`` of
  the same tags (the labelling cost);
* hourly twa of the derived attribute (inputs read with their bounding values, computed at the
  union of their sample times, Part 13 kernel) beside pandas doing the same alignment
  (``reindex`` on the union + ``interpolate(method="time")``, product, hourly mean);
* ``h.assets.read`` of the derived attribute (every computed point).

Best of three; the machine may be shared, so compare ratios taken in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import historian

S = 10**9


def best(fn, n: int = 3) -> tuple[float, object]:
    out, t_best = None, float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pumps", type=int, default=20)
    ap.add_argument("--hours", type=int, default=24)
    args = ap.parse_args()
    import pandas as pd

    n, secs = args.pumps, args.hours * 3600
    end = secs * S
    with tempfile.TemporaryDirectory() as d, historian.open(d) as h:
        h.assets.define_template(
            "Pump",
            {
                "Flow": "{asset}.FI",
                "Head": "{asset}.PI",
                "Power": {"expression": "Flow * Head / 367"},
            },
        )
        for i in range(n):
            h.assets.add(f"SiteA/Area2/P-{i:03d}", template="Pump")
        h.assets.define_tags()
        rng = np.random.default_rng(1)
        t = np.arange(secs, dtype=np.int64) * S
        data = {}
        for i in range(n):
            f, p = rng.normal(50, 5, secs), rng.normal(36, 1, secs)
            h.write(f"P-{i:03d}.FI", t, f)
            h.write(f"P-{i:03d}.PI", t + S // 2, p)
            data[i] = (f, p)
        h.flush()
        tags = [f"P-{i:03d}.FI" for i in range(n)]
        q = dict(template="Pump")
        h.summary(tags, 0, end, "1h", "twa")  # warm: file cache, JIT
        t_tag, _ = best(lambda: h.summary(tags, 0, end, "1h", "twa"))
        t_sto, _ = best(
            lambda: h.assets.summary("SiteA/**", 0, end, "1h", "twa", attribute="Flow", **q)
        )
        t_der, _ = best(
            lambda: h.assets.summary("SiteA/**", 0, end, "1h", "twa", attribute="Power", **q)
        )

        def pandas_power() -> list:
            out = []
            for f, p in data.values():
                a = pd.Series(f, index=pd.to_datetime(t))
                b = pd.Series(p, index=pd.to_datetime(t + S // 2))
                idx = a.index.union(b.index)
                both = pd.DataFrame({"a": a.reindex(idx), "b": b.reindex(idx)})
                both = both.interpolate(method="time", limit_area="inside")
                out.append((both.a * both.b / 367).resample("1h").mean())
            return out

        t_pd, _ = best(pandas_power)
        t_read, r = best(lambda: h.assets.read("SiteA/**", 0, end, attribute="Power", **q))
        pts = 2 * n * secs
        print(f"{n} pumps x {args.hours} h of 1 s data ({pts:,} input points)")
        print(
            f"  stored Flow, hourly twa: h.assets.summary {t_sto * 1e3:8.0f} ms   "
            f"h.summary(tags) {t_tag * 1e3:8.0f} ms"
        )
        print(
            f"  derived Power, hourly  : h.assets.summary {t_der * 1e3:8.0f} ms   "
            f"pandas align+mean {t_pd * 1e3:6.0f} ms   ({pts / t_der / 1e6:.1f} M input "
            "points/s)"
        )
        print(
            f"  derived Power, read    : h.assets.read    {t_read * 1e3:8.0f} ms   "
            f"({r.num_rows:,} points)"
        )


if __name__ == "__main__":
    main()
