"""Quantized retrievers against exact search on clustered vectors: what each keeps, what it costs in memory,
and that rescoring with float32 gives back exact cosines."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faiss")

from clusterank.errors import ClusterankError  # noqa: E402
from clusterank.index import SearchContext, build_retriever  # noqa: E402


def clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, d))
    x = centres[rng.integers(0, 20, n)] + 0.6 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    vectors = clustered(3000, 64)
    queries = clustered(50, 64, seed=1)
    exact = build_retriever("exact", SearchContext(vectors)).search(queries, 10)
    return vectors, queries, exact


def recall(result, exact) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(result.rows, exact.rows)]))


@pytest.mark.parametrize("spec,at_least,bytes_per_vector", [
    ("float16", 0.99, 128), ("int8", 0.93, 64), ("int8:rescore=3", 0.99, 64),
    # 64 sign bits say little (binary is meant for 1,024 dims): it needs deep rescoring here
    ("binary:rescore=60", 0.80, 8),
    ("ivfpq:nprobe=16,rescore=8", 0.90, 17),  # m=16 code bytes + 1 byte naming the inverted list
])
def test_recall_and_memory(data, spec, at_least, bytes_per_vector):
    vectors, queries, exact = data
    retriever = build_retriever(spec, SearchContext(vectors))
    result = retriever.search(queries, 10)
    assert result.rows.shape == (50, 10)
    assert recall(result, exact) >= at_least
    assert retriever.memory_bytes == len(vectors) * bytes_per_vector
    assert retriever.memory_bytes < vectors.nbytes


@pytest.mark.parametrize("spec", ["int8:rescore=2", "binary:rescore=4", "ivfpq:rescore=4"])
def test_rescored_scores_are_exact_cosines(data, spec):
    vectors, queries, _ = data
    result = build_retriever(spec, SearchContext(vectors)).search(queries, 10)
    for q, rows, scores in zip(queries, result.rows, result.scores):
        assert np.allclose(vectors[rows] @ q, scores, atol=1e-5)
        assert np.all(np.diff(scores) <= 1e-6)  # best first


def test_rescoring_everything_is_exact_search(data):
    vectors, queries, exact = data
    for spec in ("binary:rescore=300", "ivfpq:nprobe=1000,rescore=300"):
        result = build_retriever(spec, SearchContext(vectors)).search(queries, 10)
        assert recall(result, exact) == 1.0, spec


def test_more_rescoring_keeps_more(data):
    vectors, queries, exact = data
    kept = [recall(build_retriever(f"binary:rescore={r}", SearchContext(vectors)).search(queries, 10), exact)
            for r in (1, 4, 16)]
    assert kept[0] < kept[1] < kept[2]


@pytest.mark.parametrize("spec,message", [
    ("binary:rescore=0", "rescore"), ("int8:rescore=-1", "rescore"), ("ivfpq:m=7", "m=7 must divide"),
    ("float16:nprobe=2", "unknown parameter 'nprobe'"),
])
def test_bad_specs_name_the_parameter(data, spec, message):
    with pytest.raises(ClusterankError, match=message):
        build_retriever(spec, SearchContext(data[0]))


def test_ivfpq_needs_enough_vectors_to_train():
    with pytest.raises(ClusterankError, match="at least 256 vectors"):
        build_retriever("ivfpq", SearchContext(clustered(100, 16)))
