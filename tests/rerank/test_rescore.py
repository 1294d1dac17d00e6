"""Rescoring with a stronger embedding model, and the cross-encoder plumbing on a model saved locally."""

import numpy as np
import pytest

from clusterank import ClusterankError, SearchPipeline, bundled_profiles, get_embedder
from clusterank.rerank.rescore import CrossEncoderReranker, RescoreReranker

JOB = "Own positioning, messaging and go-to-market launches; equip sales with battlecards."


def test_rescore_orders_by_the_second_models_cosine(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=300), static_embedder, workspace=workspace)
    hits = pipe.search(JOB, 12)
    reranker = RescoreReranker("paraphrase-MiniLM-L3-v2", workspace)
    out = reranker.rerank(JOB, hits)
    strong = get_embedder("paraphrase-MiniLM-L3-v2", workspace)
    v = strong.embed([h.text for h in hits] + [JOB])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    expected = np.argsort(-(v[:-1] @ v[-1]), kind="stable")
    assert [h.row for h in out] == [hits[i].row for i in expected]
    assert [h.rank for h in out] == list(range(1, 13))
    assert out[0].rerank_score == pytest.approx(float((v[:-1] @ v[-1]).max()), rel=1e-4)
    assert out[0].cosine == next(h.cosine for h in hits if h.row == out[0].row)  # retrieval score kept
    assert reranker.stats.calls == 13
    reranker.rerank(JOB, hits)
    assert reranker.stats.calls == 13  # second time everything comes from the store


@pytest.mark.slow
def test_cross_encoder_plumbing_with_a_locally_saved_model(tmp_path, workspace, static_embedder):
    """No cross-encoder weights exist offline: build one from the bundled MiniLM (untrained head), save it,
    load it by path as a user would, and check the reranker orders by its scores."""
    from sentence_transformers import CrossEncoder

    from clusterank.embed.local import bundled_minilm_dir

    CrossEncoder(str(bundled_minilm_dir()), num_labels=1, device="cpu").save(str(tmp_path / "ce"))
    reranker = CrossEncoderReranker(str(tmp_path / "ce"))
    hits = SearchPipeline(bundled_profiles(n=200), static_embedder, workspace=workspace).search(JOB, 8)
    out = reranker.rerank(JOB, hits)
    scores = reranker.model.predict([(JOB, h.text) for h in hits])
    assert [h.row for h in out] == [hits[i].row for i in np.argsort(-scores, kind="stable")]
    assert reranker.name == f"cross-encoder:{tmp_path / 'ce'}" and reranker.stats.calls == 8
    with pytest.raises(ClusterankError, match="cannot load cross-encoder"):
        CrossEncoderReranker(str(tmp_path / "missing"))
