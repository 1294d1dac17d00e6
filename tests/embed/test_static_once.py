"""The static (model2vec) embedder tokenizes each text once, and its vectors are model2vec's own."""

import logging

import numpy as np
import pytest

from clusterank.data.loaders import bundled_profiles
from clusterank.embed.base import Embedder
from clusterank.embed.local import StaticEmbedder

LONG = " ".join(["go", "to", "it"] * 200)  # 600 tokens in 1,799 characters: under model2vec's cut (512 x 6)


def edge_texts(model) -> list[str]:
    cut = 512 * model.median_token_length
    return [LONG, "zzzqqqxx", "x", "ü ñ 漢字 🙂 ¿qué?", "word " * (cut // 5 + 40),  # past the character cut
            "  spaces around  ", "Recruiter"]


def test_vectors_equal_model2vec_encode(static_embedder):
    model = static_embedder._load()
    texts = list(bundled_profiles(n=600).texts) + edge_texts(model)
    ours = static_embedder.embed(texts)
    raw = model.encode(texts, max_length=static_embedder.max_tokens, batch_size=static_embedder.batch_size)
    assert ours.dtype == np.float32 and ours.shape == raw.shape
    np.testing.assert_allclose(ours, raw.astype(np.float32), atol=1e-6, rtol=0)


def test_weighted_model_pools_as_model2vec(static_embedder, tmp_path):
    from model2vec import StaticModel

    base = static_embedder._load()
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(base.embedding)).astype(np.float32)
    weighted = StaticModel(vectors=base.embedding.astype(np.float32), tokenizer=base.tokenizer, weights=weights,
                           normalize=False)
    weighted.save_pretrained(str(tmp_path / "weighted"))
    emb = StaticEmbedder("model2vec:weighted", tmp_path / "weighted")
    model = emb._load()
    assert model.weights is not None
    texts = list(bundled_profiles(n=50).texts) + edge_texts(model)
    np.testing.assert_allclose(emb.embed(texts), model.encode(texts, max_length=512).astype(np.float32), atol=1e-6)


def test_each_text_is_tokenized_once(static_embedder):
    texts = list(bundled_profiles(n=300).texts) + [LONG]
    calls = []
    encode = static_embedder._encode_batch

    def counting(batch, **kw):
        calls.append(len(batch))
        return encode(batch, **kw)

    static_embedder._encode_batch = counting
    try:
        static_embedder.embed(texts)
    finally:
        static_embedder._encode_batch = encode
    assert sum(calls) == len(texts)


def test_long_texts_are_counted_in_full_for_one_warning(static_embedder, caplog):
    model = static_embedder._load()
    texts = edge_texts(model)
    counts = static_embedder.count_tokens(texts)
    assert counts[0] > 512 and counts[4] > 512  # not capped at the model's own max_length
    with caplog.at_level(logging.WARNING, logger="clusterank.embed"):
        static_embedder.embed(texts)
    lines = [r.getMessage() for r in caplog.records if "token limit" in r.getMessage()]
    assert lines == [f"minilm-static: 2 of {len(texts)} texts are longer than its 512-token limit and were truncated "
                     f"(longest: {int(counts.max())} tokens)"]


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_single(static_embedder, n):
    vecs = static_embedder.embed(["Product marketing manager"] * n)
    assert vecs.shape == (n, static_embedder.dims) and vecs.dtype == np.float32


def test_token_vectors_are_what_embed_pools(static_embedder):
    """`token_vectors` (declared on `Embedder`, None there): the tokens embed pools, whose mean is the vector."""
    model = static_embedder._load()
    for text in [*bundled_profiles(n=3).texts, *edge_texts(model)]:
        tokens, vectors = static_embedder.token_vectors(text)
        assert len(tokens) == len(vectors) and vectors.shape[1:] == (static_embedder.dims,)
        mean = vectors.mean(axis=0) if len(vectors) else np.zeros(static_embedder.dims)
        vector = static_embedder.embed([text])[0]
        np.testing.assert_allclose(mean / max(np.linalg.norm(mean), 1e-12),
                                   vector / max(np.linalg.norm(vector), 1e-12), atol=1e-3)  # embed pools in fp16
    assert Embedder.token_vectors(static_embedder, "x") is None
