"""Vectors that already sit in a dataset column (`embeddings_<model>`), served as an Embedder.

Such a model can only "embed" texts that carry a vector in the data it came from; asking for any
other text is an error that says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clusterank.embed.base import Embedder, EmbedderBackend
from clusterank.errors import ClusterankError


class PrecomputedEmbedder(Embedder):
    """Looks texts up in precomputed vectors; `name` is `precomputed:<model>`."""

    computes = False

    def __init__(self, model: str, texts: Sequence[str], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ClusterankError(f"precomputed {model!r}: {len(texts)} texts but vectors of shape {vectors.shape}")
        self.name = f"precomputed:{model}"
        self.dims = int(vectors.shape[1])
        self.max_tokens = 10**9
        self._rows = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors

    @classmethod
    def from_tables(cls, model: str, *tables) -> "PrecomputedEmbedder":
        """Join the precomputed `model` vectors of several corpora (profiles and queries) into one lookup."""
        texts: list[str] = []
        parts: list[np.ndarray] = []
        for table in tables:
            if model in table.precomputed:
                texts.extend(table.texts)
                parts.append(table.precomputed[model])
        if not parts:
            raise ClusterankError(f"no column 'embeddings_{model}' in {', '.join(t.source for t in tables)}")
        dims = {p.shape[1] for p in parts}
        if len(dims) > 1:
            raise ClusterankError(f"precomputed {model!r}: vector sizes differ between tables ({sorted(dims)})")
        return cls(model, texts, np.vstack(parts))

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """The stored vectors of `texts`, in order."""
        rows = []
        for i, t in enumerate(texts):
            row = self._rows.get(t)
            if row is None:
                raise ClusterankError(f"{self.name} has no vector for text {i} ({' '.join(t.split()[:8])!r}...); "
                                      "precomputed models only know texts that carry a vector in the dataset")
            rows.append(row)
        return self._vectors[rows] if rows else np.zeros((0, self.dims), np.float32)


def _from_tables(model: str, context) -> PrecomputedEmbedder:
    tables = context.tables
    if not tables:
        raise ClusterankError(f"precomputed:{model} reads vectors from the corpus; build it with the corpus "
                              "(SearchPipeline(corpus, 'precomputed:...') or get_embedder(..., tables=(corpus,)))")
    return PrecomputedEmbedder.from_tables(model, *tables)


PRECOMPUTED = EmbedderBackend("precomputed:", "vectors already in the corpus' embeddings_<model> column (and the "
                              "queries')", _from_tables, argument="<model>", catalog_argument=True)
