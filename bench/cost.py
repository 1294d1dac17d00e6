"""Does throughput scale with text length as `clusterank cost` assumes (tokens/s held constant)?

`clusterank cost` turns a throughput measured at one text length into texts/s at another by holding
tokens/s constant. This times every offline model on texts cut to several lengths (bundled profiles
truncated word by word to ~32 ... ~400 tokens) and prints tokens/s at each length as a ratio of
tokens/s at the measured length (~200 tokens, the bundled profiles' mean): 1.00 means the assumption
holds; below 1 means longer texts are slower per token than assumed. It also times token counting
over all bundled profiles with each tokenizer.

    .venv/bin/python bench/cost.py [--sample 64] [--models a,b,c] [--lengths 32,64,128,256,400]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def cut_to_tokens(texts: list[str], target: int, count) -> list[str]:
    """Each text cut to about `target` tokens (whole words), by bisection on the word count."""
    out = []
    for text in texts:
        words = text.split()
        lo, hi = 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count([" ".join(words[:mid])])[0] <= target:
                lo = mid
            else:
                hi = mid - 1
        out.append(" ".join(words[:lo]))
    return out


def main() -> None:
    """Run the benchmark and print the tables."""
    from clusterank import available_models, bundled_profiles, get_embedder, model_info
    from clusterank.cost.tokens import count_tokens, tokenizer_name

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=64)
    parser.add_argument("--models", default=",".join(available_models()))
    parser.add_argument("--lengths", default="32,64,128,256,400")
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]

    corpus = bundled_profiles()
    long_texts = [" ".join(corpus.texts[i:i + 3]) for i in range(0, 3 * args.sample, 3)]  # ~600 tokens each
    base_texts = list(corpus.texts[: args.sample])
    rows = []
    for name in args.models.split(","):
        emb = get_embedder(name)
        limit = model_info(name).max_tokens
        count = lambda t, m=name: count_tokens(m, t)  # noqa: E731
        emb.embed(base_texts[:4])
        t = time.perf_counter()
        emb.embed(base_texts)
        base_tokens = float(np.minimum(count(base_texts), limit).mean())
        base_rate = len(base_texts) * base_tokens / (time.perf_counter() - t)
        cells = []
        for target in lengths:
            texts = cut_to_tokens(long_texts, target, count)
            read = float(np.minimum(count(texts), limit).mean())
            t = time.perf_counter()
            emb.embed(texts)
            rate = len(texts) * read / (time.perf_counter() - t)
            cells.append((target, read, rate / base_rate))
        rows.append((name, base_tokens, base_rate, cells, limit))

    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {args.sample} texts per length\n")
    print("| model | measured at (tokens) | tokens/s there | " +
          " | ".join(f"~{n} tokens" for n in lengths) + " |")
    print("|---|---|---|" + "---|" * len(lengths))
    for name, base_tokens, base_rate, cells, limit in rows:
        print(f"| {name} | {base_tokens:.0f} | {base_rate:,.0f} | " + " | ".join(
            f"{ratio:.2f} ({read:.0f}{' cut' if n > limit else ''})" for n, read, ratio in cells) + " |")
    print("\ncell: tokens/s at that length / tokens/s at the measured length (mean tokens read; 'cut' = the "
          "model's limit truncates)\n")

    texts = list(corpus.texts)
    print(f"| tokenizer (model) | exact | mean tokens / bundled profile | seconds for {len(texts):,} texts |")
    print("|---|---|---|---|")
    for model in ("text-embedding-3-large", "voyage-3", "all-MiniLM-L6-v2", "mistral-7b-v2", "all-mpnet-base-v2"):
        name, exact = tokenizer_name(model)
        count_tokens(model, texts[:10])  # load the tokenizer first
        t = time.perf_counter()
        mean = float(count_tokens(model, texts).mean())
        print(f"| {name} ({model}) | {'yes' if exact else 'stand-in'} | {mean:.1f} | {time.perf_counter() - t:.2f} |")


if __name__ == "__main__":
    main()
