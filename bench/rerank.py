"""Does reranking help? nDCG@10 and near-miss@10 with and without each reranker on the bundled queries.

Retrieval: the default model, exact search, top `--top` hits reranked. Rerankers: `rescore:<model>`
for each stronger offline model, and `llm-pairwise` with the bundled 0.5B model on loopback (slow:
~1 s per judgment, so it runs on the first `--llm-queries` queries of the confusable groups). Every
row is compared with no reranking on the same queries (paired bootstrap). Prints a markdown table.

    .venv/bin/python bench/rerank.py [--top 10] [--llm-queries 16] [--passes 2] [--rescore m1,m2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Run the benchmark and print the table."""
    from clusterank import SearchPipeline, bundled_profiles, bundled_queries
    from clusterank.data.roles import neighbour_map
    from clusterank.evaluate.metrics import ndcg_at_k, near_miss_rate
    from clusterank.evaluate.neighbours import from_map
    from clusterank.evaluate.relevance import build_relevance
    from clusterank.evaluate.stats import bootstrap_ci, paired_difference
    from clusterank.rerank import LLMOptions, get_reranker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--llm-queries", type=int, default=8)
    parser.add_argument("--llm-top", type=int, default=6)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--rescore", default="all-MiniLM-L6-v2,all-mpnet-base-v2")
    args = parser.parse_args()

    corpus, queries = bundled_profiles(), bundled_queries()
    pipe = SearchPipeline(corpus, "minilm-static")
    neighbours = neighbour_map()
    tight = [i for i, flag in enumerate(queries.frame["neighbour_in_corpus"]) if flag]

    def evaluate(rows_for, chosen, reranker=None, top=None):
        texts = [queries.texts[i] for i in chosen]
        labels = [queries.labels[i] for i in chosen]
        rel = build_relevance(len(corpus), corpus.labels, labels, corpus.families,
                              [queries.families[i] for i in chosen])
        t0 = time.perf_counter()
        hits = [pipe.search(t, 10, reranker=reranker, rerank_top=top or args.top) for t in texts]
        secs = (time.perf_counter() - t0) / len(texts)
        rows = np.array([[h.row for h in hs] + [-1] * (10 - len(hs)) for hs in hits])
        return ndcg_at_k(rows, rel, 10), near_miss_rate(rows, corpus.labels, from_map(labels, neighbours).sets, 10), secs

    results = []
    everyone = list(range(len(queries)))
    base_all = evaluate(None, everyone)
    results.append(("none", len(everyone), base_all, base_all, None))
    for model in [m for m in args.rescore.split(",") if m]:
        reranker = get_reranker(f"rescore:{model}", workspace=pipe.workspace)
        results.append((reranker.name, len(everyone), evaluate(None, everyone, reranker), base_all, reranker.stats))
    sources = {}
    if args.llm_queries > 0:
        chosen = tight[: args.llm_queries]
        base_llm = evaluate(None, chosen)
        results.append(("none (LLM query subset)", len(chosen), base_llm, base_llm, None))
        reranker = get_reranker("llm-pairwise", workspace=pipe.workspace,
                                llm=LLMOptions(passes=args.passes, budget=args.budget))
        results.append((f"{reranker.name} sliding K={args.passes}, top {args.llm_top}", len(chosen),
                        evaluate(None, chosen, reranker, args.llm_top), base_llm, reranker.stats))
        sources = reranker.judge.sources

    print(f"\nretrieval: minilm-static exact search, top {args.top} reranked; {len(corpus):,} profiles\n")
    print("| reranker | queries | nDCG@10 | vs none | near-miss@10 | vs none | calls/query | tokens/query | s/query |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, (ndcg, near, secs), (b_ndcg, b_near, _), stats in results:
        d_ndcg, sig = paired_difference(ndcg, b_ndcg)
        d_near, sig_near = paired_difference(near, b_near)
        calls = f"{stats.calls / max(stats.queries, 1):.1f}" if stats else "-"
        tokens = (f"{(stats.prompt_tokens + stats.completion_tokens) / max(stats.queries, 1):,.0f}"
                  if stats else "-")
        print(f"| {name} | {n} | {bootstrap_ci(ndcg)} | {d_ndcg.mean:+.3f}{'' if sig else ' (noise)'} | "
              f"{near.mean():.3f} | {d_near.mean:+.3f}{'' if sig_near else ' (noise)'} | {calls} | {tokens} | "
              f"{secs:.2f} |")
    print(f"\nLLM answers read from: {sources}")


if __name__ == "__main__":
    main()
