"""The cluster map's data: every profile as a 2-D point with its cluster, role and hover text, and the queries.

`build_map` projects a pipeline's vectors (PCA or UMAP) and labels each point; `clusterank.viz.map` draws
the result, as the interactive page and as a PNG.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from clusterank.pipeline import SearchPipeline

HOVER_WORDS = 25
"""Words of each profile shown in its hover label."""


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
    projection: object = None
    """The fitted projection (`transform(vectors) -> xy`), to place later queries on the same map."""

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


def build_map(pipeline: SearchPipeline, *, n_clusters: int | str | None = None, seed: int | None = None,
              queries: list[str] | None = None, method: str = "pca", sample: int = 50_000) -> MapData:
    """Project a pipeline's corpus (and job descriptions) to 2-D and label every point.

    Args:
        pipeline: a `SearchPipeline` (its vectors and corpus are used).
        n_clusters: k of k-means (or "auto"); default: the pipeline's (`--clusters`). Fitted once and cached.
        seed: k-means and projection seed; default: the pipeline's.
        queries: job descriptions to draw as an X.
        method: "pca" (default, as in the seed) or "umap".
        sample: rows the projection is fitted on; the rest are transformed.
    """
    from clusterank.cluster.describe import describe_clusters
    from clusterank.cluster.project import fit_projection

    corpus = pipeline.corpus
    seed = pipeline.seed if seed is None else seed
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
    return MapData(xy, model.labels, [lab or "" for lab in labels], hover, names, title, drawn, projection)
