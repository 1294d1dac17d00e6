"""CPU embedding against its raw library, alone and beside a busy process (issue 14, item 7).

For each model, clusterank's embedder against its library called directly on the same texts (the "raw"
library), first alone, then while another process keeps one core busy:
- ONNX models: `OnnxEmbedder` (onnxruntime without spinning, texts sorted by length) against onnxruntime
  with its default options, fed the same tokens in the same batches.
- torch: `SentenceTransformerEmbedder` against sentence-transformers' `encode`.
- model2vec: `StaticEmbedder` against `StaticModel.encode`.
Ours also counts every text's tokens for the truncation warning (from the ids it embeds: each text is tokenized
once); the raw calls do not count.

    .venv/bin/python bench/cpu_embed.py [--sample 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def busy(stop) -> None:
    """Keep one core busy until told to stop."""
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def raw_onnx(embedder):
    """onnxruntime with default options, fed exactly as the embedder feeds it (same tokens, batches, pooling)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(embedder._onnx_path), providers=["CPUExecutionProvider"])

    def run(texts):
        embedder._session, saved = session, embedder._session
        embedder._inputs = {i.name for i in session.get_inputs()}
        try:
            return embedder.embed(texts)
        finally:
            embedder._session = saved
            embedder._inputs = {i.name for i in saved.get_inputs()}
    return run


def raw_library(embedder):
    """The embedder's own library called directly on the same texts: onnxruntime with default options,
    sentence-transformers' `encode`, or model2vec's `encode` (no token counting, no truncation warning)."""
    if hasattr(embedder, "_onnx_path"):
        return raw_onnx(embedder)
    if hasattr(embedder, "_model") and hasattr(embedder._model, "encode") and hasattr(embedder._model, "tokenizer") \
            and embedder.__class__.__name__ == "SentenceTransformerEmbedder":
        return lambda texts: embedder._model.encode(texts, batch_size=embedder.batch_size, convert_to_numpy=True,
                                                    show_progress_bar=False)
    model = embedder._load()
    return lambda texts: model.encode(texts, max_length=embedder.max_tokens, batch_size=embedder.batch_size)


def rates(ours, raw, texts, repeats: int) -> tuple[float, float]:
    """Median texts/s of each, timed in turn (ours, raw, ours, ...) so that a change in the machine's load
    falls on both alike."""
    ours(texts[:8])
    raw(texts[:8])
    times: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for fn, out in zip((ours, raw), times):
            t = time.perf_counter()
            fn(texts)
            out.append(len(texts) / (time.perf_counter() - t))
    return float(np.median(times[0])), float(np.median(times[1]))


def main() -> None:
    """Print the table."""
    from clusterank import bundled_profiles, get_embedder
    from clusterank.embed.base import truncation_summary

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="paraphrase-MiniLM-L3-v2,all-MiniLM-L6-v2-int8")
    args = ap.parse_args()
    texts = bundled_profiles().texts[: args.sample]
    rows = []
    with truncation_summary(quiet=True):
        for name in args.models.split(","):
            ours = get_embedder(name)
            ours.embed(texts[:2])
            raw = raw_library(ours)
            alone = rates(ours.embed, raw, texts, args.repeats)
            stop = mp.Event()
            proc = mp.Process(target=busy, args=(stop,))
            proc.start()
            try:
                time.sleep(0.5)
                shared = rates(ours.embed, raw, texts, args.repeats)
            finally:
                stop.set()
                proc.join()
            rows.append((name, *alone, *shared))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
          f"{args.sample} bundled profiles, median of {args.repeats} (ours and raw timed in turn); load average "
          f"{os.getloadavg()[0]:.1f} at the end\n")
    print("| model | ours alone | raw alone | ours / raw | ours shared | raw shared | ours / raw shared |\n"
          "|---|---|---|---|---|---|---|")
    for name, oa, ra, os_, rs in rows:
        print(f"| {name} | {oa:.1f} | {ra:.1f} | {oa / ra:.2f} | {os_:.1f} | {rs:.1f} | {os_ / rs:.2f} |")
    print("\n(texts/s; 'shared' = while another process keeps one of the cores busy)")


if __name__ == "__main__":
    main()
