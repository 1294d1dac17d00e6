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
HOVER_WIDTH = 48
"""Characters per line of a hover label: wrapped this narrow, a label fits beside its point inside the plot."""


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
    families: list[str] | None = None
    """The family of each point's role, where the corpus has one (colour-by-role groups the legend by it)."""

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
            "family": self.families,
        }


def hover_text(headline: str, text: str, role: str | None, cluster: int, words: int = HOVER_WORDS,
               cluster_name: str = "") -> str:
    """Hover label of one profile: bold headline, its first words, role and cluster with its name (HTML-escaped),
    wrapped at `HOVER_WIDTH` characters so that the label stays narrow."""
    first = " ".join(text.split()[:words])
    named = f"cluster {cluster}: {cluster_name}" if cluster_name else f"cluster {cluster}"
    tail = f"{role} · {named}" if role else named
    bold = "<br>".join(f"<b>{line}</b>" for line in wrap(headline, HOVER_WIDTH).split("<br>"))
    italic = "<br>".join(f"<i>{line}</i>" for line in wrap(tail, HOVER_WIDTH).split("<br>"))
    return f"{bold}<br>{wrap(first + '...', HOVER_WIDTH)}<br>{italic}"


def wrap(text: str, width: int = HOVER_WIDTH) -> str:
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
              queries: list[str] | None = None, method: str = "pca", sample: int = 50_000,
              fitted: tuple | None = None) -> MapData:
    """Project a pipeline's corpus (and job descriptions) to 2-D and label every point.

    Args:
        pipeline: a `SearchPipeline` (its vectors and corpus are used).
        n_clusters: k of k-means (or "auto"); default: the pipeline's (`--clusters`). Fitted once and cached.
        seed: k-means and projection seed; default: the pipeline's.
        queries: job descriptions to draw as an X.
        method: "pca" (default, as in the seed) or "umap".
        sample: rows the projection is fitted on; the rest are transformed.
        fitted: (projection, coordinates of every row) from an earlier `fit_projection` of these vectors, reused
            instead of fitting again (a server places queries before it draws the map).
    """
    from clusterank.cluster.describe import describe_clusters
    from clusterank.cluster.project import fit_projection

    corpus = pipeline.corpus
    seed = pipeline.seed if seed is None else seed
    model = pipeline.clusters(n_clusters, seed)
    projection, xy = fitted or fit_projection(pipeline.vectors, method, sample=sample, seed=seed)
    if corpus.frame is not None and "Headline" in corpus.frame.columns:
        headlines = [str(h) for h in corpus.frame["Headline"]]
    else:
        headlines = [t.splitlines()[0] if t else "" for t in corpus.texts]
    labels = [corpus.label(i) for i in range(len(corpus))]
    names = {s.cluster: s.label for s in describe_clusters(model, corpus)}
    hover = [hover_text(headlines[i], corpus.texts[i], labels[i], int(model.labels[i]),
                        cluster_name=names.get(int(model.labels[i]), "")) for i in range(len(corpus))]
    drawn = []
    if queries:
        qxy = projection.transform(pipeline.embed_queries(queries))
        drawn = [(float(x), float(y), wrap(q)) for (x, y), q in zip(qxy, queries)]
    title = (f"{len(corpus):,} profiles, {pipeline.embedder.name}, k-means k={model.k}, "
             f"{projection.method.upper()} of {projection.sample_size:,} rows")
    families = [f or "" for f in corpus.families] if corpus.families else None
    return MapData(xy, model.labels, [lab or "" for lab in labels], hover, names, title, drawn, projection, families)
