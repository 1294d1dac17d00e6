"""Embedding throughput of every offline model on this machine, on bundled profiles.

Embeds the same sample of profiles with each model (no cache), after one warm-up batch, and prints
load time, texts/s and the share of texts over the model's token limit. The static default is
the baseline: each row says how many times slower than it a model is.

    .venv/bin/python bench/embed.py [--sample 256] [--models a,b,c]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Run the benchmark and print the table."""
    from clusterank import available_models, bundled_profiles, get_embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=256)
    parser.add_argument("--models", default=",".join(available_models()))
    args = parser.parse_args()

    corpus = bundled_profiles()
    rows = np.random.default_rng(0).choice(len(corpus), size=args.sample, replace=False)
    texts = [corpus.texts[i] for i in rows]
    words = np.mean([len(t.split()) for t in texts])
    results = []
    for name in args.models.split(","):
        t0 = time.perf_counter()
        emb = get_embedder(name)
        emb.embed(texts[:8])  # warm-up: lazy loads and first-call overheads
        load = time.perf_counter() - t0
        counts = emb.count_tokens(texts)
        t1 = time.perf_counter()
        emb.embed(texts)
        secs = time.perf_counter() - t1
        results.append((name, emb.dims, load, len(texts) / secs, float(counts.mean()),
                        float((counts > emb.max_tokens).mean()), emb.max_tokens))

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.sample} bundled profiles, {words:.0f} words each on average\n")
    base = results[0][3]
    print("| model | dims | load + warm-up | texts/s | slower than first row | mean tokens | over limit |")
    print("|---|---|---|---|---|---|---|")
    for name, dims, load, tps, tokens, over, limit in results:
        print(f"| {name} | {dims} | {load:.1f} s | {tps:,.1f} | {base / tps:.0f}x | {tokens:.0f} "
              f"| {over:.0%} of texts > {limit} |")


if __name__ == "__main__":
    main()
