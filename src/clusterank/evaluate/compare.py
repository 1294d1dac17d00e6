"""The model comparison: every model x pipeline on the same labelled queries, with speed, memory, cost.

For each model: embed corpus and queries (cached, resumable), measure throughput, query latency and
peak memory here, run each pipeline (default: exact search, routed nprobe=1 (the seed's) and routed auto)
through the one evaluator, and score every query (P@10, nDCG@10, MRR, recall@50, near-miss@10) with 95%
bootstrap intervals.
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

from clusterank.data.languages import query_languages
from clusterank.data.loaders import Corpus
from clusterank.defaults import COMPARE_PIPELINES, DEFAULT_K, LABELLED_PIPELINES, SHOWCASE_PIPELINES, SLOW_MODELS
from clusterank.embed import CATALOG, available_models, catalog_id, get_embedder
from clusterank.embed.fusion import part_names
from clusterank.embed.registry import EMBEDDERS
from clusterank.embed.measure import PeakMemory, measure_query_ms, measure_throughput
from clusterank.embed.store import text_hash
from clusterank.errors import ClusterankError
from clusterank.evaluate.evaluator import (Pipeline, PipelineRun, evaluate_pipelines, first_cluster_accuracy,
                                          higher_is_better, metric_names)
from clusterank.evaluate.metrics import cluster_agreement
from clusterank.evaluate.neighbours import NearMiss
from clusterank.evaluate.relevance import Relevance, build_relevance
from clusterank.evaluate.stats import within_noise
from clusterank.index import RETRIEVERS, canonical_spec, retriever_type
from clusterank.pipeline import SearchPipeline
from clusterank.train.models import check_not_trained_on, finetune_card
from clusterank.workspace import Workspace

log = logging.getLogger("clusterank.compare")
STEPS = ("loading the model", "embedding the profiles", "scoring the pipelines", "the showcase",
         "hiding labels", "the map")
"""The steps of one model's comparison, each logged as it starts ("model 1 of 2: <name>: step 3 of 6: ..."), so a
caller that reads the log (the server's compare jobs) can show progress within a model."""


def _step(i: int, n: int, name: str, step: int) -> None:
    log.info("model %d of %d: %s: step %d of %d: %s", i, n, name, step, len(STEPS), STEPS[step - 1])

METRICS = metric_names(10)
HIGHER_IS_BETTER = {m: higher_is_better(m) for m in METRICS}


def default_models() -> list[str]:
    """The offline models that embed the bundled set in a few minutes here (slow ones are opt-in)."""
    return [m for m in available_models() if m not in SLOW_MODELS]


def expand_models(names: Sequence[str] | None) -> list[str]:
    """Model ids from a user's list: None or empty gives `default_models()`; `all` adds every offline model."""
    names = [n.strip() for n in (names or []) if n.strip()] or default_models()
    if "all" in names:
        names = [m for m in names if m != "all"] + [m for m in (*default_models(), *SLOW_MODELS) if m not in names]
    out: list[str] = []
    for name in names:  # a fused model is compared beside its parts: those not named run just before it
        out += [p for p in fused_parts(name) if p not in names and p not in out] + [name]
    return out


def fused_parts(name: str) -> list[str]:
    """The models a `fusion:models=a+b,...` name fuses, as the registry parses it (empty for any other name)."""
    if not name.lower().startswith("fusion:"):
        return []
    return [p for p in part_names(EMBEDDERS.parse(name).argument.split(",")[0]) if p]


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
    """Per pipeline name (its spec), the scored run."""
    confusion: pd.DataFrame | None = None
    showcase: dict[str, list] = field(default_factory=dict)
    holdout: list = field(default_factory=list)
    """`HoldoutResult`s of the pipelines that learn from labels (leave-labels-out; see `evaluate/holdout.py`)."""
    map_data: object | None = None
    base: str | None = None
    """The model a fine-tuned model (`clusterank finetune`) was trained from, per its card; None for others."""
    audit: object | None = None
    """The bias audit of its pipelines (`evaluate.audit.Audit`) when `compare_models` got `audit_groups`."""
    blind: tuple[str, ...] = ()
    """The personal fields its profiles' texts left out (`compare_models(blind_corpus=...)`); () for plain texts."""


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
    skipped: int = 0
    """Queries left out because no profile is relevant to them (`skip_unanswerable`)."""
    machine: str = field(default_factory=lambda: f"{platform.machine()}, {os.cpu_count()} cores")
    query_langs: list[str] = field(default_factory=list)
    """The language of each scored query (`query_languages`: the `lang` column, else detected); empty: unknown."""
    notes: list[str] = field(default_factory=list)
    """Lines the report shows first among its notes (a judged comparison: where its relevance came from)."""

    def per_query_frame(self) -> pd.DataFrame:
        """Long table of every query's metric values: model, pipeline, query id, target label, language, metrics."""
        frames = []
        for run in self.runs:
            for name, p in run.pipelines.items():
                frame = pd.DataFrame({"model": run.model, "pipeline": name, "query_id": self.query_ids,
                                      "target": self.query_labels, "lang": self.query_langs or ""})
                for m in METRICS:
                    frame[m] = p.per_query[m]
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def by_language(self, metric: str = "nDCG@10") -> pd.DataFrame:
        """Quality per query language: one row per (model, pipeline, lang) with the mean `metric` over that
        language's queries, its 95% bootstrap interval and the query count (see `evaluate/languages.py`)."""
        from clusterank.evaluate.languages import language_frame

        return language_frame(self, metric)

    def to_frame(self) -> pd.DataFrame:
        """One row per (model, pipeline), for a notebook: each metric's mean over queries with its 95% bootstrap
        interval (`<metric>_low`, `<metric>_high`), and the model's dims, texts/s, ms per query, peak MB and $ per 1M
        texts."""
        rows = []
        for run in self.runs:
            facts = {"dims": run.dims, "texts_per_s": run.texts_per_s, "query_ms": run.query_ms,
                     "peak_mb": run.peak_mb, "cost_per_1m_texts": run.cost_per_1m_texts}
            for name, p in run.pipelines.items():
                row = {"model": run.model, "pipeline": name}
                for m in METRICS:
                    est = p.estimate(m)
                    row.update({m: est.mean, f"{m}_low": est.low, f"{m}_high": est.high})
                rows.append({**row, **facts})
        return pd.DataFrame(rows)

    def best(self, metric: str = "nDCG@10", pipeline: str = "exact") -> ModelRun:
        """The model with the highest mean `metric` on `pipeline`."""
        return max(self.runs, key=lambda r: r.pipelines[pipeline].per_query[metric].mean())

    def within_noise_of_best(self, run: ModelRun, metric: str = "nDCG@10", pipeline: str = "exact") -> bool:
        """True when `run` is not significantly different from the best (paired bootstrap over queries)."""
        best = self.best(metric, pipeline)
        if best is run:
            return True
        return within_noise(best.pipelines[pipeline].per_query[metric], run.pipelines[pipeline].per_query[metric])


def _cost_per_1m_texts(model: str, embedder, texts: Sequence[str],
                       texts_per_s: float | None) -> tuple[float | None, str | None]:
    """($ per 1M texts, its date): API list price x mean tokens (the model's tokenizer) for API models;
    for models run here, the hours 1M texts take at the measured throughput x this machine's VM price."""
    from clusterank.cost import api_price, default_prices
    from clusterank.cost.tokens import count_tokens

    if embedder.parts:  # a fused model pays for every part: API parts at list price, the others here
        priced = [_cost_per_1m_texts(p.name, p, texts, None) for p in embedder.parts]
        paid = [c for c in priced if c[0] is not None]
        machine = default_prices().machine
        here = machine.hourly_usd * 1e6 / texts_per_s / 3600 if texts_per_s and len(paid) < len(priced) else 0.0
        return sum(c for c, _ in paid) + here, max((d for _, d in paid), default=machine.date)
    model = catalog_id(model)
    price = api_price(model)
    if price is not None:
        tokens = float(np.mean(count_tokens(model, list(texts[:500]))))
        return price[0] * tokens, price[1]
    if texts_per_s:
        machine = default_prices().machine
        return machine.hourly_usd * 1e6 / texts_per_s / 3600, machine.date
    return None, None


def _confusion(rows: np.ndarray, row_labels, query_labels, near: NearMiss, top: int = 15) -> pd.DataFrame:
    """Counts of the wrong roles in each query's top 10: rows are target roles that lost at least one slot to a
    near miss (the same definition as the near-miss rate), columns the `top` most frequent wrong roles."""
    counts: dict[str, Counter] = {}
    for r, target, near_labels in zip(rows, query_labels, near.sets):
        wrong = Counter(row_labels[x] for x in r[:10] if x >= 0 and row_labels[x] != target)
        if any(w in near_labels for w in wrong):
            counts.setdefault(target, Counter()).update(wrong)
    frame = pd.DataFrame(counts).T.fillna(0).astype(int)
    if frame.empty:
        return frame
    return frame[frame.sum().sort_values(ascending=False).index[:top]].sort_index()


def _leave_labels_out(pipe: SearchPipeline, texts: Sequence[str], labels: Sequence[str],
                      scored: Mapping[str, PipelineRun], share: float) -> list:
    """Leave-labels-out for each scored pipeline whose retriever learns from labels (unreranked; `by=` specs and
    label-less kinds are skipped)."""
    from clusterank.evaluate.holdout import leave_labels_out

    out = []
    for name in scored:
        if "+" in name:  # reranked: the reranker is not what learned from the labels
            continue
        spec = RETRIEVERS.parse(name)
        kind = RETRIEVERS[spec.name]
        if not (kind.needs_labels and kind.tunable) or "by" in dict(spec.params):
            continue
        try:
            out.append(leave_labels_out(pipe, texts, labels, name, share=share))
        except ClusterankError as exc:
            log.warning("leave-labels-out of %s skipped: %s", name, exc)
    return out


def check_disjoint(train_queries: Corpus, scored: Sequence[str]) -> None:
    """Refuse training queries that are also scored queries (same text).

    Raises:
        ClusterankError: naming how many overlap and the first one's row in the training file.
    """
    scored_hashes = {text_hash(t) for t in scored}
    overlap = [i for i, t in enumerate(train_queries.texts) if text_hash(t) in scored_hashes]
    if overlap:
        raise ClusterankError(f"--train-queries {train_queries.source}: {len(overlap)} of its queries are also scored "
                              f"queries (first: row {overlap[0]}); training never sees a scored query: remove them "
                              f"from one of the files")


def compare_models(models: Sequence[str], corpus: Corpus, queries: Corpus, *, workspace: Workspace | None = None,
                   pipelines: Sequence[Pipeline | str] | None = None, n_clusters: int = DEFAULT_K,
                   parent_labels: tuple | None = None, relevant_ids: Sequence[Sequence[int]] | None = None,
                   neighbours: Mapping[str, Sequence[str]] | None = None, showcase_query: str | None = None,
                   with_maps: bool = True, progress: bool = False, skip_unanswerable: bool = False,
                   hide_labels: float = 0.2, train_queries: Corpus | None = None,
                   audit_groups: str | None = None, blind_corpus: Corpus | None = None,
                   relevance: Relevance | None = None, database: str | None = None) -> Comparison:
    """Run every model through every pipeline on the same labelled queries.

    Args:
        models: model ids (`get_embedder` names; `precomputed:<name>` reads `embeddings_<name>` columns).
        corpus: the profiles (with labels unless `relevant_ids` is given).
        queries: the job descriptions (with labels unless `relevant_ids` is given).
        workspace: where vectors and clusters are cached.
        pipelines: retriever specs or `Pipeline`s (a spec plus a reranker); see `parse_pipelines`. Default:
            exact, routed:nprobe=1, routed:nprobe=auto, and role (nested CV) when the corpus has labels.
        n_clusters: k of k-means for routing retrievers whose spec does not say, and of each model's map.
        parent_labels: (corpus parents, query parents) for partial relevance, e.g. families.
        relevant_ids: per query, explicit relevant corpus rows (override labels for that query).
        neighbours: label -> confusable labels, for near-miss rates and the confusion matrix, when known (the
            bundled set's); otherwise derived from the parent labels, or from exact search's confusions.
        showcase_query: the query whose top 10 is shown with exact, routed and role-aware search (default: the
            first query).
        with_maps: build each model's 2-D cluster map for the report.
        progress: progress bars with ETA while embedding.
        train_queries: labelled job descriptions that `prior` and `adapter` train on beside the corpus rows; none
            may be a scored query (their texts are checked).
        database: the PostgreSQL URL `pgvector` pipelines keep the vectors in (None: `CLUSTERANK_DB`).
        skip_unanswerable: leave out queries with no relevant profile (counted in `Comparison.skipped`)
            instead of refusing them.
        hide_labels: for every pipeline whose retriever learns from labels (a tunable kind that reads them:
            role, prior, adapter), the share of labels leave-labels-out hides (0: no such check).
        audit_groups: a group column (or two, `a,b`) to audit each model's pipelines by (`ModelRun.audit`; see
            `evaluate/audit.py`): impact ratios at top 30 of the rows each pipeline was scored with.
        blind_corpus: the same profiles with personal fields left out of their texts (`load_profiles(blind=...)`):
            each model also runs on it, named `<model> (blind: names)`, beside its run on `corpus`.
        relevance: gains to score with instead of labels or ids (`evaluate.judged` passes an empty one and grades
            the pooled rows afterwards).

    Raises:
        ClusterankError: no models, unknown model, a query with no relevant profile (unless skipped),
            mismatched dims.
    """
    if not models:
        raise ClusterankError("no models to compare")
    workspace = workspace or Workspace.default()
    if audit_groups:  # a missing group column fails before anything is embedded
        from clusterank.evaluate.audit import audit_scored, group_values

        group_values(corpus.frame, audit_groups, corpus.source)
    if pipelines is None:
        pipelines = COMPARE_PIPELINES + (LABELLED_PIPELINES if corpus.labels is not None else ())
    rel = relevance or build_relevance(len(corpus), corpus.labels, queries.labels,
                          parent_labels[0] if parent_labels else None, parent_labels[1] if parent_labels else None,
                          relevant_ids, source=queries.source, drop_unscorable=skip_unanswerable)
    kept = rel.scored
    langs = query_languages(queries)  # an empty or contradicted `lang` fails here, before anything is embedded
    labels = [queries.labels[i] for i in kept] if queries.labels is not None else None
    showcase_query = showcase_query or queries.texts[kept[0]]
    scored_texts = [queries.texts[i] for i in kept]
    if train_queries is not None:
        check_disjoint(train_queries, scored_texts)
    for name in models:  # a fine-tuned model is never scored on a query it was trained on
        check_not_trained_on(name, scored_texts, workspace)
    runs = []
    variants = [(name, corpus, name) for name in models]
    if blind_corpus is not None:  # each model also on the blind texts, its run beside the plain one
        if len(blind_corpus) != len(corpus) or blind_corpus.ids != corpus.ids:
            raise ClusterankError(f"the blind corpus ({blind_corpus.source}) is not the same profiles as "
                                  f"{corpus.source}")
        shown = f" (blind: {', '.join(blind_corpus.blind) or 'none'})"
        variants = [v for name in models for v in ((name, corpus, name), (name, blind_corpus, name + shown))]
    for i, (name, profiles, shown) in enumerate(variants, start=1):
        log.info("model %d of %d: %s", i, len(variants), shown)
        _step(i, len(variants), shown, 1)
        # peak memory: loading the model, a 64-text throughput sample and five single queries - the same
        # work whether or not the profiles are already cached, so cold and warm runs report the same thing
        sample = [profiles.texts[j] for j in np.linspace(0, len(profiles) - 1, min(64, len(profiles))).astype(int)]
        with PeakMemory() as mem:
            embedder = get_embedder(name, workspace, tables=(profiles, queries))
            computes = embedder.computes
            texts_per_s = None
            if computes:  # API models are paid per call: one pass over the sample, not a second of repeats
                texts_per_s = measure_throughput(embedder, sample, min_seconds=0 if embedder.paid else 1.0)
                measure_query_ms(embedder, showcase_query)  # the memory of answering single queries counts
        _step(i, len(variants), shown, 2)
        pipe = SearchPipeline(profiles, embedder, workspace=workspace, progress=progress, n_clusters=n_clusters,
                              train_queries=train_queries, database=database)
        exact = pipe.retriever("exact")
        query_ms = (measure_query_ms(embedder, showcase_query,
                                     lambda v: exact.search(v / np.linalg.norm(v, axis=1, keepdims=True), 10))
                    if computes else None)
        _step(i, len(variants), shown, 3)
        scored = evaluate_pipelines(pipe, queries.texts, rel, pipelines, query_labels=queries.labels,
                                    neighbours=neighbours, parents=parent_labels)
        model = pipe.clusters()
        facts = CATALOG.get(catalog_id(name))
        run = ModelRun(shown, embedder.dims, facts.params_m if facts else None,
                       texts_per_s, query_ms, mem.delta_mb,
                       *_cost_per_1m_texts(name, embedder, profiles.texts, texts_per_s),
                       routing_accuracy=first_cluster_accuracy(pipe, queries.texts, queries.labels, rel),
                       cluster_nmi=(cluster_agreement(model.labels, profiles.labels)["nmi"]
                                    if profiles.labels is not None else float("nan")), pipelines=scored)
        run.base, run.blind = (finetune_card(name, workspace) or {}).get("base"), profiles.blind
        if audit_groups:
            run.audit = audit_scored(pipe, scored_texts, labels, audit_groups, scored)
        first_run = next(iter(scored.values()))
        if first_run.near_miss is not None:
            run.confusion = _confusion(first_run.rows, profiles.labels, labels, first_run.near_miss)
        _step(i, len(variants), shown, 4)
        requested = {key.split(" + ")[0] for key in scored}
        for spec in SHOWCASE_PIPELINES:  # exact, and those of the others that were asked for
            if spec != "exact" and canonical_spec(spec) not in requested:
                continue
            if profiles.labels is None and retriever_type(spec).needs_labels:
                continue
            try:
                run.showcase[spec] = pipe.search(showcase_query, 10, retriever=spec)
            except ClusterankError as exc:  # labels too few to learn from: the showcase goes without it
                log.warning("showcase without %s: %s", spec, exc)
        _step(i, len(variants), shown, 5)
        if hide_labels and profiles.labels is not None and labels is not None:
            run.holdout = _leave_labels_out(pipe, [queries.texts[j] for j in kept], labels, scored, hide_labels)
        _step(i, len(variants), shown, 6)
        if with_maps:
            from clusterank.cluster.map import build_map

            run.map_data = build_map(pipe, queries=[showcase_query])
        runs.append(run)
    ids = [queries.ids[j] for j in kept]
    return Comparison(runs, ids, list(labels or [""] * len(kept)), corpus.source, queries.source, len(corpus),
                      showcase_query, skipped=len(queries) - len(kept), query_langs=[langs[j] for j in kept])
