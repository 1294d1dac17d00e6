"""What routing costs: routed search against exact search on labelled queries, measured every time.

For each pipeline: recall@k against exact search, P@k and the near-miss rate, clusters probed and time
per query (all from `evaluate_pipelines`, the evaluator `compare` uses too); plus routing accuracy (the
query's first cluster is the one holding most of its relevant profiles) and cluster purity / NMI / ARI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clusterank.data.loaders import Corpus
from clusterank.defaults import ROUTING_PIPELINES
from clusterank.evaluate.evaluator import PipelineRun, evaluate_pipelines, first_cluster_accuracy
from clusterank.evaluate.metrics import cluster_agreement
from clusterank.evaluate.relevance import Relevance
from clusterank.pipeline import SearchPipeline
from clusterank.tables import markdown_table


@dataclass(frozen=True)
class RoutingReport:
    """The cost of routing for one corpus, model and clustering."""

    k: int
    n_clusters: int
    n_queries: int
    routing_accuracy: float
    cluster_quality: dict[str, float]
    runs: dict[str, PipelineRun] = field(default_factory=dict)

    def table(self) -> str:
        """A markdown table, one row per pipeline, that pastes into a report."""
        k = self.k
        header = ["pipeline", f"recall@{k} vs exact", f"P@{k}", f"near-miss@{k}", "clusters probed", "ms/query"]
        rows = [[name, f"{r.mean(f'recall@{k} vs exact'):.3f}", f"{r.mean(f'P@{k}'):.3f}",
                 f"{r.mean(f'near-miss@{k}'):.3f}",
                 f"{r.clusters_probed if r.clusters_probed is not None else self.n_clusters:.2f}",
                 f"{r.ms_per_query:.3f}"] for name, r in self.runs.items()]
        q = self.cluster_quality
        tail = (f"\nrouting accuracy: {self.routing_accuracy:.3f} ({self.n_queries} queries, {self.n_clusters} "
                f"clusters); cluster quality vs labels: purity {q['purity']:.3f}, NMI {q['nmi']:.3f}, "
                f"ARI {q['ari']:.3f}")
        return markdown_table(header, rows) + tail


def routing_cost(pipe: SearchPipeline, queries: Corpus, rel: Relevance, *,
                 pipelines: Sequence[str] = ROUTING_PIPELINES, k: int = 10,
                 neighbours: Mapping[str, Sequence[str]] | None = None,
                 parents: tuple[Sequence[str], Sequence[str]] | None = None) -> RoutingReport:
    """Measure routed search against exact search on labelled queries.

    Args:
        pipe: the corpus and model; its clusters (`pipe.clusters()`, k = `pipe.n_clusters`) are the routes.
        queries: the job descriptions with their labels.
        rel: their relevance (`build_relevance`).
        pipelines: retriever specs to measure (exact search is the reference).
        k: the cut-off of every metric.
        neighbours: label -> confusable labels, for the near-miss rate, when known; else derived (see
            `evaluate.neighbours`) from `parents` (corpus parents, query parents) or from exact search.
    """
    clusters = pipe.clusters()
    runs = evaluate_pipelines(pipe, queries.texts, rel, pipelines, query_labels=queries.labels,
                              neighbours=neighbours, parents=parents, cutoff=k)
    accuracy = first_cluster_accuracy(pipe, queries.texts, queries.labels, rel)
    quality = cluster_agreement(clusters.labels, pipe.corpus.labels)
    return RoutingReport(k, clusters.k, rel.n_queries, accuracy, quality, runs)
