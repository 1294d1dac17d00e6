"""Does throughput scale with text length as `clusterank cost` assumes (tokens/s held constant)?

`clusterank cost` turns a throughput measured at one text length into texts/s at another by holding
tokens/s constant. This times every offline model on texts of several lengths (bundled profiles
joined and cut word by word to ~32 ... ~400 tokens, as `clusterank cost` does) and prints tokens/s at
each length and the slowest / fastest ratio: 1.00 means the assumption holds exactly. It also times
token counting over all bundled profiles with each tokenizer.

    .venv/bin/python bench/cost.py [--sample 64] [--models a,b,c] [--lengths 32,64,128,256,400]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Run the benchmark and print the tables."""
    from clusterank import available_models, bundled_profiles, get_embedder, model_info
    from clusterank.cost.machine import machine_description, texts_of_length
    from clusterank.cost.tokens import count_tokens, tokenizer_name
    from clusterank.embed.measure import measure_throughput

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=64)
    parser.add_argument("--models", default=",".join(available_models()))
    parser.add_argument("--lengths", default="32,64,128,256,400")
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]

    corpus = bundled_profiles()
    rows = []
    for name in args.models.split(","):
        emb = get_embedder(name)
        limit = model_info(name).max_tokens
        cells = []
        for target in lengths:
            texts = texts_of_length(corpus.texts, min(target, limit - 2), name, args.sample)
            read = float(count_tokens(name, texts).mean())
            cells.append((target, read, measure_throughput(emb, texts) * read))
        rows.append((name, cells, limit))

    print(f"\nmachine: {machine_description()}, Python {platform.python_version()}; {args.sample} texts per "
          "length, each timed for at least 1 s\n")
    print("| model | " + " | ".join(f"~{n} tokens" for n in lengths) + " | slowest / fastest |")
    print("|---|" + "---|" * (len(lengths) + 1))
    for name, cells, limit in rows:
        rates = [rate for _, _, rate in cells]
        print(f"| {name} | " + " | ".join(f"{rate:,.0f} ({read:.0f}{' cut' if n > limit - 2 else ''})"
                                          for n, read, rate in cells) + f" | {min(rates) / max(rates):.2f} |")
    print("\ncell: tokens/s at that length (mean tokens read; 'cut' = the model's limit truncates). Constant "
          "tokens/s would make the last column 1.00.\n")

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
