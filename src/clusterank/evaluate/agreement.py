"""How far an LLM judge agrees with labels: Cohen's kappa on graded pairs and Kendall's tau between two rankings of
systems, each with a percentile bootstrap interval over queries (the unit that is resampled everywhere here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clusterank.evaluate.stats import Estimate


def cohen_kappa(a: Sequence[bool] | np.ndarray, b: Sequence[bool] | np.ndarray) -> float:
    """Cohen's kappa of two binary ratings of the same items: (p_o - p_e) / (1 - p_e).

    Args:
        a: the first rater's verdicts (e.g. judged grade >= 2).
        b: the second rater's verdicts (e.g. the label says relevant), same items in the same order.

    Returns:
        Kappa in [-1, 1]; NaN with no items, or when chance agreement is 1 (both raters constant and equal).
    """
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if x.size == 0:
        return float("nan")
    observed = float(np.mean(x == y))
    px, py = float(x.mean()), float(y.mean())
    expected = px * py + (1 - px) * (1 - py)
    return float("nan") if expected >= 1.0 else (observed - expected) / (1.0 - expected)


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two scorings of the same systems (NaN with fewer than 2 or a constant one)."""
    from scipy.stats import kendalltau

    if len(a) < 2:
        return float("nan")
    return float(kendalltau(a, b).statistic)


def _interval(point: float, draws: list[float], level: float) -> Estimate:
    draws_arr = np.asarray([d for d in draws if not np.isnan(d)])
    if np.isnan(point) or draws_arr.size == 0:
        return Estimate(point, float("nan"), float("nan"))
    low, high = np.quantile(draws_arr, [(1 - level) / 2, (1 + level) / 2])
    return Estimate(point, float(low), float(high))


def kappa_by_queries(judged: Sequence[np.ndarray], labelled: Sequence[np.ndarray], n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> Estimate:
    """Cohen's kappa over every pair, with a bootstrap interval that resamples queries (a query's pairs together).

    Args:
        judged: per query, the judge's binary verdicts on its pooled pairs.
        labelled: per query, the labels' verdicts on the same pairs.
    """
    point = cohen_kappa(np.concatenate(judged or [np.zeros(0)]), np.concatenate(labelled or [np.zeros(0)]))
    rng = np.random.default_rng(seed)
    n = len(judged)
    draws = []
    for _ in range(n_boot if n > 1 else 0):
        pick = rng.integers(0, n, n)
        draws.append(cohen_kappa(np.concatenate([judged[i] for i in pick]), np.concatenate([labelled[i] for i in pick])))
    return _interval(point, draws, level)


def tau_by_queries(judged: np.ndarray, labelled: np.ndarray, n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> Estimate:
    """Kendall's tau between the ranking of systems by mean judged metric and by mean labelled metric, with a
    bootstrap interval over queries.

    Args:
        judged: (n_systems, n_queries) per-query values under the judge's grades.
        labelled: (n_systems, n_queries) per-query values under the labels, same systems and queries.
    """
    judged, labelled = np.asarray(judged, dtype=float), np.asarray(labelled, dtype=float)
    point = kendall_tau(judged.mean(axis=1), labelled.mean(axis=1))
    rng = np.random.default_rng(seed)
    n = judged.shape[1] if judged.ndim == 2 else 0
    draws = []
    for _ in range(n_boot if n > 1 and not np.isnan(point) else 0):
        pick = rng.integers(0, n, n)
        draws.append(kendall_tau(judged[:, pick].mean(axis=1), labelled[:, pick].mean(axis=1)))
    return _interval(point, draws, level)
