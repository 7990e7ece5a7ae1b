"""Events: the periods where a condition on one or more tags holds, with statistics per event.

Conditions are a small, safe expression language (never ``eval``-ed, never pasted into SQL):

.. code-block:: text

    condition  := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("<" | "<=" | ">" | ">=" | "==" | "=" | "!=" | "<>") operand)*
                | "(" condition ")"
    operand    := tag | number | "true" | "false"
    tag        := bare name (starts with a letter or "_", then letters, digits, "_ . : / -")
                | 'quoted name' | "quoted name"

Keywords are case-insensitive (``AND``, ``Or``). A bare name may contain ``-``, so
``TIC-101.PV > 80`` compares the tag ``TIC-101.PV``: there is no arithmetic. Quote names that
start with a digit or equal a keyword. A tag alone is true where its value is not 0 (digital
tags). Comparisons chain as in Python (``70 < TIC-101.PV <= 80``).

Missing values follow SQL's three-valued logic: a comparison with a missing (null, Bad or stale)
value is *unknown*; ``unknown and false`` is false, ``unknown or true`` is true, ``not unknown``
is unknown; an event holds only where the condition is *true*.

The text is split by a tokenizer that knows tag names, rebuilt as a Python expression whose tag
names are placeholders, parsed with :mod:`ast` (the shared parser of
:mod:`historian.model.expressions`, which derived asset attributes use too) and checked against
an allow-list of node types; the tree is then evaluated by hand over numpy arrays.

Examples
--------
>>> cond = parse_condition("TIC-101.PV > 80 and not 'FIC-101.PV' < 2.5")
>>> cond.tags
['TIC-101.PV', 'FIC-101.PV']
>>> import numpy as np
>>> cond.holds({"TIC-101.PV": np.array([79.0, 85, 90, np.nan]),
...             "FIC-101.PV": np.array([3.0, 3, 1, 3])}).tolist()
[False, True, False, False]
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from historian.errors import InvalidArgumentError
from historian.limits import current
from historian.model import quality as _q
from historian.model.calendar import zone
from historian.model.expressions import CONDITION, is_placeholder, parse
from historian.model.schema import TIME_TYPE
from historian.model.times import as_time, duration_ns, window_ns
from historian.query.intervals import grid_intervals, is_plain, zoned

if TYPE_CHECKING:  # pragma: no cover
    from historian.query.source import SeriesSource

__all__ = ["Condition", "event_periods", "events", "parse_condition"]

_COMPARE = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}


def _bad(what: str, text: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"unsupported in a condition: {what} (in {text!r})")


def _check(node: ast.AST, n_names: int, text: str) -> None:
    """Allow-list of the node types a condition may contain."""
    if isinstance(node, ast.Expression):
        _check(node.body, n_names, text)
    elif isinstance(node, ast.BoolOp):
        if not isinstance(node.op, (ast.And, ast.Or)):
            raise _bad(type(node.op).__name__, text)
        for v in node.values:
            _check(v, n_names, text)
    elif isinstance(node, ast.UnaryOp):
        negative_number = isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
        if not (isinstance(node.op, ast.Not) or negative_number):
            raise _bad("'-' before something other than a number (no arithmetic)", text)
        _check(node.operand, n_names, text)
    elif isinstance(node, ast.Compare):
        _check_compare(node, n_names, text)
    elif isinstance(node, ast.Name):
        if not is_placeholder(node, n_names):
            raise _bad(node.id, text)
    elif isinstance(node, ast.Constant):
        if type(node.value) not in (int, float, bool):
            raise _bad(repr(node.value), text)
    else:
        raise _bad(type(node).__name__, text)


def _check_compare(node: ast.Compare, n_names: int, text: str) -> None:
    """A comparison: allowed operators, between tags and numbers only."""
    for op in node.ops:
        if type(op) not in _COMPARE:
            raise _bad(type(op).__name__, text)
    for v in [node.left, *node.comparators]:
        if not isinstance(v, (ast.Name, ast.Constant, ast.UnaryOp)):
            raise _bad("a comparison of something other than tags and numbers", text)
        _check(v, n_names, text)


@dataclass(frozen=True)
class Condition:
    """A parsed condition: the tag names it reads and its (checked) expression tree."""

    text: str
    tags: list[str]
    tree: ast.Expression

    def holds(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean array: where the condition is true (unknown counts as not holding).

        ``columns`` maps each tag in :attr:`tags` to a float array (NaN = missing).
        """
        n = None
        for name in self.tags:
            if name not in columns:
                raise InvalidArgumentError(f"no values for tag {name!r} of condition {self.text!r}")
            n = len(columns[name])
        value, known = self._eval(self.tree.body, columns, 1 if n is None else n)
        return value & known

    def _eval(
        self, node: ast.AST, cols: Mapping[str, np.ndarray], n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(node, ast.BoolOp):
            parts = [self._eval(v, cols, n) for v in node.values]
            if isinstance(node.op, ast.And):
                false = np.zeros(n, bool)
                true = np.ones(n, bool)
                for v, k in parts:
                    false |= k & ~v
                    true &= k & v
            else:
                false = np.ones(n, bool)
                true = np.zeros(n, bool)
                for v, k in parts:
                    true |= k & v
                    false &= k & ~v
            return true, true | false
        if isinstance(node, ast.UnaryOp):  # not (USub only appears under Compare)
            v, k = self._eval(node.operand, cols, n)
            return ~v, k
        if isinstance(node, ast.Compare):
            operands = [self._operand(x, cols, n) for x in [node.left, *node.comparators]]
            value = np.ones(n, bool)
            known = np.ones(n, bool)
            for op, a, b in zip(node.ops, operands[:-1], operands[1:], strict=True):
                k = ~np.isnan(a) & ~np.isnan(b)
                with np.errstate(invalid="ignore"):
                    value &= _COMPARE[type(op)](a, b)
                known &= k
            # a false, known link makes the chain false even if another link is unknown
            return value, known | (~value & _any_false_known(node, operands))
        x = self._operand(node, cols, n)  # a bare tag or constant: true where not 0
        return (x != 0) & ~np.isnan(x), ~np.isnan(x)

    def _operand(self, node: ast.AST, cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        if isinstance(node, ast.Name):
            return np.asarray(cols[self.tags[int(node.id[2:])]], dtype=np.float64)
        if isinstance(node, ast.UnaryOp):
            return np.full(n, -float(node.operand.value))  # type: ignore[attr-defined]
        return np.full(n, float(node.value))  # type: ignore[attr-defined]


def _any_false_known(node: ast.Compare, operands: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(len(operands[0]), bool)
    for op, a, b in zip(node.ops, operands[:-1], operands[1:], strict=True):
        k = ~np.isnan(a) & ~np.isnan(b)
        with np.errstate(invalid="ignore"):
            out |= k & ~_COMPARE[type(op)](a, b)
    return out


def parse_condition(text: str) -> Condition:
    """Parse a condition (see the module docstring); raises InvalidArgumentError when invalid.

    The tokenizer, the nesting bounds and the parser are shared with derived asset attributes
    (:mod:`historian.model.expressions`); the allow-list here admits comparisons and logic only.
    """
    tree, names = parse(text, CONDITION)
    _check(tree, len(names), text)
    return Condition(text, names, tree)


def event_periods(
    t_ns: np.ndarray, holds: np.ndarray, end_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of ``holds`` on sorted times: (start, end, ongoing).

    An event starts at the first time the condition holds and ends at the next time it does not
    (or at ``end_ns`` when it still holds at the last time: ``ongoing``).

    >>> event_periods(np.array([0, 1, 2, 3, 4]), np.array([0, 1, 1, 0, 1], bool), 9)
    (array([1, 4]), array([3, 9]), array([False,  True]))
    """
    h = np.asarray(holds, dtype=np.int8)
    d = np.diff(np.concatenate([[0], h, [0]]))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)  # index of the first time that no longer holds
    t = np.asarray(t_ns, dtype=np.int64)
    ongoing = stops >= t.size
    ends = np.where(ongoing, end_ns, t[np.minimum(stops, max(t.size - 1, 0))] if t.size else end_ns)
    return t[starts], ends.astype(np.int64), ongoing


_Series = tuple[np.ndarray, np.ndarray, np.ndarray]
_STATS = ("min", "max", "mean", "count", "first", "last", "std", "range")


def _event_stats(
    t: np.ndarray, v: np.ndarray, starts: np.ndarray, ends: np.ndarray, stats: Sequence[str]
) -> dict[str, np.ndarray]:
    """Statistics of the samples with start <= time < end, per event (NaN where none)."""
    lo = np.searchsorted(t, starts, side="left")
    hi = np.searchsorted(t, ends, side="left")
    count = (hi - lo).astype(np.int64)
    out: dict[str, np.ndarray] = {}
    m = len(starts)
    nonempty = count > 0
    idx = lo[nonempty]

    def reduce(ufunc: Any, arr: np.ndarray) -> np.ndarray:
        res = np.full(m, np.nan)
        if idx.size and arr.size:
            # reduceat over the pairs (lo, hi): even positions reduce arr[lo:hi]
            ext = np.append(arr, 0.0)  # so that hi == len(arr) is a valid index
            cuts = np.empty(2 * idx.size, dtype=np.int64)
            cuts[0::2] = idx
            cuts[1::2] = hi[nonempty]
            red = ufunc.reduceat(ext, cuts)[0::2]
            res[nonempty] = red
        return res

    if any(s in stats for s in ("mean", "std")):
        sums = reduce(np.add, v)
        mean = sums / np.maximum(count, 1)
    for s in stats:
        if s == "min":
            out[s] = reduce(np.minimum, v)
        elif s == "max":
            out[s] = reduce(np.maximum, v)
        elif s == "range":
            out[s] = reduce(np.maximum, v) - reduce(np.minimum, v)
        elif s == "mean":
            out[s] = np.where(nonempty, mean, np.nan)
        elif s == "std":
            sq = reduce(np.add, v * v)
            var = np.maximum(sq / np.maximum(count, 1) - mean * mean, 0.0)
            out[s] = np.where(count > 1, np.sqrt(var * count / np.maximum(count - 1, 1)), np.nan)
        elif s == "count":
            out[s] = count.astype(np.float64)
        elif s == "first":
            first = v[np.minimum(lo, max(v.size - 1, 0))] if v.size else np.nan
            out[s] = np.where(nonempty, first, np.nan)
        elif s == "last":
            last = v[np.maximum(hi - 1, 0)] if v.size else np.nan
            out[s] = np.where(nonempty, last, np.nan)
    return out


def _split(table: pa.Table, names: Sequence[str]) -> dict[str, _Series]:
    """Per tag (t_ns, values, quality) from a long points table (one pass, no string compares)."""
    tags = table.column("tag").combine_chunks()
    if not pa.types.is_dictionary(tags.type):
        tags = tags.dictionary_encode()
    codes = tags.indices.to_numpy(zero_copy_only=False)
    dictionary = tags.dictionary.to_pylist()
    t = table.column("time").cast(pa.int64()).to_numpy()
    v = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    q = table.column("quality").to_numpy()
    out: dict[str, _Series] = {
        n: (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.uint32)) for n in names
    }
    if codes.size and bool(np.all(codes[1:] >= codes[:-1])):  # grouped by tag: slices, no copy
        bounds = np.searchsorted(codes, np.arange(len(dictionary) + 1))
        for code, name in enumerate(dictionary):
            if name in out:
                a, b = bounds[code], bounds[code + 1]
                out[name] = (t[a:b], v[a:b], q[a:b])
        return out
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(dictionary) + 1))
    for code, name in enumerate(dictionary):
        if name in out:
            sel = order[bounds[code] : bounds[code + 1]]
            out[name] = (t[sel], v[sel], q[sel])
    return out


def _good_only(t: np.ndarray, v: np.ndarray, q: np.ndarray, start_ns: int, end_ns: int):
    keep = ((q & np.uint32(_q.SEVERITY_MASK)) == 0) & ~np.isnan(v) & (t >= start_ns) & (t < end_ns)
    return t[keep], v[keep]


def events(
    store: SeriesSource,
    condition: str | Callable[[pa.Table], Any],
    start: Any,
    end: Any,
    *,
    tags: Iterable[str] | None = None,
    min_duration: Any = None,
    every: Any = None,
    max_gap: Any = None,
    stats_tags: Iterable[str] | str | None = None,
    stats: Iterable[str] | str = ("min", "max", "mean"),
    **calendar: Any,
) -> pa.Table:
    """The periods in [start, end) where ``condition`` holds; see :meth:`Historian.events`.

    ``calendar`` (``tz``, ``origin``, ``offset``, ``week_start``) aligns the ``every`` grid as
    :meth:`Historian.interpolated` does; with ``tz``, ``start`` and ``end`` carry the zone."""
    start_ns, end_ns = window_ns(start, end)  # one rule for reversed windows (times.py)
    calendar = {k: v for k, v in calendar.items() if v is not None}
    stat_list = [stats] if isinstance(stats, str) else list(dict.fromkeys(stats))
    for stat in stat_list:
        if stat not in _STATS:
            raise InvalidArgumentError(f"unknown event stat {stat!r}; choose from {_STATS}")
    if callable(condition):
        cond = None
        if not tags:
            raise InvalidArgumentError("a callable condition needs tags=[...] to align")
        names = store.resolve_tags(tags)
    else:
        cond = parse_condition(condition)
        names = store.resolve_tags(cond.tags)
    stat_names = names if stats_tags is None else store.resolve_tags(stats_tags)
    limits = current()
    _check_grid(start_ns, end_ns, every, calendar, len(names))
    grid_t, aligned, raw = _align(store, names, start_ns, end_ns, every, max_gap, calendar)
    if cond is None:
        holds = _holds_of_callable(condition, grid_t, aligned, names)  # type: ignore[arg-type]
    else:
        holds = cond.holds(aligned)
    s, e, ongoing = event_periods(grid_t, holds, end_ns)
    limits.check(
        "max_events",
        int(s.size),
        "events found",
        "ask for a shorter window, a "
        "stricter condition, or a coarser every= (short flickers become one event)",
    )
    limits.check(
        "max_result_cells",
        int(s.size) * len(stat_list) * len(stat_names),
        f"event statistics ({s.size:,} events x {len(stat_list)} stats x {len(stat_names)} tags)",
        "ask for fewer stats or stats_tags",
    )
    dur = e - s
    if min_duration is not None:
        keep = dur >= duration_ns(min_duration)
        s, e, ongoing, dur = s[keep], e[keep], ongoing[keep], dur[keep]
    cols: dict[str, pa.Array] = {
        "start": pa.array(s, TIME_TYPE),
        "end": pa.array(e, TIME_TYPE),
        "duration": pa.array(dur, pa.duration("ns")),
        "ongoing": pa.array(ongoing, pa.bool_()),
    }
    if stat_list and stat_names:
        missing = [n for n in stat_names if n not in raw]
        if missing:
            raw.update(_split(store.read(missing, as_time(start_ns), as_time(end_ns)), missing))
        for name in stat_names:
            t, v = _good_only(*raw[name], start_ns, end_ns)
            for stat, arr in _event_stats(t, v, s, e, stat_list).items():
                cols[f"{name}.{stat}"] = pa.array(arr, pa.float64(), mask=np.isnan(arr))
    tz = calendar.get("tz")
    return zoned(pa.table(cols), None if tz is None else zone(tz).key, ["start", "end"])


def _check_grid(
    start_ns: int, end_ns: int, every: Any, calendar: dict[str, Any], n_tags: int
) -> None:
    """Refuse calendar options without ``every``, and a grid past the result budget."""
    plain = every is None or is_plain(every, **calendar)
    extra = sorted(set(calendar) - {"tz"})  # tz alone: the zone of the start and end columns
    if extra and plain:
        raise InvalidArgumentError(f"{', '.join(extra)} align the every= grid: pass every= too")
    if every is None:
        return
    if not plain:
        points = int(grid_intervals(start_ns, end_ns, every, **calendar).size)
    else:
        every_ns = duration_ns(every)
        if every_ns <= 0:
            raise InvalidArgumentError(f"every must be a positive duration, not {every!r}")
        points = -(-(end_ns - start_ns) // every_ns)
    current().check("max_result_cells", points * n_tags * 2,
                    f"aligned values ({points:,} grid points x {n_tags} tags x value and "
                    "quality)", "use a larger every, a shorter window or fewer tags")  # fmt: skip


def _holds_of_callable(
    condition: Callable[[pa.Table], Any],
    grid_t: np.ndarray,
    aligned: dict[str, np.ndarray],
    names: list[str],
) -> np.ndarray:
    """Where a callable condition holds on the aligned table (null counts as not holding)."""
    table = pa.table(
        {
            "time": pa.array(grid_t, TIME_TYPE),
            **{n: pa.array(aligned[n], pa.float64(), mask=np.isnan(aligned[n])) for n in names},
        }
    )
    result = condition(table)
    if isinstance(result, (pa.Array, pa.ChunkedArray)):
        result = result.to_numpy(zero_copy_only=False)
    holds = np.asarray(result)
    if holds.shape != (grid_t.size,):
        raise InvalidArgumentError(
            f"the condition returned shape {holds.shape}, expected ({grid_t.size},)"
        )
    return np.where(_isnull(holds), False, holds).astype(bool)


def _isnull(a: np.ndarray) -> np.ndarray:
    """Null-like entries of an object or float array (None, NaN)."""
    if a.dtype == object:
        return np.array([x is None or (isinstance(x, float) and np.isnan(x)) for x in a], bool)
    if np.issubdtype(a.dtype, np.floating):
        return np.isnan(a)
    return np.zeros(a.shape, bool)


def _align(
    source: SeriesSource,
    names: list[str],
    start_ns: int,
    end_ns: int,
    every: Any,
    max_gap: Any,
    calendar: dict[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, _Series]]:
    """Grid times in [start, end), each tag's value there (NaN = missing), and the raw series
    read (per tag: t, values, quality) for reuse.

    ``every`` given: a regular grid from ``h.interpolated``. None: the union of the tags' own
    sample times (:func:`historian.query.align.align_on_samples`).
    """
    from historian.query.align import align_on_samples, aligned_matrix

    if every is not None:
        t, x = aligned_matrix(source, names, start_ns, end_ns, every, max_gap, **(calendar or {}))
        return t, {n: x[i] for i, n in enumerate(names)}, {}
    return align_on_samples(source, names, start_ns, end_ns, max_gap)
