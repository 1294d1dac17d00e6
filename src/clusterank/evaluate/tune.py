"""Honest tuning: choose a retriever's weight (alpha of `soft` and `role`) by k-fold cross-validation over
labelled queries, so that no query is ever scored with a value chosen on it.

`tune` picks the value for later searches (chosen on all queries, its quality estimated on held-out folds)
and `save_tuning` stores it beside the clusters, where `alpha=auto` finds it. `cross_validated_rows` is
what `compare` uses: each query's results come from the value chosen on the other folds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clusterank.data.bounds import check_seed
from clusterank.errors import ClusterankError
from clusterank.embed.base import Embedder
from clusterank.embed.fusion import weight_grid
from clusterank.evaluate.metrics import ndcg_at_k
from clusterank.evaluate.relevance import Relevance
from clusterank.evaluate.stats import Estimate, bootstrap_ci
from clusterank.index import canonical_spec, parse_spec, tunable_kinds
from clusterank.index.grouped import load_tuned
from clusterank.pipeline import SearchPipeline
from clusterank.workspace import atomic_path

ALPHAS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)
"""The grid of weights tried (0 is exact search's order). It reaches down to 0.01 for `prior`, whose bonus is a
log-probability (a range of ~15, against cosines that differ by ~0.1), and up to 50, where a group bonus all but
sorts by group first."""
log = logging.getLogger("clusterank.evaluate")

DEFAULT_FOLDS = 5
DEPTH = 50


def is_tuned(spec: str) -> bool:
    """True for a spec whose alpha is chosen by cross-validation (`role`, `soft:alpha=auto`)."""
    parsed = parse_spec(spec)
    return parsed.name in tunable_kinds() and dict(parsed.params).get("alpha", "auto").lower() == "auto"


def check_tunable(spec: str) -> str:
    """The canonical spec if it has an alpha to tune; else one line saying what can be tuned."""
    canonical = canonical_spec(spec)
    if parse_spec(canonical).name not in tunable_kinds():
        raise ClusterankError(f"nothing to tune in {spec!r}: tune chooses alpha of {', '.join(tunable_kinds())}")
    return canonical


def with_alpha(spec: str, alpha: float) -> str:
    """The spec with its alpha set to a number (its other parameters kept)."""
    parsed = parse_spec(spec)
    params = [(k, v) for k, v in parsed.params if k != "alpha"] + [("alpha", f"{alpha:g}")]
    return f"{parsed.name}:" + ",".join(f"{k}={v}" for k, v in params)


def fold_of(n_queries: int, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0..folds-1) of each query: a fixed random split, as even as possible.

    Raises:
        ClusterankError: fewer queries than folds, fewer than 2 folds, or a seed beyond 32 bits.
    """
    if folds < 2:
        raise ClusterankError(f"cross-validation needs at least 2 folds, got {folds}")
    if n_queries < folds:
        raise ClusterankError(f"cross-validation with {folds} folds needs at least {folds} labelled queries; "
                              f"there are {n_queries}")
    order = np.random.default_rng(check_seed(seed)).permutation(n_queries)
    out = np.empty(n_queries, np.int64)
    out[order] = np.arange(n_queries) % folds
    return out


def grid_rows(pipe: SearchPipeline, query_vectors: np.ndarray, spec: str,
              alphas: Sequence[float] = ALPHAS, depth: int = DEPTH) -> np.ndarray:
    """(n_alphas, n_queries, depth) retrieved rows for every weight of the grid."""
    depth = min(depth, len(pipe.corpus))
    return np.stack([pipe.retriever(with_alpha(spec, a)).search(query_vectors, depth).rows for a in alphas])


def fusion_is_tuned(pipe: SearchPipeline) -> bool:
    """True when the pipeline's model is fused (`fusion:`) with `weights=auto`: its weights are chosen by nested
    cross-validation in `compare`."""
    fusion = pipe.embedder.fusion if isinstance(pipe.embedder, Embedder) else None  # an object with `embed` only
    return fusion is not None and fusion.weights is None


def tuned_grid(pipe: SearchPipeline, query_vectors: np.ndarray, spec: str,
               depth: int = DEPTH) -> tuple[np.ndarray, list[tuple[float | None, tuple[float, ...] | None]]]:
    """Rows for every point of a pipeline's tuning grid: alpha (`is_tuned`) x fusion weights (`fusion_is_tuned`).

    Returns:
        (n_points, n_queries, depth) rows, and each point's (alpha or None, weights or None).
    """
    alphas = ALPHAS if is_tuned(spec) else (None,)
    weight_sets = weight_grid(len(pipe.embedder.parts)) if fusion_is_tuned(pipe) else (None,)
    depth = min(depth, len(pipe.corpus))
    points, rows = [], []
    for alpha in alphas:
        retriever = pipe.retriever(spec if alpha is None else with_alpha(spec, alpha))
        for weights in weight_sets:
            chosen = retriever if weights is None else retriever.with_weights(weights)
            rows.append(chosen.search(query_vectors, depth).rows)
            points.append((alpha, weights))
    return np.stack(rows), points


def choose_per_fold(scores: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """For each fold, the grid index with the best mean score on the OTHER folds (the smallest on ties).

    Args:
        scores: (n_values, n_queries) per-query score of each grid value.
        folds: the fold of each query.
    """
    return np.array([int(np.argmax(scores[:, folds != f].mean(axis=1))) for f in range(int(folds.max()) + 1)])


def grid_scores(rows: np.ndarray, rel: Relevance, cutoff: int = 10) -> np.ndarray:
    """(n_values, n_queries) nDCG@cutoff of every grid value's rows (from `grid_rows`) for every query."""
    return np.stack([ndcg_at_k(r, rel, cutoff) for r in rows])


def cross_validated_rows(rows: np.ndarray, scores: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each query's rows from the grid value chosen (by `scores`) on the other folds.

    Args:
        rows: (n_values, n_queries, depth) from `grid_rows`.
        scores: (n_values, n_queries) from `grid_scores`.
        folds: the fold of each query.

    Returns:
        (n_queries, depth) rows, and the chosen grid index of each fold.
    """
    chosen = choose_per_fold(scores, folds)
    return rows[chosen[folds], np.arange(rows.shape[1])], chosen


@dataclass(frozen=True)
class TuneResult:
    """What `tune` found for one retriever kind."""

    spec: str
    alpha: float
    """The weight chosen on all queries: what `alpha=auto` will use."""
    fold_alphas: list[float]
    """The weight each fold chose on the other folds."""
    held_out: Estimate
    """nDCG@10 of the held-out queries, each scored with its fold's weight: the honest estimate."""
    exact: Estimate
    """nDCG@10 of exact search on the same queries."""
    grid: dict[float, float]
    """Mean nDCG@10 of each weight on all queries (for reading, not an estimate)."""
    folds: int
    n_queries: int

    def table(self) -> str:
        """The grid and the cross-validated estimate as lines for a terminal."""
        grid = ", ".join(f"{a:g}: {v:.3f}" for a, v in self.grid.items())
        return (f"nDCG@10 by alpha (all {self.n_queries} queries, for reading only): {grid}\n"
                f"alpha chosen per fold on the other folds: {', '.join(f'{a:g}' for a in self.fold_alphas)}\n"
                f"held-out nDCG@10 ({self.folds}-fold cross-validation): {self.held_out}  vs exact {self.exact}\n"
                f"chosen on all queries: alpha = {self.alpha:g}")


def tune(pipe: SearchPipeline, queries: Sequence[str], rel: Relevance, spec: str = "role", *,
         folds: int = DEFAULT_FOLDS, alphas: Sequence[float] = ALPHAS, seed: int = 0) -> TuneResult:
    """Choose alpha for `spec` by k-fold cross-validation over the labelled queries.

    Args:
        pipe: the corpus and model.
        queries: all job descriptions (`rel.kept` says which are scored).
        rel: their relevance.
        spec: `role` or `soft` (with any other parameters, e.g. `role:min_size=10`).
        folds: k of k-fold.
        alphas: the grid.
        seed: the split's seed.

    Raises:
        ClusterankError: a spec that has no alpha, or fewer queries than folds.
    """
    spec = check_tunable(spec)
    kept = rel.scored
    fold = fold_of(len(kept), folds, seed)
    qv = pipe.embed_queries([queries[i] for i in kept])
    rows = grid_rows(pipe, qv, spec, alphas)
    scores = grid_scores(rows, rel)
    held_rows, chosen = cross_validated_rows(rows, scores, fold)
    exact = ndcg_at_k(pipe.retriever("exact").search(qv, rows.shape[2]).rows, rel, 10)
    best = int(np.argmax(scores.mean(axis=1)))
    return TuneResult(spec, float(alphas[best]), [float(alphas[c]) for c in chosen],
                      bootstrap_ci(ndcg_at_k(held_rows, rel, 10)), bootstrap_ci(exact),
                      {float(a): float(m) for a, m in zip(alphas, scores.mean(axis=1))}, folds, len(kept))


def save_tuning(pipe: SearchPipeline, result: TuneResult) -> str:
    """Store the chosen alpha beside the clusters (merged with other kinds already tuned); returns the path.

    A damaged tuning file (see `load_tuned`) is replaced, with a warning: tuning again is its remedy.
    """
    path = pipe.tuning_path
    try:
        load_tuned(path)  # every stored entry checked before the others are kept beside the new one
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (ClusterankError, ValueError):  # tuning again is the remedy the error names: it replaces the damaged file
        log.warning("%s: damaged tuning file; writing a new one", path)
        stored = {}
    stored[parse_spec(result.spec).name] = {
        "params": {"alpha": result.alpha}, "spec": result.spec, "folds": result.folds, "queries": result.n_queries,
        "held_out_ndcg@10": round(result.held_out.mean, 4), "exact_ndcg@10": round(result.exact.mean, 4),
        "date": dt.date.today().isoformat()}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(stored, indent=1, sort_keys=True))
    return str(path)
