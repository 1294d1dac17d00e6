"""Every retriever clusterank knows, by spec name: a new way to search is one file and one line here."""

from __future__ import annotations

from clusterank.errors import ClusterankError
from clusterank.index import exact, gpu, quantized, role, role_route, routed, soft
from clusterank.index.base import Retriever, RetrieverType, SearchContext, parse_spec, typed_params

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
        ClusterankError: unknown retriever or parameter, or a bad value.
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
        ClusterankError: unknown retriever or parameter, or a bad value.
    """
    parsed = parse_spec(spec)
    kind = retriever_type(spec)
    retriever = kind.build(context, **typed_params(kind, parsed))
    retriever.spec = canonical_spec(spec)
    return retriever


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
