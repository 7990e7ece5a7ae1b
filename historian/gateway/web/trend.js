/* historian trend page: search tags, draw a trend from plot values, follow it live, export CSV.
 *
 * The token lives in sessionStorage (this tab only) and goes out as an Authorization header,
 * never in a URL. Every text from the store is put in the page with textContent, never as HTML.
 * For tests: #chart carries data-state (empty, loading, ready, error), data-points (points per
 * tag as drawn) and data-bad (the Bad periods per tag); window.historianTrend is the state.
 */
"use strict";

(function () {
  const TOKEN_KEY = "historian.token";
  const COLORS = ["#2563eb", "#059669", "#9333ea", "#0891b2", "#ca8a04", "#db2777",
    "#4b5563", "#65a30d", "#7c3aed", "#0d9488", "#c2410c", "#1d4ed8"];
  const BAD_FILL = "rgba(220, 38, 38, 0.25)";
  const FRAME_FILL = "rgba(37, 99, 235, 0.10)";
  const NOTE_STROKE = "#9333ea";
  const UNCERTAIN = "#f59e0b";
  const NULL_EXPAND = 2; // uPlot.join: a null (Bad, no value) also breaks the line next to it

  const state = {
    tags: [], meta: {}, features: {}, limits: { tags: 16, width: 10000 },
    payload: null, plot: null, uncertain: [], bad: [], notes: [], frames: [],
    seq: 0, liveTimer: null, searchTimer: null,
  };
  window.historianTrend = state;
  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // ------------------------------------------------------------------ the API
  async function api(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) url.searchParams.set(k, String(v));
    const res = await fetch(url, {
      headers: { Authorization: "Bearer " + (sessionStorage.getItem(TOKEN_KEY) || "") },
      cache: "no-store", credentials: "omit", redirect: "error",
    });
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("The token was refused (unknown, revoked or missing): log in again.");
      throw new ApiError(401, "not logged in");
    }
    if (!res.ok) {
      let message = res.statusText;
      try { message = (await res.json()).error || message; } catch (_e) { /* not JSON */ }
      throw new ApiError(res.status, message);
    }
    return res;
  }

  // ------------------------------------------------------------------ login
  function showLogin(message) {
    stopLive();
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  async function start() {
    if (!sessionStorage.getItem(TOKEN_KEY)) { showLogin(""); return; }
    let who;
    try {
      who = await (await api("/api/whoami")).json();
    } catch (e) {
      if (e.status !== 401) showLogin("Cannot reach the service: " + e.message);
      return;
    }
    state.features = who.features || {};
    state.limits = who.limits || state.limits;
    $("store-name").textContent = who.store || "historian";
    $("who").textContent = "as " + who.token;
    $("asset-hint").textContent = state.features.assets ? ", asset path or template" : "";
    $("login").hidden = true;
    $("app").hidden = false;
    setSpan();
    search();
  }

  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("token").value.trim();
    $("token").value = "";
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    start();
  });

  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.tags = [];
    renderSelected();
    showLogin("Logged out.");
  });

  // ------------------------------------------------------------------ times
  function pad(n, w) { return String(n).padStart(w || 2, "0"); }

  function localText(seconds) {
    const d = new Date(seconds * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
      (d.getMilliseconds() ? "." + pad(d.getMilliseconds(), 3) : "");
  }

  function toIso(text) {
    const t = text.trim();
    if (/^now/i.test(t)) return t.toLowerCase().replace(/\s+/g, "");
    const d = new Date(t);
    if (isNaN(d.getTime())) throw new ApiError(400, `cannot read the time "${t}"`);
    return d.toISOString();
  }

  function setSpan() {
    const span = Number($("span").value);
    const now = Date.now() / 1000;
    $("start").value = localText(now - span);
    $("end").value = localText(now);
  }

  $("span").addEventListener("change", () => { setSpan(); draw(); });

  // ------------------------------------------------------------------ search and selection
  async function search() {
    const q = $("search").value;
    let found;
    try {
      found = (await (await api("/api/tags", { q })).json()).tags;
    } catch (e) {
      if (e.status !== 401) status("Search failed: " + e.message);
      return;
    }
    const list = $("results");
    list.replaceChildren();
    for (const tag of found) {
      state.meta[tag.name] = tag;
      const li = document.createElement("li");
      li.dataset.tag = tag.name;
      const name = document.createElement("span");
      name.textContent = tag.name;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = [tag.unit, tag.kind === "step" ? "step" : "", tag.description,
        ...(tag.assets || [])].filter(Boolean).join(" · ");
      li.append(name, meta);
      if (tag.type === "string") { // a text tag has no line to draw
        const note = document.createElement("span");
        note.className = "meta";
        note.textContent = "text: not drawn";
        li.append(note);
      } else {
        const add = document.createElement("button");
        add.type = "button";
        add.textContent = "Add";
        add.addEventListener("click", () => addTag(tag.name));
        li.append(add);
      }
      list.append(li);
    }
    if (!found.length) {
      const li = document.createElement("li");
      li.textContent = "No tag matches (or none you may see).";
      list.append(li);
    }
  }

  $("search").addEventListener("input", () => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(search, 250);
  });

  function addTag(name) {
    if (state.tags.includes(name)) return;
    if (state.tags.length >= state.limits.tags) {
      status(`A trend holds at most ${state.limits.tags} tags.`);
      return;
    }
    state.tags.push(name);
    renderSelected();
    draw();
  }

  function renderSelected() {
    const list = $("selected");
    list.replaceChildren();
    state.tags.forEach((name, i) => {
      const li = document.createElement("li");
      li.dataset.tag = name;
      const swatch = document.createElement("span");
      swatch.className = "key";
      swatch.style.background = COLORS[i % COLORS.length];
      const label = document.createElement("span");
      label.textContent = name;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.addEventListener("click", () => {
        state.tags = state.tags.filter((t) => t !== name);
        renderSelected();
        draw();
      });
      li.append(swatch, label, remove);
      list.append(li);
    });
  }

  // ------------------------------------------------------------------ drawing
  function status(text) { $("status").textContent = text; }

  function chartWidth() {
    return Math.max(300, Math.min(state.limits.width, $("chart").clientWidth || 900));
  }

  function severity(q) { return q >>> 30; } // 0 Good, 1 Uncertain, 2 Bad

  async function draw() {
    const chart = $("chart");
    const seq = ++state.seq;
    if (!state.tags.length) {
      destroyPlot();
      chart.dataset.state = "empty";
      status("Find a tag on the left and add it to the trend.");
      return;
    }
    chart.dataset.state = "loading";
    let payload;
    const params = { tags: state.tags.join(","), width: chartWidth() };
    try {
      params.start = toIso($("start").value);
      params.end = toIso($("end").value);
      payload = await (await api("/api/plot", params)).json();
    } catch (e) {
      if (seq !== state.seq) return;
      chart.dataset.state = "error";
      if (e.status !== 401) status("Cannot draw: " + e.message);
      return;
    }
    const extras = await notesAndFrames(params);
    if (seq !== state.seq) return; // a newer draw started meanwhile
    state.payload = payload;
    state.notes = extras.notes;
    state.frames = extras.frames;
    render(payload);
    renderNotes();
    const n = payload.series.reduce((a, s) => a + s.t.length, 0);
    status(`${n.toLocaleString()} plot values for ${payload.series.length} tag(s), ` +
      `${localText(payload.start)} to ${localText(payload.end)} (browser time)`);
    if ($("live").checked) scheduleLive();
  }

  async function notesAndFrames(params) {
    const out = { notes: [], frames: [] };
    const window_ = { start: params.start, end: params.end };
    try {
      if (state.features.annotations) {
        const body = await (await api("/api/annotations", { tags: params.tags, ...window_ })).json();
        out.notes = body.annotations || [];
      }
      if (state.features.frames) {
        out.frames = (await (await api("/api/frames", window_)).json()).frames || [];
      }
    } catch (e) {
      if (e.status !== 401) status("Annotations or event frames failed: " + e.message);
    }
    return out;
  }

  function destroyPlot() {
    if (state.plot) { state.plot.destroy(); state.plot = null; }
  }

  function buildData(payload) {
    const tables = payload.series.map((s) => [
      s.t, s.v.map((v, i) => (severity(s.q[i]) === 2 ? null : v)),
    ]);
    const data = tables.length === 1 ? tables[0] :
      uPlot.join(tables, tables.map(() => [null, NULL_EXPAND]));
    const index = new Map(data[0].map((x, i) => [x, i]));
    state.uncertain = [null, ...payload.series.map((s) => {
      const idx = [];
      s.q.forEach((q, i) => { if (severity(q) === 1) idx.push(index.get(s.t[i])); });
      return idx;
    })];
    state.bad = payload.series.map((s) => s.bad);
    return data;
  }

  function render(payload) {
    const chart = $("chart");
    const data = buildData(payload);
    const units = [...new Set(payload.series.map((s) => s.unit))];
    const series = [{}];
    payload.series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      series.push({
        label: s.unit ? `${s.name} (${s.unit})` : s.name,
        scale: "y:" + s.unit,
        stroke: color,
        width: 1.5,
        spanGaps: false,
        paths: s.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: {
          show: false, size: 8, stroke: UNCERTAIN, fill: UNCERTAIN,
          filter: (u, si) => (state.uncertain[si] && state.uncertain[si].length ?
            state.uncertain[si] : null),
        },
      });
    });
    const scales = { x: { time: true, range: () => [payload.start, payload.end] } };
    units.forEach((unit) => { scales["y:" + unit] = { auto: true }; });
    const axes = [{}].concat(units.map((unit, i) => ({
      scale: "y:" + unit, label: unit || "(no unit)", side: i % 2 ? 1 : 3,
      grid: { show: i === 0 },
    })));
    const opts = {
      width: chartWidth(), height: 420, series, scales, axes,
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: { drawClear: [shade], draw: [marks], setSelect: [zoom] },
    };
    destroyPlot();
    state.plot = new uPlot(opts, data, chart);
    const points = {};
    payload.series.forEach((s, i) => {
      points[s.name] = data[i + 1].filter((v) => v !== undefined).length;
    });
    chart.dataset.points = JSON.stringify(points);
    chart.dataset.bad = JSON.stringify(Object.fromEntries(
      payload.series.map((s) => [s.name, s.bad])));
    chart.dataset.state = "ready";
  }

  function band(u, from, to, fill) {
    const lo = Math.max(from, u.scales.x.min);
    const hi = Math.min(to, u.scales.x.max);
    if (!(hi > lo)) return;
    const x0 = u.valToPos(lo, "x", true);
    const x1 = u.valToPos(hi, "x", true);
    u.ctx.fillStyle = fill;
    u.ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
  }

  function shade(u) {
    u.ctx.save();
    for (const f of state.frames) band(u, f.start, f.end == null ? u.scales.x.max : f.end, FRAME_FILL);
    for (const periods of state.bad) for (const [a, b] of periods) band(u, a, b, BAD_FILL);
    u.ctx.restore();
  }

  function marks(u) {
    const ctx = u.ctx;
    ctx.save();
    ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
    ctx.fillStyle = "#1e3a8a";
    for (const f of state.frames) {
      const x = u.valToPos(Math.max(f.start, u.scales.x.min), "x", true);
      ctx.fillText(String(f.name || ""), x + 3, u.bbox.top + 12 * devicePixelRatio);
    }
    ctx.strokeStyle = NOTE_STROKE;
    ctx.fillStyle = NOTE_STROKE;
    ctx.setLineDash([4, 3]);
    for (const n of state.notes) {
      if (n.time < u.scales.x.min || n.time > u.scales.x.max) continue;
      const x = Math.round(u.valToPos(n.time, "x", true)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillText(String(n.text || "").slice(0, 40), x + 3, u.bbox.top + u.bbox.height - 4);
    }
    ctx.restore();
  }

  function zoom(u) {
    const sel = u.select;
    if (sel.width > 4) {
      const a = u.posToVal(sel.left, "x");
      const b = u.posToVal(sel.left + sel.width, "x");
      $("live").checked = false;
      stopLive();
      $("start").value = localText(a);
      $("end").value = localText(b);
      draw();
    }
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
  }

  function renderNotes() {
    const list = $("notes");
    list.replaceChildren();
    const rows = [
      ...state.frames.map((f) => ({ t: f.start, kind: "frame", f })),
      ...state.notes.map((n) => ({ t: n.time, kind: "note", n })),
    ].sort((a, b) => a.t - b.t);
    for (const row of rows) {
      const li = document.createElement("li");
      const when = document.createElement("span");
      when.className = "when";
      const what = document.createElement("span");
      if (row.kind === "frame") {
        const f = row.f;
        when.textContent = localText(f.start) + (f.end == null ? " → (open)" : " → " + localText(f.end));
        const attrs = f.attributes && typeof f.attributes === "object" ?
          Object.entries(f.attributes).map(([k, v]) => `${k}: ${v}`).join(", ") :
          String(f.attributes || "");
        what.textContent = `event frame ${f.name || ""} on ${f.asset || ""}` +
          (f.template ? ` (${f.template})` : "") + (attrs ? ` — ${attrs}` : "");
      } else {
        const n = row.n;
        when.textContent = localText(n.time) + (n.end == null ? "" : " → " + localText(n.end));
        what.textContent = `${n.target}: ${n.text || ""}` + (n.author ? ` (${n.author})` : "");
      }
      li.dataset.kind = row.kind;
      li.append(when, what);
      list.append(li);
    }
    if (!rows.length) {
      const li = document.createElement("li");
      li.textContent = state.features.annotations || state.features.frames ?
        "None in this window." : "This store keeps no annotations or event frames.";
      list.append(li);
    }
  }

  $("draw").addEventListener("click", draw);

  // ------------------------------------------------------------------ live mode
  function stopLive() {
    clearTimeout(state.liveTimer);
    state.liveTimer = null;
  }

  function scheduleLive() {
    stopLive();
    const p = state.payload;
    const span = p ? p.end - p.start : 3600;
    const every = Math.min(60, Math.max(1, span / (p ? p.width : 1000)));
    state.liveTimer = setTimeout(() => {
      if (!$("live").checked) return;
      const now = Date.now() / 1000;
      $("start").value = localText(now - span);
      $("end").value = localText(now);
      draw();
    }, every * 1000);
  }

  $("live").addEventListener("change", () => {
    if ($("live").checked) scheduleLive(); else stopLive();
  });

  // ------------------------------------------------------------------ export
  $("export").addEventListener("click", async () => {
    const p = state.payload;
    if (!p) { status("Draw a trend first."); return; }
    let text;
    try {
      const res = await api("/api/export.csv", {
        tags: p.series.map((s) => s.name).join(","), start: p.start_iso, end: p.end_iso,
        width: p.width,
      });
      text = await res.text();
    } catch (e) {
      if (e.status !== 401) status("Export failed: " + e.message);
      return;
    }
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `trend-${p.start_iso.slice(0, 19).replace(/:/g, "")}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });

  window.addEventListener("resize", () => {
    if (state.plot) state.plot.setSize({ width: chartWidth(), height: 420 });
  });

  start();
})();
