"""Second-stage rerankers that score each (job, profile) pair alone: a stronger embedding model
(`rescore:<model>`, the classic two-stage retrieval) or a sentence-transformers cross-encoder
(`cross-encoder:<folder-or-hub-id>`). No cross-encoder weights ship offline: bring your own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from clusterank.embed.base import query_embedder
from clusterank.errors import ClusterankError, require
from clusterank.index.hits import Hit
from clusterank.rerank.base import Reranker, RerankStats, reorder
from clusterank.workspace import Workspace


def _order(scores: np.ndarray) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))


def rerank_by_scores(stats: RerankStats, hits: Sequence[Hit], score) -> list[Hit]:
    """Sort `hits` by `score(texts) -> array` (higher first), timing it into `stats`."""
    hits = list(hits)
    if not hits:
        return hits
    t0 = time.perf_counter()
    scores = np.asarray(score([h.text or h.preview for h in hits]), dtype=float)
    stats.queries += 1
    stats.seconds += time.perf_counter() - t0
    return reorder(hits, _order(scores), scores)


class RescoreReranker(Reranker):
    """Re-embed the short list and the job description with another model and sort by its cosine.

    Vectors go through the workspace's store, so a profile is embedded once per model. It is as `remote` and as
    `paid` as that model (`rescore:api:...` sends the texts to the API).
    """

    score_range = (-1.0, 1.0)  # a cosine

    def __init__(self, model: str, workspace: Workspace | None = None):
        from clusterank.embed import get_embedder
        from clusterank.embed.store import EmbeddingStore

        super().__init__()
        self.workspace = workspace or Workspace.default()
        self.embedder = get_embedder(model, self.workspace)
        self.store = EmbeddingStore(self.workspace.store_path)
        self.name = f"rescore:{model}"
        self.remote, self.paid = bool(self.embedder.remote), bool(self.embedder.paid)

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits sorted by the second model's cosine to the query."""
        return rerank_by_scores(self.stats, hits, lambda texts: self._cosines(query, texts))

    def _cosines(self, query: str, texts: list[str]) -> np.ndarray:
        before = self.store.count(self.embedder.name)
        vecs = self.store.embed(self.embedder, texts, what="profiles")
        q = self.store.embed(query_embedder(self.embedder), [query], what="queries")[0]
        self.stats.calls += self.store.count(self.embedder.name) - before  # texts the model had to embed
        return vecs @ q


class CrossEncoderReranker(Reranker):
    """A sentence-transformers `CrossEncoder` reading (job description, profile) pairs, on this machine (a hub id is
    downloaded once when online; scoring never leaves the process)."""

    def __init__(self, name_or_path: str, batch_size: int = 16):
        from clusterank.embed.local import quiet_transformers

        super().__init__()
        CrossEncoder = require("sentence_transformers", "local", "a cross-encoder").CrossEncoder
        quiet_transformers()
        try:
            self.model = CrossEncoder(name_or_path, device="cpu")
        except (OSError, ValueError) as exc:
            raise ClusterankError(f"cannot load cross-encoder {name_or_path!r}: {str(exc).splitlines()[0]}") from None
        self.batch_size = batch_size
        self.name = f"cross-encoder:{name_or_path}"
        # CrossEncoder.predict applies the model's activation: a sigmoid (one label, the default) gives (0, 1)
        activation = getattr(self.model, "activation_fn", None)
        self.score_range = (0.0, 1.0) if type(activation).__name__ == "Sigmoid" else None

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits sorted by the cross-encoder's score."""
        return rerank_by_scores(self.stats, hits, lambda texts: self._scores(query, texts))

    def _scores(self, query: str, texts: list[str]) -> np.ndarray:
        scores = np.asarray(self.model.predict([(query, t) for t in texts], batch_size=self.batch_size,
                                               show_progress_bar=False), dtype=float)
        self.stats.calls += len(texts)
        return scores.reshape(len(texts), -1)[:, -1]
