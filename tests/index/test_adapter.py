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
