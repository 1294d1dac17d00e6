"""The Reranker protocol: `rerank(query, hits) -> hits`, best first, with what the reordering cost.

Every backend reorders the short list it is given and renumbers the ranks; hits it was not asked
to look at keep their order below the reranked ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from clusterank.errors import ClusterankError

from clusterank.index.hits import Hit


@dataclass
class RerankStats:
    """What reranking has cost so far: model calls, tokens, cache hits and seconds."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    queries: int = 0
    per_query_calls: list[int] = field(default_factory=list)

    def line(self) -> str:
        """One line for a terminal."""
        per_q = f", {self.calls / self.queries:.1f} calls/query" if self.queries else ""
        return (f"{self.calls} calls ({self.cached} from cache){per_q}, {self.prompt_tokens + self.completion_tokens:,} "
                f"tokens, {self.seconds:.1f} s")


@runtime_checkable
class Reranker(Protocol):
    """Reorders a short list of hits for one job description."""

    name: str
    stats: RerankStats

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The same hits, best first, ranks renumbered from 1."""
        ...


def reorder(hits: Sequence[Hit], order: Sequence[int], scores: Sequence[float] | None = None) -> list[Hit]:
    """`hits` in the given order (indices into `hits`), ranks renumbered, each with its rerank score."""
    out = []
    for rank, i in enumerate(order, start=1):
        out.append(replace(hits[i], rank=rank, rerank_score=None if scores is None else float(scores[i])))
    return out


class NoReranker:
    """`none`: keeps the retrieval order."""

    name = "none"

    def __init__(self) -> None:
        self.stats = RerankStats()

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits unchanged."""
        return list(hits)


def rerank_top(reranker: Reranker, query: str, hits: Sequence[Hit], top: int) -> list[Hit]:
    """Rerank the first `top` hits; the rest follow in retrieval order, ranks renumbered throughout.

    This is the one place a short list is cut for a reranker (the pipeline and the evaluator call it).

    Raises:
        ClusterankError: `top` < 1.
    """
    if top < 1:
        raise ClusterankError(f"the reranker's top must be at least 1, got {top}")
    head = reranker.rerank(query, list(hits[:top]))
    return head + [replace(h, rank=len(head) + i) for i, h in enumerate(hits[top:], start=1)]
