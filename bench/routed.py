"""Routed search (k-means inverted lists, FAISS IVF over our centroids) against exact search.

Two corpora in one run: the 6,904 bundled profiles embedded with the default model (k = 10, the
seed's), and 1,000,000 synthetic unit vectors (d = 384) drawn around random centres, the way real
embeddings cluster (uniform random vectors have no clusters to route to; `--uniform` measures that
too). For each: build time, p50 ms per single query for exact and for nprobe 1/2/4/.../auto, and
recall@10 against exact search. Prints markdown tables for bench/RESULTS.md.

    .venv/bin/python bench/routed.py [--n 1000000] [--lists 1024] [--uniform]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def p50_ms(fn, queries: np.ndarray) -> float:
    """Median milliseconds of `fn` over single queries (after one warm-up call)."""
    fn(queries[:1])
    times = []
    for i in range(len(queries)):
        t = time.perf_counter()
        fn(queries[i : i + 1])
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def recall(rows: np.ndarray, exact_rows: np.ndarray) -> float:
    """Mean share of exact search's top k that routed search also returned."""
    return float(np.mean([len(set(a[a >= 0]) & set(b)) / len(b) for a, b in zip(rows, exact_rows)]))


def measure(name: str, vectors: np.ndarray, queries: np.ndarray, n_clusters: int, nprobes, k: int = 10,
            single: int = 200, max_points_per_centroid: int = 1024) -> list[str]:
    """Build both indexes over `vectors` and time them; returns markdown table rows."""
    from clusterank import ExactIndex
    from clusterank.cluster.kmeans import fit_kmeans
    from clusterank.index.routed import RoutedIndex

    t0 = time.perf_counter()
    exact = ExactIndex(vectors)
    exact_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = fit_kmeans(vectors, n_clusters, max_points_per_centroid=max_points_per_centroid)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    RoutedIndex(vectors, model)
    add_s = time.perf_counter() - t0
    exact_rows = exact.search(queries, k).rows
    sample = queries[:single]
    exact_ms = p50_ms(lambda q: exact.search(q, k), sample)
    rows = [f"| {name} | exact | {exact_build:.2f} s | {exact_ms:.3f} | 1.00x | 1.000 | {n_clusters} |"]
    for nprobe in nprobes:
        routed = RoutedIndex(vectors, model, nprobe=nprobe)  # the lists are built again: cheap next to k-means
        result = routed.search(queries, k)
        ms = p50_ms(lambda q: routed.search(q, k), sample)
        probed = result.clusters_probed
        rows.append(f"| {name} | nprobe={nprobe} | {fit_s:.1f} s k-means + {add_s:.1f} s lists | {ms:.3f} | "
                    f"{exact_ms / ms:.1f}x | {recall(result.rows, exact_rows):.3f} | {probed:.1f} |")
        print(rows[-1], flush=True)
    return rows


def clustered_unit_vectors(n: int, d: int, centres: int, seed: int, spread: float = 1.8) -> np.ndarray:
    """n unit vectors with two levels of structure, like embeddings of a real corpus: 64 broad topics, `centres`
    narrower groups around them, and points scattered around their group (`spread` is the noise norm)."""
    rng = np.random.default_rng(seed)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    topics = unit(rng.standard_normal((64, d)).astype(np.float32))
    groups = unit(topics[rng.integers(0, 64, centres)] + rng.standard_normal((centres, d)).astype(np.float32) / np.sqrt(d))
    out = np.empty((n, d), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        noise = spread * rng.standard_normal((m, d)).astype(np.float32) / np.sqrt(d)
        out[start : start + m] = unit(groups[rng.integers(0, centres, m)] + noise)
    return out


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--lists", type=int, default=1024)
    parser.add_argument("--uniform", action="store_true", help="also measure uniform random vectors")
    args = parser.parse_args()
    import faiss

    from clusterank import SearchPipeline, bundled_profiles, bundled_queries

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"faiss {faiss.__version__}; p50 over 200 single queries, recall@10 over 1,000 queries\n")
    header = ("| corpus | search | build | p50 ms/query | speed-up vs exact | recall@10 vs exact | clusters probed |\n"
              "|---|---|---|---|---|---|---|")
    print(header)
    pipe = SearchPipeline(bundled_profiles(), "minilm-static")
    qv = pipe.embed_queries(bundled_queries().texts)
    queries = np.ascontiguousarray(np.resize(qv, (1000, qv.shape[1])))
    rows = measure("bundled 6,904 x 256, k=10", pipe.vectors, queries, 10, (1, 2, 4, "auto"))
    rows += measure("bundled 6,904 x 256, k=40", pipe.vectors, queries, 40, (1, 2, 4, 8, "auto"))
    model = pipe.clusters(10)
    share = np.mean([model.sizes[c] / len(model.labels) for c in model.assign(qv)])
    print(f"\nat k=10 the bundled queries route to clusters holding {share:.1%} of the profiles on average: "
          f"routing can save at most ~{1 / share:.1f}x of the scanning\n")

    data = clustered_unit_vectors(args.n + 1000, args.dims, centres=4 * args.lists, seed=0)
    rows += measure(f"{args.n:,} x {args.dims} clustered", data[1000:], data[:1000], args.lists,
                    (1, 2, 4, 8, 16, 32, "auto"), max_points_per_centroid=64)
    if args.uniform:
        rng = np.random.default_rng(1)
        u = rng.standard_normal((args.n + 1000, args.dims)).astype(np.float32)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        rows += measure(f"{args.n:,} x {args.dims} uniform", u[1000:], u[:1000], args.lists, (1, 16, 64, 256),
                        max_points_per_centroid=64)
    print("\n" + header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
