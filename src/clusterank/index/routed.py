"""Routed search (spec `routed:nprobe=N|auto,margin=M,k=K`): score the query against the k-means
centroids and search only the nprobe nearest clusters.

This is an inverted-file index (FAISS `IndexIVFFlat`, inner product) built over our own clusters, so
its lists are exactly the clusters of `ClusterModel`. `nprobe=auto` probes every cluster whose
centroid is within `margin` (cosine) of the best one, so a query near a border keeps its answers.
"""

from __future__ import annotations

import numpy as np

from clusterank.cluster.kmeans import ClusterModel, faiss_module
from clusterank.defaults import AUTO_MARGIN
from clusterank.errors import ClusterankError
from clusterank.data.bounds import Bound
from clusterank.index.base import (POSITIVE, Param, Retriever, RetrieverType, SearchContext, TopK, kmeans_k,
                                   number)
from clusterank.index.exact import check_vectors

AUTO = "auto"
MARGIN = Bound(0, 2, "cosines lie in -1..1, so a margin of 2 already probes every cluster", whole=False)
"""The range of `margin`."""


def parse_nprobe(value: str | int) -> int | str:
    """`"auto"` or a positive int, from spec/CLI text or a number; anything else is a clear error."""
    if isinstance(value, str):
        if value.strip().lower() == AUTO:
            return AUTO
        try:
            value = int(value)
        except ValueError:
            raise ClusterankError(f"nprobe must be a positive number or 'auto', got {value!r}") from None
    if value < 1:
        raise ClusterankError(f"nprobe must be at least 1, got {value}")
    return value


class RoutedIndex(Retriever):
    """Search inside the query's nearest clusters only.

    Args:
        vectors: (n, dims) L2-normalised corpus vectors, rows in corpus order.
        clusters: the k-means model fitted on those rows.
        nprobe: clusters searched per query, or "auto" (all within `margin` of the best centroid's cosine).
        margin: the cosine margin of "auto".
    """

    def __init__(self, vectors: np.ndarray, clusters: ClusterModel, *, nprobe: int | str = 1,
                 margin: float = AUTO_MARGIN):
        faiss = faiss_module()
        from faiss.contrib.ivf_tools import add_preassigned

        x = check_vectors(vectors, what="corpus vectors")
        if len(x) != len(clusters.labels):
            raise ClusterankError(f"the cluster model covers {len(clusters.labels)} rows but the corpus has {len(x)}; "
                                  "fit the clusters again on this corpus")
        self.clusters = clusters
        self.nprobe, self.margin = parse_nprobe(nprobe), float(margin)
        self.spec = f"routed:nprobe={self.nprobe}" + (f",margin={self.margin:g}"
                                                      if self.nprobe == AUTO and self.margin != AUTO_MARGIN else "")
        self.dims = x.shape[1]
        if clusters.centroids.shape[1] != self.dims:
            raise ClusterankError(f"centroids have {clusters.centroids.shape[1]} dimensions, vectors have {self.dims}")
        self._quantizer = faiss.IndexFlatIP(self.dims)
        self._quantizer.add(np.ascontiguousarray(clusters.centroids, dtype=np.float32))
        self.ivf = faiss.IndexIVFFlat(self._quantizer, self.dims, clusters.k, faiss.METRIC_INNER_PRODUCT)
        # add_preassigned keeps only raw pointers to these arrays: they must stay referenced during the call
        lists = np.ascontiguousarray(clusters.labels, dtype=np.int64)
        row_ids = np.arange(len(x), dtype=np.int64)
        add_preassigned(self.ivf, x, lists, row_ids)

    def route(self, query_vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The clusters each query probes, best first, and their centroid cosines; -1 pads unused slots."""
        return self._route(check_vectors(query_vecs, self.dims, what="query vectors"))

    def _route(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        width = self.clusters.k if self.nprobe == AUTO else min(int(self.nprobe), self.clusters.k)
        dist, order = self._quantizer.search(q, width)
        if self.nprobe == AUTO:
            keep = dist >= dist[:, :1] - self.margin
            used = int(keep.sum(axis=1).max())
            order = np.where(keep, order, -1)[:, :used]
            dist = np.ascontiguousarray(dist[:, :used])
        return np.ascontiguousarray(order), dist

    def search(self, query_vecs: np.ndarray, k: int) -> TopK:
        """The k best rows of each query inside its probed clusters (see `route`); `groups` holds each hit's
        cluster and `probed` the clusters each query searched."""
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        k = min(k, int(self.ivf.ntotal))
        q = check_vectors(query_vecs, self.dims, what="query vectors")
        if not len(q):
            return TopK(np.empty((0, k), np.int64), np.empty((0, k), np.float32), [], np.empty((0, k), np.int64))
        probe, dist = self._route(q)
        if self.ivf.nprobe != probe.shape[1]:
            self.ivf.nprobe = probe.shape[1]
        scores, rows = self.ivf.search_preassigned(q, k, probe, dist)
        probed = [p[p >= 0] for p in probe]
        if rows.min() >= 0:  # the common case: every query found k rows
            return TopK(rows, scores, probed, self.clusters.labels[rows])
        found = rows >= 0
        groups = np.where(found, self.clusters.labels[np.where(found, rows, 0)], -1)
        return TopK(rows, np.where(found, scores, -np.inf).astype(np.float32), probed, groups)


def _build(context: SearchContext, nprobe: int | str, margin: float, k: int | None) -> RoutedIndex:
    return RoutedIndex(context.vectors, context.cluster_model(k), nprobe=nprobe, margin=margin)


RETRIEVER = RetrieverType(
    "routed", "search only the query's nearest k-means clusters (the seed's method at nprobe=1)", _build,
    {"nprobe": Param(parse_nprobe, 1, "clusters searched per query: a number (above k: every cluster), or auto",
                     POSITIVE),
     "margin": Param(number, AUTO_MARGIN, "cosine margin of nprobe=auto", MARGIN),
     "k": kmeans_k()},
    examples=("routed:nprobe=1", "routed:nprobe=2", "routed:nprobe=auto"), on_page=True)
