"""The answers of the trend page's JSON API, for one store and one token's read scope.

:mod:`historian.gateway.http` turns requests into calls of these functions; they take the
query-string values as strings, check and bound them, apply the token's scope, and return
plain JSON-ready values (or CSV text). Nothing here knows about sockets.

- :func:`search_tags`: tags whose name, description or unit contains the words asked for,
  or the path, attribute or template of an asset attribute they stand for (``h.assets``).
- :func:`plot_payload`: per tag the ``h.plot`` values of a window (times in epoch seconds,
  values, OPC UA qualities), the tag's unit and kind, and its Bad periods.
- :func:`annotations_payload`, :func:`frames_payload`: the annotations of the tags asked for
  and the event frames of the window, when the store has them (``h.annotations``,
  ``h.frames``).
- :func:`export_csv`: the plot values of the window as CSV, exactly what the page draws.

Examples
--------
>>> import historian, tempfile
>>> from historian.gateway.tokens import Token
>>> from historian.gateway.trend import plot_payload, search_tags
>>> h = historian.open(tempfile.mkdtemp())
>>> _ = h.define("TIC-101.PV", unit="degC"); _ = h.define("FIC-200.PV")
>>> _ = h.write("TIC-101.PV", [0, 10**9, 2 * 10**9], [1.0, 2.0, 3.0], quality=[0, 0x80310000, 0])
>>> token = Token("ops", ("TIC-*",))
>>> [t["name"] for t in search_tags(h, token, "101")]
['TIC-101.PV']
>>> series = plot_payload(h, token, "TIC-101.PV", "1970-01-01T00:00:00Z", "1970-01-01T00:00:03Z",
...                       "100")["series"][0]
>>> series["t"], series["bad"]
([0.0, 1.0, 2.0], [[1.0, 2.0]])
>>> h.close()
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from historian.errors import InvalidArgumentError, TagNotFoundError
from historian.gateway.tokens import Token
from historian.limits import current
from historian.model.quality import BAD, SEVERITY_MASK
from historian.model.times import to_ns

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_SEARCH_RESULTS",
    "MAX_TREND_TAGS",
    "MAX_WIDTH",
    "OutOfScopeError",
    "annotations_payload",
    "export_csv",
    "features",
    "frames_payload",
    "plot_payload",
    "search_tags",
]

log = logging.getLogger(__name__)

#: Tags one trend may hold.
MAX_TREND_TAGS = 16
#: Pixels one trend may ask for (a screen is a few thousand; also bounded by max_plot_width).
MAX_WIDTH = 10_000
#: Tags one search returns.
MAX_SEARCH_RESULTS = 200
#: Characters of one search text.
MAX_QUERY_CHARS = 200
_MAX_ROWS = 10_000  # annotations or frames one answer carries


class OutOfScopeError(InvalidArgumentError):
    """A tag the token may not read was asked for (the HTTP service answers 403)."""


def features(h: Any) -> dict[str, bool]:
    """Which optional parts the store has: ``assets`` (an asset model with tags bound to its
    attributes), ``annotations``, ``frames``.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     sorted(features(h))
    ['annotations', 'assets', 'frames']
    """
    return {
        "assets": bool(_attribute_rows(h)),
        "annotations": callable(getattr(h, "annotations", None)),
        "frames": callable(getattr(h, "frames", None)),
    }


# ---------------------------------------------------------------------- parameters
def _text(value: str | None, what: str, limit: int = MAX_QUERY_CHARS) -> str:
    value = value or ""
    if len(value) > limit:
        raise InvalidArgumentError(f"{what}: at most {limit} characters, not {len(value)}")
    return value


def _window(start: str | None, end: str | None) -> tuple[int, int]:
    if not start or not end:
        raise InvalidArgumentError(
            "give start= and end= (ISO 8601 such as 2026-01-01T00:00:00Z, or now-1h and now)"
        )
    start_ns, end_ns = to_ns(_text(start, "start", 64)), to_ns(_text(end, "end", 64))
    if end_ns <= start_ns:
        raise InvalidArgumentError(f"end ({end}) must be after start ({start})")
    return start_ns, end_ns


def _dt64(ns: int) -> np.datetime64:
    return np.datetime64(ns, "ns")  # an int would be checked for looking like epoch seconds


def _width(width: str | None) -> int:
    try:
        px = int(width or "1000")
    except ValueError:
        raise InvalidArgumentError(f"width must be a number of pixels, not {width!r}") from None
    if px < 1:
        raise InvalidArgumentError(f"width must be a positive number of pixels, not {px}")
    limit = min(MAX_WIDTH, current().max_plot_width)
    if px > limit:
        raise InvalidArgumentError(f"width {px:,} is over the trend page's limit of {limit:,}")
    return px


def _tag_list(h: Any, token: Token, tags: str | None) -> list[str]:
    """The tags of a ``tags=A,B`` parameter: in scope (else OutOfScopeError), known, distinct."""
    names = [n for n in _text(tags, "tags", 4096).split(",") if n]
    if not names:
        raise InvalidArgumentError("give tags=NAME[,NAME...] (at least one tag)")
    if len(names) > MAX_TREND_TAGS:
        raise InvalidArgumentError(f"a trend holds at most {MAX_TREND_TAGS} tags, not {len(names)}")
    for name in names:
        if not token.allows(name):
            raise OutOfScopeError(f"tag {name!r} is outside the read scope of this token")
    known = set(h.tags().column("name").to_pylist())
    for name in names:
        if name not in known:
            raise TagNotFoundError(f"no tag named {name!r}")
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------------- search
def _asset_model(h: Any) -> Any:
    """``h.assets`` (the store's asset model), or None for a store object without one."""
    model = getattr(h, "assets", None)
    has = all(callable(getattr(model, n, None)) for n in ("find", "attribute_tags"))
    return model if has else None


def _attribute_rows(h: Any) -> list[dict[str, Any]]:
    """``asset, attribute, tag, template`` of every asset attribute bound to a tag."""
    model = _asset_model(h)
    if model is None:
        return []
    found = model.find()
    if not found.num_rows:
        return []  # (attribute_tags of no asset is an error)
    templates = dict(zip(found["path"].to_pylist(), found["template"].to_pylist(), strict=True))
    rows = model.attribute_tags().select(["asset", "attribute", "tag"]).to_pylist()
    return [{**r, "template": templates.get(r["asset"])} for r in rows if r["tag"]]


def _asset_index(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """tag name -> ``"PATH.ATTRIBUTE (TEMPLATE)"`` for each asset attribute it stands for."""
    out: dict[str, list[str]] = {}
    for r in rows:
        label = f"{r['asset']}.{r['attribute']}" + (f" ({r['template']})" if r["template"] else "")
        out.setdefault(r["tag"], []).append(label)
    return out


def _visible_assets(rows: list[dict[str, Any]], token: Token) -> set[str]:
    """The assets with at least one attribute tag the token may read."""
    return {r["asset"] for r in rows if token.allows(r["tag"])}


def search_tags(
    h: Any, token: Token, q: str | None, limit: int = MAX_SEARCH_RESULTS
) -> list[dict[str, Any]]:
    """Tags in the token's scope whose name, description or unit (or asset path or template)
    contains every word of ``q`` (case-insensitive); all of them (up to ``limit``) for an empty
    ``q``. Sorted by name.

    Examples
    --------
    >>> import historian, tempfile
    >>> from historian.gateway.tokens import Token
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("TIC-101.PV", description="reactor temperature")
    ...     [t["name"] for t in search_tags(h, Token("t", ("*",)), "Reactor temp")]
    ['TIC-101.PV']
    """
    words = _text(q, "q").lower().split()
    assets = _asset_index(_attribute_rows(h))
    out = []
    for row in h.tags().to_pylist():
        name = row["name"]
        if not token.allows(name):
            continue
        where = assets.get(name, [])
        hay = " ".join([name, row.get("description") or "", row.get("unit") or "", *where]).lower()
        if all(w in hay for w in words):
            out.append(
                {
                    "name": name,
                    "unit": row.get("unit") or "",
                    "kind": row.get("kind") or "analog",
                    "type": row.get("type") or "double",
                    "description": row.get("description") or "",
                    "lo": row.get("lo"),
                    "hi": row.get("hi"),
                    "assets": assets.get(name, []),
                }
            )
    out.sort(key=lambda r: r["name"])
    return out[:limit]


# ---------------------------------------------------------------------- plot
def bad_periods(t_s: np.ndarray, quality: np.ndarray, end_s: float) -> list[list[float]]:
    """``[from, to]`` (seconds) of each run of Bad points: from the first Bad point of a run to
    the next point that is not Bad (``end_s`` when the run lasts to the end).

    Examples
    --------
    >>> import numpy as np
    >>> bad_periods(np.array([0.0, 1, 2, 3]), np.array([0, 0x80000000, 0x80000000, 0]), 9.0)
    [[1.0, 3.0]]
    """
    bad = (quality.astype(np.uint32) & SEVERITY_MASK) == BAD
    if not bad.any():
        return []
    edges = np.diff(np.concatenate(([False], bad, [False])).astype(np.int8))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = []
    for i, j in zip(starts, stops, strict=True):
        out.append([float(t_s[i]), float(t_s[j]) if j < t_s.size else float(end_s)])
    return out


def plot_payload(
    h: Any, token: Token, tags: str | None, start: str | None, end: str | None, width: str | None
) -> dict[str, Any]:
    """The trend of ``tags`` (comma separated) over ``[start, end)`` on ``width`` pixels.

    ``{"start", "end"}`` in epoch seconds (``start_iso``, ``end_iso``: to the nanosecond, for
    :func:`export_csv`), ``width`` and ``"series"``: per tag ``name``, ``unit``,
    ``kind``, ``stepped``, ``t`` (epoch seconds), ``v`` (null where there is no value), ``q``
    (OPC UA StatusCodes) and ``bad`` (the Bad periods, see :func:`bad_periods`). The points are
    ``h.plot``'s, so their number depends on the width, not on the window's length.
    """
    names = _tag_list(h, token, tags)
    start_ns, end_ns = _window(start, end)
    px = _width(width)
    stepped = h.is_stepped(names)
    series = []
    for name in names:
        table = h.plot(name, _dt64(start_ns), _dt64(end_ns), width=px)
        t_s = table.column("time").cast(pa.int64()).to_numpy() / 1e9
        q = table.column("quality").to_numpy()
        tag = h.tag(name)
        series.append(
            {
                "name": name,
                "unit": tag.unit or "",
                "kind": tag.kind or "analog",
                "stepped": bool(stepped[name]),
                "t": t_s.tolist(),
                "v": table.column("value").to_pylist(),
                "q": q.tolist(),
                "bad": bad_periods(t_s, q, end_ns / 1e9),
            }
        )
    return {
        "start": start_ns / 1e9,
        "end": end_ns / 1e9,
        "start_iso": f"{_dt64(start_ns)}Z",
        "end_iso": f"{_dt64(end_ns)}Z",
        "width": px,
        "series": series,
    }


def export_csv(
    h: Any, token: Token, tags: str | None, start: str | None, end: str | None, width: str | None
) -> tuple[str, int]:
    """``(csv text, rows)``: ``tag,time,value,quality`` of the plot values the page draws for
    that window and width (``time`` ISO 8601 UTC to the nanosecond; an empty value where there
    is none).

    Examples
    --------
    >>> import historian, tempfile
    >>> from historian.gateway.tokens import Token
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A"); _ = h.write("A", [0, 10**9], [1.5, 2.0])
    ...     text, rows = export_csv(h, Token("t", ("*",)), "A", "1970-01-01T00:00:00Z",
    ...                             "1970-01-01T00:00:02Z", "10")
    >>> print(text.strip())
    tag,time,value,quality
    A,1970-01-01T00:00:00.000000000Z,1.5,0
    A,1970-01-01T00:00:01.000000000Z,2.0,0
    """
    names = _tag_list(h, token, tags)
    start_ns, end_ns = _window(start, end)
    px = _width(width)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["tag", "time", "value", "quality"])
    rows = 0
    for name in names:
        table = h.plot(name, _dt64(start_ns), _dt64(end_ns), width=px)
        times = table.column("time").cast(pa.int64()).to_numpy().astype("datetime64[ns]")
        values = table.column("value").to_pylist()
        quality = table.column("quality").to_pylist()
        for t, v, q in zip(times, values, quality, strict=True):
            writer.writerow([name, f"{t}Z", "" if v is None else repr(v), q])
        rows += table.num_rows
    return buf.getvalue(), rows


# ---------------------------------------------------------------------- annotations, frames
def _rows(table: pa.Table, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    out = []
    for row in table.slice(0, _MAX_ROWS * 4).to_pylist():
        if keep(row):
            out.append({k: _jsonable(v) for k, v in row.items()})
            if len(out) >= _MAX_ROWS:
                break
    return out


def _jsonable(value: Any) -> Any:
    if hasattr(value, "timestamp") and hasattr(value, "isoformat"):
        return value.timestamp()  # a datetime: epoch seconds, as the page's axis
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def annotations_payload(
    h: Any, token: Token, tags: str | None, start: str | None, end: str | None
) -> dict[str, Any]:
    """The annotations of ``tags`` and of the assets those tags belong to, over the window
    (``{"available": False}`` when the store has no annotations); times in epoch seconds."""
    names = _tag_list(h, token, tags)
    start_ns, end_ns = _window(start, end)
    if not features(h)["annotations"]:
        return {"available": False, "annotations": []}
    wanted = set(names) | {r["asset"] for r in _attribute_rows(h) if r["tag"] in names}
    table = h.annotations(targets=sorted(wanted), start=_dt64(start_ns), end=_dt64(end_ns))
    rows = _rows(table, lambda r: r.get("target") in wanted)
    return {"available": True, "annotations": rows}


def frames_payload(h: Any, token: Token, start: str | None, end: str | None) -> dict[str, Any]:
    """The event frames over the window of the assets the token sees: an asset with an
    attribute tag in the token's scope, or whose path its patterns match (``*`` sees every
    frame); ``{"available": False}`` when the store has no event frames."""
    start_ns, end_ns = _window(start, end)
    if not features(h)["frames"]:
        return {"available": False, "frames": []}
    table = h.frames(start=_dt64(start_ns), end=_dt64(end_ns))
    seen = _visible_assets(_attribute_rows(h), token)

    def visible(row: dict[str, Any]) -> bool:
        asset = str(row.get("asset") or "")
        return asset in seen or token.allows(asset)

    rows = _rows(table, visible)
    for row in rows:
        if isinstance(row.get("attributes"), str):
            with contextlib.suppress(ValueError):  # else shown as the text it is
                row["attributes"] = json.loads(row["attributes"])
    return {"available": True, "frames": rows}
