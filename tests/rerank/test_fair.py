"""The `fair` reranker: DetConstSort against a brute-force oracle, its bad input, its quality bound, and a fair
pipeline scored beside the unconstrained one."""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter

import numpy as np
import pytest

from clusterank import (ClusterankError, Hit, Pipeline, SearchPipeline, build_relevance, bundled_profiles,
                        bundled_queries, evaluate_pipelines, get_reranker, rerank_top)
from clusterank.rerank.fair import FairReranker, dcg_loss, det_const_sort, maximums, minimums, parse_target


def meets_prefixes(groups, shares) -> bool:
    low, high = minimums(shares, Counter(groups), len(groups)), maximums(shares, Counter(groups), len(groups))
    return all(low[g][i - 1] <= sum(1 for x in groups[:i] if x == g) <= high[g][i - 1]
               for g in low for i in range(1, len(groups) + 1))


@pytest.mark.parametrize("groups, shares", [
    ("aaaabb", {"a": 0.5, "b": 0.5}),
    ("aaabbb", {"a": 0.5, "b": 0.5}),
    ("aaaaab", {"a": 0.3, "b": 0.7}),
    ("aabacc", {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}),
    ("aaaccb", {"a": 0.2, "b": 0.4, "c": 0.4}),
    ("abcabc", {"a": 1.0}),
])
def test_det_const_sort_is_the_best_order_that_meets_every_prefix(groups, shares):
    """The oracle: of all orders whose every prefix meets the minimums and maximums, the one closest to the given order (the
    lexicographically smallest sequence of original positions)."""
    order = det_const_sort(list(groups), shares)
    assert sorted(order) == list(range(len(groups)))
    assert meets_prefixes([groups[i] for i in order], shares)
    feasible = [p for p in itertools.permutations(range(len(groups)))
                if meets_prefixes([groups[i] for i in p], shares)]
    assert tuple(order) == min(feasible)


def test_a_group_is_held_to_its_maximum_while_the_others_have_members():
    """ceil(p * i): a third of the places at most for a (1 of the first 3, 2 of the first 5), though its items come
    first; once b and c have run out, a takes the rest."""
    order = det_const_sort(list("aaaabbc"), {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert order == [0, 4, 6, 1, 5, 2, 3]
    assert maximums({"a": 1 / 3, "b": 2 / 3}, Counter("aaaab"), 5)["a"] == [1, 1, 2, 3, 4]


def test_the_prefix_bounds_hold_on_a_longer_list():
    rng = np.random.default_rng(0)
    groups = list(rng.choice(["x", "y", "z"], size=40, p=[0.7, 0.2, 0.1]))
    shares = {"x": 0.4, "y": 0.4, "z": 0.2}
    order = det_const_sort(groups, shares)
    assert meets_prefixes([groups[i] for i in order], shares)


def hits(groups: str, cosines=None) -> list[Hit]:
    cosines = cosines or [0.8 - i / 100 for i in range(len(groups))]
    return [Hit(rank=i + 1, row=i, id=f"p{i}", cosine=c, role=g, preview="", text=f"profile {i}")
            for i, (g, c) in enumerate(zip(groups, cosines))]


def test_role_groups_need_no_corpus():
    reranker = get_reranker("fair:group=role,target=a:0.5/b:0.5,max_loss=0.5")
    out = reranker.rerank("q", hits("aaaabb"))
    assert [h.rank for h in out] == list(range(1, 7))
    assert [h.row for h in out] == [0, 4, 1, 5, 2, 3]


@pytest.mark.parametrize("spec, words", [
    ("fair:group=g,target=a:0.5/b:0.4", "sum to 0.9, not 1"),
    ("fair:group=g,target=a:0.6/b:0.6", "sum to 1.2, not 1"),
    ("fair:group=g,target=a-0.5", "not group:share"),
    ("fair:group=g,max_loss=1.5", "max_loss"),
    ("fair:target=corpus", "needs group="),
])
def test_bad_input_is_one_clear_line(spec, words):
    with pytest.raises(ClusterankError, match=words) as info:
        get_reranker(spec)
    assert "\n" not in str(info.value)


def test_the_cli_refuses_a_target_that_does_not_sum_to_one_with_exit_2(workspace, capsys):
    from clusterank.cli import main

    code = main(["search", "--rerank", "fair:group=role,target=a:0.5/b:0.2", "--n", "200", "marketing manager"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "sum to 0.7, not 1" in err


def test_parse_target_named_targets():
    assert parse_target("corpus") == "corpus" and parse_target("EQUAL") == "equal"
    assert parse_target("female:0.5/male:0.5") == {"female": 0.5, "male": 0.5}


def test_an_unmeetable_bound_warns_and_returns_the_unconstrained_list(caplog):
    cosines = [0.9, 0.88, 0.86, 0.84, 0.2, 0.1]  # the b's are far worse: putting them up costs much DCG
    reranker = FairReranker("role", {"a": 0.5, "b": 0.5}, max_loss=0.02)
    given = hits("aaaabb", cosines)
    assert dcg_loss(cosines, det_const_sort(list("aaaabb"), {"a": .5, "b": .5})) > 0.02
    with caplog.at_level(logging.WARNING, logger="clusterank.rerank.fair"):
        out = reranker.rerank("q", given)
    assert [h.row for h in out] == [0, 1, 2, 3, 4, 5]
    assert reranker.unmet == 1
    assert any("max_loss=0.02 cannot be met" in r.getMessage() for r in caplog.records)


def test_a_corpus_column_needs_the_corpus_and_must_exist(workspace, static_embedder):
    reranker = get_reranker("fair:group=g")
    with pytest.raises(ClusterankError, match="through a SearchPipeline"):
        reranker.rerank("q", hits("ab"))
    pipe = SearchPipeline(bundled_profiles(n=120), static_embedder, workspace=workspace)
    with pytest.raises(ClusterankError, match="no column 'g'") as info:
        pipe.run("marketing manager", 5, reranker=reranker)
    assert "\n" not in str(info.value)
    frame = bundled_profiles(n=120).frame.copy()
    frame["g"] = ["a" if i % 2 else "b" for i in range(len(frame))]
    pipe = SearchPipeline(frame, static_embedder, workspace=workspace)
    with pytest.raises(ClusterankError, match="group 'c' of the target has no members"):
        pipe.run("marketing manager", 5, reranker=get_reranker("fair:group=g,target=a:0.5/c:0.5"))


def test_rerank_top_hands_the_corpus_to_a_reranker_that_needs_it():
    reranker = get_reranker("fair:group=g,target=corpus,max_loss=0.9")
    column = {"g": ["a", "a", "a", "a", "b", "b"]}
    out = rerank_top(reranker, "q", hits("xxxxxx"), 6, column.__getitem__)
    # corpus shares 2/3 a, 1/3 b: prefix 3 holds a b (floor(1)), prefix 5 at most 4 a (ceil(3.33)), prefix 6 two b
    assert [h.row for h in out] == [0, 1, 4, 2, 3, 5]


def test_a_fair_pipeline_is_scored_beside_the_unconstrained_one(workspace, static_embedder):
    frame = bundled_profiles(n=600).frame.copy()
    frame["g"] = ["a" if i % 3 else "b" for i in range(len(frame))]  # b: a third of the corpus
    pipe = SearchPipeline(frame, static_embedder, workspace=workspace)
    queries = bundled_queries()
    rel = build_relevance(len(pipe.corpus), pipe.corpus.labels, queries.labels, drop_unscorable=True)
    fair = get_reranker("fair:group=g,max_loss=0.5")
    runs = evaluate_pipelines(pipe, queries.texts, rel, ["exact", Pipeline("exact", fair, rerank_top=30)],
                              query_labels=queries.labels)
    assert list(runs) == ["exact", f"exact + {fair.name}"]
    values = pipe.column("g")
    shares = {"a": 2 / 3, "b": 1 / 3}
    met = 0
    for rows in runs[f"exact + {fair.name}"].rows:
        groups = [values[r] for r in rows[:30]]
        met += meets_prefixes(groups, shares)
    assert met == len(runs["exact"].rows) - fair.unmet
    for run in runs.values():
        assert math.isfinite(run.mean("nDCG@10"))
