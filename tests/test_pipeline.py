"""SearchPipeline end to end with a real model, checked against an independent brute-force reference, and `run`
against its stages done by hand."""

from dataclasses import replace

import numpy as np
import pytest

from clusterank import (ClusterankError, Hit, Reranker, SearchPipeline, bundled_profiles, bundled_queries, rerank_top,
                        similarity_percent)


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
        assert all(h.cluster == pipe.clusters().labels[h.row] for h in hits)  # as the server reports it


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


class Reverse(Reranker):
    """A reranker whose order is easy to check: the short list reversed, scored by its new position."""

    name = "reverse"

    def rerank(self, query, hits):
        return [replace(h, rank=i, rerank_score=-float(i)) for i, h in enumerate(reversed(hits), start=1)]


@pytest.mark.parametrize("spec", ["exact", "routed:nprobe=2"])
def test_run_is_retrieval_then_rerank_top_then_the_cut_to_k(workspace, static_embedder, spec):
    pipe = SearchPipeline(bundled_profiles(n=300), static_embedder, workspace=workspace)
    query = bundled_queries().texts[3]
    vector = pipe.embed_queries([query])
    by_hand = pipe.hits(pipe.retriever(spec).search(vector, 12))[0]

    result = pipe.run(query, 5, retriever=spec, reranker=Reverse(), rerank_top=12)
    assert result.hits == rerank_top(Reverse(), query, by_hand, 12)[:5]
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5] and result.hits[0].row == by_hand[11].row
    assert set(result.timings) == {"embed", "retrieve", "rerank"} and min(result.timings.values()) >= 0
    np.testing.assert_allclose(result.vector, vector[0], atol=1e-6)

    plain = pipe.run(query, 7, retriever=spec)
    assert plain.hits == by_hand[:7] and plain.hits == pipe.search(query, 7, retriever=spec)


def test_run_many_is_run_for_each_query_in_one_batch(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=300), static_embedder, workspace=workspace)
    queries = bundled_queries().texts[:6]
    batch = pipe.run_many(queries, 4, retriever="exact", reranker=Reverse(), rerank_top=10)
    assert len(batch) == 6 and min(batch.timings.values()) >= 0
    one_by_one = [pipe.run(q, 4, reranker=Reverse(), rerank_top=10).hits for q in queries]
    assert batch.rows.tolist() == [[h.row for h in hits] for hits in batch.hits] == [[h.row for h in hits]
                                                                                      for hits in one_by_one]
    np.testing.assert_allclose([[h.cosine for h in hits] for hits in batch.hits],  # a batched matrix product
                               [[h.cosine for h in hits] for hits in one_by_one], atol=1e-6)  # rounds differently

    routed = pipe.run_many(queries, 4, retriever="routed:nprobe=2")
    found = pipe.retriever("routed:nprobe=2").search(pipe.embed_queries(queries), 4)
    assert np.array_equal(routed.rows, found.rows) and routed.clusters_probed == found.clusters_probed == 2
    assert routed.hits == pipe.hits(found)
    given = pipe.run_many(None, 4, vectors=pipe.embed_queries(queries), retriever="routed:nprobe=2")
    assert given.hits == routed.hits


def test_run_cuts_to_k_and_filters(workspace, static_embedder):
    corpus = bundled_profiles(n=60)
    pipe = SearchPipeline(corpus, static_embedder, workspace=workspace)
    query = bundled_queries().texts[0]
    assert len(pipe.run(query, 1000).hits) == 60
    assert len(pipe.run(query, 1000, reranker=Reverse(), rerank_top=5).hits) == 60
    role = max(set(corpus.labels), key=list(corpus.labels).count)
    n_role = list(corpus.labels).count(role)
    kept = pipe.run(query, n_role, filters={"role": role}, reranker=Reverse(), rerank_top=n_role).hits
    assert [h.role for h in kept] == [role] * n_role and [h.rank for h in kept] == list(range(1, n_role + 1))
    batch = pipe.run_many([query], 1000, filters={"role": role})  # fewer match than k: the rows are padded
    assert batch.rows.shape == (1, 60) and (batch.rows[0] >= 0).sum() == n_role and batch.clusters_probed is None
    with pytest.raises(ClusterankError, match="k must be at least 1"):
        pipe.run(query, 0)
    with pytest.raises(ClusterankError, match="a reranker reads them"):
        pipe.run_many(None, 3, vectors=pipe.embed_queries([query]), reranker=Reverse())


def test_the_notebook_path_takes_dataframes_and_gives_tables(tmp_path):
    """`load_profiles(DataFrame)`, `SearchPipeline(DataFrame)` and `hits.to_frame()`, as a notebook uses them."""
    import pandas as pd

    from clusterank import ClusterankError, SearchPipeline, Workspace, load_profiles, load_queries

    frame = pd.DataFrame({"text": ["Python engineer building APIs", "Nurse on a surgical ward", "Payroll clerk"],
                          "role": ["SE", "RN", "AC"]})
    corpus = load_profiles(frame)
    assert corpus.texts == frame.text.tolist() and corpus.labels == ["SE", "RN", "AC"]
    assert "DataFrame of 3 rows" in corpus.source
    assert load_queries(pd.DataFrame({"natural_language": ["a nurse"], "role": ["RN"]})).texts == ["a nurse"]
    pipe = SearchPipeline(frame, "minilm-static", workspace=Workspace(tmp_path))
    hits = pipe.search("registered nurse for a hospital ward", 2)
    table = hits.to_frame()
    assert list(table.columns[:4]) == ["rank", "row", "id", "cosine"] and len(table) == 2
    assert table.role.iloc[0] == "RN" and table.similarity_percent.iloc[0] == pytest.approx(hits[0].percent, abs=0.01)
    assert [h.to_frame().shape[0] for h in pipe.search_many(["nurse", "payroll"], 1)] == [1, 1]
    with pytest.raises(ClusterankError, match="no text column 'text'|text"):
        load_profiles(pd.DataFrame({"words": ["x"]}))
    with pytest.raises(ClusterankError, match="must be a Corpus .* or a pandas DataFrame, not list"):
        SearchPipeline(["a", "b"], "minilm-static", workspace=Workspace(tmp_path))
