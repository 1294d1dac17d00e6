"""`--train-queries`: labelled job descriptions that `prior` and `adapter` train on beside the corpus rows, kept
apart from the scored queries."""

import numpy as np
import pandas as pd
import pytest

from clusterank import ClusterankError, SearchPipeline, bundled_profiles, bundled_queries
from clusterank.evaluate.compare import check_disjoint
from clusterank.index import SearchContext, build_retriever

pytest.importorskip("sklearn")


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_training_queries_teach_the_classifier_where_queries_lie():
    """Corpus rows of labels a and b sit apart; the queries asking for `b` lie on a's side. Trained on the corpus
    only, the prior sends such a query to a's rows; with labelled training queries it learns that this region of
    query space asks for b."""
    rng = np.random.default_rng(0)
    d = 16
    a, b, query_side = np.eye(d)[0], np.eye(d)[1], np.eye(d)[0] + 0.3 * np.eye(d)[2]
    x = unit(np.vstack([a + 0.3 * rng.standard_normal((100, d)), b + 0.3 * rng.standard_normal((100, d))]))
    labels = ["a"] * 100 + ["b"] * 100
    train = unit(query_side + 0.1 * rng.standard_normal((60, d)))
    q = unit(query_side[None, :] + 0.1 * rng.standard_normal((1, d)))
    plain = build_retriever("prior:alpha=1,c=10", SearchContext(x, labels=labels))
    taught = build_retriever("prior:alpha=1,c=10", SearchContext(x, labels=labels,
                                                                 examples=(train, ["b"] * 60, "digest")))
    share_b = lambda r: np.mean([labels[i] == "b" for i in r.search(q, 20).rows[0]])  # noqa: E731
    assert share_b(plain) < 0.5 < share_b(taught)
    assert taught.row_labels.tolist() == plain.row_labels.tolist()  # rows keep their own labels; only p(.|q) moved


def test_by_column_ignores_training_queries_labelled_by_role():
    context = SearchContext(unit(np.eye(4)), labels=["a", "a", "b", "b"], examples=(unit(np.eye(4)[:1]), ["b"], "d"))
    assert len(context.training_rows(["a", "a", "b", "b"], None)[0]) == 5
    vectors, labels, digest = context.training_rows(["x", "x", "y", "y"], "family")
    assert len(vectors) == 4 and labels == ["x", "x", "y", "y"] and digest == ""


def test_a_scored_query_in_the_training_file_is_refused():
    queries = bundled_queries()
    with pytest.raises(ClusterankError, match="2 of its queries are also scored queries .first: row 0"):
        check_disjoint(queries.subset([3, 5]), queries.texts)
    check_disjoint(queries.subset([3, 5]), queries.texts[6:])


def test_the_pipeline_embeds_training_queries_once_and_needs_their_labels(tmp_path):
    from clusterank import Workspace, load_queries

    workspace = Workspace(tmp_path)
    corpus, queries = bundled_profiles(n=300), bundled_queries()
    pipe = SearchPipeline(corpus, "minilm-static", workspace=workspace, train_queries=queries.subset(range(20)))
    vectors, labels, digest = pipe.examples
    assert vectors.shape == (20, pipe.vectors.shape[1]) and labels == queries.labels[:20] and len(digest) == 12
    assert pipe.search(queries.texts[30], 5, retriever="prior") and pipe.search(queries.texts[30], 5,
                                                                               retriever="adapter:rank=4,epochs=1")
    path = tmp_path / "unlabelled.csv"
    pd.DataFrame({"natural_language": ["a job", "another job"]}).to_csv(path, index=False)
    blind = SearchPipeline(corpus, "minilm-static", workspace=workspace,
                           train_queries=load_queries(path, label_column="role"))
    with pytest.raises(ClusterankError, match="no label column; they need labels"):
        blind.retriever("prior")
