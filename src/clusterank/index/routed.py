"""Routed search: score the query against the k-means centroids, search only the nprobe nearest clusters.

This is an inverted-file index (FAISS `IndexIVFFlat`, inner product) built over our own clusters, so
its lists are exactly the clusters of `ClusterModel`. `nprobe="auto"` probes every cluster whose
centroid is within `margin` (cosine) of the best one, so a query near a border keeps its answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clusterank.cluster.kmeans import ClusterModel, _faiss
from clusterank.errors import ClusterankError
from clusterank.index.exact import check_vectors

AUTO = "auto"
AUTO_MARGIN = 0.05
"""Default cosine margin for `nprobe="auto"`: probe clusters whose centroid is this close to the best."""


@dataclass(frozen=True)
class RoutedTopK:
    """Routed results, (n_queries, k): rows (-1 where the probed clusters hold fewer than k rows),
    cosines (-inf there), the cluster of each hit, and for `nprobe="auto"` the clusters each query
    probed, best first (None for a fixed nprobe: `RoutedIndex.route` gives them)."""

    rows: np.ndarray
    scores: np.ndarray
    clusters: np.ndarray
    probed: list[np.ndarray] | None


def parse_nprobe(value: str | int) -> int | str:
    """`"auto"` or a positive int, from CLI text or a number; anything else is a clear error."""
    if isinstance(value, str):
        if value.strip().lower() == AUTO:
            return AUTO
        try:
            value = int(value)
        except ValueError:
            raise ClusterankError(f"--nprobe must be a positive number or 'auto', got {value!r}") from None
    if value < 1:
        raise ClusterankError(f"--nprobe must be at least 1, got {value}")
    return value


class RoutedIndex:
    """Search inside the query's nearest clusters only.

    Args:
        vectors: (n, dims) L2-normalised corpus vectors, rows in corpus order.
        clusters: the k-means model fitted on those rows.
    """

    def __init__(self, vectors: np.ndarray, clusters: ClusterModel):
        faiss = _faiss()
        from faiss.contrib.ivf_tools import add_preassigned

        x = check_vectors(vectors, what="corpus vectors")
        if len(x) != len(clusters.labels):
            raise ClusterankError(f"the cluster model covers {len(clusters.labels)} rows but the corpus has {len(x)}; "
                                  "fit the clusters again on this corpus")
        self.clusters = clusters
        self.dims = x.shape[1]
        if clusters.centroids.shape[1] != self.dims:
            raise ClusterankError(f"centroids have {clusters.centroids.shape[1]} dimensions, vectors have {self.dims}")
        self._quantizer = faiss.IndexFlatIP(self.dims)
        self._quantizer.add(np.ascontiguousarray(clusters.centroids, dtype=np.float32))
        self.ivf = faiss.IndexIVFFlat(self._quantizer, self.dims, clusters.k, faiss.METRIC_INNER_PRODUCT)
        self._nprobe = self.ivf.nprobe  # FAISS attribute writes cost microseconds: set only on change
        # add_preassigned keeps only raw pointers to these arrays: they must stay referenced during the call
        lists = np.ascontiguousarray(clusters.labels, dtype=np.int64)
        row_ids = np.arange(len(x), dtype=np.int64)
        add_preassigned(self.ivf, x, lists, row_ids)

    def route(self, query_vecs: np.ndarray, nprobe: int | str = 1,
              margin: float = AUTO_MARGIN) -> tuple[np.ndarray, np.ndarray]:
        """The clusters each query probes, best first, and their centroid cosines; -1 pads unused slots.

        Args:
            query_vecs: (n_queries, dims) normalised.
            nprobe: clusters per query, or "auto" (all within `margin` of the best centroid's cosine).
            margin: the cosine margin for "auto".
        """
        return self._route(check_vectors(query_vecs, self.dims, what="query vectors"), parse_nprobe(nprobe), margin)

    def _route(self, q: np.ndarray, nprobe: int | str, margin: float) -> tuple[np.ndarray, np.ndarray]:
        width = self.clusters.k if nprobe == AUTO else min(int(nprobe), self.clusters.k)
        dist, order = self._quantizer.search(q, width)
        if nprobe == AUTO:
            keep = dist >= dist[:, :1] - margin
            used = int(keep.sum(axis=1).max())
            order = np.where(keep, order, -1)[:, :used]
            dist = np.ascontiguousarray(dist[:, :used])
        return np.ascontiguousarray(order), dist

    def _set_nprobe(self, nprobe: int) -> None:
        if nprobe != self._nprobe:
            self.ivf.nprobe = self._nprobe = nprobe

    def search(self, query_vecs: np.ndarray, k: int, nprobe: int | str = 1,
               margin: float = AUTO_MARGIN) -> RoutedTopK:
        """The k best rows of each query inside its probed clusters (see `route`)."""
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        q = check_vectors(query_vecs, self.dims, what="query vectors")
        nprobe = parse_nprobe(nprobe)
        if nprobe == AUTO:
            probe, dist = self._route(q, nprobe, margin)
            self._set_nprobe(probe.shape[1])
            scores, rows = self.ivf.search_preassigned(q, k, probe, dist)
            probed = [p[p >= 0] for p in probe]
        else:  # FAISS routes by itself: the fast path for a fixed nprobe
            self._set_nprobe(min(nprobe, len(self.clusters.centroids)))
            scores, rows = self.ivf.search(q, k)
            probed = None
        if rows.min() >= 0:  # the common case: every query found k rows
            return RoutedTopK(rows, scores, self.clusters.labels[rows], probed)
        found = rows >= 0
        hit_clusters = np.where(found, self.clusters.labels[np.where(found, rows, 0)], -1)
        return RoutedTopK(rows, np.where(found, scores, -np.inf).astype(np.float32), hit_clusters, probed)
