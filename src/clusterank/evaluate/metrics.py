"""Small, pure metric functions over retrieved rows and labels (numpy in, floats out).

Conventions: `rows` is (n_queries, k) with -1 for "no result"; a retrieved row is relevant when its
label equals the query's label; a near miss is a row whose label is a confusable neighbour of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def precision_at_k(rows: np.ndarray, row_labels: Sequence[str], query_labels: Sequence[str], k: int) -> np.ndarray:
    """P@k per query: the share of the first k slots holding a row with the query's label (-1 counts as a miss)."""
    out = np.zeros(len(rows))
    for i, (r, target) in enumerate(zip(rows, query_labels)):
        out[i] = sum(1 for x in r[:k] if x >= 0 and row_labels[x] == target) / k
    return out


def near_miss_rate(rows: np.ndarray, row_labels: Sequence[str], query_labels: Sequence[str],
                   neighbours: Mapping[str, Sequence[str]], k: int) -> np.ndarray:
    """Per query, the share of the first k slots holding a row whose label is a confusable neighbour."""
    out = np.zeros(len(rows))
    for i, (r, target) in enumerate(zip(rows, query_labels)):
        near = set(neighbours.get(target, ()))
        out[i] = sum(1 for x in r[:k] if x >= 0 and row_labels[x] in near) / k
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
