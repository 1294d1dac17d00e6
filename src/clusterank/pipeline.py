"""One query's journey: embed the corpus once (cached), embed the job description, retrieve, rerank, cut to k.

`SearchPipeline.run` (one job description) and `run_many` (a batch) are the one search flow: the CLI, the server
and the evaluator call them and get the hits with the seconds of each stage. The retriever is named by a spec
string (`exact`, `routed:nprobe=auto`; see `clusterank.index.RETRIEVERS`) and built once per pipeline; each stage
is a public object (Embedder, EmbeddingStore, Retriever, Reranker) a Python user can use alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import numpy as np

from clusterank.cluster.kmeans import ClusterModel, check_k, choose_k, corpus_key, fit_kmeans, parse_k
from clusterank.data.corpus import Corpus
from clusterank.defaults import DEFAULT_K, DEFAULT_MODEL, DEFAULT_RETRIEVER, DEFAULT_SEED
from clusterank.embed import Embedder, get_embedder
from clusterank.embed.base import query_embedder
from clusterank.embed.store import EmbeddingStore, normalise, text_hash
from clusterank.errors import ClusterankError
from clusterank.index import Retriever, SearchContext, TopK, build_retriever, canonical_spec
from clusterank.index.filters import matching_rows
from clusterank.index.fusion import FusedRetriever
from clusterank.index.hits import Hit, Hits, SearchResult, make_hits
from clusterank.index.labels import training_examples
from clusterank.index.corpus_copy import CopiedCorpus, keep_copy
from clusterank.index.persist import SavedIndex, check_saveable
from clusterank.rerank import base as reranking
from clusterank.rerank.base import Reranker
from clusterank.workspace import Workspace, atomic_path

log = logging.getLogger(__name__)


class SearchResults:
    """A batch's search (`SearchPipeline.run_many`): hits per query, best first, and `timings`, the seconds of each
    stage (`embed`, `retrieve`, `rerank`) for the whole batch; `vectors` are the normalised query vectors and
    `width` the most hits a query has (k, or the corpus size when smaller). The `Hit`s are made on first use, so a
    caller that reads only `rows` (the evaluator) does not pay for them."""

    def __init__(self, timings: dict[str, float], vectors: np.ndarray, width: int, *, found: TopK | None = None,
                 hits: list[list[Hit]] | None = None, make_hits: Callable[[TopK], list[list[Hit]]] | None = None):
        self.timings, self.vectors, self.width = timings, vectors, width
        self._found, self._hits, self._make_hits = found, hits, make_hits

    def __len__(self) -> int:
        return len(self.vectors)

    @cached_property
    def hits(self) -> list[Hits]:
        """Each query's hits, best first (each list's `.to_frame()` is a table)."""
        return [Hits(h) for h in (self._hits if self._hits is not None else self._make_hits(self._found))]

    @property
    def rows(self) -> np.ndarray:
        """(n_queries, width) corpus rows of the hits, best first; -1 where a query has fewer."""
        if self._hits is None:
            return self._found.rows
        return np.array([[h.row for h in hits] + [-1] * (self.width - len(hits)) for hits in self._hits],
                        dtype=np.int64).reshape(len(self._hits), self.width)

    @property
    def clusters_probed(self) -> float | None:
        """Mean clusters searched per query by a routing retriever (None otherwise, and after a filter)."""
        return self._found.clusters_probed if self._found is not None else None


class SearchPipeline:
    """Semantic search over one corpus with one embedding model, through any registered retriever.

    Args:
        corpus: the profiles: a `Corpus`, or a pandas DataFrame (read as `load_profiles` reads one).
        model: a model id for `get_embedder` (`precomputed:<name>`: the `embeddings_<name>` column), or an Embedder.
        workspace: where vectors and clusters are cached (default `Workspace.default()`).
        progress: show progress bars while embedding.
        n_clusters: k of k-means for retrievers that route and whose spec does not say (`--clusters`).
        seed: the k-means seed (the seed's `random_state=42`).
        use_saved_index: start from the saved index of this model and corpus when there is one (`save_index`,
            `clusterank index build`): vectors memory-mapped instead of read from the store, and brought up to
            date by profile id when the corpus changed.
        device: where a model named by id runs: auto | cpu | cuda (see `get_embedder`; None: auto).
        train_queries: labelled job descriptions `prior` and `adapter` also train on (never scored ones).
        database: a `postgresql://` URL for retrievers that keep their vectors in PostgreSQL (`pgvector`); None:
            the `CLUSTERANK_DB` environment variable.
    """

    def __init__(self, corpus: Corpus, model: str | Embedder = DEFAULT_MODEL, *,
                 workspace: Workspace | None = None, progress: bool = False, n_clusters: int = DEFAULT_K,
                 seed: int = DEFAULT_SEED, use_saved_index: bool = True, device: str | None = None,
                 train_queries: Corpus | None = None, database: str | None = None):
        if not isinstance(corpus, Corpus):  # a DataFrame: the loaders (and pandas) only then
            from clusterank.data.loaders import as_corpus
            corpus = as_corpus(corpus)
        self.corpus, self.train_queries, self.database = corpus, train_queries, database
        self.workspace = workspace or Workspace.default()
        self.embedder = (get_embedder(model, self.workspace, tables=(corpus,), device=device)
                         if isinstance(model, str) else model)
        self.store = EmbeddingStore(self.workspace.store_path)
        self.progress, self.n_clusters, self.seed = progress, n_clusters, seed
        self.corpus_key = corpus.fingerprint if isinstance(corpus, CopiedCorpus) else corpus_key(self.hashes)
        self.saved = self._open_saved_index() if use_saved_index else None
        self.vectors = (self.saved.corpus_vectors() if self.saved is not None
                        else self.store.embed(self.embedder, corpus.texts, progress=progress,
                                              what=f"profiles of {corpus.source}"))
        self.k_scores: dict[int, float] = {}
        self._retrievers, self._clusters = {}, {}

    def clusters(self, n_clusters: int | str | None = None, seed: int | None = None) -> ClusterModel:
        """The k-means model of this corpus and embedding model, fitted once and kept in the workspace; `n_clusters`
        (default: the pipeline's k) may be "auto" to pick k by silhouette (scores in `self.k_scores`)."""
        n_clusters = parse_k(self.n_clusters if n_clusters is None else n_clusters)
        seed = self.seed if seed is None else seed
        if n_clusters == "auto":
            n_clusters, self.k_scores = choose_k(self.vectors, seed=seed)
        check_k(n_clusters, len(self.vectors))
        path = self.workspace.cluster_path(self.embedder.name, self.corpus_key, n_clusters, seed)
        if path not in self._clusters:  # read (or fitted and saved) once per pipeline: `hits` asks on every search
            if not path.exists():
                fit_kmeans(self.vectors, n_clusters, seed=seed, corpus_key=self.corpus_key).save(path)
            self._clusters[path] = ClusterModel.load(path)
        return self._clusters[path]

    def fitted(self, key: str, fit: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Arrays a retriever learned from this corpus under `key` (`prior`'s classifier): read from the workspace,
        or made by `fit` and stored there (atomically; an unreadable file is made again and replaced)."""
        path = self.workspace.fitted_path(self.embedder.name, self.corpus_key, key)
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as stored:
                    return {name: stored[name] for name in stored.files}
            except (OSError, ValueError, EOFError) as exc:
                log.warning("%s: unreadable (%s); fitting it again", path, exc)
        arrays = fit()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        return arrays

    def retriever(self, spec: str = DEFAULT_RETRIEVER) -> Retriever:
        """The retriever a spec names over this corpus (built once per pipeline and spec).

        Raises:
            ClusterankError: unknown retriever or parameter, or a bad value.
        """
        key = canonical_spec(spec)
        if key not in self._retrievers and isinstance(self.embedder, Embedder) and self.embedder.fusion is not None:
            self._retrievers[key] = FusedRetriever([p.retriever(spec) for p in self.part_pipelines],
                                                   [p.dims for p in self.embedder.parts], self.embedder.fusion,
                                                   self.vectors, key)
        if key not in self._retrievers and self.saved is not None and key in self.saved.specs:
            self._retrievers[key] = self.saved.corpus_retriever(key)
        if key not in self._retrievers:
            context = SearchContext(self.vectors, lambda k: self.clusters(k), default_k=self.n_clusters,
                                    labels=self.corpus.labels, tuning_file=self.tuning_path, column=self.column,
                                    fitted=self.fitted, examples=self.examples, database=self.database,
                                    vectors_key=f"{self.embedder.name} | {self.corpus_name} | {self.corpus.blind}",
                                    ids=self.corpus.ids)
            self._retrievers[key] = build_retriever(spec, context)
        return self._retrievers[key]

    @cached_property
    def hashes(self) -> list[bytes]:
        """Each profile text's hash, in corpus order (on first use: a start from a corpus copy needs none)."""
        return [text_hash(t) for t in self.corpus.texts]

    @cached_property
    def part_pipelines(self) -> list[SearchPipeline]:
        """For a fused model (`fusion:`), one pipeline per part over this corpus (vectors from the store)."""
        return [SearchPipeline(self.corpus, p, workspace=self.workspace, n_clusters=self.n_clusters, seed=self.seed,
                               use_saved_index=False, train_queries=self.train_queries, database=self.database)
                for p in self.embedder.parts]

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
        keep_copy(self.corpus, self.workspace, self.corpus_key)  # the next start then reads no profile file
        return saved

    def _embed_rows(self, rows: Sequence[int]) -> np.ndarray:
        return self.store.embed(self.embedder, [self.corpus.texts[r] for r in rows], progress=self.progress,
                                what="new profiles")

    def save_index(self, specs: Sequence[str] = ("exact",), *, rebuild: bool = False) -> SavedIndex:
        """Save this corpus' vectors, and compressed retrievers over them, as an index the next start opens, with
        the clusters results show and a copy of an `open_profiles` corpus (`keep_copy`): that start reads no file.

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
        keep_copy(self.corpus, self.workspace, self.corpus_key, force=rebuild)
        if isinstance(k := parse_k(self.n_clusters), int) and k <= len(self.vectors):
            self.clusters()
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

    @cached_property
    def examples(self) -> tuple[np.ndarray, list[str], str] | None:
        """The labelled training queries for label learners (`training_examples`), embedded once; None without."""
        return None if self.train_queries is None else training_examples(self.train_queries, self.embed_queries)

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors for job descriptions (cached like profiles)."""
        return self.store.embed(query_embedder(self.embedder), list(queries), what="queries")

    def run(self, query: str | None, k: int = 10, *, vector: Sequence[float] | np.ndarray | None = None,
            retriever: str = DEFAULT_RETRIEVER, reranker: Reranker | None = None, rerank_top: int = 20,
            filters: Mapping[str, object] | None = None) -> SearchResult:
        """Search for one job description: embed it, retrieve, rerank the top, cut to k (see `run_many`).

        Args:
            query: the job description (None when `vector` is given and nothing is reranked).
            vector: the query's vector from this model, instead of embedding `query` (normalised here).

        Raises:
            ClusterankError: an empty job description, and everything `run_many` refuses.
        """
        if vector is None and (not isinstance(query, str) or not query.strip()):
            raise ClusterankError("the job description is empty")
        batch = self.run_many(None if query is None else [query], k, vectors=None if vector is None else [vector],
                              retriever=retriever, reranker=reranker, rerank_top=rerank_top, filters=filters)
        return SearchResult(batch.hits[0], batch.timings, batch.vectors[0])

    def run_many(self, queries: Sequence[str] | None, k: int = 10, *, vectors: np.ndarray | None = None,
                 retriever: str = DEFAULT_RETRIEVER, reranker: Reranker | None = None, rerank_top: int = 20,
                 filters: Mapping[str, object] | None = None) -> SearchResults:
        """The one search flow (CLI, server, evaluator): embed the job descriptions, retrieve with a retriever spec,
        rerank each query's top `rerank_top` with `reranker`, cut to k; one batched retrieval for all queries.

        Args:
            queries: job descriptions (None when `vectors` are given and nothing is reranked).
            k: hits per query.
            vectors: the queries' vectors from this model, when already embedded (normalised here): no embedding.
            retriever: a retriever spec: `exact`, `routed:nprobe=1` (the seed's method), `routed:nprobe=auto`, ...
            reranker: a `Reranker` for the last stage (None: retrieval order).
            rerank_top: how many retrieved hits the reranker reorders; the rest follow in retrieval order.
            filters: keep only profiles matching every entry (see `filter_mask`).

        Returns:
            `SearchResults`: hits per query and the seconds of each stage (`embed`, `retrieve`, `rerank`).

        Raises:
            ClusterankError: k < 1, a bad retriever spec or filter (before anything is embedded), query vectors of
                the wrong size, NaN or zero, a reranker without job descriptions.
        """
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        if queries is None and (vectors is None or reranker is not None):
            raise ClusterankError("give the job descriptions (a reranker reads them) or their vectors")
        depth = min(max(k, rerank_top) if reranker is not None else k, len(self.corpus))
        chosen = self.retriever(retriever)  # a bad spec or filter fails before the queries are embedded
        search, mask = chosen.search, self.filter_mask(filters)
        started = time.perf_counter()
        qv = normalise(self.embed_queries(queries) if vectors is None else self._checked(vectors),
                       model="query vectors")
        embedded = time.perf_counter()
        found, hits = None, None
        if mask is None:
            found = search(qv, depth)
        elif chosen.filters_in_search:  # the filter goes into the search itself (pgvector: SQL)
            found = chosen.search_within(qv, depth, mask)
        else:
            hits = self._filtered(search, qv, depth, mask)
        retrieved = time.perf_counter()
        if reranker is not None:
            hits = self.rerank(queries, hits if hits is not None else self.hits(found), reranker, rerank_top, k)
        timings = {"embed": embedded - started, "retrieve": retrieved - embedded,
                   "rerank": time.perf_counter() - retrieved}
        return SearchResults(timings, qv, min(k, len(self.corpus)), found=found, hits=hits, make_hits=self.hits)

    def rerank(self, queries: Sequence[str], hits: Sequence[Sequence[Hit]], reranker: Reranker, top: int = 20,
               k: int | None = None) -> list[list[Hit]]:
        """Each query's hits with the first `top` reordered by `reranker` (`rerank_top`), the rest in retrieval
        order, cut to k (None: all); a reranker that `needs_corpus` gets this corpus' columns."""
        return [reranking.rerank_top(reranker, q, found, top, self.column)[:k] for q, found in zip(queries, hits)]

    def search(self, query: str, k: int = 10, *, retriever: str = DEFAULT_RETRIEVER, reranker: Reranker | None = None,
               rerank_top: int = 20, filters: Mapping[str, object] | None = None) -> Hits:
        """The k profiles most similar to one job description, best first: `run(...).hits` (`.to_frame()`: a table)."""
        return self.run(query, k, retriever=retriever, reranker=reranker, rerank_top=rerank_top, filters=filters).hits

    def search_many(self, queries: Sequence[str], k: int = 10, *, retriever: str = DEFAULT_RETRIEVER,
                    reranker: Reranker | None = None, rerank_top: int = 20, filters: Mapping[str, object] | None = None
                    ) -> list[Hits]:
        """The k most similar profiles for each job description: `run_many(...).hits`."""
        return self.run_many(queries, k, retriever=retriever, reranker=reranker, rerank_top=rerank_top,
                             filters=filters).hits

    def search_vectors(self, vectors: np.ndarray, k: int = 10, *, retriever: str = DEFAULT_RETRIEVER,
                       filters: Mapping[str, object] | None = None) -> list[list[Hit]]:
        """Retrieval for query vectors of this model (normalised here), best first, optionally filtered (the
        retriever is asked for more hits until each query has k that match): `run_many(None, k, vectors=...)`.

        Raises:
            ClusterankError: vectors of the wrong size, NaN or zero vectors, k < 1, a bad filter.
        """
        return self.run_many(None, k, vectors=vectors, retriever=retriever, filters=filters).hits

    def _checked(self, vectors) -> np.ndarray:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vectors.ndim == 2 and vectors.shape[1] != self.vectors.shape[1]:
            raise ClusterankError(f"query vectors have {vectors.shape[1]} dimensions; {self.embedder.name} gives "
                                  f"{self.vectors.shape[1]}")
        return vectors

    def _filtered(self, search, vectors: np.ndarray, k: int, mask: np.ndarray) -> list[list[Hit]]:
        """`search`'s hits for normalised query vectors that match the mask, deepened until k per query match."""
        n, depth = len(self.corpus), min(len(self.corpus), max(10 * k, 100))
        while True:
            kept = [[h for h in hits if mask[h.row]][:k] for hits in self.hits(search(vectors, depth))]
            if depth >= n or all(len(h) == k for h in kept):
                return [[replace(h, rank=i) for i, h in enumerate(hits, start=1)] for hits in kept]
            depth = min(n, depth * 4)

    def filter_mask(self, filters: Mapping[str, object] | None) -> np.ndarray | None:
        """Rows matching every filter: `role` (the label column), `cluster` (k-means cluster id at the pipeline's
        k) or any other corpus column (`family`), compared as text; None without filters (see `matching_rows`).

        Raises:
            ClusterankError: an unknown column, or a value no profile has (the message says which).
        """
        return matching_rows(self.corpus, filters, lambda: self.clusters().labels, self.column)

    def hits(self, result: TopK) -> list[list[Hit]]:
        """A retriever's result as `Hit`s per query; cluster: a routing retriever's group, else the row's cluster in
        `clusters()` (none when the pipeline's k is "auto" or more than the corpus has rows)."""
        groups, k = result.groups, parse_k(self.n_clusters)
        if groups is None and isinstance(k, int) and k <= len(self.vectors):
            groups = self.clusters().labels[np.maximum(result.rows, 0)]
        groups = groups if groups is not None else [None] * len(result.rows)
        return [make_hits(self.corpus, r, s, g) for r, s, g in zip(result.rows, result.scores, groups)]
