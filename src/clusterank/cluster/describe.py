"""Readable cluster labels: size, most common roles, frequent headline words, share of each family."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from clusterank.cluster.kmeans import ClusterModel
from clusterank.data.loaders import Corpus
from clusterank.data.schema import HEADLINE_SEPARATOR
from clusterank.errors import ClusterankError

_STOP = {"and", "the", "of", "for", "to", "a", "in", "at", "&", "with", "on", "who", "i", "my", "by", "-", "|",
         "senior", "junior", "lead", "head", "manager", "specialist", "associate"}


@dataclass(frozen=True)
class ClusterSummary:
    """What one cluster holds."""

    cluster: int
    size: int
    top_roles: list[tuple[str, float]]
    """(role, share of the cluster), most common first."""
    headline_words: list[str]
    family_shares: dict[str, float]
    """Share of the cluster per family, largest first."""

    @property
    def label(self) -> str:
        """A short readable name: the top role and its share, or the top headline words.

        A cluster no role holds half of is named by its two largest roles and called mixed
        ("Product Manager 14%, Account Executive 14%, mixed"), so that its name does not claim more
        than its members show. The web page, its map and `clusterank map` all name clusters by this.
        """
        if self.top_roles:
            role, share = self.top_roles[0]
            if share >= 0.5 or len(self.top_roles) == 1:
                return f"{role} ({share:.0%})"
            second, share2 = self.top_roles[1]
            return f"{role} {share:.0%}, {second} {share2:.0%}, mixed"
        return " / ".join(self.headline_words[:3]) or f"cluster {self.cluster}"

    def line(self) -> str:
        """One line for a terminal: size, roles, headline words, family shares."""
        roles = ", ".join(f"{r} {s:.0%}" for r, s in self.top_roles[:3])
        fams = ", ".join(f"{f} {s:.0%}" for f, s in list(self.family_shares.items())[:4])
        words = " ".join(self.headline_words[:6])
        parts = [f"cluster {self.cluster:>2}", f"{self.size:>6,} rows"]
        parts += [p for p in (f"roles: {roles}" if roles else "", f"headline words: {words}" if words else "",
                              f"families: {fams}" if fams else "") if p]
        return " | ".join(parts)


def _headline_title(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("Headline:"):
            return line[len("Headline:"):].split(HEADLINE_SEPARATOR, 1)[0]
    return ""


def describe_clusters(model: ClusterModel, corpus: Corpus, *, top: int = 3, words: int = 6) -> list[ClusterSummary]:
    """One summary per cluster, in cluster order.

    Headline words come from the `Headline` column (or the `Headline:` line of the text), the part
    before ` | `, without stop words and seniority.
    """
    if len(corpus) != len(model.labels):
        raise ClusterankError(f"the cluster model covers {len(model.labels)} rows but the corpus has {len(corpus)}")
    if corpus.frame is not None and "Headline" in corpus.frame.columns:
        titles = [str(h).split(HEADLINE_SEPARATOR, 1)[0] for h in corpus.frame["Headline"]]
    else:
        titles = [_headline_title(t) for t in corpus.texts]
    out = []
    for c in range(model.k):
        rows = np.flatnonzero(model.labels == c)
        size = len(rows)
        roles = Counter(corpus.labels[i] for i in rows).most_common(top) if corpus.labels else []
        fams = Counter(corpus.families[i] for i in rows).most_common() if corpus.families else []
        word_counts = Counter(w for i in rows for w in re.findall(r"[A-Za-z][A-Za-z+#.&/-]*", titles[i].lower())
                              if w not in _STOP)
        out.append(ClusterSummary(c, size, [(r, n / size) for r, n in roles],
                                  [w for w, _ in word_counts.most_common(words)],
                                  {f: n / size for f, n in fams}))
    return out
