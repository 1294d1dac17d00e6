"""The judged comparison on the bundled set with the offline local judge (issue 27): models x pipelines scored on
LLM-judged relevance, the judge's agreement with the labels (Cohen's kappa, Kendall's tau, 95% intervals), the bias
checks, and judgments per second. Resumable: grades are cached, so a rerun pays only for what is missing.

    .venv/bin/python bench/judged.py [--models minilm-static,paraphrase-MiniLM-L3-v2] [--pipelines exact,routed:nprobe=1]
                                     [--queries 20] [--n 1000] [--pool-depth 5] [--checks 20] [--judge local]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Run the judged comparison, print the notes and the quality table."""
    from clusterank import bundled_profiles, bundled_queries, judged_compare, markdown_table
    from clusterank.evaluate.report import quality_rows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="minilm-static,paraphrase-MiniLM-L3-v2")
    parser.add_argument("--pipelines", default="exact,routed:nprobe=1")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--pool-depth", type=int, default=5)
    parser.add_argument("--checks", type=int, default=20)
    parser.add_argument("--judge", default="local")
    parser.add_argument("--max-judgments", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    corpus, queries = bundled_profiles(n=args.n), bundled_queries()
    step = max(1, len(queries) // args.queries)
    queries = queries.subset(list(range(0, len(queries), step))[:args.queries])
    started = time.perf_counter()
    result = judged_compare(args.models.split(","), corpus, queries, args.judge, pool_depth=args.pool_depth,
                            max_judgments=args.max_judgments, judge_checks=args.checks,
                            pipelines=args.pipelines.split(","), with_maps=False, hide_labels=0)
    wall = time.perf_counter() - started
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{len(corpus):,} profiles x {len(queries)} queries, models {args.models}, pipelines {args.pipelines}, "
          f"pool depth {args.pool_depth}, judge {result.judge} ({result.version}); wall {wall:.0f} s")
    for line in result.lines():
        print(line)
    print(markdown_table(*quality_rows(result.comparison)))


if __name__ == "__main__":
    main()
