"""The seed's showcase as a function: search the bundled profiles for a Product Marketing Manager.

Returns the hits with the numbers the demo prints: P@10 and how many near-miss roles crept in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from clusterank.data.loaders import bundled_profiles
from clusterank.defaults import BUNDLED_N, DEFAULT_MODEL, SHOWCASE_PIPELINES
from clusterank.index.hits import Hit
from clusterank.pipeline import SearchPipeline
from clusterank.workspace import Workspace

DEMO_ROLE = "Product Marketing Manager"


@dataclass(frozen=True)
class DemoReport:
    """What `clusterank demo` shows."""

    model: str
    dims: int
    corpus_size: int
    query: str
    target_role: str
    neighbours: tuple[str, ...]
    hits: list[Hit]
    precision_at_10: float
    product_managers: int
    near_misses: int
    newly_embedded: int
    embed_seconds: float
    search_ms: float
    side_by_side: dict[str, list[Hit]]
    """The top 10 of each showcase retriever: exact, the seed's hard routing, role-aware."""
    role_tuning: str
    """How role-aware search got its alpha."""
    lang: str = "en"
    """The language of the job description (`clusterank demo --lang`)."""
    language_note: str | None = None
    """A line to show when the model is English-only and the job description is not in English."""


def run_demo(model: str = DEFAULT_MODEL, n: int = BUNDLED_N, k: int = 30, *, workspace: Workspace | None = None,
             progress: bool = False, lang: str = "en") -> DemoReport:
    """Embed the bundled profiles (cached), search for the demo job description, and score the top k.

    Args:
        lang: the language of the job description: en, or zh, es, de, uk (the same advert translated; the
            profiles stay English). An English-only model gets a `language_note` recommending a multilingual one.

    Raises:
        ClusterankError: an unknown language (before anything is embedded), or a model that cannot load.
    """
    from clusterank.data.i18n import demo_query
    from clusterank.data.roles import neighbours

    query = demo_query(lang)  # an unknown language fails here, before the profiles are embedded
    corpus = bundled_profiles(n=n)
    workspace = workspace or Workspace.default()
    t0 = time.perf_counter()
    from clusterank.embed import get_embedder
    from clusterank.embed.store import EmbeddingStore

    embedder = get_embedder(model, workspace)
    before = EmbeddingStore(workspace.store_path).count(embedder.name)
    pipe = SearchPipeline(corpus, embedder, workspace=workspace, progress=progress)
    embed_seconds = time.perf_counter() - t0
    newly = pipe.store.count(embedder.name) - before
    pipe.embed_queries([query])  # so the timing below is the search alone
    t1 = time.perf_counter()
    hits = pipe.search(query, k=k)
    search_ms = (time.perf_counter() - t1) * 1000
    tuning = tune_role_on_bundled_queries(pipe)
    side_by_side = {spec: pipe.search(query, k=10, retriever=spec) for spec in SHOWCASE_PIPELINES}
    near = tuple(neighbours(DEMO_ROLE))
    top10 = hits[:10]
    return DemoReport(
        model=embedder.name, dims=embedder.dims, corpus_size=len(corpus), query=query,
        target_role=DEMO_ROLE, neighbours=near, hits=hits,
        precision_at_10=sum(h.role == DEMO_ROLE for h in top10) / max(len(top10), 1),
        product_managers=sum(h.role == "Product Manager" for h in hits),
        near_misses=sum(h.role in near for h in hits),
        newly_embedded=newly, embed_seconds=embed_seconds, search_ms=search_ms, side_by_side=side_by_side,
        role_tuning=tuning, lang=lang.strip().lower(), language_note=language_note(embedder.name, lang),
    )


MULTILINGUAL_MODEL = "multilingual-e5-small"


def language_note(model: str, lang: str) -> str | None:
    """A line saying `model` is English-only and naming the offline multilingual one, when `lang` is not English
    and the model is one of the English-only sentence-transformers families (MiniLM, mpnet); else None."""
    name = model.lower()
    if lang.strip().lower() == "en" or "multilingual" in name or not any(w in name for w in ("minilm", "mpnet")):
        return None
    return (f"{model} is an English-only model: it matches this job description mostly through the words it shares "
            f"with English (tool names, loanwords). Try --model {MULTILINGUAL_MODEL} (offline, multilingual; "
            "slower to embed the profiles the first time, so start with a small --n).")


def tune_role_on_bundled_queries(pipe: SearchPipeline) -> str:
    """alpha of role-aware search for the demo, chosen once per workspace by 5-fold cross-validation on the
    80 bundled job descriptions (the demo's own is not one of them); returns a line saying so."""
    from clusterank.data.loaders import bundled_queries
    from clusterank.evaluate.relevance import build_relevance
    from clusterank.evaluate.tune import save_tuning, tune

    stored = pipe.tuned().get("role")
    if stored is None:
        queries, corpus = bundled_queries(), pipe.corpus
        rel = build_relevance(len(corpus), corpus.labels, queries.labels, corpus.families, queries.families,
                              source="the bundled queries", drop_unscorable=True)
        result = tune(pipe, queries.texts, rel, "role")
        save_tuning(pipe, result)
        stored = {"alpha": result.alpha}
        return (f"role: alpha = {result.alpha:g}, chosen by 5-fold cross-validation on {result.n_queries} bundled "
                f"job descriptions (held-out nDCG@10 {result.held_out.mean:.3f} vs exact {result.exact.mean:.3f}); "
                "the demo's job description is not one of them")
    return f"role: alpha = {stored['alpha']:g}, tuned earlier in this workspace (`clusterank tune`)"
