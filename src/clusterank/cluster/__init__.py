"""k-means clusters of a corpus: fit, choose k, describe, and project to 2-D for the map.

The names load on first use (PEP 562): importing one submodule does not import the others.
"""

from __future__ import annotations

from clusterank.lazy import lazy_names

_EXPORTS = {
    "clusterank.cluster.describe": ("ClusterSummary", "describe_clusters"),
    "clusterank.cluster.kmeans": ("ClusterModel", "choose_k", "fit_kmeans"),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["ClusterModel", "ClusterSummary", "choose_k", "describe_clusters", "fit_kmeans"]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
