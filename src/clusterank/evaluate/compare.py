"""The model comparison: every model x pipeline on the same labelled queries, with speed, memory, cost.

For each model: embed corpus and queries (cached, resumable), measure throughput, query latency and
peak memory here, run exact search, routed nprobe=1 (the seed's) and routed auto, and score every
query (P@10, nDCG@10, MRR, recall@50, near-miss@10) with 95% bootstrap intervals.
"""

from __future__ import annotations

import logging
import os
import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clusterank.data.loaders import Corpus
from clusterank.embed import CATALOG, get_embedder
from clusterank.embed.precomputed import PrecomputedEmbedder
from clusterank.errors import ClusterankError
from clusterank.evaluate.metrics import (cluster_agreement, mrr, ndcg_at_k, near_miss_rate,
                                         precision_at_k_graded, recall_at_k)
from clusterank.evaluate.relevance import Relevance, build_relevance
from clusterank.evaluate.resources import PeakMemory, measure_query_ms, measure_throughput
from clusterank.evaluate.routing import routing_accuracy
from clusterank.evaluate.stats import Estimate, bootstrap_ci, paired_difference
from clusterank.workspace import Workspace

log = logging.getLogger("clusterank.compare")

METRICS = ("P@10", "nDCG@10", "MRR", "recall@50", "near-miss@10")
HIGHER_IS_BETTER = {"P@10": True, "nDCG@10": True, "MRR": True, "recall@50": True, "near-miss@10": False}
SLOW_MODELS = ("all-mpnet-base-v2",)
"""Offline models left out of the default list: they take most of an hour on the bundled set here."""


def default_models() -> list[str]:
    """The offline models that embed the bundled set in a few minutes here (slow ones are opt-in)."""
    from clusterank.embed import available_models

    return [m for m in available_models() if m not in SLOW_MODELS]


@dataclass
class PipelineRun:
    """Per-query metric values of one model x pipeline, and their estimates."""

    pipeline: str
    per_query: dict[str, np.ndarray]
    rows: np.ndarray
    """(n_queries, 50) retrieved rows, best first (-1 = none)."""

    def estimate(self, metric: str) -> Estimate:
        """Mean and 95% bootstrap interval over queries (NaN where the metric is undefined, e.g. no labels)."""
        values = self.per_query[metric]
        if np.isnan(values).all():
            return Estimate(float("nan"), float("nan"), float("nan"))
        return bootstrap_ci(values)


@dataclass
class ModelRun:
    """Everything measured for one model."""

    model: str
    dims: int
    params_m: float | None
    texts_per_s: float | None
    query_ms: float | None
    peak_mb: float
    cost_per_1m_texts: float | None
    """API price x mean tokens per text (model's tokenizer), or, for models run here, 1M texts at the measured
    throughput on this machine priced as the VM in the dated price table; None when neither is known."""
    price_date: str | None
    routing_accuracy: float
    cluster_nmi: float
    pipelines: dict[str, PipelineRun] = field(default_factory=dict)
    confusion: pd.DataFrame | None = None
    showcase: dict[str, list] = field(default_factory=dict)
    map_data: object | None = None


@dataclass
class Comparison:
    """A finished comparison: one `ModelRun` per model over the same queries."""

    runs: list[ModelRun]
    query_ids: list[str]
    query_labels: list[str]
    corpus_source: str
    queries_source: str
    n_profiles: int
    showcase_query: str
    machine: str = field(default_factory=lambda: f"{platform.machine()}, {os.cpu_count()} cores")

    def per_query_frame(self) -> pd.DataFrame:
        """Long table of every query's metric values: model, pipeline, query id, target label, metrics."""
        frames = []
        for run in self.runs:
            for name, p in run.pipelines.items():
                frame = pd.DataFrame({"model": run.model, "pipeline": name, "query_id": self.query_ids,
                                      "target": self.query_labels})
                for m in METRICS:
                    frame[m] = p.per_query[m]
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def best(self, metric: str = "nDCG@10", pipeline: str = "exact") -> ModelRun:
        """The model with the highest mean `metric` on `pipeline`."""
        return max(self.runs, key=lambda r: r.pipelines[pipeline].per_query[metric].mean())

    def within_noise_of_best(self, run: ModelRun, metric: str = "nDCG@10", pipeline: str = "exact") -> bool:
        """True when `run` is not significantly different from the best (paired bootstrap over queries)."""
        best = self.best(metric, pipeline)
        if best is run:
            return True
        _, significant = paired_difference(best.pipelines[pipeline].per_query[metric],
                                           run.pipelines[pipeline].per_query[metric])
        return not significant


def _embedder_for(name: str, corpus: Corpus, queries: Corpus, workspace: Workspace):
    if name.startswith("precomputed:"):
        return PrecomputedEmbedder.from_tables(name[len("precomputed:"):], corpus, queries)
    return get_embedder(name, workspace)


def _cost_per_1m_texts(model: str, embedder, texts: Sequence[str],
                       texts_per_s: float | None) -> tuple[float | None, str | None]:
    """($ per 1M texts, its date): API list price x mean tokens (the model's tokenizer) for API models;
    for models run here, the hours 1M texts take at the measured throughput x this machine's VM price."""
    from clusterank.cost import api_price, default_prices
    from clusterank.cost.tokens import count_tokens

    model = model.removeprefix("precomputed:")
    price = api_price(model)
    if price is not None:
        tokens = float(np.mean(count_tokens(model, list(texts[:500]))))
        return price[0] * tokens, price[1]
    if texts_per_s:
        machine = default_prices().machine
        return machine.hourly_usd * 1e6 / texts_per_s / 3600, machine.date
    return None, None


def _score(rows: np.ndarray, rel: Relevance, row_labels, query_labels, neighbours) -> dict[str, np.ndarray]:
    near = (near_miss_rate(rows, row_labels, query_labels, neighbours, 10)
            if row_labels is not None and query_labels is not None else np.full(len(rows), np.nan))
    return {"P@10": precision_at_k_graded(rows, rel, 10), "nDCG@10": ndcg_at_k(rows, rel, 10),
            "MRR": mrr(rows, rel), "recall@50": recall_at_k(rows, rel, 50), "near-miss@10": near}


def _confusion(rows: np.ndarray, row_labels, query_labels, neighbours, top: int = 15) -> pd.DataFrame:
    """Counts of the wrong roles in each query's top 10: rows are target roles that lost at least one slot to a
    confusable neighbour, columns the `top` most frequent wrong roles."""
    counts: dict[str, Counter] = {}
    for r, target in zip(rows, query_labels):
        wrong = Counter(row_labels[x] for x in r[:10] if x >= 0 and row_labels[x] != target)
        if any(w in set(neighbours.get(target, ())) for w in wrong):
            counts.setdefault(target, Counter()).update(wrong)
    frame = pd.DataFrame(counts).T.fillna(0).astype(int)
    if frame.empty:
        return frame
    return frame[frame.sum().sort_values(ascending=False).index[:top]].sort_index()


def compare_models(models: Sequence[str], corpus: Corpus, queries: Corpus, *, workspace: Workspace | None = None,
                   n_clusters: int = 10, margin: float | None = None, parent_labels: tuple | None = None,
                   relevant_ids: Sequence[Sequence[int]] | None = None,
                   neighbours: Mapping[str, Sequence[str]] | None = None, showcase_query: str | None = None,
                   with_maps: bool = True, progress: bool = False, reranker=None,
                   rerank_top: int = 20) -> Comparison:
    """Run every model through every pipeline on the same labelled queries.

    Args:
        models: model ids (`get_embedder` names, or `precomputed:<name>` for `embeddings_<name>` columns).
        corpus: the profiles (with labels unless `relevant_ids` is given).
        queries: the job descriptions (with labels unless `relevant_ids` is given).
        workspace: where vectors and clusters are cached.
        n_clusters: k of k-means for the routed pipelines.
        margin: cosine margin of routed auto (default `AUTO_MARGIN`).
        parent_labels: (corpus parents, query parents) for partial relevance, e.g. families.
        relevant_ids: per query, explicit relevant corpus rows (override labels for that query).
        neighbours: label -> confusable labels, for near-miss rates and the confusion matrix.
        showcase_query: the query shown top 10 before and after routing (default: the first query).
        with_maps: build each model's 2-D cluster map for the report.
        progress: progress bars with ETA while embedding.
        reranker: adds the pipeline "exact + rerank": the top `rerank_top` of exact search reordered by it.
        rerank_top: how many hits the reranker reorders.

    Raises:
        ClusterankError: no models, unknown model, relevance undefined for some query, mismatched dims.
    """
    from clusterank.index.routed import AUTO_MARGIN
    from clusterank.pipeline import SearchPipeline

    if not models:
        raise ClusterankError("no models to compare")
    workspace = workspace or Workspace.default()
    neighbours = neighbours or {}
    rel = build_relevance(len(corpus), corpus.labels, queries.labels,
                          parent_labels[0] if parent_labels else None, parent_labels[1] if parent_labels else None,
                          relevant_ids, source=queries.source)
    showcase_query = showcase_query or queries.texts[0]
    runs = []
    for i, name in enumerate(models, start=1):
        log.info("model %d of %d: %s", i, len(models), name)
        # peak memory: loading the model, a 64-text throughput sample and five single queries - the same
        # work whether or not the corpus is already cached, so cold and warm runs report the same thing
        sample = [corpus.texts[j] for j in np.linspace(0, len(corpus) - 1, min(64, len(corpus))).astype(int)]
        with PeakMemory() as mem:
            embedder = _embedder_for(name, corpus, queries, workspace)
            local = not isinstance(embedder, PrecomputedEmbedder)
            texts_per_s = None
            if local:
                texts_per_s = measure_throughput(embedder, sample)
                measure_query_ms(embedder, showcase_query)  # the memory of answering single queries counts
        pipe = SearchPipeline(corpus, embedder, workspace=workspace, progress=progress)
        qv = pipe.embed_queries(queries.texts)
        query_ms = (measure_query_ms(embedder, showcase_query,
                                     lambda v: pipe.index.search(v / np.linalg.norm(v, axis=1, keepdims=True), 10))
                    if local else None)
        k50 = min(50, len(corpus))
        results = {"exact": pipe.index.search(qv, k50).rows}
        routed = pipe.routed_index(n_clusters)
        results["routed nprobe=1"] = routed.search(qv, k50, 1).rows
        results["routed auto"] = routed.search(qv, k50, "auto", margin if margin is not None else AUTO_MARGIN).rows
        if reranker is not None:
            reranked = pipe.search_many(queries.texts, k50, reranker=reranker, rerank_top=rerank_top)
            results[f"exact + {reranker.name}"] = np.array([[h.row for h in hs] + [-1] * (k50 - len(hs))
                                                            for hs in reranked])
        model = routed.clusters
        run = ModelRun(name, embedder.dims, getattr(CATALOG.get(name.removeprefix("precomputed:")), "params_m", None),
                       texts_per_s, query_ms, mem.delta_mb,
                       *_cost_per_1m_texts(name, embedder, corpus.texts, texts_per_s),
                       routing_accuracy=routing_accuracy(routed, qv, corpus.labels, queries.labels),
                       cluster_nmi=(cluster_agreement(model.labels, corpus.labels)["nmi"]
                                    if corpus.labels is not None else float("nan")))
        for pname, rows in results.items():
            run.pipelines[pname] = PipelineRun(pname, _score(rows, rel, corpus.labels, queries.labels, neighbours),
                                               rows)
        if corpus.labels is not None and queries.labels is not None:
            run.confusion = _confusion(results["exact"], corpus.labels, queries.labels, neighbours)
        run.showcase = {"exact": pipe.search(showcase_query, 10),
                        "routed nprobe=1": pipe.search(showcase_query, 10, route=True, nprobe=1,
                                                       n_clusters=n_clusters)}
        if with_maps:
            from clusterank.viz.map import build_map

            run.map_data = build_map(pipe, n_clusters=n_clusters, queries=[showcase_query])
        runs.append(run)
    return Comparison(runs, queries.ids, list(queries.labels or [""] * len(queries)), corpus.source, queries.source,
                      len(corpus), showcase_query)
