"""The vector cache: idempotent, resumable, and never damaged by bad vectors."""

import sqlite3

import numpy as np
import pytest

from clusterank import ClusterankError, EmbeddingStore
from clusterank.embed.store import normalise

TEXTS = [f"Profile {i}: product marketing, positioning and launches, year {2000 + i}" for i in range(40)]


class Counting:
    """Wraps a real embedder and counts the texts it is asked to embed; can fail after some calls."""

    def __init__(self, inner, fail_after_calls=None, corrupt=None):
        self.inner, self.name, self.dims, self.max_tokens = inner, inner.name, inner.dims, inner.max_tokens
        self.calls, self.texts, self.fail_after_calls, self.corrupt = 0, 0, fail_after_calls, corrupt

    def embed(self, texts, *, progress=False):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt
        self.calls += 1
        self.texts += len(texts)
        vecs = self.inner.embed(texts)
        return self.corrupt(vecs) if self.corrupt else vecs


def test_second_run_embeds_nothing_and_vectors_are_normalised(static_embedder, tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    first = Counting(static_embedder)
    a = store.embed(first, TEXTS + TEXTS[:5])  # duplicates are embedded once
    assert first.texts == 40
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, rtol=1e-5)
    second = Counting(static_embedder)
    b = EmbeddingStore(tmp_path / "s.sqlite").embed(second, TEXTS)
    assert second.calls == 0
    np.testing.assert_array_equal(a[:40], b)
    np.testing.assert_allclose(b[3], normalise(static_embedder.embed([TEXTS[3]]))[0], rtol=1e-5)


def test_interrupted_run_resumes_where_it_stopped(static_embedder, tmp_path):
    path = tmp_path / "s.sqlite"
    with pytest.raises(KeyboardInterrupt):
        EmbeddingStore(path).embed(Counting(static_embedder, fail_after_calls=2), TEXTS, chunk_size=10)
    assert EmbeddingStore(path).count(static_embedder.name) == 20
    resumed = Counting(static_embedder)
    vecs = EmbeddingStore(path).embed(resumed, TEXTS, chunk_size=10)
    assert resumed.texts == 20 and vecs.shape == (40, static_embedder.dims)


def test_nan_vectors_are_refused_and_stored_data_stays_intact(static_embedder, tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    store.embed(static_embedder, TEXTS[:10])

    def poison(v):
        v = v.copy()
        v[3, 0] = np.nan
        return v

    with pytest.raises(ClusterankError, match="row 13 contains NaN"):
        store.embed(Counting(static_embedder, corrupt=poison), TEXTS, chunk_size=30)
    assert store.count(static_embedder.name) == 10


def test_wrong_vector_size_is_refused(static_embedder, tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    store.embed(static_embedder, TEXTS[:3])
    with pytest.raises(ClusterankError, match=r"returned vectors of shape \(2, 255\)"):
        store.embed(Counting(static_embedder, corrupt=lambda v: v[:, :255]), TEXTS[3:5])
    assert store.count(static_embedder.name) == 3


def test_empty_text_names_the_row(static_embedder, tmp_path):
    with pytest.raises(ClusterankError, match="profiles: text at row 2 is empty"):
        EmbeddingStore(tmp_path / "s.sqlite").embed(static_embedder, ["a", "b", "  "], what="profiles")


def test_all_zero_vector_is_refused():
    with pytest.raises(ClusterankError, match="row 1 is all zeros"):
        normalise(np.array([[1, 0], [0, 0]], dtype=np.float32))


def test_a_text_the_model_has_no_token_for_names_its_texts_and_row(static_embedder, tmp_path):
    """A visible text of symbols the static model does not know embeds to zeros: the error names the corpus and the
    text's own row, also when rows before it were cached (the chunk then does not start at row 0)."""
    store = EmbeddingStore(tmp_path / "s.sqlite")
    store.embed(static_embedder, ["data engineer", "product marketing manager"])
    texts = ["data engineer", "product marketing manager", "recruiter", "\u2603\u2603"]
    with pytest.raises(ClusterankError, match=r"on profiles of jobs\.csv: vector for row 3 is all zeros"):
        store.embed(static_embedder, texts, what="profiles of jobs.csv")


def test_unreadable_store_file_gives_one_line(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ClusterankError, match="is unreadable"):
        EmbeddingStore(path)


def test_dims_are_fixed_per_model_name(tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    store.put("m", [b"a" * 16], normalise(np.ones((1, 4))))
    with pytest.raises(ClusterankError, match="gives 8-dim vectors but the store holds 4-dim"):
        store.put("m", [b"b" * 16], normalise(np.ones((1, 8))))
    assert store.models() == {"m": 1}
    assert store.clear("m") == 1 and store.dims("m") is None
    assert sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA integrity_check").fetchone()[0] == "ok"
