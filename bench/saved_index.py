"""Saved index vs the embedding store at start-up, and an update by id vs a rebuild, at 500k x 384.

The store path is what every start did before: look each profile's vector up by text hash in SQLite. The saved
index memory-maps one file. The update replaces 1% of the profiles (removed + new ones) and patches the binary
and IVF-PQ codes; the rebuild reads every vector from the store and trains the codes anew. Vectors are random
(the model does not matter here).

    .venv/bin/python bench/saved_index.py [--n 500000]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


SPECS = ("binary:rescore=4", "ivfpq:m=48,rescore=4")


def timed(fn):
    """(result, seconds) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    """Fill a store, save an index, and time the start-up and update paths."""
    from clusterank.cluster.kmeans import corpus_key
    from clusterank.embed.store import EmbeddingStore, text_hash
    from clusterank.index.persist import SavedIndex

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500_000)
    p.add_argument("--dims", type=int, default=384)
    args = p.parse_args()
    n, d = args.n, args.dims
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, d), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{i}" for i in range(n)]
    hashes = [text_hash(f"profile {i}") for i in range(n)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddingStore(Path(tmp) / "store.sqlite")
        for s in range(0, n, 50_000):
            store.put("bench", hashes[s:s + 50_000], vectors[s:s + 50_000])
        store.close()

        def from_store():
            st = EmbeddingStore(Path(tmp) / "store.sqlite")
            have = st.lookup("bench", hashes)
            return np.stack([have[h] for h in hashes])
        _, store_s = timed(from_store)
        path = Path(tmp) / "index"
        saved, build_s = timed(lambda: SavedIndex.create(path, model="bench", corpus="bench", fingerprint=corpus_key(
            hashes), vectors=vectors, ids=ids, hashes=hashes))
        _, codes_s = timed(lambda: [saved.add_retriever(spec) for spec in SPECS])
        q = vectors[:1]

        def open_and_search():
            opened = SavedIndex.open(path, model="bench")
            opened.search("binary:rescore=4", q, 10)
            return opened.search("exact", q, 10)
        found, open_s = timed(open_and_search)
        assert found.rows[0, 0] == 0
        rows += [("start: vectors from the SQLite store (lookup by hash)", store_s),
                 ("start: open the saved index + first exact and binary search", open_s),
                 ("save the index (vectors, ids, hashes)", build_s), (f"add {' and '.join(SPECS)} to it", codes_s)]

        change = n // 100
        new_ids = ids[change:] + [f"new{i}" for i in range(change)]
        new_hashes = hashes[change:] + [text_hash(f"new profile {i}") for i in range(change)]
        new_vecs = rng.standard_normal((change, d), dtype=np.float32)
        new_vecs /= np.linalg.norm(new_vecs, axis=1, keepdims=True)
        opened = SavedIndex.open(path)
        changes, update_s = timed(lambda: opened.update(new_ids, new_hashes, corpus_key(new_hashes),
                                                        lambda r: new_vecs))
        assert changes.added == change and changes.removed == change

        def rebuild():  # what an update saves: every vector read back from the store, codes trained again
            from_store()
            again = SavedIndex.create(Path(tmp) / "rebuilt", model="bench", corpus="bench",
                                      fingerprint=corpus_key(new_hashes), ids=new_ids, hashes=new_hashes,
                                      vectors=np.concatenate([vectors[change:], new_vecs]))
            for spec in SPECS:
                again.add_retriever(spec)
        _, rebuild_s = timed(rebuild)
        rows += [(f"update by id: -{change:,} +{change:,} profiles (codes patched, not retrained)", update_s),
                 ("rebuild instead (vectors read from the store, codes trained again)", rebuild_s)]

    print(f"\n{n:,} x {d} vectors; {platform.machine()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    print("| step | seconds | vs store start |\n|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s:.2f} | {s / store_s:.2f}x |")


if __name__ == "__main__":
    main()
