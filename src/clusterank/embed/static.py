"""model2vec static models as an Embedder: each token has a vector and a text is the mean of its token vectors.

A lookup and a mean, on the CPU whatever the device; each text is tokenized once, and its ids give both its token
count and its vector, pooled exactly as `StaticModel.encode` pools. `token_vectors` gives the pooled tokens of one
text with their vectors (what `evaluate/explain.py` splits a cosine by).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from clusterank.embed.base import PREFIX_CHARS_PER_TOKEN, Embedder, certain_prefix_ids, warn_truncated
from clusterank.errors import require

log = logging.getLogger("clusterank.embed")


def _require(module: str, model: str):
    return require(module, "local", f"model {model!r}")


_SAID_STATIC: set[str] = set()


class StaticEmbedder(Embedder):
    """A model2vec static model: each token has a vector; a text is the mean of its token vectors.

    Runs on the CPU whatever the device: a lookup and a mean gain nothing on a GPU. Each text is tokenized
    once; the ids give both its token count and its vector, pooled exactly as `StaticModel.encode` pools.
    """

    def __init__(self, name: str, path_or_hub_id: str | Path, max_tokens: int = 512, batch_size: int = 1024,
                 device: str = "auto"):
        self.name, self.max_tokens, self.batch_size = name, max_tokens, batch_size
        self.device = "cpu"
        if device == "cuda" and name not in _SAID_STATIC:
            _SAID_STATIC.add(name)
            log.info("%s is a static model (a token-vector lookup): it runs on the CPU whatever the device", name)
        self._source = str(path_or_hub_id)
        self._model = None
        self.dims = int(self._load().dim)

    def _load(self):
        if self._model is None:
            m2v = _require("model2vec", self.name)
            self._model = m2v.StaticModel.from_pretrained(self._source)
            # the model's tokenizer truncates at its own max_length; counting needs every token
            self._tokenizer = copy.deepcopy(self._model.tokenizer)
            self._tokenizer.no_truncation()
            self._encode_batch = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)
        return self._model

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._encode_batch(list(texts), add_special_tokens=False)]

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text under this model's tokenizer, without truncation."""
        self._load()
        return np.array([len(x) for x in self._ids(texts)], dtype=np.int64)

    def token_vectors(self, text: str) -> tuple[list[str], np.ndarray]:
        """The tokens of `text` as `embed` pools them (cut and truncated to `max_tokens`, unknown tokens dropped)
        and their vectors, (n_tokens, dims) float64, weighted as the model weighs them: their mean is the text's
        vector before normalisation. No tokens: ([], a (0, dims) array)."""
        model = self._load()
        ids = self._ids([text[: self.max_tokens * model.median_token_length]])[0][: self.max_tokens]
        if model.unk_token_id is not None:
            ids = [t for t in ids if t != model.unk_token_id]
        if not ids:
            return [], np.zeros((0, self.dims))
        vectors = np.asarray(model.embedding[ids if model.token_mapping is None else model.token_mapping[ids]],
                             dtype=np.float64)
        if model.weights is not None:
            vectors = vectors * np.asarray(model.weights[ids], dtype=np.float64)[:, None]
        return [model.tokenizer.id_to_token(t) for t in ids], vectors

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(vectors as `StaticModel.encode(texts, max_length=max_tokens)` gives them, full token counts)."""
        model = self._load()
        # model2vec first cuts each text to max_length x the median token length in characters, then
        # tokenizes; the few texts that cut shortens are counted apart, only as far as it takes to know they are
        # over the limit (a 50 MB text is not tokenized whole: `certain_prefix_ids`)
        cut = self.max_tokens * model.median_token_length
        ids = self._ids([t[:cut] for t in texts])
        counts = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        for i, t in enumerate(texts):
            if len(t) > cut:
                counts[i] = certain_prefix_ids(self._tokenizer, t, self.max_tokens + 1,
                                               max(cut, self.max_tokens * PREFIX_CHARS_PER_TOKEN),
                                               add_special_tokens=False)[1]
        ids = [x[: self.max_tokens] for x in ids]
        if model.unk_token_id is not None:  # model2vec drops unknown tokens after truncating
            ids = [[t for t in x if t != model.unk_token_id] for x in ids]
        return static_pool(model, ids), counts

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (float32, normalised when the model says so); texts over `max_tokens` tokens are
        truncated, and counted for one warning."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        counts = np.zeros(len(texts), dtype=np.int64)
        with tqdm(total=len(texts), desc=self.name, unit="text", disable=not progress, leave=False) as bar:
            for start in range(0, len(texts), self.batch_size):
                chunk = texts[start : start + self.batch_size]
                out[start : start + len(chunk)], counts[start : start + len(chunk)] = self._encode(chunk)
                bar.update(len(chunk))
        warn_truncated(self.name, counts, self.max_tokens)
        return out


def static_pool(model, ids: list[list[int]]) -> np.ndarray:
    """The mean token vector of each id list, as model2vec's `StaticModel._encode_batch` computes it (same
    dtype, same grouping by length, same optional normalisation); empty lists give zero vectors."""
    dtype = model.embedding.dtype
    if dtype == np.int8:
        dtype = np.dtype(np.float32)
    out = np.zeros((len(ids), model.dim), dtype=dtype)
    if model.token_mapping is None and model.weights is None:
        buckets: dict[int, list[int]] = {}
        for i, row in enumerate(ids):
            if row:
                buckets.setdefault(len(row), []).append(i)
        for rows in buckets.values():
            out[rows] = model.embedding[np.array([ids[i] for i in rows], dtype=np.int64)].mean(axis=1)
    else:
        for i, row in enumerate(ids):
            if row:
                emb = model.embedding[row if model.token_mapping is None else model.token_mapping[row]]
                if model.weights is not None:
                    emb = emb * model.weights[row][:, None]
                out[i] = emb.mean(axis=0)
    if model.normalize:
        out32 = out.astype(np.float32)
        out = (out32 / (np.linalg.norm(out32, axis=1, keepdims=True) + 1e-32)).astype(out.dtype)
    return out
