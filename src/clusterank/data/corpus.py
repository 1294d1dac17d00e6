"""`Corpus`: a table of texts to embed with their ids and labels, as the loaders (`clusterank.data.loaders`) build it.

Kept apart from the loaders so that what only holds or reads a corpus (the pipeline, the hits, a saved corpus copy)
does not import pandas: a search that starts from a saved index reads no table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from clusterank.data.schema import TEXT_COLUMN

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Corpus:
    """A table of texts to embed (profiles, or job descriptions as queries) with their labels."""

    texts: list[str]
    ids: list[str]
    source: str
    labels: list[str] | None = None
    families: list[str] | None = None
    frame: pd.DataFrame | None = None
    precomputed: dict[str, np.ndarray] = field(default_factory=dict)
    blind: tuple[str, ...] = ()  # personal fields left out of `texts` (`clusterank.data.blind`); () when none
    text_column: str = TEXT_COLUMN

    def __len__(self) -> int:
        return len(self.texts)

    def label(self, row: int) -> str | None:
        """The label (role) of a row, or None when the corpus has no labels."""
        return self.labels[row] if self.labels is not None else None

    def card(self, row: int) -> dict[str, str]:
        """What a results list shows for a row: `name` (FirstName LastName, else the text's first line; `profile <id>`
        in a name-blind corpus) and `headline` (the Headline column, else the second line)."""
        lines = [x for x in self.texts[row].splitlines() if x.strip()] or [""]
        name, headline = lines[0], lines[1] if len(lines) > 1 else ""
        if self.frame is not None:
            columns = self.frame.columns
            if "FirstName" in columns and "LastName" in columns:
                name = f"{self.frame['FirstName'].iloc[row]} {self.frame['LastName'].iloc[row]}".strip()
            if "Headline" in columns:
                headline = str(self.frame["Headline"].iloc[row])
        name = f"profile {self.ids[row]}" if "names" in self.blind else name  # name-blind: not shown either
        return {"name": name[:120], "headline": headline.removeprefix("Headline: ")[:200]}

    def fields(self, row: int) -> dict[str, str]:
        """The row's other columns as text (not the text itself, nor vector columns), for a profile view."""
        if self.frame is None:
            return {}
        skip = {"text"} | {c for c in self.frame.columns if str(c).startswith("embeddings_")}
        return {str(c): str(v) for c, v in self.frame.iloc[row].items()
                if c not in skip and v is not None and str(v) not in ("", "nan")}

    def subset(self, rows) -> "Corpus":
        """A corpus of the given rows (row ids are kept). Its source is marked as a subset, so it never takes over
        the saved index of the whole corpus."""
        rows = list(rows)
        pick = lambda xs: [xs[i] for i in rows] if xs is not None else None  # noqa: E731
        source = f"{self.source} (a subset of {len(rows)} rows)"
        return Corpus(pick(self.texts), pick(self.ids), source, pick(self.labels), pick(self.families),
                      self.frame.iloc[rows].reset_index(drop=True) if self.frame is not None else None,
                      {m: v[rows] for m, v in self.precomputed.items()}, self.blind, self.text_column)
