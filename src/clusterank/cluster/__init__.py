"""k-means clusters of a corpus: fit, choose k, describe, and project to 2-D for the map.

The names load on first use (PEP 562): importing one submodule does not import the others.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "clusterank.cluster.describe": ("ClusterSummary", "describe_clusters"),
    "clusterank.cluster.kmeans": ("ClusterModel", "choose_k", "fit_kmeans"),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["ClusterModel", "ClusterSummary", "choose_k", "describe_clusters", "fit_kmeans"]

_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
