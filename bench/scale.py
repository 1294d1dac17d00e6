"""Scale: 10M x 384 clustered synthetic vectors on this machine, searched by binary+rescore and IVF-PQ+rescore.

The vectors are generated in chunks and written once as float16 to a file (never held in memory whole); each
compressed index is built from the chunks; rescoring reads the float16 rows it needs from the memory-mapped file.
Prints build time, index bytes, peak memory, p50/p99 single-query latency and recall@10 against exact search
(computed by a chunked scan). Paste the table into bench/RESULTS.md.

    .venv/bin/python bench/scale.py [--n 10000000] [--dir /tmp/clusterank-scale]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import time

import numpy as np

CHUNK = 250_000


def rss_gib() -> float:
    """Peak resident memory of this process so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def anon_gib() -> float:
    """Anonymous (not file-backed) resident memory now, GiB: what the process holds beyond mapped file pages."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["RssAnon"].split()[0]) / 2**20


def chunks(n: int, d: int, centres: np.ndarray, spread: float, seed: int):
    """The corpus, chunk by chunk: a random centre plus Gaussian noise, L2-normalised, float32."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        x = centres[rng.integers(0, len(centres), m)] + spread * rng.standard_normal((m, d), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield start, x


def file_chunks(path: str, n: int, d: int):
    """The corpus back from the float16 file as float32 chunks (read, not mapped: no resident file pages)."""
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        yield start, np.fromfile(path, dtype=np.float16, count=m * d, offset=start * d * 2).reshape(m, d).astype(
            np.float32)


def exact_top(path: str, n: int, d: int, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k rows of each query by a chunked scan of the float16 file (the ground truth)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_r = np.full((len(queries), k), -1, dtype=np.int64)
    for start, x in file_chunks(path, n, d):
        s = queries @ x.T
        top = np.argpartition(s, s.shape[1] - k, axis=1)[:, -k:]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        cand_r = np.concatenate([best_r, top + start], axis=1)
        keep = np.argsort(-cand_s, axis=1)[:, :k]
        best_s, best_r = np.take_along_axis(cand_s, keep, 1), np.take_along_axis(cand_r, keep, 1)
    return best_r


def rescore(data: np.memmap, q: np.ndarray, cand: np.ndarray, k: int) -> np.ndarray:
    """The k best of the candidate rows by their float16 vectors (sorted reads from the mapped file)."""
    cand = np.unique(cand[cand >= 0])
    s = np.asarray(data[cand], dtype=np.float32) @ q
    return cand[np.argsort(-s)[:k]]


def step(timings: dict[str, float], name: str, t0: float) -> None:
    """Record and print how long a step took."""
    timings[name] = time.perf_counter() - t0
    print(f"{name}: {timings[name]:.0f} s", flush=True)


def measure(name: str, search, queries: np.ndarray, truth: np.ndarray, k: int) -> dict:
    """p50/p99 latency of one query at a time, and recall@k against the exact rows."""
    for q in queries[:5]:
        search(q)
    times, recalls = [], []
    for q, t in zip(queries, truth):
        t0 = time.perf_counter()
        rows = search(q)
        times.append(time.perf_counter() - t0)
        recalls.append(len(set(rows[:k].tolist()) & set(t.tolist())) / k)
    return {"method": name, "p50_ms": 1e3 * np.percentile(times, 50), "p99_ms": 1e3 * np.percentile(times, 99),
            "recall": float(np.mean(recalls))}


def main() -> None:
    """Generate, build, search, print the table."""
    import faiss

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000_000)
    p.add_argument("--dims", type=int, default=384)
    p.add_argument("--centres", type=int, default=20_000, help="fine clusters in the synthetic data")
    p.add_argument("--nlist", type=int, default=4096)
    p.add_argument("--m", type=int, default=48, help="IVF-PQ code bytes per vector")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--dir", default="/tmp/clusterank-scale")
    p.add_argument("--keep", action="store_true", help="keep the float16 file (and the exact top-10)")
    p.add_argument("--reuse", action="store_true", help="reuse a kept file and its exact top-10")
    p.add_argument("--binary-ivf", action="store_true", help="also build a binary IVF index (slow to fill)")
    args = p.parse_args()
    n, d, k = args.n, args.dims, 10
    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, f"vectors-{n}x{d}.f16")
    rng = np.random.default_rng(0)
    # families -> roles -> people: 256 coarse centres, fine centres around them, people around those
    coarse = rng.standard_normal((256, d), dtype=np.float32) / np.sqrt(d)
    centres = coarse[rng.integers(0, 256, args.centres)] + 0.7 * rng.standard_normal((args.centres, d),
                                                                                      dtype=np.float32) / np.sqrt(d)
    spread = 0.6 / np.sqrt(d)
    rows: list[dict] = []
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    if not (args.reuse and os.path.exists(path)):
        with open(path, "wb") as f:
            for _, x in chunks(n, d, centres, spread, seed=1):
                f.write(x.astype(np.float16).tobytes())
        step(timings, "generate + write float16", t0)
    sample = next(file_chunks(path, min(n, 100_000), d))[1]
    data = np.memmap(path, dtype=np.float16, mode="r", shape=(n, d))
    queries = next(chunks(args.queries, d, centres, spread, seed=2))[1]
    truth_path = f"{path}.truth-{args.queries}.npy"
    t0 = time.perf_counter()
    if args.reuse and os.path.exists(truth_path):
        truth = np.load(truth_path)
    else:
        truth = exact_top(path, n, d, queries, k)
        np.save(truth_path, truth)
        step(timings, f"exact top-10 by chunked scan (ground truth, {args.queries} queries)", t0)

    # binary: mean-centred sign bits, Hamming scan, float16 rescoring
    mean = sample.mean(axis=0)
    t0 = time.perf_counter()
    binary = faiss.IndexBinaryFlat(d)
    for _, x in file_chunks(path, n, d):
        binary.add(np.packbits(x > mean, axis=1))
    step(timings, 'build binary (flat)', t0)
    binary_ivf = None
    if args.binary_ivf:  # its flat Hamming quantizer makes filling 10M slow here: opt in
        t0 = time.perf_counter()
        binary_ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(d), d, args.nlist)
        binary_ivf.train(np.packbits(sample[: 39 * args.nlist] > mean, axis=1))
        for _, x in file_chunks(path, n, d):
            binary_ivf.add(np.packbits(x > mean, axis=1))
        step(timings, 'build binary IVF (train on the sample, fill)', t0)
    faiss.omp_set_num_threads(1)  # one query at a time: threads only add overhead
    indexes = [(binary, "binary flat", (None,))] + ([(binary_ivf, "binary IVF", (32, 128))] if binary_ivf else [])
    for index, label, probes in indexes:
        for nprobe in probes:
            if nprobe:
                index.nprobe = nprobe
            for rescore_x in (10, 50):
                def search_binary(q, r=rescore_x, index=index):
                    _, cand = index.search(np.packbits(q[None] > mean, axis=1), r * k)
                    return rescore(data, q, cand[0], k)
                name = f"{label}{f' nprobe={nprobe}' if nprobe else ''}, rescore {rescore_x}x"
                row = measure(name, search_binary, queries, truth, k)
                row["index_gib"] = n * (d / 8 + (8 if nprobe else 0)) / 2**30
                rows.append(row)
    del binary, binary_ivf
    faiss.omp_set_num_threads(os.cpu_count() or 1)

    # IVF-PQ trained on a sample, filled chunk by chunk, float16 rescoring
    t0 = time.perf_counter()
    # an HNSW graph over the list centroids: assigning 10M vectors to their list stays cheap
    ivfpq = faiss.index_factory(d, f"IVF{args.nlist}_HNSW32,PQ{args.m}", faiss.METRIC_INNER_PRODUCT)
    ivfpq.train(sample)
    step(timings, 'train IVF-PQ (100k sample)', t0)
    t0 = time.perf_counter()
    for _, x in file_chunks(path, n, d):
        ivfpq.add(x)
    step(timings, 'fill IVF-PQ', t0)
    faiss.omp_set_num_threads(1)  # one query at a time: threads only add overhead
    for nprobe, rescore_x in ((16, 20), (32, 50), (64, 50)):
        faiss.extract_index_ivf(ivfpq).nprobe = nprobe

        def search_ivfpq(q, r=rescore_x):
            _, cand = ivfpq.search(q[None], r * k)
            return rescore(data, q, cand[0], k)
        row = measure(f"IVF-PQ nlist={args.nlist} m={args.m} nprobe={nprobe}, rescore {rescore_x}x", search_ivfpq,
                      queries, truth, k)
        row["index_gib"] = n * (args.m + 8) / 2**30  # codes + 8-byte ids in the inverted lists
        rows.append(row)

    print(f"\n{n:,} x {d} clustered vectors ({args.centres:,} centres); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")
    print("\n| step | seconds |\n|---|---|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.0f} |")
    print("\n| method | index GiB | p50 ms | p99 ms | recall@10 | goal (p50 <= 10 ms, recall >= 0.95) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ok = "met" if r["p50_ms"] <= 10 and r["recall"] >= 0.95 else "missed"
        print(f"| {r['method']} | {r['index_gib']:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['recall']:.3f} | "
              f"{ok} |")
    print(f"\npeak RSS {rss_gib():.2f} GiB (includes float16 pages mapped for rescoring); anonymous memory now "
          f"{anon_gib():.2f} GiB; float16 file {n * d * 2 / 2**30:.1f} GiB on disk")
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
