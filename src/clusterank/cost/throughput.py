"""Throughput as the cost arithmetic uses it: texts/s measured at one length, scaled to another.

Below both `estimate.py` (which prices a throughput) and `machine.py` (which measures one), so neither
imports the other's module for it. Tokens/s are held constant when the text length changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clusterank.errors import ClusterankError


def check_count(n: float, what: str) -> None:
    """Raise a one-line error unless `n` is a positive finite number.

    Raises:
        ClusterankError: `n` is zero, negative, NaN or infinite.
    """
    if not isinstance(n, (int, float)) or isinstance(n, bool) or not math.isfinite(n) or n <= 0:
        raise ClusterankError(f"{what} must be a positive number, got {n!r}")


def scaled_texts_per_s(texts_per_s: float, reference_tokens: float, tokens_per_text: float) -> float:
    """Throughput at `tokens_per_text`, from one measured at `reference_tokens` (tokens/s held constant)."""
    check_count(tokens_per_text, "tokens per text")
    return texts_per_s * reference_tokens / tokens_per_text


@dataclass(frozen=True)
class Throughput:
    """Texts/s of one model on this machine, on a sample whose mean token count is known."""

    model: str
    texts_per_s: float
    mean_tokens: float
    """Mean tokens per sample text under the model's tokenizer, capped at its token limit (what it processed)."""
    sample: int
    measured_on: str
    machine: str

    @property
    def tokens_per_s(self) -> float:
        """Tokens processed per second."""
        return self.texts_per_s * self.mean_tokens

    def at(self, tokens_per_text: float) -> float:
        """Texts/s at `tokens_per_text` tokens per text (tokens/s held constant)."""
        return scaled_texts_per_s(self.texts_per_s, self.mean_tokens, tokens_per_text)
