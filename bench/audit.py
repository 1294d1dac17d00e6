"""How long the bias audit of the bundled set takes, and what it finds (issue 25, item 1).

Audits the 6,904 bundled profiles x 80 bundled job descriptions with one model and the pipelines given, by the
bundled set's name-group column(s), and prints the seconds (embedding the corpus is timed apart: it is cached
after the first run) and the audit table (impact ratios with 95% bootstrap intervals).

    .venv/bin/python bench/audit.py [--model minilm-static] [--pipelines exact,role] [--group name_gender]
                                    [--k 30] [--n 6904]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Run the audit, print the timings and the table."""
    from clusterank import SearchPipeline, audit_lines, audit_pipelines, bundled_profiles, bundled_queries

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm-static")
    parser.add_argument("--pipelines", default="exact,role")
    parser.add_argument("--group", default="name_gender")
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--n", type=int, default=6904)
    args = parser.parse_args()

    started = time.perf_counter()
    corpus, queries = bundled_profiles(n=args.n), bundled_queries()
    pipe = SearchPipeline(corpus, args.model)
    loaded = time.perf_counter()
    audit = audit_pipelines(pipe, queries, args.group, args.pipelines.split(","), args.k)
    done = time.perf_counter()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{len(corpus):,} profiles x {len(queries)} queries, {args.model}, pipelines {args.pipelines}, "
          f"group {args.group}, k={args.k}")
    print(f"generate + embed (cached after the first run): {loaded - started:.1f} s; audit: {done - loaded:.2f} s; "
          f"total {done - started:.1f} s\n")
    print("\n".join(audit_lines([audit])))


if __name__ == "__main__":
    main()
