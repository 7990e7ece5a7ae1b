"""historian.plotting.plot_tag: h.plot() values drawn with matplotlib (Agg), Bad periods shaded."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

import historian
from historian.model import quality as q

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from historian.plotting import plot_tag

S = 10**9


@pytest.fixture
def h(tmp_path):
    with historian.open(tmp_path / "p.hist") as store:
        store.define("TIC-101.PV", unit="degC", description="reactor temperature")
        store.define("XV-101.ST", kind="step", states={0: "closed", 1: "open"})
        n = 100_000
        t = np.arange(n, dtype=np.int64) * S // 10  # 10 Hz for 10,000 s
        quality = np.zeros(n, np.uint32)
        quality[20_000:30_000] = q.BAD_NO_COMMUNICATION  # Bad from 2,000 s to 3,000 s
        quality[60_000:60_010] = q.UNCERTAIN_ENGINEERING_UNITS_EXCEEDED
        quality[-5:] = q.BAD_SENSOR_FAILURE  # Bad to the end
        store.write("TIC-101.PV", t, 60 + np.sin(np.arange(n) / 1000), quality=quality)
        store.write("XV-101.ST", [0, 5000 * S], [0.0, 1.0])
        yield store
    plt.close("all")


def _span_seconds(patch):
    # a Rectangle in matplotlib date numbers (days since the epoch)
    x0, width = patch.get_x(), patch.get_width()
    return round(float(x0) * 86400, 3), round(float(x0 + width) * 86400, 3)


def test_bad_periods_are_shaded_and_the_line_breaks(h, tmp_path):
    ax = plot_tag(h, "TIC-101.PV", 0, 10_000 * S, width=500)
    spans = sorted(_span_seconds(p) for p in ax.patches)
    assert spans == [(2000.0, 3000.0), (9999.5, 10000.0)]
    line = ax.lines[0]
    y = np.asarray(line.get_ydata(), dtype=float)
    assert np.isnan(y).any() and np.nanmax(y) <= 61.0
    assert y.size <= 4 * 500 + 2  # plot() values, not the 100,000 points
    assert ax.get_ylabel() == "degC"
    assert ax.get_title() == "TIC-101.PV — reactor temperature"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["TIC-101.PV", "Uncertain", "Bad"]
    out = tmp_path / "chart.png"
    ax.figure.savefig(out)
    assert out.stat().st_size > 1000


def test_step_tags_draw_steps_into_given_axes(h):
    _fig, (a, b) = plt.subplots(2, sharex=True)
    assert plot_tag(h, "XV-101.ST", 0, 10_000 * S, ax=b, color="k") is b
    assert b.lines[0].get_drawstyle() == "steps-post"
    assert not a.lines and not b.patches and b.get_legend() is None


def test_errors_come_from_the_store(h):
    with pytest.raises(historian.errors.TagNotFoundError, match="define it first"):
        plot_tag(h, "NOPE", 0, 10)
    with pytest.raises(historian.errors.InvalidArgumentError, match="width"):
        plot_tag(h, "TIC-101.PV", 0, 10, width=0)


def test_missing_matplotlib_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"
        "import historian\n"
        "from historian.plotting import plot_tag\n"
        f"h = historian.open({str(tmp_path / 's.hist')!r}); h.define('A'); h.write('A', [0], [1.0])\n"
        "try:\n"
        "    plot_tag(h, 'A', 0, 10)\n"
        "except ImportError as e:\n"
        "    print(e)\n"
        "h.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install historian[plot]" in out.stdout, out.stderr


# ----------------------------------------------------------------------------- issue 11, item 6
def _days(t_ns: int) -> float:
    return t_ns / 86400e9  # matplotlib date numbers: days since 1970


def test_the_x_axis_is_the_window_asked_for_not_the_data(tmp_path):
    import time

    now = time.time_ns()
    with historian.open(tmp_path / "p.hist") as h:
        h.define("TIC-101.PV", unit="degC")
        t = now - 120 * S + np.arange(120, dtype=np.int64) * S  # only the last 2 minutes
        h.write("TIC-101.PV", t, 60 + np.sin(np.arange(120) / 10))
        ax = plot_tag(h, "TIC-101.PV", "now-1h", "now")  # a "last hour" chart
        lo, hi = ax.get_xlim()
        assert abs((hi - lo) * 86400 - 3600) < 5  # the hour, not the 2 minutes of data
        assert abs(hi * 86400 - now / 1e9) < 5
        assert not [x for x in ax.texts if "no data" in x.get_text()]
        ax2 = plot_tag(h, "TIC-101.PV", t[0] - 3600 * S, t[0] - 1800 * S)  # nothing in it
        assert [x.get_text() for x in ax2.texts] == ["no data for TIC-101.PV in this window"]
        assert ax2.get_xlim() == pytest.approx((_days(t[0] - 3600 * S), _days(t[0] - 1800 * S)))
    plt.close("all")


def test_a_figure_of_its_own_keeps_its_axis_labels_when_saved(h, tmp_path):
    ax = plot_tag(h, "TIC-101.PV", 0, 10_000 * S)
    fig = ax.figure
    out = tmp_path / "chart.png"
    fig.savefig(out)  # what the user did: the x label was cut off
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        ext = label.get_window_extent(renderer)
        assert ext.y0 >= box.y0 and ext.x0 >= box.x0 and ext.y1 <= box.y1, label.get_text()


@pytest.mark.parametrize("tag", ["A", "S"])
def test_the_line_never_crosses_a_shaded_bad_period(tmp_path, tag):
    import matplotlib.dates as mdates

    rng = np.random.default_rng(7)
    n = 200_000
    t = np.arange(n, dtype=np.int64) * S // 10
    quality = np.zeros(n, np.uint32)
    for s in rng.integers(0, n, 60):  # Bad runs from 1 point to 40 s, many inside one pixel
        quality[s : s + rng.integers(1, 400)] = q.BAD_NO_COMMUNICATION
    quality[50_000] = q.BAD_NO_COMMUNICATION  # a lost link: one marker, then no data for 10 min
    keep = np.ones(n, bool)
    keep[50_001:56_000] = False
    with historian.open(tmp_path / "p.hist") as h:
        h.define("A"), h.define("S", kind="step")
        h.write(tag, t[keep], np.round(3 * np.sin(np.arange(n) / 500))[keep],
                quality=quality[keep])  # fmt: skip
        ax = plot_tag(h, tag, 0, n * S // 10, width=300)
    x = mdates.date2num(ax.lines[0].get_xdata())
    y = np.asarray(ax.lines[0].get_ydata(), dtype=float)
    spans = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    assert len(spans) > 20
    eps = 1e-9
    for i in range(x.size - 1):
        drawn = np.isfinite(y[i]) and (np.isfinite(y[i + 1]) or tag == "S")  # steps hold y[i]
        if drawn:
            for s0, s1 in spans:
                assert not (s0 < x[i + 1] - eps and s1 > x[i] + eps), (i, x[i], x[i + 1], s0, s1)
    plt.close("all")
