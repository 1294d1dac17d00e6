"""Retriever specs: parsing, the registry, errors that name the spec, and one registry line per kind."""

import numpy as np
import pytest

from clusterank import ClusterankError, ExactIndex
from clusterank.index import (RETRIEVERS, RoutedIndex, SearchContext, build_retriever, canonical_spec, parse_spec,
                              split_specs)


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_parse_and_canonical():
    spec = parse_spec(" Routed : nprobe = auto , margin=0.10 ")
    assert spec.name == "routed" and spec.params == (("nprobe", "auto"), ("margin", "0.10"))
    assert canonical_spec("routed:nprobe=AUTO,margin=0.10") == "routed:nprobe=auto,margin=0.1"
    assert canonical_spec("exact") == "exact" and canonical_spec("routed:nprobe=02") == "routed:nprobe=2"


def test_split_keeps_parameters_with_their_spec():
    assert split_specs("exact,routed:nprobe=auto,margin=0.1,routed:nprobe=1, exact+rescore:m") == [
        "exact", "routed:nprobe=auto,margin=0.1", "routed:nprobe=1", "exact+rescore:m"]


@pytest.mark.parametrize("spec, message", [
    ("", "is empty"),
    ("ivf", "unknown retriever 'ivf' in 'ivf'; known: exact, routed:nprobe=1,margin=0.05"),
    ("exact:nprobe=2", "unknown parameter 'nprobe' (parameters of exact: none)"),
    ("routed:nprobe=0", "nprobe='0' is not valid"),
    ("routed:margin=-1", "margin='-1' is not valid"),
    ("routed:k=zero", "k='zero' is not valid"),
    ("routed:nprobe", "'nprobe' is not param=value"),
])
def test_bad_specs_name_what_is_wrong(spec, message):
    with pytest.raises(ClusterankError, match=message.replace("(", r"\(").replace(")", r"\)")):
        canonical_spec(spec)


def test_built_retrievers_search_like_the_classes():
    rng = np.random.default_rng(0)
    x, q = unit(rng, 400, 16), unit(rng, 7, 16)
    asked = []

    def clusters(k):
        from clusterank.cluster.kmeans import fit_kmeans

        asked.append(k)
        return fit_kmeans(x, k)

    context = SearchContext(x, clusters, default_k=6)
    exact = build_retriever("exact", context)
    assert isinstance(exact, ExactIndex) and exact.spec == "exact"
    np.testing.assert_array_equal(exact.search(q, 5).rows, ExactIndex(x).search(q, 5).rows)
    routed = build_retriever("routed:nprobe=2", context)
    assert isinstance(routed, RoutedIndex) and routed.spec == "routed:nprobe=2" and asked == [6]
    result = routed.search(q, 5)
    assert result.clusters_probed == 2 and all(len(p) == 2 for p in result.probed)
    build_retriever("routed:nprobe=auto,k=4", context)
    assert asked == [6, 4]  # k in the spec wins over the default
    every = build_retriever("routed:nprobe=6", context).search(q, 5)
    np.testing.assert_array_equal(every.rows, ExactIndex(x).search(q, 5).rows)


def test_every_registered_kind_has_a_name_summary_and_builder():
    for name, kind in RETRIEVERS.items():
        assert kind.name == name and kind.summary and callable(kind.build)
        assert canonical_spec(kind.usage()).startswith(name)  # the usage text is itself a valid spec


