"""Warnings for texts cut at a model's token limit, and the tally that gathers them into one line per block.

The open `truncation_summary` blocks live in a context variable, so each thread (and each asyncio task) has its
own: two requests the server embeds at once, or two jobs in one process, never count into each other's block.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

log = logging.getLogger("clusterank.embed")

_OPEN: ContextVar[tuple[dict, ...]] = ContextVar("clusterank_truncation_tallies", default=())
"""The `truncation_summary` blocks open in this context, innermost last (a tuple, replaced rather than changed, so
a copied context never sees blocks opened after the copy)."""


def warn_truncated(model: str, token_counts: Sequence[int] | np.ndarray, max_tokens: int) -> int:
    """Count the texts over the model's token limit; returns that number.

    Inside `truncation_summary` the counts add up into its one warning; outside, one warning per call. Only blocks
    opened in this thread or task count: a thread started inside a block counts into it only when it runs in a
    copy of the block's context (`contextvars.copy_context().run`).
    """
    counts = np.asarray(token_counts)
    over = int((counts > max_tokens).sum())
    tallies = _OPEN.get()
    if tallies:
        tally = tallies[-1]
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
    up the tokens of the blocks inside it (the server reports them as usage without tokenizing twice). A block
    counts only what is embedded in its own thread or task (see `warn_truncated`)."""
    tally = {"over": 0, "total": 0, "longest": 0, "limit": 0, "model": "", "tokens": 0}
    _OPEN.set(_OPEN.get() + (tally,))
    try:
        yield tally
    finally:
        rest = tuple(t for t in _OPEN.get() if t is not tally)
        _OPEN.set(rest)
        if rest:
            rest[-1]["tokens"] += tally["tokens"]
        if tally["over"] and not quiet:
            log.warning("%s: %d of %d %s are longer than its %d-token limit and were truncated (longest: %d tokens)",
                        tally["model"], tally["over"], tally["total"], what, tally["limit"], tally["longest"])
