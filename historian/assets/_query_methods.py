"""The data queries of ``h.assets`` (read, summary, interpolated): methods of
:class:`~historian.assets.facade.AssetModel`, kept here so the class stays one screen of edits
(the same pattern as :mod:`historian.api`). Each selects attributes on the current model and
hands them to :mod:`historian.assets.queries`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from historian.assets import queries as _q
from historian.errors import argument_errors, mapped_errors

if TYPE_CHECKING:  # pragma: no cover
    from historian.assets.facade import AssetModel

__all__ = ["boundary", "interpolated", "read", "summary"]


@contextlib.contextmanager
def boundary(what: str, h: Any) -> Iterator[None]:
    """A public call: arguments of the wrong type and dependency errors mapped."""
    with argument_errors(what), mapped_errors(f"{what} on {h.path}"):
        yield


def read(
    self: AssetModel,
    assets: str | Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    *,
    template: str | None = None,
    attribute: str | Iterable[str] | None = None,
) -> pa.Table:
    """Raw points of attributes of the assets selected by path pattern and template, long:
    ``asset, attribute, time, value, quality``; derived attributes are computed at their
    inputs' sample times (``docs/assets.md``).

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.assets.define_template("HX", {"T_in": "{asset}.TI1", "T_out": "{asset}.TI2",
    ...                                         "dT": {"expression": "T_out - T_in"}})
    ...     _ = h.assets.add("S/E-1", template="HX"); _ = h.assets.define_tags()
    ...     _ = h.write("E-1.TI1", [0, 10**9], [20.0, 21.0])
    ...     _ = h.write("E-1.TI2", [0, 10**9], [50.0, 55.0])
    ...     h.assets.read("S/**", attribute="dT").column("value").to_pylist()
    [30.0, 34.0]
    """
    with boundary("h.assets.read", self._h):
        sel = _q.select(self._state(), assets, template, attribute)
        return _q.read(self._h, sel, start, end)


def summary(
    self: AssetModel,
    assets: str | Iterable[str] | None,
    start: Any,
    end: Any,
    every: Any = None,
    stats: Iterable[str] | str = ("twa", "min", "max", "count"),
    config: Any = None,
    *,
    template: str | None = None,
    attribute: str | Iterable[str] | None = None,
    tz: Any = None,
    shifts: Mapping[str, Any] | None = None,
    origin: Any = None,
    offset: Any = None,
    week_start: str | int | None = None,
) -> pa.Table:
    """Part 13 summaries of attributes of the selected assets, one long table:
    ``asset, attribute, start, stat, value, time, status`` (as
    :meth:`historian.api.Historian.summary` per tag; ``tz``, ``shifts`` ... the same).

    "Every Pump under SiteA/Area2, attribute Flow, hourly twa":

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.assets.define_template("Pump", {"Flow": "{asset}.FI"})
    ...     for p in ["SiteA/Area2/P-1", "SiteA/Area2/P-2", "SiteB/P-3"]:
    ...         _ = h.assets.add(p, template="Pump")
    ...     _ = h.assets.define_tags()
    ...     for i, tag in enumerate(["P-1.FI", "P-2.FI", "P-3.FI"]):
    ...         _ = h.write(tag, [0, 3600 * 10**9], [10.0 * i, 10.0 * i + 2])
    ...     s = h.assets.summary("SiteA/Area2/**", 0, 3600 * 10**9, "1h", "twa",
    ...                          template="Pump", attribute="Flow")
    ...     s.select(["asset", "value"]).to_pylist()
    [{'asset': 'SiteA/Area2/P-1', 'value': 1.0}, {'asset': 'SiteA/Area2/P-2', 'value': 11.0}]
    """
    calendar = {
        "tz": tz,
        "shifts": shifts,
        "origin": origin,
        "offset": offset,
        "week_start": week_start,
    }
    with boundary("h.assets.summary", self._h):
        sel = _q.select(self._state(), assets, template, attribute)
        return _q.summary(self._h, sel, start, end, every, stats, config, calendar)


def interpolated(
    self: AssetModel,
    assets: str | Iterable[str] | None,
    start: Any,
    end: Any,
    every: Any,
    *,
    template: str | None = None,
    attribute: str | Iterable[str] | None = None,
    quality: bool = False,
    max_gap: Any = None,
    extrapolate: bool = False,
    config: Any = None,
    tz: Any = None,
    origin: Any = None,
    offset: Any = None,
    week_start: str | int | None = None,
) -> pa.Table:
    """Values on a regular grid of attributes of the selected assets, long:
    ``asset, attribute, time, value`` (``quality`` adds the StatusCode); options as
    :meth:`historian.api.Historian.interpolated`. Derived attributes are computed from
    their inputs interpolated on the grid, with the status of their quality rule.

    Examples
    --------
    >>> import historian, tempfile
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.assets.define_template("T", {"A": "{asset}.A", "D": {"expression": "2 * A"}})
    ...     _ = h.assets.add("S/X", template="T"); _ = h.assets.define_tags()
    ...     _ = h.write("X.A", [0, 10 * 10**9], [0.0, 10.0])
    ...     h.assets.interpolated("S/X", 0, 10 * 10**9, "5s", attribute="D").column(
    ...         "value").to_pylist()
    [0.0, 10.0, 20.0]
    """
    options = {
        "max_gap": max_gap,
        "extrapolate": extrapolate,
        "config": config,
        "tz": tz,
        "origin": origin,
        "offset": offset,
        "week_start": week_start,
    }
    with boundary("h.assets.interpolated", self._h):
        sel = _q.select(self._state(), assets, template, attribute)
        return _q.interpolated(self._h, sel, start, end, every, quality=quality, options=options)
