"""What the label-learning parts share: rows as class numbers, a digest of what was trained on, and which labels
are confusable (their centroids lie close), the source of hard negatives for `adapter` and `clusterank finetune`."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from clusterank.data.corpus import Corpus
from clusterank.embed.store import text_hash
from clusterank.errors import ClusterankError


def label_classes(labels: Sequence[str | None], min_size: int, who: str = "prior") -> tuple[np.ndarray, list[str]]:
    """The class of each row (-1: no label, or a label with fewer than `min_size` rows) and the class names.

    Args:
        labels: each row's label (None or blank: untagged).
        min_size: the rows a label needs to become a class.
        who: what is learning, for the error message (`prior`, `adapter`, `finetune`).

    Raises:
        ClusterankError: fewer than two labels with `min_size` rows (nothing to learn), naming how many rows a label
            needs.
    """
    clean = [None if lab is None or not str(lab).strip() else str(lab) for lab in labels]
    counts = Counter(lab for lab in clean if lab is not None)
    names = sorted(lab for lab, n in counts.items() if n >= min_size)
    if len(names) < 2:
        raise ClusterankError(f"{who} needs at least two labels with {min_size} or more rows each to learn from; the "
                              f"corpus has {len(names)} ({len(counts)} labels in all, the largest with "
                              f"{max(counts.values(), default=0)} rows); add labelled profiles"
                              + (" or lower min_size" if who == "prior" else ""))
    index = {lab: i for i, lab in enumerate(names)}
    return np.array([index.get(lab, -1) if lab is not None else -1 for lab in clean], np.int64), names


def labels_digest(values: Sequence) -> str:
    """A short digest of the labels and settings a trained retriever was fitted on: part of its stored key."""
    return hashlib.blake2b("\x1f".join("" if v is None else str(v) for v in values).encode(),
                           digest_size=6).hexdigest()


def confusable_labels(vectors: np.ndarray, classes: np.ndarray, top: int = 3) -> np.ndarray:
    """(n_classes, top): for each class, the `top` other classes whose centroids are nearest to its own (cosine),
    nearest first; where fewer classes exist, the row repeats its nearest ones.

    Args:
        vectors: (n, dims) L2-normalised row vectors.
        classes: each row's class (-1: none), as `label_classes` gives.
        top: how many confusable classes per class.
    """
    n_classes = int(classes.max()) + 1
    keep = classes >= 0
    sums = np.zeros((n_classes, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, classes[keep], vectors[keep])
    centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    sims = centroids @ centroids.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :max(1, n_classes - 1)]
    return np.resize(order, (n_classes, top)) if order.shape[1] < top else order[:, :top]


def training_examples(queries: Corpus, embed: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, list[str], str]:
    """Labelled training queries as `SearchContext.examples`: (vectors of the labelled ones, their labels, a digest
    of their texts and labels for the learners' stored keys).

    Raises:
        ClusterankError: the queries have no label column.
    """
    if queries.labels is None:
        raise ClusterankError(f"training queries {queries.source}: no label column; they need labels to train on")
    keep = [i for i, lab in enumerate(queries.labels) if lab is not None and str(lab).strip()]
    labels = [str(queries.labels[i]) for i in keep]
    digest = labels_digest([*(text_hash(queries.texts[i]).hex() for i in keep), *labels])
    return embed([queries.texts[i] for i in keep]), labels, digest
