"""Uncertainty of per-query metrics: percentile bootstrap intervals over queries, and paired comparisons.

Queries are the unit that is resampled: a metric's mean over queries comes with a 95% interval, and two
models evaluated on the same queries are compared through the per-query differences (a paired bootstrap),
which is much tighter than comparing two separate intervals. Everything is deterministic given the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clusterank.errors import ClusterankError

_CHUNK = 4_000_000  # resampled values drawn at once (bounds memory for many queries)


@dataclass(frozen=True)
class Estimate:
    """A mean over queries with its bootstrap interval.

    Attributes:
        mean: The mean of the per-query values.
        low: Lower end of the interval.
        high: Upper end of the interval.
    """

    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        """Three decimals, e.g. `0.612 [0.581, 0.640]`."""
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _values(values: Sequence[float] | np.ndarray, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ClusterankError(f"stats: {name} is empty; there is no query to average over")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ClusterankError(f"stats: {name} has a missing or infinite value (query {bad})")
    return arr


def _check(n_boot: int, level: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ClusterankError(f"stats: n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < level < 1:
        raise ClusterankError(f"stats: level must lie strictly between 0 and 1, got {level!r}")


def bootstrap_ci(values: Sequence[float] | np.ndarray, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> Estimate:
    """Mean of per-query values with a percentile bootstrap interval over queries.

    Draws `n_boot` resamples of the queries with replacement (vectorised, in a few large chunks), takes
    each resample's mean, and reports the (1-level)/2 and (1+level)/2 quantiles of those means. With one
    query or constant values the interval collapses to the mean.

    Args:
        values: One metric value per query (finite).
        n_boot: Number of bootstrap resamples.
        seed: Seed of the random generator; the same inputs and seed give the same interval.
        level: Coverage of the interval (0.95 for a 95% interval).

    Returns:
        An `Estimate` (mean, low, high).

    Raises:
        ClusterankError: No values, a NaN/infinite value, or a bad `n_boot`/`level`.
    """
    arr = _values(values)
    _check(n_boot, level)
    mean = float(arr.mean())
    if arr.size == 1 or np.all(arr == arr[0]):
        return Estimate(mean, mean, mean)
    rng = np.random.default_rng(seed)
    n = arr.size
    per_chunk = max(1, _CHUNK // n)
    means = np.empty(n_boot)
    for start in range(0, n_boot, per_chunk):
        stop = min(start + per_chunk, n_boot)
        means[start:stop] = arr[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Estimate(mean, float(low), float(high))


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, n_boot: int = 2000,
                      seed: int = 0, level: float = 0.95) -> tuple[Estimate, bool]:
    """Bootstrap of mean(a - b) over the same queries, and whether the difference is significant.

    The per-query differences a[i] - b[i] are resampled together (a paired bootstrap), so the variation
    that both models share across queries cancels out.

    Args:
        a: Per-query values of the first model.
        b: Per-query values of the second model, on the same queries in the same order.
        n_boot: Number of bootstrap resamples.
        seed: Seed of the random generator.
        level: Coverage of the interval.

    Returns:
        (estimate of mean(a - b) with its interval, significant), where significant means the interval
        excludes 0. A single query is never significant.

    Raises:
        ClusterankError: `a` and `b` differ in length, or any `bootstrap_ci` error.
    """
    x, y = _values(a, "a"), _values(b, "b")
    if x.size != y.size:
        raise ClusterankError(f"stats: a has {x.size} values but b has {y.size}; a paired comparison needs "
                              "the same queries")
    est = bootstrap_ci(x - y, n_boot=n_boot, seed=seed, level=level)
    significant = x.size > 1 and (est.low > 0 or est.high < 0)
    return est, bool(significant)


def within_noise(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, **kw) -> bool:
    """True when the paired difference of `a` and `b` is not significant (its interval contains 0).

    Args:
        a: Per-query values of the first model.
        b: Per-query values of the second model, on the same queries.
        **kw: Passed to `paired_difference` (n_boot, seed, level).

    Returns:
        True when the two models cannot be told apart on these queries.
    """
    return not paired_difference(a, b, **kw)[1]
