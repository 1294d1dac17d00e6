import numpy as np
import pytest

from clusterank import ClusterankError, ExactIndex
from clusterank.cluster import fit_kmeans
from clusterank.index.routed import RoutedIndex, parse_nprobe


def data(n=1200, d=24, seed=3):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, d))
    x = (centres[rng.integers(0, 8, n)] + 0.6 * rng.standard_normal((n, d))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = (centres[rng.integers(0, 8, 60)] + 0.9 * rng.standard_normal((60, d))).astype(np.float32)
    return x, q / np.linalg.norm(q, axis=1, keepdims=True)


def test_nprobe_equal_to_number_of_clusters_is_exact_search():
    x, q = data()
    model = fit_kmeans(x, 8)
    routed = RoutedIndex(x, model, nprobe=8).search(q, 15)
    exact = ExactIndex(x).search(q, 15)
    np.testing.assert_array_equal(routed.rows, exact.rows)
    np.testing.assert_allclose(routed.scores, exact.scores, rtol=1e-5, atol=1e-6)


def test_nprobe_1_returns_only_rows_of_the_querys_cluster():
    x, q = data()
    model = fit_kmeans(x, 8)
    index = RoutedIndex(x, model, nprobe=1)
    result = index.search(q, 20)
    nearest = np.argmax(q @ model.centroids.T, axis=1)
    for i in range(len(q)):
        rows = result.rows[i][result.rows[i] >= 0]
        assert set(model.labels[rows]) == {nearest[i]}
        assert (result.groups[i][: len(rows)] == nearest[i]).all()
        assert result.probed[i].tolist() == [nearest[i]]
        # and they are the best rows of that cluster
        members = model.rows(nearest[i])
        best = members[np.argsort(-(x[members] @ q[i]), kind="stable")][: len(rows)]
        assert set(rows) == set(best)


def test_auto_never_returns_fewer_relevant_rows_than_nprobe_1():
    x, q = data()
    model = fit_kmeans(x, 8)
    exact = ExactIndex(x).search(q, 10).rows
    one = RoutedIndex(x, model, nprobe=1).search(q, 10)
    auto = RoutedIndex(x, model, nprobe="auto", margin=0.1).search(q, 10)
    for i in range(len(q)):
        relevant = set(exact[i])
        assert len(relevant & set(auto.rows[i])) >= len(relevant & set(one.rows[i]))
        sims = np.sort(q[i] @ model.centroids.T)[::-1]
        assert len(auto.probed[i]) == int((sims >= sims[0] - 0.1).sum())
        assert set(auto.groups[i][auto.rows[i] >= 0]) <= set(auto.probed[i])
    assert max(len(p) for p in auto.probed) > 1


def test_small_clusters_pad_with_minus_one():
    x, q = data(n=200)
    model = fit_kmeans(x, 8)
    result = RoutedIndex(x, model, nprobe=1).search(q[:3], 150)
    for row, scores in zip(result.rows, result.scores):
        found = row >= 0
        assert found.sum() == model.sizes[model.labels[row[0]]]
        assert np.isneginf(scores[~found]).all()


def test_bad_input():
    x, q = data(n=100)
    model = fit_kmeans(x, 4)
    with pytest.raises(ClusterankError, match="covers 100 rows but the corpus has 99"):
        RoutedIndex(x[:99], model)
    index = RoutedIndex(x, model)
    with pytest.raises(ClusterankError, match="vectors have 5 dimensions, the index has 24"):
        index.search(np.ones((1, 5), np.float32), 3)
    for bad in ["0", "-2", "many"]:
        with pytest.raises(ClusterankError, match="nprobe must be"):
            parse_nprobe(bad)
    assert parse_nprobe("AUTO") == "auto" and parse_nprobe("3") == 3
