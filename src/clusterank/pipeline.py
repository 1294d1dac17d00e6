"""One query's journey: embed the corpus once (cached), embed the job description, retrieve, rerank.

`SearchPipeline` is what the CLI, the demo, the evaluator and the map call. The retriever is named by a
spec string (`exact`, `routed:nprobe=auto`; see `clusterank.index.RETRIEVERS`) and built once per pipeline;
each stage is a public object (Embedder, EmbeddingStore, Retriever, Reranker) a Python user can use alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from clusterank.cluster.kmeans import ClusterModel, check_k, choose_k, corpus_key, fit_kmeans, parse_k
from clusterank.data.loaders import Corpus
from clusterank.defaults import DEFAULT_K, DEFAULT_MODEL, DEFAULT_RETRIEVER, DEFAULT_SEED
from clusterank.embed import Embedder, get_embedder
from clusterank.embed.base import query_embedder
from clusterank.embed.store import EmbeddingStore, normalise, text_hash
from clusterank.errors import ClusterankError
from clusterank.index import Retriever, SearchContext, TopK, build_retriever, canonical_spec
from clusterank.index.hits import Hit, make_hits
from clusterank.index.persist import SavedIndex, check_saveable
from clusterank.rerank import base as reranking
from clusterank.rerank.base import Reranker
from clusterank.workspace import Workspace

log = logging.getLogger(__name__)


class SearchPipeline:
    """Semantic search over one corpus with one embedding model, through any registered retriever.

    Args:
        corpus: the profiles.
        model: a model id for `get_embedder` (`precomputed:<name>` reads the corpus' `embeddings_<name>`
            column), or an Embedder.
        workspace: where vectors and clusters are cached (default `Workspace.default()`).
        progress: show progress bars while embedding.
        n_clusters: k of k-means for retrievers that route and whose spec does not say (`--clusters`).
        seed: the k-means seed (the seed's `random_state=42`).
        use_saved_index: start from the saved index of this model and corpus when there is one (`save_index`,
            `clusterank index build`): vectors memory-mapped instead of read from the store, and brought up to
            date by profile id when the corpus changed.
        device: where a model named by id runs: auto | cpu | cuda (see `get_embedder`; None: auto).
    """

    def __init__(self, corpus: Corpus, model: str | Embedder = DEFAULT_MODEL, *,
                 workspace: Workspace | None = None, progress: bool = False, n_clusters: int = DEFAULT_K,
                 seed: int = DEFAULT_SEED, use_saved_index: bool = True, device: str | None = None):
        self.corpus = corpus
        self.workspace = workspace or Workspace.default()
        self.embedder = (get_embedder(model, self.workspace, tables=(corpus,), device=device)
                         if isinstance(model, str) else model)
        self.store = EmbeddingStore(self.workspace.store_path)
        self.progress = progress
        self.n_clusters, self.seed = n_clusters, seed
        self.hashes = [text_hash(t) for t in corpus.texts]
        self.corpus_key = corpus_key(self.hashes)
        self.saved = self._open_saved_index() if use_saved_index else None
        self.vectors = (self.saved.corpus_vectors() if self.saved is not None
                        else self.store.embed(self.embedder, corpus.texts, progress=progress,
                                              what=f"profiles of {corpus.source}"))
        self.k_scores: dict[int, float] = {}
        self._retrievers: dict[str, Retriever] = {}

    def clusters(self, n_clusters: int | str | None = None, seed: int | None = None) -> ClusterModel:
        """The k-means model of this corpus and embedding model, fitted once and kept in the workspace.

        Args:
            n_clusters: k (default: the pipeline's), or "auto" to pick k by silhouette (the scores land in
                `self.k_scores`).
            seed: the k-means seed (default: the pipeline's).
        """
        n_clusters = parse_k(self.n_clusters if n_clusters is None else n_clusters)
        seed = self.seed if seed is None else seed
        if n_clusters == "auto":
            n_clusters, self.k_scores = choose_k(self.vectors, seed=seed)
        check_k(n_clusters, len(self.vectors))
        path = self.workspace.cluster_path(self.embedder.name, self.corpus_key, n_clusters, seed)
        if path.exists():
            return ClusterModel.load(path)
        model = fit_kmeans(self.vectors, n_clusters, seed=seed, corpus_key=self.corpus_key)
        model.save(path)
        return model

    def retriever(self, spec: str = DEFAULT_RETRIEVER) -> Retriever:
        """The retriever a spec names over this corpus (built once per pipeline and spec).

        Raises:
            ClusterankError: unknown retriever or parameter, or a bad value.
        """
        key = canonical_spec(spec)
        if key not in self._retrievers and self.saved is not None and key in self.saved.specs:
            self._retrievers[key] = self.saved.corpus_retriever(key)
        if key not in self._retrievers:
            context = SearchContext(self.vectors, lambda k: self.clusters(k), default_k=self.n_clusters,
                                    labels=self.corpus.labels, tuning_file=self.tuning_path, column=self.column)
            self._retrievers[key] = build_retriever(spec, context)
        return self._retrievers[key]

    @property
    def corpus_name(self) -> str:
        """The corpus source as a saved index records it (a file's absolute path)."""
        source = Path(self.corpus.source)
        return str(source.resolve()) if source.exists() else self.corpus.source

    @property
    def profile_ids(self) -> list[str]:
        """What identifies a profile in a saved index: the `id` column, or "" (the text alone) when there is none,
        since row numbers shift when a profile is removed."""
        frame = self.corpus.frame
        return list(self.corpus.ids) if frame is not None and "id" in frame.columns else [""] * len(self.corpus)

    @property
    def index_path(self) -> Path:
        """Where this model's saved index of this corpus lives (whether or not it was built)."""
        return self.workspace.index_dir(self.embedder.name, self.corpus_name)

    def _open_saved_index(self) -> SavedIndex | None:
        if not (self.index_path / "meta.json").exists():
            return None
        saved = SavedIndex.open(self.index_path, model=self.embedder.name, corpus=self.corpus_name)
        if saved.fingerprint != self.corpus_key:
            log.warning("the saved index %s is stale (its corpus changed); bringing it up to date", self.index_path)
            changes = saved.update(self.profile_ids, self.hashes, self.corpus_key, self._embed_rows)
            log.warning("saved index %s", changes)
        return saved

    def _embed_rows(self, rows: Sequence[int]) -> np.ndarray:
        return self.store.embed(self.embedder, [self.corpus.texts[r] for r in rows], progress=self.progress,
                                what="new profiles")

    def save_index(self, specs: Sequence[str] = ("exact",), *, rebuild: bool = False) -> SavedIndex:
        """Save this corpus' vectors, and compressed retrievers over them, as an index the next start opens.

        Args:
            specs: retrievers to save besides the vectors (`binary:rescore=4`, `int8`, `ivfpq`); `exact` is the
                vectors themselves.
            rebuild: write it anew even if one exists (a corrupt or unwanted index).

        Raises:
            ClusterankError: a retriever kind that cannot be saved (routed and role-aware ones).
        """
        keys = [check_saveable(spec) for spec in specs]
        if rebuild or self.saved is None:
            self.saved = SavedIndex.create(self.index_path, model=self.embedder.name, corpus=self.corpus_name,
                                           fingerprint=self.corpus_key, vectors=self.vectors, ids=self.profile_ids,
                                           hashes=self.hashes)
        for key in keys:
            self.saved.add_retriever(key)  # `exact` is the saved vectors: nothing to add
        self._retrievers.clear()
        return self.saved

    def column(self, name: str) -> list[str | None]:
        """Another column of the corpus as text (None where empty), e.g. a coarser label for role-aware search.

        Raises:
            ClusterankError: the corpus has no such column (the message lists the ones it has).
        """
        frame = self.corpus.frame
        if frame is None or name not in frame.columns:
            have = ", ".join(map(str, frame.columns)) if frame is not None else "none"
            raise ClusterankError(f"{self.corpus.source}: no column {name!r} to group by; columns are: {have}")
        return [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in frame[name]]

    @property
    def tuning_path(self) -> Path:
        """Where `clusterank tune` stores the parameters it chose for this corpus and model."""
        return self.workspace.tuning_path(self.embedder.name, self.corpus_key)

    def tuned(self) -> dict[str, dict[str, float]]:
        """Parameters chosen by `clusterank tune` for this corpus and model, per retriever kind ({} if none).

        Raises:
            ClusterankError: a damaged tuning file (named, with what to do).
        """
        from clusterank.index.grouped import load_tuned

        return load_tuned(self.tuning_path)

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors for job descriptions (cached like profiles)."""
        return self.store.embed(query_embedder(self.embedder), list(queries), what="queries")

    def search(self, query: str, k: int = 10, *, retriever: str = DEFAULT_RETRIEVER,
               reranker: Reranker | None = None, rerank_top: int = 20,
               filters: Mapping[str, object] | None = None) -> list[Hit]:
        """The k profiles most similar to one job description, best first (see `search_many`)."""
        if not isinstance(query, str) or not query.strip():
            raise ClusterankError("the job description is empty")
        return self.search_many([query], k, retriever=retriever, reranker=reranker, rerank_top=rerank_top,
                                filters=filters)[0]

    def search_many(self, queries: Sequence[str], k: int = 10, *, retriever: str = DEFAULT_RETRIEVER,
                    reranker: Reranker | None = None, rerank_top: int = 20,
                    filters: Mapping[str, object] | None = None) -> list[list[Hit]]:
        """The k most similar profiles for each job description (one batched search).

        Args:
            queries: job descriptions.
            k: hits per query.
            retriever: a retriever spec: `exact`, `routed:nprobe=1` (the seed's method), `routed:nprobe=auto`, ...
            reranker: a `Reranker` for the last stage (None: retrieval order).
            rerank_top: how many retrieved hits the reranker reorders; the rest follow in retrieval order.
            filters: keep only profiles matching every entry (see `filter_mask`).
        """
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        depth = max(k, rerank_top) if reranker is not None else k
        search = self.retriever(retriever).search  # a bad spec or filter fails before the queries are embedded
        mask = self.filter_mask(filters)
        vectors = normalise(self.embed_queries(queries), model="query vectors")
        found = self._retrieve(search, vectors, min(depth, len(self.corpus)), mask)
        if reranker is None:
            return found
        return [reranking.rerank_top(reranker, q, hits, rerank_top)[:k] for q, hits in zip(queries, found)]

    def search_vectors(self, vectors: np.ndarray, k: int = 10, *, retriever: str = DEFAULT_RETRIEVER,
                       filters: Mapping[str, object] | None = None) -> list[list[Hit]]:
        """Retrieval for query vectors of this model (normalised here), best first, optionally filtered.

        With filters the retriever is asked for more and more hits (up to the whole corpus) until each query has
        k that match, so a filter narrows what the retriever finds instead of leaving the list short.

        Raises:
            ClusterankError: vectors of the wrong size, NaN or zero vectors, k < 1, a bad filter.
        """
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        k = min(k, len(self.corpus))
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vectors.shape[1] != self.vectors.shape[1]:
            raise ClusterankError(f"query vectors have {vectors.shape[1]} dimensions; {self.embedder.name} gives "
                                  f"{self.vectors.shape[1]}")
        vectors = normalise(vectors, model="query vectors")
        return self._retrieve(self.retriever(retriever).search, vectors, k, self.filter_mask(filters))

    def _retrieve(self, search, vectors: np.ndarray, k: int, mask: np.ndarray | None) -> list[list[Hit]]:
        """`search`'s hits for normalised query vectors; with a filter mask, deepened until k per query match."""
        if mask is None:
            return self.hits(search(vectors, k))
        n, depth = len(self.corpus), min(len(self.corpus), max(10 * k, 100))
        while True:
            kept = [[h for h in hits if mask[h.row]][:k] for hits in self.hits(search(vectors, depth))]
            if depth >= n or all(len(h) == k for h in kept):
                return [[replace(h, rank=i) for i, h in enumerate(hits, start=1)] for hits in kept]
            depth = min(n, depth * 4)

    def filter_mask(self, filters: Mapping[str, object] | None) -> np.ndarray | None:
        """Rows matching every filter: `role` (the label column), `cluster` (k-means cluster id at the pipeline's
        k) or any other corpus column (`family`), compared as text. None when there are no filters.

        Raises:
            ClusterankError: an unknown column, or a value no profile has (the message says which).
        """
        active = {key: value for key, value in (filters or {}).items() if value not in (None, "")}
        if not active:
            return None
        mask = np.ones(len(self.corpus), dtype=bool)
        for key, value in active.items():
            if key == "cluster":
                column = [str(c) for c in self.clusters().labels]
            elif key == "role":
                if self.corpus.labels is None:
                    raise ClusterankError(f"{self.corpus.source} has no role labels to filter by")
                column = list(self.corpus.labels)
            else:
                column = self.column(key)
            match = np.array([c == str(value) for c in column])
            if not match.any():
                raise ClusterankError(f"filter {key}={value!r}: no profile in {self.corpus.source} has that {key}")
            mask &= match
        return mask

    def hits(self, result: TopK) -> list[list[Hit]]:
        """A retriever's result as `Hit`s per query (role, preview, and cluster where the retriever knows it)."""
        groups = result.groups if result.groups is not None else [None] * len(result.rows)
        return [make_hits(self.corpus, r, s, g) for r, s, g in zip(result.rows, result.scores, groups)]
