"""What the soft, role and role-route retrievers share: rows in groups, each group a normalised centroid.

A *soft* score adds a weighted similarity of the query to the row's group centroid to the row's own
cosine, so rows of a group that matches the query as a whole rise, and no row is ever cut off. A *hard*
route searches only the rows of the m groups whose centroids match the query best (faster, costs recall).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.index.base import Retriever, SearchContext, TopK
from clusterank.index.exact import check_vectors, top_k, top_k_with_bonus

log = logging.getLogger("clusterank.index")

AUTO = "auto"
PRIOR_ALPHA = 0.3
"""The weight used when `alpha=auto` and nothing was tuned for this corpus and model: fixed in advance, not
fitted on any query (`clusterank tune` chooses one by cross-validation)."""


def parse_alpha(text: str) -> float | str:
    """`auto` or a finite number >= 0."""
    if str(text).strip().lower() == AUTO:
        return AUTO
    value = float(text)
    if not np.isfinite(value) or value < 0:
        raise ValueError("must be a finite number >= 0, or auto")
    return value


def resolve_alpha(alpha: float | str, kind: str, context: SearchContext, fallback: float = PRIOR_ALPHA) -> float:
    """A number for `alpha`: itself, or for `auto` the tuned value stored for `kind` (`context.tuned`, else read
    from `context.tuning_file`), else `fallback` (fixed in advance for the kind's scale, never fitted).

    Raises:
        ClusterankError: a tuned value that is not a finite number >= 0 (a damaged tuning file).
    """
    if alpha != AUTO:
        return float(alpha)
    stored = context.tuned if context.tuned is not None or context.tuning_file is None else load_tuned(
        context.tuning_file)
    tuned = (stored or {}).get(kind, {})
    if "alpha" in tuned:
        try:
            return tuned_value(tuned["alpha"], f"the tuned alpha of {kind}")
        except ValueError as exc:
            raise ClusterankError(f"{exc}: the tuning file is damaged; {TUNE_AGAIN}") from None
    log.info("%s: alpha=auto but nothing is tuned for this corpus and model (`clusterank tune`); using the "
             "prior %.2f", kind, fallback)
    return fallback


TUNE_AGAIN = (f"run `clusterank tune` again to rewrite it, or delete it (alpha=auto then uses the prior "
              f"{PRIOR_ALPHA:g})")
"""The remedy for a damaged tuning file."""


def tuned_value(value, where: str) -> float:
    """A stored tuned parameter as a float: a finite number >= 0 (what `parse_alpha` accepts).

    Raises:
        ValueError: `<where> is <value>, not a finite number >= 0`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where} is {value!r}, not a finite number >= 0")
    return float(value)


def load_tuned(path: Path) -> dict[str, dict[str, float]]:
    """The parameters `clusterank tune` stored in `path`, per retriever kind (`{"role": {"alpha": 0.4}}`; {} when
    there is no file), every one checked.

    Raises:
        ClusterankError: a file that is not JSON, not an object of `{kind: {"params": {name: number >= 0}}}`, or
            holds a value that is not a finite number >= 0: one line naming the file and saying to run
            `clusterank tune` again (or delete it).
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict):
            raise ValueError(f"it holds a JSON {type(stored).__name__}, not an object")
        out = {}
        for kind, entry in stored.items():
            params = entry.get("params") if isinstance(entry, dict) else None
            if not isinstance(params, dict):
                raise ValueError(f"entry {kind!r} has no \"params\" object")
            out[kind] = {name: tuned_value(v, f"{kind}.{name}") for name, v in params.items()}
        return out
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ClusterankError(f"{path}: damaged tuning file ({exc}); {TUNE_AGAIN}") from None


def group_centroids(vectors: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups, dims) L2-normalised mean vector of each group's rows (rows in group -1 are ignored)."""
    sums = np.zeros((n_groups, vectors.shape[1]), np.float64)
    member = groups >= 0
    np.add.at(sums, groups[member], vectors[member])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def label_groups(labels: Sequence[str | None], clusters: np.ndarray, min_size: int,
                 fallback_unlabelled: bool = False) -> tuple[np.ndarray, list[str]]:
    """Groups from labels: each label with at least `min_size` rows is a group; rows of rarer labels join their
    k-means cluster's group; unlabelled rows are in no group (-1) unless `fallback_unlabelled`.

    Returns:
        (group of each row, name of each group).

    Raises:
        ClusterankError: every row has the same label (the groups would say nothing), or no label at all.
    """
    clean = [None if lab is None or not str(lab).strip() else str(lab) for lab in labels]
    counts = Counter(lab for lab in clean if lab is not None)
    if not counts:
        raise ClusterankError("role-aware search needs labels (a role column, or titles before ' | ' in Headline); "
                              "the corpus has none")
    if len(counts) == 1:
        raise ClusterankError(f"role-aware search needs more than one label; every labelled row says "
                              f"{next(iter(counts))!r}")
    names = sorted(lab for lab, n in counts.items() if n >= min_size)
    index = {lab: i for i, lab in enumerate(names)}
    used_clusters = sorted({int(c) for lab, c in zip(clean, clusters)
                            if (lab is not None and lab not in index) or (lab is None and fallback_unlabelled)})
    cluster_group = {c: len(names) + i for i, c in enumerate(used_clusters)}
    groups = np.full(len(clean), -1, np.int64)
    for row, (lab, c) in enumerate(zip(clean, clusters)):
        if lab in index:
            groups[row] = index[lab]
        elif lab is not None or fallback_unlabelled:
            groups[row] = cluster_group[int(c)]
    return groups, names + [f"cluster {c}" for c in used_clusters]


class SoftGroupIndex(Retriever):
    """Score = cos(q, row) + alpha * group_scores(q)[row's group]; every row stays reachable. The group score is the
    cosine to the group's centroid here; a subclass may learn another (`prior`: a classifier's log-probability).

    `scores` in the result are the rows' own cosines (what a person is shown); the order is by the sum.
    `groups_are_clusters`: the groups are k-means clusters, so each hit can say its cluster.
    """

    def __init__(self, vectors: np.ndarray, groups: np.ndarray, names: list[str], alpha: float, spec: str,
                 groups_are_clusters: bool = False):
        self.groups_are_clusters = groups_are_clusters
        self.vectors = check_vectors(vectors, what="corpus vectors")
        self.groups = np.asarray(groups, np.int64)
        self.names, self.alpha, self.spec = names, float(alpha), spec
        self.centroids = group_centroids(self.vectors, self.groups, len(names))

    def group_scores(self, query_vectors: np.ndarray) -> np.ndarray:
        """(n_queries, n_groups): how well each query matches each group; here the cosine to its centroid."""
        return query_vectors @ self.centroids.T

    def bonus_of(self, query_vectors: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """(n_queries, len(rows)): alpha x each query's group score of each row's group (0 for a row in no group),
        what `search` adds to the rows' cosines."""
        q = check_vectors(query_vectors, self.vectors.shape[1], what="query vectors")
        groups = self.groups[np.asarray(rows, np.int64)]
        scores = np.asarray(self.group_scores(q), np.float64)
        return self.alpha * np.where(groups >= 0, scores[:, np.maximum(groups, 0)], 0.0)

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k rows with the highest combined score per query."""
        member = self.groups >= 0
        safe = np.where(member, self.groups, 0)
        found = top_k_with_bonus(self.vectors, query_vectors, k,
                                 lambda q: self.alpha * np.where(member, self.group_scores(q)[:, safe], 0.0))
        return TopK(found.rows, found.scores, None, self.groups[found.rows] if self.groups_are_clusters else None)


class GroupRouteIndex(Retriever):
    """Search only the rows of the `m` groups whose centroids match the query best (a hard filter)."""

    def __init__(self, vectors: np.ndarray, groups: np.ndarray, names: list[str], m: int, spec: str):
        self.vectors = check_vectors(vectors, what="corpus vectors")
        self.groups = np.asarray(groups, np.int64)
        self.names, self.m, self.spec = names, int(m), spec
        self.centroids = group_centroids(self.vectors, self.groups, len(names))
        self.members = [np.flatnonzero(self.groups == g) for g in range(len(names))]

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k best rows inside each query's m best groups (-1 / -inf pad when they hold fewer)."""
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        k = min(k, len(self.vectors))
        q = check_vectors(query_vectors, self.vectors.shape[1], what="query vectors")
        m = min(self.m, len(self.names))
        best = np.argsort(-(q @ self.centroids.T), axis=1, kind="stable")[:, :m]
        rows = np.full((len(q), k), -1, np.int64)
        scores = np.full((len(q), k), -np.inf, np.float32)
        for i, chosen in enumerate(best):
            candidates = np.concatenate([self.members[g] for g in chosen])
            r, s = top_k((self.vectors[candidates] @ q[i])[None, :], k)
            rows[i, : r.shape[1]] = candidates[r[0]]
            scores[i, : r.shape[1]] = s[0]
        groups = np.where(rows >= 0, self.groups[np.maximum(rows, 0)], -1)
        return TopK(rows, scores, [b for b in best], groups)
