"""Retrieval over normalised vectors: exact search (routed search comes with the clusters)."""

from clusterank.index.exact import ExactIndex, TopK, top_k

__all__ = ["ExactIndex", "TopK", "top_k"]
