"""What the `fair` reranker costs and what it buys on the bundled set (issue 25, item 5).

Scores exact search and exact search + `fair:group=<column>` (target = the corpus' shares, DetConstSort over the
top `--top` hits) on the 80 bundled job descriptions with one model, and prints nDCG@10 of each (and the cost in
percent), and per pipeline the lowest impact ratio at top-30: a group's selection rate (its members in a query's
top 30 / its members in the corpus, averaged over queries) over the highest group's; groups under 2% of the corpus
are left out, as the audit rules allow.

    .venv/bin/python bench/fair.py [--model minilm-static] [--groups name_gender,name_origin] [--top 50]
                                   [--max-loss 0.02] [--k 30] [--n 6904]
"""

from __future__ import annotations

import argparse
import os
import platform
import time


os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Run the pipelines and print the table."""
    from clusterank import (Pipeline, SearchPipeline, audit_arrays, build_relevance, bundled_profiles,
                            bundled_queries, evaluate_pipelines, get_reranker)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm-static")
    parser.add_argument("--groups", default="name_gender,name_origin")
    parser.add_argument("--top", type=int, default=50)
    parser.add_argument("--max-loss", type=float, default=0.02)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--n", type=int, default=6904)
    args = parser.parse_args()

    corpus, queries = bundled_profiles(n=args.n), bundled_queries()
    pipe = SearchPipeline(corpus, args.model)
    rel = build_relevance(len(corpus), corpus.labels, queries.labels)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{len(corpus):,} profiles x {len(queries)} queries, {args.model}, fair over the top {args.top}, "
          f"max_loss={args.max_loss:g}, impact ratios at top-{args.k}\n")
    print("| group | pipeline | nDCG@10 | cost | lowest ratio (group) | queries over the bound | seconds |")
    print("|---|---|---|---|---|---|---|")
    for column in args.groups.split(","):
        values = pipe.column(column)
        fair = get_reranker(f"fair:group={column},target=corpus,max_loss={args.max_loss:g}")
        started = time.perf_counter()
        runs = evaluate_pipelines(pipe, queries.texts, rel, ["exact", Pipeline("exact", fair, rerank_top=args.top)],
                                  query_labels=queries.labels)
        seconds = time.perf_counter() - started
        base = runs["exact"].mean("nDCG@10")
        for name, run in runs.items():
            group, ratio = audit_arrays("", name, run.rows, None, values, args.k, n_boot=1).lowest_ratio()
            ndcg = run.mean("nDCG@10")
            unconstrained = name == "exact"
            print(f"| {column} | {name} | {ndcg:.4f} | {'' if unconstrained else f'{100 * (base - ndcg) / base:.2f}%'} "
                  f"| {ratio.mean:.3f} ({group}) | {'' if unconstrained else fair.unmet} | "
                  f"{'' if unconstrained else f'{seconds:.1f}'} |")


if __name__ == "__main__":
    main()
