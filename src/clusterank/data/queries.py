"""What labelled job descriptions carry beyond their text: explicit relevant corpus rows, and parent labels
(e.g. the role family) that give partial relevance."""

from __future__ import annotations

import json

from clusterank.data.loaders import Corpus, labels_of
from clusterank.errors import ClusterankError


def relevant_ids(queries: Corpus, column: str) -> list[list[int]] | None:
    """Per-query lists of relevant corpus rows from `column` (lists, or JSON text like "[3, 17]"), or None
    when the queries have no such column.

    Raises:
        ClusterankError: a cell that is not a list of whole numbers, naming the file, column and row.
    """
    if queries.frame is None or column not in queries.frame.columns:
        return None
    lists = []
    for i, cell in enumerate(queries.frame[column]):
        bad = ClusterankError(f"{queries.source}, column {column!r}, row {i}: not a list of row ids")
        if isinstance(cell, str):
            try:
                cell = json.loads(cell) if cell.strip() else []
            except json.JSONDecodeError:
                raise bad from None
        try:
            lists.append([int(x) for x in (cell if cell is not None else [])])
        except (TypeError, ValueError):
            raise bad from None
    return lists


def parent_labels(corpus: Corpus, queries: Corpus, column: str) -> tuple[list[str], list[str]] | None:
    """(corpus parents, query parents) from `column` (e.g. the role family) when both tables have it, else None."""
    if corpus.frame is None or queries.frame is None:
        return None
    if column not in corpus.frame.columns or column not in queries.frame.columns:
        return None
    return labels_of(corpus.frame, column, corpus.source), labels_of(queries.frame, column, queries.source)
