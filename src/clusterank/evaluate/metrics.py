"""Small, pure metric functions over retrieved rows and labels (numpy in, floats out).

Conventions: `rows` is (n_queries, k) with -1 for "no result"; a retrieved row is relevant when its
label equals the query's label; a near miss is a row whose label is a confusable neighbour of it.
The graded metrics (precision_at_k_graded, recall_at_k, mrr, ndcg_at_k) take a `Relevance` instead of labels.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.evaluate.relevance import FULL_GAIN, Relevance


def near_miss_rate(rows: np.ndarray, row_labels: Sequence[str], near: Sequence[Collection[str]],
                   k: int) -> np.ndarray:
    """Per query, the share of the first k slots holding a row whose label is one of that query's near misses.

    Args:
        rows: (n_queries, n_results) retrieved row ids, best first, -1 for "no result".
        row_labels: the label of every corpus row.
        near: per query, the labels that count as near misses (see `clusterank.evaluate.neighbours`).
        k: cut-off.
    """
    out = np.zeros(len(rows))
    for i, (r, labels) in enumerate(zip(rows, near)):
        out[i] = sum(1 for x in r[:k] if x >= 0 and row_labels[x] in labels) / k
    return out


def overlap_recall(rows: np.ndarray, reference_rows: np.ndarray) -> np.ndarray:
    """Per query, the share of the reference results (e.g. exact search's top k) that `rows` also returned."""
    out = np.zeros(len(rows))
    for i, (r, ref) in enumerate(zip(rows, reference_rows)):
        ref_set = {x for x in ref if x >= 0}
        out[i] = len(ref_set & {x for x in r if x >= 0}) / max(len(ref_set), 1)
    return out


def purity(cluster_labels: np.ndarray, true_labels: Sequence[str]) -> float:
    """Share of rows whose cluster's most common true label is their own."""
    cluster_labels = np.asarray(cluster_labels)
    true = np.asarray(true_labels, dtype=object)
    total = 0
    for c in np.unique(cluster_labels):
        _, counts = np.unique(true[cluster_labels == c], return_counts=True)
        total += counts.max()
    return total / len(cluster_labels)


def cluster_agreement(cluster_labels: np.ndarray, true_labels: Sequence[str]) -> dict[str, float]:
    """Purity, normalised mutual information and adjusted Rand index of clusters against true labels."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"purity": purity(cluster_labels, true_labels),
            "nmi": float(normalized_mutual_info_score(true_labels, cluster_labels)),
            "ari": float(adjusted_rand_score(true_labels, cluster_labels))}


def majority_cluster(cluster_labels: np.ndarray, row_labels: Sequence[str], target: str) -> int | None:
    """The cluster holding most rows labelled `target` (lowest id on ties), or None if no row has it."""
    hits = np.asarray(cluster_labels)[np.asarray(row_labels, dtype=object) == target]
    if len(hits) == 0:
        return None
    return int(np.bincount(hits).argmax())


def routing_accuracy(first_clusters: np.ndarray, cluster_labels: np.ndarray, row_labels: Sequence[str] | None,
                     query_labels: Sequence[str] | None) -> float:
    """Share of labelled queries whose nearest cluster holds most of their relevant rows (NaN without labels).

    Args:
        first_clusters: each query's nearest cluster (the one routing at nprobe=1 searches).
        cluster_labels: the cluster of every corpus row.
        row_labels: the label of every corpus row.
        query_labels: the target label of every query; queries whose label no row has are left out.
    """
    if row_labels is None or query_labels is None:
        return float("nan")
    known = set(row_labels)
    hits = [int(f) == majority_cluster(cluster_labels, row_labels, lab)
            for f, lab in zip(first_clusters, query_labels) if lab in known]
    return float(np.mean(hits)) if hits else float("nan")


# --- Graded metrics over a Relevance --------------------------------------------------------------------------


def _slot_gains(rows: np.ndarray, rel: Relevance, k: int | None) -> np.ndarray:
    """(n_queries, k) gains of the first k slots: -1, padding beyond the list and repeated rows give 0."""
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ClusterankError(f"metrics: rows must be a 2-d array (queries x results), got shape {rows.shape}")
    if len(rows) != rel.n_queries:
        raise ClusterankError(f"metrics: {len(rows)} result lists but the relevance has {rel.n_queries} queries")
    if k is None:
        k = rows.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ClusterankError(f"metrics: k must be a positive integer, got {k!r}")
    out = np.zeros((len(rows), int(k)))
    for q, r in enumerate(rows[:, :k]):
        g = rel.gain(q, r)
        _, first = np.unique(r, return_index=True)
        seen = np.zeros(len(r), dtype=bool)
        seen[first] = True
        out[q, :len(r)] = np.where(seen, g, 0.0)  # a row returned twice counts once
    return out


def precision_at_k_graded(rows: np.ndarray, rel: Relevance, k: int) -> np.ndarray:
    """Graded P@k: the share of the first k slots holding a fully relevant row (gain 2).

    P@k = |{i <= k : gain_i = 2}| / k. Partly relevant rows (gain 1) count as misses, as do -1 slots and
    slots beyond the end of a shorter list (the denominator is always k).

    Args:
        rows: (n_queries, n_results) retrieved row ids, best first, -1 for "no result".
        rel: Gains of every row for every query.
        k: Cut-off (positive).

    Returns:
        Float array, one value in [0, 1] per query.
    """
    return (_slot_gains(rows, rel, k) >= FULL_GAIN).sum(axis=1) / k


def recall_at_k(rows: np.ndarray, rel: Relevance, k: int) -> np.ndarray:
    """Recall@k: fully relevant rows in the top k over all fully relevant rows of the query.

    R@k = |{i <= k : gain_i = 2}| / |{rows with gain 2}|, with 0 for a query that has no fully relevant row
    (`build_relevance` rejects such queries).

    Args:
        rows: (n_queries, n_results) retrieved row ids, best first, -1 for "no result".
        rel: Gains of every row for every query.
        k: Cut-off (positive).

    Returns:
        Float array, one value in [0, 1] per query.
    """
    hits = (_slot_gains(rows, rel, k) >= FULL_GAIN).sum(axis=1)
    total = np.array([rel.n_relevant(q, FULL_GAIN) for q in range(rel.n_queries)], dtype=float)
    return np.divide(hits, total, out=np.zeros(len(hits)), where=total > 0)


def mrr(rows: np.ndarray, rel: Relevance, k: int | None = None) -> np.ndarray:
    """Reciprocal rank per query: 1 / rank of the first fully relevant row (gain 2), 0 if none.

    Ranks start at 1. Averaging the returned values over queries gives the mean reciprocal rank (MRR).

    Args:
        rows: (n_queries, n_results) retrieved row ids, best first, -1 for "no result".
        rel: Gains of every row for every query.
        k: Look only at the first k slots (None: the whole list).

    Returns:
        Float array, one value in [0, 1] per query.
    """
    full = _slot_gains(rows, rel, k) >= FULL_GAIN
    first = full.argmax(axis=1)
    return np.where(full.any(axis=1), 1.0 / (first + 1), 0.0)


def ndcg_at_k(rows: np.ndarray, rel: Relevance, k: int) -> np.ndarray:
    """nDCG@k with graded, linear gains (2 fully relevant, 1 partly relevant, 0 otherwise).

    DCG@k = sum_{i=1..k} gain_i / log2(i + 1), with the gains used as they are (linear, not 2^gain - 1).
    IDCG@k is the DCG of the ideal ranking of ALL the query's relevant rows in the corpus (`rel.ideal`),
    not only the retrieved ones; nDCG@k = DCG@k / IDCG@k, and 0 when IDCG@k = 0. -1 slots, slots beyond
    a shorter list and repeats of a row already seen have gain 0.

    Args:
        rows: (n_queries, n_results) retrieved row ids, best first, -1 for "no result".
        rel: Gains of every row for every query.
        k: Cut-off (positive).

    Returns:
        Float array, one value in [0, 1] per query.
    """
    gains = _slot_gains(rows, rel, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = gains @ discount
    idcg = np.array([rel.ideal(q, k) @ discount for q in range(rel.n_queries)])
    return np.divide(dcg, idcg, out=np.zeros(len(dcg)), where=idcg > 0)
