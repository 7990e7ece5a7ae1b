"""h.correlate on a real store: recovers known lags and coefficients, Bad gaps, target mode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import historian
from historian.errors import InvalidArgumentError

S = 1_000_000_000
MIN = 60 * S
T0 = 1_767_225_600 * S  # 2026-01-01
N = 2 * 24 * 60  # two days at 1 min
BAD = 0x80000000


def _smooth(rng, n):
    x = rng.standard_normal(n + 200).cumsum()
    k = np.ones(15) / 15
    return np.convolve(x, k, mode="same")[100 : 100 + n]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(42)
    path = tmp_path_factory.mktemp("corr") / "plant.hist"
    h = historian.open(path)
    base = _smooth(rng, N + 60)
    t = T0 + np.arange(N) * MIN
    a = base[30 : 30 + N]
    b = 2.0 * base[30 - 12 : 30 - 12 + N] + 5.0 + 0.05 * rng.standard_normal(N)  # lags A by 12 min
    c = -0.5 * base[30 - 5 : 30 - 5 + N] + 0.02 * rng.standard_normal(N)  # lags A by 5, negative
    d = _smooth(rng, N)  # unrelated
    qb = np.zeros(N, np.uint32)
    qb[600:900] = BAD  # a Bad gap of 5 hours in B
    for name, v, q in (
        ("TIC-101.PV", a, None),
        ("FIC-101.PV", b, qb),
        ("PIC-101.PV", c, None),
        ("LIC-101.PV", d, None),
    ):
        h.define(name)
        h.write(name, t, v, quality=q)
    h.flush()
    yield h
    h.close()


def test_recovers_known_lags_and_signs(store):
    c = store.correlate(
        ["TIC-101.PV", "FIC-101.PV", "PIC-101.PV", "LIC-101.PV"],
        T0,
        T0 + N * MIN,
        "1min",
        max_lag="30min",
        progress=False,
    )
    assert c.num_rows == 6
    rows = {(r["tag_a"], r["tag_b"]): r for r in c.to_pylist()}
    ab = rows[("TIC-101.PV", "FIC-101.PV")]
    assert ab["lag_steps"] == 12 and ab["lag"] == pd.Timedelta(minutes=12)
    assert ab["r_at_lag"] > 0.99
    ac = rows[("TIC-101.PV", "PIC-101.PV")]
    assert ac["lag_steps"] == 5 and ac["r_at_lag"] < -0.99
    bc = rows[("FIC-101.PV", "PIC-101.PV")]  # C = A 5 min later, B = A 12 min later: C leads B by 7
    assert bc["lag_steps"] == -7
    # the strongest first
    strength = [abs(r) for r in c.column("r_at_lag").to_pylist()]
    assert strength == sorted(strength, reverse=True)


def test_bad_gap_excluded_pairwise(store):
    c = store.correlate(
        ["TIC-101.PV", "FIC-101.PV", "LIC-101.PV"], T0, T0 + N * MIN, "1min", progress=False
    )
    rows = {(r["tag_a"], r["tag_b"]): r for r in c.to_pylist()}
    n_good = rows[("TIC-101.PV", "FIC-101.PV")]["n"]
    assert n_good == N - 300  # the Bad stretch (bridged values are Uncertain) is left out
    assert rows[("TIC-101.PV", "LIC-101.PV")]["n"] == N
    assert "lag" not in c.column_names


def test_lag_zero_matches_pandas_on_the_aligned_table(store):
    names = ["TIC-101.PV", "FIC-101.PV", "PIC-101.PV", "LIC-101.PV"]
    wide = store.interpolated(names, T0, T0 + N * MIN, "1min", quality=True).to_pandas()
    wide = wide[wide["time"] < pd.Timestamp(T0 + N * MIN, tz="UTC")]
    for n in names:  # only Good aligned values count
        wide.loc[(wide[f"{n}.quality"] & 0xC0000000) != 0, n] = np.nan
    want = wide[names].corr()
    got = store.correlate(names, T0, T0 + N * MIN, "1min", progress=False)
    for r in got.to_pylist():
        assert r["r"] == pytest.approx(want.loc[r["tag_a"], r["tag_b"]], abs=1e-9)
    sp = wide[names].corr(method="spearman")
    got = store.correlate(names, T0, T0 + N * MIN, "1min", method="spearman", progress=False)
    for r in got.to_pylist():
        assert r["r"] == pytest.approx(sp.loc[r["tag_a"], r["tag_b"]], abs=1e-9)


def test_target_mode_reads_as_leads(store):
    c = store.correlate(
        ["TIC-101.PV", "PIC-101.PV", "LIC-101.PV"],
        T0,
        T0 + N * MIN,
        "1min",
        max_lag="30min",
        target="FIC-101.PV",
        progress=False,
        threads=1,
    )
    assert set(c.column("tag_b").to_pylist()) == {"FIC-101.PV"}
    tic = next(r for r in c.to_pylist() if r["tag_a"] == "TIC-101.PV")
    assert tic["lag_steps"] == 12 and tic["r_at_lag"] > 0.99  # TIC leads FIC by 12 min
    pic = next(r for r in c.to_pylist() if r["tag_a"] == "PIC-101.PV")
    assert pic["lag_steps"] == 7 and pic["r_at_lag"] < -0.9


def test_coarser_grid_and_progress_bar(store, capsys):
    c = store.correlate(
        ["TIC-101.PV", "FIC-101.PV"], T0, T0 + N * MIN, "2min", max_lag="20min", progress=True
    )
    assert c.column("lag_steps")[0].as_py() == 6  # 12 min at 2 min


def test_bad_arguments(store):
    with pytest.raises(InvalidArgumentError):
        store.correlate(["TIC-101.PV"], T0, T0 + MIN, "1min")
    with pytest.raises(InvalidArgumentError):
        store.correlate(["TIC-101.PV", "FIC-101.PV"], T0, T0 + MIN, "1min", method="kendall")
    with pytest.raises(historian.HistorianError):
        store.correlate(["TIC-101.PV", "nope"], T0, T0 + MIN, "1min")


def test_docs_query_md_runs():
    """docs/query.md: the three-call example and the other examples are doctests."""
    import doctest
    import pathlib

    doc = pathlib.Path(__file__).parents[2] / "docs" / "query.md"
    result = doctest.testfile(
        str(doc), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted > 10
