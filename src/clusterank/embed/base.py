"""The Embedder base class and what every backend shares: batching, progress, truncation warnings, the device.

A backend subclasses `Embedder` and implements `embed(texts) -> float32 array (n, dims)`; normalisation happens
once, at the store. Transformer backends tokenize each text once (`TokenBatcher`), in batches of similar length
(`length_sorted_batches`), a batch or two ahead of the model (`tokenized_ahead`).
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from clusterank.embed.truncation import truncation_summary, warn_truncated  # noqa: F401 (importable from here)
from clusterank.errors import ClusterankError
from clusterank.registry import Backend

log = logging.getLogger("clusterank.embed")


@dataclass(frozen=True)
class Batch:
    """Some of the texts of one `embed_batches` call, embedded: their positions, raw vectors and billed tokens."""

    positions: list[int]
    vectors: np.ndarray
    tokens: int | None = None
    """What the provider billed for this batch (API models); None for models run here."""


class Embedder(ABC):
    """Turns texts into vectors; the one base of every backend (after simonw/llm's `EmbeddingModel`).

    A backend implements `embed` and sets `name` (the store key), `dims` and `max_tokens`; the rest has defaults it
    may override. Capabilities are declared class attributes, read as they are, never probed for.
    """

    name: str
    dims: int
    max_tokens: int

    remote: bool = False
    """Calls a network API and batches, limits and bills its own requests: `embed --ray` refuses it."""
    paid: bool = False
    """Billed per token: callers time it on small samples, once."""
    asymmetric: bool = False
    """Embeds queries differently from documents: `for_queries()` gives that other side."""
    computes: bool = True
    """Computes vectors from text (false for one that looks up vectors made elsewhere: nothing to time)."""
    parts: Sequence["Embedder"] = ()
    """For a model made of others (`mean-of-models:`, `fusion:`): them. The store embeds and keeps each part under
    its own name and joins their vectors with `join`, so a part is never embedded twice."""
    fusion: Any = None
    """For `fusion:`, its `FusionRule`: the pipeline fuses the parts' rankings instead of searching the joined
    vectors (None: search the vectors)."""

    @abstractmethod
    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed `texts` into a float32 array of shape (len(texts), dims)."""

    def embed_batches(self, texts: Sequence[str], chunk_size: int = 512) -> Iterator[Batch]:
        """The texts embedded batch by batch, each yielded as it finishes (what the store commits one at a time).

        By default `embed` on consecutive chunks of `chunk_size`; backends that batch their own way (by length,
        several requests at once) override it, may ignore `chunk_size` and may finish batches out of order."""
        for start in range(0, len(texts), chunk_size):
            chunk = list(texts[start : start + chunk_size])
            yield Batch(list(range(start, start + len(chunk))), self.embed(chunk))

    def join(self, part_vectors: Sequence[np.ndarray]) -> np.ndarray:
        """A composite's vectors from its parts' normalised ones (see `parts`); only composites implement it."""
        raise NotImplementedError(f"{type(self).__name__} has no parts to join")

    def for_queries(self) -> "Embedder":
        """The embedder for job descriptions: itself, unless `asymmetric` (then a twin under its own store key)."""
        return self

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text, without truncation (int64). By default an estimate: whitespace-separated words, for
        models with no tokenizer here; backends with one return its exact count."""
        return np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))

    def token_vectors(self, text: str) -> tuple[list[str], np.ndarray] | None:
        """For a model whose text vector is the mean of its token vectors (a static model): the tokens of `text` as
        `embed` pools them and their vectors, (n_tokens, dims) float64, so their mean is the text's vector before
        normalisation. None (the default) for a model whose vector is no mean of token vectors."""
        return None


def embed_batches(embedder: Embedder, texts: Sequence[str], chunk_size: int = 512) -> Iterator[Batch]:
    """`embedder.embed_batches(texts, chunk_size)`; an object that only has `embed` (not an `Embedder`) gets the
    base default."""
    own = type(embedder).embed_batches if isinstance(embedder, Embedder) else Embedder.embed_batches
    return own(embedder, texts, chunk_size)


def query_embedder(embedder: Embedder) -> Embedder:
    """The embedder for job descriptions (`Embedder.for_queries`): the query side of an asymmetric API model
    (NVIDIA's `input_type` query, filed under its own store key), otherwise the embedder itself."""
    return embedder.for_queries() if isinstance(embedder, Embedder) else embedder


@dataclass(frozen=True)
class EmbedContext:
    """What an embedder may be built from; each backend reads what it needs.

    Attributes:
        workspace: where models built on first use are kept.
        tables: corpora whose precomputed columns `precomputed:` reads.
        device: `cpu` | `cuda` | `auto`, for models run here with torch or onnxruntime (others ignore it).
        model: builds another registered model by name with the same workspace, tables and device (ensembles).
        params: the spec's parameters, typed and checked (`clusterank.registry.typed_params`), defaults filled in.
    """

    workspace: Any
    tables: Sequence
    device: str
    model: Callable[[str], "Embedder"]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbedderBackend(Backend):
    """One registered embedding backend: `build(argument, context: EmbedContext) -> Embedder`, the argument being
    the id itself for a fixed id.

    Attributes:
        catalog_argument: the argument names a catalog and price-table model (`openai:text-embedding-3-small`,
            `precomputed:text-embedding-3-small`); false for a folder or hub id (`st:`) and for fixed ids.
    """

    noun: ClassVar[str] = "model"

    catalog_argument: bool = False

    def declares(self) -> tuple[str, ...]:
        """The set capabilities, as words (`catalog_argument`)."""
        return ("catalog_argument",) if self.catalog_argument else ()


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


PREFIX_CHARS_PER_TOKEN = 8
"""A text longer than this many characters per token of the model's limit is tokenized from a prefix first (see
`certain_prefix_ids`); English runs ~4-5 characters a token, so the first prefix nearly always suffices."""


def certain_tokens(encoding) -> int:
    """How many leading text tokens of `encoding` (an encoded prefix of a longer text) the rest of the text cannot
    change: those of every pre-tokenizer word but the last two (the last may be cut in the middle, and a
    pre-tokenizer's look-ahead reaches one word back). 0 when the tokenizer reports no words."""
    words = [w for w, special in zip(encoding.word_ids, encoding.special_tokens_mask) if not special]
    if not words or any(w is None for w in words):
        return 0
    keep_below = words[-1] - 1
    n = 0
    for w in words:  # non-decreasing in one sequence
        if w >= keep_below:
            break
        n += 1
    return n


def certain_prefix_ids(tokenizer, text: str, need: int, first_chars: int, *,
                       add_special_tokens: bool = True) -> tuple[list[int], int]:
    """The ids of `text`, or of a prefix of it whose first `need` text tokens are exactly the whole text's.

    Normalisation and pre-tokenization work left to right on small pieces (the words), and a word's tokens depend
    on that word alone; so the tokens of every word of a prefix but its last two are the whole text's tokens.
    This encodes `text[:first_chars]`, then 4x, 16x ... as much, until `need` tokens are that certain
    (`certain_tokens`), or the whole text: a 50 MB text costs about what a few thousand characters do, and a text
    that no prefix settles (one giant word, a tokenizer without words) is tokenized whole, as before.

    Returns:
        (ids with special tokens as `add_special_tokens` says, the whole text's token count: exact when the ids are
        the whole text's, else estimated from the prefix's tokens per character -- above `need` either way).
    """
    size = max(int(first_chars), 1)
    while size < len(text):
        encoding = tokenizer.encode(text[:size], add_special_tokens=add_special_tokens)
        if certain_tokens(encoding) >= need:
            return encoding.ids, max(len(encoding.ids), round(len(encoding.ids) * len(text) / size))
        size *= 4
    ids = tokenizer.encode(text, add_special_tokens=add_special_tokens).ids
    return ids, len(ids)


class TokenBatcher:
    """Tokenizes a batch of texts once, into what a transformer needs and what the truncation warning needs.

    Returns padded ids truncated as the model's own tokenizer truncates (the text is cut, its leading and
    trailing special tokens such as [CLS] and [SEP] are kept), each row's length, and each text's full token
    count before truncation. A text longer than `prefix_chars` characters is tokenized only as far as its kept
    tokens are certain (`certain_prefix_ids`): the same ids, so the same vector, at the cost of a short text;
    its count is then estimated from the prefix (still over the limit: the truncation warning and usage are as
    before)
    """

    def __init__(self, tokenizer, max_tokens: int, pad_id: int = 0):
        self._tok = copy.deepcopy(tokenizer)  # a `tokenizers.Tokenizer`; the model's own keeps its settings
        self._tok.no_truncation()
        self._tok.no_padding()
        self._encode = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)  # no offsets: ~2x faster
        self.max_tokens, self.pad_id = max_tokens, pad_id
        special = self._tok.encode("a").special_tokens_mask
        text = [i for i, s in enumerate(special) if not s]
        self.head = text[0] if text else len(special)
        self.tail = len(special) - 1 - text[-1] if text else 0
        self.prefix_chars: int | None = max_tokens * PREFIX_CHARS_PER_TOKEN
        """Texts longer than this are tokenized from a prefix first; None: every text whole."""

    def _rows(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
        """(the ids of each text, its token count): a long text's from a certain prefix (see the class)."""
        texts = list(texts)
        limit = self.prefix_chars
        if limit is None or all(len(t) <= limit for t in texts):
            rows = [e.ids for e in self._encode(texts)]
            return rows, np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        short = [i for i, t in enumerate(texts) if len(t) <= limit]
        rows: list[list[int]] = [[] for _ in texts]
        counts = np.zeros(len(texts), dtype=np.int64)
        for i, e in zip(short, self._encode([texts[i] for i in short])):
            rows[i], counts[i] = e.ids, len(e.ids)
        need = self.max_tokens - self.head - self.tail + 1  # the kept text tokens and one more: truncated as before
        for i, t in enumerate(texts):
            if len(t) > limit:
                rows[i], counts[i] = certain_prefix_ids(self._tok, t, need, limit)
        return rows, counts

    def count(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including special tokens, without truncation."""
        return np.array([len(e.ids) for e in self._encode(list(texts))], dtype=np.int64)

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids int64 (n, width) padded with `pad_id`, lengths (n,), token counts (n,)) of `texts`; a count over
        `max_tokens` may be an estimate for a long text (see the class)."""
        rows, counts = self._rows(texts)
        lens = np.minimum(counts, self.max_tokens)
        ids = np.full((len(rows), int(lens.max()) if len(rows) else 0), self.pad_id, dtype=np.int64)
        keep = self.max_tokens - self.head - self.tail
        for i, row in enumerate(rows):
            if len(row) > self.max_tokens:
                row = row[: self.head + keep] + row[len(row) - self.tail :]
            ids[i, : len(row)] = row
        return ids, lens, counts


def length_sorted_batches(texts: Sequence[str], rows: int) -> list[np.ndarray]:
    """Positions of `texts`, longest first (by characters, before tokenizing), cut into batches of `rows`:
    texts of similar length share a batch, so little of it is padding."""
    order = np.argsort(-np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)), kind="stable")
    return [order[i : i + rows] for i in range(0, len(order), rows)]


def tokenized_ahead(tokenize: Callable, texts: Sequence[str], batches: list[np.ndarray],
                    depth: int = 2) -> Iterator[tuple]:
    """`tokenize([texts of batch])` for each batch in order, computed up to `depth` batches ahead in one
    background thread, so the next batches tokenize while the model runs this one (torch, onnxruntime and
    the tokenizers library all release the GIL)."""
    if len(batches) <= 1:
        yield from (tokenize([texts[i] for i in b]) for b in batches)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="clusterank-tokenize") as pool:
        pending = deque(pool.submit(tokenize, [texts[i] for i in b]) for b in batches[:depth])
        following = iter(batches[depth:])
        try:
            while pending:
                result = pending.popleft().result()
                nxt = next(following, None)
                if nxt is not None:
                    pending.append(pool.submit(tokenize, [texts[i] for i in nxt]))
                yield result
        finally:
            for future in pending:
                future.cancel()


def collect(embedder, texts: Sequence[str], progress: bool) -> np.ndarray:
    """All of `embedder.embed_batches(texts)` as one float32 array in input order, with an optional bar."""
    out = np.empty((len(texts), embedder.dims), dtype=np.float32)
    with tqdm(total=len(texts), desc=embedder.name, unit="text", disable=not progress, leave=False) as bar:
        for batch in embedder.embed_batches(texts):
            out[batch.positions] = batch.vectors
            bar.update(len(batch.positions))
    return out


DEVICES = ("auto", "cpu", "cuda")
"""Where a model runs: `auto` is the CUDA GPU when one is visible, else the CPU."""


def cuda_visible() -> bool:
    """True when torch is installed and sees a CUDA GPU (imports torch: call it only when a device matters)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def check_device(device: str, what: str = "--device") -> str:
    """`device` lower-cased, once it is one of `DEVICES` and, for `cuda`, a GPU is visible.

    `auto` and `cpu` import nothing (a static or API model never needs torch to start).

    Raises:
        ClusterankError: an unknown device, or `cuda` with no CUDA GPU visible (`what` names the option).
    """
    name = str(device).strip().lower()
    if name not in DEVICES:
        raise ClusterankError(f"{what} {device!r}: use one of {', '.join(DEVICES)}")
    if name == "cuda" and not cuda_visible():
        raise ClusterankError(f"{what} cuda: no CUDA GPU is visible (torch.cuda.is_available() is False); "
                              f"use {what} cpu or auto")
    return name


def resolve_device(device: str, what: str = "--device") -> str:
    """`cpu` or `cuda`: `auto` becomes `cuda` when torch sees a GPU, else `cpu` (see `check_device`)."""
    name = check_device(device, what)
    if name == "auto":
        return "cuda" if cuda_visible() else "cpu"
    return name
