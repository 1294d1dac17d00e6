"""The Embedder protocol and what every backend shares: batching, progress, truncation warnings.

A backend implements `embed(texts) -> float32 array (n, dims)`; normalisation happens once, at the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

log = logging.getLogger("clusterank.embed")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. `name` is the model id the store files vectors under."""

    name: str
    dims: int
    max_tokens: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed `texts` into a float32 array of shape (len(texts), dims)."""
        ...


def embed_in_batches(
    encode: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    *,
    batch_size: int,
    dims: int,
    progress: bool = False,
    desc: str = "embedding",
) -> np.ndarray:
    """Run `encode` over `texts` in batches, with an optional progress bar.

    Args:
        encode: maps a list of texts to an array (len, dims).
        texts: the texts, in order.
        batch_size: texts per call to `encode`.
        dims: the vector size, used for the empty case.
        progress: show a tqdm bar (texts/s and ETA).
        desc: the bar's label.

    Returns:
        float32 array of shape (len(texts), dims).
    """
    if not texts:
        return np.zeros((0, dims), dtype=np.float32)
    out = np.empty((len(texts), dims), dtype=np.float32)
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress, leave=False) as bar:
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            out[start : start + len(chunk)] = np.asarray(encode(chunk), dtype=np.float32)
            bar.update(len(chunk))
    return out


def warn_truncated(model: str, token_counts: Sequence[int] | np.ndarray, max_tokens: int) -> int:
    """Log one warning saying how many texts exceed the model's token limit; returns that number."""
    counts = np.asarray(token_counts)
    over = int((counts > max_tokens).sum())
    if over:
        log.warning(
            "%s: %d of %d texts are longer than its %d-token limit and were truncated (longest: %d tokens)",
            model, over, len(counts), max_tokens, int(counts.max()),
        )
    return over
