"""Exact search speed: clusterank's ExactIndex vs the seed's per-row Python loop vs FAISS IndexFlatIP.

Corpus: the bundled 6,904 profiles embedded with the default model (cached after the first run);
queries: the bundled job descriptions, repeated to 1,000. Prints a table and the ratios; paste the
output into bench/RESULTS.md with the machine and date.

    .venv/bin/python bench/search.py [--model minilm-static] [--k 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def seed_loop(corpus: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    """The seed's method: cosine per row in Python, then sort."""
    def cosine(a, b):
        return np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))

    scored = [(i, cosine(query, row)) for i, row in enumerate(corpus)]
    scored.sort(key=lambda t: t[1], reverse=True)
    return [i for i, _ in scored[:k]]


def timed(fn, repeat: int) -> float:
    """Median seconds of `repeat` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm-static")
    parser.add_argument("--k", type=int, default=30)
    args = parser.parse_args()

    import faiss

    from clusterank import ExactIndex, SearchPipeline, bundled_profiles, bundled_queries

    t0 = time.perf_counter()
    profiles = bundled_profiles()
    generate_s = time.perf_counter() - t0
    pipe = SearchPipeline(profiles, args.model, progress=True)
    corpus = pipe.vectors
    queries_text = bundled_queries().texts
    qv = pipe.embed_queries(queries_text)
    batch = np.ascontiguousarray(np.resize(qv, (1000, qv.shape[1])))
    one = batch[:1]
    index = ExactIndex(corpus)
    flat = faiss.IndexFlatIP(corpus.shape[1])
    flat.add(corpus)
    k = args.k

    # same answers first: the benchmark compares equal work
    ours = index.search(batch[:50], k).rows
    _, theirs = flat.search(batch[:50], k)
    agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, theirs)])
    assert agree > 0.99, f"ExactIndex and FAISS disagree ({agree:.3f})"
    assert seed_loop(corpus, one[0], k)[:10] == ours[0][:10].tolist()

    rows = []
    rows.append(("single query", "clusterank ExactIndex", timed(lambda: index.search(one, k), 300)))
    rows.append(("single query", "FAISS IndexFlatIP", timed(lambda: flat.search(one, k), 300)))
    rows.append(("single query", "seed per-row loop", timed(lambda: seed_loop(corpus, one[0], k), 5)))
    rows.append(("1,000 queries", "clusterank ExactIndex", timed(lambda: index.search(batch, k), 10)))
    rows.append(("1,000 queries", "FAISS IndexFlatIP", timed(lambda: flat.search(batch, k), 10)))
    seed_per_query = timed(lambda: [seed_loop(corpus, q, k) for q in batch[:10]], 2) / 10
    rows.append(("1,000 queries", "seed per-row loop (10 timed, x100)", seed_per_query * 1000))

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}, numpy {np.__version__}, faiss {faiss.__version__}")
    print(f"corpus: {corpus.shape[0]:,} x {corpus.shape[1]} ({args.model}), k={k}; median of repeated runs; "
          f"generating the bundled profiles took {generate_s:.2f} s\n")
    print("| workload | method | time | vs FAISS flat | seed loop / this |")
    print("|---|---|---|---|---|")
    for workload, method, secs in rows:
        base = {r[1]: r[2] for r in rows if r[0] == workload}
        faiss_t = base["FAISS IndexFlatIP"]
        seed_t = next(v for m, v in base.items() if m.startswith("seed"))
        shown = f"{secs * 1e3:.3f} ms" if secs < 1 else f"{secs:.2f} s"
        print(f"| {workload} | {method} | {shown} | {secs / faiss_t:.2f}x | {seed_t / secs:.0f}x |")


if __name__ == "__main__":
    main()
