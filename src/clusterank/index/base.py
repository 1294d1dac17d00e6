"""The Retriever base class, its result type, and `RetrieverType`, the record each retriever file declares.

A spec is `name` or `name:param=value,param=value` (`exact`, `routed:nprobe=auto,margin=0.05`; the grammar is
`clusterank.registry`'s, shared by every box). Each retriever file declares a `RetrieverType` (its name,
parameters, builder and capabilities); `index/registry.py` lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from clusterank.data.bounds import Bound
from clusterank.defaults import DEFAULT_K
from clusterank.errors import ClusterankError
from clusterank.registry import (NON_NEGATIVE, NON_NEGATIVE_NUMBER, POSITIVE, Backend, Limit, Param,  # noqa: F401
                                 Shape, Spec, boolean, is_number, number, parse_spec, split_specs, typed_params, whole)


@dataclass(frozen=True)
class TopK:
    """Results for a batch of queries, (n_queries, k), best first.

    rows: corpus rows (-1 where fewer than k rows could be returned); scores: cosines (-inf there);
    probed: for routed retrievers, the clusters each query searched, best first (None otherwise);
    groups: the cluster of each hit where the retriever knows it (-1 on padding; None otherwise).
    """

    rows: np.ndarray
    scores: np.ndarray
    probed: list[np.ndarray] | None = None
    groups: np.ndarray | None = None

    @property
    def clusters_probed(self) -> float | None:
        """Mean number of clusters searched per query (None for retrievers that do not route)."""
        return float(np.mean([len(p) for p in self.probed])) if self.probed is not None else None


class Retriever:
    """The base of every retriever: finds the k best corpus rows for normalised query vectors. `spec` names it
    (`routed:nprobe=2`). A subclass implements `search`; what it can tell about itself is declared here, with
    defaults, so callers never probe for it."""

    spec: str

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k best rows of each query, best first."""
        raise NotImplementedError(f"{type(self).__name__} does not implement search")

    @property
    def memory_bytes(self) -> int | None:
        """Bytes of the index it searches (vectors or codes); None for one that searches through another's
        vectors (routing over clusters, group-aware scores), whose memory is that index's."""
        return None

    def bonus_of(self, query_vectors: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """The additive score each of `rows` gets on top of its cosine, per query: (n_queries, len(rows)) float64,
        so a hit's ranking key is its cosine plus this. Zeros by default: a retriever that ranks by the cosine
        alone (or one whose order is no cosine plus a bonus, as fused rankings) adds none. A retriever that adds
        one (`soft`, `role`, `prior`, `adapter`) overrides it with exactly what its `search` adds."""
        queries = np.asarray(query_vectors)
        return np.zeros((1 if queries.ndim == 1 else len(queries), len(rows)), np.float64)

    filters_in_search: ClassVar[bool] = False
    """True for a retriever that applies a filter while it searches (`search_within`); the others are searched
    deeper until k of their hits match."""

    def search_within(self, query_vectors: np.ndarray, k: int, mask: np.ndarray) -> TopK:
        """The k best rows of each query among the rows `mask` (a bool per corpus row) keeps; only for a retriever
        that declares `filters_in_search`."""
        raise NotImplementedError(f"{type(self).__name__} does not filter while it searches")


@dataclass
class SearchContext:
    """What a retriever may be built from: the corpus vectors and, on demand, its k-means clusters.

    Args:
        vectors: (n, dims) L2-normalised corpus vectors, in corpus order.
        clusters: returns the k-means model with k clusters (the pipeline fits it once and caches it);
            None fits one with `fit_kmeans` when a retriever asks.
        default_k: k when a spec does not say (`--clusters`).
        labels: the label (role) of each corpus row, for role-aware retrievers; None when the corpus has none.
        tuned: parameters chosen by `clusterank tune` per retriever kind (`{"role": {"alpha": 0.4}}`), used
            where a spec says `auto`.
        tuning_file: where `clusterank tune` stored them, read (and checked) only when a spec says `auto` and
            `tuned` is None, so a damaged file stops only the searches that would use it.
        column: returns another column of the corpus by name (role-aware search `by=<column>`), or None.
        fitted: keeps what retrievers learn from the corpus (see `fit_once`); None: nothing is kept.
        examples: labelled training queries, (vectors, labels, digest), that retrievers learning from the labels
            (`prior`, `adapter`) train on beside the corpus rows (`--train-queries`; never a scored query).
        database: a `postgresql://` URL for retrievers that keep the vectors in a database (`pgvector`); None:
            they read the `CLUSTERANK_DB` environment variable.
        vectors_key: what the vectors are (model, corpus source, blind fields), so a retriever that keeps its copy
            outside this process (pgvector's table) keeps one per model and corpus; None: not known.
        ids: each corpus row's profile id (`Corpus.ids`), what a retriever keeping its copy outside this process
            keys it by, so removing a profile shifts no other; None: the row numbers.
    """

    vectors: np.ndarray
    clusters: Callable[[int], Any] | None = None
    default_k: int = DEFAULT_K
    labels: Sequence[str | None] | None = None
    tuned: Mapping[str, Mapping[str, float]] | None = None
    column: Callable[[str], Sequence[str | None]] | None = None
    tuning_file: Path | None = None
    fitted: Callable[[str, Callable[[], dict[str, np.ndarray]]], dict[str, np.ndarray]] | None = None
    examples: tuple[np.ndarray, Sequence[str], str] | None = None
    database: str | None = None
    vectors_key: str | None = None
    ids: Sequence[str] | None = None

    def training_rows(self, labels: Sequence[str | None], by: str | None) -> tuple[np.ndarray, list, str]:
        """What a label learner trains on: the corpus vectors and `labels`, then the training queries' vectors and
        labels when there are some and the labels are the corpus' own (`by` None), and a digest of those queries
        for the learner's stored key ("" without)."""
        if self.examples is None or by is not None:
            return self.vectors, list(labels), ""
        vectors, example_labels, digest = self.examples
        return np.vstack([self.vectors, vectors]), [*labels, *example_labels], digest

    def fit_once(self, key: str, fit: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Arrays a retriever learned from this corpus (a classifier's weights), kept under `key`: `fitted` returns
        the stored ones or calls `fit` and stores its result (the pipeline keeps them in the workspace, per model
        and corpus); without it `fit` runs every time."""
        return self.fitted(key, fit) if self.fitted is not None else fit()

    def cluster_model(self, k: int | None = None):
        """The k-means model with `k` clusters (default `default_k`)."""
        k = self.default_k if k is None else k
        if self.clusters is not None:
            return self.clusters(k)
        from clusterank.cluster.kmeans import fit_kmeans

        return fit_kmeans(self.vectors, k)


@dataclass(frozen=True)
class RetrieverType(Backend):
    """A kind of retriever: its spec name, parameters, a builder `build(context, **params)`, and what it declares.

    Attributes:
        min_rows: the fewest corpus rows it can be built over.
        saveable: a saved index (`clusterank index build`) can hold it; others are rebuilt from the saved clusters.
        tunable: parameters `clusterank tune` chooses by cross-validation where the spec says `auto`.
        needs_labels: it reads the corpus' labels (or a `by=` column), so it is offered only where they exist.
        ranks_by_cosine: its order is the order of the cosines it reports; false for kinds that add a bonus to
            rank by (`soft`, `role`) but report each hit's plain cosine.
        on_page: the web page and `/v1/search` offer its `examples` by default (`needs_labels` kinds only where
            the corpus has labels).
        needs_database: it keeps the vectors in PostgreSQL (`SearchContext.database`), so its examples run only
            where a database is given.
    """

    noun: ClassVar[str] = "retriever"

    min_rows: int = 1
    saveable: bool = False
    tunable: tuple[str, ...] = ()
    needs_labels: bool = False
    on_page: bool = False
    ranks_by_cosine: bool = True
    needs_database: bool = False

    def declares(self) -> tuple[str, ...]:
        """The set capabilities, as words: `saveable`, `tunable: alpha`, `needs_labels`, `on_page`, ..."""
        words = [w for w, on in (("saveable", self.saveable), ("needs_labels", self.needs_labels),
                                 ("on_page", self.on_page), ("ranks_by_cosine", self.ranks_by_cosine)) if on]
        return tuple(words + ([f"tunable: {', '.join(self.tunable)}"] if self.tunable else []))

    @property
    def uses_clusters(self) -> bool:
        """Whether it is built from k-means clusters (every such kind has a `k` parameter)."""
        return "k" in self.params


def check_limits(kind: RetrieverType, spec: Spec, values: Mapping[str, Any], shape: Shape) -> None:
    """Check the spec's parameters against the corpus (`nlist` at most its rows, `m` at most its dimensions, ...).

    Limits that need the vector size are skipped while `shape.dims` is None (before the corpus is embedded).

    Raises:
        ClusterankError: a corpus too small for the kind, or one parameter, its value and the allowed range.
    """
    if shape.rows < kind.min_rows:
        raise ClusterankError(f"retriever {str(spec)!r} needs at least {kind.min_rows:,} vectors (corpus rows), the "
                              f"corpus has {shape.rows:,}")
    for key in dict(spec.params):  # the values given: a default never exceeds what it defaults to
        param, value = kind.params[key], values.get(key)
        if param.limit is None or not is_number(value):
            continue
        top = param.limit.of(shape, values)
        if top is not None and value > top:
            low = param.bound.lo if param.bound and param.bound.lo is not None else 1
            raise ClusterankError(f"retriever {str(spec)!r}: {key}={value} is out of range for this corpus "
                                  f"(allowed: {low:g} to {top:,}, {param.limit.what}; {param.help})")


KMEANS_K = Bound(2, why="k-means needs at least 2 clusters")
"""k of k-means (at most the corpus' rows: `ROWS`)."""
ROWS = Limit(lambda shape, values: shape.rows, "the corpus' rows")
"""At most one per corpus row."""
DIMS = Limit(lambda shape, values: shape.dims, "the vectors' dimensions")
"""At most one per vector dimension."""


def kmeans_k(help: str = "k-means clusters (default: --clusters, 10)") -> Param:
    """The `k` parameter of a retriever built from k-means clusters: 2 up to the corpus' rows."""
    return Param(whole, None, help, KMEANS_K, ROWS)

