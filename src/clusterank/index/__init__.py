"""Retrieval over normalised vectors: one Retriever protocol, built by name from a spec string.

`build_retriever("routed:nprobe=auto", context)`; the registry (`RETRIEVERS`) lists every kind. The names
load on first use (PEP 562), so `clusterank.index.hits` alone does not import every retriever.
"""

from __future__ import annotations

from clusterank.lazy import lazy_names

_EXPORTS = {
    "clusterank.index.base": ("Retriever", "RetrieverType", "SearchContext", "TopK", "parse_spec", "split_specs"),
    "clusterank.index.exact": ("ExactIndex", "top_k"),
    "clusterank.index.registry": ("RETRIEVERS", "build_retriever", "canonical_spec", "check_spec", "page_specs",
                                   "retriever_type", "saveable_kinds", "tunable_kinds"),
    "clusterank.index.routed": ("RoutedIndex",),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["RETRIEVERS", "ExactIndex", "Retriever", "RetrieverType", "RoutedIndex", "SearchContext", "TopK",
           "build_retriever", "canonical_spec", "check_spec", "page_specs", "parse_spec", "retriever_type", "saveable_kinds",
           "split_specs", "top_k", "tunable_kinds"]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
