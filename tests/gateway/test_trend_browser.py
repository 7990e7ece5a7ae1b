"""The trend page in a real headless browser: Debian's chromium driven by playwright, over TLS.

The page loads with no console error and asks nothing of any host but 127.0.0.1; a trend of a
known tag holds exactly ``h.plot``'s points, its Bad period is shaded on the canvas at the right
x range (read back pixel by pixel) and its line broken there, Uncertain points are marked; a
token scoped to other tags neither finds nor reads a tag; no token or a revoked one shows the
login; the CSV download equals ``h.plot`` for the window; live mode draws a point written after
the page was opened.
"""

from __future__ import annotations

import csv
import json
import urllib.parse

import numpy as np
import pytest
from playwright.sync_api import sync_playwright
from trend_fixtures import BAD, END, START, T0_S, UNCERTAIN, make_store, running

import historian
from historian.acquisition.pki import make_pki

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("trend-browser")
    store = str(root / "it.hist")
    tokens = make_store(store)
    pki = make_pki(root / "pki")
    with running(store, tls_cert=pki["server_cert"], tls_key=pki["server_key"]) as server:
        yield {"store": store, "url": server.url, "port": server.port, **tokens}


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            ignore_https_errors=True,  # the test CA is not in chromium's trust store
            accept_downloads=True,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, site):
    """A fresh tab; records console messages, page errors and every request's URL."""
    tab = browser_context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.log = []  # type: ignore[attr-defined]
    tab.requests = []  # type: ignore[attr-defined]
    tab.on("console", lambda m: tab.log.append((m.type, m.text)))
    tab.on("pageerror", lambda e: tab.log.append(("pageerror", str(e))))
    tab.on("request", lambda r: tab.requests.append(r.url))
    try:
        yield tab
    finally:
        tab.close()


def _login(page, site, token):
    page.goto(site["url"])
    page.wait_for_selector("#token")
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")


def _trend(page, *tags, start=START, end=END):
    """Put the window in the inputs and add ``tags`` from the search results."""
    page.wait_for_selector(f"#results li[data-tag='{tags[0]}']")
    page.fill("#start", start)
    page.fill("#end", end)
    for i, tag in enumerate(tags):
        page.click(f"#results li[data-tag='{tag}'] button")
        page.wait_for_function(
            "(n) => { const c = document.getElementById('chart'); return c.dataset.state === "
            "'ready' && Object.keys(JSON.parse(c.dataset.points || '{}')).length === n; }",
            arg=i + 1,
        )
    return json.loads(page.get_attribute("#chart", "data-points"))


def _errors(page):
    return [m for m in page.log if m[0] in ("error", "pageerror")]


def test_the_page_loads_with_no_console_error_and_talks_only_to_127_0_0_1(page, site):
    _login(page, site, site["ops"])
    _trend(page, "TIC-101.PV", "RUN", "FIC-200.PV")
    assert _errors(page) == []
    assert page.requests
    for url in page.requests:
        parts = urllib.parse.urlsplit(url.removeprefix("blob:"))
        assert parts.hostname == "127.0.0.1" and parts.port == site["port"], url
    assert page.is_hidden("#login") and page.is_visible("#app")
    # one y axis per unit: degC, (no unit) for RUN, m3/h
    labels = page.evaluate("() => window.historianTrend.plot.axes.slice(1).map(a => a.label)")
    assert labels == ["degC", "(no unit)", "m3/h"]
    stepped = page.evaluate("() => window.historianTrend.payload.series.map(s => s.stepped)")
    assert stepped == [False, True, False]
    # the annotations of the tags and of their reactor, and the reactor's batch, listed in order
    page.wait_for_selector("#notes li[data-kind]")
    listed = page.eval_on_selector_all(
        "#notes li[data-kind]", "els => els.map(e => [e.dataset.kind, e.textContent])"
    )
    assert [kind for kind, _ in listed] == ["frame", "note", "note"]
    assert "B-1042" in listed[0][1] and "SiteA/Area1/R-1" in listed[0][1]
    assert "product: PX-7" in listed[0][1]
    assert "sensor cable cut" in listed[1][1] and "batch started late" in listed[2][1]
    assert "secret" not in " ".join(text for _, text in listed)


def test_a_trend_holds_exactly_the_plot_values_with_bad_shaded_and_uncertain_marked(page, site):
    _login(page, site, site["ops"])
    points = _trend(page, "TIC-101.PV")
    width = page.evaluate("() => window.historianTrend.payload.width")
    with historian.open(site["store"], mode="r") as h:
        want = h.plot("TIC-101.PV", START, END, width=width)
    assert points == {"TIC-101.PV": want.num_rows}

    # the chart's own data: the Bad points are gaps (null), so the line is broken there
    t = want.column("time").cast("int64").to_numpy() / 1e9
    q = want.column("quality").to_numpy()
    drawn = page.evaluate("() => window.historianTrend.plot.data[1]")
    is_bad = (q >> 30) == 2
    assert is_bad.any() and all(drawn[i] is None for i in np.flatnonzero(is_bad))
    assert all(drawn[i] is not None for i in np.flatnonzero(~is_bad))
    marked = page.evaluate("() => window.historianTrend.uncertain[1]")
    assert marked == np.flatnonzero((q >> 30) == 1).tolist() and len(marked) > 0
    assert all(T0_S + UNCERTAIN[0] <= t[i] < T0_S + UNCERTAIN[1] for i in marked)

    # the Bad period runs from the first Bad plot value to the next plot value that is not Bad
    first = int(np.flatnonzero(is_bad)[0])
    after = first + int(np.flatnonzero(~is_bad[first:])[0])
    (band,) = json.loads(page.get_attribute("#chart", "data-bad"))["TIC-101.PV"]
    assert band == [t[first], t[after]] and t[first] == T0_S + BAD[0]

    # and it is shaded on the canvas there, and not elsewhere
    shade = page.evaluate(
        """([a, b]) => {
          const u = window.historianTrend.plot;
          const px = (x, y) => Array.from(u.ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data);
          const ys = [0.1, 0.3, 0.5, 0.7, 0.9].map(f => u.bbox.top + f * u.bbox.height);
          const at = (t) => ys.map(y => px(u.valToPos(t, 'x', true), y));
          return {inside: at((a + b) / 2), before: at(a - 300), after: at(b + 300),
                  edge: [u.valToPos(a, 'x', true), u.valToPos(b, 'x', true)]};
        }""",
        band,
    )

    def shaded(rgba):  # translucent red (over the batch's translucent blue here)
        r, g, b_, a = rgba
        return r > 150 and r > 2 * g and r > 1.8 * b_ and 30 < a < 140

    assert sum(shaded(p) for p in shade["inside"]) >= 4, shade
    assert not any(shaded(p) for p in shade["before"] + shade["after"]), shade
    assert shade["edge"][1] - shade["edge"][0] > 20  # 200 s of a 1 h window: a visible band

    # the batch B-1042 (600 s to 2400 s) is shaded too, in its own colour
    frame = page.evaluate(
        """(ts) => {
          const u = window.historianTrend.plot;
          const ys = [0.2, 0.4, 0.6, 0.8].map(f => u.bbox.top + f * u.bbox.height);
          return ts.map(t => ys.map(y => Array.from(u.ctx.getImageData(
            Math.round(u.valToPos(t, 'x', true)), Math.round(y), 1, 1).data)));
        }""",
        [T0_S + 700, T0_S + 300, T0_S + 3000],
    )

    def framed(rgba):
        r, _g, b_, a = rgba
        return b_ > 180 and r < 90 and 10 < a < 60

    assert sum(framed(p) for p in frame[0]) >= 3, frame
    assert not any(framed(p) for p in frame[1] + frame[2]), frame
    assert _errors(page) == []


def test_a_token_scoped_to_other_tags_neither_finds_nor_reads_the_tag(page, site):
    _login(page, site, site["ops"])
    page.wait_for_selector("#results li[data-tag='TIC-101.PV']")
    found = page.eval_on_selector_all("#results li[data-tag]", "els => els.map(e => e.dataset.tag)")
    assert "SECRET-1.PV" not in found and "TIC-101.PV" in found
    page.fill("#search", "not for operators")
    page.wait_for_function("() => !document.querySelector('#results li[data-tag]')")
    status = page.evaluate(
        """async (q) => (await fetch('/api/plot?' + q, {headers: {Authorization:
              'Bearer ' + sessionStorage.getItem('historian.token')}})).status""",
        urllib.parse.urlencode({"tags": "SECRET-1.PV", "start": START, "end": END}),
    )
    assert status == 403


def test_the_token_with_every_tag_sees_it(page, site):
    _login(page, site, site["all"])
    points = _trend(page, "SECRET-1.PV")
    assert points["SECRET-1.PV"] > 0


def test_no_token_shows_the_login_and_a_revoked_token_is_sent_back_to_it(page, site):
    page.goto(site["url"])
    page.wait_for_selector("#token")
    assert page.is_visible("#login") and page.is_hidden("#app")
    assert page.evaluate("() => sessionStorage.getItem('historian.token')") is None
    _login(page, site, site["gone"])
    page.wait_for_function("() => document.getElementById('login-error').textContent")
    assert "refused" in page.text_content("#login-error")
    assert page.is_hidden("#app")
    assert page.evaluate("() => sessionStorage.getItem('historian.token')") is None
    # the token never went into a URL
    assert not [u for u in page.requests if site["gone"] in u]


def test_the_csv_export_equals_h_plot_for_the_window(page, site):
    _login(page, site, site["ops"])
    _trend(page, "TIC-101.PV", "FIC-200.PV")
    width = page.evaluate("() => window.historianTrend.payload.width")
    with page.expect_download() as info:
        page.click("#export")
    with open(info.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with historian.open(site["store"], mode="r") as h:
        want = [h.plot(tag, START, END, width=width) for tag in ("TIC-101.PV", "FIC-200.PV")]
    tags = ["TIC-101.PV"] * want[0].num_rows + ["FIC-200.PV"] * want[1].num_rows
    assert [r["tag"] for r in rows] == tags
    times = [int(np.datetime64(r["time"].rstrip("Z"), "ns").astype(np.int64)) for r in rows]
    assert times == [x for w in want for x in w.column("time").cast("int64").to_pylist()]
    values = [None if r["value"] == "" else float(r["value"]) for r in rows]
    assert values == [x for w in want for x in w.column("value").to_pylist()]
    assert [int(r["quality"]) for r in rows] == [x for w in want for x in w["quality"].to_pylist()]
    assert _errors(page) == []


def test_live_mode_draws_points_written_after_the_page_opened(page, site):
    _login(page, site, site["ops"])
    page.wait_for_selector("#results li[data-tag='LIVE-1.PV']")
    page.select_option("#span", "900")  # last 15 min
    page.click("#results li[data-tag='LIVE-1.PV'] button")
    page.wait_for_selector("#chart[data-state=ready]")
    assert json.loads(page.get_attribute("#chart", "data-points")) == {"LIVE-1.PV": 0}
    page.check("#live")
    now = np.datetime64("now", "ns")
    with historian.open(site["store"]) as h:
        h.write("LIVE-1.PV", [now - np.timedelta64(5, "s"), now], [20.0, 21.5])
        page.wait_for_function(
            "() => JSON.parse(document.getElementById('chart').dataset.points || '{}')"
            "['LIVE-1.PV'] === 2"
        )
    ends = page.evaluate("() => window.historianTrend.payload.end")
    assert ends >= now.astype(np.int64) / 1e9 - 1
    page.uncheck("#live")
    assert _errors(page) == []


def test_hostile_texts_from_the_store_are_shown_as_text_never_run(page, site):
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    with historian.open(site["store"]) as h:
        h.define("XSS-1.PV", unit="<b>u</b>", description=hostile)
        h.write("XSS-1.PV", [np.datetime64(START.rstrip("Z"), "ns")], [1.0])
        h.annotate("XSS-1.PV", START, hostile, author="<i>mallory</i>")
    _login(page, site, site["all"])
    page.fill("#search", "XSS-1")
    _trend(page, "XSS-1.PV")
    page.wait_for_selector("#notes li[data-kind=note]")
    assert page.evaluate("() => window.pwned") is None
    assert page.evaluate("() => document.querySelectorAll('img, b, i, main script').length") == 0
    assert hostile in page.text_content("#results") and hostile in page.text_content("#notes")
    assert "<i>mallory</i>" in page.text_content("#notes")
    assert _errors(page) == []


def test_a_step_tag_is_drawn_as_steps(page, site):
    _login(page, site, site["ops"])
    _trend(page, "RUN")  # 0 at T0, 1 at T0 + 600 s, 0 at T0 + 1200 s, ...
    found = page.evaluate(
        """(t) => {
          const u = window.historianTrend.plot;
          const x = Math.round(u.valToPos(t, 'x', true));
          const stroke = (v) => {  // is the series' blue within 2 px of the value v at x?
            const y = Math.round(u.valToPos(v, 'y:', true));
            for (let dy = -2; dy <= 2; dy++) {
              const [r, g, b, a] = u.ctx.getImageData(x, y + dy, 1, 1).data;
              if (a > 200 && b > 200 && r < 80) return true;
            }
            return false;
          };
          return {held: stroke(0), between: stroke(0.5)};
        }""",
        T0_S + 300,
    )
    assert found == {"held": True, "between": False}  # a line would pass 0.5 halfway
