"""Leave-labels-out: hidden labels' rows lose their label, alpha is chosen on the other labels' queries only."""

import numpy as np
import pytest

from clusterank import ClusterankError, SearchPipeline, bundled_profiles, bundled_queries
from clusterank.evaluate.holdout import hidden_labels, leave_labels_out
from clusterank.evaluate.metrics import ndcg_at_k
from clusterank.evaluate.relevance import build_relevance
from clusterank.evaluate.tune import ALPHAS


@pytest.fixture(scope="module")
def pipe(session_home, static_embedder):
    return SearchPipeline(bundled_profiles(n=700), static_embedder, workspace=session_home)


def test_hidden_labels_are_a_seeded_share_of_the_labels_both_sides_have():
    queries, corpus = ["a", "b", "c", "d", "e", "z"], ["a", "b", "c", "d", "e", None]
    hidden = hidden_labels(queries, corpus, 0.4, seed=1)
    assert len(hidden) == 2 and hidden <= {"a", "b", "c", "d", "e"} and hidden == hidden_labels(queries, corpus, 0.4, 1)
    with pytest.raises(ClusterankError, match="between 0 and 1"):
        hidden_labels(queries, corpus, 1.0)
    with pytest.raises(ClusterankError, match="at least two labels"):
        hidden_labels(["a"], ["a"], 0.5)


@pytest.mark.parametrize("spec", ["role", "prior"])
def test_the_method_is_scored_only_on_the_hidden_labels_queries(pipe, spec):
    queries = bundled_queries()
    result = leave_labels_out(pipe, queries.texts, queries.labels, spec, share=0.25, seed=0)
    hidden = hidden_labels(queries.labels, pipe.corpus.labels, 0.25, seed=0)
    on_hidden = [i for i, q in enumerate(queries.labels) if q in hidden]
    assert result.hidden_labels == len(hidden) and result.hidden_queries == len(on_hidden)
    assert result.alpha in ALPHAS
    rel = build_relevance(len(pipe.corpus), pipe.corpus.labels, [queries.labels[i] for i in on_hidden])
    vectors = pipe.embed_queries([queries.texts[i] for i in on_hidden])
    exact = ndcg_at_k(pipe.retriever("exact").search(vectors, 10).rows, rel, 10)
    assert result.exact == pytest.approx(float(exact.mean()))
    d = result.difference
    assert d.low <= d.mean <= d.high and result.method == pytest.approx(result.exact + d.mean, abs=1e-9)
    assert spec in result.line() and "hidden labels" in result.line()


def test_a_corpus_without_labels_is_refused(session_home, static_embedder):
    corpus = bundled_profiles(n=200)
    corpus.labels = None
    pipe = SearchPipeline(corpus, static_embedder, workspace=session_home)
    with pytest.raises(ClusterankError, match="needs a corpus with labels"):
        leave_labels_out(pipe, ["a product marketer"], ["Product Marketing Manager"], "role")
    assert np.all(np.isfinite(pipe.vectors))


def test_compare_reports_leave_labels_out_for_pipelines_that_learn_from_labels(session_home, static_embedder):
    from clusterank import compare_models
    from clusterank.evaluate.report import render_markdown

    corpus, queries = bundled_profiles(n=700), bundled_queries()
    cmp = compare_models(["minilm-static"], corpus, queries, workspace=session_home, pipelines=["exact", "role"],
                         with_maps=False)
    (result,) = cmp.runs[0].holdout
    assert result.spec == "role" and result.hidden_queries > 0
    assert "Leave-labels-out" in render_markdown(cmp, "-") and result.line() in render_markdown(cmp, "-")
    off = compare_models(["minilm-static"], corpus, queries, workspace=session_home, pipelines=["exact", "role"],
                         with_maps=False, hide_labels=0)
    assert off.runs[0].holdout == [] and "Leave-labels-out" not in render_markdown(off, "-")
