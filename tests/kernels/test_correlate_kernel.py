"""Lagged correlation kernel against a plain-Python reference, pandas, and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.kernels.correlate import lagged_corr, pair_corr, rank_average


# ----------------------------------------------------------------------- plain-Python reference
def ref_pearson(xs, ys, min_count=2):
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if not (math.isnan(x) or math.isnan(y))]
    n = len(pairs)
    if n < max(min_count, 2):
        return math.nan, n
    mx = sum(p[0] for p in pairs) / n
    my = sum(p[1] for p in pairs) / n
    sxx = sum((p[0] - mx) ** 2 for p in pairs)
    syy = sum((p[1] - my) ** 2 for p in pairs)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in pairs)
    scale_x = sum(p[0] ** 2 for p in pairs) / n
    scale_y = sum(p[1] ** 2 for p in pairs) / n
    if sxx <= 1e-10 * n * scale_x or syy <= 1e-10 * n * scale_y or sxx == 0 or syy == 0:
        return math.nan, n  # constant over the paired samples
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy))), n


def ref_ranks(xs):
    present = sorted((x, i) for i, x in enumerate(xs) if not math.isnan(x))
    out = [math.nan] * len(xs)
    i = 0
    while i < len(present):
        j = i
        while j + 1 < len(present) and present[j + 1][0] == present[i][0]:
            j += 1
        for k in range(i, j + 1):
            out[present[k][1]] = (i + j) / 2 + 1
        i = j + 1
    return out


def ref_lagged(rows, max_lag, method="pearson", min_count=2):
    """r[p][max_lag + k] = corr(a[t], b[t + k]) for pairs a < b."""
    if method == "spearman":
        rows = [ref_ranks(r) for r in rows]
    n = len(rows[0]) if rows else 0
    out_r, out_n = [], []
    for a in range(len(rows)):
        for b in range(a + 1, len(rows)):
            rr, nn = [], []
            for k in range(-max_lag, max_lag + 1):
                ts = [t for t in range(n) if 0 <= t + k < n]
                xs = [rows[a][t] for t in ts]
                ys = [rows[b][t + k] for t in ts]
                r, c = ref_pearson(xs, ys, min_count)
                rr.append(r)
                nn.append(c)
            out_r.append(rr)
            out_n.append(nn)
    return out_r, out_n


def close(a, b, tol=1e-9):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol


# ----------------------------------------------------------------------------------- examples
def test_known_lag_and_coefficient():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(2000).cumsum()
    b = np.empty_like(a)
    b[7:] = 3.0 * a[:-7] + 1.0  # b lags a by 7 steps
    b[:7] = np.nan
    r, n = lagged_corr(np.vstack([a, b]), 20)
    assert int(np.nanargmax(r[0])) - 20 == 7
    assert r[0, 27] == pytest.approx(1.0, abs=1e-12)
    assert n[0, 27] == 1993  # t in [0, 1993): every a[t], b[t + 7] present
    # reversed pair: a lags b by -7
    r2, _ = lagged_corr(np.vstack([b, a]), 20)
    assert int(np.nanargmax(r2[0])) - 20 == -7


def test_matches_pandas_with_missing_values():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 400)).cumsum(axis=1)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[2, 50:200] = np.nan
    r, n = lagged_corr(x, 5)
    df = pd.DataFrame(x.T)
    ia, ib = np.triu_indices(6, 1)
    for k in (-5, -1, 0, 3, 5):
        shifted = df.shift(-k)
        for p, (a, b) in enumerate(zip(ia, ib, strict=True)):
            assert close(r[p, 5 + k], df[a].corr(shifted[b]), 1e-10)
            both = df[a].notna() & shifted[b].notna()
            assert n[p, 5 + k] == int(both.sum())
    rs, _ = lagged_corr(np.nan_to_num(x, nan=0.0), 0, method="spearman")
    ps = pd.DataFrame(np.nan_to_num(x, nan=0.0).T).corr(method="spearman").to_numpy()
    assert np.allclose(rs[:, 0], ps[ia, ib], atol=1e-10)


def test_pair_corr_spearman_reranks_like_pandas():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(300)
    b = a**3 + 0.1 * rng.standard_normal(300)
    a[::9] = np.nan
    b[::13] = np.nan
    r, c = pair_corr(a, b, method="spearman")
    want = pd.DataFrame({"a": a, "b": b}).corr(method="spearman").loc["a", "b"]
    assert r == pytest.approx(want, abs=1e-12)
    assert c == int((~np.isnan(a) & ~np.isnan(b)).sum())
    r3, _ = pair_corr(a, b, method="pearson", lag=3)
    assert r3 == pytest.approx(pd.Series(a).corr(pd.Series(b).shift(-3)), abs=1e-12)


def test_edge_cases():
    r, n = lagged_corr(np.zeros((2, 0)), 3)
    assert r.shape == (1, 7) and np.isnan(r).all() and (n == 0).all()
    r, n = lagged_corr(np.array([[1.0], [2.0]]), 0)
    assert np.isnan(r).all() and n.tolist() == [[1]]
    r, _ = lagged_corr(np.array([[1.0, 1, 1, 1], [1.0, 2, 3, 4]]), 1)
    assert np.isnan(r).all()  # constant series
    r, _ = lagged_corr(np.full((2, 10), np.nan), 2)
    assert np.isnan(r).all()
    r, n = lagged_corr(np.ones((1, 10)), 2)
    assert r.shape == (0, 5)
    assert rank_average(np.array([2.0, 2.0, 1.0])).tolist() == [2.5, 2.5, 1.0]


def test_bad_input():
    with pytest.raises(InvalidDataError):
        lagged_corr(np.zeros(5), 1)
    with pytest.raises(InvalidArgumentError):
        lagged_corr(np.zeros((2, 5)), -1)
    with pytest.raises(InvalidArgumentError):
        lagged_corr(np.zeros((2, 5)), 1, method="kendall")
    with pytest.raises(InvalidArgumentError):
        lagged_corr(np.zeros((2, 5)), 1, np.array([0]), np.array([2]))


# --------------------------------------------------------------------------------- properties
values = st.one_of(
    st.just(math.nan),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([0.0, 1.0, -1.0, 2.5]),
)


@st.composite
def matrices(draw):
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 25))
    rows = [[draw(values) for _ in range(n)] for _ in range(k)]
    if draw(st.booleans()) and k and n:
        rows[0] = [3.0] * n  # a constant series
    return rows


@settings(max_examples=150, deadline=None)
@given(matrices(), st.integers(0, 6), st.sampled_from(["pearson", "spearman"]), st.integers(2, 4))
def test_kernel_matches_reference(rows, max_lag, method, min_count):
    x = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    r, n = lagged_corr(x, max_lag, method=method, min_count=min_count)
    rr, nn = ref_lagged(rows, max_lag, method, min_count)
    assert n.tolist() == nn
    for got_row, want_row in zip(r.tolist(), rr, strict=True):
        for got, want in zip(got_row, want_row, strict=True):
            # near-constant samples can be judged constant by one side only
            if math.isnan(got) != math.isnan(want):
                continue
            assert close(got, want, 1e-6), (got, want)
            assert -1.0 <= got <= 1.0 or math.isnan(got)


@settings(max_examples=60, deadline=None)
@given(matrices(), st.integers(0, 5))
def test_lag_symmetry(rows, max_lag):
    x = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    if x.shape[0] < 2:
        return
    r_ab, n_ab = lagged_corr(x, max_lag, np.array([0]), np.array([1]))
    r_ba, n_ba = lagged_corr(x, max_lag, np.array([1]), np.array([0]))
    assert n_ab[0].tolist() == n_ba[0][::-1].tolist()
    assert np.allclose(r_ab[0], r_ba[0][::-1], equal_nan=True, atol=1e-12)
