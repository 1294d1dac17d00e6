"""The interactive cluster map: one self-contained HTML file (plotly.js inside, works offline).

Every profile is a WebGL point coloured by cluster (or, from the selector, by role); hovering shows
its headline and first words; the job description is a large X. The data sits in the page once, as
JSON, and the traces are built in the browser, so 100k points stay light. `write_map_png` draws the
same map as a static image for reports.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.viz.mpl import prepare, pyplot

HOVER_WORDS = 25


@dataclass(frozen=True)
class MapData:
    """Everything the map shows: 2-D points with their cluster, role and hover text, and the queries."""

    xy: np.ndarray
    clusters: np.ndarray
    roles: list[str]
    hover: list[str]
    cluster_names: dict[int, str]
    title: str
    queries: list[tuple[float, float, str]]
    """(x, y, job description) of each query drawn as an X."""

    def to_json(self) -> dict:
        """The JSON object embedded in the page (also what tests parse)."""
        return {
            "title": self.title,
            "x": np.round(self.xy[:, 0].astype(float), 4).tolist(),
            "y": np.round(self.xy[:, 1].astype(float), 4).tolist(),
            "cluster": [int(c) for c in self.clusters],
            "role": self.roles,
            "hover": self.hover,
            "cluster_names": {str(k): v for k, v in self.cluster_names.items()},
            "queries": [{"x": round(float(x), 4), "y": round(float(y), 4), "text": t} for x, y, t in self.queries],
        }


def hover_text(headline: str, text: str, role: str | None, cluster: int, words: int = HOVER_WORDS) -> str:
    """Hover label of one profile: bold headline, its first words, role and cluster (HTML-escaped)."""
    first = " ".join(text.split()[:words])
    tail = f"{html.escape(role)} · cluster {cluster}" if role else f"cluster {cluster}"
    return f"<b>{html.escape(headline)}</b><br>{html.escape(first)}...<br><i>{tail}</i>"


def wrap(text: str, width: int = 80) -> str:
    """Break a long text into `<br>`-separated lines for a hover label (HTML-escaped)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(html.escape(x) for x in lines)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>body{font-family:system-ui,sans-serif;margin:0.5rem}#controls{margin:0.25rem 0 0.5rem}
#map{width:100%;height:88vh}</style>
<script>__PLOTLY__</script></head>
<body>
<div id="controls"><label>Colour by <select id="colour-by"><option value="cluster">cluster</option>
<option value="role">role</option></select></label> <span id="summary"></span></div>
<div id="map"></div>
<script id="map-data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById("map-data").textContent);
function traces(by) {
  const groups = new Map();
  for (let i = 0; i < D.x.length; i++) {
    const key = by === "cluster" ? D.cluster[i] : D.role[i];
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(i);
  }
  const keys = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out = keys.map(key => {
    const rows = groups.get(key);
    const name = by === "cluster" ? `cluster ${key}: ${D.cluster_names[key] || ""}` : key;
    return {type: "scattergl", mode: "markers", name: name, x: rows.map(i => D.x[i]), y: rows.map(i => D.y[i]),
            text: rows.map(i => D.hover[i]), hovertemplate: "%{text}<extra></extra>",
            marker: {size: 5, opacity: 0.75}};
  });
  D.queries.forEach((q, j) => out.push({type: "scatter", mode: "markers", name: D.queries.length > 1 ?
      `job description ${j + 1}` : "job description", x: [q.x], y: [q.y], text: [q.text],
      hovertemplate: "<b>Job description</b><br>%{text}<extra></extra>",
      marker: {symbol: "x", size: 22, color: "black", line: {width: 2, color: "white"}}}));
  return out;
}
const layout = {title: {text: D.title}, hovermode: "closest", legend: {itemsizing: "constant"},
                xaxis: {zeroline: false, title: {text: "component 1"}},
                yaxis: {zeroline: false, title: {text: "component 2"}}, margin: {t: 50}};
function draw() { Plotly.react("map", traces(document.getElementById("colour-by").value), layout,
                               {responsive: true, displaylogo: false}); }
document.getElementById("colour-by").addEventListener("change", draw);
document.getElementById("summary").textContent = `${D.x.length.toLocaleString()} profiles`;
draw();
</script></body></html>
"""


def render_map_html(data: MapData) -> str:
    """The page as a string: plotly.js, the data as JSON, and the script that draws it."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ClusterankError("the map needs plotly: pip install 'clusterank[viz]'") from None
    payload = json.dumps(data.to_json(), ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return (_PAGE.replace("__TITLE__", html.escape(data.title)).replace("__DATA__", payload)
            .replace("__PLOTLY__", get_plotlyjs()))


def write_map_html(data: MapData, path: str | Path) -> Path:
    """Write the self-contained interactive map to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_map_html(data), encoding="utf-8")
    return path


def write_map_png(data: MapData, path: str | Path, *, max_points: int = 200_000) -> Path:
    """Draw the same map as a static PNG (matplotlib), coloured by cluster, queries as large X marks."""
    plt = pyplot("PNG map")
    path = prepare(path)
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
    fig.savefig(path)
    plt.close(fig)
    return path


def build_map(pipeline, *, n_clusters: int | str = 10, seed: int = 42, queries: list[str] | None = None,
              method: str = "pca", sample: int = 50_000) -> MapData:
    """Project a pipeline's corpus (and job descriptions) to 2-D and label every point.

    Args:
        pipeline: a `SearchPipeline` (its vectors and corpus are used).
        n_clusters: k of k-means (or "auto"); the clusters are fitted once and cached.
        seed: k-means and projection seed.
        queries: job descriptions to draw as an X.
        method: "pca" (default, as in the seed) or "umap".
        sample: rows the projection is fitted on; the rest are transformed.
    """
    from clusterank.cluster.describe import describe_clusters
    from clusterank.cluster.project import fit_projection

    corpus = pipeline.corpus
    model = pipeline.clusters(n_clusters, seed)
    projection, xy = fit_projection(pipeline.vectors, method, sample=sample, seed=seed)
    if corpus.frame is not None and "Headline" in corpus.frame.columns:
        headlines = [str(h) for h in corpus.frame["Headline"]]
    else:
        headlines = [t.splitlines()[0] if t else "" for t in corpus.texts]
    labels = [corpus.label(i) for i in range(len(corpus))]
    hover = [hover_text(headlines[i], corpus.texts[i], labels[i], int(model.labels[i])) for i in range(len(corpus))]
    names = {s.cluster: s.label for s in describe_clusters(model, corpus)}
    drawn = []
    if queries:
        qxy = projection.transform(pipeline.embed_queries(queries))
        drawn = [(float(x), float(y), wrap(q)) for (x, y), q in zip(qxy, queries)]
    title = (f"{len(corpus):,} profiles, {pipeline.embedder.name}, k-means k={model.k}, "
             f"{projection.method.upper()} of {projection.sample_size:,} rows")
    return MapData(xy, model.labels, [lab or "" for lab in labels], hover, names, title, drawn)
