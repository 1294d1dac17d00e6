"""Every retriever clusterank knows, by spec name: a new way to search is one file and one line here."""

from __future__ import annotations

from clusterank.errors import ClusterankError
from clusterank.index import exact, gpu, quantized, role, role_route, routed, soft
from clusterank.index.base import (Retriever, RetrieverType, SearchContext, Shape, check_limits, parse_spec,
                                   typed_params)

RETRIEVERS: dict[str, RetrieverType] = {t.name: t for t in (
    exact.RETRIEVER,
    routed.RETRIEVER,
    soft.RETRIEVER,
    role.RETRIEVER,
    role_route.RETRIEVER,
    quantized.FLOAT16,
    quantized.INT8,
    quantized.BINARY,
    quantized.IVFPQ,
    gpu.RETRIEVER,
)}


def retriever_type(spec: str) -> RetrieverType:
    """The registered type a spec names.

    Raises:
        ClusterankError: an unknown name, listing the known ones with their parameters.
    """
    name = parse_spec(spec).name
    if name not in RETRIEVERS:
        known = ", ".join(t.usage() for t in RETRIEVERS.values())
        raise ClusterankError(f"unknown retriever {name!r} in {spec!r}; known: {known}")
    return RETRIEVERS[name]


def canonical_spec(spec: str) -> str:
    """The spec as clusterank names it (spaces dropped, values normalised): `routed:nprobe=auto`.

    Raises:
        ClusterankError: unknown retriever or parameter, a bad value, or a value beyond what the corpus allows
            (one error naming the parameter, its value and the allowed range).
    """
    parsed = parse_spec(spec)
    kind = retriever_type(spec)
    values = typed_params(kind, parsed)
    given = [(key, _fmt(values[key])) for key, _ in parsed.params]
    return str(type(parsed)(parsed.name, tuple(given)))


def build_retriever(spec: str, context: SearchContext) -> Retriever:
    """Build the retriever a spec names over `context`'s vectors (and clusters, when it routes).

    Args:
        spec: e.g. `exact`, `routed:nprobe=1`, `routed:nprobe=auto,margin=0.05`.
        context: the corpus vectors and how to get its k-means model.

    Raises:
        ClusterankError: unknown retriever or parameter, a bad value, or a value beyond what the corpus allows
            (one error naming the parameter, its value and the allowed range).
    """
    parsed = parse_spec(spec)
    kind = retriever_type(spec)
    values = typed_params(kind, parsed)
    vectors = context.vectors
    check_limits(kind, parsed, values, Shape(len(vectors), int(vectors.shape[1]) if getattr(vectors, "ndim", 0) == 2
                                             else None))
    retriever = kind.build(context, **values)
    retriever.spec = canonical_spec(spec)
    return retriever


def check_spec(spec: str, rows: int) -> str:
    """The canonical spec, checked against a corpus of `rows` rows before it is embedded (limits that need the
    vector size wait for `build_retriever`).

    Raises:
        ClusterankError: a bad spec, a corpus too small for it, or a parameter beyond what the corpus allows.
    """
    parsed = parse_spec(spec)
    kind = retriever_type(spec)
    check_limits(kind, parsed, typed_params(kind, parsed), Shape(rows))
    return canonical_spec(spec)


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
