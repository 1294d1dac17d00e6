"""2-D projections of embeddings for the cluster map: PCA (the seed's) or UMAP (optional extra).

The projection is fitted on a fixed sample (at most `sample` rows) and applied to every row, so a
million points cost one small fit; queries are projected with the same fitted model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clusterank.errors import ClusterankError, require

PROJECTIONS = ("pca", "umap")
"""The 2-D projections of the cluster map: pca (the seed's) and umap."""


@dataclass
class Projection:
    """A fitted 2-D projection; `transform` maps more vectors (queries) into the same plane."""

    method: str
    model: object
    sample_size: int

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 2) float32 coordinates of normalised vectors."""
        return np.asarray(self.model.transform(np.asarray(vectors, np.float32)), dtype=np.float32)


def fit_projection(vectors: np.ndarray, method: str = "pca", *, sample: int = 50_000,
                   seed: int = 42) -> tuple[Projection, np.ndarray]:
    """Fit a 2-D projection on a sample of `vectors` and project them all.

    Returns:
        (the fitted projection, (n, 2) coordinates of every row).
    """
    method = method.lower()
    if method not in PROJECTIONS:
        raise ClusterankError(f"unknown projection {method!r}; use one of: {', '.join(PROJECTIONS)}")
    x = np.asarray(vectors, np.float32)
    if len(x) < 3:
        raise ClusterankError(f"a 2-D map needs at least 3 rows, got {len(x)}")
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(len(x), size=min(sample, len(x)), replace=False))
    if method == "pca":
        from sklearn.decomposition import PCA

        model = PCA(n_components=2, random_state=seed).fit(x[fit_rows])
    else:
        umap = require("umap", "viz", "the UMAP projection")
        model = umap.UMAP(n_components=2, metric="cosine", random_state=seed, n_jobs=1).fit(x[fit_rows])
    projection = Projection(method, model, len(fit_rows))
    coords = np.empty((len(x), 2), np.float32)
    if method == "umap" and len(fit_rows) == len(x):
        coords[:] = model.embedding_  # the fit's own layout; transform() would only approximate it
    else:
        for start in range(0, len(x), 100_000):
            coords[start : start + 100_000] = projection.transform(x[start : start + 100_000])
    return projection, coords
