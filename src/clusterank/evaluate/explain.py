"""Why a hit ranks where it does: its cosine, the retriever's bonus (role, prior, soft, adapter), the reranker's
move, and the parts of the profile that matched most.

`explain(pipe, query, hits, retriever_spec)` gives one JSON-ready dict per hit:

- `cosine`: the profile's cosine to the job description; `bonus`: what the retriever adds to the cosine, as it
  declares it (`Retriever.bonus_of`: for `role`, `soft`, `prior` alpha x the group score, for `adapter` alpha x the
  mapped cosine), 0 for the others; `score` = cosine + bonus, the retrieval order's key.
- `retrieval_rank` and `moved`: where retrieval alone put the hit and how many places the reranker moved it up
  (negative: down; 0 without a reranker). None when retrieval alone did not reach it.
- `fields`: leave-one-field-out: per `Field: value` line of the profile text (the first line is the name), how much
  the cosine drops when that line is taken out and the rest re-embedded, largest first. Not computed for a model
  that costs money per call (None).
- `tokens`: for a static model (model2vec, a text is the mean of its token vectors: `Embedder.token_vectors`) each
  token's share of the cosine, (token vector . query) / (n tokens x |mean vector|), summed over its occurrences,
  largest first; the shares of all tokens sum to the cosine. None for other models.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clusterank.data.schema import PROFILE_FIELDS
from clusterank.embed.base import Embedder
from clusterank.index.hits import Hit
from clusterank.pipeline import SearchPipeline

TOP_TOKENS = 8
"""How many tokens each explanation lists."""
RETRIEVAL_DEPTH = 200
"""How deep retrieval alone is searched to find where a reranked hit came from."""


def field_lines(text: str) -> list[tuple[str, str]]:
    """(field, lines) of a profile text as `profile_text` writes it: `Field: value` lines, the first line the name;
    a line that starts no known field continues the one before (a field name is `line N` in a text of another
    shape)."""
    known = set(PROFILE_FIELDS)
    out: list[tuple[str, str]] = []
    for i, line in enumerate(text.split("\n")):
        head, sep, _ = line.partition(":")
        if sep and head.strip() in known:
            out.append((head.strip(), line))
        elif i == 0:
            out.append(("Name", line))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line)
    return out


def leave_one_field_out(embedder, text: str, query_vector: np.ndarray) -> list[dict]:
    """Per field of `text`, the cosine drop when that field is left out (positive: the field pulled the profile
    towards the query), largest first."""
    parts = field_lines(text)
    if len(parts) < 2:
        return []
    variants = [text] + ["\n".join(p for j, (_, p) in enumerate(parts) if j != i) for i in range(len(parts))]
    vectors = np.asarray(embedder.embed(variants), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    cosines = vectors @ np.asarray(query_vector, dtype=np.float64)
    drops = [{"field": name, "drop": round(float(cosines[0] - cosines[i + 1]), 6)} for i, (name, _) in enumerate(parts)]
    return sorted(drops, key=lambda d: -d["drop"])


def token_contributions(embedder, text: str, query_vector: np.ndarray) -> list[tuple[str, float]] | None:
    """For a model that pools token vectors (`Embedder.token_vectors`: a static model): each token of `text` as the
    model pools it with (token vector . query) / (n x |mean vector|), in text order; they sum to the cosine. None
    for any other model."""
    pooled = embedder.token_vectors(text) if isinstance(embedder, Embedder) else None
    if pooled is None:
        return None
    tokens, vectors = pooled
    if not tokens:
        return []
    mean = vectors.mean(axis=0)
    shares = vectors @ np.asarray(query_vector, dtype=np.float64) / (len(tokens) * max(np.linalg.norm(mean), 1e-12))
    return [(token, float(share)) for token, share in zip(tokens, shares)]


def top_tokens(contributions: Sequence[tuple[str, float]], n: int = TOP_TOKENS) -> list[dict]:
    """The `n` tokens with the largest summed share of the cosine."""
    summed: dict[str, float] = {}
    for token, share in contributions:
        summed[token] = summed.get(token, 0.0) + share
    best = sorted(summed.items(), key=lambda kv: -kv[1])[:n]
    return [{"token": t, "share": round(s, 6)} for t, s in best]


def explain(pipe: SearchPipeline, query: str, hits: Sequence[Hit], retriever_spec: str = "exact", *,
            fields: bool = True, tokens: int = TOP_TOKENS) -> list[dict]:
    """One explanation per hit (see the module): cosine, bonus, score, retrieval_rank, moved, fields, tokens.

    Args:
        pipe: the pipeline that found the hits.
        query: the job description they were found for.
        hits: the hits, in the order shown (reranked or not).
        retriever_spec: the retriever that found them (its bonus, and where retrieval alone put each hit).
        fields: compute leave-one-field-out (one extra embedding per field and hit).
        tokens: how many tokens a static model's explanation lists.
    """
    hits = list(hits)
    if not hits:
        return []
    q = pipe.embed_queries([query])[0].astype(np.float64)
    rows = [h.row for h in hits]
    cosines = np.asarray(pipe.vectors[rows], dtype=np.float64) @ q
    retriever = pipe.retriever(retriever_spec)
    bonus = retriever.bonus_of(q[None, :], rows)[0]
    depth = min(len(pipe.corpus), max(RETRIEVAL_DEPTH, max(h.rank for h in hits)))
    found = retriever.search(q[None, :].astype(np.float32), depth).rows[0]
    where = {int(r): i for i, r in enumerate(found, start=1) if r >= 0}
    paid = pipe.embedder.paid
    out = []
    for hit, cosine, extra in zip(hits, cosines, bonus):
        text = hit.text or pipe.corpus.texts[hit.row]
        before = where.get(hit.row)
        shares = token_contributions(pipe.embedder, text, q)
        out.append({
            "cosine": round(float(cosine), 6), "bonus": round(float(extra), 6), "score": round(float(cosine + extra), 6),
            "retrieval_rank": before, "moved": None if before is None else before - hit.rank,
            "fields": None if paid or not fields else leave_one_field_out(pipe.embedder, text, q),
            "tokens": None if shares is None else top_tokens(shares, tokens),
        })
    return out


def explanation_line(item: dict, n_fields: int = 3, n_tokens: int = 5) -> str:
    """One line for a terminal: `cos 0.612 + bonus 0.041; retrieval #4 -> up 2; fields: Headline +0.081, ...;
    tokens: marketing 0.052, ...`."""
    bonus = f" + bonus {item['bonus']:.3f}" if item["bonus"] else ""
    moved = item["moved"]
    where = ("retrieval rank beyond the searched depth" if item["retrieval_rank"] is None else
             f"retrieval #{item['retrieval_rank']}" + ("" if not moved else f", reranker moved it {'up' if moved > 0 else 'down'} "
                                                       f"{abs(moved)}"))
    parts = [f"cos {item['cosine']:.3f}{bonus}", where]
    if item["fields"]:
        parts.append("fields: " + ", ".join(f"{f['field']} {f['drop']:+.3f}" for f in item["fields"][:n_fields]))
    if item["tokens"]:
        parts.append("tokens: " + ", ".join(f"{t['token']} {t['share']:.3f}" for t in item["tokens"][:n_tokens]))
    return "; ".join(parts)
