"""Soft routing (spec `soft:alpha=A|auto,k=K`): each row's cosine plus alpha times the query's cosine to the
centroid of the row's k-means cluster. Unlike hard routing it never cuts a relevant row off."""

from __future__ import annotations

from clusterank.index.base import NON_NEGATIVE_NUMBER, Param, RetrieverType, SearchContext, kmeans_k
from clusterank.index.grouped import AUTO, SoftGroupIndex, parse_alpha, resolve_alpha


def _build(context: SearchContext, alpha: float | str, k: int | None) -> SoftGroupIndex:
    weight = resolve_alpha(alpha, "soft", context)  # a damaged tuning file fails before clusters are fitted
    model = context.cluster_model(k)
    names = [f"cluster {c}" for c in range(model.k)]
    return SoftGroupIndex(context.vectors, model.labels, names, weight, "soft", groups_are_clusters=True)


RETRIEVER = RetrieverType(
    "soft", "cosine + alpha x the query's cosine to the row's k-means centroid (no row is cut off)", _build,
    {"alpha": Param(parse_alpha, AUTO, "weight of the cluster similarity, >= 0, or auto (tuned)",
                           NON_NEGATIVE_NUMBER),
     "k": kmeans_k()},
    tunable=("alpha",), examples=("soft",), on_page=True, ranks_by_cosine=False)
