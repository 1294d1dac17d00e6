"""Fusing several models' rankings into one (`fusion:` models, see `embed/fusion.py`).

Each part (one model's retriever of the same kind: exact, routed, role ...) searches its own slice of the joined
query vector `depth` deep; the lists are fused by reciprocal rank (sum of w / (rrf_k + rank)) or by the sum of
min-max normalised scores, weighted. A hit's reported score is its cosine in the joined space (the mean of the
models' cosines), so scores stay comparable with any other model's; the order is the fused one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from clusterank.embed.fusion import FusionRule
from clusterank.errors import ClusterankError
from clusterank.index.base import Retriever, TopK


def fuse(lists: Sequence[TopK], weights: Sequence[float], method: str, rrf_k: int,
         n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Fused scores from each part's ranked list: (n_queries, n_rows) scores (0 for rows no part returned) and
    which rows a part with a positive weight returned. `rrf` adds w / (rrf_k + rank); `sum` adds w x the part's
    score min-max normalised over its list (1 where all its scores are equal)."""
    n_queries = len(lists[0].rows)
    total = np.zeros((n_queries, n_rows), np.float64)
    seen = np.zeros((n_queries, n_rows), bool)
    for found, w in zip(lists, weights):
        if w <= 0:
            continue
        valid = found.rows >= 0
        if method == "rrf":
            rank = np.arange(1, found.rows.shape[1] + 1, dtype=np.float64)
            gain = np.broadcast_to(1.0 / (rrf_k + rank), found.rows.shape)
        else:
            scores = found.scores.astype(np.float64)
            low = np.where(valid, scores, np.inf).min(axis=1, keepdims=True)
            high = np.where(valid, scores, -np.inf).max(axis=1, keepdims=True)
            spread = np.where(high > low, high - low, 1.0)
            gain = np.where(high > low, (scores - np.where(valid, low, 0.0)) / spread, 1.0)
        q, r = np.nonzero(valid)
        np.add.at(total, (q, found.rows[q, r]), w * gain[q, r])
        seen[q, found.rows[q, r]] = True
    return total, seen


class FusedRetriever(Retriever):
    """One retriever per part over the part's own vectors, their rankings fused (see the module).

    Args:
        parts: each part's retriever of the same spec.
        dims: each part's vector size (how the joined query vector is cut).
        rule: method, weights (None: equal), depth, rrf_k.
        vectors: the joined corpus vectors (for the reported cosines).
        spec: the part retrievers' spec.
    """

    def __init__(self, parts: Sequence[Retriever], dims: Sequence[int], rule: FusionRule, vectors: np.ndarray,
                 spec: str):
        if len(parts) != len(dims) or sum(dims) != vectors.shape[1]:
            raise ClusterankError(f"fusion: {len(parts)} models of {list(dims)} dimensions do not make the joined "
                                  f"vectors' {vectors.shape[1]}; the models' corpora differ")
        self.parts, self.dims, self.rule, self.vectors, self.spec = list(parts), list(dims), rule, vectors, spec
        self.weights = rule.resolved(len(parts))
        self._lists: dict = {}  # the last batch's part lists, shared with `with_weights` twins

    def with_weights(self, weights: Sequence[float]) -> FusedRetriever:
        """The same parts fused with other weights (what cross-validation tries)."""
        twin = FusedRetriever.__new__(FusedRetriever)
        twin.__dict__.update(self.__dict__)
        twin.weights = tuple(weights)
        return twin

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k best rows by the fused score; scores are the joined-space cosines."""
        n = len(self.vectors)
        depth = min(n, max(k, self.rule.depth))
        key = (hashlib.blake2b(np.ascontiguousarray(query_vectors).tobytes(), digest_size=16).digest(), depth)
        lists = self._lists.get(key)
        if lists is None:  # each part searches once per batch, whatever weights its twins fuse with
            bounds = np.cumsum([0, *self.dims])
            lists = []
            for part, lo, hi in zip(self.parts, bounds[:-1], bounds[1:]):
                piece = query_vectors[:, lo:hi]
                norms = np.linalg.norm(piece, axis=1, keepdims=True)
                lists.append(part.search(piece / np.where(norms > 0, norms, 1.0), depth))
            self._lists.clear()
            self._lists[key] = lists
        fused, seen = fuse(lists, self.weights, self.rule.method, self.rule.rrf_k, n)
        width = min(k, n)
        fused = np.where(seen, fused, -np.inf)
        top = np.argpartition(-fused, width - 1, axis=1)[:, :width] if width < n else np.tile(np.arange(n), (len(fused), 1))
        order = np.argsort(-np.take_along_axis(fused, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        rows = np.where(np.take_along_axis(seen, top, axis=1), top, -1).astype(np.int64)
        cosines = np.einsum("qd,qkd->qk", query_vectors, self.vectors[np.maximum(rows, 0)])
        return TopK(rows, np.where(rows >= 0, cosines, -np.inf).astype(np.float32))

    def bonus_of(self, query_vectors: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Zeros: the order is the fused ranks, not a cosine plus a bonus, so nothing is added to the reported
        cosines (a part's own bonus only moved it within that part's list)."""
        return super().bonus_of(query_vectors, rows)

    @property
    def memory_bytes(self) -> int | None:
        """The parts' indexes together (None when any part searches through another's vectors)."""
        sizes = [p.memory_bytes for p in self.parts]
        return None if any(s is None for s in sizes) else int(sum(sizes))
