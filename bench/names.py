"""Counterfactual name swap per model on the bundled set: mean |Δrank| (top 50) and RBO@10, blind vs not blind.

Every profile's first name is swapped between the female and male lists of `names.toml` (`--swap gender`; origin
and both swap last names too), the swapped texts are embedded, the bundled job descriptions are searched with exact
search before and after, and each profile's rank change is measured (`clusterank.evaluate.counterfactual`). The
name-blind corpus (`--blind names`) must give exactly 0. Prints a markdown table (append it to bench/RESULTS.md).

    .venv/bin/python bench/names.py [--n 2000] [--models minilm-static,paraphrase-MiniLM-L3-v2,all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    """Run the benchmark and print the table."""
    from clusterank import SearchPipeline, bundled_profiles, bundled_queries, markdown_table, name_swap

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--models", default="minilm-static,paraphrase-MiniLM-L3-v2,all-MiniLM-L6-v2")
    parser.add_argument("--swap", default="gender")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    queries = bundled_queries()
    tables = [bundled_profiles(n=args.n), bundled_profiles(n=args.n, blind="names")]
    rows, groups = [], []
    for model in args.models.split(","):
        for table in tables:
            start = time.perf_counter()
            report = name_swap(SearchPipeline(table, model), queries, kind=args.swap, seed=args.seed)
            rows.append([*report.as_row().values(), f"{time.perf_counter() - start:.0f}"])
            groups.append(f"{report.model}{' (blind)' if report.blind else ''}: " + ", ".join(
                f"{g} {v:+.2f}" for g, v in report.by_group.items()))
            header = [*report.as_row(), "s"]
            print(f"{model} blind={table.blind}: {report.mean_abs_delta}", flush=True)
    print(f"\n{platform.node()} ({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d')}, n={args.n}, "
          f"{len(queries)} queries, swap {args.swap}, seed {args.seed}, exact search\n")
    print(markdown_table(header, rows))
    print("\nMean signed rank change by original name group (positive: ranked higher after the swap):")
    for line in groups:
        print(f"- {line}")


if __name__ == "__main__":
    main()
