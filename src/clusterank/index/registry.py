"""Every retriever clusterank knows, by spec name: a new way to search is one file and one line here."""

from __future__ import annotations

import numpy as np

from clusterank.index import adapter, exact, gpu, pgvector, prior, quantized, role, role_route, routed, soft
from clusterank.index.base import Retriever, RetrieverType, SearchContext, Shape, check_limits
from clusterank.registry import Registry, canonical, typed_params

RETRIEVERS: Registry[RetrieverType] = Registry("retriever", (
    exact.RETRIEVER,
    routed.RETRIEVER,
    soft.RETRIEVER,
    role.RETRIEVER,
    role_route.RETRIEVER,
    prior.RETRIEVER,
    adapter.RETRIEVER,
    quantized.FLOAT16,
    quantized.INT8,
    quantized.BINARY,
    quantized.IVFPQ,
    gpu.RETRIEVER,
    pgvector.RETRIEVER,
), group="clusterank.retrievers")


def retriever_type(spec: str) -> RetrieverType:
    """The registered type a spec names.

    Raises:
        ClusterankError: an unknown name, listing the known ones with their parameters.
    """
    return RETRIEVERS[RETRIEVERS.parse(spec).name]


def canonical_spec(spec: str) -> str:
    """The spec as clusterank names it (spaces dropped, values normalised): `routed:nprobe=auto`.

    Raises:
        ClusterankError: unknown retriever or parameter, a bad value, or a value beyond what the corpus allows
            (one error naming the parameter, its value and the allowed range).
    """
    parsed = RETRIEVERS.parse(spec)
    return canonical(RETRIEVERS[parsed.name], parsed)


def build_retriever(spec: str, context: SearchContext) -> Retriever:
    """Build the retriever a spec names over `context`'s vectors (and clusters, when it routes).

    Args:
        spec: e.g. `exact`, `routed:nprobe=1`, `routed:nprobe=auto,margin=0.05`.
        context: the corpus vectors and how to get its k-means model.

    Raises:
        ClusterankError: unknown retriever or parameter, its packages not installed, a bad value, or a value beyond
            what the corpus allows (one error naming the parameter, its value and the allowed range).
    """
    kind, parsed = RETRIEVERS.find(spec)
    values = typed_params(kind, parsed)
    vectors = context.vectors
    dims = int(vectors.shape[1]) if isinstance(vectors, np.ndarray) and vectors.ndim == 2 else None
    check_limits(kind, parsed, values, Shape(len(vectors), dims))
    retriever = kind.build(context, **values)
    retriever.spec = canonical(kind, parsed)
    return retriever


def check_spec(spec: str, rows: int) -> str:
    """The canonical spec, checked against a corpus of `rows` rows before it is embedded (limits that need the
    vector size wait for `build_retriever`).

    Raises:
        ClusterankError: a bad spec, its packages not installed, a corpus too small for it, or a parameter beyond
            what the corpus allows.
    """
    kind, parsed = RETRIEVERS.find(spec)
    check_limits(kind, parsed, typed_params(kind, parsed), Shape(rows))
    return canonical(kind, parsed)


def page_specs(labelled: bool) -> tuple[str, ...]:
    """The retrievers the web page and `/v1/search` offer unless told otherwise: the examples of every installed
    kind declared `on_page`, role-aware kinds only when the corpus has labels."""
    return tuple(spec for kind in RETRIEVERS.available() if kind.on_page and (labelled or not kind.needs_labels)
                 for spec in kind.examples)


def saveable_kinds() -> tuple[str, ...]:
    """Names of the retriever kinds a saved index can hold."""
    return tuple(name for name, kind in RETRIEVERS.items() if kind.saveable)


def tunable_kinds(param: str = "alpha") -> tuple[str, ...]:
    """Names of the retriever kinds whose `param` `clusterank tune` chooses."""
    return tuple(name for name, kind in RETRIEVERS.items() if param in kind.tunable)
