"""Hard role routing (spec `role-route:m=M,min_size=N,k=K`): search only the rows of the m roles whose
centroids match the query best. Faster than `role`, and like k-means routing it costs recall, which the
evaluator reports as recall against exact search."""

from __future__ import annotations

from clusterank.index.base import POSITIVE, Param, RetrieverType, SearchContext, whole
from clusterank.index.grouped import GroupRouteIndex, label_groups
from clusterank.index.role import SHARED_PARAMS, corpus_labels


def _build_route(context: SearchContext, m: int, min_size: int, k: int | None, by: str | None) -> GroupRouteIndex:
    labels = corpus_labels(context, "role-route", by)
    groups, names = label_groups(labels, context.cluster_model(k).labels, min_size, fallback_unlabelled=True)
    return GroupRouteIndex(context.vectors, groups, names, m, "role-route")


RETRIEVER = RetrieverType(
    "role-route", "search only the rows of the m roles whose centroids match the query best (fast; costs recall)",
    _build_route, {"m": Param(whole, 3, "roles searched per query", POSITIVE), **SHARED_PARAMS},
    needs_labels=True, examples=("role-route:m=3",), on_page=True)
