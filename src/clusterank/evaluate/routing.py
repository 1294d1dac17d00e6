"""What routing costs: routed search against exact search on labelled queries, measured every time.

For each nprobe: recall@k of routed search against exact search, P@k and the near-miss rate before
and after routing, clusters probed and time per query; plus routing accuracy (the query's first
cluster is the one holding most of its relevant profiles) and cluster purity / NMI / ARI.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from clusterank.cluster.kmeans import ClusterModel
from clusterank.errors import ClusterankError
from clusterank.evaluate.metrics import (cluster_agreement, majority_cluster, near_miss_rate, overlap_recall,
                                         precision_at_k)
from clusterank.index.exact import ExactIndex
from clusterank.index.routed import RoutedIndex


@dataclass(frozen=True)
class PipelineScores:
    """Mean scores of one search pipeline over the labelled queries."""

    pipeline: str
    recall_vs_exact: float
    precision: float
    near_miss: float
    clusters_probed: float
    ms_per_query: float


@dataclass(frozen=True)
class RoutingReport:
    """The cost of routing for one corpus, model and clustering."""

    k: int
    n_clusters: int
    n_queries: int
    routing_accuracy: float
    cluster_quality: dict[str, float]
    pipelines: list[PipelineScores] = field(default_factory=list)

    def table(self) -> str:
        """A markdown table, one row per pipeline, that pastes into a report."""
        k = self.k
        head = (f"| pipeline | recall@{k} vs exact | P@{k} | near-miss@{k} | clusters probed | ms/query |\n"
                "|---|---|---|---|---|---|")
        body = [f"| {p.pipeline} | {p.recall_vs_exact:.3f} | {p.precision:.3f} | {p.near_miss:.3f} | "
                f"{p.clusters_probed:.2f} | {p.ms_per_query:.3f} |" for p in self.pipelines]
        q = self.cluster_quality
        tail = (f"\nrouting accuracy: {self.routing_accuracy:.3f} ({self.n_queries} queries, {self.n_clusters} "
                f"clusters); cluster quality vs labels: purity {q['purity']:.3f}, NMI {q['nmi']:.3f}, "
                f"ARI {q['ari']:.3f}")
        return "\n".join([head, *body]) + tail


def routing_accuracy(routed: RoutedIndex, query_vectors: np.ndarray, row_labels: Sequence[str] | None,
                     query_labels: Sequence[str] | None) -> float:
    """Share of labelled queries whose nearest cluster holds most of their relevant rows (NaN without labels).

    Queries whose label occurs in no row are left out.
    """
    if row_labels is None or query_labels is None:
        return float("nan")
    first = routed.route(query_vectors, 1)[0][:, 0]
    labels = routed.clusters.labels
    known = set(row_labels)
    hits = [f == majority_cluster(labels, row_labels, lab) for f, lab in zip(first, query_labels) if lab in known]
    return float(np.mean(hits)) if hits else float("nan")


def routing_cost(vectors: np.ndarray, row_labels: Sequence[str], query_vectors: np.ndarray,
                 query_labels: Sequence[str], clusters: ClusterModel, *, k: int = 10,
                 nprobes: Sequence[int | str] = (1, 2, "auto"), neighbours: Mapping[str, Sequence[str]] | None = None,
                 margin: float | None = None) -> RoutingReport:
    """Measure routed search against exact search on labelled queries.

    Args:
        vectors: (n, dims) normalised corpus vectors; `clusters` was fitted on them.
        row_labels: the label (role) of each corpus row.
        query_vectors: (n_queries, dims) normalised.
        query_labels: the target label of each query.
        clusters: the k-means model.
        k: the cut-off for every metric.
        nprobes: the routed pipelines to measure.
        neighbours: label -> confusable labels, for the near-miss rate (empty: near-miss is 0).
        margin: the auto-nprobe margin (default `AUTO_MARGIN`).

    Raises:
        ClusterankError: no queries, or no query whose label occurs in the corpus.
    """
    from clusterank.index.routed import AUTO_MARGIN

    if len(query_labels) == 0:
        raise ClusterankError("routing cost needs labelled queries; none were given")
    known = set(row_labels)
    usable = [i for i, lab in enumerate(query_labels) if lab in known]
    if not usable:
        raise ClusterankError("no query's label occurs among the corpus labels; cannot measure relevance")
    qv = np.asarray(query_vectors, np.float32)[usable]
    ql = [query_labels[i] for i in usable]
    neighbours = neighbours or {}
    exact = ExactIndex(vectors)
    routed = RoutedIndex(vectors, clusters)

    t0 = time.perf_counter()
    exact_rows = exact.search(qv, k).rows
    exact_ms = (time.perf_counter() - t0) * 1000 / len(qv)
    scores = [PipelineScores("exact", 1.0, float(precision_at_k(exact_rows, row_labels, ql, k).mean()),
                             float(near_miss_rate(exact_rows, row_labels, ql, neighbours, k).mean()),
                             float(clusters.k), exact_ms)]
    for nprobe in nprobes:
        t0 = time.perf_counter()
        result = routed.search(qv, k, nprobe, margin if margin is not None else AUTO_MARGIN)
        ms = (time.perf_counter() - t0) * 1000 / len(qv)
        probed = (np.mean([len(p) for p in result.probed]) if result.probed is not None
                  else float(min(int(nprobe), clusters.k)))
        scores.append(PipelineScores(f"routed nprobe={nprobe}",
                                     float(overlap_recall(result.rows, exact_rows).mean()),
                                     float(precision_at_k(result.rows, row_labels, ql, k).mean()),
                                     float(near_miss_rate(result.rows, row_labels, ql, neighbours, k).mean()),
                                     float(probed), ms))
    accuracy = routing_accuracy(routed, qv, row_labels, ql)
    return RoutingReport(k, clusters.k, len(qv), accuracy, cluster_agreement(clusters.labels, row_labels), scores)
