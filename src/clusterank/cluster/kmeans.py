"""Spherical k-means over L2-normalised vectors (FAISS), the choice of k, and saving the result.

A `ClusterModel` is inspectable: its centroids, the cluster of every row, the rows of every
cluster. Rows belong to the centroid with the highest cosine, the same rule routed search uses.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clusterank.data.bounds import check_seed
from clusterank.defaults import DEFAULT_K, DEFAULT_SEED
from clusterank.errors import ClusterankError, require
from clusterank.workspace import atomic_path

log = logging.getLogger("clusterank.cluster")


def faiss_module():
    """The `faiss` module (k-means and the inverted-file index), or one line saying how to install it."""
    return require("faiss", "faiss", "clustering and routed search")


@dataclass(frozen=True, eq=False)
class ClusterModel:
    """k normalised centroids and the cluster of each corpus row."""

    centroids: np.ndarray
    """(k, dims) float32, unit length."""
    labels: np.ndarray
    """(n,) int64: the cluster of each row."""
    seed: int = DEFAULT_SEED
    corpus_key: str = ""
    """Fingerprint of the texts the model was fitted on (see `corpus_key`)."""

    def __post_init__(self) -> None:
        k = len(self.centroids)
        sizes = np.bincount(self.labels, minlength=k) if len(self.labels) else np.zeros(k, int)
        if len(sizes) > k:
            raise ClusterankError(f"cluster labels go up to {len(sizes) - 1} but there are only {k} centroids")
        empty = np.flatnonzero(sizes == 0)
        if len(empty):
            raise ClusterankError(f"cluster {int(empty[0])} is empty ({len(empty)} of {k} clusters have no rows); "
                                  "choose a smaller k")

    @property
    def k(self) -> int:
        """Number of clusters."""
        return len(self.centroids)

    @property
    def sizes(self) -> np.ndarray:
        """Rows per cluster, (k,)."""
        return np.bincount(self.labels, minlength=self.k)

    def rows(self, cluster: int) -> np.ndarray:
        """The corpus rows of one cluster, ascending."""
        return np.flatnonzero(self.labels == cluster)

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """The nearest centroid (highest cosine) of each normalised vector."""
        return np.argmax(np.asarray(vectors, np.float32) @ self.centroids.T, axis=1)

    def save(self, path: str | Path) -> Path:
        """Write the model to a `.npz` file (atomically)."""
        path = Path(path)
        with atomic_path(path) as tmp:
            np.savez(tmp, centroids=self.centroids, labels=self.labels, seed=self.seed, corpus_key=self.corpus_key)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ClusterModel":
        """Read a model written by `save`."""
        try:
            with np.load(path) as f:
                model = cls(f["centroids"], f["labels"], int(f["seed"]), str(f["corpus_key"]))
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ClusterankError(f"{path}: damaged or not a clusterank cluster model ({exc}); delete it and the "
                                  f"clusters are fitted again") from None
        if not np.isfinite(model.centroids).all() or model.labels.min(initial=0) < 0 or model.labels.max(
                initial=0) >= len(model.centroids):
            raise ClusterankError(f"{path}: damaged cluster model (centroids or labels out of range); delete it and "
                                  f"the clusters are fitted again")
        return model


def corpus_key(text_hashes: Sequence[bytes]) -> str:
    """A short fingerprint of a corpus: its texts' hashes in order."""
    h = hashlib.blake2b(digest_size=8)
    for t in text_hashes:
        h.update(t)
    return h.hexdigest()


def parse_k(value: int | str) -> int | str:
    """k from CLI text or a number: a whole number, or "auto"; anything else is a clear error."""
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return "auto"
        try:
            return int(value)
        except ValueError:
            raise ClusterankError(f"the number of clusters must be a number or 'auto', got {value!r}") from None
    return int(value)


def check_k(k: int, n: int) -> None:
    """Refuse k < 2 or k > n with a message saying why."""
    if k < 2:
        raise ClusterankError(f"k must be at least 2 to form clusters, got {k}")
    if k > n:
        raise ClusterankError(f"k = {k} is larger than the corpus ({n} rows); choose k <= {n}")


def fit_kmeans(vectors: np.ndarray, k: int = DEFAULT_K, *, seed: int = DEFAULT_SEED, niter: int = 25,
               corpus_key: str = "", max_points_per_centroid: int = 1024) -> ClusterModel:
    """Fit spherical k-means (k-means++ start) and assign every row to its nearest centroid.

    Args:
        vectors: (n, dims) L2-normalised float32.
        k: number of clusters (2 <= k <= n).
        seed: random seed; the same seed and data give the same clusters.
        niter: Lloyd iterations.
        corpus_key: stored with the model so a later run can check it fits the same texts.
        max_points_per_centroid: FAISS trains on a sample of k x this many rows when the corpus is larger.

    Raises:
        ClusterankError: k or the seed out of range, or a cluster ends up empty.
    """
    faiss = faiss_module()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    check_k(k, len(x))
    check_seed(seed)
    km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=seed, spherical=True, verbose=False,
                      max_points_per_centroid=max_points_per_centroid, min_points_per_centroid=1,
                      init_method=faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS)
    km.train(x)
    centroids = km.centroids / np.linalg.norm(km.centroids, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(centroids.astype(np.float32))
    _, assign = index.search(x, 1)
    return ClusterModel(centroids.astype(np.float32), assign[:, 0].astype(np.int64), seed, corpus_key)


def silhouette_scores(vectors: np.ndarray, ks: Sequence[int], *, seed: int = DEFAULT_SEED,
                      sample_size: int = 5000) -> dict[int, float]:
    """Cosine silhouette of k-means for each k (on a fixed sample of at most `sample_size` rows)."""
    from sklearn.metrics import silhouette_score

    x = np.asarray(vectors, np.float32)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(x), size=min(sample_size, len(x)), replace=False)
    scores = {}
    for k in ks:
        model = fit_kmeans(x, k, seed=seed)
        scores[k] = float(silhouette_score(x[sample], model.labels[sample], metric="cosine"))
        log.info("k=%d: silhouette %.4f", k, scores[k])
    return scores


def choose_k(vectors: np.ndarray, ks: Sequence[int] = tuple(range(4, 31, 2)), *,
             seed: int = DEFAULT_SEED) -> tuple[int, dict[int, float]]:
    """The k with the highest silhouette among `ks` (only those <= the corpus size), and every score."""
    usable = [k for k in ks if 2 <= k <= len(vectors) - 1]
    if not usable:
        raise ClusterankError(f"no k to try: the corpus has {len(vectors)} rows")
    scores = silhouette_scores(vectors, usable, seed=seed)
    return max(scores, key=scores.get), scores
