"""What the server holds and does: one corpus, a search pipeline per served model (and with `--blind-toggle`, a
name-blind copy of the corpus with its own pipelines, clusters and map), the embedders and rerankers built on
first use, and one lock around them (models and the SQLite store are used by one
request at a time per process; several processes share the store through its own locking).

Every operation is a call into the library (`SearchPipeline`, `EmbeddingStore`, `get_reranker`); the
routes in `app.py` only translate HTTP to these calls and back.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from clusterank import (CATALOG, DEFAULT_RETRIEVER, ClusterankError, Embedder, Hit, Reranker, SearchPipeline,
                        Workspace, available_models, bundled_profiles, canonical_spec, describe_clusters, detect_language,
                        fit_projection, get_embedder, get_reranker, group_columns, load_profiles, page_specs, preview,
                        relevance_in_unit, truncation_summary, using_device)
from clusterank import explain
from clusterank.server.config import ServerConfig
from clusterank.server.errors import ApiError
from clusterank.server.faults import Faults
from clusterank.server.metrics import Metrics

log = logging.getLogger("clusterank.server")
WEAK_PAIRS = 2000
"""Random pairs of profiles whose cosines set a model's weak-match floor (see `Engine.match`)."""
WEAK_PERCENTILE = 1.0
"""The floor is this percentile of those cosines: a best hit below it is less like the job description than 99%
of random pairs of profiles are like each other."""


@dataclass
class Embedded:
    """Vectors for one `/v1/embeddings` request: L2-normalised float32, the tokens read, the cache hits."""

    vectors: np.ndarray
    tokens: int
    cached: int


class Engine:
    """The state of one server process (see the module docstring)."""

    def __init__(self, config: ServerConfig, *, progress: bool = False):
        self.config = config
        self.workspace = config.open_workspace()
        load = lambda blind: (load_profiles(config.corpus, text_column=config.text_column, blind=blind,
                                            label_column=config.label_column) if config.corpus
                              else bundled_profiles(blind=blind))
        self.corpus = load(config.blind)
        self.lock = threading.RLock()
        self.metrics = Metrics()
        self.faults = Faults(config.faults, config.fault_seed, config.fault_slow_s)
        self.pipelines: dict[str, SearchPipeline] = {}
        for model in config.models:
            pipe = SearchPipeline(self.corpus, model, workspace=self.workspace, progress=progress,
                                  device=config.device, database=config.db or None)  # --db: pgvector's too
            self.pipelines[pipe.embedder.name] = pipe
        # `--blind-toggle`: the same profiles without those fields, embedded by the same models (the same objects)
        blind = load(config.toggle_fields()) if config.blind_toggle else None
        self.blind_pipelines = {name: SearchPipeline(blind, pipe.embedder, workspace=self.workspace, progress=progress,
                                                     database=pipe.database) for name, pipe in self.pipelines.items()
                                if blind is not None}
        # each pipeline's k-means clusters (the map's, the hits' tags, the filter's): fitted once, kept on disk
        every = [*self.pipelines.values(), *self.blind_pipelines.values()]
        self.cluster_labels = {p: p.clusters().labels for p in every}
        self.default_model = next(iter(self.pipelines))
        self.retrievers = self._build_retrievers()
        self.store = self.pipelines[self.default_model].store
        self.offline_models = available_models()  # installed packages do not change while the server runs
        self._embedders: dict[str, Embedder] = {name: p.embedder for name, p in self.pipelines.items()}
        self._rerankers: dict[str, Reranker] = {}
        # per search pipeline (plain and name-blind): its map, its 2-D projection and every row's coordinates
        # (fitted on first use), its cluster names and its weak-match floor
        self._maps: dict = {}
        self._fits: dict = {}
        self._names: dict[SearchPipeline, dict[int, str]] = {}
        self._floors: dict[SearchPipeline, float] = {}
        self.started = time.time()

    def _build_retrievers(self) -> list[str]:
        """Every retriever spec `/v1/search` offers, built now for each served model (k-means fits, codebooks), so
        that no request can order such work; a bad spec stops the start with its error."""
        specs = list(self.config.retrievers or page_specs(labelled=self.corpus.labels is not None))
        for pipe in self.cluster_labels:
            specs += [s for s in (pipe.saved.specs if pipe.saved is not None else ()) if s not in specs]
        if DEFAULT_RETRIEVER not in specs:
            specs.insert(0, DEFAULT_RETRIEVER)
        offered: dict[str, str] = {}
        for spec in specs:
            try:
                offered.setdefault(canonical_spec(spec), spec)
                for pipe in self.cluster_labels:  # the name-blind pipelines' too
                    pipe.retriever(spec)
            except ClusterankError as exc:
                raise ClusterankError(f"--retriever {spec}: {exc}") from None
        self._offered = offered
        return list(offered.values())

    def offered_retriever(self, spec: str) -> str:
        """The spec as this server built it.

        Raises:
            ApiError: 400 for a malformed spec, or one this server does not offer (the message lists those it does).
        """
        try:
            key = canonical_spec(spec)
        except ClusterankError as exc:
            raise ApiError(400, str(exc), param="retriever") from None
        if key not in self._offered:
            raise ApiError(400, f"retriever {spec!r} is not offered by this server; retrievers: "
                                f"{', '.join(self.retrievers)} (start it with --retriever {spec} to offer it)",
                           param="retriever")
        return self._offered[key]

    # ---- models

    def embeddable(self) -> list[str]:
        """Models `/v1/embeddings` serves: the search models, then every offline model installed here."""
        return list(dict.fromkeys([*self.pipelines, *self.offline_models]))

    def embedder(self, model: str) -> Embedder:
        """The embedder for a served model, built on first use.

        Raises:
            ApiError: 404 for a model this server does not serve, 503 when it cannot be loaded.
        """
        if model not in self._embedders:
            if model not in self.embeddable():
                raise ApiError(404, f"model {model!r} is not served here; models: {', '.join(self.embeddable())}",
                               param="model", code="model_not_found")
            try:
                self._embedders[model] = get_embedder(model, self.workspace, device=self.config.device)
            except ClusterankError as exc:
                raise ApiError(503, f"model {model!r} cannot be loaded: {exc}", param="model") from None
        return self._embedders[model]

    def model_cards(self) -> list[dict]:
        """`/v1/models` entries: OpenAI's fields plus dims, token limit and whether search is served."""
        cards = []
        for name in self.embeddable():
            info = CATALOG.get(name)
            loaded = self._embedders.get(name)
            cards.append({"id": name, "object": "model", "created": int(self.started), "owned_by": "clusterank",
                          "dims": loaded.dims if loaded else info.dims if info else None,
                          "max_tokens": loaded.max_tokens if loaded else info.max_tokens if info else None,
                          "truncatable": bool(info and info.truncatable),
                          "search": name in self.pipelines})
        return cards

    # ---- embeddings

    def embed(self, model: str, texts: list[str], dimensions: int | None = None, query: bool = False) -> Embedded:
        """Vectors for `texts` from the cache, embedding (and caching) only the new ones; `query`: the texts are job
        descriptions, embedded by an asymmetric model's query side (E5's `query:`), else as profiles.

        Raises:
            ApiError: unknown model (404), `dimensions` the model cannot give (400).
        """
        embedder = self.embedder(model).for_queries() if query else self.embedder(model)
        if dimensions is not None:
            if dimensions > embedder.dims:
                raise ApiError(400, f"dimensions={dimensions} is more than {model!r} has ({embedder.dims})",
                               param="dimensions")
            facts = CATALOG.get(model)
            if not (facts and facts.truncatable):
                raise ApiError(400, f"model {model!r} does not support `dimensions` (its vectors are not ordered "
                                    "by importance, so cutting them would lose meaning)", param="dimensions")
        with self.lock:
            hits: list[int] = []
            with truncation_summary(quiet=True):
                vectors = self.store.embed(embedder, texts, what="input", cached=hits)
            # usage is counted one way for every text, cached or not, so the same request always reports the same
            tokens = self._count_tokens(embedder, texts)
            cached = len(hits)
        if dimensions is not None and dimensions < vectors.shape[1]:
            vectors = vectors[:, :dimensions]
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.metrics.embedded(model, len(texts), cached)
        return Embedded(vectors, tokens, cached)

    @staticmethod
    def _count_tokens(embedder: Embedder, texts: list[str]) -> int:
        """Tokens of texts as `usage` reports them: the model's own count up to its limit (words without a tokenizer)."""
        return int(np.minimum(embedder.count_tokens(texts), embedder.max_tokens).sum())

    # ---- search

    def pipeline(self, model: str | None, blind: bool = False) -> SearchPipeline:
        """The search pipeline of a served model (None: the default one); `blind`: of the name-blind corpus.

        Raises:
            ApiError: 404 when `/v1/search` does not serve that model; 400 (`blind`) when the server was started
                without `--blind-toggle`.
        """
        name = model or self.default_model
        if name not in self.pipelines:
            raise ApiError(404, f"model {name!r} has no search index here; search models: {', '.join(self.pipelines)}"
                                " (start the server with --model to add one)", param="model", code="model_not_found")
        if blind and not self.blind_pipelines:
            raise ApiError(400, "this server offers no name-blind corpus (start it with --blind-toggle names to offer "
                                "one); send blind: false or leave it out", param="blind")
        return (self.blind_pipelines if blind else self.pipelines)[name]

    def offered_rerankers(self) -> list[str]:
        """Rerankers this server allows: `none`, `rescore:<served model>`, and those named at start-up."""
        return ["none", *(f"rescore:{m}" for m in self.embeddable()), *self.config.rerankers]

    def reranker(self, name: str) -> Reranker:
        """A reranker this server allows (`offered_rerankers`), built on first use.

        Raises:
            ApiError: 400 for a reranker not allowed here (the message lists those that are).
        """
        allowed = self.offered_rerankers()
        if name not in allowed:
            raise ApiError(400, f"reranker {name!r} is not offered here; rerankers: {', '.join(allowed)}",
                           param="reranker")
        if name not in self._rerankers:
            try:
                with using_device(self.config.device):  # a rescore:<model> reranker's model runs there too
                    self._rerankers[name] = get_reranker(name, workspace=self.workspace)
            except ClusterankError as exc:
                raise ApiError(503, f"reranker {name!r} cannot be loaded: {exc}", param="reranker") from None
        return self._rerankers[name]

    def search(self, *, query: str | None, vector: list[float] | None, model: str | None, retriever: str, k: int,
               reranker: str | None, rerank_top_n: int, filters: dict | None, return_text: bool,
               explain_hits: bool = False, blind: bool = False) -> dict:
        """One `/v1/search`: embed (or take the vector), retrieve, rerank; hits and the time of each stage (and with
        `explain_hits`, each hit's `explain`); `blind`: over the name-blind corpus (`--blind-toggle`)."""
        pipe = self.pipeline(model, blind)
        rerank = self.reranker(reranker) if reranker and reranker != "none" else None
        if rerank is not None and not query:
            raise ApiError(400, "a reranker reads the job description: send `query`, not only `vector`",
                           param="reranker")
        retriever = self.offered_retriever(retriever)
        with self.lock:
            try:
                pipe.filter_mask(filters)
            except ClusterankError as exc:
                raise ApiError(400, str(exc), param="filters") from None
            if not query and len(vector) != pipe.vectors.shape[1]:
                raise ApiError(400, f"`vector` has {len(vector)} numbers; {pipe.embedder.name} vectors have "
                                    f"{pipe.vectors.shape[1]}", param="vector")
            result = pipe.run(query or None, k, vector=None if query else vector, retriever=retriever,
                              reranker=rerank, rerank_top=rerank_top_n, filters=filters)
            # the map places what was sent: the job description's vector, or the `vector` as given
            point = result.vector[None] if query else np.asarray([vector], dtype=np.float32)
            where = self._fit(pipe)[0].transform(point)[0].tolist()
            match = self.match(pipe, result.vector, [h.cosine for h in result.hits])
            why = explain(pipe, query, result.hits, retriever) if explain_hits and query else None
        labels, names = self.cluster_labels[pipe], self.cluster_names(pipe)
        out = []
        for hit in result.hits:
            item = {**hit.as_json(), **pipe.corpus.card(hit.row)}  # name-blind: `profile <id>`, not the name
            if item["cluster"] is None:
                item["cluster"] = int(labels[hit.row])
            # the map's k-means cluster and its name (`cluster` may be the routing retriever's own group)
            item["map_cluster"] = int(labels[hit.row])
            item["cluster_name"] = names.get(item["map_cluster"], "")
            if return_text:
                item["text"] = hit.text
            if why is not None:
                item["explain"] = why[len(out)]
            out.append(item)
        return {"object": "search", "model": pipe.embedder.name, "retriever": retriever, "blind": blind,
                "reranker": reranker or "none", "k": k, "hits": out, "map_xy": where, "match": match,
                "lang": detect_language(query) if query else None,  # approximate: the page shows it
                "timings_ms": {f"{stage}_ms": round(seconds * 1000, 3) for stage, seconds in result.timings.items()}}

    # ---- the web page's data

    def _fit(self, pipe: SearchPipeline) -> tuple:
        """The map's 2-D projection of a search model (PCA as the seed's), fitted on first use (a search places its
        query with it before the page asks for the map) and kept."""
        with self.lock:
            if pipe not in self._fits:
                self._fits[pipe] = fit_projection(pipe.vectors, "pca", seed=pipe.seed)
            return self._fits[pipe]

    def cluster_names(self, pipe: SearchPipeline) -> dict[int, str]:
        """cluster -> its name (`ClusterSummary.label`): the one naming the hits, the profiles and the map use."""
        with self.lock:
            if pipe not in self._names:
                self._names[pipe] = {s.cluster: s.label for s in describe_clusters(pipe.clusters(), pipe.corpus)}
            return self._names[pipe]

    def match(self, pipe: SearchPipeline, vector: np.ndarray, cosines: list[float]) -> dict:
        """How close the best hit is, against what closeness means in this corpus under this model.

        `floor` is the `WEAK_PERCENTILE` percentile of the cosines of `WEAK_PAIRS` random pairs of profiles (fixed
        seed, computed once per model); `weak` when the best hit's cosine is below it, that is, when the best profile
        is less like the job description than 99% of random pairs of profiles are like each other: nothing here is
        close to the query. `median` is the query's median cosine over (a sample of at most 5,000 of) the profiles.
        """
        vectors = pipe.vectors
        rng = np.random.default_rng(0)
        if pipe not in self._floors:
            a, b = rng.integers(0, len(vectors), (2, WEAK_PAIRS))
            keep = a != b
            pairs = np.einsum("ij,ij->i", vectors[a[keep]], vectors[b[keep]])
            self._floors[pipe] = float(np.percentile(pairs, WEAK_PERCENTILE)) if len(pairs) else -1.0
        floor = self._floors[pipe]
        sample = vectors if len(vectors) <= 5000 else vectors[np.sort(rng.choice(len(vectors), 5000, replace=False))]
        best = max(cosines) if cosines else None
        return {"best": None if best is None else round(best, 6), "floor": round(floor, 6),
                "median": round(float(np.median(sample @ np.asarray(vector, np.float32))), 6),
                "weak": best is not None and best < floor}

    def map_json(self, model: str | None, blind: bool = False) -> dict:
        """The 2-D map of the corpus (`blind`: the name-blind one) under a search model (built once per process,
        PCA as the seed)."""
        from clusterank import build_map

        pipe = self.pipeline(model, blind)
        with self.lock:
            if pipe not in self._maps:
                self._maps[pipe] = build_map(pipe, n_clusters=pipe.n_clusters, seed=pipe.seed, fitted=self._fit(pipe))
            return self._maps[pipe].to_json()

    def audit_json(self, group: str, model: str | None = None, retriever: str = DEFAULT_RETRIEVER, k: int = 30,
                   blind: bool = False) -> dict:
        """`/v1/audit`: the bias audit (`audit_pipelines`) of a served model and retriever (`blind`: over the
        name-blind corpus) by a corpus group column (two, `a,b`: intersections), over the bundled job descriptions;
        a missing column is a 400 naming those there are."""
        from clusterank import audit_pipelines, bundled_queries

        pipe = self.pipeline(model, blind)
        if not 1 <= k <= 100:
            raise ApiError(400, f"k must be 1 to 100, got {k}", param="k")
        with self.lock:
            return audit_pipelines(pipe, bundled_queries(), group, [retriever], k, n_boot=1000).to_json()

    def profile(self, row: int, model: str | None = None, blind: bool = False, id: str | None = None) -> dict:
        """One whole profile (`blind`: its name-blind text and name): its text, other columns, role and cluster;
        `id`: the profile's id as a search gave it, which wins where the corpus was refreshed since (rows move).

        Raises:
            ApiError: 404 for a row outside the corpus, or an id no longer in it.
        """
        if id is not None and not (0 <= row < len(self.corpus) and self.corpus.ids[row] == id):
            try:
                row = self.corpus.ids.index(id)
            except ValueError:
                raise ApiError(404, f"no profile with id {id!r}: it left the corpus when it was last refreshed",
                               param="id") from None
        if not 0 <= row < len(self.corpus):
            raise ApiError(404, f"no profile {row}: rows are 0 to {len(self.corpus) - 1}", param="row")
        pipe = self.pipeline(model, blind)
        corpus, cluster = pipe.corpus, int(self.cluster_labels[pipe][row])
        return {"row": row, "id": corpus.ids[row], "role": corpus.label(row), "cluster": cluster,
                "cluster_name": self.cluster_names(pipe).get(cluster, ""), "text": corpus.texts[row],
                "fields": corpus.fields(row), **corpus.card(row)}

    def options(self, blind: bool = False) -> dict:
        """What the page's choosers offer: models, retrievers, rerankers, filter values and the example query;
        `blind_toggle`: the fields the name-blind corpus leaves out ([]: none offered); `blind`: the clusters (and
        corpus line) are the name-blind corpus'."""
        from clusterank import DEMO_QUERY, RETRIEVERS

        pipe = self.pipeline(None, blind)
        roles = sorted({x for x in (self.corpus.labels or []) if x})
        families = (sorted({x for x in pipe.column("family") if x})
                    if self.corpus.frame is not None and "family" in self.corpus.frame.columns else [])
        return {"models": list(self.pipelines), "default_model": self.default_model,
                "retrievers": self.retrievers, "retriever_kinds": sorted(RETRIEVERS),
                "default_retriever": DEFAULT_RETRIEVER,
                "rerankers": self.offered_rerankers(),
                "roles": roles, "families": families,
                "clusters": sorted({int(c) for c in self.cluster_labels[pipe]}),
                "cluster_names": {str(c): name for c, name in self.cluster_names(pipe).items()},
                "blind_toggle": list(self.config.toggle_fields()), "blind": blind,
                "example": DEMO_QUERY, "profiles": len(self.corpus), "corpus": pipe.corpus.source,
                "compare_models": self.offline_models, "can_compare": self.corpus.labels is not None,
                "group_columns": group_columns(self.corpus.frame),
                "reports": {kind: self.workspace.latest_report_path(kind).exists() for kind in Workspace.REPORT_KINDS}}

    # ---- rerank

    def rerank(self, name: str, query: str, documents: list[str]) -> list[tuple[int, float]]:
        """(document index, relevance score) best first, for `/v1/rerank`. Rerankers whose scores are not
        relevances (`relevance_scores` false: a pairwise LLM judge's win counts) get 1 - (rank - 1) / n."""
        reranker = self.reranker(name)
        hits = [Hit(i + 1, i, str(i), 0.0, None, preview(doc), text=doc) for i, doc in enumerate(documents)]
        with self.lock:
            ranked = reranker.rerank(query, hits)
        n = len(ranked)
        own = reranker.relevance_scores
        return [(h.row, relevance_in_unit(float(h.rerank_score), reranker.score_range)
                 if own and h.rerank_score is not None else 1 - i / n) for i, h in enumerate(ranked)]
