"""Exact cosine search (spec `exact`): an L2-normalised matrix and batched top-k by dot product.

Numpy in, numpy out, like FAISS's `IndexFlatIP`; the rows are the corpus rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.index.base import Retriever, RetrieverType, SearchContext, TopK


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest entries of each row of `scores`, sorted descending.

    Ties inside the top k are ordered by lower column; a tie across the k-th place may keep either.

    Args:
        scores: (n_queries, n) similarity matrix.
        k: how many to keep; clipped to n.

    Returns:
        (rows, values), each (n_queries, k).
    """
    n = scores.shape[1]
    k = min(k, n)
    if k < n:  # partition for the largest k without negating a copy of the matrix
        part = np.argpartition(scores, n - k, axis=1)[:, n - k :]
    else:
        part = np.broadcast_to(np.arange(n), scores.shape).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    rows = np.take_along_axis(part, order, axis=1)
    return rows, np.take_along_axis(vals, order, axis=1)


def top_k_with_bonus(vectors: np.ndarray, query_vectors: np.ndarray, k: int,
                     bonus: Callable[[np.ndarray], np.ndarray], block: int = 256) -> TopK:
    """The k rows with the highest cosine + `bonus(queries)` (an (n_queries, n_rows) array) per query, in blocks of
    queries; the result's scores are the rows' own cosines (what a person is shown), the order is by the sum.

    Raises:
        ClusterankError: k < 1, or query vectors of the wrong size or not finite.
    """
    if k < 1:
        raise ClusterankError(f"k must be at least 1, got {k}")
    q = check_vectors(query_vectors, vectors.shape[1], what="query vectors")
    k = min(k, len(vectors))
    rows = np.empty((len(q), k), np.int64)
    cos = np.empty((len(q), k), np.float32)
    for s in range(0, len(q), block):
        part = q[s : s + block]
        own = part @ vectors.T
        r, _ = top_k(own + bonus(part), k)
        rows[s : s + len(part)] = r
        cos[s : s + len(part)] = np.take_along_axis(own, r, axis=1)
    return TopK(rows, cos)


def check_vectors(vectors: np.ndarray, dims: int | None = None, what: str = "vectors") -> np.ndarray:
    """Return `vectors` as a C-contiguous float32 2-D array, or raise naming the wrong size or bad row."""
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    if vecs.ndim == 1:
        vecs = vecs[None, :]
    if vecs.ndim != 2:
        raise ClusterankError(f"{what}: expected a 2-D array, got shape {vecs.shape}")
    if dims is not None and vecs.shape[1] != dims:
        raise ClusterankError(f"{what}: vectors have {vecs.shape[1]} dimensions, the index has {dims}")
    bad = ~np.isfinite(vecs).all(axis=1)
    if bad.any():
        raise ClusterankError(f"{what}: row {int(np.argmax(bad))} contains NaN or infinity")
    return vecs


class ExactIndex(Retriever):
    """Brute-force inner-product search over L2-normalised vectors (cosine = dot product); spec `exact`."""

    spec = "exact"

    def __init__(self, vectors: np.ndarray, *, batch_size: int = 512, check: bool = True):
        self.vectors = check_vectors(vectors, what="corpus vectors") if check else vectors
        if len(self.vectors) == 0:
            raise ClusterankError("corpus vectors: the index needs at least one vector")
        self.batch_size = batch_size

    @property
    def dims(self) -> int:
        """Vector size."""
        return int(self.vectors.shape[1])

    @property
    def memory_bytes(self) -> int:
        """Bytes of the float32 vectors it searches."""
        return int(self.vectors.nbytes)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, query_vecs: np.ndarray, k: int) -> TopK:
        """The k nearest rows of each query (queries must be L2-normalised for cosines).

        Args:
            query_vecs: (n_queries, dims) or (dims,) float32.
            k: results per query (clipped to the corpus size); must be >= 1.
        """
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        q = check_vectors(query_vecs, self.dims, what="query vectors")
        k = min(k, len(self.vectors))
        if len(q) == 1:  # one matrix-vector product, no batching overhead
            rows, vals = top_k((self.vectors @ q[0])[None, :], k)
            return TopK(rows, vals)
        rows = np.empty((len(q), k), dtype=np.int64)
        vals = np.empty((len(q), k), dtype=np.float32)
        if not len(q):  # no job descriptions: nothing to score
            return TopK(rows, vals)
        size = min(self.batch_size, -(-len(q) // _THREADS))  # at least one block per core

        def block(s: int) -> None:  # numpy drops the GIL in the product and the partition: blocks run in parallel
            rows[s : s + size], vals[s : s + size] = top_k(q[s : s + size] @ self.vectors.T, k)

        starts = range(0, len(q), size)
        if len(starts) == 1:
            block(0)
        else:
            list(_pool().map(block, starts))
        return TopK(rows, vals)


_THREADS = max(1, min(8, os.cpu_count() or 1))
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(_THREADS, thread_name_prefix="clusterank-exact")
    return _POOL


def _build(context: SearchContext) -> ExactIndex:
    return ExactIndex(context.vectors)


RETRIEVER = RetrieverType("exact", "every row scored by cosine; the reference the others are measured against",
                          _build, saveable=True, examples=("exact",), on_page=True)
