"""Role-aware search from the corpus' own labels (a role column, or the title before " | " in Headline).

`role:alpha=A|auto,min_size=N,k=K`: each row's cosine plus alpha times the query's cosine to the centroid of
the row's role (every label has one by default; with `min_size` > 1, labels with fewer rows fall back to their
k-means cluster; an unlabelled row takes its k-means cluster's centroid too: with no bonus at all, unlabelled rows
fell below every labelled one, and a role nobody had labelled yet could not be found, see `evaluate/holdout.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

from clusterank.errors import ClusterankError
from clusterank.index.base import NON_NEGATIVE_NUMBER, POSITIVE, Param, RetrieverType, SearchContext, kmeans_k, whole
from clusterank.index.grouped import AUTO, SoftGroupIndex, label_groups, parse_alpha, resolve_alpha

MIN_SIZE = 5
"""For `role-route`: labels with fewer rows than this are not routed to on their own; their rows join their k-means
cluster's group."""
SOFT_MIN_SIZE = 1
"""For `role`: every label has its own centroid by default. A k-means cluster mixes labels, so a large alpha, which
wins where labels are informative, hurt the rows of small labels that fell back to one (issue 22's probe: a plain
family-centroid bonus beat `role:by=family`, and cross-validation kept alpha small)."""


def corpus_labels(context: SearchContext, kind: str, by: str | None = None) -> Sequence[str | None]:
    """The corpus' labels (or its column `by`), or one line saying that `kind` needs them."""
    if by is not None:
        if context.column is None:
            raise ClusterankError(f"{kind}:by={by} needs the corpus' columns; search through a SearchPipeline")
        return context.column(by)
    if context.labels is None:
        raise ClusterankError(f"{kind} needs a label per profile: a role column (--label-column) or titles before "
                              "' | ' in Headline; this corpus has neither")
    return context.labels


def _build_soft(context: SearchContext, alpha: float | str, min_size: int, k: int | None,
                by: str | None) -> SoftGroupIndex:
    weight = resolve_alpha(alpha, "role", context)  # a damaged tuning file fails before clusters are fitted
    labels = corpus_labels(context, "role", by)
    groups, names = label_groups(labels, context.cluster_model(k).labels, min_size, fallback_unlabelled=True)
    return SoftGroupIndex(context.vectors, groups, names, weight, "role")


SHARED_PARAMS = {"min_size": Param(whole, MIN_SIZE, "rows a label needs for a group of its own (rarer labels join "
                                   "their k-means cluster's)", POSITIVE),
                 "by": Param(str, None, "the corpus column whose values are the groups (default: the labels)"),
                 "k": kmeans_k("k-means clusters for rare labels (default: --clusters, 10)")}
RETRIEVER = RetrieverType(
    "role", "cosine + alpha x the query's cosine to the row's role centroid (roles from the corpus' labels)",
    _build_soft, {"alpha": Param(parse_alpha, AUTO, "weight of the role similarity, >= 0, or auto (tuned)",
                                        NON_NEGATIVE_NUMBER),
                  **SHARED_PARAMS,
                  "min_size": Param(whole, SOFT_MIN_SIZE, "rows a label needs for a centroid of its own (rarer "
                                    "labels use their k-means cluster's)", POSITIVE)},
    tunable=("alpha",), needs_labels=True, examples=("role",), on_page=True,
    ranks_by_cosine=False)
