"""One evaluator for every way to search: pipelines (a retriever spec plus an optional reranker) scored on
labelled queries with the same metric functions, names and treatment of unscorable queries.

`clusters --eval` and `compare` both call `evaluate_pipelines`; a pipeline is named by its spec
(`exact`, `routed:nprobe=1`, `exact + rescore:all-MiniLM-L6-v2`) everywhere it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from clusterank.defaults import DEFAULT_RETRIEVER
from clusterank.errors import ClusterankError
from clusterank.evaluate.metrics import mrr, ndcg_at_k, near_miss_rate, overlap_recall, precision_at_k_graded, recall_at_k
from clusterank.evaluate.neighbours import NearMiss, near_miss_for
from clusterank.evaluate.relevance import Relevance
from clusterank.evaluate.stats import Estimate, bootstrap_ci
from clusterank.evaluate.metrics import routing_accuracy
from clusterank.evaluate.tune import (DEFAULT_FOLDS, cross_validated_rows, fold_of, fusion_is_tuned, grid_scores,
                                     is_tuned, tuned_grid)
from clusterank.index import TopK, canonical_spec, split_specs
from clusterank.pipeline import SearchPipeline
from clusterank.rerank.base import Reranker

RECALL_DEPTH = 50
"""How deep every pipeline retrieves: recall is measured at this depth."""


def metric_names(cutoff: int = 10) -> tuple[str, ...]:
    """The per-query metrics at a cut-off: P@k, nDCG@k, MRR, recall@50, near-miss@k."""
    return (f"P@{cutoff}", f"nDCG@{cutoff}", "MRR", f"recall@{max(RECALL_DEPTH, cutoff)}", f"near-miss@{cutoff}")


def higher_is_better(metric: str) -> bool:
    """False for the near-miss rate (lower is better), true for every other metric."""
    return not metric.startswith("near-miss")


@dataclass(frozen=True)
class Pipeline:
    """A retriever spec and an optional reranker that reorders the top `rerank_top` of its list."""

    retriever: str = DEFAULT_RETRIEVER
    reranker: Reranker | None = None
    rerank_top: int = 20

    @property
    def name(self) -> str:
        """`routed:nprobe=1`, or `exact + rescore:all-MiniLM-L6-v2` when reranked."""
        spec = canonical_spec(self.retriever)
        return spec if self.reranker is None else f"{spec} + {self.reranker.name}"


def parse_pipelines(text: str | Sequence[str], make_reranker: Callable[[str], Reranker] | None = None,
                    rerank_top: int = 20) -> list[Pipeline]:
    """Pipelines from `exact,routed:nprobe=1,routed:nprobe=auto,margin=0.1,exact+rescore:<model>`.

    Args:
        text: a comma-separated list, or a list of items; an item is `retriever[+reranker]`.
        make_reranker: builds a reranker from its name (e.g. `get_reranker`); needed only when one is named.
        rerank_top: how many hits each reranker reorders.

    Raises:
        ClusterankError: an empty list, a bad retriever spec, or a reranker with no way to build it.
    """
    items = split_specs(text) if isinstance(text, str) else [s for t in text for s in split_specs(t)]
    if not items:
        raise ClusterankError("no pipelines given; e.g. --pipelines exact,routed:nprobe=1")
    out = []
    for item in items:
        retriever, _, reranker = (part.strip() for part in item.partition("+"))
        canonical_spec(retriever)  # refuse a bad spec before anything is embedded
        if reranker and make_reranker is None:
            raise ClusterankError(f"pipeline {item!r} names a reranker but none can be built here")
        out.append(Pipeline(retriever, make_reranker(reranker) if reranker else None, rerank_top))
    return out


@dataclass
class PipelineRun:
    """Per-query metric values of one pipeline on the scored queries, and how it searched."""

    pipeline: str
    per_query: dict[str, np.ndarray]
    rows: np.ndarray
    """(n_queries, depth) retrieved rows, best first (-1 = none)."""
    ms_per_query: float
    """Retrieval (and reranking) time per query, the batch divided by its size."""
    clusters_probed: float | None
    """Mean clusters searched per query by a routing retriever; None otherwise."""
    fold_alphas: list[float] | None = None
    """For a tuned pipeline (`alpha=auto`), the alpha each fold chose on the other folds (nested CV)."""
    near_miss: NearMiss | None = None
    """Which labels counted as near misses for each query, and by which definition."""
    index_bytes: int | None = None
    """Bytes the retriever's index holds (float32 vectors for exact search, codes for quantized ones)."""
    fold_weights: list[tuple[float, ...]] | None = None
    """For a fused model with `weights=auto`, the weights each fold chose on the other folds (nested CV)."""

    def estimate(self, metric: str) -> Estimate:
        """Mean and 95% bootstrap interval over queries (NaN where the metric is undefined, e.g. no labels)."""
        values = self.per_query[metric]
        if np.isnan(values).all():
            return Estimate(float("nan"), float("nan"), float("nan"))
        return bootstrap_ci(values)

    def mean(self, metric: str) -> float:
        """The mean of a metric over queries."""
        return float(np.mean(self.per_query[metric]))


def score_rows(rows: np.ndarray, rel: Relevance, row_labels: Sequence[str] | None, near_miss: NearMiss | None,
               cutoff: int = 10) -> dict[str, np.ndarray]:
    """Every metric of `metric_names(cutoff)` per query (graded relevance; near-miss NaN without labels)."""
    p, ndcg, rr, recall, near = metric_names(cutoff)
    depth = max(RECALL_DEPTH, cutoff)
    near_values = (near_miss_rate(rows, row_labels, near_miss.sets, cutoff)
                   if row_labels is not None and near_miss is not None else np.full(len(rows), np.nan))
    return {p: precision_at_k_graded(rows, rel, cutoff), ndcg: ndcg_at_k(rows, rel, cutoff), rr: mrr(rows, rel),
            recall: recall_at_k(rows, rel, depth), near: near_values}


def _padded(hit_lists, depth: int) -> np.ndarray:
    return np.array([[h.row for h in hits[:depth]] + [-1] * (depth - len(hits[:depth])) for hits in hit_lists],
                    dtype=np.int64)


def evaluate_pipelines(pipe: SearchPipeline, queries: Sequence[str], rel: Relevance,
                       pipelines: Sequence[Pipeline | str], *, query_labels: Sequence[str] | None = None,
                       neighbours: Mapping[str, Sequence[str]] | None = None,
                       parents: tuple[Sequence[str], Sequence[str]] | None = None,
                       cutoff: int = 10, folds: int = DEFAULT_FOLDS) -> dict[str, PipelineRun]:
    """Run each pipeline over the scored queries and measure it against the relevance.

    Args:
        pipe: the corpus, its vectors and the model that embeds the queries.
        queries: the job descriptions, all of them (`rel.kept` says which are scored).
        rel: graded relevance from `build_relevance` (with `drop_unscorable`, `rel.kept` says which are scored).
        pipelines: `Pipeline`s or retriever specs.
        query_labels: the target label of every query (for near-miss rates), or None.
        neighbours: label -> confusable labels, when known (the bundled set's); otherwise near misses are derived
            from `parents` or from exact search's confusions on other folds (see `evaluate.neighbours`).
        parents: (parent label of every corpus row, of every query), e.g. role families, or None.
        cutoff: k of P@k, nDCG@k and near-miss@k; `recall@k vs exact` compares each top k with exact search's.
        folds: k of the cross-validation that scores tuned pipelines (`role`, `soft:alpha=auto`): each query's
            results come from the alpha chosen on the other folds, never from one tuned on it.

    Returns:
        One `PipelineRun` per pipeline, keyed by its name, in the order given.
    """
    kept = rel.scored
    texts = [queries[i] for i in kept]
    labels = [query_labels[i] for i in kept] if query_labels is not None else None
    qv = pipe.embed_queries(texts)
    depth = min(max(RECALL_DEPTH, cutoff), len(pipe.corpus))
    exact_top = pipe.retriever("exact").search(qv, cutoff).rows
    near = None
    if labels is not None and pipe.corpus.labels is not None:
        near = near_miss_for(labels, pipe.corpus.labels, neighbours=neighbours,
                             parents=(parents[0], [parents[1][i] for i in kept]) if parents else None,
                             exact_rows=exact_top, folds=(fold_of(len(texts), min(folds, len(texts))) if len(texts) > 1
                                                         else np.zeros(len(texts), np.int64)))
    runs: dict[str, PipelineRun] = {}
    for item in pipelines:
        p = Pipeline(item) if isinstance(item, str) else item
        retriever = pipe.retriever(p.retriever)
        retriever.search(qv[:1], depth)  # first calls allocate (threads, buffers): keep them out of the timing
        tuned = is_tuned(p.retriever) or fusion_is_tuned(pipe)
        top = min(p.rerank_top, depth)  # a reranker reorders at most the `depth` hits every pipeline retrieves
        found = pipe.run_many(texts, depth, vectors=qv, retriever=p.retriever,
                              reranker=None if tuned else p.reranker, rerank_top=top)
        ms = (found.timings["retrieve"] + found.timings["rerank"]) * 1000 / len(texts)
        rows, probed, fold_alphas, fold_weights = found.rows, found.clusters_probed, None, None
        if tuned:
            grid, points = tuned_grid(pipe, qv, p.retriever, depth=depth)
            rows, chosen = cross_validated_rows(grid, grid_scores(grid, rel, cutoff), fold_of(len(texts), folds))
            probed = None
            if is_tuned(p.retriever):
                fold_alphas = [points[c][0] for c in chosen]
            if fusion_is_tuned(pipe):
                fold_weights = [points[c][1] for c in chosen]
            if p.reranker is not None:
                cosines = np.take_along_axis(qv @ pipe.vectors.T, np.maximum(rows, 0), axis=1)
                result = TopK(rows, np.where(rows >= 0, cosines, -np.inf).astype(np.float32))
                t0 = time.perf_counter()
                rows = _padded(pipe.rerank(texts, pipe.hits(result), p.reranker, top), depth)
                ms += (time.perf_counter() - t0) * 1000 / len(texts)
        scores = score_rows(rows, rel, pipe.corpus.labels, near, cutoff)
        scores[f"recall@{cutoff} vs exact"] = overlap_recall(rows[:, :cutoff], exact_top)
        runs[p.name] = PipelineRun(p.name, scores, rows, ms, probed, fold_alphas, near, retriever.memory_bytes,
                                   fold_weights)
    return runs


def first_cluster_accuracy(pipe: SearchPipeline, queries: Sequence[str], query_labels: Sequence[str] | None,
                           rel: Relevance) -> float:
    """Routing accuracy of the scored queries: the share whose nearest k-means cluster (`pipe.clusters()`) holds
    most of the rows with their label (NaN without labels)."""
    clusters = pipe.clusters()
    labels = [query_labels[i] for i in rel.scored] if query_labels is not None else None
    first = clusters.assign(pipe.embed_queries([queries[i] for i in rel.scored]))
    return routing_accuracy(first, clusters.labels, pipe.corpus.labels, labels)
