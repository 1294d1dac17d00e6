"""Retrieval over normalised vectors: one Retriever protocol, built by name from a spec string.

`build_retriever("routed:nprobe=auto", context)`; the registry (`RETRIEVERS`) lists every kind.
"""

from clusterank.index.base import Retriever, RetrieverType, SearchContext, TopK, parse_spec, split_specs
from clusterank.index.exact import ExactIndex, top_k
from clusterank.index.registry import RETRIEVERS, build_retriever, canonical_spec, check_spec, retriever_type
from clusterank.index.routed import RoutedIndex

__all__ = ["RETRIEVERS", "ExactIndex", "Retriever", "RetrieverType", "RoutedIndex", "SearchContext", "TopK",
           "build_retriever", "canonical_spec", "check_spec", "parse_spec", "retriever_type", "split_specs", "top_k"]
