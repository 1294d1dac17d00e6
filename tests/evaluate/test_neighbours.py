"""Near misses on any data: the given map, shared parents, or confusions counted on the other folds."""

import numpy as np

from clusterank import load_profiles, load_queries
from clusterank.evaluate.compare import compare_models
from clusterank.evaluate.neighbours import CONFUSED, GIVEN, PARENT, from_confusions, near_miss_for

ROWS = ["PMM", "PM", "PMM", "PO", "DS", "DA", "PM"]
PARENTS = ["product", "product", "product", "product", "data", "data", "product"]


def test_the_best_available_definition_is_used():
    given = near_miss_for(["PMM"], ROWS, neighbours={"PMM": ["PM"]})
    assert given.definition == GIVEN and given.sets == [frozenset({"PM"})]
    by_parent = near_miss_for(["PMM", "DS"], ROWS, parents=(PARENTS, ["product", "data"]))
    assert by_parent.definition == PARENT and by_parent.sets == [frozenset({"PM", "PO"}), frozenset({"DA"})]


def test_confusions_are_counted_on_the_other_folds_only():
    # three PMM queries: fold 0's results show PM instead of PMM, fold 1's show DS, fold 2's are clean
    exact = np.array([[1, 6, 0], [4, 4, 0], [0, 2, 0]])
    near = from_confusions(["PMM", "PMM", "PMM"], exact, ROWS, folds=np.array([0, 1, 2]), top=1)
    assert near.definition == CONFUSED.format(top=1)
    assert near.sets[0] == frozenset({"DS"})  # its own PM confusions are not used for it
    assert near.sets[1] == frozenset({"PM"})
    assert near.sets[2] in (frozenset({"PM"}), frozenset({"DS"}))


def test_compare_derives_near_misses_on_user_data_and_says_how(tmp_path, session_home):
    from test_compare import seed_schema

    p, q = seed_schema(tmp_path)
    cmp = compare_models(["precomputed:text-embedding-3-small"], load_profiles(p), load_queries(q),
                         workspace=session_home, n_clusters=4, with_maps=False)
    run = cmp.runs[0].pipelines["exact"]
    assert run.near_miss.definition == CONFUSED.format(top=3)
    assert run.per_query["near-miss@10"].mean() > 0  # random vectors: other roles fill the top 10
    from clusterank.evaluate.report import render_markdown

    assert "Near misses (near-miss@10 and the confusion matrices): the 3 labels most often" in render_markdown(
        cmp, "rec")
