"""`adapter`: a low-rank map trained on the corpus' labels (supervised contrastive) pulls rows of a label together."""

import numpy as np
import pytest

from clusterank.index import SearchContext, build_retriever
from clusterank.index.adapter import train_adapter

pytest.importorskip("torch")


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def confusable():
    rng = np.random.default_rng(5)
    n, d = 400, 24
    labels = np.array(["pmm", "pm"] * (n // 2))
    x = rng.standard_normal((n, d)) * 1.0
    x[:, 0] += np.where(labels == "pmm", 0.35, -0.35)
    q = np.zeros((1, d))
    q[0, 0] = 1.0
    return unit(x), list(labels), unit(q + 0.5 * rng.standard_normal((1, d)))


def test_the_map_separates_the_labels_and_lifts_the_asked_for_one(confusable):
    x, labels, q = confusable
    share = lambda rows: np.mean([labels[r] == "pmm" for r in rows])  # noqa: E731
    exact = build_retriever("exact", SearchContext(x)).search(q, 30).rows[0]
    adapted = build_retriever("adapter:alpha=2,rank=4,epochs=5", SearchContext(x, labels=labels)).search(q, 30).rows[0]
    assert share(adapted) > share(exact)
    same = build_retriever("adapter:alpha=0,rank=4,epochs=1", SearchContext(x, labels=labels)).search(q, 30).rows[0]
    assert np.array_equal(same, exact), "alpha=0 is exact search"


def test_training_is_deterministic_and_only_reads_labelled_rows(confusable):
    x, labels, _ = confusable
    classes = np.array([0 if lab == "pmm" else 1 for lab in labels])
    a, b = train_adapter(x, classes, 4, 2, seed=3), train_adapter(x, classes, 4, 2, seed=3)
    assert np.array_equal(a["u"], b["u"]) and a["u"].shape == (24, 4) and a["v"].shape == (24, 4)
    classes[::2] = -1  # unlabelled rows are not trained on, and the map still applies to them
    c = train_adapter(x, classes, 4, 2, seed=3)
    assert not np.array_equal(a["v"], c["v"])


def test_a_hard_batch_groups_each_class_with_its_confusable_classes():
    from clusterank.index.adapter import PER_CLASS, hard_batch
    from clusterank.index.labels import confusable_labels

    rng = np.random.default_rng(0)
    families = np.repeat(np.arange(10), 4)  # 40 classes in 10 families of 4 close ones
    centres = rng.standard_normal((10, 32))[families] * 3 + rng.standard_normal((40, 32))
    classes = np.repeat(np.arange(40), 20)
    x = unit(centres[classes] + 0.1 * rng.standard_normal((800, 32)))
    neighbours = confusable_labels(x, classes, top=3)
    assert all(set(families[neighbours[c]]) == {families[c]} for c in range(40))  # the family is what confuses
    members = [np.flatnonzero(classes == c) for c in range(40)]
    batch = hard_batch(classes, members, neighbours, 128, np.random.default_rng(1))
    counts = np.bincount(classes[batch], minlength=40)
    assert len(batch) == 128 == len(set(batch.tolist())) and counts.max() <= PER_CLASS
    present = np.flatnonzero(counts)
    assert len(present) == 8  # two whole families, not eight random classes
    assert len(set(families[present])) == 2


def test_hard_batches_train_too():
    rng = np.random.default_rng(0)
    families = np.repeat(np.arange(10), 4)  # 40 labels; a query asks for one, its family's 3 others confuse it
    centres = rng.standard_normal((10, 32))[families] * 3 + rng.standard_normal((40, 32))
    classes = np.repeat(np.arange(40), 20)
    x = unit(centres[classes] + 2.0 * rng.standard_normal((800, 32)))
    q = unit(centres + 2.0 * rng.standard_normal((40, 32)))
    labels = [f"label {c}" for c in classes]

    def share(spec: str) -> float:
        rows = build_retriever(spec, SearchContext(x, labels=labels)).search(q, 20).rows
        return float(np.mean([[classes[r] == i for r in rows[i]] for i in range(40)]))

    assert share("adapter:alpha=2,rank=8,epochs=5,hard=true") > share("exact") + 0.015
