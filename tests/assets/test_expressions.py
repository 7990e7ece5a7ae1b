"""Derived-attribute expressions: the shared safe parser refuses what h.events refuses, and
arithmetic evaluates as numpy does."""

from __future__ import annotations

import time

import numpy as np
import pytest

from historian.assets import Attribute
from historian.errors import InvalidArgumentError
from historian.model.expressions import parse_expression
from historian.query.events import parse_condition

HOSTILE = [
    "__import__('os').system('x')",
    "A.__class__",
    "A.real",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "eval('1')",
    "sqrt(A, B)",  # a known function, wrong arity
    "sqrt(x=A)",  # keywords
    "A[0]",
    "lambda: 1",
    "A if B else C",
    "A > 1",  # comparisons belong to conditions
    "A and B",
    "not A",
    "A; B",
    "'x' + A",  # strings are names here, but this is a name next to a +: fine?
    "A ** B",  # a variable exponent
    "2 ** 100000",
    "A ** 17",
    "9 ** 9 ** 9",
    "1e999",
    "A @ B",
    "A // B",
    "A % B",
    "~A",
    "A << 2",
    "[A, B]",
    "{A: 1}",
    "f'{A}'",
    "A = 1",
    "",
    "   ",
    "(A",
    "A $ B",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_expressions_are_refused(text):
    if text == "'x' + A":  # a quoted name is a name: the sum of attributes x and A
        assert parse_expression(text).names == ["x", "A"]
        return
    with pytest.raises(InvalidArgumentError):
        parse_expression(text)
    with pytest.raises(InvalidArgumentError):
        Attribute("D", expression=text)


@pytest.mark.parametrize(
    "hostile",
    [
        "(" * 300 + "A" + ")" * 300,
        "-" * 9000 + "A",
        "+".join(["A"] * 3000),  # flat text, a 3000-deep tree
        "sqrt(" * 100 + "A" + ")" * 100,
        "A" + " * 1" * 2500,
    ],
)
def test_deep_nesting_and_long_chains_are_refused_quickly(hostile):
    t0 = time.perf_counter()
    with pytest.raises(
        InvalidArgumentError, match=r"levels deep|operations deep|longer than|cannot parse"
    ):
        parse_expression(hostile)
    assert time.perf_counter() - t0 < 1.0
    assert parse_expression("(" * 20 + "A" + ")" * 20).names == ["A"]


def test_conditions_still_refuse_arithmetic_and_expressions_refuse_conditions():
    with pytest.raises(InvalidArgumentError):
        parse_condition("A + 1 > 2")
    with pytest.raises(InvalidArgumentError):
        parse_expression("A > 2")
    assert parse_condition("TIC-101.PV > 80").tags == ["TIC-101.PV"]  # '-' in a tag name


def test_arithmetic_matches_numpy():
    rng = np.random.default_rng(7)
    a, b, c = rng.normal(size=(3, 1000))
    cols = {"A": a, "B": b, "C": np.abs(c) + 0.1}
    cases = {
        "A + B * C": a + b * cols["C"],
        "(A - B) / C": (a - b) / cols["C"],
        "-A ** 2": -(a**2),
        "A ** -2": a**-2.0,
        "2 * A - -B": 2 * a + b,
        "sqrt(C) + abs(A) + exp(B / 10) + log(C) + log10(C)": np.sqrt(cols["C"])
        + np.abs(a)
        + np.exp(b / 10)
        + np.log(cols["C"])
        + np.log10(cols["C"]),
        "max(A, B) - min(A, 0)": np.fmax(a, b) - np.fmin(a, 0),
        "3": np.full(1000, 3.0),
    }
    for text, expected in cases.items():
        np.testing.assert_allclose(
            parse_expression(text).evaluate(cols), expected, rtol=1e-12, err_msg=text
        )


def test_missing_and_invalid_values_give_nan():
    e = parse_expression("A / B")
    out = e.evaluate({"A": np.array([1.0, np.nan, 0.0]), "B": np.array([0.0, 1.0, 0.0])})
    assert np.isinf(out[0]) and np.isnan(out[1]) and np.isnan(out[2])
    with pytest.raises(InvalidArgumentError, match="no values for 'B'"):
        e.evaluate({"A": np.zeros(2)})
