"""Notebook views of historian's tables, which stay plain ``pyarrow.Table`` objects.

``h.tags()`` returns a ``pyarrow.Table`` (so ``.to_pandas()``, polars and DuckDB take it as
is); a notebook shows such a table as pyarrow's column dump. ``tags_html(h.tags())`` wraps it
in an object that Jupyter draws as an HTML table (name, unit, kind, range, description,
version). historian does not register a display formatter for every ``pyarrow.Table``: that
would change how all Arrow tables of the notebook look.

Examples
--------
>>> import historian, tempfile
>>> from historian.display import tags_html
>>> with historian.open(tempfile.mkdtemp()) as h:
...     _ = h.define("TIC-101.PV", unit="degC", lo=0, hi=200, description="Reactor <T>")
...     view = tags_html(h.tags())
>>> "<td>TIC-101.PV</td>" in view._repr_html_(), "Reactor &lt;T&gt;" in view._repr_html_()
(True, True)
>>> view
<1 tag: TIC-101.PV>
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["TagsView", "tags_html"]

_COLUMNS = ("name", "unit", "kind", "lo", "hi", "description", "version")


class TagsView:
    """A tag listing (``h.tags()``) as Jupyter shows it: an HTML table; ``.table`` is the
    ``pyarrow.Table`` itself.

    Examples
    --------
    >>> import pyarrow as pa
    >>> v = TagsView(pa.table({"name": ["A"], "unit": ["K"]}))
    >>> v.table.num_rows
    1
    """

    def __init__(self, table: Any, max_rows: int = 200) -> None:
        self.table = table
        self.max_rows = max_rows

    def __repr__(self) -> str:
        names = self.table.column("name").to_pylist() if self.table.num_rows else []
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"<{len(names)} tag{'s' if len(names) != 1 else ''}{': ' + shown if names else ''}>"

    def _repr_html_(self) -> str:
        t = self.table
        cols = [c for c in _COLUMNS if c in t.column_names]
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in cols)
        data = {c: t.column(c).to_pylist()[: self.max_rows] for c in cols}
        rows = []
        for i in range(min(t.num_rows, self.max_rows)):
            cells = "".join(f"<td>{_cell(data[c][i])}</td>" for c in cols)
            rows.append(f"<tr>{cells}</tr>")
        more = (
            f"<small>{t.num_rows - self.max_rows:,} more tag(s) not shown; "
            "<code>.table</code> has them all</small>"
            if t.num_rows > self.max_rows
            else ""
        )
        if not t.num_rows:
            return "<i>no tags</i> (define one with <code>h.define(name, unit=...)</code>)"
        return (f"<div><b>{t.num_rows:,} tag{'s' if t.num_rows != 1 else ''}</b><table>"
                f"<tr>{head}</tr>{''.join(rows)}</table>{more}</div>")  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return html.escape(str(value))


def tags_html(table: Any, max_rows: int = 200) -> TagsView:
    """``h.tags()`` drawn as an HTML table in a notebook; the table itself is ``.table``.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("FIC-104.PV", unit="m3/h")
    ...     tags_html(h.tags()).table.column("unit").to_pylist()
    ['m3/h']
    """
    return TagsView(table, max_rows=max_rows)
