"""One query's journey: embed the corpus once (cached), embed the job description, search, describe hits.

`SearchPipeline` is what the CLI, the demo and later the comparison call; each stage is a public
object (Embedder, EmbeddingStore, ExactIndex) a Python user can also use alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clusterank.data.loaders import Corpus
from clusterank.embed import DEFAULT_MODEL, Embedder, get_embedder
from clusterank.embed.store import EmbeddingStore
from clusterank.errors import ClusterankError
from clusterank.index.exact import ExactIndex
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

    @property
    def percent(self) -> float:
        """Similarity on the seed's scale, (cos + 1) / 2 in percent."""
        return similarity_percent(self.cosine)

    def format(self) -> str:
        """The seed's line: `Text 3615 similarity: 89.59% - Preview: <first 10 words>...`, plus the role."""
        role = f"  [{self.role}]" if self.role else ""
        return f"Text {self.row} similarity: {self.percent:.2f}% - Preview: {self.preview}...{role}"


class SearchPipeline:
    """Semantic search over one corpus with one embedding model (exact cosine search).

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

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors for job descriptions (cached like profiles)."""
        return self.store.embed(self.embedder, list(queries), what="queries")

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The k profiles most similar to one job description, best first."""
        if not isinstance(query, str) or not query.strip():
            raise ClusterankError("the job description is empty")
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """The k most similar profiles for each job description (one batched search)."""
        result = self.index.search(self.embed_queries(queries), k)
        return [self.hits(rows, scores) for rows, scores in zip(result.rows, result.scores)]

    def hits(self, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
        """Turn row ids and cosines into `Hit`s carrying role and preview."""
        c = self.corpus
        return [Hit(rank, int(r), c.ids[r], float(s), c.label(int(r)), preview(c.texts[r]))
                for rank, (r, s) in enumerate(zip(rows, scores), start=1)]
