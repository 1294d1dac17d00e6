"""Counterfactual name test: does a profile's rank move when only its name changes?

No demographic labels are needed. Each profile's name fields are swapped to names of another group
(`clusterank.data.names.swap_names`: typically female <-> male first names, last names of another origin), the
swapped texts are embedded through the same store and model, the same job descriptions are searched with the same
retriever, and each profile's rank before and after is compared:

* mean |Δrank|: per query, the mean absolute rank change of the profiles in the top `depth` (50) before or after
  the swap, then the mean over queries with a bootstrap interval over queries;
* RBO@10: rank-biased overlap (p = 0.9, extrapolated, Webber et al. 2010) of the top 10 before and after; 1 is
  the same list;
* the mean signed rank change of the profiles of each original name group (positive: ranked higher with the
  swapped name).

A name-blind corpus (`load_profiles(..., blind=("names",))`) leaves the names out of the texts, so the swapped
texts are the same texts and every number is exactly 0 (RBO 1): the test of name-blind search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from clusterank.data.loaders import Corpus, corpus_from_frame
from clusterank.data.names import (FIRST_NAME_GENDER, GENDER_COLUMN, LAST_NAME_ORIGIN, ORIGIN_COLUMN,
                                   check_name_columns, swap_names)
from clusterank.defaults import DEFAULT_RETRIEVER
from clusterank.errors import ClusterankError
from clusterank.evaluate.stats import Estimate, bootstrap_ci
from clusterank.pipeline import SearchPipeline


@dataclass
class NameSwapReport:
    """What `name_swap` measured for one model and corpus (see the module docstring).

    Attributes:
        model: the embedding model's name.
        kind: the swap: gender, origin or both.
        blind: the personal fields the corpus leaves out of the texts (() when not blind).
        retriever: the retriever spec searched with.
        mean_abs_delta: mean |Δrank| of the profiles in the top `depth` before or after, over queries.
        rbo: rank-biased overlap of the top `top` before and after, over queries.
        moved: the share of (query, profile in the top `depth` before or after) pairs whose rank changed.
        swapped: how many profiles' names the swap changed (unisex or ambiguous names stay).
        texts_changed: how many embedded texts the swap changed (0 on a name-blind corpus).
        by_group: original name group -> mean signed rank change of its profiles in the top `depth` (positive:
            ranked higher with the swapped name).
        per_query: per query, (mean |Δrank|, RBO).
    """

    model: str
    kind: str
    blind: tuple[str, ...]
    retriever: str
    depth: int
    top: int
    mean_abs_delta: Estimate
    rbo: Estimate
    moved: float
    swapped: int
    texts_changed: int
    by_group: dict[str, float] = field(default_factory=dict)
    per_query: list[tuple[float, float]] = field(default_factory=list)

    def as_row(self) -> dict[str, object]:
        """One table row: model, blind, the two estimates as `mean [low, high]`, and the counts."""
        return {"model": self.model, "blind": ",".join(self.blind) or "no", "swap": self.kind,
                f"mean abs Δrank (top {self.depth})": str(self.mean_abs_delta), f"RBO@{self.top}": str(self.rbo),
                "moved": f"{self.moved:.1%}", "names swapped": self.swapped, "texts changed": self.texts_changed}

    def as_json(self) -> dict[str, object]:
        """Everything, JSON-ready (estimates as {mean, low, high})."""
        est = lambda e: {"mean": e.mean, "low": e.low, "high": e.high}  # noqa: E731
        return {"model": self.model, "kind": self.kind, "blind": list(self.blind), "retriever": self.retriever,
                "depth": self.depth, "top": self.top, "mean_abs_delta": est(self.mean_abs_delta),
                "rbo": est(self.rbo), "moved": self.moved, "swapped": self.swapped,
                "texts_changed": self.texts_changed, "by_group": self.by_group}


def rbo(a: Sequence[int], b: Sequence[int], p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap of two rankings of the same length (Webber, Moffat and Zobel 2010, eq. 32):
    1 for the same ranking, 0 for disjoint ones; `p` weighs the top (0.9: the top 10 carry most of it)."""
    k = min(len(a), len(b))
    if k == 0:
        return 1.0
    seen_a, seen_b, overlap, total = set(), set(), 0, 0.0
    for d in range(1, k + 1):
        x, y = a[d - 1], b[d - 1]
        overlap += 1 if x == y else (x in seen_b) + (y in seen_a)
        seen_a.add(x)
        seen_b.add(y)
        total += overlap / d * p ** d
    return float(overlap / k * p ** k + (1 - p) / p * total)


def _ranks(rows: np.ndarray, n: int) -> np.ndarray:
    """(queries, n) 1-based rank of every corpus row per query; n + 1 where the retriever did not return it."""
    ranks = np.full((len(rows), n), n + 1, dtype=np.int64)
    for q, found in enumerate(rows):
        found = found[found >= 0]
        ranks[q, found] = np.arange(1, len(found) + 1)
    return ranks


def _groups(corpus: Corpus, kind: str) -> list[str]:
    """Each profile's original name group for the swap's kind (the recorded column, else a lookup)."""
    frame = corpus.frame
    column, lookup, name = ((GENDER_COLUMN, FIRST_NAME_GENDER, "FirstName") if kind != "origin"
                            else (ORIGIN_COLUMN, LAST_NAME_ORIGIN, "LastName"))
    if column in frame.columns:
        return [str(x) for x in frame[column]]
    return [lookup.get(str(x), "other") for x in frame[name]]


def check_name_fields(corpus: Corpus, kind: str = "gender") -> None:
    """Refuse a corpus a name swap of `kind` cannot run on, before anything is embedded.

    Raises:
        ClusterankError: an unknown kind, a corpus with no table, or the name fields the swap needs absent (naming
            them and the columns there are).
    """
    if corpus.frame is None:
        raise ClusterankError(f"{corpus.source}: no table of fields to swap names in")
    check_name_columns(corpus.frame, kind, corpus.source)


def swapped_corpus(corpus: Corpus, kind: str = "gender", *, seed: int = 0) -> tuple[Corpus, int]:
    """The corpus with every profile's names swapped (`swap_names`), its texts built as the corpus' were (the same
    text column and blind fields), and how many names changed.

    Raises:
        ClusterankError: a corpus with no table, or without the name fields the swap needs.
    """
    check_name_fields(corpus, kind)
    frame, changed = swap_names(corpus.frame, kind, seed=seed, text_column=corpus.text_column, source=corpus.source)
    rebuilt = corpus_from_frame(frame, corpus.source, text_column=corpus.text_column, blind=corpus.blind)
    return Corpus(rebuilt.texts, list(corpus.ids), f"{corpus.source} (names swapped: {kind}, seed {seed})",
                  corpus.labels, corpus.families, frame, {}, corpus.blind, corpus.text_column), sum(changed)


def name_swap(pipe: SearchPipeline, queries: Corpus | Sequence[str], *, kind: str = "gender", seed: int = 0,
              retriever: str = DEFAULT_RETRIEVER, depth: int = 50, top: int = 10, p: float = 0.9,
              n_boot: int = 2000) -> NameSwapReport:
    """The counterfactual name test of one pipeline (see the module docstring).

    Args:
        pipe: the pipeline over the profiles (its model, workspace and store embed the swapped texts).
        queries: the job descriptions (a `Corpus` or texts).
        kind: gender (first names), origin (last names) or both.
        seed: the seed of the swap's draws.
        retriever: the retriever spec both searches use.
        depth: the top ranks whose profiles' rank changes are averaged (50).
        top: the depth of the rank-biased overlap (10).
        p: RBO's persistence.
        n_boot: bootstrap resamples of the queries.

    Raises:
        ClusterankError: name fields absent from the corpus, a model that cannot embed new texts (precomputed
            vectors), no queries, or a bad depth.
    """
    corpus = pipe.corpus
    check_name_fields(corpus, kind)  # before anything is embedded
    if not pipe.embedder.computes:
        raise ClusterankError(f"{pipe.embedder.name} only looks up precomputed vectors; the swapped names need a "
                              "model that embeds text")
    texts = list(queries.texts if isinstance(queries, Corpus) else queries)
    if not texts:
        raise ClusterankError("no job descriptions to search with")
    if not 1 <= top <= depth:
        raise ClusterankError(f"need 1 <= top ({top}) <= depth ({depth})")
    swapped, n_swapped = swapped_corpus(corpus, kind, seed=seed)
    after = SearchPipeline(swapped, pipe.embedder, workspace=pipe.workspace, n_clusters=pipe.n_clusters,
                           seed=pipe.seed, use_saved_index=False, train_queries=pipe.train_queries)
    n = len(corpus)
    vectors = pipe.embed_queries(texts)
    r0 = _ranks(pipe.run_many(None, n, vectors=vectors, retriever=retriever).rows, n)
    r1 = _ranks(after.run_many(None, n, vectors=vectors, retriever=retriever).rows, n)
    groups = np.array(_groups(corpus, kind))
    deltas, rbos, moved, counted = [], [], 0, 0
    signed: dict[str, list[float]] = {}
    for q in range(len(texts)):
        rows = np.flatnonzero((r0[q] <= depth) | (r1[q] <= depth))
        change = r0[q, rows] - r1[q, rows]  # positive: ranked higher after the swap
        deltas.append(float(np.abs(change).mean()) if len(rows) else 0.0)
        moved += int(np.count_nonzero(change))
        counted += len(rows)
        rbos.append(rbo(np.argsort(r0[q], kind="stable")[:top].tolist(),
                        np.argsort(r1[q], kind="stable")[:top].tolist(), p))
        for group, value in zip(groups[rows], change):
            signed.setdefault(str(group), []).append(float(value))
    return NameSwapReport(pipe.embedder.name, kind, tuple(corpus.blind), retriever, depth, top,
                          bootstrap_ci(deltas, n_boot=n_boot), bootstrap_ci(rbos, n_boot=n_boot),
                          moved / counted if counted else 0.0, n_swapped,
                          sum(a != b for a, b in zip(corpus.texts, swapped.texts)),
                          {g: float(np.mean(v)) for g, v in sorted(signed.items())}, list(zip(deltas, rbos)))
