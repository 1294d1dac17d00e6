import numpy as np
import pytest

from clusterank import ClusterankError, ExactIndex
from clusterank.index.exact import top_k


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(corpus, queries, k):
    """The seed's way: score every row in a Python loop, sort."""
    out = []
    for q in queries:
        scores = [(float(np.dot(q, row)), i) for i, row in enumerate(corpus)]
        scores.sort(key=lambda t: (-t[0], t[1]))
        out.append(scores[:k])
    return out


def test_search_equals_brute_force_single_and_batched():
    rng = np.random.default_rng(0)
    corpus, queries = unit(rng, 500, 32), unit(rng, 300, 32)
    index = ExactIndex(corpus, batch_size=64)
    result = index.search(queries, 7)
    assert result.rows.shape == (300, 7)
    ref = brute_force(corpus, queries, 7)
    for qi, expected in enumerate(ref):
        assert result.rows[qi].tolist() == [i for _, i in expected]
        np.testing.assert_allclose(result.scores[qi], [s for s, _ in expected], rtol=1e-5, atol=1e-6)
    single = index.search(queries[5], 7)
    assert single.rows[0].tolist() == result.rows[5].tolist()


def test_k_larger_than_corpus_returns_everything_sorted():
    rng = np.random.default_rng(1)
    corpus = unit(rng, 5, 8)
    result = ExactIndex(corpus).search(corpus[:2], 50)
    assert result.rows.shape == (2, 5)
    assert result.rows[0, 0] == 0 and result.rows[1, 0] == 1
    assert np.all(np.diff(result.scores, axis=1) <= 1e-7)


def test_ties_inside_the_top_k_break_by_lower_row():
    rows, vals = top_k(np.array([[0.5, 0.9, 0.2, 0.9, 0.1]], dtype=np.float32), 3)
    assert rows.tolist() == [[1, 3, 0]]
    assert vals.tolist()[0] == pytest.approx([0.9, 0.9, 0.5])


def test_bad_queries_give_clear_errors():
    rng = np.random.default_rng(2)
    index = ExactIndex(unit(rng, 10, 16))
    with pytest.raises(ClusterankError, match="vectors have 8 dimensions, the index has 16"):
        index.search(unit(rng, 1, 8), 3)
    bad = unit(rng, 3, 16)
    bad[2, 4] = np.nan
    with pytest.raises(ClusterankError, match="row 2 contains NaN"):
        index.search(bad, 3)
    with pytest.raises(ClusterankError, match="k must be at least 1"):
        index.search(unit(rng, 1, 16), 0)
    with pytest.raises(ClusterankError, match="at least one vector"):
        ExactIndex(np.zeros((0, 16), np.float32))
