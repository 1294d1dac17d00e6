"""The HTTP embedding APIs clusterank speaks: one request shape per provider, and where each lives.

`OPENAI` is the shape OpenAI, NVIDIA's API catalog, vLLM, TEI, Infinity, LiteLLM and `clusterank serve`
speak; Voyage and Cohere have small adapters of their own. Every `parse` checks the response fully
(count, indices, dimensions, finite non-zero values) and raises `BadResponse` instead of returning a
vector that could end up in the cache.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class BadResponse(Exception):
    """A response that cannot be trusted (truncated, wrong count, wrong size, NaN); the client retries it."""


def _vectors(rows: list, n: int, dims: int | None, where: str) -> np.ndarray:
    if len(rows) != n:
        raise BadResponse(f"{len(rows)} vectors for {n} inputs")
    decoded = []
    for i, row in enumerate(rows):
        if isinstance(row, str):  # encoding_format=base64: little-endian float32 bytes
            try:
                row = np.frombuffer(base64.b64decode(row, validate=True), dtype="<f4")
            except (ValueError, TypeError) as exc:
                raise BadResponse(f"{where}[{i}] is not base64 float32 ({exc})") from None
        try:
            vec = np.asarray(row, dtype=np.float32)
        except (ValueError, TypeError):
            raise BadResponse(f"{where}[{i}] is not a list of numbers") from None
        if vec.ndim != 1 or (dims is not None and len(vec) != dims):
            raise BadResponse(f"{where}[{i}] has {vec.size} dimensions, expected {dims}")
        decoded.append(vec)
    if len({len(v) for v in decoded}) > 1:
        raise BadResponse(f"{where}: vectors of different sizes in one response")
    out = np.vstack(decoded) if decoded else np.zeros((0, dims or 0), np.float32)
    if not np.isfinite(out).all():
        raise BadResponse(f"{where}: NaN or infinity in a vector")
    if len(out) and (np.abs(out).sum(axis=1) == 0).any():
        raise BadResponse(f"{where}: an all-zero vector")
    return out


def _json(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise BadResponse(f"the body is not complete JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise BadResponse("the body is not a JSON object")
    return payload


def _int(value) -> int | None:
    return int(value) if isinstance(value, (int, float)) and value >= 0 else None


@dataclass(frozen=True)
class Shape:
    """How one API family wants its request and returns its vectors.

    Attributes:
        path: appended to the base URL.
        request: (model, texts, input_type or None) -> JSON body.
        parse: (raw body, number of inputs, expected dims or None) -> (vectors in input order, billed tokens).
    """

    name: str
    path: str
    request: Callable[[str, list[str], str | None], dict]
    parse: Callable[[bytes, int, int | None], tuple[np.ndarray, int | None]]


def _openai_request(encoding: str, extra: dict):
    def request(model: str, texts: list[str], input_type: str | None) -> dict:
        body = {"model": model, "input": texts, "encoding_format": encoding, **extra}
        if input_type:
            body["input_type"] = input_type
        return body
    return request


def _openai_parse(body: bytes, n: int, dims: int | None) -> tuple[np.ndarray, int | None]:
    payload = _json(body)
    data = payload.get("data")
    if not isinstance(data, list):
        raise BadResponse("no 'data' list in the response")
    try:
        indices = [int(item["index"]) for item in data]
    except (KeyError, TypeError, ValueError):
        raise BadResponse("an item of 'data' has no integer 'index'") from None
    if sorted(indices) != list(range(n)):
        raise BadResponse(f"the indices in 'data' are not 0..{n - 1} once each")
    rows = [None] * n
    for i, item in zip(indices, data):
        rows[i] = item.get("embedding")
    usage = payload.get("usage") or {}
    tokens = _int(usage.get("prompt_tokens", usage.get("total_tokens"))) if isinstance(usage, dict) else None
    return _vectors(rows, n, dims, "data"), tokens


def _cohere_request(model: str, texts: list[str], input_type: str | None) -> dict:
    return {"model": model, "texts": texts, "input_type": input_type or "search_document",
            "embedding_types": ["float"], "truncate": "END"}


def _cohere_parse(body: bytes, n: int, dims: int | None) -> tuple[np.ndarray, int | None]:
    payload = _json(body)
    embeddings = payload.get("embeddings")
    rows = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
    if not isinstance(rows, list):
        raise BadResponse("no 'embeddings.float' list in the response")
    billed = (payload.get("meta") or {}).get("billed_units") or {}
    return _vectors(rows, n, dims, "embeddings.float"), _int(billed.get("input_tokens"))


OPENAI = Shape("openai", "/embeddings", _openai_request("base64", {}), _openai_parse)
NVIDIA = Shape("nvidia", "/embeddings", _openai_request("float", {"truncate": "END"}), _openai_parse)
VOYAGE = Shape("voyage", "/embeddings", _openai_request("base64", {"truncation": True}), _openai_parse)
COHERE = Shape("cohere", "/embed", _cohere_request, _cohere_parse)


@dataclass(frozen=True)
class Provider:
    """A hosted API behind a prefix (`openai:<model>`): where it is, its key and its limits.

    Attributes:
        base_url: the API root the shape's path is appended to.
        key_env: the environment variable holding the key (read when a request is sent, never stored).
        input_types: (for documents, for queries) for asymmetric models; None when the API has no such field.
        max_inputs: inputs per request the API accepts.
        max_tokens: tokens per request the API accepts (estimated client-side, conservatively).
        model_ids: short names -> the ids the API wants (`nv-embedqa-e5-v5` -> `nvidia/nv-embedqa-e5-v5`).
        key_required: refuse to start without the key (hosted APIs); a self-hosted server may need none.
    """

    prefix: str
    shape: Shape
    base_url: str
    key_env: str
    input_types: tuple[str, str] | None = None
    max_inputs: int = 2048
    max_tokens: int = 300_000
    model_ids: dict[str, str] = field(default_factory=dict)
    key_required: bool = True


PROVIDERS: dict[str, Provider] = {p.prefix: p for p in (
    # any OpenAI-compatible server, `api:<model>@<base_url>`: vLLM, TEI, Infinity, LiteLLM, `clusterank serve`
    Provider("api", OPENAI, "", "CLUSTERANK_API_KEY", key_required=False),
    Provider("openai", OPENAI, "https://api.openai.com/v1", "OPENAI_API_KEY"),
    Provider("nvidia", NVIDIA, "https://integrate.api.nvidia.com/v1", "NVIDIA_API_KEY", ("passage", "query"),
             max_inputs=50, model_ids={"nv-embedqa-e5-v5": "nvidia/nv-embedqa-e5-v5",
                                       "nv-embed-v1": "nvidia/nv-embed-v1",
                                       "mistral-7b-v2": "nvidia/nv-embedqa-mistral-7b-v2",
                                       "nv-embedqa-mistral-7b-v2": "nvidia/nv-embedqa-mistral-7b-v2",
                                       "arctic-embed-l": "snowflake/arctic-embed-l",
                                       "bge-m3": "baai/bge-m3"}),
    Provider("voyage", VOYAGE, "https://api.voyageai.com/v1", "VOYAGE_API_KEY", ("document", "query"),
             max_inputs=1000, max_tokens=120_000),
    Provider("cohere", COHERE, "https://api.cohere.com/v2", "CO_API_KEY", ("search_document", "search_query"),
             max_inputs=96, max_tokens=96 * 512),
)}
"""Each hosted API by prefix; a new one is one entry here and one line in `clusterank.embed.EMBEDDERS`."""


def split_api_name(prefix: str, argument: str) -> tuple[Provider, str, str]:
    """(provider, the model id the API wants, base URL) for `<prefix>:<argument>`.

    `api:` takes `<model>@<base_url>`; the others take a model id and may add `@<base_url>` to reach a proxy
    or a self-hosted copy of the same API.
    """
    from clusterank.errors import ClusterankError

    provider = PROVIDERS[prefix]
    model, _, url = argument.partition("@")
    url = url or provider.base_url
    if not model or not url:
        raise ClusterankError(f"model '{prefix}:{argument}': write it as {prefix}:<model>@<base_url>, e.g. "
                              "api:all-MiniLM-L6-v2@http://127.0.0.1:8000/v1")
    if not url.startswith(("http://", "https://")):
        raise ClusterankError(f"model '{prefix}:{argument}': the base URL {url!r} must start with http:// or https://")
    return provider, provider.model_ids.get(model, model), url.rstrip("/")
