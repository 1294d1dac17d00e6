"""Graded relevance of corpus rows to queries, built from label columns or explicit lists of row ids.

Gains: 2 (fully relevant) when a row's label equals the query's label, 1 (partly relevant) when only the
parent label matches (e.g. the same role family but another role), 0 otherwise. A query may instead carry
an explicit list of relevant row ids; those rows get gain 2 and the labels are not used for that query.

Gains are stored sparsely (only rows with gain > 0), and rows are grouped by label once, so a 100k-row
corpus with 100 queries costs one pass over the rows plus one dict per distinct query label.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from clusterank.errors import ClusterankError

log = logging.getLogger("clusterank.evaluate")

FULL_GAIN = 2
"""Gain of a fully relevant row (same label, or listed explicitly)."""
PARTIAL_GAIN = 1
"""Gain of a partly relevant row (same parent label only)."""

_SHOWN = 5  # how many offending query indices an error message lists


@dataclass(frozen=True)
class Relevance:
    """Gains of every corpus row for every query, stored sparsely.

    Attributes:
        gains: One dict per query mapping row id -> gain, holding only rows with gain > 0. Queries with the
            same labels may share one dict; treat the dicts as read-only.
        n_rows: Number of rows in the corpus (valid row ids are 0..n_rows-1).
    """

    gains: list[dict[int, int]]
    n_rows: int
    kept: list[int] | None = None
    """The indices of the queries these gains belong to, when unscorable queries were left out."""
    _counts: list[dict[int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.n_rows < 0:
            raise ClusterankError(f"relevance: n_rows must be >= 0, got {self.n_rows}")
        by_id: dict[int, dict[int, int]] = {}  # shared dicts are counted once
        counts = []
        for g in self.gains:
            if id(g) not in by_id:
                by_id[id(g)] = dict(Counter(g.values()))
            counts.append(by_id[id(g)])
        object.__setattr__(self, "_counts", counts)

    @property
    def scored(self) -> list[int]:
        """The indices (in the queries given) of the queries these gains belong to: `kept`, or all of them."""
        return self.kept if self.kept is not None else list(range(len(self.gains)))

    @property
    def n_queries(self) -> int:
        """Number of queries."""
        return len(self.gains)

    def gain(self, query: int, rows: np.ndarray) -> np.ndarray:
        """Gains of the given rows for one query.

        Args:
            query: Query index.
            rows: Row ids (any shape); -1 ("no result") and rows without a gain give 0.

        Returns:
            Float array of the same shape as `rows`.
        """
        rows = np.asarray(rows)
        g = self.gains[query]
        flat = np.fromiter((g.get(int(r), 0) for r in rows.ravel()), dtype=float, count=rows.size)
        return flat.reshape(rows.shape)

    def n_relevant(self, query: int, min_gain: int = FULL_GAIN) -> int:
        """Number of rows whose gain for `query` is at least `min_gain`.

        Args:
            query: Query index.
            min_gain: Smallest gain that counts (2: fully relevant only; 1: partly relevant too).

        Returns:
            The count over the whole corpus.
        """
        return int(sum(n for g, n in self._counts[query].items() if g >= min_gain))

    def ideal(self, query: int, k: int) -> np.ndarray:
        """The ideal ranking's gains: the k largest gains of `query` over the whole corpus.

        Args:
            query: Query index.
            k: Length of the ranking.

        Returns:
            Float array of length k, sorted descending, padded with 0 when fewer than k rows have a gain.
        """
        out = np.zeros(max(int(k), 0))
        pos = 0
        for g in sorted(self._counts[query], reverse=True):
            if pos >= len(out):
                break
            n = min(self._counts[query][g], len(out) - pos)
            out[pos:pos + n] = g
            pos += n
        return out


def _missing(x: object) -> bool:
    """True for None, NaN, pandas NA and blank strings: such a label matches nothing."""
    if x is None:
        return True
    if isinstance(x, str):
        return not x.strip()
    try:
        return bool(x != x)  # NaN
    except (TypeError, ValueError):  # pd.NA refuses bool()
        return True


def _group(labels: Sequence[Hashable]) -> dict[Hashable, np.ndarray]:
    """One pass over the rows: label -> sorted array of the rows carrying it (missing labels left out)."""
    groups: dict[Hashable, list[int]] = {}
    for i, lab in enumerate(labels):
        if not _missing(lab):
            groups.setdefault(lab, []).append(i)
    return {lab: np.asarray(rows, dtype=np.int64) for lab, rows in groups.items()}


def _check_len(name: str, values: Sequence | None, n: int, what: str, source: str) -> None:
    if values is not None and len(values) != n:
        raise ClusterankError(f"{source}: {name} has {len(values)} entries but there are {n} {what}")


def relevance_from_labels(row_labels: Sequence[Hashable], query_labels: Sequence[Hashable],
                          row_parents: Sequence[Hashable] | None = None,
                          query_parents: Sequence[Hashable] | None = None, *,
                          source: str = "queries") -> Relevance:
    """Graded relevance from label columns: gain 2 for the same label, 1 for the same parent label only.

    Missing labels (None, NaN, blank) match nothing. Queries sharing a (label, parent) pair share one dict.
    This does not reject queries without relevant rows; `build_relevance` does.

    Args:
        row_labels: Label of each corpus row (e.g. role).
        query_labels: Label of each query, compared with `row_labels`.
        row_parents: Parent label of each corpus row (e.g. role family), or None for binary 2/0 gains.
        query_parents: Parent label of each query; give both parent columns or neither.
        source: Name used in error messages (e.g. the queries file).

    Returns:
        A `Relevance` with one entry per query.

    Raises:
        ClusterankError: Only one of the parent columns is given, or a column's length is wrong.
    """
    if (row_parents is None) != (query_parents is None):
        have, lack = ("profiles", "queries") if query_parents is None else ("queries", "profiles")
        raise ClusterankError(f"{source}: the {have} have a parent label column but the {lack} do not; "
                              "give both or neither")
    n_rows, n_queries = len(row_labels), len(query_labels)
    _check_len("row_parents", row_parents, n_rows, "profiles", source)
    _check_len("query_parents", query_parents, n_queries, "queries", source)

    by_label = _group(row_labels)
    by_parent = _group(row_parents) if row_parents is not None else {}
    empty = np.empty(0, dtype=np.int64)
    cache: dict[tuple, dict[int, int]] = {}
    gains = []
    for q in range(n_queries):
        label = query_labels[q]
        parent = query_parents[q] if query_parents is not None else None
        key = (None if _missing(label) else label, None if _missing(parent) else parent)
        if key not in cache:
            full = by_label.get(key[0], empty) if key[0] is not None else empty
            part = by_parent.get(key[1], empty) if key[1] is not None else empty
            g = dict.fromkeys(part.tolist(), PARTIAL_GAIN)
            g.update(dict.fromkeys(full.tolist(), FULL_GAIN))
            cache[key] = g
        gains.append(cache[key])
    return Relevance(gains=gains, n_rows=n_rows)


def relevance_from_ids(n_rows: int, relevant_ids: Sequence[Sequence[int] | None], *,
                       source: str = "queries") -> Relevance:
    """Relevance from explicit lists: every listed row gets gain 2 for its query, every other row 0.

    Args:
        n_rows: Number of corpus rows (valid ids are 0..n_rows-1).
        relevant_ids: Per query, the relevant row ids (None or empty: no relevant row).
        source: Name used in error messages (e.g. the queries file).

    Returns:
        A `Relevance` with one entry per query.

    Raises:
        ClusterankError: An id is not an integer or lies outside 0..n_rows-1 (naming the query index).
    """
    gains = []
    for q, ids in enumerate(relevant_ids):
        arr = _as_ids(ids, q, source)
        bad = arr[(arr < 0) | (arr >= n_rows)]
        if len(bad):
            raise ClusterankError(f"{source}: query {q} lists relevant id {int(bad[0])}, but there are only "
                                  f"{n_rows} profiles (ids 0..{n_rows - 1})")
        gains.append(dict.fromkeys(arr.tolist(), FULL_GAIN))
    return Relevance(gains=gains, n_rows=n_rows)


def _as_ids(ids: Sequence[int] | None, q: int, source: str) -> np.ndarray:
    if ids is None:
        return np.empty(0, dtype=np.int64)
    raw = np.asarray(list(ids))
    if raw.size == 0:
        return np.empty(0, dtype=np.int64)
    kind = raw.dtype.kind
    whole = kind in "iu" or (kind == "f" and bool(np.all(np.isfinite(raw) & (raw == np.round(raw)))))
    if not whole:
        raise ClusterankError(f"{source}: query {q} has relevant ids that are not whole numbers: {list(ids)[:5]}")
    return raw.astype(np.int64).ravel()


def _has_ids(ids: Sequence[int] | None) -> bool:
    return ids is not None and len(ids) > 0


def build_relevance(n_rows: int, row_labels: Sequence[Hashable] | None = None,
                    query_labels: Sequence[Hashable] | None = None,
                    row_parents: Sequence[Hashable] | None = None,
                    query_parents: Sequence[Hashable] | None = None,
                    relevant_ids: Sequence[Sequence[int] | None] | None = None,
                    source: str = "queries", drop_unscorable: bool = False) -> Relevance:
    """Relevance for an evaluation: per query, its explicit ids if it has any, else its labels.

    Labels are used only when both `row_labels` and `query_labels` are given. Every query must end up
    with at least one fully relevant row (gain 2), otherwise its recall/nDCG would be undefined.

    Args:
        n_rows: Number of corpus rows.
        row_labels: Label of each corpus row, or None.
        query_labels: Label of each query, or None.
        row_parents: Parent label of each corpus row, or None.
        query_parents: Parent label of each query, or None.
        relevant_ids: Per query, explicit relevant row ids (None/empty: use the labels), or None.
        source: Name used in error messages (e.g. the queries file).
        drop_unscorable: leave out queries with no fully relevant row (one warning names them; `kept`
            lists the queries that stay) instead of refusing them (the CLI's `--skip-unanswerable`).

    Returns:
        A `Relevance` with one entry per query (per kept query with `drop_unscorable`).

    Raises:
        ClusterankError: No labels and no ids at all; column lengths disagree; an explicit id is out of
            range; or some queries (with `drop_unscorable`: all queries) have no fully relevant row (the
            message lists the first few indices).
    """
    use_labels = row_labels is not None and query_labels is not None
    if not use_labels and relevant_ids is None:
        raise ClusterankError(f"{source}: no label column and no relevant ids; "
                              "give a label column for profiles and queries, or relevant ids per query")
    if row_labels is not None:
        _check_len("row_labels", row_labels, n_rows, "profiles", source)
    if use_labels and relevant_ids is not None and len(relevant_ids) != len(query_labels):
        raise ClusterankError(f"{source}: {len(relevant_ids)} lists of relevant ids but {len(query_labels)} "
                              "query labels")
    n_queries = len(relevant_ids) if relevant_ids is not None else len(query_labels)

    by_ids = relevance_from_ids(n_rows, relevant_ids, source=source) if relevant_ids is not None else None
    by_labels = (relevance_from_labels(row_labels, query_labels, row_parents, query_parents, source=source)
                 if use_labels else None)
    gains = []
    for q in range(n_queries):
        if by_ids is not None and _has_ids(relevant_ids[q]):
            gains.append(by_ids.gains[q])
        elif by_labels is not None:
            gains.append(by_labels.gains[q])
        else:
            gains.append({})
    rel = Relevance(gains=gains, n_rows=n_rows)

    empty = [q for q in range(n_queries) if rel.n_relevant(q, FULL_GAIN) == 0]
    if empty and drop_unscorable and len(empty) < n_queries:
        unscorable = set(empty)
        kept = [q for q in range(n_queries) if q not in unscorable]
        shown = ", ".join(str(q) for q in empty[:_SHOWN]) + (", ..." if len(empty) > _SHOWN else "")
        log.warning("%s: %d of %d queries have no relevant profile (their label occurs in no profile; rows %s) "
                    "and are left out of the scores", source, len(empty), n_queries, shown)
        return Relevance(gains=[gains[q] for q in kept], n_rows=n_rows, kept=kept)
    if empty:
        shown = ", ".join(str(q) for q in empty[:_SHOWN]) + (", ..." if len(empty) > _SHOWN else "")
        what, its = ("1 query has", "its") if len(empty) == 1 else (f"{len(empty)} queries have", "their")
        raise ClusterankError(f"{source}: {what} no relevant profile (rows {shown}); {its} metrics would be "
                              f"undefined — fix the labels, or leave {'it' if len(empty) == 1 else 'them'} out with "
                              "--skip-unanswerable (Python: drop_unscorable=True)")
    return rel
