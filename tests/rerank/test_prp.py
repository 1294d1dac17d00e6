"""Pairwise ranking on hand-made judgments: debiasing, Copeland, sliding window, budget, cache."""

import pytest

from clusterank import ClusterankError, Hit
from clusterank.rerank.base import RerankStats
from clusterank.rerank.base import rerank_top
from clusterank.rerank.prp import PairJudge, PairwiseReranker, preference


def hits(n):
    return [Hit(rank=i + 1, row=i, id=str(i), cosine=1 - i / 100, role=None, preview=f"p{i}", text=f"profile {i}")
            for i in range(n)]


class Judge(PairJudge):
    """A judge from a rule: `rule(first, second) -> P(first better)`; counts calls, remembers answers."""

    name = "rule"

    def __init__(self, rule):
        self.rule, self.stats, self.memory = rule, RerankStats(), {}

    def cached(self, query, first, second):
        return (first, second) in self.memory

    def prob_first(self, query, first, second):
        if (first, second) in self.memory:
            self.stats.cached += 1
        else:
            self.stats.calls += 1
            self.memory[(first, second)] = self.rule(first, second)
        return self.memory[(first, second)]


def number(text):
    return int(text.split()[-1])


def truth(best_first):
    """A consistent judge: the profile whose number is earlier in `best_first` wins."""
    pos = {n: i for i, n in enumerate(best_first)}
    return lambda a, b: 1.0 if pos[number(a)] < pos[number(b)] else 0.0


def test_first_position_bias_cancels_out():
    judge = Judge(lambda a, b: 1.0)  # always says "A"
    assert preference(judge, "q", "profile 1", "profile 2") == 0.5
    for strategy in ("allpairs", "sliding"):
        out = PairwiseReranker(Judge(lambda a, b: 1.0), strategy=strategy, budget=None).rerank("q", hits(6))
        assert [h.row for h in out] == [0, 1, 2, 3, 4, 5]


def test_copeland_all_pairs_recovers_the_judges_order():
    wanted = [3, 0, 5, 1, 4, 2]
    judge = Judge(truth(wanted))
    out = PairwiseReranker(judge, strategy="allpairs", budget=None).rerank("q", hits(6))
    assert [h.row for h in out] == wanted
    assert [h.rank for h in out] == [1, 2, 3, 4, 5, 6]
    assert out[0].rerank_score == 5.0  # five wins
    assert judge.stats.calls == 15 * 2  # every pair, both orders


def test_copeland_with_an_intransitive_judge():
    # rock-paper-scissors among 0,1,2; 3 loses to everyone: Copeland ties 0,1,2 at 2 wins, keeps their order
    beats = {(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)}
    judge = Judge(lambda a, b: 1.0 if (number(a), number(b)) in beats else 0.0)
    out = PairwiseReranker(judge, strategy="allpairs", budget=None).rerank("q", hits(4))
    assert [h.row for h in out] == [0, 1, 2, 3]


def test_sliding_window_fixes_the_top_k():
    wanted = [7, 2, 9, 0, 1, 3, 4, 5, 6, 8]
    judge = Judge(truth(wanted))
    out = PairwiseReranker(judge, strategy="sliding", passes=2, budget=None).rerank("q", hits(10))
    assert [h.row for h in out[:2]] == [7, 2]
    assert sorted(h.row for h in out) == list(range(10))
    assert judge.stats.calls <= (9 + 8) * 2


def test_budget_is_never_exceeded():
    for budget in (0, 1, 5, 13):
        judge = Judge(truth(list(range(12))[::-1]))
        reranker = PairwiseReranker(judge, strategy="sliding", passes=3, budget=budget)
        out = reranker.rerank("q", hits(12))
        assert judge.stats.calls <= budget
        assert sorted(h.row for h in out) == list(range(12))
    judge = Judge(truth(list(range(8))[::-1]))
    PairwiseReranker(judge, strategy="allpairs", budget=9).rerank("q", hits(8))
    assert judge.stats.calls <= 9


def test_cache_hits_make_no_calls():
    judge = Judge(truth([4, 3, 2, 1, 0]))
    reranker = PairwiseReranker(judge, strategy="allpairs", budget=20)
    first = reranker.rerank("q", hits(5))
    calls = judge.stats.calls
    second = reranker.rerank("q", hits(5))
    assert judge.stats.calls == calls and [h.row for h in first] == [h.row for h in second] == [4, 3, 2, 1, 0]
    assert judge.stats.cached >= calls and reranker.stats.per_query_calls == [calls, 0]


def test_only_the_top_is_reranked():
    reranker = PairwiseReranker(Judge(truth([5, 4, 2, 1, 0, 3])), strategy="allpairs", budget=None)
    out = rerank_top(reranker, "q", hits(6), 3)
    assert [h.row for h in out] == [2, 1, 0, 3, 4, 5] and [h.rank for h in out] == [1, 2, 3, 4, 5, 6]
    assert all(h.rerank_score is not None for h in out[:3]) and out[3].rerank_score is None


def test_bad_settings():
    with pytest.raises(ClusterankError, match="unknown pairwise strategy 'tournament'"):
        PairwiseReranker(Judge(lambda a, b: 1.0), strategy="tournament")
    with pytest.raises(ClusterankError, match="passes >= 1"):
        PairwiseReranker(Judge(lambda a, b: 1.0), passes=0)
    with pytest.raises(ClusterankError, match="top must be at least 1"):
        rerank_top(PairwiseReranker(Judge(lambda a, b: 1.0)), "q", hits(3), 0)
