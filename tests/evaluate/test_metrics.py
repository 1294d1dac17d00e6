"""Metrics against hand-computed cases."""

import numpy as np
import pytest

from clusterank.evaluate.metrics import (cluster_agreement, majority_cluster, near_miss_rate, overlap_recall,
                                         precision_at_k_graded, purity)
from clusterank.evaluate.neighbours import from_map
from clusterank.evaluate.relevance import relevance_from_labels

LABELS = ["PMM", "PM", "PMM", "PO", "DS", "PMM", "PM"]


def test_precision_at_k():
    rows = np.array([[0, 1, 2, 3], [4, 5, -1, -1]])
    # query 1 (PMM): rows 0 and 2 are PMM -> 2/4; query 2 (DS): row 4 -> 1/4, -1 counts as a miss
    rel = relevance_from_labels(LABELS, ["PMM", "DS"])
    np.testing.assert_allclose(precision_at_k_graded(rows, rel, 4), [0.5, 0.25])
    np.testing.assert_allclose(precision_at_k_graded(rows, rel, 2), [0.5, 0.5])


def test_near_miss_rate():
    rows = np.array([[0, 1, 3, 6], [5, 4, 0, 2]])
    neighbours = {"PMM": ["PM", "PO"], "DS": ["DA"]}
    # query 1 (PMM): PM, PO, PM are neighbours -> 3/4; query 2 (DS): none -> 0
    np.testing.assert_allclose(near_miss_rate(rows, LABELS, from_map(["PMM", "DS"], neighbours).sets, 4), [0.75, 0.0])


def test_overlap_recall():
    np.testing.assert_allclose(overlap_recall(np.array([[1, 2, 3], [7, -1, -1]]), np.array([[3, 2, 9], [7, 8, 9]])),
                               [2 / 3, 1 / 3])


def test_purity_nmi_ari():
    clusters = np.array([0, 0, 0, 1, 1, 1])
    truth = ["a", "a", "b", "b", "b", "b"]
    assert purity(clusters, truth) == pytest.approx(5 / 6)  # cluster 0: a=2, cluster 1: b=3
    perfect = cluster_agreement(np.array([0, 0, 1, 1]), ["x", "x", "y", "y"])
    assert perfect == pytest.approx({"purity": 1.0, "nmi": 1.0, "ari": 1.0})
    swapped = cluster_agreement(np.array([1, 1, 0, 0]), ["x", "x", "y", "y"])
    assert swapped["nmi"] == pytest.approx(1.0) and swapped["ari"] == pytest.approx(1.0)
    assert cluster_agreement(np.array([0, 1, 0, 1]), ["x", "x", "y", "y"])["ari"] < 0


def test_majority_cluster():
    assert majority_cluster(np.array([2, 2, 1, 1, 1, 0, 0]), LABELS, "PMM") == 0  # PMM rows 0,2,5 -> 2,1,0: tie, lowest
    assert majority_cluster(np.array([2, 2, 2, 1, 1, 2, 0]), LABELS, "PMM") == 2
    assert majority_cluster(np.array([0] * 7), LABELS, "nobody") is None
