"""Queries by asset: raw points, summaries and interpolated values of attributes of the assets
a path pattern and a template select, as one long table with the asset path as a column.

Stored attributes are read through the Historian's own ``read``, ``summary`` and
``interpolated`` (one call for all their tags) and labelled with their asset and attribute;
derived attributes are computed from their inputs (:mod:`historian.assets.derived`): on the
inputs' bounded raw series for ``read`` and ``summary`` (so edge intervals are exact as for a
tag), on the inputs' interpolated grid for ``interpolated``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from historian.assets.derived import derive, derive_on_grid
from historian.assets.model import ModelState, evaluation_order
from historian.assets.templates import Attribute
from historian.errors import AssetNotFoundError, InvalidArgumentError
from historian.model.schema import TIME_TYPE
from historian.model.times import MAX_NS, MIN_NS, user_ns, window_ns

__all__ = ["Selected", "interpolated", "read", "select", "summary"]

Series = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Selected:
    """One (asset, attribute) a query asked for, with all the asset's attributes."""

    asset: str
    attribute: str
    attrs: Mapping[str, Attribute]

    @property
    def definition(self) -> Attribute:
        return self.attrs[self.attribute]

    def inputs(self) -> list[str]:
        """The stored attributes this one reads (itself when stored), in evaluation order."""
        order = evaluation_order(self.attrs, [self.attribute])
        return [n for n in order if not self.attrs[n].derived]

    def tag(self, name: str) -> str:
        t = self.attrs[name].tag_for(self.asset)
        assert t is not None
        return t


def _names(value: str | Iterable[str] | None, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    out = list(value)
    if not all(isinstance(v, str) for v in out):
        raise InvalidArgumentError(f"{what} must be a str or a list of str")
    return out


def select(
    state: ModelState,
    assets: str | Iterable[str] | None,
    template: str | None,
    attribute: str | Iterable[str] | None,
) -> list[Selected]:
    """The (asset, attribute) pairs of a query, sorted by asset then attribute as given.

    ``assets``: a path pattern, or a list of paths/patterns; ``attribute``: a name, a list, or
    None for every attribute. An asset without a requested attribute is left out; none at all
    raises AssetNotFoundError.
    """
    patterns = _names(assets, "assets") or ["**"]
    wanted = _names(attribute, "attribute")
    found: dict[str, Any] = {}
    for p in patterns:
        for a in state.find(p, template):
            found[a.path] = a
    if not found:
        raise AssetNotFoundError(
            f"no asset matches {patterns}"
            + (f" with template {template!r}" if template else "")
            + "; list them with h.assets.find()"
        )
    out: list[Selected] = []
    for path in sorted(found):
        attrs = state.attributes_of(path)
        for name in sorted(attrs) if wanted is None else wanted:
            if name in attrs:
                out.append(Selected(path, name, attrs))
    if not out:
        raise AssetNotFoundError(
            f"none of the {len(found)} assets matched has attribute(s) {wanted}; see their "
            "attributes with h.assets.attribute_tags(...)"
        )
    return out


def _runs(table: pa.Table) -> dict[str, tuple[int, int]]:
    """(offset, length) of each tag's rows in ``table``, whose rows are grouped by tag (as
    ``h.read`` and ``h.summary`` give them)."""
    if table.num_rows == 0:
        return {}
    col = pc.dictionary_encode(table.column("tag")).combine_chunks()
    codes = col.indices.to_numpy(zero_copy_only=False)
    names = col.dictionary.to_pylist()
    cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    lengths = np.diff(np.concatenate([starts, [codes.size]]))
    out = {names[codes[a]]: (int(a), int(n)) for a, n in zip(starts, lengths, strict=True)}
    if len(out) != starts.size:  # pragma: no cover - the tables asked for are grouped
        raise AssertionError("rows of a tag are not contiguous")
    return out


def _piece(table: pa.Table, asset: str, attribute: str) -> pa.Table:
    """``table`` (no tag column) with ``asset`` and ``attribute`` columns in front."""
    n = table.num_rows
    return table.add_column(0, "asset", pa.repeat(pa.scalar(asset, pa.string()), n)).add_column(
        1, "attribute", pa.repeat(pa.scalar(attribute, pa.string()), n)
    )


class _Pieces:
    """The per-(asset, attribute) tables of a result, put together in selection order."""

    def __init__(self, sel: list[Selected]) -> None:
        self.order = {(s.asset, s.attribute): i for i, s in enumerate(sel)}
        self.tables: dict[int, pa.Table] = {}

    def add(self, s: Selected, table: pa.Table) -> None:
        self.tables[self.order[(s.asset, s.attribute)]] = _piece(table, s.asset, s.attribute)

    def add_by_tag(self, sel: list[Selected], table: pa.Table) -> None:
        """Rows of each stored attribute's tag from a table grouped by tag."""
        runs = _runs(table)
        rest = table.drop_columns(["tag"])
        for s in sel:
            offset, length = runs.get(s.tag(s.attribute), (0, 0))
            self.add(s, rest.slice(offset, length))

    def table(self) -> pa.Table:
        return pa.concat_tables([self.tables[i] for i in sorted(self.tables)])


def _series(h: Any, tags: list[str], start_ns: int, end_ns: int) -> dict[str, Series]:
    from historian.query.align import series_by_tag

    return series_by_tag(h.bounded_series(tags, start_ns, end_ns), tags)


def _derived_series(h: Any, sel: Selected, raw: Mapping[str, Series]) -> tuple[Series, bool]:
    """The derived series of ``sel`` (and whether it is held between points) from the raw
    series of its stored inputs (by tag)."""
    order = evaluation_order(sel.attrs, [sel.attribute])
    stored = [n for n in order if not sel.attrs[n].derived]
    stepped_tag = h.is_stepped([sel.tag(n) for n in stored]) if stored else {}
    series: dict[str, Series] = {n: raw[sel.tag(n)] for n in stored}
    stepped = {n: stepped_tag[sel.tag(n)] for n in stored}
    for name in order:
        attr = sel.attrs[name]
        if attr.derived:
            series[name] = derive(attr, series, stepped)
            stepped[name] = (
                attr.kind == "step"
                if attr.kind is not None
                else bool(attr.names) and all(stepped[n] for n in attr.names)
            )
    return series[sel.attribute], stepped[sel.attribute]


def _points(s: Series, lo: int, hi: int) -> pa.Table:
    t, v, q = s
    keep = (t >= lo) & (t < hi)
    t, v, q = t[keep], v[keep], q[keep]
    return pa.table(
        {
            "time": pa.array(t, TIME_TYPE),
            "value": pa.array(v, pa.float64(), mask=np.isnan(v)),
            "quality": pa.array(q, pa.uint32()),
        }
    )


def read(h: Any, sel: list[Selected], start: Any, end: Any) -> pa.Table:
    """Raw points ``asset, attribute, time, value, quality`` (derived ones computed), by asset,
    then attribute, then time."""
    lo = MIN_NS if start is None else user_ns(start)
    hi = MAX_NS if end is None else user_ns(end)
    if start is not None and end is not None:
        window_ns(start, end, empty=True)
    pieces = _Pieces(sel)
    stored = [s for s in sel if not s.definition.derived]
    if stored:
        table = h.read(sorted({s.tag(s.attribute) for s in stored}), start, end)
        table = table.select(["tag", "time", "value", "quality"])
        table = table.set_column(3, "quality", table.column("quality").cast(pa.uint32()))
        pieces.add_by_tag(stored, table)
    derived = [s for s in sel if s.definition.derived]
    if derived:
        tags = sorted({s.tag(n) for s in derived for n in s.inputs()})
        raw = _series(h, tags, lo, hi)
        for s in derived:
            series, _ = _derived_series(h, s, raw)
            pieces.add(s, _points(series, lo, hi))
    return pieces.table()


def summary(
    h: Any,
    sel: list[Selected],
    start: Any,
    end: Any,
    every: Any,
    stats: Any,
    config: Any,
    calendar: Mapping[str, Any],
) -> pa.Table:
    """Summaries ``asset, attribute, start, stat, value, time, status`` (``shift`` too with
    shifts), as :meth:`historian.api.Historian.summary` gives per tag."""
    from historian.query.retrieval import summarize

    pieces = _Pieces(sel)
    stored = [s for s in sel if not s.definition.derived]
    if stored:
        tags = list(dict.fromkeys(s.tag(s.attribute) for s in stored))
        pieces.add_by_tag(stored, h.summary(tags, start, end, every, stats, config, **calendar))
    derived = [s for s in sel if s.definition.derived]
    if derived:
        lo, hi = window_ns(start, end)
        tags = sorted({s.tag(n) for s in derived for n in s.inputs()})
        raw = _series(h, tags, lo, hi)
        for s in derived:
            (t, v, q), stepped = _derived_series(h, s, raw)
            table = summarize(
                t,
                v,
                q,
                start=np.datetime64(lo, "ns"),
                end=np.datetime64(hi, "ns"),
                every=every,
                stats=stats,
                config=config,
                stepped=stepped,
                tag="",
                **calendar,
            )
            pieces.add(s, table.drop_columns(["tag"]))
    return pieces.table()


def interpolated(
    h: Any,
    sel: list[Selected],
    start: Any,
    end: Any,
    every: Any,
    *,
    quality: bool,
    options: Mapping[str, Any],
) -> pa.Table:
    """Values on a grid, long: ``asset, attribute, time, value`` (``quality`` too)."""
    tags = sorted({s.tag(n) for s in sel for n in s.inputs()})
    wide = h.interpolated(tags, start, end, every, quality=True, **options)
    time = wide.column("time")
    n = wide.num_rows
    values = {t: wide.column(t).to_numpy(zero_copy_only=False).astype(np.float64) for t in tags}
    codes = {t: wide.column(f"{t}.quality").to_numpy().astype(np.uint32) for t in tags}
    pieces = _Pieces(sel)
    for s in sel:
        by_attr_v: dict[str, np.ndarray] = {}
        by_attr_q: dict[str, np.ndarray] = {}
        for name in evaluation_order(s.attrs, [s.attribute]):
            attr = s.attrs[name]
            if attr.derived:
                by_attr_v[name], by_attr_q[name] = derive_on_grid(attr, by_attr_v, by_attr_q, n)
            else:
                by_attr_v[name], by_attr_q[name] = values[s.tag(name)], codes[s.tag(name)]
        v, q = by_attr_v[s.attribute], by_attr_q[s.attribute]
        cols: dict[str, Any] = {"time": time, "value": pa.array(v, pa.float64(), mask=np.isnan(v))}
        if quality:
            cols["quality"] = pa.array(q, pa.uint32())
        pieces.add(s, pa.table(cols))
    return pieces.table()
