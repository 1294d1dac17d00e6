"""Graded relevance from labels and explicit ids, against hand-computed gains."""

import numpy as np
import pytest

from clusterank.errors import ClusterankError
from clusterank.evaluate.relevance import Relevance, build_relevance, relevance_from_ids, relevance_from_labels

# rows:     0      1     2      3     4      5      6
ROLES = ["PMM", "PM", "PMM", "PO", "DS", None, "DA"]
FAMILIES = ["product", "product", "product", "product", "data", "product", "data"]


def test_labels_and_parents_give_graded_gains():
    rel = relevance_from_labels(ROLES, ["PMM", "DS"], FAMILIES, ["product", "data"])
    # PMM query: rows 0, 2 share the role (2); 1, 3, 5 share only the family (1); 4, 6 nothing
    assert rel.gains[0] == {0: 2, 2: 2, 1: 1, 3: 1, 5: 1}
    assert rel.gains[1] == {4: 2, 6: 1}
    np.testing.assert_array_equal(rel.gain(0, np.array([0, 1, 4, -1, 5])), [2.0, 1.0, 0.0, 0.0, 1.0])
    assert rel.gain(0, np.array([0])).dtype == float
    assert rel.n_relevant(0) == 2 and rel.n_relevant(0, min_gain=1) == 5
    assert rel.n_relevant(1) == 1 and rel.n_relevant(1, min_gain=1) == 2
    np.testing.assert_array_equal(rel.ideal(0, 3), [2, 2, 1])
    np.testing.assert_array_equal(rel.ideal(0, 8), [2, 2, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(rel.ideal(1, 1), [2])
    assert rel.n_rows == 7 and rel.n_queries == 2


def test_labels_without_parents_are_binary():
    rel = relevance_from_labels(ROLES, ["PM"])
    assert rel.gains[0] == {1: 2}
    np.testing.assert_array_equal(rel.ideal(0, 3), [2, 0, 0])


def test_missing_labels_match_nothing():
    rel = relevance_from_labels(["a", None, float("nan"), "", "a"], [None, float("nan"), "a"])
    assert rel.gains[0] == {} and rel.gains[1] == {} and rel.gains[2] == {0: 2, 4: 2}


def test_gain_of_2d_rows_keeps_the_shape():
    rel = relevance_from_ids(5, [[1, 3]])
    np.testing.assert_array_equal(rel.gain(0, np.array([[1, -1], [3, 4]])), [[2, 0], [2, 0]])


def test_explicit_ids_override_labels_for_that_query_only():
    rel = build_relevance(7, ROLES, ["PMM", "DS", "PM"], FAMILIES, ["product", "data", "product"],
                          relevant_ids=[[6, 3], [], None])
    assert rel.gains[0] == {6: 2, 3: 2}          # explicit: labels ignored, no partial gains
    assert rel.gains[1] == {4: 2, 6: 1}          # empty list: labels
    assert rel.gains[2] == {1: 2, 0: 1, 2: 1, 3: 1, 5: 1}  # None: labels
    assert rel.n_relevant(0) == 2


def test_ids_only():
    rel = build_relevance(5, relevant_ids=[[0, 4], [2, 2]])
    assert rel.gains == [{0: 2, 4: 2}, {2: 2}]
    assert rel.n_relevant(1) == 1


def test_no_labels_and_no_ids_is_an_error():
    with pytest.raises(ClusterankError, match=r"^jobs.csv: no label column and no relevant ids"):
        build_relevance(5, source="jobs.csv")
    with pytest.raises(ClusterankError, match="no label column and no relevant ids"):
        build_relevance(5, row_labels=["a"] * 5)  # profiles labelled, queries not


def test_queries_without_relevant_rows_are_named():
    query_labels = ["PMM", "XX", "PM", "YY", "ZZ"]
    with pytest.raises(ClusterankError) as err:
        build_relevance(7, ROLES, query_labels, source="queries")
    msg = str(err.value)
    assert msg.startswith("queries: 3 queries have no relevant profile (rows 1, 3, 4)")
    assert "\n" not in msg and "undefined" in msg


def test_only_partly_relevant_rows_still_count_as_none():
    with pytest.raises(ClusterankError, match=r"1 query has no relevant profile \(rows 1\)"):
        build_relevance(7, ROLES, ["PM", "XX"], FAMILIES, ["product", "data"])


def test_many_queries_without_relevant_rows_are_truncated():
    with pytest.raises(ClusterankError, match=r"8 queries have no relevant profile \(rows 0, 1, 2, 3, 4, \.\.\.\)"):
        build_relevance(7, ROLES, ["nope"] * 8)


def test_explicit_ids_without_labels_leave_empty_queries_undefined():
    with pytest.raises(ClusterankError, match=r"1 query has no relevant profile \(rows 1\)"):
        build_relevance(5, relevant_ids=[[1], []])


def test_explicit_id_out_of_range():
    with pytest.raises(ClusterankError, match=r"^q.jsonl: query 1 lists relevant id 7, but there are only 7 profiles"):
        build_relevance(7, ROLES, ["PMM", "PM"], relevant_ids=[[0], [2, 7]], source="q.jsonl")
    with pytest.raises(ClusterankError, match="query 0 lists relevant id -1"):
        relevance_from_ids(3, [[-1]])
    with pytest.raises(ClusterankError, match="query 0 has relevant ids that are not whole numbers"):
        relevance_from_ids(3, [["a"]])


def test_mismatched_columns_are_errors():
    with pytest.raises(ClusterankError, match="parent label column"):
        relevance_from_labels(ROLES, ["PM"], FAMILIES, None)
    with pytest.raises(ClusterankError, match="row_labels has 7 entries but there are 8 profiles"):
        build_relevance(8, ROLES, ["PM"])
    with pytest.raises(ClusterankError, match="2 lists of relevant ids but 1 query labels"):
        build_relevance(7, ROLES, ["PM"], relevant_ids=[[1], [2]])


def test_queries_with_the_same_label_share_gains():
    rel = relevance_from_labels(ROLES, ["PMM", "PMM"])
    assert rel.gains[0] is rel.gains[1]


def test_hundred_thousand_rows_by_hundred_queries():
    rng = np.random.default_rng(0)
    n = 100_000
    roles = rng.integers(0, 200, n)
    row_labels = [f"role{r}" for r in roles]
    row_parents = [f"family{r // 10}" for r in roles]
    q_roles = rng.integers(0, 200, 100)
    rel = build_relevance(n, row_labels, [f"role{r}" for r in q_roles], row_parents,
                          [f"family{r // 10}" for r in q_roles])
    for q in (0, 57, 99):
        assert rel.n_relevant(q) == int((roles == q_roles[q]).sum())
        assert rel.n_relevant(q, 1) == int((roles // 10 == q_roles[q] // 10).sum())
    top = rel.ideal(0, 5000)
    assert top[0] == 2 and np.all(np.diff(top) <= 0)


def test_relevance_is_a_plain_value():
    rel = Relevance(gains=[{1: 2}], n_rows=3)
    assert rel == Relevance(gains=[{1: 2}], n_rows=3)
    np.testing.assert_array_equal(rel.gain(0, np.array([-1, 0, 1, 2])), [0, 0, 2, 0])
