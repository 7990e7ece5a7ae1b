"""The safe expression parser shared by ``h.events`` conditions and derived asset attributes.

Text is never ``eval``-ed and never pasted into SQL. It is split by a tokenizer that knows
names (tag names for conditions, attribute names for arithmetic), rebuilt as Python source whose
names are placeholders ``_t0, _t1, ...``, its nesting bounded *before* Python's recursive parser
sees it, parsed with :mod:`ast`, and checked node by node against an allow-list. What passes is
a tree of a handful of node types that the callers evaluate by hand over numpy arrays.

Two grammars:

- :data:`CONDITION` (``h.events``): comparisons joined by ``and``/``or``/``not``; names may
  contain ``- . : /`` (``TIC-101.PV > 80``), so there is no arithmetic;
  :func:`historian.query.events.parse_condition` evaluates it.
- :data:`ARITHMETIC` (derived attributes): ``+ - * /``, ``**`` with a small constant exponent,
  parentheses, numbers, and the functions of :data:`FUNCTIONS`; names are identifiers
  (``Flow``, ``T_in``) or quoted (``'Inlet T'``). :func:`parse_expression` parses it and
  :meth:`Expression.evaluate` computes it.

Examples
--------
>>> import numpy as np
>>> e = parse_expression("(T_out - T_in) * Flow * 4.186 / 3.6")
>>> e.names
['T_out', 'T_in', 'Flow']
>>> e.evaluate({"T_out": np.array([60.0]), "T_in": np.array([40.0]),
...             "Flow": np.array([3.6])}).round(3).tolist()
[83.72]
>>> parse_expression("Flow.__class__")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
historian.errors.InvalidArgumentError: cannot read the expression at position 4: ...
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError

__all__ = [
    "ARITHMETIC",
    "CONDITION",
    "FUNCTIONS",
    "Expression",
    "Grammar",
    "parse",
    "parse_expression",
]

#: Longest text accepted (characters).
MAX_LENGTH = 10_000
#: Deepest nesting (parentheses, ``not``, unary minus, ...). Python's parser and the recursive
#: evaluators would otherwise hit RecursionError/MemoryError on hostile input.
MAX_DEPTH = 50
#: Deepest parsed tree (a chain of 300 additions is 300 deep).
MAX_TREE_DEPTH = 200
#: Largest absolute constant exponent of ``**`` in an arithmetic expression.
MAX_EXPONENT = 16


@dataclass(frozen=True)
class Grammar:
    """How a text is tokenized: what a name looks like, which operators and keywords exist."""

    what: str  # "condition" / "expression", for messages
    token: re.Pattern[str]
    ops: Mapping[str, str]
    keywords: Mapping[str, str]
    functions: frozenset[str] = frozenset()


CONDITION = Grammar(
    what="condition",
    token=re.compile(
        r"""
        (?P<ws>\s+)
      | (?P<quoted>'[^']*'|"[^"]*")
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<op><=|>=|==|!=|<>|<|>|=|\(|\)|-)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.:/\-]*)
        """,
        re.VERBOSE,
    ),
    ops={
        "=": "==",
        "<>": "!=",
        "==": "==",
        "!=": "!=",
        "<": "<",
        "<=": "<=",
        ">": ">",
        ">=": ">=",
        "(": "(",
        ")": ")",
        "-": "-",
    },
    keywords={"and": "and", "or": "or", "not": "not", "true": "True", "false": "False"},
)

#: Functions an arithmetic expression may call (element-wise, NaN in -> NaN out).
FUNCTIONS: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    "abs": (1, np.abs),
    "sqrt": (1, np.sqrt),
    "exp": (1, np.exp),
    "log": (1, np.log),
    "log10": (1, np.log10),
    "min": (2, np.fmin),
    "max": (2, np.fmax),
}

ARITHMETIC = Grammar(
    what="expression",
    token=re.compile(
        r"""
        (?P<ws>\s+)
      | (?P<quoted>'[^']*'|"[^"]*")
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<op>\*\*|[-+*/(),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
        """,
        re.VERBOSE,
    ),
    ops={o: o for o in ("**", "-", "+", "*", "/", "(", ")", ",")},
    keywords={},
    functions=frozenset(FUNCTIONS),
)


def shown(text: str) -> str:
    """``repr`` of a text, cut to 80 characters (for messages)."""
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")


def _tokenize(text: str, g: Grammar) -> tuple[str, list[str]]:
    """Python source with names replaced by placeholders ``_t0, _t1, ...``, and the names."""
    if not isinstance(text, str):
        raise InvalidArgumentError(
            f"a {g.what} must be a str{' or a callable' if g is CONDITION else ''}, "
            f"not {type(text).__name__}"
        )
    if len(text) > MAX_LENGTH:
        raise InvalidArgumentError(f"{g.what} longer than {MAX_LENGTH} characters")
    out: list[str] = []
    names: list[str] = []
    pos = 0
    while pos < len(text):
        m = g.token.match(text, pos)
        if m is None:
            raise InvalidArgumentError(
                f"cannot read the {g.what} at position {pos}: {text[pos : pos + 20]!r} "
                "(quote names that contain other characters)"
            )
        kind, tok = m.lastgroup, m.group()
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "number":
            number = float(tok)
            if not math.isfinite(number):
                raise InvalidArgumentError(f"the number {tok} in the {g.what} is too large")
            out.append(repr(number))
        elif kind == "op":
            out.append(g.ops[tok])
        elif kind == "name" and tok.lower() in g.keywords:
            out.append(g.keywords[tok.lower()])
        elif kind == "name" and tok in g.functions and text[pos:].lstrip().startswith("("):
            out.append(f"_f_{tok}")
        else:
            name = tok[1:-1] if kind == "quoted" else tok
            if name not in names:
                names.append(name)
            out.append(f"_t{names.index(name)}")
    if not out:
        raise InvalidArgumentError(f"the {g.what} is empty")
    return " ".join(out), names


def _check_depth(source: str, text: str, what: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before the recursive parser sees it.

    Counts open parentheses plus runs of prefix operators (``not``, ``-``, ``+``, ``~``) on the
    tokenized source: an upper bound of the parse tree's nesting that costs one pass.
    """
    depth = prefix = worst = 0
    for tok in re.findall(r"\w+|\*\*|\S", source):
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if tok in ("not", "-", "+", "~"):
            prefix += 1
        elif tok != "(":
            prefix = 0
        worst = max(worst, depth + prefix)
    if worst > MAX_DEPTH:
        raise InvalidArgumentError(
            f"the {what} {shown(text)} nests {worst} levels deep; at most {MAX_DEPTH} are "
            "allowed (split it, or name intermediate results in Python)"
        )


def parse(text: str, grammar: Grammar) -> tuple[ast.Expression, list[str]]:
    """Tokenize, bound and parse ``text``; returns the (unchecked) tree and the names.

    The caller checks the tree against its allow-list (:func:`check_arithmetic`, or the
    condition checker of :mod:`historian.query.events`)."""
    source, names = _tokenize(text, grammar)
    _check_depth(source, text, grammar.what)
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise InvalidArgumentError(f"cannot parse the {grammar.what} {shown(text)}") from None
    _check_tree_depth(tree, text, grammar.what)
    return tree, names


def _check_tree_depth(tree: ast.AST, text: str, what: str) -> None:
    """Refuse a parsed tree deeper than :data:`MAX_TREE_DEPTH` (a long chain ``A + A + ...``
    is flat text but a deep tree), walked without recursion, before any recursive checker or
    evaluator sees it."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise InvalidArgumentError(
                f"the {what} {shown(text)} is more than {MAX_TREE_DEPTH} operations deep; "
                "split it (e.g. into several derived attributes)"
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def is_placeholder(node: ast.AST, n_names: int) -> bool:
    """True for a name placeholder ``_tN`` with N < n_names."""
    return (
        isinstance(node, ast.Name)
        and re.fullmatch(r"_t\d+", node.id) is not None
        and int(node.id[2:]) < n_names
    )


_BINOPS: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}


def _constant(node: ast.AST) -> float | None:
    """The value of a number or a negated number node, else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)  # type: ignore[arg-type]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _constant(node.operand)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _check_binop(node: ast.BinOp, bad: Callable[[str], InvalidArgumentError]) -> None:
    if type(node.op) not in _BINOPS:
        raise bad(type(node.op).__name__)
    if isinstance(node.op, ast.Pow):
        exponent = _constant(node.right)
        if exponent is None or abs(exponent) > MAX_EXPONENT:
            raise bad(f"'**' needs a constant exponent between -{MAX_EXPONENT} and {MAX_EXPONENT}")


def _check_call(node: ast.Call, bad: Callable[[str], InvalidArgumentError]) -> None:
    func = node.func
    name = func.id[3:] if isinstance(func, ast.Name) and func.id.startswith("_f_") else ""
    if name not in FUNCTIONS or node.keywords:
        raise bad("a call of something other than " + ", ".join(sorted(FUNCTIONS)))
    if len(node.args) != FUNCTIONS[name][0]:
        raise bad(f"{name}() takes {FUNCTIONS[name][0]} argument(s), not {len(node.args)}")


def check_arithmetic(node: ast.AST, n_names: int, text: str) -> None:
    """Allow-list of the node types an arithmetic expression may contain."""

    def bad(what: str) -> InvalidArgumentError:
        return InvalidArgumentError(f"unsupported in an expression: {what} (in {shown(text)})")

    if isinstance(node, ast.Expression):
        check_arithmetic(node.body, n_names, text)
    elif isinstance(node, ast.BinOp):
        _check_binop(node, bad)
        check_arithmetic(node.left, n_names, text)
        check_arithmetic(node.right, n_names, text)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise bad(type(node.op).__name__)
        check_arithmetic(node.operand, n_names, text)
    elif isinstance(node, ast.Call):
        _check_call(node, bad)
        for arg in node.args:
            check_arithmetic(arg, n_names, text)
    elif isinstance(node, ast.Name):
        if not is_placeholder(node, n_names):
            raise bad(node.id)
    elif isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):
            raise bad(repr(node.value))
    else:
        raise bad(type(node).__name__)


@dataclass(frozen=True)
class Expression:
    """A parsed arithmetic expression: the names it reads and its checked tree.

    Evaluation is element-wise over float64 arrays; NaN (missing) in gives NaN out, and so do
    invalid operations (``0/0``, ``sqrt(-1)``): the caller decides what such a value means.
    """

    text: str
    names: list[str]
    tree: ast.Expression

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The expression's values (float64) for equally long arrays, one per name.

        >>> parse_expression("2 * A + B ** 2").evaluate(
        ...     {"A": np.array([1.0, 2.0]), "B": np.array([3.0, np.nan])}).tolist()
        [11.0, nan]
        """
        n = len(next(iter(columns.values()))) if columns else 1
        for name in self.names:
            if name not in columns:
                raise InvalidArgumentError(
                    f"no values for {name!r} of the expression {shown(self.text)}"
                )
            n = len(columns[name])
        with np.errstate(all="ignore"):
            out = self._eval(self.tree.body, columns, n)
        return np.broadcast_to(np.asarray(out, np.float64), (n,)).copy()

    def _eval(self, node: ast.AST, cols: Mapping[str, np.ndarray], n: int) -> Any:
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](
                self._eval(node.left, cols, n), self._eval(node.right, cols, n)
            )
        if isinstance(node, ast.UnaryOp):
            x = self._eval(node.operand, cols, n)
            return -x if isinstance(node.op, ast.USub) else x
        if isinstance(node, ast.Call):
            fn = FUNCTIONS[node.func.id[3:]][1]  # type: ignore[attr-defined]
            return fn(*(self._eval(a, cols, n) for a in node.args))
        if isinstance(node, ast.Name):
            return np.asarray(cols[self.names[int(node.id[2:])]], dtype=np.float64)
        return np.float64(node.value)  # type: ignore[attr-defined]


def parse_expression(text: str) -> Expression:
    """Parse an arithmetic expression (see the module docstring); InvalidArgumentError names
    what is refused.

    >>> parse_expression("max(A, 0) / 'Inlet T'").names
    ['A', 'Inlet T']
    """
    tree, names = parse(text, ARITHMETIC)
    check_arithmetic(tree, len(names), text)
    return Expression(text, names, tree)
