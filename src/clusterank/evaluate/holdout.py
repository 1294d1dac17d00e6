"""Leave-labels-out: did a method that learns from labels learn a better metric, or memorise the labels it saw?

A share of the queries' target labels is hidden: the corpus rows carrying them lose their label (as if the team
had never tagged that role), and so does the same share of the other rows (so the untagged rows are a mix, not
exactly the hidden roles), the method is built on what is left, its weight alpha is chosen on the queries of the
visible labels only, and it is scored on the queries of the hidden labels, paired against exact search on the same
queries. A method that memorised labels lifts the visible labels' rows above the right ones and falls below exact
there; one that learned what makes roles differ stays at or above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.evaluate.metrics import ndcg_at_k
from clusterank.evaluate.relevance import build_relevance
from clusterank.evaluate.stats import Estimate, paired_difference
from clusterank.evaluate.tune import ALPHAS, with_alpha
from clusterank.index import SearchContext, build_retriever
from clusterank.pipeline import SearchPipeline


@dataclass(frozen=True)
class HoldoutResult:
    """What leave-labels-out found for one retriever spec."""

    spec: str
    hidden_labels: int
    hidden_queries: int
    alpha: float
    """Chosen on the visible labels' queries only."""
    exact: float
    """Mean nDCG@10 of exact search on the hidden labels' queries."""
    method: float
    difference: Estimate
    """method - exact, paired over the hidden labels' queries, with its bootstrap interval."""
    significant: bool

    def line(self) -> str:
        """One line for a terminal or a report."""
        d = self.difference
        verdict = ("significantly below exact" if self.significant and d.mean < 0 else
                   "significantly above exact" if self.significant else "not significantly different from exact")
        return (f"{self.spec} on {self.hidden_queries} queries of {self.hidden_labels} hidden labels (alpha "
                f"{self.alpha:g} chosen on the others): nDCG@10 {self.method:.3f} vs exact {self.exact:.3f}, "
                f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}], {verdict}")


def hidden_labels(query_labels: Sequence[str], corpus_labels: Sequence[str | None], share: float,
                  seed: int = 0) -> set[str]:
    """A seeded `share` of the distinct query labels that occur in the corpus (at least one).

    Raises:
        ClusterankError: a share outside (0, 1), or fewer than two such labels.
    """
    if not 0 < share < 1:
        raise ClusterankError(f"the share of labels to hide must be between 0 and 1, got {share}")
    present = sorted({str(q) for q in query_labels if q is not None} & {str(c) for c in corpus_labels if c})
    if len(present) < 2:
        raise ClusterankError(f"leave-labels-out needs queries of at least two labels found in the corpus; "
                              f"there are {len(present)}")
    order = np.random.default_rng(seed).permutation(len(present))
    return {present[i] for i in order[: max(1, round(share * len(present)))]}


def mask_labels(labels: Sequence[str | None], query_labels: Sequence[str], share: float,
                seed: int = 0) -> tuple[list[str | None], set[str]]:
    """The corpus labels with a seeded `share` of the query labels hidden (their rows untagged) and as many again of
    the other rows untagged (so the untagged rows are a mix, as a team's untagged profiles are, and not exactly the
    hidden roles, which a method could learn as one more class); and the hidden labels."""
    hidden = hidden_labels(query_labels, labels, share, seed)
    blank = np.random.default_rng(seed + 1).random(len(labels)) < share
    return [None if lab is not None and (str(lab) in hidden or blank[i]) else lab
            for i, lab in enumerate(labels)], hidden


def leave_labels_out(pipe: SearchPipeline, queries: Sequence[str], query_labels: Sequence[str], spec: str, *,
                     share: float = 0.2, seed: int = 0, cutoff: int = 10,
                     alphas: Sequence[float] = ALPHAS) -> HoldoutResult:
    """Hide a `share` of the labels, build `spec` (a tunable kind: `role`, `prior`, ...) on the rest, choose its
    alpha on the visible labels' queries, and score it against exact search on the hidden labels' queries.

    Raises:
        ClusterankError: a corpus without labels, fewer than two usable labels, or no query left on either side.
    """
    labels = pipe.corpus.labels
    if labels is None:
        raise ClusterankError("leave-labels-out needs a corpus with labels")
    masked, hidden = mask_labels(labels, query_labels, share, seed)
    on_hidden = np.array([str(q) in hidden for q in query_labels])
    if on_hidden.all() or not on_hidden.any():
        raise ClusterankError("leave-labels-out left no query on one side; use more labelled queries")
    vectors = pipe.embed_queries(list(queries))
    stored: dict[str, dict] = {}
    context = SearchContext(pipe.vectors, lambda k: pipe.clusters(k), default_k=pipe.n_clusters, labels=masked,
                            fitted=lambda key, fit: stored[key] if key in stored else stored.setdefault(key, fit()))

    relevance = {side: build_relevance(len(labels), labels, [query_labels[i] for i in np.flatnonzero(which)])
                 for side, which in (("visible", ~on_hidden), ("hidden", on_hidden))}  # once, not per alpha

    def scores(side: str, which: np.ndarray, searcher) -> np.ndarray:
        return ndcg_at_k(searcher.search(vectors[which], cutoff).rows, relevance[side], cutoff)

    grid = [float(np.mean(scores("visible", ~on_hidden, build_retriever(with_alpha(spec, a), context))))
            for a in alphas]
    alpha = float(alphas[int(np.argmax(grid))])
    method = scores("hidden", on_hidden, build_retriever(with_alpha(spec, alpha), context))
    exact = scores("hidden", on_hidden, pipe.retriever("exact"))
    difference, significant = paired_difference(method, exact, seed=seed)
    return HoldoutResult(spec, len(hidden), int(on_hidden.sum()), alpha, float(exact.mean()), float(method.mean()),
                         difference, significant)
