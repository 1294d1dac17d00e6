// clusterank's web page: search, the cluster map, and comparisons, over the server's own HTTP API.
// Plain JavaScript with no dependencies; plotly.js (for the map) is loaded after the first paint.
"use strict";
const $ = (id) => document.getElementById(id);
const state = {options: null, map: null, mapRows: null, lastHits: [], lastXY: null, job: null, hidden: {}};

function key() { return sessionStorage.getItem("clusterank-key"); }

async function api(path, init = {}) {
  const headers = {"content-type": "application/json", ...(init.headers || {})};
  if (key()) headers.authorization = `Bearer ${key()}`;
  const response = await fetch(path, {...init, headers});
  if (response.status === 401 && !init.retried) {
    const k = window.prompt("This server needs its API key:");
    if (k) { sessionStorage.setItem("clusterank-key", k); return api(path, {...init, retried: true}); }
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function fill(select, values, chosen, label = (v) => v) {
  for (const v of values) {
    const o = document.createElement("option");
    o.value = String(v); o.textContent = label(v);
    select.appendChild(o);
  }
  if (chosen !== undefined && chosen !== null) select.value = String(chosen);
}

// a reranker's readable name (the option's value stays its spec, which is what the API takes)
function rerankerName(spec) {
  if (spec === "none") return "None: keep the cosine order";
  if (spec.startsWith("rescore:")) return `Re-score with ${spec.slice(8)}`;
  if (spec.startsWith("cross-encoder:")) return `Cross-encoder ${spec.slice(14)}`;
  if (spec.startsWith("llm-pairwise")) return `LLM judge, pairs of profiles${spec.includes(":") ? ` (${spec.split(":")[1]})` : ""}`;
  return spec;
}

// ---- the URL holds the query state, so a result can be shared and reloaded
const FIELDS = {q: "query", model: "model", retriever: "retriever", reranker: "reranker", rerank_top: "rerank-top",
                k: "k", role: "f-role", family: "f-family", cluster: "f-cluster"};

function readUrl() {
  const params = new URLSearchParams(location.search);
  for (const [name, id] of Object.entries(FIELDS)) if (params.has(name)) $(id).value = params.get(name);
  return params.has("q");
}

function writeUrl() {
  const params = new URLSearchParams();
  for (const [name, id] of Object.entries(FIELDS)) if ($(id).value) params.set(name, $(id).value);
  if (blindOn()) params.set("blind", "1");
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

// ---- name-blind search (`clusterank serve --blind-toggle`): the box exists only where the server offers it
function blindOn() { return Boolean($("blind") && $("blind").checked); }

function addBlindBox(fields) {
  const label = document.createElement("label"), box = document.createElement("input");
  label.title = `Search the same profiles with ${fields.join(", ")} left out of their text; results show ` +
                "\"profile <id>\", not the name";
  box.type = "checkbox"; box.id = "blind"; box.name = "blind";
  box.checked = new URLSearchParams(location.search).get("blind") === "1";
  label.append(box, document.createTextNode(" Name-blind"));
  $("explain").closest("label").after(label);
  box.addEventListener("change", switchCorpus);
}

// the corpus line and the cluster filter of the plain or the name-blind corpus (each has its own k-means clusters)
function showCorpus(o) {
  state.corpusVersion = o.corpus_version;  // `serve --refresh-s` raises it when the profiles change
  $("corpus-line").textContent = `${o.profiles.toLocaleString()} profiles · ${o.corpus}`;
  const select = $("f-cluster");
  select.replaceChildren(select.options[0]);
  fill(select, o.clusters, "", (c) => clusterTag(c, (o.cluster_names || {})[c]));
}

// the toggle switches the clusters and the map too, and searches again when results are shown
async function switchCorpus() {
  showError("");
  try { showCorpus(await api(`/v1/options?blind=${blindOn()}`)); } catch (e) { showError(e.message); return; }
  state.hidden = {};
  if (state.lastHits.length && $("query").value.trim()) search();  // its map point is drawn once both are here
  if (window.Plotly) await loadMap();
}

// ---- search
function request() {
  const filters = {};
  if ($("f-role").value) filters.role = $("f-role").value;
  if ($("f-family").value) filters.family = $("f-family").value;
  if ($("f-cluster").value) filters.cluster = Number($("f-cluster").value);
  const reranker = $("reranker").value;
  return {query: $("query").value, model: $("model").value || null, retriever: $("retriever").value,
          k: Number($("k").value), reranker: reranker && reranker !== "none" ? reranker : null,
          rerank_top: Number($("rerank-top").value), filters: Object.keys(filters).length ? filters : null,
          explain: $("explain").checked, ...($("blind") ? {blind: blindOn()} : {})};
}

function why(e) {  // one line from a hit's `explain`: cosine, bonus, the reranker's move, best fields and tokens
  const parts = [`cosine ${e.cosine.toFixed(3)}` + (e.bonus ? ` + bonus ${e.bonus.toFixed(3)}` : "")];
  if (e.retrieval_rank) parts.push(`retrieval #${e.retrieval_rank}` + (e.moved ? `, reranker moved it ${e.moved > 0 ? "up" : "down"} ${Math.abs(e.moved)}` : ""));
  if (e.fields && e.fields.length) parts.push("fields: " + e.fields.slice(0, 3).map(f => `${f.field} ${f.drop >= 0 ? "+" : ""}${f.drop.toFixed(3)}`).join(", "));
  if (e.tokens && e.tokens.length) parts.push("tokens: " + e.tokens.slice(0, 5).map(t => t.token).join(", "));
  return "Why here: " + parts.join("; ");
}

async function search() {
  showError("");
  if (!$("query").value.trim()) { showError("Paste a job description first (or use the example)."); $("query").focus(); return; }
  writeUrl();
  $("search").disabled = true;
  $("status").textContent = "Searching…";
  const t0 = performance.now();
  try {
    const result = await api("/v1/search", {method: "POST", body: JSON.stringify(request())});
    const roundTrip = performance.now() - t0;
    if (result.corpus_version !== state.corpusVersion) {  // the server read the profiles again: rows moved
      showCorpus(await api(`/v1/options?blind=${blindOn()}`));
      if (window.Plotly) await loadMap();
    }
    render(result, roundTrip);
  } catch (e) {
    showError(e.message);
    $("results").replaceChildren(); $("timings").textContent = "";
    $("order-note").textContent = ""; $("match-note").hidden = true;
  } finally {
    $("search").disabled = false;
    $("status").textContent = "";
  }
}

function tag(text) { const s = document.createElement("span"); s.className = "tag"; s.textContent = text; return s; }

// a cluster's one name, as the map's legend and the hits' tags show it (names from the server's cluster summaries)
function clusterTag(cluster, name) { return name ? `cluster ${cluster}: ${name}` : `cluster ${cluster}`; }

function score(kind, value, title, primary) {
  const s = document.createElement("span");
  s.className = `score ${primary ? "primary" : "secondary"}`; s.dataset.kind = kind; s.title = title;
  s.textContent = `${kind} ${value.toFixed(3)}`;
  return s;
}

// what orders the list, and whether anything in the corpus is close to the query at all
function explain(result) {
  const reranked = result.reranker && result.reranker !== "none";
  $("order-note").textContent = reranked && result.hits.length
    ? `Ordered by the reranker's score (${rerankerName(result.reranker)}), best first; cosine, the retrieval score, ` +
      "is shown after it."
    : result.hits.length ? "Ordered by cosine similarity between the job description and each profile, best first." : "";
  const m = result.match;
  $("match-note").hidden = !(m && m.weak);
  if (m && m.weak) {
    const filtered = $("f-role").value || $("f-family").value || $("f-cluster").value;
    $("match-note").textContent = `Weak match — nothing in this corpus${filtered ? " that passes the filters" : ""} ` +
      `is close to the query: the best cosine, ` +
      `${m.best.toFixed(3)}, is below ${m.floor.toFixed(3)}, which 99% of random pairs of profiles here exceed ` +
      `(the query's median cosine over the profiles: ${m.median.toFixed(3)}).`;
  }
}

function render(result, roundTrip) {
  const list = $("results");
  list.replaceChildren();
  const reranked = result.reranker && result.reranker !== "none";
  for (const h of result.hits) {
    const li = document.createElement("li");
    li.dataset.row = h.row;
    const head = document.createElement("div"); head.className = "hit-head";
    const rank = document.createElement("span"); rank.className = "rank"; rank.textContent = `${h.rank}.`;
    const cosine = score("cosine", h.cosine, "cosine similarity of the job description and the profile (1: the same " +
                         "direction, 0: unrelated); not a probability" + (reranked ? "" : "; orders this list"), !reranked);
    const name = document.createElement("span"); name.className = "name"; name.textContent = h.name;
    if (reranked && h.rerank_score !== null && h.rerank_score !== undefined) {
      head.append(rank, score("reranker", h.rerank_score, `${rerankerName(result.reranker)}'s score; orders this list`,
                              true), name, cosine);
    } else {
      head.append(rank, cosine, name);
    }
    if (h.role) { const r = tag(h.role); r.classList.add("role"); head.append(r); }
    const c = tag(clusterTag(h.map_cluster, h.cluster_name)); c.classList.add("cluster"); head.append(c);
    const headline = document.createElement("div"); headline.className = "headline"; headline.textContent = h.headline;
    const more = document.createElement("details");
    const summary = document.createElement("summary"); summary.textContent = "Whole profile";
    const body = document.createElement("pre"); body.textContent = h.preview + "…";
    more.append(summary, body);
    if (h.explain) { const w = document.createElement("div"); w.className = "why"; w.textContent = why(h.explain); more.append(w); }
    more.addEventListener("toggle", async () => {
      if (!more.open || more.dataset.loaded) return;
      try { const p = await api(`/v1/profiles/${h.row}?id=${encodeURIComponent(h.id)}&model=${encodeURIComponent(result.model)}&blind=${!!result.blind}`);
            body.textContent = p.text; more.dataset.loaded = "1"; } catch (e) { body.textContent = e.message; }
    });
    li.append(head, headline, more);
    list.append(li);
  }
  $("empty").hidden = result.hits.length > 0;
  const t = result.timings_ms;
  // the line ends with what searched (model, retriever): the query's language comes before it
  $("timings").textContent = `${result.hits.length} profiles` + (result.lang ? ` · query language: ${result.lang}` : "") +
    ` · embed ${t.embed_ms.toFixed(1)} ms · retrieve ${t.retrieve_ms.toFixed(1)} ms · rerank ` +
    `${t.rerank_ms.toFixed(1)} ms · round trip ${roundTrip.toFixed(0)} ms · ${result.model}, ${result.retriever}`;
  explain(result);
  state.lastHits = result.hits; state.lastXY = result.map_xy;
  document.body.dataset.searched = String(Date.now());
  drawMap();
}

// ---- the map (WebGL points; the job description is a large X; results are outlined)
function loadPlotly() {
  const s = document.createElement("script");
  s.src = "/static/plotly.min.js"; s.async = true;
  s.onload = () => loadMap();
  s.onerror = () => { $("map-status").textContent = "the map needs plotly (pip install 'clusterank[viz]')"; };
  document.head.append(s);
}

async function loadMap() {
  try {
    state.map = await api(`/v1/map?model=${encodeURIComponent($("model").value)}&blind=${blindOn()}`);
    $("map-status").textContent = state.map.title;
    drawMap();
  } catch (e) { $("map-status").textContent = `map unavailable: ${e.message}`; }
}

function escapeHtml(text) { return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

function pageTraces(D, by) {
  const traces = mapTraces(D, by);  // the map's own traces (/static/map.js, shared with `clusterank map`)
  traces.forEach((t) => { if (t.rows) t.customdata = t.rows; });  // clicking a point opens its row
  if (state.lastHits.length) {
    // two traces: an SVG one that takes the hover (plotly scales an SVG marker's distance by its radius, so inside
    // a ring its result is nearer to the mouse than most profile points; `ringAt` does the rest) but is drawn under
    // the WebGL canvas, and a WebGL one, drawn last, that shows the rings above every point
    const hits = state.lastHits, name = `search results (red rings; no ${by} is drawn in red)`;
    const x = hits.map((h) => D.x[h.row]), y = hits.map((h) => D.y[h.row]);
    const ring = {size: 14, color: "rgba(0,0,0,0)", line: {width: 2.5, color: RESULT_COLOUR}};
    traces.push({type: "scatter", mode: "markers", name, x, y, customdata: hits.map((h) => h.row),
                 text: hits.map((h) => `<b>result ${h.rank}: ${escapeHtml(h.name)}</b><br>${D.hover[h.row]}`),
                 hovertemplate: "%{text}<extra></extra>", marker: ring});
    traces.push({type: "scattergl", mode: "markers", name, x, y, hoverinfo: "skip", showlegend: false, follows: name,
                 marker: ring});
  }
  if (state.lastXY) {
    traces.push({type: "scatter", mode: "markers", name: "job description", x: [state.lastXY[0]], y: [state.lastXY[1]],
                 text: [wrapText($("query").value.slice(0, 200), 48)],
                 hovertemplate: "<b>Job description</b><br>%{text}<extra></extra>",
                 marker: {symbol: "x", size: 22, color: "black", line: {width: 2, color: "white"}}});
  }
  return traces;
}

// the legend is the page's own, below the map: plotly's would sit under its toolbar and squeeze a narrow map
function drawLegend(traces) {
  const list = $("map-legend-list");
  list.replaceChildren();
  traces.forEach((t, i) => {
    if (t.showlegend === false) return;  // drawn with the entry it follows
    const together = [i, ...traces.flatMap((u, j) => (u.follows === t.name ? [j] : []))];
    const li = document.createElement("li");
    li.tabIndex = 0; li.dataset.trace = String(i); li.title = "click: hide or show these points";
    if (t.legendgrouptitle) {
      const group = document.createElement("li"); group.className = "group"; group.textContent = t.legendgrouptitle.text;
      list.append(group);
    }
    const swatch = document.createElement("span"); swatch.className = "swatch";
    if (t.marker.symbol === "x") { swatch.classList.add("x"); swatch.textContent = "✕"; }
    else if (t.type === "scatter") { swatch.classList.add("ring"); swatch.style.borderColor = t.marker.line.color; }
    else swatch.style.background = t.marker.color;
    li.append(swatch, document.createTextNode(t.name));
    if (t.visible === "legendonly") li.classList.add("off");
    const toggle = () => {
      const hide = li.classList.toggle("off");
      state.hidden[t.name] = hide;
      Plotly.restyle("map", {visible: hide ? "legendonly" : true}, together);
    };
    li.addEventListener("click", toggle);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); } });
    list.append(li);
  });
  $("map-legend").hidden = traces.length === 0;
}

// the result ring under the mouse, if any: plotly gives the hover to the nearest point, and a profile point can lie
// nearer to the mouse than a ring's centre, so inside a ring the page hands the hover and the click to its result
const RING_PX = 8;  // a ring's radius on screen: marker size 14 and its 2.5 px line
function ringAt(ev) {
  const gd = $("map"), data = gd._fullData || [];
  const i = data.findIndex((d) => d.name && d.name.startsWith("search results") && d.visible === true);
  if (i < 0 || !ev || !ev.event || ev.event.clientX === undefined) return null;
  const L = gd._fullLayout, area = gd.querySelector(".nsewdrag").getBoundingClientRect();
  const mx = ev.event.clientX - area.left, my = ev.event.clientY - area.top;
  let best = null;
  data[i].x.forEach((x, j) => {
    const d = Math.hypot(L.xaxis.l2p(x) - mx, L.yaxis.l2p(data[i].y[j]) - my);
    if (d <= RING_PX && (!best || d < best.d)) best = {d, curveNumber: i, pointNumber: j, customdata: data[i].customdata[j]};
  });
  return best;
}

function bindMap() {
  const gd = $("map");
  gd.on("plotly_hover", (ev) => {
    const p = ev.points && ev.points[0];
    if (p && p.data.name.startsWith("search results")) return;
    const ring = ringAt(ev);
    if (ring) Plotly.Fx.hover(gd, [{curveNumber: ring.curveNumber, pointNumber: ring.pointNumber}]);
  });
  gd.on("plotly_click", (ev) => openProfile(ringAt(ev) || ev.points[0]));
}

function drawMap() {
  if (!state.map || !window.Plotly) return;
  const traces = pageTraces(state.map, $("colour-by").value);
  traces.forEach((t) => { if (state.hidden[t.name]) t.visible = "legendonly"; });
  // the top margin keeps plotly's toolbar above the plot, and hover labels are narrow and kept beside their point
  const layout = {hovermode: "closest", showlegend: false, margin: {t: 34, l: 30, r: 10, b: 30},
                  hoverlabel: MAP_HOVERLABEL, xaxis: {zeroline: false}, yaxis: {zeroline: false}, uirevision: "keep"};
  drawLegend(traces);
  Plotly.react("map", traces, layout, {responsive: true, displaylogo: false})
    .then(() => { if (!state.clickBound) { bindMap(); state.clickBound = true; } });
}

async function openProfile(point) {
  if (!point || point.customdata === undefined) return;
  const card = $("profile");
  try {
    const p = await api(`/v1/profiles/${point.customdata}?model=${encodeURIComponent($("model").value)}&blind=${blindOn()}`);
    card.replaceChildren();
    const h = document.createElement("h3");
    h.textContent = `${p.name} — ${p.role || "no role"} · ${clusterTag(p.cluster, p.cluster_name)}`;
    const pre = document.createElement("pre"); pre.textContent = p.text;
    card.append(h, pre); card.dataset.row = String(p.row); card.hidden = false; card.focus();
  } catch (e) { showError(e.message); }
}

// ---- comparisons run by the server, with progress, cancellable
async function startCompare() {
  const models = [...document.querySelectorAll("#compare-models input:checked")].map((c) => c.value);
  if (!models.length) { $("compare-status").textContent = "tick at least one model"; return; }
  try {
    const job = await api("/v1/jobs/compare", {method: "POST", body: JSON.stringify({models})});
    state.job = job.id;
    $("compare-start").disabled = true; $("compare-cancel").hidden = false; $("compare-progress").hidden = false;
    pollCompare();
  } catch (e) { $("compare-status").textContent = e.message; }
}

async function pollCompare() {
  if (!state.job) return;
  try {
    const job = await api(`/v1/jobs/${state.job}`);
    $("compare-progress").value = job.progress;
    $("compare-status").textContent = job.state === "failed" ? `failed: ${job.error}` :
      job.state === "running" ? `${job.message} (${Math.round(job.progress * 100)}%)` : job.message;
    if (job.state === "running" || job.state === "queued") { setTimeout(pollCompare, 500); return; }
    if (job.state === "done") {
      const a = document.createElement("a"); a.href = job.report; a.target = "_blank"; a.textContent = "open the report";
      $("compare-status").replaceChildren(document.createTextNode("done: "), a);
    }
  } catch (e) { $("compare-status").textContent = e.message; }
  $("compare-start").disabled = false; $("compare-cancel").hidden = true; state.job = null;
}

async function cancelCompare() {
  if (state.job) await api(`/v1/jobs/${state.job}`, {method: "DELETE"}).catch((e) => { $("compare-status").textContent = e.message; });
}

// ---- start
// ---- bias audit
async function runAudit() {
  const params = new URLSearchParams({group: $("audit-group").value, k: $("audit-k").value,
                                      retriever: $("retriever").value, blind: blindOn()});
  if ($("model").value) params.set("model", $("model").value);
  $("audit-status").textContent = "auditing…"; $("audit-run").disabled = true;
  try {
    const a = await api(`/v1/audit?${params}`);
    const body = $("audit-table").tBodies[0]; body.replaceChildren();
    for (const r of a.rows) {
      const tr = document.createElement("tr");
      const ratio = !r.ratioed ? "not ratioed (under 2%)" : r.selection_ratio == null ? "n/a" :
        `${r.selection_ratio.toFixed(2)} [${r.selection_ratio_low.toFixed(2)}, ${r.selection_ratio_high.toFixed(2)}]`;
      for (const text of [r.group, r.profiles.toLocaleString(), r.selection.toFixed(4), ratio]) {
        const td = document.createElement("td"); td.textContent = text; tr.append(td);
      }
      if (r.selection_flag) tr.className = "flag";
      body.append(tr);
    }
    $("audit-table").hidden = false;
    $("audit-status").textContent = `${a.queries} queries, top ${a.k}, ${a.profiles.toLocaleString()} profiles`;
  } catch (e) { $("audit-status").textContent = ""; showError(e.message); }
  $("audit-run").disabled = false;
}

async function start() {
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  $("query").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); search(); } });
  $("colour-by").addEventListener("change", () => { state.hidden = {}; drawMap(); });
  $("map-legend").open = !window.matchMedia("(max-width: 800px)").matches;  // collapsed on a phone
  $("compare-start").addEventListener("click", startCompare);
  $("compare-cancel").addEventListener("click", cancelCompare);
  $("audit-run").addEventListener("click", runAudit);
  try {
    let o = state.options = await api("/v1/options");
    if (o.blind_toggle && o.blind_toggle.length) {
      addBlindBox(o.blind_toggle);
      if (blindOn()) o = await api("/v1/options?blind=true");  // a shared URL's name-blind search: its clusters
    }
    fill($("model"), o.models, o.default_model);
    fill($("retriever"), o.retrievers, o.default_retriever);
    fill($("reranker"), o.rerankers, "none", rerankerName);
    fill($("f-role"), o.roles); fill($("f-family"), o.families);
    showCorpus(o);
    $("example").addEventListener("click", () => { $("query").value = o.example; $("query").focus(); });
    for (const m of o.compare_models) {
      const label = document.createElement("label"); const box = document.createElement("input");
      box.type = "checkbox"; box.value = m; box.checked = m === o.default_model;
      label.append(box, document.createTextNode(` ${m}`)); $("compare-models").append(label);
    }
    $("compare-start").disabled = !o.can_compare;
    fill($("audit-group"), o.group_columns, o.group_columns[0]);
    $("audit-run").disabled = !o.group_columns.length;
    for (const [kind, exists] of Object.entries(o.reports)) {
      const link = $(`${kind}-link`);
      if (!exists) { link.removeAttribute("href"); link.textContent += " (none yet)"; link.setAttribute("aria-disabled", "true"); }
    }
    document.body.dataset.ready = "1";
    if (readUrl()) search();
  } catch (e) { showError(`cannot reach the server: ${e.message}`); }
  loadPlotly();
}

document.addEventListener("DOMContentLoaded", start);
