"""The Embedder protocol and what every backend shares: batching, progress, truncation warnings.

A backend implements `embed(texts) -> float32 array (n, dims)`; normalisation happens once, at the store.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from clusterank.errors import install_hint

if TYPE_CHECKING:
    from clusterank.workspace import Workspace

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


@dataclass(frozen=True)
class Batch:
    """Some of the texts of one `embed_batches` call, embedded: their positions, raw vectors and billed tokens."""

    positions: list[int]
    vectors: np.ndarray
    tokens: int | None = None
    """What the provider billed for this batch (API models); None for models run here."""


def embed_batches(embedder: Embedder, texts: Sequence[str], chunk_size: int = 512) -> Iterator[Batch]:
    """The texts embedded batch by batch, each yielded as it finishes (what the store commits one at a time).

    Embedders that run several requests at once (API clients) provide their own `embed_batches`, which may
    finish batches out of order; any other embedder is called on consecutive chunks of `chunk_size`.
    """
    own = getattr(embedder, "embed_batches", None)
    if own is not None:
        yield from own(texts)
        return
    for start in range(0, len(texts), chunk_size):
        chunk = list(texts[start : start + chunk_size])
        yield Batch(list(range(start, start + len(chunk))), embedder.embed(chunk))


def query_embedder(embedder: Embedder) -> Embedder:
    """The embedder for job descriptions: the query side of an asymmetric API model (NVIDIA's `input_type`
    query, filed under its own store key), otherwise the embedder itself."""
    twin = getattr(embedder, "for_queries", None)
    return twin() if twin is not None else embedder


@dataclass(frozen=True)
class EmbedderBackend:
    """One registered backend.

    Attributes:
        name: a model id, or a prefix ending in ":" whose argument follows it (`st:`).
        build: `build(argument, workspace, tables) -> Embedder`; the argument is the id itself for fixed ids.
        needs: modules that must be importable (checked without importing them).
        extra: the clusterank extra that installs them (see `clusterank.errors.EXTRAS`).
        summary: one line for `clusterank models`.
    """

    name: str
    build: Callable[[str, "Workspace", Sequence], "Embedder"]
    needs: tuple[str, ...]
    extra: str
    summary: str

    @property
    def is_prefix(self) -> bool:
        """True for backends named by a prefix (`st:`), false for a fixed model id."""
        return self.name.endswith(":")

    def missing(self) -> list[str]:
        """The modules it needs that are not installed (empty when it can run here)."""
        return [m for m in self.needs if importlib.util.find_spec(m) is None]

    def status(self) -> str:
        """`available`, or `unavailable: <install command>`."""
        return f"unavailable: {install_hint(self.extra)}" if self.missing() else "available"


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


_TALLIES: list[dict] = []  # open `truncation_summary` blocks, innermost last


def warn_truncated(model: str, token_counts: Sequence[int] | np.ndarray, max_tokens: int) -> int:
    """Count the texts over the model's token limit; returns that number.

    Inside `truncation_summary` the counts add up into its one warning; outside, one warning per call.
    """
    counts = np.asarray(token_counts)
    over = int((counts > max_tokens).sum())
    if _TALLIES:
        tally = _TALLIES[-1]
        tally["tokens"] += int(np.minimum(counts, max_tokens).sum())
        tally["over"] += over
        tally["total"] += len(counts)
        tally["longest"] = max(tally["longest"], int(counts.max()) if len(counts) else 0)
        tally["limit"], tally["model"] = max_tokens, model
    elif over:
        log.warning("%s: %d of %d texts are longer than its %d-token limit and were truncated (longest: %d tokens)",
                    model, over, len(counts), max_tokens, int(counts.max()))
    return over


@contextmanager
def truncation_summary(what: str = "texts", quiet: bool = False) -> Iterator[dict]:
    """Collect truncations of everything embedded inside the block into ONE warning at its end (one per model
    and text set, not one per batch or per timed query); `quiet` drops it (timing runs over texts whose
    truncation is reported where they are embedded for real).

    The tally's `tokens` is how many tokens the model read (each text up to its limit); an enclosing block adds
    up the tokens of the blocks inside it (the server reports them as usage without tokenizing twice)."""
    tally = {"over": 0, "total": 0, "longest": 0, "limit": 0, "model": "", "tokens": 0}
    _TALLIES.append(tally)
    try:
        yield tally
    finally:
        _TALLIES.remove(tally)
        if _TALLIES:
            _TALLIES[-1]["tokens"] += tally["tokens"]
        if tally["over"] and not quiet:
            log.warning("%s: %d of %d %s are longer than its %d-token limit and were truncated (longest: %d tokens)",
                        tally["model"], tally["over"], tally["total"], what, tally["limit"], tally["longest"])
