"""Draw a tag with matplotlib: ``h.plot()`` values (a few per pixel), Bad periods shaded.

matplotlib is an optional extra: ``pip install historian[plot]``. It is imported only when a
chart is drawn, so ``import historian`` never needs it.

Examples
--------
>>> import historian, tempfile, numpy as np
>>> from historian.plotting import plot_tag
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> t = np.arange(3600, dtype=np.int64) * 10**9
>>> with historian.open(tempfile.mkdtemp()) as h:
...     _ = h.define("TIC-101.PV", unit="degC")
...     _ = h.write("TIC-101.PV", t, 60 + np.sin(np.arange(3600) / 300),
...                 quality=np.where((t > 10**12) & (t < 2 * 10**12), 0x80310000, 0))
...     ax = plot_tag(h, "TIC-101.PV", t[0], t[-1], width=200)
>>> ax.get_ylabel(), len(ax.patches)
('degC', 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.model import quality as q
from historian.model.times import as_time, window_ns

__all__ = ["plot_tag"]

BAD_COLOR = "#d62728"
UNCERTAIN_COLOR = "#ff7f0e"


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "historian.plotting needs matplotlib, an optional extra: pip install historian[plot] "
            "(or pip install matplotlib)"
        ) from exc
    return plt


def plot_tag(
    h: Any, tag: str, start: Any, end: Any, ax: Any = None, width: int = 1000, **line: Any
) -> Any:
    """Draw ``tag`` from ``start`` to ``end`` with Bad periods shaded; returns the Axes.

    The values come from ``h.plot(tag, start, end, width)`` (per pixel the first, last, min and
    max point, PI PlotValues), so a chart of 10^8 points draws as fast as one of 4,000 and looks
    the same. The x axis is the window asked for, ``[start, end]``, whatever part of it has
    data (a "last hour" chart of 2 minutes of data shows 58 empty minutes), and a window without
    any point says "no data". The line breaks where the quality is Bad, so it never crosses a
    Bad period — from a Bad point to the next point that is not Bad — which is shaded red;
    Uncertain points are marked in orange. Step tags are drawn as steps. The y label is the
    tag's unit. A figure made here uses matplotlib's constrained layout, so ``savefig`` keeps
    the axis labels.

    Parameters
    ----------
    h : Historian
        An open store.
    tag : str
        The tag to draw.
    start, end : time
        Any time input (ISO string, datetime, ``"now-1h"``, int ns).
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (for subplots); a new figure otherwise.
    width : int
        The chart's width in pixels (how many intervals ``h.plot`` makes).
    **line
        Passed to ``ax.plot`` for the line (``color``, ``linewidth``, ``label`` ...).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        When matplotlib is not installed; the message names ``pip install historian[plot]``.

    Examples
    --------
    >>> import historian, tempfile, numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from historian.plotting import plot_tag
    >>> with historian.open(tempfile.mkdtemp()) as h:
    ...     _ = h.define("A"), h.define("B", kind="step")
    ...     _ = h.write("A", np.arange(100) * 10**9, np.arange(100.0))
    ...     _ = h.write("B", [0, 50 * 10**9], [0.0, 1.0])
    ...     fig, (top, bottom) = plt.subplots(2, sharex=True)
    ...     _ = plot_tag(h, "A", 0, 100 * 10**9, ax=top)
    ...     _ = plot_tag(h, "B", 0, 100 * 10**9, ax=bottom)
    >>> top.get_title(), len(bottom.lines)
    ('A', 1)
    >>> plt.close(fig)
    """
    start_ns, end_ns = window_ns(start, end)  # "now-1h" evaluated once, for data and axis
    values = h.plot(tag, as_time(start_ns), as_time(end_ns), width)
    definition = h.tag(tag)
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(10, 3.5), layout="constrained")
    else:
        _pyplot()  # the same clear error when matplotlib is missing
    t = values.column("time").cast("int64").to_numpy().astype("datetime64[ns]")
    v = values.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    qual = values.column("quality").to_numpy()
    bad = q.bad_mask(qual) | np.isnan(v)
    shown = np.where(bad, np.nan, v)
    line.setdefault("label", tag)
    line.setdefault("linewidth", 1.0)
    if definition.stepped:
        line.setdefault("drawstyle", "steps-post")
    ax.plot(t, shown, **line)
    uncertain = (qual & q.SEVERITY_MASK) == q.UNCERTAIN
    if uncertain.any():
        ax.plot(
            t[uncertain],
            v[uncertain],
            linestyle="none",
            marker=".",
            markersize=4,
            color=UNCERTAIN_COLOR,
            label="Uncertain",
        )
    start_t, end_t = np.datetime64(start_ns, "ns"), np.datetime64(end_ns, "ns")
    labelled = False
    for a, b in _runs(bad):
        stop = t[b] if b < t.size else end_t  # Bad until the next point that is not Bad
        ax.axvspan(
            t[a], stop, color=BAD_COLOR, alpha=0.15, linewidth=0, label=None if labelled else "Bad"
        )
        labelled = True
    ax.set_ylabel(definition.unit or "")
    ax.set_title(tag if not definition.description else f"{tag} — {definition.description}")
    ax.set_xlabel("time (UTC)")
    ax.set_xlim(start_t, end_t)  # the window asked for, not the data's extent
    if not ((t >= start_t) & (t < end_t)).any():  # h.plot may add bounding points outside
        ax.text(0.5, 0.5, f"no data for {tag} in this window", transform=ax.transAxes,
                ha="center", va="center", color="0.35")  # fmt: skip
    if uncertain.any() or labelled:
        ax.legend(loc="upper right", fontsize="small")
    return ax


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, one past last) index of each run of True."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))
