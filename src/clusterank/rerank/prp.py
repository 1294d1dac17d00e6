"""Pairwise ranking prompting (Qin et al. 2023, "PRP"): a judge compares two profiles for a job.

Each pair is asked in both orders, (A, B) and (B, A), and the two answers are averaged, so a judge
that always prefers the first position decides nothing. Strategies: all pairs with Copeland wins
(short lists) and sliding window (K bubble passes from the bottom fix the top K; longer lists).
A hard budget caps the model calls per query; cached judgments cost no call.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from itertools import combinations

from clusterank.errors import ClusterankError
from clusterank.index.hits import Hit
from clusterank.rerank.base import Reranker, RerankStats, renumbered, reorder

STRATEGIES = ("allpairs", "sliding")


class PairJudge(ABC):
    """Says how likely the first of two profiles fits a job description better; the base of every judge.

    A judge sets `name` and `stats` and declares, like a `Reranker`, whether it sends the texts away (`remote`)
    and may cost money per call (`paid`); the `PairwiseReranker` over it declares the same.
    """

    name: str
    stats: RerankStats
    remote: bool = False
    """Sends the texts to a server off this machine (an LLM API)."""
    paid: bool = False
    """May cost money per judgment."""

    @abstractmethod
    def cached(self, query: str, first: str, second: str) -> bool:
        """True when this exact comparison is already known (asking costs no model call)."""

    @abstractmethod
    def prob_first(self, query: str, first: str, second: str) -> float:
        """P(the first profile is the better fit), in [0, 1]."""


def preference(judge: PairJudge, query: str, a: str, b: str) -> float:
    """Debiased P(a beats b): the mean of asking (a, b) and, reversed, (b, a)."""
    return (judge.prob_first(query, a, b) + 1.0 - judge.prob_first(query, b, a)) / 2.0


class PairwiseReranker(Reranker):
    """Reorders a short list with a pairwise judge (`rerank_top` cuts the list it is given).

    It is `remote` and `paid` as its judge is (an LLM API: yes; the bundled model on loopback: no); its rerank
    scores are Copeland wins or positions, not relevances (`relevance_scores` is False).

    Args:
        judge: the pairwise judge (a `PairJudge`: an LLM, or any rule with `cached` and `prob_first`).
        strategy: "allpairs" (Copeland wins over every pair) or "sliding" (K bubble passes).
        passes: K for "sliding": the top K positions are fixed.
        budget: most model calls per query (cached judgments are free); None for no limit.
    """

    relevance_scores = False

    def __init__(self, judge: PairJudge, *, strategy: str = "sliding", passes: int = 3, budget: int | None = 60):
        if strategy not in STRATEGIES:
            raise ClusterankError(f"unknown pairwise strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
        if passes < 1 or (budget is not None and budget < 0):
            raise ClusterankError(f"pairwise reranking needs passes >= 1 and budget >= 0 "
                                  f"(got passes={passes}, budget={budget})")
        super().__init__()
        self.judge, self.strategy, self.passes, self.budget = judge, strategy, passes, budget
        self.name = f"llm-pairwise:{judge.name}"
        self.stats = judge.stats  # one tally: the judge counts the calls, the reranker the queries and seconds
        self.remote, self.paid = bool(judge.remote), bool(judge.paid)

    def _affordable(self, query: str, a: str, b: str, used: int) -> bool:
        need = (not self.judge.cached(query, a, b)) + (not self.judge.cached(query, b, a))
        return self.budget is None or used + need <= self.budget

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits reordered by pairwise judgments, ranks renumbered."""
        head = list(hits)
        if len(head) < 2:
            return renumbered(head)
        start_calls, t0 = self.judge.stats.calls, time.perf_counter()
        texts = [h.text or h.preview for h in head]
        if self.strategy == "allpairs":
            order, scores = self._copeland(query, texts, start_calls)
        else:
            order, scores = self._sliding(query, texts, start_calls)
        self.stats.queries += 1
        self.stats.per_query_calls.append(self.judge.stats.calls - start_calls)
        self.stats.seconds += time.perf_counter() - t0
        return reorder(head, order, scores)

    def _copeland(self, query: str, texts: list[str], start: int) -> tuple[list[int], list[float]]:
        wins = [0.0] * len(texts)
        for i, j in combinations(range(len(texts)), 2):
            if not self._affordable(query, texts[i], texts[j], self.judge.stats.calls - start):
                break
            p = preference(self.judge, query, texts[i], texts[j])
            wins[i] += 1.0 if p > 0.5 else 0.5 if p == 0.5 else 0.0
            wins[j] += 1.0 if p < 0.5 else 0.5 if p == 0.5 else 0.0
        order = sorted(range(len(texts)), key=lambda i: (-wins[i], i))
        return order, wins

    def _sliding(self, query: str, texts: list[str], start: int) -> tuple[list[int], list[float]]:
        order = list(range(len(texts)))
        for p in range(min(self.passes, len(texts) - 1)):
            for i in range(len(order) - 2, p - 1, -1):
                a, b = texts[order[i]], texts[order[i + 1]]
                if not self._affordable(query, b, a, self.judge.stats.calls - start):
                    return order, self._position_scores(order)
                if preference(self.judge, query, b, a) > 0.5:
                    order[i], order[i + 1] = order[i + 1], order[i]
        return order, self._position_scores(order)

    @staticmethod
    def _position_scores(order: list[int]) -> list[float]:
        scores = [0.0] * len(order)
        for pos, i in enumerate(order):
            scores[i] = float(len(order) - pos)
        return scores
