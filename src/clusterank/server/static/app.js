// clusterank's web page: search, the cluster map, and comparisons, over the server's own HTTP API.
// Plain JavaScript with no dependencies; plotly.js (for the map) is loaded after the first paint.
"use strict";
const $ = (id) => document.getElementById(id);
const state = {options: null, map: null, mapRows: null, lastHits: [], lastXY: null, job: null};

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
  history.replaceState(null, "", `${location.pathname}?${params}`);
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
          rerank_top: Number($("rerank-top").value), filters: Object.keys(filters).length ? filters : null};
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
    render(result, roundTrip);
  } catch (e) {
    showError(e.message);
    $("results").replaceChildren(); $("timings").textContent = "";
  } finally {
    $("search").disabled = false;
    $("status").textContent = "";
  }
}

function tag(text) { const s = document.createElement("span"); s.className = "tag"; s.textContent = text; return s; }

function render(result, roundTrip) {
  const list = $("results");
  list.replaceChildren();
  for (const h of result.hits) {
    const li = document.createElement("li");
    li.dataset.row = h.row;
    const head = document.createElement("div"); head.className = "hit-head";
    const rank = document.createElement("span"); rank.className = "rank"; rank.textContent = `${h.rank}.`;
    const pct = document.createElement("span"); pct.className = "pct"; pct.textContent = `${h.similarity_percent.toFixed(1)}%`;
    pct.title = "similarity on the seed's scale, (cosine + 1) / 2";
    const name = document.createElement("span"); name.className = "name"; name.textContent = h.name;
    head.append(rank, pct, name);
    if (h.role) { const r = tag(h.role); r.classList.add("role"); head.append(r); }
    head.append(tag(`cluster ${h.cluster}`));
    if (h.rerank_score !== null && h.rerank_score !== undefined) head.append(tag(`rerank ${h.rerank_score.toFixed(3)}`));
    const headline = document.createElement("div"); headline.className = "headline"; headline.textContent = h.headline;
    const more = document.createElement("details");
    const summary = document.createElement("summary"); summary.textContent = "Whole profile";
    const body = document.createElement("pre"); body.textContent = h.preview + "…";
    more.append(summary, body);
    more.addEventListener("toggle", async () => {
      if (!more.open || more.dataset.loaded) return;
      try { const p = await api(`/v1/profiles/${h.row}?model=${encodeURIComponent(result.model)}`);
            body.textContent = p.text; more.dataset.loaded = "1"; } catch (e) { body.textContent = e.message; }
    });
    li.append(head, headline, more);
    list.append(li);
  }
  $("empty").hidden = result.hits.length > 0;
  const t = result.timings_ms;
  $("timings").textContent = `${result.hits.length} profiles · embed ${t.embed_ms.toFixed(1)} ms · retrieve ` +
    `${t.retrieve_ms.toFixed(1)} ms · rerank ${t.rerank_ms.toFixed(1)} ms · round trip ${roundTrip.toFixed(0)} ms` +
    ` · ${result.model}, ${result.retriever}`;
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
    state.map = await api(`/v1/map?model=${encodeURIComponent($("model").value)}`);
    $("map-status").textContent = state.map.title;
    drawMap();
  } catch (e) { $("map-status").textContent = `map unavailable: ${e.message}`; }
}

function pageTraces(D, by) {
  const traces = mapTraces(D, by);  // the map's own traces (/static/map.js, shared with `clusterank map`)
  traces.forEach((t) => { if (t.rows) t.customdata = t.rows; });  // clicking a point opens its row
  if (state.lastHits.length) {
    const rows = state.lastHits.map((h) => h.row);
    traces.push({type: "scattergl", mode: "markers", name: "results", x: rows.map((i) => D.x[i]),
                 y: rows.map((i) => D.y[i]), customdata: rows, text: rows.map((i) => D.hover[i]),
                 hovertemplate: "<b>result</b><br>%{text}<extra></extra>",
                 marker: {size: 12, color: "rgba(0,0,0,0)", line: {width: 2.5, color: "#d62728"}}});
  }
  if (state.lastXY) {
    traces.push({type: "scatter", mode: "markers", name: "job description", x: [state.lastXY[0]], y: [state.lastXY[1]],
                 text: [$("query").value.slice(0, 200)], hovertemplate: "<b>Job description</b><br>%{text}<extra></extra>",
                 marker: {symbol: "x", size: 22, color: "black", line: {width: 2, color: "white"}}});
  }
  return traces;
}

function drawMap() {
  if (!state.map || !window.Plotly) return;
  const layout = {hovermode: "closest", margin: {t: 10, l: 30, r: 10, b: 30}, legend: {itemsizing: "constant", font: {size: 10}},
                  xaxis: {zeroline: false}, yaxis: {zeroline: false}, uirevision: "keep"};
  Plotly.react("map", pageTraces(state.map, $("colour-by").value), layout, {responsive: true, displaylogo: false})
    .then(() => { if (!state.clickBound) { $("map").on("plotly_click", (ev) => openProfile(ev.points[0])); state.clickBound = true; } });
}

async function openProfile(point) {
  if (!point || point.customdata === undefined) return;
  const card = $("profile");
  try {
    const p = await api(`/v1/profiles/${point.customdata}?model=${encodeURIComponent($("model").value)}`);
    card.replaceChildren();
    const h = document.createElement("h3"); h.textContent = `${p.name} — ${p.role || "no role"} · cluster ${p.cluster}`;
    const pre = document.createElement("pre"); pre.textContent = p.text;
    card.append(h, pre); card.hidden = false; card.focus();
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
    $("compare-status").textContent = job.state === "failed" ? `failed: ${job.error}` : job.message;
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
async function start() {
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  $("query").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); search(); } });
  $("colour-by").addEventListener("change", drawMap);
  $("compare-start").addEventListener("click", startCompare);
  $("compare-cancel").addEventListener("click", cancelCompare);
  try {
    const o = state.options = await api("/v1/options");
    $("corpus-line").textContent = `${o.profiles.toLocaleString()} profiles · ${o.corpus}`;
    fill($("model"), o.models, o.default_model);
    fill($("retriever"), o.retrievers, o.default_retriever);
    fill($("reranker"), o.rerankers, "none");
    fill($("f-role"), o.roles); fill($("f-family"), o.families);
    fill($("f-cluster"), o.clusters, undefined, (c) => `cluster ${c}`);
    $("example").addEventListener("click", () => { $("query").value = o.example; $("query").focus(); });
    for (const m of o.compare_models) {
      const label = document.createElement("label"); const box = document.createElement("input");
      box.type = "checkbox"; box.value = m; box.checked = m === o.default_model;
      label.append(box, document.createTextNode(` ${m}`)); $("compare-models").append(label);
    }
    $("compare-start").disabled = !o.can_compare;
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
