"""The Reranker base class: `rerank(query, hits) -> hits`, best first, with what the reordering cost.

Every backend subclasses `Reranker`, reorders the short list it is given and renumbers the ranks; what it can do
is declared in class attributes (`remote`, `paid`, ...), never probed for. `rerank_top` keeps the hits a reranker
was not asked to look at below the reranked ones, in their order.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

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


class Reranker(ABC):
    """Reorders a short list of hits for one job description; the one base of every backend (after simonw/llm's
    `EmbeddingModel`, like `Embedder` and `Retriever`).

    A backend implements `rerank`, sets `name` and calls `super().__init__()` (which makes `stats`). Capabilities
    are declared class attributes with defaults, read as they are, never probed for; a backend whose answer depends
    on how it was built (an LLM judge's URL, a rescoring model) sets them on the instance in `__init__`.
    """

    name: str
    stats: RerankStats

    remote: bool = False
    """Sends the texts to a server it does not start itself (an HTTP API): keep it out of Ray workers and off
    machines that may not send profiles away."""
    paid: bool = False
    """May cost money per call: callers run it once on small samples, never for timing repeats."""
    reorders: bool = True
    """Changes the order at all; False only for `none`, which callers may skip (no query text needed)."""
    relevance_scores: bool = True
    """`rerank_score` is the model's own relevance score for the (job, profile) pair, higher is better; False when
    it only encodes the order it chose (pairwise wins, positions) or is None, so a caller that must report a
    relevance (Cohere's `/v1/rerank`) derives one from the rank instead."""

    score_range: tuple[float, float] | None = (0.0, 1.0)
    """Where `rerank_score` lies when it is a relevance: (-1, 1) for a cosine, (0, 1) for a probability, None for
    an unbounded logit; `/v1/rerank` maps it into [0, 1] (`relevance_in_unit`)."""

    needs_corpus: bool = False
    """Reads columns of the corpus the hits come from (`fair`'s group): `rerank_top` hands it the pipeline's
    `columns(name) -> value per row` through `use_corpus` before reranking."""

    def __init__(self) -> None:
        self.stats = RerankStats()

    def use_corpus(self, columns: Callable[[str], Sequence[str | None]]) -> None:
        """Take the corpus' columns (only a reranker that `needs_corpus` reads them; the default ignores them)."""

    @abstractmethod
    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The same hits, best first, ranks renumbered from 1."""


def relevance_in_unit(score: float, score_range: tuple[float, float] | None) -> float:
    """A relevance score in [0, 1], as Cohere's and Voyage's rerank answers give it: a bounded score rescaled from
    its range (a cosine c becomes (c + 1) / 2, the seed's similarity scale), an unbounded logit through a sigmoid."""
    if score_range is None:
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, score))))
    low, high = score_range
    return min(1.0, max(0.0, (score - low) / (high - low)))


def reorder(hits: Sequence[Hit], order: Sequence[int], scores: Sequence[float] | None = None) -> list[Hit]:
    """`hits` in the given order (indices into `hits`), ranks renumbered, each with its rerank score."""
    out = []
    for rank, i in enumerate(order, start=1):
        out.append(replace(hits[i], rank=rank, rerank_score=None if scores is None else float(scores[i])))
    return out


class NoReranker(Reranker):
    """`none`: keeps the retrieval order."""

    name = "none"
    reorders = False
    relevance_scores = False

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits in the order given, ranks renumbered from 1 (their rerank scores untouched)."""
        return renumbered(hits)


def renumbered(hits: Sequence[Hit], start: int = 1) -> list[Hit]:
    """`hits` in their order, ranks renumbered from `start` (a hit already at its rank is kept as it is)."""
    return [h if h.rank == rank else replace(h, rank=rank) for rank, h in enumerate(hits, start=start)]


def rerank_top(reranker: Reranker, query: str, hits: Sequence[Hit], top: int,
               columns: Callable[[str], Sequence[str | None]] | None = None) -> list[Hit]:
    """Rerank the first `top` hits; the rest follow in retrieval order, ranks renumbered throughout.

    This is the one place a short list is cut for a reranker (the pipeline and the evaluator call it). `columns`
    (the pipeline's `column`) reaches a reranker that `needs_corpus`.

    Raises:
        ClusterankError: `top` < 1.
    """
    if top < 1:
        raise ClusterankError(f"the reranker's top must be at least 1, got {top}")
    if columns is not None and reranker.needs_corpus:
        reranker.use_corpus(columns)
    head = reranker.rerank(query, list(hits[:top]))
    return head + renumbered(hits[top:], start=len(head) + 1)
