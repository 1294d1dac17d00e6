"""Graded retrieval metrics (P@k, recall@k, MRR, nDCG@k) against hand-computed cases."""

import math

import numpy as np
import pytest

from clusterank.errors import ClusterankError
from clusterank.evaluate.metrics import mrr, ndcg_at_k, precision_at_k_graded, recall_at_k
from clusterank.evaluate.relevance import Relevance

# query 0: rows 1, 2 fully relevant, row 3 partly; query 1: row 7 fully relevant, rows 8, 9 partly
REL = Relevance(gains=[{1: 2, 2: 2, 3: 1}, {7: 2, 8: 1, 9: 1}], n_rows=10)


def test_precision_at_k_graded():
    rows = np.array([[1, 0, 3, 2], [8, 7, -1, -1]])
    # q0: gains 2,0,1,2 -> 2 full of 4; q1: gains 1,2,0,0 -> 1 of 4 (partial and -1 are misses)
    np.testing.assert_allclose(precision_at_k_graded(rows, REL, 4), [0.5, 0.25])
    np.testing.assert_allclose(precision_at_k_graded(rows, REL, 1), [1.0, 0.0])
    # k beyond the list: missing slots are misses, the denominator stays k
    np.testing.assert_allclose(precision_at_k_graded(rows, REL, 8), [0.25, 0.125])


def test_recall_at_k():
    rows = np.array([[1, 0, 3, 2], [8, 9, -1, 7]])
    np.testing.assert_allclose(recall_at_k(rows, REL, 1), [0.5, 0.0])
    np.testing.assert_allclose(recall_at_k(rows, REL, 3), [0.5, 0.0])
    np.testing.assert_allclose(recall_at_k(rows, REL, 4), [1.0, 1.0])


def test_mrr():
    rows = np.array([[0, 3, 2, 1], [9, 8, 5, -1]])
    # q0: first full row (2) at rank 3; q1: row 7 never retrieved (partials don't count)
    np.testing.assert_allclose(mrr(rows, REL), [1 / 3, 0.0])
    np.testing.assert_allclose(mrr(rows, REL, k=2), [0.0, 0.0])
    np.testing.assert_allclose(mrr(np.array([[2, 1], [7, 8]]), REL), [1.0, 1.0])


def test_ndcg_graded_hand_computed():
    # retrieved gains [2, 0, 1]; ideal of all relevant rows [2, 2, 1]
    rows = np.array([[1, 0, 3], [7, 8, 9]])
    dcg = 2 / 1 + 0 + 1 / math.log2(4)            # 2.5
    idcg = 2 + 2 / math.log2(3) + 1 / 2           # 3.7619
    assert dcg == pytest.approx(2.5) and idcg == pytest.approx(3.7619, abs=1e-4)
    out = ndcg_at_k(rows, REL, 3)
    assert out[0] == pytest.approx(dcg / idcg) and out[0] == pytest.approx(0.6646, abs=1e-4)
    # q1 retrieved its relevant rows in ideal order -> 1
    assert out[1] == pytest.approx(1.0)


def test_ndcg_idcg_counts_relevant_rows_not_retrieved():
    # q1 only retrieves row 8 (gain 1); ideal is [2, 1] -> DCG 1, IDCG 2 + 1/log2(3)
    out = ndcg_at_k(np.array([[1, 2], [8, -1]]), REL, 2)
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx(1 / (2 + 1 / math.log2(3)))


def test_padding_and_short_lists():
    rows = np.array([[-1, -1, -1], [-1, 7, -1]])
    np.testing.assert_allclose(precision_at_k_graded(rows, REL, 3), [0.0, 1 / 3])
    np.testing.assert_allclose(recall_at_k(rows, REL, 3), [0.0, 1.0])
    np.testing.assert_allclose(mrr(rows, REL), [0.0, 0.5])
    np.testing.assert_allclose(ndcg_at_k(rows, REL, 3),
                               [0.0, (2 / math.log2(3)) / (2 + 1 / math.log2(3) + 1 / 2)])
    # a list shorter than k: missing slots are gain 0, IDCG still over k
    short = np.array([[1], [7]])
    np.testing.assert_allclose(ndcg_at_k(short, REL, 3), [2 / (2 + 2 / math.log2(3) + 0.5),
                                                          2 / (2 + 1 / math.log2(3) + 0.5)])


def test_repeated_rows_count_once():
    rows = np.array([[1, 1, 1], [7, 7, 8]])
    np.testing.assert_allclose(precision_at_k_graded(rows, REL, 3), [1 / 3, 1 / 3])
    np.testing.assert_allclose(recall_at_k(rows, REL, 3), [0.5, 1.0])
    assert np.all(ndcg_at_k(rows, REL, 3) <= 1.0)


def test_query_without_relevant_rows_scores_zero():
    rel = Relevance(gains=[{}], n_rows=3)
    rows = np.array([[0, 1, 2]])
    for f in (precision_at_k_graded, recall_at_k, ndcg_at_k):
        np.testing.assert_allclose(f(rows, rel, 3), [0.0])
    np.testing.assert_allclose(mrr(rows, rel), [0.0])


def test_bad_inputs():
    with pytest.raises(ClusterankError, match="k must be a positive integer"):
        ndcg_at_k(np.array([[1], [7]]), REL, 0)
    with pytest.raises(ClusterankError, match="3 result lists but the relevance has 2 queries"):
        recall_at_k(np.zeros((3, 2), dtype=int), REL, 2)
    with pytest.raises(ClusterankError, match="2-d array"):
        mrr(np.array([1, 2]), REL)
