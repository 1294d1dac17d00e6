"""SearchPipeline end to end with a real model, checked against an independent brute-force reference."""

import numpy as np
import pytest

from clusterank import ClusterankError, Hit, SearchPipeline, bundled_profiles, bundled_queries, similarity_percent


def test_search_matches_independent_brute_force(workspace, static_embedder):
    corpus = bundled_profiles(n=300)
    pipe = SearchPipeline(corpus, static_embedder, workspace=workspace)
    queries = bundled_queries().texts[:12]
    raw_c = static_embedder.embed(corpus.texts)
    raw_q = static_embedder.embed(queries)
    sims = (raw_q / np.linalg.norm(raw_q, axis=1, keepdims=True)) @ (
        raw_c / np.linalg.norm(raw_c, axis=1, keepdims=True)).T
    for qi, hits in enumerate(pipe.search_many(queries, k=10)):
        expected = np.argsort(-sims[qi], kind="stable")[:10]
        assert [h.row for h in hits] == expected.tolist()
        np.testing.assert_allclose([h.cosine for h in hits], sims[qi][expected], rtol=1e-5, atol=1e-6)
        assert [h.rank for h in hits] == list(range(1, 11))
        assert all(h.role == corpus.labels[h.row] for h in hits)


def test_second_pipeline_uses_the_cache(workspace, static_embedder):
    corpus = bundled_profiles(n=120)
    SearchPipeline(corpus, static_embedder, workspace=workspace)

    class Refuses:
        name, dims, max_tokens = static_embedder.name, static_embedder.dims, static_embedder.max_tokens

        def embed(self, texts, *, progress=False):
            raise AssertionError(f"model called for {len(texts)} texts")

    pipe = SearchPipeline(corpus, Refuses(), workspace=workspace)
    assert pipe.vectors.shape == (120, static_embedder.dims)


def test_hit_format_is_the_seeds_line():
    hit = Hit(rank=1, row=3615, id="3615", cosine=0.7918, role="Product Marketing Manager",
              preview="Ann Lee Headline: Product Marketing Manager | Telling the story")
    assert hit.format() == ("Text 3615 similarity: 89.59% - Preview: Ann Lee Headline: Product Marketing Manager | "
                            "Telling the story...  [Product Marketing Manager]")
    assert similarity_percent(-1) == 0 and similarity_percent(1) == 100


def test_empty_query_is_refused(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=60), static_embedder, workspace=workspace)
    with pytest.raises(ClusterankError, match="job description is empty"):
        pipe.search("  ")
