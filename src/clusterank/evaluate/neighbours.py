"""Near misses on any data: which labels count as "almost the right role" for each query.

Three definitions, in order of preference: a given neighbour map (the bundled roles' `roles.toml`);
labels that share the target's parent label (e.g. another role of the same family); or, without parents,
the labels most often found instead of the target in exact search's top 10 for queries of the OTHER folds
(so a query's near misses are never read off its own results). The report says which one was used.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

GIVEN = "the given neighbour map"
PARENT = "labels with the same parent label as the target"
CONFUSED = "the {top} labels most often in exact search's top 10 instead of the target, counted on the other folds"


@dataclass(frozen=True)
class NearMiss:
    """Per query, the labels whose rows count as near misses, and the definition that chose them."""

    sets: list[frozenset[str]]
    definition: str


def from_map(query_labels: Sequence[str], neighbours: Mapping[str, Sequence[str]]) -> NearMiss:
    """Near misses from a neighbour map (label -> confusable labels)."""
    return NearMiss([frozenset(neighbours.get(lab, ())) for lab in query_labels], GIVEN)


def from_parents(query_labels: Sequence[str], query_parents: Sequence[str], row_labels: Sequence[str],
                 row_parents: Sequence[str]) -> NearMiss:
    """Near misses: every other label that shares the query's parent label among the corpus rows."""
    by_parent: dict[str, set[str]] = defaultdict(set)
    for lab, parent in zip(row_labels, row_parents):
        by_parent[parent].add(lab)
    return NearMiss([frozenset(by_parent.get(p, set()) - {lab}) for lab, p in zip(query_labels, query_parents)],
                    PARENT)


def from_confusions(query_labels: Sequence[str], exact_rows: np.ndarray, row_labels: Sequence[str],
                    folds: np.ndarray, top: int = 3) -> NearMiss:
    """Near misses: for a query in fold f, the `top` labels that most often took a slot of exact search's top 10
    from queries with the same target in the other folds (none when no other fold has that target)."""
    sets = []
    for q, (target, fold) in enumerate(zip(query_labels, folds)):
        wrong: Counter = Counter()
        for other in np.flatnonzero((folds != fold) & (np.asarray(query_labels, dtype=object) == target)):
            wrong.update(row_labels[r] for r in exact_rows[other][:10] if r >= 0 and row_labels[r] != target)
        sets.append(frozenset(lab for lab, _ in wrong.most_common(top)))
    return NearMiss(sets, CONFUSED.format(top=top))


def near_miss_for(query_labels: Sequence[str], row_labels: Sequence[str], *,
                  neighbours: Mapping[str, Sequence[str]] | None = None,
                  parents: tuple[Sequence[str], Sequence[str]] | None = None,
                  exact_rows: np.ndarray | None = None, folds: np.ndarray | None = None) -> NearMiss:
    """The best definition the data allows: the given map, else shared parents, else confusions on other folds.

    Args:
        query_labels: the target label of each scored query.
        row_labels: the label of each corpus row.
        neighbours: a neighbour map, when one is known (the bundled set's).
        parents: (row parents, query parents of the scored queries), when both tables have a parent column.
        exact_rows: exact search's rows for the scored queries (for the confusion definition).
        folds: the fold of each scored query (for the confusion definition).
    """
    if neighbours:
        return from_map(query_labels, neighbours)
    if parents is not None:
        return from_parents(query_labels, parents[1], row_labels, parents[0])
    if exact_rows is None or folds is None:
        return NearMiss([frozenset()] * len(query_labels), "none (no neighbour map, parents or exact results)")
    return from_confusions(query_labels, exact_rows, row_labels, folds)
