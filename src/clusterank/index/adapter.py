"""`adapter`: a low-rank linear map learned from the corpus' labels, so rows of one label move together.

`adapter:alpha=A|auto,rank=R,epochs=E,by=<column>`: W = I + U Vᵀ (rank R) is trained on the corpus vectors by a
supervised contrastive loss (rows sharing a label are positives, every other row of the batch a negative) and
applied to both sides; a row's score is its cosine plus alpha times the cosine of the mapped query and row. It
works on the vectors of any embedder, API models included, and trains in seconds on a CPU. Only corpus rows and
their labels are trained on, never a query; alpha=auto takes the weight `clusterank tune` chose (compare chooses
it by nested cross-validation). The map is kept in the workspace per (model, corpus, labels, settings).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.index.base import (NON_NEGATIVE_NUMBER, POSITIVE, Param, Retriever, RetrieverType, SearchContext,
                                   TopK, boolean, whole)
from clusterank.index.exact import check_vectors, top_k_with_bonus
from clusterank.index.grouped import AUTO, parse_alpha, resolve_alpha
from clusterank.index.labels import confusable_labels, label_classes, labels_digest
from clusterank.index.role import corpus_labels

VERSION = 3
TEMPERATURE = 0.05
BATCH = 512
PER_CLASS = 16
"""Rows of one class in a hard batch."""
HARD_NEIGHBOURS = 3
"""Confusable classes that join a class in a hard batch."""
MIN_STEPS = 100
"""Small corpora still get this many optimiser steps (a few hundred rows are one batch an epoch)."""
UNTUNED_ALPHA = 1.0
"""alpha=auto with nothing tuned: the mapped cosine counts as much as the raw one (fixed in advance, not fitted)."""


def hard_batch(classes: np.ndarray, members: list[np.ndarray], neighbours: np.ndarray, size: int,
               rng: np.random.Generator) -> np.ndarray:
    """Row positions of one batch made of groups of confusable classes: a random class, its confusable classes,
    then another random class and its, ..., up to `PER_CLASS` rows of each, until `size` rows; so the negatives
    a row meets are mostly the labels it is confused with, not random ones."""
    rows: list[np.ndarray] = []
    taken: set[int] = set()
    total = 0
    for seed_class in rng.permutation(len(members)):
        for c in (int(seed_class), *neighbours[seed_class].tolist()):
            if c in taken or total >= size:
                continue
            taken.add(c)
            picked = rng.permutation(members[c])[:PER_CLASS]
            rows.append(picked)
            total += len(picked)
        if total >= size:
            break
    return np.concatenate(rows)[:size]


def train_adapter(vectors: np.ndarray, classes: np.ndarray, rank: int, epochs: int, seed: int = 0,
                  hard: bool = False) -> dict[str, np.ndarray]:
    """U and V (dims x rank) of W = I + U Vᵀ, trained by supervised contrastive loss on the rows with a class.

    `hard`: batches are groups of confusable classes (`hard_batch`) instead of random rows."""
    import torch

    keep = np.flatnonzero(classes >= 0)
    x = torch.from_numpy(np.ascontiguousarray(vectors[keep], dtype=np.float32))
    y = torch.from_numpy(classes[keep])
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    if hard:
        members = [np.flatnonzero(classes[keep] == c) for c in range(int(classes.max()) + 1)]
        neighbours = confusable_labels(vectors[keep], classes[keep], top=HARD_NEIGHBOURS)
    dims = x.shape[1]
    u = torch.nn.Parameter(torch.randn(dims, rank, generator=gen) * 0.01)
    v = torch.nn.Parameter(torch.zeros(dims, rank))
    optimiser = torch.optim.Adam([u, v], lr=1e-2)
    batches = max(1, -(-len(x) // BATCH))
    step, seen = 0, 0
    while step < MIN_STEPS or seen < epochs * len(x):  # hard batches can be smaller: count rows, not steps
        if step % batches == 0:
            order = torch.randperm(len(x), generator=gen)
        idx = (torch.from_numpy(hard_batch(classes, members, neighbours, BATCH, rng)) if hard else
               order[(step % batches) * BATCH : (step % batches + 1) * BATCH])
        step, seen = step + 1, seen + len(idx)
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

    def bonus_of(self, query_vectors: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """(n_queries, len(rows)): alpha x the cosine of the mapped query and the mapped rows, what `search` adds to
        their cosines."""
        q = check_vectors(query_vectors, self.vectors.shape[1], what="query vectors")
        mapped = self.mapped[np.asarray(rows, np.int64)]
        return self.alpha * np.asarray(self.map(q) @ mapped.T, np.float64)

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k rows with the highest combined score per query."""
        return top_k_with_bonus(self.vectors, query_vectors, k, lambda q: self.alpha * (self.map(q) @ self.mapped.T))


def _build(context: SearchContext, alpha: float | str, rank: int, epochs: int, by: str | None,
           hard: bool) -> AdapterIndex:
    weight = resolve_alpha(alpha, "adapter", context, UNTUNED_ALPHA)
    labels = corpus_labels(context, "adapter", by)
    vectors, train_labels, examples = context.training_rows(labels, by)
    classes, _ = label_classes(train_labels, 2, "adapter")
    weights = context.fit_once(f"adapter-v{VERSION}-{labels_digest([by, rank, epochs, hard, examples, *labels])}",
                               lambda: train_adapter(vectors, classes, min(rank, vectors.shape[1]), epochs,
                                                     hard=hard))
    return AdapterIndex(context.vectors, weights, weight)


RETRIEVER = RetrieverType(
    "adapter", "cosine + alpha x cosine after a low-rank map trained on the corpus' labels (supervised contrastive)",
    _build, {"alpha": Param(parse_alpha, AUTO, "weight of the mapped cosine, >= 0, or auto (tuned)",
                            NON_NEGATIVE_NUMBER),
             "rank": Param(whole, 64, "rank of the learned residual map", POSITIVE),
             "epochs": Param(whole, 5, "passes over the labelled corpus rows", POSITIVE),
             "by": Param(str, None, "the corpus column whose values are the labels (default: the labels)"),
             "hard": Param(boolean, False, "batches of confusable labels (hard negatives) instead of random rows")},
    tunable=("alpha",), needs_labels=True, needs=("torch",), examples=("adapter:rank=8,epochs=2",
                                                                      "adapter:rank=8,epochs=2,hard=true"),
    ranks_by_cosine=False)
