"""Does `compare`'s ms/query depend on which model is measured first? Each order of two models runs in a fresh
process that does what `compare` does per model (load it, measure a single query's embed + exact search over the
bundled profiles) with `measure_query_ms`'s warm-up off (0 rounds, as before issue 23), 2 rounds, and 8 (the default).

A model's ms/query measured first ÷ measured second is the order bias; 1.00 means none. Prints a table; paste it
into bench/RESULTS.md with the machine and date.

    .venv/bin/python bench/query_order.py [--models minilm-static,paraphrase-MiniLM-L3-v2] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHILD = """
import json, sys
import numpy as np
from clusterank import SearchPipeline, bundled_profiles, get_embedder
from clusterank.embed.measure import measure_query_ms
models, warmup = sys.argv[1].split(","), int(sys.argv[2])
corpus, out = bundled_profiles(2000), {}
for name in models:
    embedder = get_embedder(name)
    exact = SearchPipeline(corpus, embedder).retriever("exact")
    out[name] = measure_query_ms(embedder, "Product marketing manager for B2B launches",
                                 lambda v: exact.search(v / np.linalg.norm(v, axis=1, keepdims=True), 10),
                                 warmup=warmup)
print(json.dumps(out))
"""


def run(models: list[str], warmup: int) -> dict[str, float]:
    """ms/query of each model, measured in this order in a fresh process."""
    done = subprocess.run([sys.executable, "-c", CHILD, ",".join(models), str(warmup)], capture_output=True,
                          text=True, check=True, timeout=900)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run both orders with and without the warm-up and print the first ÷ second ratio per model."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="minilm-static,paraphrase-MiniLM-L3-v2")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--warmups", default="0,2,8", help="warm-up rounds to compare, comma-separated")
    args = ap.parse_args()
    a, b = args.models.split(",")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; trials: {args.trials}")
    print("| warm-up rounds | model | ms/query measured first | measured second | first ÷ second |")
    print("|---|---|---|---|---|")
    for warmup in (int(w) for w in args.warmups.split(",")):
        first = {a: [], b: []}
        second = {a: [], b: []}
        for _ in range(args.trials):
            ab, ba = run([a, b], warmup), run([b, a], warmup)
            first[a].append(ab[a]), second[b].append(ab[b])
            first[b].append(ba[b]), second[a].append(ba[a])
        for m in (a, b):
            f, s = statistics.median(first[m]), statistics.median(second[m])
            print(f"| {warmup} | {m} | {f:.2f} | {s:.2f} | {f / s:.2f} |")


if __name__ == "__main__":
    main()
