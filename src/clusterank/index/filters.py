"""Filters on a search (`--filter role=...`, `cluster=3`, any corpus column): the corpus rows they keep."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from clusterank.errors import ClusterankError


def matching_rows(corpus, filters: Mapping[str, object] | None, cluster_labels: Callable[[], Sequence[int]],
                  column: Callable[[str], Sequence[str | None]]) -> np.ndarray | None:
    """Rows of `corpus` matching every filter, compared as text: `role` (the label column), `cluster` (from
    `cluster_labels()`, asked only then) or any other column (`column(name)`). None when there are no filters.

    Raises:
        ClusterankError: an unknown column, or a value no profile has (the message says which).
    """
    active = {key: value for key, value in (filters or {}).items() if value not in (None, "")}
    if not active:
        return None
    mask = np.ones(len(corpus), dtype=bool)
    for key, value in active.items():
        if key == "cluster":
            values = [str(c) for c in cluster_labels()]
        elif key == "role":
            if corpus.labels is None:
                raise ClusterankError(f"{corpus.source} has no role labels to filter by")
            values = list(corpus.labels)
        else:
            values = column(key)
        match = np.array([v == str(value) for v in values])
        if not match.any():
            raise ClusterankError(f"filter {key}={value!r}: no profile in {corpus.source} has that {key}")
        mask &= match
    return mask
