"""sentence-transformers models on torch (the `st:` backend, all-MiniLM-L6-v2, all-mpnet-base-v2), CPU or GPU.

On a GPU: fp16 weights, batches sized from the free memory, the copy back of one batch overlapped with the
next. Everywhere: texts sorted by length, each tokenized once, a batch ahead of the model in another thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from clusterank.embed.base import (Batch, Embedder, TokenBatcher, collect, length_sorted_batches, resolve_device,
                                   tokenized_ahead, warn_truncated)
from clusterank.errors import ClusterankError, require

log = logging.getLogger("clusterank.embed")


def quiet_transformers() -> None:
    """Silence transformers' load reports and length notices; clusterank warns about truncation itself."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def gpu_batch_rows(free_bytes: float, per_text_bytes: float, *, fraction: float = 0.5, low: int = 8,
                   high: int = 1024) -> int:
    """Texts per GPU batch: the largest power of two whose activations take at most `fraction` of the free
    memory, between `low` and `high` (past ~1k texts a batch no longer runs faster).

    Args:
        free_bytes: free device memory (`torch.cuda.mem_get_info()[0]`).
        per_text_bytes: peak memory one text at the longest sequence takes (measured by a probe batch).
    """
    fit = int(free_bytes * fraction / max(per_text_bytes, 1.0))
    rows = low
    while rows * 2 <= min(fit, high):
        rows *= 2
    return rows


_FEATURES = {"input_ids", "attention_mask", "token_type_ids"}


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model: a local folder, or a Hugging Face hub id when online.

    `device`: `cpu`, `cuda` or `auto` (CUDA when torch sees a GPU). On a GPU the weights are fp16 and a batch
    holds as many texts as half the free memory fits at the longest sequence. On every device texts are
    sorted by length (vectors come back in input order), each is tokenized once, and the next batches are
    tokenized in a background thread while the model runs; models whose inputs that path cannot build (a
    prompt, lower-casing in Python, left truncation, another modality) go through `SentenceTransformer.encode`.
    """

    def __init__(self, name: str, path_or_hub_id: str | Path, batch_size: int = 32, device: str = "auto"):
        self.name, self.batch_size, self.source = name, batch_size, path_or_hub_id
        st = require("sentence_transformers", "local", f"model {name!r}")
        quiet_transformers()
        self.device = resolve_device(device)
        try:
            self._model = st.SentenceTransformer(str(path_or_hub_id), device=self.device)
        except OSError as exc:
            raise ClusterankError(f"cannot load sentence-transformers model {str(path_or_hub_id)!r}: "
                                  f"{str(exc).splitlines()[0]}") from None
        if self.device == "cuda":
            self._model.half()  # fp16: ~2x the fp32 throughput on tensor cores; vectors differ slightly
        self._model.eval()
        get_dims = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dims = int(get_dims())
        self.max_tokens = int(self._model.max_seq_length)
        self._rows: int | None = None
        self._extra: dict = {}
        self._type_ids = False
        self._tokens = self._token_batcher()
        log.debug("%s on %s (%s)", name, self.device, "own batching" if self._tokens else "encode()")

    def _token_batcher(self) -> TokenBatcher | None:
        """A `TokenBatcher` giving exactly the ids `SentenceTransformer.encode` would feed, or None."""
        import torch

        model = self._model
        hf = getattr(model, "tokenizer", None)
        backend = getattr(hf, "backend_tokenizer", None)
        first = model[0] if len(model) else None
        if (backend is None or getattr(hf, "truncation_side", "right") != "right"
                or getattr(hf, "padding_side", "right") != "right" or getattr(first, "do_lower_case", False)
                or getattr(model, "default_prompt_name", None)
                or set(getattr(first, "modality_config", None) or {"text": None}) != {"text"}):
            return None
        probe_text = ["Product marketing, launches."]
        try:
            prep = getattr(model, "preprocess", None) or model.tokenize
            probe = prep(probe_text)
        except Exception:  # noqa: BLE001 - any failure means: use encode()
            return None
        tensors = {k for k, v in probe.items() if isinstance(v, torch.Tensor)}
        if not tensors <= _FEATURES or "input_ids" not in tensors or "attention_mask" not in tensors:
            return None
        batcher = TokenBatcher(backend, self.max_tokens, hf.pad_token_id or 0)
        if batcher(probe_text)[0][0].tolist() != probe["input_ids"][0].tolist():
            return None
        self._extra = {k: v for k, v in probe.items() if k not in tensors}  # e.g. modality="text"
        self._type_ids = "token_type_ids" in tensors
        return batcher

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including special tokens, without truncation."""
        if self._tokens is not None:
            return self._tokens.count(texts)
        ids = self._model.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return np.array([len(x) for x in ids], dtype=np.int64)

    def _forward(self, ids, lens):
        import torch

        mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lens[:, None]).to(torch.long)
        features = {"input_ids": ids, "attention_mask": mask, **self._extra}
        if self._type_ids:
            features["token_type_ids"] = torch.zeros_like(ids)
        with torch.inference_mode():
            return self._model(features)["sentence_embedding"].float()

    def batch_rows(self) -> int:
        """Texts per batch: `batch_size` on the CPU; on a GPU, measured once from a probe batch at the longest
        sequence and the free memory (`gpu_batch_rows`)."""
        if self.device != "cuda" or self._tokens is None:
            return self.batch_size
        if self._rows is None:
            import torch

            probe = 8
            ids = torch.full((probe, self.max_tokens), self._tokens.pad_id, dtype=torch.long, device="cuda")
            lens = torch.full((probe,), self.max_tokens, dtype=torch.long, device="cuda")
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            self._forward(ids, lens)
            torch.cuda.synchronize()
            per_text = (torch.cuda.max_memory_allocated() - base) / probe
            free, _ = torch.cuda.mem_get_info()
            self._rows = gpu_batch_rows(free, per_text)
            log.info("%s on the GPU: %d texts per batch (%.1f MiB a text at %d tokens, %.1f GiB free)", self.name,
                     self._rows, per_text / 2**20, self.max_tokens, free / 2**30)
        return self._rows

    def embed_batches(self, texts: Sequence[str], chunk_size: int = 512) -> Iterator[Batch]:
        """The texts embedded batch by batch, longest first, each batch yielded as it finishes (what the store
        commits); one truncation warning once all are done. Batches are sized by `batch_rows`, not `chunk_size`.

        On a GPU, batch i is copied back (pinned memory, an event) while batch i+1 already runs, so the GPU
        does not wait for the caller to store a batch."""
        if not len(texts):
            return
        if self._tokens is None:
            yield from self._encode_batches(texts)
            return
        import torch

        cuda = self.device == "cuda"
        counts = np.zeros(len(texts), dtype=np.int64)
        batches = length_sorted_batches(texts, self.batch_rows())
        tokenized = tokenized_ahead(self._tokens, texts, batches)
        previous = None
        try:
            for idx, (ids, lens, full) in zip(batches, tokenized):
                counts[idx] = full
                ids_t, lens_t = torch.from_numpy(ids), torch.from_numpy(lens)
                if cuda:
                    ids_t = ids_t.pin_memory().to("cuda", non_blocking=True)
                    lens_t = lens_t.pin_memory().to("cuda", non_blocking=True)
                vectors = self._forward(ids_t, lens_t)
                done = None
                if cuda:
                    host = torch.empty(vectors.shape, dtype=torch.float32, pin_memory=True)
                    host.copy_(vectors, non_blocking=True)
                    done = torch.cuda.Event()
                    done.record()
                    vectors = host
                if previous is not None:
                    yield _finished(*previous)
                previous = (idx, vectors, done)
            if previous is not None:
                yield _finished(*previous)
        finally:
            tokenized.close()
        warn_truncated(self.name, counts, self.max_tokens)

    def _encode_batches(self, texts: Sequence[str]) -> Iterator[Batch]:
        """`SentenceTransformer.encode` over length-sorted chunks (models the own batching cannot feed)."""
        counts = self.count_tokens(texts)
        for idx in length_sorted_batches(texts, self.batch_size * 8):
            vectors = self._model.encode([texts[i] for i in idx], batch_size=self.batch_size, convert_to_numpy=True,
                                         show_progress_bar=False)
            yield Batch(idx.tolist(), np.asarray(vectors, dtype=np.float32))
        warn_truncated(self.name, counts, self.max_tokens)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (float32; normalised when the model ends in a Normalize layer); texts over `max_tokens`
        are truncated."""
        return collect(self, list(texts), progress)


def _finished(positions: np.ndarray, vectors, done) -> Batch:
    if done is not None:
        done.synchronize()
    return Batch(positions.tolist(), vectors.numpy())
