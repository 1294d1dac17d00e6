"""One query's journey: embed the corpus once (cached), embed the job description, search, describe hits.

`SearchPipeline` is what the CLI, the demo and later the comparison call; each stage is a public
object (Embedder, EmbeddingStore, ExactIndex) a Python user can also use alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from clusterank.cluster.kmeans import (DEFAULT_K, DEFAULT_SEED, ClusterModel, check_k, choose_k, corpus_key,
                                      fit_kmeans, parse_k)
from clusterank.data.loaders import Corpus
from clusterank.embed import DEFAULT_MODEL, Embedder, get_embedder
from clusterank.embed.store import EmbeddingStore, text_hash
from clusterank.errors import ClusterankError
from clusterank.index.exact import ExactIndex
from clusterank.index.routed import AUTO_MARGIN, RoutedIndex
from clusterank.workspace import Workspace

PREVIEW_WORDS = 10


def similarity_percent(cosine: float) -> float:
    """The seed's similarity scale: (cos + 1) / 2 as a percentage (cos 0.79 -> 89.5%)."""
    return (float(cosine) + 1.0) / 2.0 * 100.0


def preview(text: str, words: int = PREVIEW_WORDS) -> str:
    """The first `words` words of a text, whitespace collapsed."""
    return " ".join(text.split()[:words])


@dataclass(frozen=True)
class Hit:
    """One retrieved profile: its rank (1-based), row in the corpus, cosine and what to show."""

    rank: int
    row: int
    id: str
    cosine: float
    role: str | None
    preview: str
    cluster: int | None = None
    """The k-means cluster of the row, when the search was routed."""
    rerank_score: float | None = None
    """The reranker's score (its own scale), when the list was reranked."""
    text: str = field(default="", repr=False)
    """The whole profile text (what rerankers read)."""

    @property
    def percent(self) -> float:
        """Similarity on the seed's scale, (cos + 1) / 2 in percent."""
        return similarity_percent(self.cosine)

    def format(self) -> str:
        """The seed's line: `Text 3615 similarity: 89.59% - Preview: <first 10 words>...`, plus the role."""
        role = f"  [{self.role}]" if self.role else ""
        cluster = f" (cluster {self.cluster})" if self.cluster is not None else ""
        rerank = f" rerank score {self.rerank_score:.3f}" if self.rerank_score is not None else ""
        return f"Text {self.row} similarity: {self.percent:.2f}% - Preview: {self.preview}...{role}{cluster}{rerank}"


class SearchPipeline:
    """Semantic search over one corpus with one embedding model: exact, or routed through k-means clusters.

    Args:
        corpus: the profiles.
        model: a model id for `get_embedder`, or an Embedder.
        workspace: where vectors are cached (default `Workspace.default()`).
        progress: show progress bars while embedding.
    """

    def __init__(self, corpus: Corpus, model: str | Embedder = DEFAULT_MODEL, *,
                 workspace: Workspace | None = None, progress: bool = False):
        self.corpus = corpus
        self.workspace = workspace or Workspace.default()
        self.embedder = get_embedder(model, self.workspace) if isinstance(model, str) else model
        self.store = EmbeddingStore(self.workspace.store_path)
        self.progress = progress
        self.vectors = self.store.embed(self.embedder, corpus.texts, progress=progress,
                                        what="profiles")
        self.index = ExactIndex(self.vectors)
        self.corpus_key = corpus_key([text_hash(t) for t in corpus.texts])
        self.k_scores: dict[int, float] = {}
        self._routed: dict[tuple[int, int], RoutedIndex] = {}

    def clusters(self, n_clusters: int | str = DEFAULT_K, seed: int = DEFAULT_SEED) -> ClusterModel:
        """The k-means model of this corpus and embedding model, fitted once and kept in the workspace.

        Args:
            n_clusters: k, or "auto" to pick k by silhouette (the scores land in `self.k_scores`).
            seed: the k-means seed (the seed's `random_state=42` by default).
        """
        n_clusters = parse_k(n_clusters)
        if n_clusters == "auto":
            n_clusters, self.k_scores = choose_k(self.vectors, seed=seed)
        check_k(n_clusters, len(self.vectors))
        path = self.workspace.cluster_path(self.embedder.name, self.corpus_key, n_clusters, seed)
        if path.exists():
            return ClusterModel.load(path)
        model = fit_kmeans(self.vectors, n_clusters, seed=seed, corpus_key=self.corpus_key)
        model.save(path)
        return model

    def routed_index(self, n_clusters: int | str = DEFAULT_K, seed: int = DEFAULT_SEED) -> RoutedIndex:
        """The inverted-file index over `clusters(n_clusters, seed)` (built once per pipeline)."""
        model = self.clusters(n_clusters, seed)
        key = (model.k, seed)
        if key not in self._routed:
            self._routed[key] = RoutedIndex(self.vectors, model)
        return self._routed[key]

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors for job descriptions (cached like profiles)."""
        return self.store.embed(self.embedder, list(queries), what="queries")

    def search(self, query: str, k: int = 10, *, route: bool = False, nprobe: int | str = 1,
               n_clusters: int | str = DEFAULT_K, margin: float = AUTO_MARGIN, reranker=None,
               rerank_top: int = 20) -> list[Hit]:
        """The k profiles most similar to one job description, best first (see `search_many`)."""
        if not isinstance(query, str) or not query.strip():
            raise ClusterankError("the job description is empty")
        return self.search_many([query], k, route=route, nprobe=nprobe, n_clusters=n_clusters, margin=margin,
                                reranker=reranker, rerank_top=rerank_top)[0]

    def search_many(self, queries: Sequence[str], k: int = 10, *, route: bool = False, nprobe: int | str = 1,
                    n_clusters: int | str = DEFAULT_K, margin: float = AUTO_MARGIN, reranker=None,
                    rerank_top: int = 20) -> list[list[Hit]]:
        """The k most similar profiles for each job description (one batched search).

        Args:
            queries: job descriptions.
            k: hits per query.
            route: search only inside the query's nearest clusters (the seed's method).
            nprobe: clusters to search when routed: a number, or "auto" (every cluster whose centroid
                is within `margin` cosine of the best one).
            n_clusters: k of k-means when routed.
            margin: the cosine margin of `nprobe="auto"`.
            reranker: a `Reranker` for the last stage (None: retrieval order).
            rerank_top: how many retrieved hits the reranker reorders; the rest follow in retrieval order.
        """
        qv = self.embed_queries(queries)
        depth = max(k, rerank_top) if reranker is not None else k
        if not route:
            result = self.index.search(qv, depth)
            found = [self.hits(rows, scores) for rows, scores in zip(result.rows, result.scores)]
        else:
            index = self.routed_index(n_clusters)
            routed = index.search(qv, depth, nprobe, margin)
            found = [self.hits(rows, scores, index.clusters.labels) for rows, scores in zip(routed.rows, routed.scores)]
        if reranker is None:
            return found
        out = []
        for query, hits in zip(queries, found):
            head = reranker.rerank(query, hits[:rerank_top])
            tail = [replace(h, rank=len(head) + i) for i, h in enumerate(hits[rerank_top:], start=1)]
            out.append((head + tail)[:k])
        return out

    def hits(self, rows: np.ndarray, scores: np.ndarray, cluster_labels: np.ndarray | None = None) -> list[Hit]:
        """Turn row ids and cosines into `Hit`s carrying role, preview and (when given) cluster; -1 rows are dropped."""
        c = self.corpus
        found = [(int(r), float(s)) for r, s in zip(rows, scores) if r >= 0]
        return [Hit(rank, r, c.ids[r], s, c.label(r), preview(c.texts[r]),
                    int(cluster_labels[r]) if cluster_labels is not None else None, text=c.texts[r])
                for rank, (r, s) in enumerate(found, start=1)]
