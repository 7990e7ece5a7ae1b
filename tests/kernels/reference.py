"""Plain-Python references for the aggregate, interpolation and plot kernels.

Written for clarity, not speed: lists, linear scans, one interval at a time, straight from the
rules in docs/aggregates.md. The property tests compare the numba kernels against these.
"""

from __future__ import annotations

import itertools
import math

GOOD = 0x00000000
UNC_SUB = 0x40A40000
BAD = 0x80000000
BAD_NO_DATA = 0x809B0000
CALC, INTERP, PARTIAL, MULTI, INFO = 0x1, 0x2, 0x4, 0x10, 0x400


def status(base: int, bits: int = 0) -> int:
    return base | bits | INFO if bits else base


class Series:
    """Sorted, de-duplicated (last wins) samples without Bad_NoData markers."""

    def __init__(self, t, v, q=None, data_end=None, tuab=False):
        q = [0] * len(t) if q is None else [int(x) for x in q]
        latest = {}
        for ti, vi, qi in zip((int(x) for x in t), (float(x) for x in v), q, strict=True):
            latest[ti] = (vi, qi)  # later duplicates overwrite earlier ones
        rows = [
            (ti, vi, qi)
            for ti, (vi, qi) in sorted(latest.items())
            if (qi & 0xFFFF0000) != BAD_NO_DATA
        ]
        self.t = [r[0] for r in rows]
        self.v = [r[1] for r in rows]
        self.q = [r[2] for r in rows]
        self.n = len(rows)
        self.tuab = tuab
        self.de = (self.t[-1] + 1 if self.n else -(2**63)) if data_end is None else data_end

    def sev(self, i):
        if self.q[i] & 0x80000000 or not math.isfinite(self.v[i]):
            return 2
        return 1 if self.q[i] & 0x40000000 else 0

    def usable(self, i):
        s = self.sev(i)
        return s == 0 or (s == 1 and not self.tuab)

    def in_interval(self, a, b):
        return [i for i in range(self.n) if a <= self.t[i] < b]

    def before(self, x):
        """Index of the last sample strictly before x, or None."""
        idx = [i for i in range(self.n) if self.t[i] < x]
        return idx[-1] if idx else None

    def at_or_after(self, x):
        idx = [i for i in range(self.n) if self.t[i] >= x]
        return idx[0] if idx else None


def lerp(t0, v0, t1, v1, x):
    return v0 + (v1 - v0) * ((x - t0) / (t1 - t0))


def simple_bound(s: Series, x, stepped):
    """(value, code, kind, severity); kind 0 raw at x, 1 derived, -1 none."""
    j = s.at_or_after(x)
    if j is not None and s.t[j] == x:
        return (math.nan if s.sev(j) == 2 else s.v[j]), s.q[j], 0, s.sev(j)
    none = (math.nan, BAD_NO_DATA, -1, 2)
    p = s.before(x)
    if x >= s.de or p is None:
        return none
    if stepped:
        return none if s.sev(p) == 2 else (s.v[p], s.q[p], 1, s.sev(p))
    if not s.usable(p):
        return none
    if j is None or not s.usable(j):
        return s.v[p], UNC_SUB, 1, 1
    val = lerp(s.t[p], s.v[p], s.t[j], s.v[j], x)
    good = s.sev(p) == 0 and s.sev(j) == 0
    return val, (GOOD if good else UNC_SUB), 1, (0 if good else 1)


def interp_point(s: Series, x, stepped, sloped_extrap, extrapolate=True):
    """(value, code, bits) or None: Part 13 Interpolative at x."""
    exact = [i for i in range(s.n) if s.t[i] == x]
    if exact and s.usable(exact[0]) and x < s.de:
        return s.v[exact[0]], s.q[exact[0]], 0
    prev = [i for i in range(s.n) if s.t[i] < x and s.usable(i)]
    nxt = [i for i in range(s.n) if s.t[i] > x and s.usable(i)]
    if not prev:
        return None
    p = prev[-1]
    if not nxt or x >= s.de:
        if not extrapolate:
            return None
        val = s.v[p]
        if sloped_extrap and not stepped and len(prev) >= 2:
            pp = prev[-2]
            val = lerp(s.t[pp], s.v[pp], s.t[p], s.v[p], x)
        return val, UNC_SUB, INTERP
    k = nxt[0]
    between_unusable = (
        any(not s.usable(i) for i in range(s.n) if s.t[p] < s.t[i] <= x)
        if stepped
        else any(not s.usable(i) for i in range(s.n) if s.t[p] < s.t[i] < s.t[k])
    )
    if stepped:
        good = s.sev(p) == 0 and not between_unusable
        return s.v[p], (GOOD if good else UNC_SUB), INTERP
    good = s.sev(p) == 0 and s.sev(k) == 0 and not between_unusable
    return lerp(s.t[p], s.v[p], s.t[k], s.v[k], x), (GOOD if good else UNC_SUB), INTERP


def regions(s: Series, a, b, stepped):
    """Good, Uncertain, Bad ns and zero / non-zero Good ns in [a, min(b, de))."""
    end = min(b, s.de)
    g = u = bd = gz = gnz = 0.0
    if a >= end:
        return g, u, bd, gz, gnz
    pieces = []  # (from, to, severity, value)
    inside = s.in_interval(a, b)
    if not (inside and s.t[inside[0]] == a):
        bv, _c, kind, bsev = simple_bound(s, a, stepped)
        r_end = min(s.t[inside[0]] if inside else end, end)
        pieces.append((a, r_end, 2 if kind == -1 else bsev, bv))
    for n_, i in enumerate(inside):
        if s.t[i] >= end:
            break
        nxt = s.t[inside[n_ + 1]] if n_ + 1 < len(inside) else end
        pieces.append((s.t[i], min(nxt, end), s.sev(i), s.v[i]))
    for lo, hi, sv, val in pieces:
        d = float(hi - lo)
        if sv == 0:
            g += d
            if val == 0.0:
                gz += d
            else:
                gnz += d
        elif sv == 1 and not s.tuab:
            u += d
        else:
            bd += d
    return g, u, bd, gz, gnz


def pct_status(gp, bp, pdg, pdb):
    if gp + 1e-9 >= pdg:
        return GOOD
    if bp + 1e-9 >= pdb:
        return BAD
    return UNC_SUB


def time_status(s, a, b, stepped, pdg, pdb):
    g, u, bd, _z, _nz = regions(s, a, b, stepped)
    tot = g + u + bd
    return GOOD if tot <= 0 else pct_status(100 * (g + u) / tot, 100 * bd / tot, pdg, pdb)


def _extreme(s, a, b, want_max, actual):
    inside = s.in_interval(a, b)
    goods = [i for i in inside if s.sev(i) == 0]
    if not goods:
        return math.nan, a, BAD_NO_DATA
    vals = [s.v[i] for i in goods]
    best = max(vals) if want_max else min(vals)
    first = goods[vals.index(best)]
    bits = MULTI if vals.count(best) > 1 else 0
    base = GOOD if all(s.usable(i) for i in inside) else UNC_SUB
    if actual:
        return best, s.t[first], status(base, bits | s.partial)
    return best, a, status(base, bits | (CALC if s.t[first] != a else 0) | s.partial)


def _extreme2(s, a, b, stepped, pdg, pdb, want_max, actual):
    cands = []  # (value, where, kind) where: 'sb', index, 'eb'
    inside = s.in_interval(a, b)
    if not (inside and s.t[inside[0]] == a):
        bv, _c, kind, bsev = simple_bound(s, a, stepped)
        if kind != -1 and (bsev == 0 or (bsev == 1 and not s.tuab)):
            cands.append((bv, "sb", kind))
    cands += [(s.v[i], i, 0) for i in inside if s.usable(i)]
    if not stepped:
        ev, _c, kind, esev = simple_bound(s, b, stepped)
        if kind != -1 and (esev == 0 or (esev == 1 and not s.tuab)):
            cands.append((ev, "eb", kind))
    if not cands:
        return math.nan, a, BAD_NO_DATA
    vals = [c[0] for c in cands]
    best = max(vals) if want_max else min(vals)
    _val, where, kind = cands[vals.index(best)]
    bits = MULTI if vals.count(best) > 1 else 0
    base = time_status(s, a, b, stepped, pdg, pdb)
    if actual:
        if where == "sb":
            return best, a, status(base, bits | (INTERP if kind == 1 else 0) | s.partial)
        if where == "eb":
            return best, b - 1, status(base, bits | INTERP | s.partial)
        return best, s.t[where], status(base, bits | s.partial)
    if where == "sb":
        bits |= INTERP if kind == 1 else 0
    elif where == "eb":
        bits |= INTERP if kind == 1 else CALC
    elif s.t[where] != a:
        bits |= CALC
    return best, a, status(base, bits | s.partial)


def _time_average(s, a, b, stepped, sloped_extrap):
    usable = [i for i in range(s.n) if s.usable(i)]
    if not usable:
        return None
    lo = max(a, s.t[usable[0]])
    if lo >= b:
        return None
    p0 = interp_point(s, lo, stepped, sloped_extrap)
    p1 = interp_point(s, b, stepped, sloped_extrap)
    if p0 is None:
        return None
    nodes = [(lo, p0[0])] + [(s.t[i], s.v[i]) for i in usable if lo < s.t[i] < b]
    nodes.append((b, p1[0]))
    area = 0.0
    for (t0, v0), (t1, v1) in itertools.pairwise(nodes):
        area += (v0 if stepped else 0.5 * (v0 + v1)) * (t1 - t0)
    good = (
        lo == a
        and (p0[1] & 0xC0000000) == 0
        and (p1[1] & 0xC0000000) == 0
        and all(s.sev(i) == 0 for i in s.in_interval(a, b))
    )
    return area, b - lo, good


def _time_average2(s, a, b, stepped, sloped_extrap, pdg, pdb):
    def node_sev(i):
        return 2 if (s.sev(i) == 1 and s.tuab) else s.sev(i)

    extrap = sloped_extrap and not stepped and b > s.de
    end = b if (b <= s.de or extrap) else s.de
    if a >= end:
        return None
    inside = [i for i in s.in_interval(a, b) if s.t[i] < end]
    nodes = []  # (time, value, severity, is_bound)
    if inside and s.t[inside[0]] == a:
        i = inside.pop(0)
        nodes.append((a, s.v[i], node_sev(i), False))
    else:
        bv, _c, kind, bsev = simple_bound(s, a, stepped)
        nodes.append((a, bv, 2 if kind == -1 else bsev, True))
    for i in inside:
        nodes.append((s.t[i], s.v[i] if s.sev(i) != 2 else math.nan, node_sev(i), False))
    if extrap:
        p = interp_point(s, b, False, True)
        nodes.append((b, p[0] if p else math.nan, 1 if p else 2, True))
    elif end == b:
        raw = [i for i in range(s.n) if s.t[i] == b]
        if raw:
            i = raw[0]
            nodes.append((b, s.v[i] if s.sev(i) != 2 else math.nan, 0, False))
        else:
            bv, _c, kind, bsev = simple_bound(s, b, stepped)
            nodes.append((b, bv, 2 if kind == -1 else bsev, True))
    else:
        nodes.append((end, math.nan, 0, False))
    g = u = bd = area = 0.0
    for (t0, v0, s0, _b0), (t1, v1, s1, b1) in itertools.pairwise(nodes):
        sv = max(s0, s1) if b1 else s0
        d = float(t1 - t0)
        if sv == 2:
            bd += d
            continue
        if sv == 0:
            g += d
        else:
            u += d
        area += (v0 if (stepped or not math.isfinite(v1)) else 0.5 * (v0 + v1)) * d
    tot, inc = g + u + bd, g + u
    if inc <= 0:
        return None
    if s.tuab:
        base = pct_status(100 * g / tot, 100 * (bd + u) / tot, pdg, pdb)
    else:
        base = pct_status(100 * (g + u) / tot, 100 * bd / tot, pdg, pdb)
    return area, inc, base


def _worst(s, a, b, stepped, with_bounds):
    items = []  # (rank, code)
    inside = s.in_interval(a, b)
    if with_bounds and not (inside and s.t[inside[0]] == a):
        _v, c, kind, bsev = simple_bound(s, a, stepped)
        items.append((2 if kind == -1 else bsev, c))
    items += [(s.sev(i), s.q[i]) for i in inside]
    if with_bounds:
        _v, c, kind, bsev = simple_bound(s, b, stepped)
        items.append((2 if kind == -1 else bsev, c))
    if not items:
        return None
    worst = max(r for r, _c in items)
    codes = [c for r, c in items if r == worst]
    return codes[0], (MULTI if len(codes) > 1 and worst > 0 else 0)


def aggregate(
    name,
    t,
    v,
    q,
    *,
    start,
    end,
    every,
    tuab=False,
    pdb=100.0,
    pdg=100.0,
    sloped_extrap=False,
    stepped=False,
    data_end=None,
):
    """[(value, time, status)] per interval for the Part 13 aggregate ``name``."""
    s = Series(t, v, q, data_end, tuab)
    edges = []
    a = start
    while a < end:
        edges.append(a)
        a += every
    edges.append(end)
    out = []
    for k in range(len(edges) - 1):
        a, b = edges[k], min(edges[k + 1], end)
        out.append(_one(name, s, a, b, pdb, pdg, sloped_extrap, stepped))
    return out


def _one(name, s, a, b, pdb, pdg, sloped_extrap, stepped):
    nodata = (math.nan, a, BAD_NO_DATA)
    if name == "Interpolative":
        p = interp_point(s, a, stepped, sloped_extrap)
        return nodata if p is None else (p[0], a, status(p[1] & 0xFFFFFFFF, p[2]))
    if s.n == 0 or a >= s.de or b <= s.t[0]:
        return nodata
    s.partial = PARTIAL if (a < s.t[0] or b > s.de) else 0
    inside = s.in_interval(a, b)
    goods = [s.v[i] for i in inside if s.sev(i) == 0]
    all_good = all(s.sev(i) == 0 for i in inside)
    if name == "Average":
        if not goods:
            return nodata
        return sum(goods) / len(goods), a, status(GOOD if all_good else UNC_SUB, CALC)
    if name in ("TimeAverage", "Total"):
        r = _time_average(s, a, b, stepped and name == "Total", sloped_extrap)
        if r is None or r[1] <= 0:
            return nodata
        area, cov, good = r
        val = area / cov if name == "TimeAverage" else area / 1e9
        return val, a, status(GOOD if good else UNC_SUB, CALC | s.partial)
    if name in ("TimeAverage2", "Total2"):
        r = _time_average2(s, a, b, stepped, sloped_extrap, pdg, pdb)
        if r is None:
            return nodata
        area, inc, base = r
        val = math.nan if base == BAD else (area / inc if name == "TimeAverage2" else area / 1e9)
        return val, a, status(base, CALC | s.partial)
    if name in ("Minimum", "Maximum", "MinimumActualTime", "MaximumActualTime"):
        return _extreme(s, a, b, name.startswith("Max"), name.endswith("ActualTime"))
    if name == "Range":
        mn, _t, st = _extreme(s, a, b, False, False)
        mx, _t2, _st2 = _extreme(s, a, b, True, False)
        if math.isnan(mn):
            return nodata
        return mx - mn, a, status(st & 0xFFFF0000, CALC | s.partial)
    if name in ("Minimum2", "Maximum2", "MinimumActualTime2", "MaximumActualTime2"):
        val, tt, st = _extreme2(
            s, a, b, stepped, pdg, pdb, name.startswith("Max"), name.endswith("ActualTime2")
        )
        if math.isnan(val):
            return math.nan, tt, st
        return (math.nan if (st & 0xC0000000) == BAD else val), tt, st
    if name == "Range2":
        mn, _t, st = _extreme2(s, a, b, stepped, pdg, pdb, False, False)
        mx, _t2, _st2 = _extreme2(s, a, b, stepped, pdg, pdb, True, False)
        if math.isnan(mn):
            return nodata
        base = st & 0xFFFF0000
        return (math.nan if base == BAD else mx - mn), a, status(base, CALC | s.partial)
    if name in ("Count", "NumberOfTransitions"):
        n = len(inside)
        ng = sum(1 for i in inside if s.sev(i) == 0)
        nb = sum(1 for i in inside if not s.usable(i))
        if n and ng == 0 and nb == n:
            return math.nan, a, BAD
        base = GOOD if n == 0 else pct_status(100 * ng / n, 100 * nb / n, pdg, pdb)
        if base == BAD:
            return math.nan, a, BAD
        if name == "Count":
            return float(ng), a, status(base, CALC | s.partial)
        prev = [i for i in range(s.n) if s.t[i] < a and s.usable(i)]
        last = s.v[prev[-1]] if prev else None
        trans = 0
        for i in inside:
            if s.usable(i):
                if last is None or s.v[i] != last:
                    trans += 1
                last = s.v[i]
        return float(trans), a, status(base, CALC | s.partial)
    if name in ("Start", "End"):
        if not inside:
            return nodata
        i = inside[0] if name == "Start" else inside[-1]
        val = math.nan if s.sev(i) == 2 else s.v[i]
        return val, s.t[i], status(s.q[i] & ~0x41F, s.partial)
    if name == "Delta":
        if not goods:
            return nodata
        return goods[-1] - goods[0], a, status(GOOD if all_good else UNC_SUB, CALC | s.partial)
    if name in ("StartBound", "EndBound", "DeltaBounds"):
        sv, sc, sk, ss = simple_bound(s, a, stepped)
        ev, _ec, ek, es = simple_bound(s, b, stepped)
        s_ok = sk != -1 and (ss == 0 or (ss == 1 and not s.tuab))
        e_ok = ek != -1 and (es == 0 or (es == 1 and not s.tuab))
        if name == "StartBound":
            if not s_ok:
                return math.nan, a, status(BAD_NO_DATA, s.partial)
            base = (sc & 0xFFFF0000) if sk == 0 else (GOOD if ss == 0 else UNC_SUB)
            return sv, a, status(base, (INTERP if sk == 1 else 0) | s.partial)
        if name == "EndBound":
            if not e_ok:
                return math.nan, a, status(BAD_NO_DATA, s.partial)
            return ev, a, status(GOOD if es == 0 else UNC_SUB, CALC | s.partial)
        if not (s_ok and e_ok):
            return math.nan, a, status(BAD_NO_DATA, s.partial)
        base = GOOD if ss == 0 and es == 0 else UNC_SUB
        return ev - sv, a, status(base, CALC | s.partial)
    if name in (
        "DurationGood",
        "DurationBad",
        "PercentGood",
        "PercentBad",
        "DurationInStateZero",
        "DurationInStateNonZero",
    ):
        g, u, bd, gz, gnz = regions(s, a, b, stepped)
        tot = g + u + bd
        val = {
            "DurationGood": g,
            "DurationBad": bd,
            "PercentGood": 100 * g / tot if tot else 0.0,
            "PercentBad": 100 * bd / tot if tot else 0.0,
            "DurationInStateZero": gz,
            "DurationInStateNonZero": gnz,
        }[name]
        base = GOOD
        if name.startswith("DurationInState") and tot > 0:
            base = pct_status(100 * (g + u) / tot, 100 * bd / tot, pdg, pdb)
        return val, a, status(base, CALC | s.partial)
    if name in ("WorstQuality", "WorstQuality2"):
        r = _worst(s, a, b, stepped, name == "WorstQuality2")
        if r is None:
            return nodata
        return float(r[0]), a, status(GOOD, CALC | r[1] | s.partial)
    if name in (
        "StandardDeviationSample",
        "StandardDeviationPopulation",
        "VarianceSample",
        "VariancePopulation",
    ):
        if not goods:
            return nodata
        n = len(goods)
        mean = sum(goods) / n
        ss_ = sum((x - mean) ** 2 for x in goods)
        var = (ss_ / (n - 1) if n > 1 else 0.0) if name.endswith("Sample") else ss_ / n
        val = math.sqrt(var) if name.startswith("Standard") else var
        return val, a, status(GOOD if all_good else UNC_SUB, CALC | s.partial)
    raise KeyError(name)


def plot_indices(t, v, q, *, start, end, width):
    """Sorted unique indices (into the sorted, de-duplicated series) kept for a chart."""
    # plot keeps Bad_NoData samples too (they are drawn as gaps): no marker dropping here
    latest = {}
    qq = [0] * len(t) if q is None else list(q)
    for ti, vi, qi in zip(t, v, qq, strict=True):
        latest[int(ti)] = (float(vi), int(qi))
    ts = sorted(latest)
    vs = [latest[x][0] for x in ts]
    qs = [latest[x][1] for x in ts]
    keep = set()
    before = [i for i, x in enumerate(ts) if x < start]
    after = [i for i, x in enumerate(ts) if x >= end]
    if before:
        keep.add(before[-1])
    if after:
        keep.add(after[0])
    edges = [start + (end - start) * p // width for p in range(width + 1)]
    for p in range(width):
        idx = [i for i, x in enumerate(ts) if edges[p] <= x < edges[p + 1]]
        if not idx:
            continue
        keep.add(idx[0])
        keep.add(idx[-1])
        finite = [i for i in idx if not math.isnan(vs[i])]
        if finite:
            lo = min(vs[i] for i in finite)
            hi = max(vs[i] for i in finite)
            keep.add(next(i for i in finite if vs[i] == lo))
            keep.add(next(i for i in finite if vs[i] == hi))
        bad = [i for i in idx if qs[i] != 0 or not math.isfinite(vs[i])]
        if bad:
            keep.add(bad[0])
    return sorted(keep)
