"""`prior`: learn from the corpus' labels which roles a job description asks for, and lift their rows.

`prior:alpha=A|auto,by=<column>,c=C,min_size=N`: a multinomial logistic regression is trained on the corpus
vectors to predict each row's label (or its `by` column); a row's score is its cosine plus alpha times
log(L x p(label of the row | query)), L being the number of labels, so a label the classifier finds as likely as
chance adds nothing, a likelier one lifts its rows and an unlikely one lowers them. Rows without a label, or whose
label has fewer than `min_size` rows, are given the classifier's most likely label for them. (With no bonus at all,
untagged rows sank below every tagged one; with one `(other)` class for them, a partly tagged role lost its
untagged rows; with the expected probability sum_l p(l | row) p(l | query) they still sank, two spread
distributions meeting less than one: see `evaluate/holdout.py`.) Only corpus rows and their labels are trained on,
never a query (`c=auto` chooses the classifier's regularisation by cross-validation over corpus rows); alpha=auto
takes the weight `clusterank tune` chose by cross-validation over queries (and `compare` chooses it by nested
cross-validation). The classifier is trained once per (model, corpus, labels, c) and kept in the
workspace as plain arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clusterank.data.bounds import Bound
from clusterank.errors import ClusterankError
from clusterank.index.base import (NON_NEGATIVE_NUMBER, POSITIVE, Param, Retriever, RetrieverType, SearchContext, TopK,
                                   number, whole)
from clusterank.index.exact import check_vectors, top_k_with_bonus
from clusterank.index.labels import label_classes, labels_digest
from clusterank.index.grouped import AUTO, parse_alpha, resolve_alpha
from clusterank.index.role import corpus_labels

FLOOR = 1e-6
"""The smallest probability a label is given (log 1e-6 = -13.8): one confident classifier cannot bury a row."""


UNTUNED_ALPHA = 0.05
"""alpha=auto with nothing tuned: fixed in advance from the scales, not fitted on any query. The bonus is a
log-probability (a range of ~15 over the labels) while the cosines of a top 10 spread over ~0.1-0.3: at 0.05 a
label e times likelier than another moves its rows by 0.05 in cosine, a tie-breaker that can overturn near ties
without sorting by label first. `clusterank tune` (and compare's nested CV) choose it from the queries instead."""
VERSION = 4
"""Part of the stored classifier's key: raised when training changes, so weights of an older version are not reused
(version 1 stopped lbfgs after one step; version 3 had an (other) class for untagged rows)."""
C_GRID = (1.0, 10.0, 100.0)
"""Inverse regularisations `c=auto` tries."""
C_FOLDS = 3


def log_probabilities(vectors: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """(n, n_labels): log p(label | vector) of a multinomial logistic regression, floored at log `FLOOR`."""
    logits = vectors @ coef.T + intercept
    logits -= logits.max(axis=1, keepdims=True)
    return np.maximum(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)), np.log(FLOOR))


def _fit(vectors: np.ndarray, classes: np.ndarray, c: float, n_classes: int, seed: int) -> np.ndarray:
    """(coef | intercept) of a multinomial logistic regression, one row per class of 0..n_classes-1 (a class
    missing from `classes` gets a row that never wins)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(vectors, classes)
    weights = np.zeros((n_classes, vectors.shape[1] + 1), np.float32)
    weights[:, -1] = -1e4
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # sklearn keeps one row for two classes: softmax over (0, w.x + b) is the same
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weights[model.classes_, :-1] = coef
    weights[model.classes_, -1] = intercept
    return weights


def choose_c(vectors: np.ndarray, classes: np.ndarray, n_classes: int, seed: int = 0) -> tuple[float, list[float]]:
    """The `C_GRID` value with the best held-out log-likelihood of the rows' own labels, by `C_FOLDS`-fold
    cross-validation over corpus rows (never a query), and the mean log-likelihood of each."""
    fold = np.random.default_rng(seed).permutation(len(vectors)) % C_FOLDS
    means = []
    for c in C_GRID:
        held = []
        for f in range(C_FOLDS):
            train, test = fold != f, fold == f
            weights = _fit(vectors[train], classes[train], c, n_classes, seed)
            log_p = log_probabilities(vectors[test], weights[:, :-1], weights[:, -1])
            held.append(log_p[np.arange(int(test.sum())), classes[test]])
        means.append(float(np.concatenate(held).mean()))
    return C_GRID[int(np.argmax(means))], means


def train_prior(vectors: np.ndarray, classes: np.ndarray, n_classes: int, c: float | str,
                seed: int = 0) -> dict[str, np.ndarray]:
    """A multinomial logistic regression from vectors to classes (rows of class -1 left out): its `coef`
    (n_classes, dims), `intercept` (n_classes,) and the `c` used (`auto`: chosen by `choose_c`)."""
    keep = classes >= 0
    x, y = vectors[keep], classes[keep]
    chosen = choose_c(x, y, n_classes, seed)[0] if c == AUTO else float(c)
    weights = _fit(x, y, chosen, n_classes, seed)
    return {"coef": weights[:, :-1], "intercept": weights[:, -1], "c": np.array(chosen)}


def parse_c(text: str) -> float | str:
    """`auto` or a finite number > 0."""
    if str(text).strip().lower() == AUTO:
        return AUTO
    return number(text)


class PriorIndex(Retriever):
    """Score = cos(q, row) + alpha * log(L * P(row and q share a label)); `scores` stay the rows' cosines.

    For a labelled row that probability is p(row's label | q); for an untagged row (or one of a label under
    `min_size`) the classifier's most likely label for the row stands in for the missing one, so untagged rows
    compete on the same scale as tagged ones.
    """

    def __init__(self, vectors: np.ndarray, classes: np.ndarray, names: list[str], weights: dict[str, np.ndarray],
                 alpha: float):
        self.vectors = check_vectors(vectors, what="corpus vectors")
        self.classes, self.names, self.alpha = np.asarray(classes, np.int64), names, float(alpha)
        self.coef, self.intercept = weights["coef"], weights["intercept"]
        if self.coef.shape != (len(names), self.vectors.shape[1]):
            raise ClusterankError(f"prior: a stored classifier of shape {self.coef.shape} does not fit "
                                  f"{len(names)} labels x {self.vectors.shape[1]} dims; delete the workspace's "
                                  "clusters folder for this model to retrain it")
        untagged = self.classes < 0
        self.row_labels = self.classes.copy()
        """The label each row is scored by: its own, or for an untagged row the classifier's likeliest."""
        if untagged.any():
            self.row_labels[untagged] = np.argmax(self.probabilities(self.vectors[untagged]), axis=1)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, n_labels): p(label | vector) from the classifier (floored at `FLOOR`)."""
        return np.exp(log_probabilities(vectors, self.coef, self.intercept))

    def group_scores(self, query_vectors: np.ndarray) -> np.ndarray:
        """(n_queries, n_labels): log(L * p(label | query)), probabilities floored at `FLOOR`."""
        return log_probabilities(query_vectors, self.coef, self.intercept) + np.log(len(self.names))

    def bonus(self, query_vectors: np.ndarray) -> np.ndarray:
        """(n_queries, n_rows): log(L * P(row and query share a label)): each row's `row_labels` column of
        `group_scores`."""
        return self.group_scores(query_vectors)[:, self.row_labels]

    def bonus_of(self, query_vectors: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """(n_queries, len(rows)): alpha x `bonus` of those rows, what `search` adds to their cosines."""
        q = check_vectors(query_vectors, self.vectors.shape[1], what="query vectors")
        labels = self.row_labels[np.asarray(rows, np.int64)]
        return self.alpha * np.asarray(self.group_scores(q), np.float64)[:, labels]

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k rows with the highest combined score per query."""
        return top_k_with_bonus(self.vectors, query_vectors, k, lambda q: self.alpha * self.bonus(q))


def _build(context: SearchContext, alpha: float | str, c: float, min_size: int, by: str | None) -> PriorIndex:
    weight = resolve_alpha(alpha, "prior", context, UNTUNED_ALPHA)
    labels = corpus_labels(context, "prior", by)
    vectors, train_labels, examples = context.training_rows(labels, by)
    classes, names = label_classes(train_labels, min_size)
    key = f"prior-v{VERSION}-{labels_digest([by, c, min_size, examples, *labels])}"
    weights = context.fit_once(key, lambda: train_prior(vectors, classes, len(names), c))
    return PriorIndex(context.vectors, classes[:len(context.vectors)], names, weights, weight)


RETRIEVER = RetrieverType(
    "prior", "cosine + alpha x log(L x p(row's label | query)) from a classifier trained on the corpus' labels",
    _build, {"alpha": Param(parse_alpha, AUTO, "weight of the label prior, >= 0, or auto (tuned)",
                            NON_NEGATIVE_NUMBER),
             "c": Param(parse_c, AUTO, "inverse regularisation of the classifier, or auto (3-fold CV over corpus "
                        "rows)", Bound(1e-4, 1e6, whole=False)),
             "min_size": Param(whole, 2, "rows a label needs to be learned (rarer labels' rows take the "
                               "likeliest learned label)",
                               POSITIVE),
             "by": Param(str, None, "the corpus column whose values are the labels (default: the labels)")},
    tunable=("alpha",), needs_labels=True, needs=("sklearn",), examples=("prior", "prior:alpha=0.05,c=1"),
    ranks_by_cosine=False)
