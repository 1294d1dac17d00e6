"""`prior`: a classifier trained on the corpus' labels lifts the rows of the labels a query asks for."""

import numpy as np
import pytest

from clusterank import ClusterankError
from clusterank.index import SearchContext, build_retriever
from clusterank.index.labels import label_classes
from clusterank.index.prior import choose_c, train_prior


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def confusable():
    """Two labels whose rows are mixed by cosine near the query: the classifier tells them apart along one
    direction the raw cosine barely weighs."""
    rng = np.random.default_rng(3)
    n, d = 400, 24
    base = rng.standard_normal(d)
    labels = np.array(["pmm", "pm"] * (n // 2))
    side = np.where(labels == "pmm", 1.0, -1.0)[:, None]
    x = base + 1.2 * rng.standard_normal((n, d))
    x[:, 0] += 0.8 * side[:, 0]
    return unit(x), list(labels), unit((base + np.eye(d)[0] * 0.8)[None, :])


def test_the_prior_lifts_the_asked_for_label(confusable):
    x, labels, q = confusable
    exact = build_retriever("exact", SearchContext(x)).search(q, 20).rows[0]
    prior = build_retriever("prior:alpha=0.05,c=10", SearchContext(x, labels=labels)).search(q, 20).rows[0]
    share = lambda rows: np.mean([labels[r] == "pmm" for r in rows])  # noqa: E731
    assert share(prior) > share(exact) and share(prior) >= 0.9
    same = build_retriever("prior:alpha=0", SearchContext(x, labels=labels)).search(q, 20).rows[0]
    assert np.array_equal(same, exact), "alpha=0 is exact search"


def test_untagged_and_rare_rows_take_the_classifiers_likeliest_label(confusable):
    x, labels, q = confusable
    some = [lab if i % 5 else None for i, lab in enumerate(labels)]
    some[1] = "once"  # a label with one row: below min_size, kept out of the classifier
    classes, names = label_classes(some, 2)
    assert names == ["pm", "pmm"] and classes[0] == -1 and classes[1] == -1
    retriever = build_retriever("prior:alpha=1,c=10", SearchContext(x, labels=some))
    bonus = retriever.bonus(q)
    p = retriever.probabilities(q)[0]
    guess = np.argmax(retriever.probabilities(x[:2]), axis=1)
    assert np.allclose(bonus[0, :2], np.log(2 * p[guess]), atol=1e-5), "untagged: p(the row's likeliest label | q)"
    assert np.isclose(bonus[0, 2], np.log(2 * p[names.index(some[2])]), atol=1e-5), "tagged: p(its label|q)"
    # an untagged row of the asked-for label is not buried under the tagged ones
    tagged_pmm = [i for i, lab in enumerate(some) if lab == "pmm"]
    untagged_pmm = [i for i in range(0, len(labels), 5) if labels[i] == "pmm"]
    assert np.median(bonus[0, untagged_pmm]) > np.median(bonus[0, [i for i, lab in enumerate(some) if lab == "pm"]])
    assert np.median(bonus[0, untagged_pmm]) > np.median(bonus[0, tagged_pmm]) - 1.0


def test_c_auto_is_chosen_on_corpus_rows_and_stored_weights_are_reused(confusable):
    x, labels, _ = confusable
    classes, names = label_classes(labels, 2)
    c, means = choose_c(x, classes, len(names))
    assert c in (1.0, 10.0, 100.0) and len(means) == 3 and all(m <= 0 for m in means)
    calls = []
    stored = {}

    def fitted(key, fit):
        calls.append(key)
        if key not in stored:
            stored[key] = fit()
        return stored[key]

    context = SearchContext(x, labels=labels, fitted=fitted)
    build_retriever("prior:alpha=0.1", context)
    build_retriever("prior:alpha=0.3", context)
    assert len(calls) == 2 and len(set(calls)) == 1 and len(stored) == 1, "one classifier for any alpha"
    assert float(next(iter(stored.values()))["c"]) == c
    build_retriever("prior:alpha=0.1", SearchContext(x, labels=labels[::-1], fitted=fitted))
    assert len(stored) == 2, "other labels: another classifier"


@pytest.mark.parametrize("labels, message", [
    (["a"] * 10, "at least two labels with 2 or more rows"),
    (["a", "b", "c", "d"] + [None] * 6, "at least two labels with 2 or more rows"),
])
def test_too_little_to_learn_from_is_one_clear_error(labels, message):
    x = unit(np.random.default_rng(0).standard_normal((10, 8)))
    with pytest.raises(ClusterankError, match=message):
        build_retriever("prior", SearchContext(x, labels=labels))


def test_weights_match_sklearn_probabilities(confusable):
    from sklearn.linear_model import LogisticRegression

    x, labels, q = confusable
    classes, names = label_classes(labels, 2)
    weights = train_prior(x, classes, len(names), 10.0)
    model = LogisticRegression(C=10.0, max_iter=1000, random_state=0).fit(x, classes)
    retriever = build_retriever("prior:c=10,alpha=1", SearchContext(x, labels=labels))
    assert np.allclose(retriever.group_scores(q), np.log(2 * model.predict_proba(q)), atol=1e-4)
    assert np.allclose(retriever.probabilities(q), model.predict_proba(q), atol=1e-4)
    assert weights["coef"].shape == (2, x.shape[1])
