"""What a search returns to a person: `Hit`s with rank, row, cosine, role, cluster and a preview.

Shown similarity uses the seed's scale, (cos + 1) / 2 as a percentage; the raw cosine is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clusterank.data.corpus import Corpus

PREVIEW_WORDS = 10


def similarity_percent(cosine: float) -> float:
    """The seed's similarity scale: (cos + 1) / 2 as a percentage (cos 0.79 -> 89.5%)."""
    return (float(cosine) + 1.0) / 2.0 * 100.0


def preview(text: str, words: int = PREVIEW_WORDS) -> str:
    """The first `words` words of a text, whitespace collapsed."""
    return " ".join(text.split()[:words])


@dataclass(frozen=True)
class Hit:
    """One retrieved profile: its rank (1-based), row in the corpus, cosine and what to show."""

    rank: int
    row: int
    id: str
    cosine: float
    role: str | None
    preview: str
    cluster: int | None = None
    """The row's cluster: the routing retriever's group, else its k-means cluster in the pipeline's `clusters()`
    (the number the server and the map report)."""
    rerank_score: float | None = None
    """The reranker's score (its own scale), when the list was reranked."""
    text: str = field(default="", repr=False)
    """The whole profile text (what rerankers read)."""

    @property
    def percent(self) -> float:
        """Similarity on the seed's scale, (cos + 1) / 2 in percent."""
        return similarity_percent(self.cosine)

    def format(self) -> str:
        """The seed's line: `Text 3615 similarity: 89.59% - Preview: <first 10 words>...`, plus the role."""
        role = f"  [{self.role}]" if self.role else ""
        cluster = f" (cluster {self.cluster})" if self.cluster is not None else ""
        rerank = f" rerank score {self.rerank_score:.3f}" if self.rerank_score is not None else ""
        return f"Text {self.row} similarity: {self.percent:.2f}% - Preview: {self.preview}...{role}{cluster}{rerank}"

    def as_json(self) -> dict:
        """The hit as a JSON-ready dict (what `search --json` prints)."""
        return {"rank": self.rank, "row": self.row, "id": self.id, "cosine": round(self.cosine, 6),
                "similarity_percent": round(self.percent, 2), "role": self.role, "cluster": self.cluster,
                "rerank_score": self.rerank_score, "preview": self.preview}


@dataclass(frozen=True)
class SearchResult:
    """One job description's search (`clusterank.SearchPipeline.run`).

    hits: at most k `Hit`s, best first (the top reordered when a reranker was given).
    timings: seconds of each stage: `embed` (the job description to a normalised vector), `retrieve`, `rerank`.
    vector: the normalised query vector that was searched with.
    """

    hits: list[Hit]
    timings: dict[str, float]
    vector: np.ndarray


class Hits(list):
    """One query's `Hit`s, best first: a list, plus `to_frame()` for a notebook."""

    def to_frame(self):
        """The hits as a pandas DataFrame: rank, row, id, cosine, similarity_percent, role, cluster, rerank_score,
        preview (one row per hit)."""
        import pandas as pd

        columns = ["rank", "row", "id", "cosine", "similarity_percent", "role", "cluster", "rerank_score", "preview"]
        return pd.DataFrame([h.as_json() for h in self], columns=columns)


def make_hits(corpus: Corpus, rows: np.ndarray, scores: np.ndarray,
              groups: np.ndarray | None = None) -> list[Hit]:
    """One query's rows and cosines as `Hit`s carrying role, preview and (when given) cluster; -1 rows dropped."""
    found = [(i, int(r), float(s)) for i, (r, s) in enumerate(zip(rows, scores)) if r >= 0]
    return [Hit(rank, r, corpus.ids[r], s, corpus.label(r), preview(corpus.texts[r]),
                int(groups[i]) if groups is not None else None, text=corpus.texts[r])
            for rank, (i, r, s) in enumerate(found, start=1)]
