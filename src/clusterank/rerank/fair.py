"""`fair:group=<column>,target=corpus|equal|<g>:<share>/...,max_loss=0.02`: re-order the short list towards a target
group distribution (DetConstSort, Geyik et al., KDD 2019), spending at most `max_loss` of its quality.

For every prefix length i of the re-ordered list each group g holds between floor(p_g * i) and ceil(p_g * i) of its
places (the paper's minimum and maximum representation constraints; a minimum is capped by the group's members in
the list, and a maximum is loosened only where the other groups run out of members). Within that, the list stays as
close to the retrieval order as the bounds allow: each place takes the best remaining hit whose choice still lets
every later place be filled within them (earliest-deadline-first feasibility of unit jobs with release times and
deadlines), which makes the answer the lexicographically best feasible order.

Quality is measured by DCG with the hits' cosines as gains (a proxy: no labels at search time). When the re-ordered
list would lose more than `max_loss` of the unconstrained list's DCG, the bound cannot be met: a warning says so and
the unconstrained list is returned.

The group of a hit is the corpus column `group` at its row: the pipeline hands the reranker its corpus' columns
(`needs_corpus`); `group=role` reads the hit's own label, so it also works without a corpus.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence

from clusterank.errors import ClusterankError
from clusterank.index.hits import Hit
from clusterank.rerank.base import Reranker, reorder

log = logging.getLogger(__name__)

TARGETS = ("corpus", "equal")
"""Named targets: the groups' shares of the whole corpus column, or equal shares among the groups in the list."""
TOLERANCE = 1e-6
"""How far an explicit target's shares may sum from 1."""


def parse_target(text: str) -> str | dict[str, float]:
    """`corpus`, `equal`, or `<group>:<share>/<group>:<share>/...` as a dict (shares in [0, 1] summing to 1).

    Raises:
        ValueError: a piece that is not `group:share`, a share outside [0, 1], a group named twice, or shares that
            do not sum to 1 (the message says what they sum to).
    """
    text = str(text).strip()
    if text.lower() in TARGETS:
        return text.lower()
    shares: dict[str, float] = {}
    for piece in filter(None, text.split("/")):
        group, colon, share = piece.rpartition(":")
        if not colon or not group:
            raise ValueError(f"{piece!r} is not group:share")
        try:
            value = float(share)
        except ValueError:
            raise ValueError(f"{share!r} is not a number") from None
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"the share of {group!r} must be in [0, 1], got {share}")
        if group in shares:
            raise ValueError(f"{group!r} is named twice")
        shares[group] = value
    if not shares:
        raise ValueError("no shares given")
    total = sum(shares.values())
    if abs(total - 1.0) > TOLERANCE:
        raise ValueError(f"the shares sum to {total:g}, not 1")
    return shares


def parse_loss(text: str) -> float:
    """A share of the DCG in [0, 1)."""
    value = float(text)
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError("must be a share in [0, 1), e.g. 0.02")
    return value


def minimums(shares: dict[str, float], counts: Counter, length: int) -> dict[str, list[int]]:
    """Per group, the fewest places it must hold in each prefix 1..length: floor(p_g * i), Geyik et al.'s minimum
    representation constraint, capped by its members in the list."""
    return {g: [min(math.floor(p * i + 1e-9), counts[g]) for i in range(1, length + 1)] for g, p in shares.items()}


def maximums(shares: dict[str, float], counts: Counter, length: int) -> dict[str, list[int]]:
    """Per group, the most places it may hold in each prefix 1..length: ceil(p_g * i), Geyik et al.'s maximum
    representation constraint, loosened only where the list cannot fill the prefix within them (a group that runs out
    of members leaves its places to the others: each further place goes to the group that would reach its next
    ceiling first, ceil(lambda * p_g * i) for a growing lambda; groups with no share only once the others have run
    out), and never below the prefix before. Items of groups without a share in `shares` are bound by neither."""
    free = sum(c for g, c in counts.items() if g not in shares)
    cap: dict[str, list[int]] = {g: [] for g in shares}
    for i in range(1, length + 1):
        most = {g: min(math.ceil(p * i - 1e-9), counts[g]) for g, p in shares.items()}
        short = i - free - sum(most.values())
        while short > 0:
            room = [g for g in shares if most[g] < counts[g]]
            if not room:
                break
            g = min(room, key=lambda g: (shares[g] <= 0, most[g] / shares[g] if shares[g] > 0 else 0.0))
            most[g] += 1
            short -= 1
        for g in shares:
            cap[g].append(max(most[g], cap[g][-1] if cap[g] else 0))
    return cap


def _windows(groups: Sequence[str | None], shares: dict[str, float], bounded: bool = True,
             ) -> dict[str | None, tuple[list[int], list[int]]]:
    """Per group, each of its members in turn (best first) as a unit job: the earliest place it may take (the
    first prefix whose maximum admits it) and the latest (the first prefix whose minimum needs it; else the end)."""
    n, counts = len(groups), Counter(groups)
    low = minimums(shares, counts, n)
    high = maximums(shares, counts, n) if bounded else {}
    windows: dict[str | None, tuple[list[int], list[int]]] = {}
    for g, c in counts.items():
        first = [1] * c
        last = [n] * c
        if g in high:
            first = [next(i for i, m in enumerate(high[g], start=1) if m >= k) for k in range(1, c + 1)]
        if g in low:
            last = [next((i for i, m in enumerate(low[g], start=1) if m >= k), n) for k in range(1, c + 1)]
        windows[g] = (first, last)
    return windows


def _schedulable(taken: Counter, placed: int, windows: dict[str | None, tuple[list[int], list[int]]],
                 n: int) -> bool:
    """Whether the members not yet placed (`taken[g]` of each group are) can fill places placed+1..n, each within
    its window: earliest deadline first among the members whose place has come, which finds a schedule of unit jobs
    with release times and deadlines whenever one exists."""
    nxt = Counter(taken)
    for t in range(placed + 1, n + 1):
        best, due = None, n + 1
        for g, (first, last) in windows.items():
            k = nxt[g]
            if k < len(first) and first[k] <= t and last[k] < due:
                best, due = g, last[k]
        if best is None or due < t:
            return False
        nxt[best] += 1
    return True


def det_const_sort(groups: Sequence[str | None], shares: dict[str, float]) -> list[int]:
    """The indices of a list (best first, one group per item) re-ordered so that every prefix i holds between
    `minimums` and `maximums` items of each group g (floor and ceil of p_g * i), otherwise keeping the given order as
    far as it can.

    Each place takes the first remaining item whose group still lets every later place be filled within the bounds;
    the result is the lexicographically smallest feasible order of the original positions. Should the maximums leave
    no feasible order at all (they are loosened for groups that run out, so this is a safeguard), only the minimums
    are kept.
    """
    n = len(groups)
    windows = _windows(groups, shares)
    if not _schedulable(Counter(), 0, windows, n):
        log.debug("fair: no order meets the maximums too; keeping the minimums only")
        windows = _windows(groups, shares, bounded=False)
    remaining, taken, order = list(range(n)), Counter(), []
    for placed in range(n):
        chosen, tried = remaining[0], set()
        for j in remaining:
            g = groups[j]
            if g in tried:
                continue  # the group's best remaining item was already refused: its others are too
            tried.add(g)
            if windows[g][0][taken[g]] > placed + 1:
                continue
            taken[g] += 1
            ok = _schedulable(taken, placed + 1, windows, n)
            taken[g] -= 1
            if ok:
                chosen = j
                break
        remaining.remove(chosen)
        taken[groups[chosen]] += 1
        order.append(chosen)
    return order


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: sum of gain_i / log2(i + 1), i from 1."""
    return float(sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1)))


def dcg_loss(gains: Sequence[float], order: Sequence[int]) -> float:
    """The share of the DCG lost by showing `gains` in `order` instead of as given (0 when nothing is lost)."""
    before, after = dcg(gains), dcg([gains[i] for i in order])
    return 0.0 if before == after else (before - after) / abs(before) if before else math.inf


class FairReranker(Reranker):
    """DetConstSort towards a target group distribution, bounded by `max_loss` of the list's DCG (cosine gains).

    Args:
        group: the corpus column holding each profile's group (`role`: the hit's own label).
        target: `corpus` (each group's share of the column), `equal` (equal shares among the groups in the list) or
            explicit shares by group.
        max_loss: the largest share of the unconstrained list's DCG the re-ordering may spend.
    """

    needs_corpus = True
    relevance_scores = False  # the order is the constraint's, not a relevance
    score_range = None

    def __init__(self, group: str, target: str | dict[str, float] = "corpus", max_loss: float = 0.02):
        super().__init__()
        self.group, self.target, self.max_loss = group, target, float(max_loss)
        shown = target if isinstance(target, str) else "/".join(f"{g}:{p:g}" for g, p in target.items())
        self.name = f"fair:group={group},target={shown},max_loss={self.max_loss:g}"
        self.columns: Callable[[str], Sequence[str | None]] | None = None
        self._values: Sequence[str | None] | None = None
        self._corpus_shares: dict[str, float] | None = None
        self.unmet = 0
        """Queries whose constrained list would have spent more than `max_loss` (given back unconstrained)."""

    def use_corpus(self, columns: Callable[[str], Sequence[str | None]]) -> None:
        """Read groups from this corpus (its `columns(name) -> value per row`); the column is read once per corpus.

        Raises:
            ClusterankError: the corpus has no such column, or a target group has no member in it.
        """
        if columns == self.columns:
            return
        values = list(columns(self.group)) if self.group != "role" else None
        if values is not None:
            present = Counter(v for v in values if v is not None)
            if not present:
                raise ClusterankError(f"fair: column {self.group!r} is empty; nothing to group by")
            if isinstance(self.target, dict):
                absent = [g for g, p in self.target.items() if p > 0 and g not in present]
                if absent:
                    raise ClusterankError(f"fair: group {absent[0]!r} of the target has no members in column "
                                          f"{self.group!r} (its groups: {', '.join(sorted(present))})")
            total = sum(present.values())
            self._corpus_shares = {g: c / total for g, c in sorted(present.items())}
        self.columns, self._values = columns, values

    def groups_of(self, hits: Sequence[Hit]) -> list[str | None]:
        """Each hit's group (None where the column is empty).

        Raises:
            ClusterankError: a corpus column is named but no corpus was given (`use_corpus`).
        """
        if self.group == "role":
            return [h.role for h in hits]
        if self._values is None:
            raise ClusterankError(f"fair: group={self.group} is a corpus column; rerank through a SearchPipeline "
                                  "(or use group=role, the hits' own label)")
        return [self._values[h.row] for h in hits]

    def shares(self, groups: Sequence[str | None]) -> dict[str, float]:
        """The target shares for a list with these groups.

        Raises:
            ClusterankError: target=corpus with group=role and no corpus given.
        """
        if isinstance(self.target, dict):
            return self.target
        if self.target == "equal":
            present = sorted({g for g in groups if g is not None})
            return {g: 1.0 / len(present) for g in present}
        if self._corpus_shares is None:
            raise ClusterankError("fair: target=corpus needs the corpus; rerank through a SearchPipeline, or give "
                                  "target=equal or explicit shares")
        return self._corpus_shares

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits re-ordered so every prefix meets the target's minimums and maximums, or as given when that would
        cost more than `max_loss` of the DCG (a warning says so)."""
        hits = list(hits)
        if not hits:
            return hits
        t0 = time.perf_counter()
        groups = self.groups_of(hits)
        order = det_const_sort(groups, self.shares(groups))
        loss = dcg_loss([h.cosine for h in hits], order)
        if loss > self.max_loss:
            self.unmet += 1
            level = logging.WARNING if self.unmet == 1 else logging.DEBUG
            log.log(level, "fair: the bound max_loss=%g cannot be met for this query (the target would cost %.1f%% "
                    "of the DCG); returning the unconstrained list%s", self.max_loss, 100 * loss,
                    "" if self.unmet == 1 else f" ({self.unmet} queries so far)")
            order = list(range(len(hits)))
        self.stats.queries += 1
        self.stats.seconds += time.perf_counter() - t0
        return reorder(hits, order)
