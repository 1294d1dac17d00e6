"""Retrieval over normalised vectors: one Retriever protocol, built by name from a spec string.

`build_retriever("routed:nprobe=auto", context)`; the registry (`RETRIEVERS`) lists every kind. The names
load on first use (PEP 562), so `clusterank.index.hits` alone does not import every retriever.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "clusterank.index.base": ("Retriever", "RetrieverType", "SearchContext", "TopK", "parse_spec", "split_specs"),
    "clusterank.index.exact": ("ExactIndex", "top_k"),
    "clusterank.index.registry": ("RETRIEVERS", "build_retriever", "canonical_spec", "check_spec", "retriever_type"),
    "clusterank.index.routed": ("RoutedIndex",),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["RETRIEVERS", "ExactIndex", "Retriever", "RetrieverType", "RoutedIndex", "SearchContext", "TopK",
           "build_retriever", "canonical_spec", "check_spec", "parse_spec", "retriever_type", "split_specs", "top_k"]

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
