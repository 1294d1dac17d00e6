"""`mean-of-models:<model>+<model>[+...]`: several embedding models as one, scoring by their mean cosine.

Each model's vector is L2-normalised and scaled by 1/sqrt(m), and the m parts are laid side by side; the cosine of
two such vectors is then exactly the mean of the m models' cosines, so every retriever, the map and the evaluator
use the ensemble unchanged. The smallest backend there is: `docs/backends.md` walks through it as the example of a
new backend (this file and one line in `EMBEDDERS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clusterank.embed.base import EmbedContext, Embedder, EmbedderBackend
from clusterank.errors import ClusterankError


class MeanOfModels(Embedder):
    """Vectors of several models side by side, each normalised and scaled by 1/sqrt(m) (see the module)."""

    def __init__(self, name: str, parts: Sequence[Embedder]):
        if len(parts) < 2:
            raise ClusterankError(f"model {name!r}: give at least two models joined by '+' "
                                  "(mean-of-models:minilm-static+paraphrase-MiniLM-L3-v2)")
        self.name, self.parts = name, list(parts)
        self.dims = sum(p.dims for p in self.parts)
        self.max_tokens = min(p.max_tokens for p in self.parts)
        self.remote = any(p.remote for p in self.parts)
        self.paid = any(p.paid for p in self.parts)
        self.asymmetric = any(p.asymmetric for p in self.parts)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Each model's normalised vectors / sqrt(m), concatenated: (len(texts), sum of the models' dims)."""
        blocks = []
        for part in self.parts:
            vectors = np.asarray(part.embed(texts, progress=progress), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            blocks.append(vectors / np.where(norms > 0, norms, 1.0))
        return self.join(blocks)

    def join(self, part_vectors: Sequence[np.ndarray]) -> np.ndarray:
        """The parts' normalised vectors / sqrt(m), side by side (what the store does with a composite)."""
        if not part_vectors or not len(part_vectors[0]):
            return np.zeros((0, self.dims), np.float32)
        return (np.hstack(part_vectors) / np.sqrt(len(self.parts))).astype(np.float32)

    def for_queries(self) -> Embedder:
        """The query side of every asymmetric part, under its own store key."""
        if not self.asymmetric:
            return self
        return MeanOfModels(self.name + "#query", [p.for_queries() for p in self.parts])

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """The first model's token counts (what its limit is measured in)."""
        return self.parts[0].count_tokens(texts)


def _build(argument: str, context: EmbedContext) -> MeanOfModels:
    names = [n.strip() for n in argument.split("+")]
    if any(not n for n in names) or any(n.startswith("mean-of-models:") for n in names):
        raise ClusterankError(f"model 'mean-of-models:{argument}': give models joined by '+', none empty or nested")
    return MeanOfModels(f"mean-of-models:{'+'.join(names)}",
                        [context.model(n) for n in names])


BACKEND = EmbedderBackend("mean-of-models:", "several models as one: the mean of their cosines", _build,
                          argument="<model>+<model>[+...]",
                          examples=("mean-of-models:minilm-static+paraphrase-MiniLM-L3-v2",))
