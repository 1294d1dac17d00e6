"""`adapter`: a low-rank linear map learned from the corpus' labels, so rows of one label move together.

`adapter:alpha=A|auto,rank=R,epochs=E,by=<column>`: W = I + U Vᵀ (rank R) is trained on the corpus vectors by a
supervised contrastive loss (rows sharing a label are positives, every other row of the batch a negative) and
applied to both sides; a row's score is its cosine plus alpha times the cosine of the mapped query and row. It
works on the vectors of any embedder, API models included, and trains in seconds on a CPU. Only corpus rows and
their labels are trained on, never a query; alpha=auto takes the weight `clusterank tune` chose (compare chooses
it by nested cross-validation). The map is kept in the workspace per (model, corpus, labels, settings).
"""

from __future__ import annotations

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.index.base import (NON_NEGATIVE_NUMBER, POSITIVE, Param, Retriever, RetrieverType, SearchContext,
                                   TopK, whole)
from clusterank.index.exact import check_vectors, top_k_with_bonus
from clusterank.index.grouped import AUTO, parse_alpha, resolve_alpha
from clusterank.index.labels import label_classes, labels_digest
from clusterank.index.role import corpus_labels

VERSION = 2
TEMPERATURE = 0.05
BATCH = 512
MIN_STEPS = 100
"""Small corpora still get this many optimiser steps (a few hundred rows are one batch an epoch)."""
UNTUNED_ALPHA = 1.0
"""alpha=auto with nothing tuned: the mapped cosine counts as much as the raw one (fixed in advance, not fitted)."""


def train_adapter(vectors: np.ndarray, classes: np.ndarray, rank: int, epochs: int,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """U and V (dims x rank) of W = I + U Vᵀ, trained by supervised contrastive loss on the rows with a class."""
    import torch

    keep = np.flatnonzero(classes >= 0)
    x = torch.from_numpy(np.ascontiguousarray(vectors[keep], dtype=np.float32))
    y = torch.from_numpy(classes[keep])
    gen = torch.Generator().manual_seed(seed)
    dims = x.shape[1]
    u = torch.nn.Parameter(torch.randn(dims, rank, generator=gen) * 0.01)
    v = torch.nn.Parameter(torch.zeros(dims, rank))
    optimiser = torch.optim.Adam([u, v], lr=1e-2)
    batches = max(1, -(-len(x) // BATCH))
    for step in range(max(epochs * batches, MIN_STEPS)):
        if step % batches == 0:
            order = torch.randperm(len(x), generator=gen)
        idx = order[(step % batches) * BATCH : (step % batches + 1) * BATCH]
        if len(idx) >= 2:
            z = torch.nn.functional.normalize(x[idx] + (x[idx] @ u) @ v.T, dim=1)
            logits = z @ z.T / TEMPERATURE
            eye = torch.eye(len(idx), dtype=torch.bool)
            logits = logits.masked_fill(eye, -1e9)
            positive = (y[idx][:, None] == y[idx][None, :]) & ~eye
            has = positive.any(dim=1)
            if not has.any():
                continue
            log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
            loss = -(log_p * positive).sum(dim=1)[has] / positive.sum(dim=1)[has]
            optimiser.zero_grad()
            loss.mean().backward()
            optimiser.step()
    return {"u": u.detach().numpy().astype(np.float32), "v": v.detach().numpy().astype(np.float32)}


class AdapterIndex(Retriever):
    """Score = cos(q, row) + alpha * cos(W q, W row); `scores` stay the rows' cosines."""

    def __init__(self, vectors: np.ndarray, weights: dict[str, np.ndarray], alpha: float):
        self.vectors = check_vectors(vectors, what="corpus vectors")
        self.u, self.v, self.alpha = weights["u"], weights["v"], float(alpha)
        if self.u.shape[0] != self.vectors.shape[1]:
            raise ClusterankError(f"adapter: a stored map for {self.u.shape[0]} dims does not fit vectors of "
                                  f"{self.vectors.shape[1]}")
        self.mapped = self.map(self.vectors)

    def map(self, x: np.ndarray) -> np.ndarray:
        """W x, L2-normalised."""
        out = x + (x @ self.u) @ self.v.T
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    @property
    def memory_bytes(self) -> int:
        """The mapped corpus vectors and the map."""
        return int(self.mapped.nbytes + self.u.nbytes + self.v.nbytes)

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k rows with the highest combined score per query."""
        return top_k_with_bonus(self.vectors, query_vectors, k, lambda q: self.alpha * (self.map(q) @ self.mapped.T))


def _build(context: SearchContext, alpha: float | str, rank: int, epochs: int, by: str | None) -> AdapterIndex:
    weight = resolve_alpha(alpha, "adapter", context, UNTUNED_ALPHA)
    labels = corpus_labels(context, "adapter", by)
    classes, _ = label_classes(labels, 2, "adapter")
    weights = context.fit_once(f"adapter-v{VERSION}-{labels_digest([by, rank, epochs, *labels])}",
                               lambda: train_adapter(context.vectors, classes, min(rank, context.vectors.shape[1]),
                                                     epochs))
    return AdapterIndex(context.vectors, weights, weight)


RETRIEVER = RetrieverType(
    "adapter", "cosine + alpha x cosine after a low-rank map trained on the corpus' labels (supervised contrastive)",
    _build, {"alpha": Param(parse_alpha, AUTO, "weight of the mapped cosine, >= 0, or auto (tuned)",
                            NON_NEGATIVE_NUMBER),
             "rank": Param(whole, 64, "rank of the learned residual map", POSITIVE),
             "epochs": Param(whole, 5, "passes over the labelled corpus rows", POSITIVE),
             "by": Param(str, None, "the corpus column whose values are the labels (default: the labels)")},
    tunable=("alpha",), needs_labels=True, needs=("torch",), examples=("adapter:rank=8,epochs=2",),
    ranks_by_cosine=False)
