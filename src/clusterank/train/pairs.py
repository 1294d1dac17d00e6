"""The pairs a fine-tune trains on: anchors (labelled corpus rows and training queries), a positive of the same
label for each, a hard negative from a confusable label, in batches that never hold two pairs of one label."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from clusterank.data.loaders import Corpus
from clusterank.errors import ClusterankError


def plan_batches(classes: np.ndarray, anchors: Sequence[tuple[str, int, int]], neighbours: np.ndarray | None,
                 steps: int, batch_size: int, seed: int) -> list[list[tuple[tuple[str, int], int, int | None]]]:
    """The whole run's batches, fixed by the seed (so a resumed run continues the same plan).

    Each batch holds at most one pair per class and up to `batch_size` pairs of (anchor, positive row, hard negative
    row or None). Anchors are ("row", i) or ("query", j) with their class; a corpus anchor's positive is another row
    of its class; a hard negative is a row of a confusable class that no other pair of the batch has.
    """
    rng = random.Random(seed)
    members: dict[int, list[int]] = {}
    for row, c in enumerate(classes.tolist()):
        if c >= 0:
            members.setdefault(c, []).append(row)
    batches: list[list] = []
    while len(batches) < steps:
        before = len(batches)
        order = list(anchors)
        rng.shuffle(order)
        pending: list[list] = []
        for kind, index, c in order:
            target = next((b for b in pending if c not in b[0]), None)
            if target is None:
                target = [set(), []]
                pending.append(target)
            target[0].add(c)
            target[1].append((kind, index, c))
            if len(target[1]) == batch_size:
                pending.remove(target)
                batches.append(_pairs(target[1], members, neighbours, rng))
                if len(batches) == steps:
                    return batches
        # an epoch's leftovers (batches not full) still train, largest first
        for _, items in sorted(pending, key=lambda b: -len(b[1])):
            if len(items) >= 2 and len(batches) < steps:
                batches.append(_pairs(items, members, neighbours, rng))
        if len(batches) == before:
            break  # nothing pairs up (cannot happen with two classes of two rows; never loop forever)
    return batches[:steps]


def _pairs(items, members, neighbours, rng) -> list[tuple[tuple[str, int], int, int | None]]:
    taken = {c for _, _, c in items}
    pairs = []
    for kind, index, c in items:
        positive = rng.choice([r for r in members[c] if not (kind == "row" and r == index)])
        negative = None
        if neighbours is not None:
            free = [n for n in neighbours[c].tolist() if n not in taken] or \
                   [n for n in members if n not in taken]
            if free:
                negative = rng.choice(members[rng.choice(free)])
        pairs.append(((kind, index), positive, negative))
    return pairs


def training_anchors(classes: np.ndarray, names: list[str], queries: Corpus | None) -> list[tuple[str, int, int]]:
    """("row", i, class) for every labelled corpus row, then ("query", j, class) for every training query whose
    label is a class.

    Raises:
        ClusterankError: training queries without a label column.
    """
    anchors = [("row", i, int(c)) for i, c in enumerate(classes.tolist()) if c >= 0]
    if queries is not None:
        if queries.labels is None:
            raise ClusterankError(f"--train-queries {queries.source}: no label column; training queries need labels")
        index = {lab: i for i, lab in enumerate(names)}
        anchors += [("query", j, index[str(lab)]) for j, lab in enumerate(queries.labels) if str(lab) in index]
    return anchors
