"""How a Historian shows itself: ``repr()`` and the Jupyter table, from :meth:`info`.

Methods of :class:`historian.api.Historian` (bound in its class body, see
:mod:`historian.api._method`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from historian.api._method import method

if TYPE_CHECKING:
    from historian.api import Historian


@method
def _repr_facts(self: Historian) -> dict[str, Any]:
    """The facts of the reprs, from :meth:`info`: points counted once per (tag, time)
    (superseded versions are rows, not points), the write-ahead log's points included (a
    reader reads them, as its reads return them)."""
    facts: dict[str, Any] = {"path": self.path, "writer": self.writable, "mode": self.mode}
    facts["tag_names"] = self.tags().column("name").to_pylist()
    info = self.info()
    facts.update(points=info["points"], exact=info["points_exact"],
                 rows=info["points_in_files"] + info["points_pending"],
                 pending=info["points_pending"], files=info["files"], bytes=info["bytes"],
                 first_ns=info["first_ns"], last_ns=info["last_ns"])  # fmt: skip
    return facts


@method
def __repr__(self: Historian) -> str:
    """``Historian('plant.hist', reader): 3 tags, 21,600 points, 2026-01-01 00:00:00 ->
    2026-01-01 02:00:00 UTC (2h), 1 file, 41.2 kB``."""
    if self._store.closed:
        return f"Historian({self.path!r}, closed)"
    f = self._repr_facts()
    role = "writer" if f["writer"] else ("read-only" if f["mode"] == "r" else "reader")
    parts = [f"{len(f['tag_names'])} tag{'s' if len(f['tag_names']) != 1 else ''}"]
    parts.append(_points_text(f))
    if f["first_ns"] is not None:
        parts.append(_span_text(f["first_ns"], f["last_ns"]))
    parts.append(f"{f['files']} file{'s' if f['files'] != 1 else ''}, {_size(f['bytes'])}")
    return f"Historian({self.path!r}, {role}): " + ", ".join(parts)


@method
def _repr_html_(self: Historian) -> str:
    """A small table for Jupyter: path, role, tags, time span, points, size on disk."""
    import html

    if self._store.closed:
        return f"<b>Historian</b> <code>{html.escape(self.path)}</code> (closed)"
    f = self._repr_facts()
    names = f["tag_names"]
    shown = ", ".join(html.escape(n) for n in names[:12]) + (" ..." if len(names) > 12 else "")
    role = "writer" if f["writer"] else ("read-only" if f["mode"] == "r" else "reader")
    rows = [
        ("path", f"<code>{html.escape(f['path'])}</code>"),
        ("opened as", role),
        (
            "tags",
            f"{len(names):,}"
            + (
                f": {shown}"
                if names
                else " (define some with <code>h.define(name, unit=...)</code>)"
            ),
        ),
        (
            "time span",
            _span_text(f["first_ns"], f["last_ns"])
            if f["first_ns"] is not None
            else "no points in files yet",
        ),
        ("points", html.escape(_points_text(f))),
        (
            "on disk",
            f"{f['files']:,} file{'s' if f['files'] != 1 else ''}, {_size(f['bytes'])}"
            + (f" ({f['bytes'] / f['rows']:.2f} bytes/row)" if f["rows"] else ""),
        ),
    ]
    body = "".join(
        f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
        for k, v in rows
    )
    return (
        f"<div><b>Historian</b><table>{body}</table><small>h.tags() lists the tags; "
        "h.read / h.summary / h.plot get data</small></div>"
    )


def _points_text(f: dict[str, Any]) -> str:
    """``1,234 points (12 not yet in files)``; above the exact-count limit, rows."""
    pending = f" ({f['pending']:,} not yet in files)" if f["pending"] else ""
    if f["exact"]:
        return f"{f['points']:,} point{'s' if f['points'] != 1 else ''}{pending}"
    return f"{f['rows']:,} rows{pending} (superseded versions included: too many to count)"


def _span_text(first_ns: int, last_ns: int) -> str:
    import datetime as _dt

    def iso(ns: int) -> str:
        d = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=ns // 1000)
        return d.strftime("%Y-%m-%d %H:%M:%S")

    seconds = (last_ns - first_ns) / 1e9
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or unit == "s":
            length = f"{seconds / size:.3g}{unit}"
            break
    return f"{iso(first_ns)} -> {iso(last_ns)} UTC ({length})"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n:.1f} TB"  # pragma: no cover
