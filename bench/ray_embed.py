"""Embedding on Ray against the local path, same texts, same static model (issue 14, item 5).

Each row embeds the same bundled profiles into a fresh store (models shared with the default workspace):
- local: `EmbeddingStore.embed`, one process, what `clusterank embed` does;
- ray xN: `embed_on_ray` with N actors, what `clusterank embed --ray --ray-actors N` does. Without --address it
  starts a local cluster per row (and stops it), so its start-up is in the wall time; "steady" leaves out
  everything before the first committed batch (cluster start, actors starting, models loading);
- driver commits only: the ceiling of the Ray path's one writer, normalising and committing ready vectors.

    .venv/bin/python bench/ray_embed.py [--n 20000] [--actors 1,2] [--batch-size 512] [--address HOST:PORT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from clusterank import Workspace, get_embedder  # noqa: E402
from clusterank.data.loaders import bundled_profiles  # noqa: E402
from clusterank.distributed import embed_on_ray  # noqa: E402
from clusterank.embed.store import EmbeddingStore, normalise, text_hash  # noqa: E402

MODEL = "minilm-static"
_ROOTS: list[Path] = []  # the fresh workspaces, removed at the end


def fresh_workspace(shared: Workspace) -> Workspace:
    """An empty store beside the shared models folder (the static model is distilled once, not per row)."""
    root = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    _ROOTS.append(root)
    (root / "models").symlink_to(shared.models_dir, target_is_directory=True)
    return Workspace(root)


def local_row(texts, shared: Workspace, batch_size: int) -> dict:
    """The local path: one process, the store's own batching and commits."""
    ws = fresh_workspace(shared)
    embedder = get_embedder(MODEL, ws)
    store = EmbeddingStore(ws.store_path)
    start = time.perf_counter()
    store.embed(embedder, texts, chunk_size=batch_size)
    seconds = time.perf_counter() - start
    assert store.count(MODEL) == len(set(texts))
    store.close()
    return {"run": "local (1 process)", "seconds": seconds, "startup": 0.0, "overall": len(texts) / seconds,
            "steady": len(texts) / seconds}


def commit_row(n: int, dims: int, shared: Workspace, batch_size: int) -> dict:
    """The driver's own ceiling: normalising and committing `n` ready vectors, batch by batch, nothing embedded."""
    ws = fresh_workspace(shared)
    store = EmbeddingStore(ws.store_path)
    vectors = np.random.default_rng(0).standard_normal((n, dims)).astype(np.float32)
    hashes = [text_hash(str(i)) for i in range(n)]
    start = time.perf_counter()
    for s in range(0, n, batch_size):
        store.put(MODEL, hashes[s : s + batch_size], normalise(vectors[s : s + batch_size], model=MODEL))
    seconds = time.perf_counter() - start
    store.close()
    return {"run": "driver commits only (normalise + store.put)", "seconds": seconds, "startup": 0.0,
            "overall": n / seconds, "steady": n / seconds}


def ray_row(texts, shared: Workspace, actors: int, batch_size: int, address: str | None) -> dict:
    """`embed_on_ray` with `actors` actors into a fresh store."""
    ws = fresh_workspace(shared)
    start = time.perf_counter()
    report = embed_on_ray(texts, MODEL, workspace=ws, address=address, actors=actors, batch_size=batch_size)
    seconds = time.perf_counter() - start
    store = EmbeddingStore(ws.store_path)
    assert store.count(MODEL) == len(set(texts)) == report.embedded
    store.close()
    return {"run": f"ray x{actors} ({'local cluster' if address is None else address})", "seconds": seconds,
            "startup": seconds - (report.seconds - report.startup_seconds), "overall": report.embedded / seconds,
            "steady": report.steady_texts_per_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="bundled profiles to embed")
    parser.add_argument("--actors", default="1,2", help="actor counts to run, comma-separated")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--address", default=None, help="a running cluster (default: a local one per row)")
    args = parser.parse_args()

    shared = Workspace.default()
    get_embedder(MODEL, shared)  # distil once, outside the timings
    texts = bundled_profiles(n=args.n).texts
    try:
        rows = [local_row(texts, shared, args.batch_size)]
        for actors in (int(a) for a in args.actors.split(",")):
            rows.append(ray_row(texts, shared, actors, args.batch_size, args.address))
        rows.append(commit_row(len(texts), get_embedder(MODEL, shared).dims, shared, args.batch_size))
    finally:
        for root in _ROOTS:
            shutil.rmtree(root, ignore_errors=True)

    print(f"{MODEL}, {len(texts):,} bundled profiles, batches of {args.batch_size}; {os.cpu_count()} cores "
          f"({platform.processor() or platform.machine()}), {dt.date.today().isoformat()}\n")
    print("| run | wall s | start-up s | texts/s overall | texts/s steady | steady / local |")
    print("|---|---|---|---|---|---|")
    base = rows[0]["steady"]
    for r in rows:
        print(f"| {r['run']} | {r['seconds']:.1f} | {r['startup']:.1f} | {r['overall']:,.0f} | {r['steady']:,.0f} "
              f"| {r['steady'] / base:.2f} |")


if __name__ == "__main__":
    main()
