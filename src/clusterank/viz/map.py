"""The interactive cluster map drawn from `clusterank.cluster.map.MapData`: one self-contained HTML file.

Every profile is a WebGL point coloured by cluster (or, from the selector, by role); hovering shows
its headline and first words; the job description is a large X. The data sits in the page once, as
JSON, and the traces are built in the browser, so 100k points stay light. `write_map_png` draws the
same map as a static image for reports.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from clusterank.cluster.map import MapData
from clusterank.viz.mpl import pyplot, save_figure
from clusterank.viz.page import PAGE_STYLE, json_script, on_load, render_page, write_page

MAP_SCRIPT = """
const RESULT_COLOUR = "#d62728";
const MAP_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
  "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"];
function mapColours(n) {
  // n different colours, none of them red (red marks search results): plotly's 20 without its two reds,
  // then hues around the wheel (golden angle, red left out) in three lightnesses
  const out = MAP_PALETTE.slice(0, n);
  for (let i = out.length; i < n; i++) {
    out.push(`hsl(${(25 + (i * 137.508) % 310).toFixed(1)},70%,${[38, 55, 70][i % 3]}%)`);
  }
  return out;
}
function wrapText(text, width) {
  const lines = [];
  let line = "";
  for (const word of String(text).split(/\\s+/).filter(Boolean)) {
    if (line && line.length + word.length + 1 > width) { lines.push(line); line = word; }
    else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.map(l => l.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")).join("<br>");
}
function clusterLabel(D, c) {
  const name = D.cluster_names[c];
  return name ? `cluster ${c}: ${name}` : `cluster ${c}`;
}
function mapTraces(D, by) {
  const groups = new Map();
  for (let i = 0; i < D.x.length; i++) {
    const key = by === "cluster" ? D.cluster[i] : D.role[i];
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(i);
  }
  const family = (key) => (by === "role" && D.family ? D.family[groups.get(key)[0]] || "" : "");
  const order = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const keys = [...groups.keys()].sort((a, b) => order(family(a), family(b)) || order(a, b));
  const colours = mapColours(keys.length);
  const titled = new Set();
  const out = keys.map((key, n) => {
    const rows = groups.get(key);
    const name = by === "cluster" ? clusterLabel(D, key) : key || "(no role)";
    const trace = {type: "scattergl", mode: "markers", name: name, x: rows.map(i => D.x[i]), y: rows.map(i => D.y[i]),
            rows: rows, text: rows.map(i => D.hover[i]), hovertemplate: "%{text}<extra></extra>",
            marker: {size: 5, opacity: 0.75, color: colours[n]}};
    const fam = family(key);
    if (fam) {  // roles are grouped by family in the legend, each family titled once
      trace.legendgroup = fam;
      if (!titled.has(fam)) { trace.legendgrouptitle = {text: fam}; titled.add(fam); }
    }
    return trace;
  });
  D.queries.forEach((q, j) => out.push({type: "scatter", mode: "markers", name: D.queries.length > 1 ?
      `job description ${j + 1}` : "job description", x: [q.x], y: [q.y], text: [q.text],
      hovertemplate: "<b>Job description</b><br>%{text}<extra></extra>",
      marker: {symbol: "x", size: 22, color: "black", line: {width: 2, color: "white"}}}));
  return out;
}
const MAP_HOVERLABEL = {align: "left", font: {size: 11}, namelength: -1};
function mapLayout(D) {
  return {title: {text: D.title}, hovermode: "closest", legend: {itemsizing: "constant", groupclick: "toggleitem"},
          hoverlabel: MAP_HOVERLABEL, xaxis: {zeroline: false, title: {text: "component 1"}},
          yaxis: {zeroline: false, title: {text: "component 2"}}, margin: {t: 50}};
}
function followColourBy(div, D, select) {
  document.getElementById(select).addEventListener("change", e =>
    Plotly.react(div, mapTraces(D, e.target.value), mapLayout(D), PLOT_CONFIG));
}
"""
"""The cluster map's JavaScript, defined once per page: traces built in the browser from the map's JSON."""
MAP_STYLE = ".map-controls{margin:0.25rem 0 0.5rem}.map{width:100%;height:88vh}"
"""The map's CSS (a page may override the height)."""


def map_html(data: MapData, div_id: str = "map", suffix: str = "") -> str:
    """One interactive map on a page: the colour-by selector, the div, the data as JSON and the call that draws it.

    The page must define `MAP_SCRIPT` (`render_page(..., script=MAP_SCRIPT)`).

    Args:
        data: what the map shows.
        div_id: the id of the map's div.
        suffix: appended to the ids of the data (`map-data`), the selector (`colour-by`) and the point count
            (`summary`), so that several maps fit on one page.
    """
    ids = {k: f"{k}{suffix}" for k in ("map-data", "colour-by", "summary")}
    js = {k: json.dumps(v) for k, v in {**ids, "div": div_id}.items()}
    draw = (f'const D = JSON.parse(document.getElementById({js["map-data"]}).textContent);\n'
            f'document.getElementById({js["summary"]}).textContent = `${{D.x.length.toLocaleString()}} profiles`;\n'
            f'Plotly.newPlot({js["div"]}, mapTraces(D, document.getElementById({js["colour-by"]}).value), '
            f'mapLayout(D), PLOT_CONFIG);\nfollowColourBy({js["div"]}, D, {js["colour-by"]});')
    return (f'<div class="map-controls"><label>Colour by <select id="{html.escape(ids["colour-by"])}">'
            '<option value="cluster">cluster</option>\n<option value="role">role</option></select></label> '
            f'<span id="{html.escape(ids["summary"])}"></span></div>\n'
            f'<div id="{html.escape(div_id)}" class="map"></div>\n{json_script(ids["map-data"], data.to_json())}\n'
            f'<script>{on_load(draw)}</script>')


def render_map_html(data: MapData) -> str:
    """The page as a string: plotly.js, the data as JSON, and the script that draws it."""
    return render_page(data.title, map_html(data), style=f"{PAGE_STYLE}{MAP_STYLE}body{{margin:0.5rem}}",
                       script=MAP_SCRIPT, what="the map")


def write_map_html(data: MapData, path: str | Path) -> Path:
    """Write the self-contained interactive map to `path` (atomically, folders created) and return the path."""
    return write_page(render_map_html(data), path)


def write_map_png(data: MapData, path: str | Path, *, max_points: int = 200_000) -> Path:
    """Draw the same map as a static PNG (matplotlib), coloured by cluster, queries as large X marks."""
    plt = pyplot("PNG map")
    rows = np.arange(len(data.xy))
    if len(rows) > max_points:  # a fixed sample keeps the image readable and quick
        rows = np.sort(np.random.default_rng(0).choice(rows, max_points, replace=False))
    fig, ax = plt.subplots(figsize=(11, 8), dpi=110)
    cmap = plt.get_cmap("tab20")
    for c in sorted(set(int(x) for x in data.clusters)):
        sel = rows[data.clusters[rows] == c]
        ax.scatter(data.xy[sel, 0], data.xy[sel, 1], s=4, alpha=0.6, color=cmap(c % 20),
                   label=f"{c}: {data.cluster_names.get(c, '')}"[:48])
    for x, y, _ in data.queries:
        ax.scatter([x], [y], marker="x", s=260, linewidths=3.5, color="black", zorder=5)
    if data.queries:
        ax.scatter([], [], marker="x", s=12, color="black", label="job description")
    ax.set_title(data.title)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, markerscale=3, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)
