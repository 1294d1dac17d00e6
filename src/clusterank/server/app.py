"""The HTTP API: `/v1/embeddings` (OpenAI's shape), `/v1/rerank` (Cohere's), `/v1/search`, `/v1/models`,
`/healthz` and `/metrics`, over one `Engine`. `create_app(config)` builds it; `clusterank serve` runs it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import os
from importlib.resources import files
from pathlib import Path

from clusterank import ClusterankError, Workspace, decode_token_ids, require, visible
from clusterank.server.config import ServerConfig
from clusterank.server.engine import Engine
from clusterank.server.refresh import LiveEngine, Refresher
from clusterank.server.errors import ApiError, error_body, field_name
from clusterank.server.faults import FaultMiddleware
from clusterank.server.guard import Guard
from clusterank.server.jobs import CompareJobs
from clusterank.server.schemas import CompareJobRequest, EmbeddingRequest, RerankRequest, SearchRequest, is_query_side

STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
"""The page's own files in `clusterank/server/static/` (index.html is served at /)."""

log = logging.getLogger("clusterank.server")


def _json(payload: dict, status: int = 200, headers: dict | None = None):
    from starlette.responses import Response

    return Response(json.dumps(payload, separators=(",", ":"), allow_nan=False), status,
                    headers=headers, media_type="application/json")


def _texts(value: str | list[str], field: str, limit: int) -> list[str]:
    texts = [value] if isinstance(value, str) else list(value)
    if not texts:
        raise ApiError(400, f"`{field}` is empty: send at least one text", param=field)
    if len(texts) > limit:
        raise ApiError(413, f"`{field}` has {len(texts)} items; this server takes at most {limit} per request "
                            "(--max-batch)", param=field)
    for i, text in enumerate(texts):
        name = f"{field}[{i}]" if not isinstance(value, str) else field
        if not visible(text):
            raise ApiError(400, f"`{name}` is empty or holds only spaces and invisible characters; every text "
                                "needs some words", param=name)
        _unicode(text, name)
    return texts


def _token_texts(value):
    """Token-id input (a list of ints, or one per text) decoded with cl100k_base; any other input as it is."""
    if not isinstance(value, list) or not value or isinstance(value[0], str):
        return value
    rows = [value] if isinstance(value[0], int) else value
    if any(not row for row in rows):
        raise ApiError(400, "`input` holds an empty list of token ids; every text needs some tokens", param="input")
    try:
        return decode_token_ids(rows)
    except ClusterankError as exc:
        raise ApiError(422, str(exc), param="input") from None


def _unicode(text: str, field: str) -> str:
    """Refuse text that is not valid Unicode: JSON's `\\ud800` escapes decode to lone surrogates, which no model
    (and no UTF-8 hash) can take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(400, f"`{field}` is not valid Unicode text: a lone surrogate "
                            f"{text[exc.start].encode('unicode_escape').decode()} at character {exc.start}",
                       param=field) from None
    return text


def _unit_vector(vector: list[float]) -> list[float]:
    """A query vector scaled to length 1 in float64 (so large values cannot overflow float32's norm); refuses NaN,
    infinity and all zeros, which have no direction to search by."""
    if not vector:
        raise ApiError(400, "`vector` is empty: send the query vector's numbers", param="vector")
    if not all(math.isfinite(x) for x in vector):
        raise ApiError(400, "`vector` holds NaN or infinity", param="vector")
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0 or not math.isfinite(norm):
        raise ApiError(400, "`vector` is all zeros: it has no direction to search by" if norm == 0
                       else "`vector` is too large to normalise", param="vector")
    return [x / norm for x in vector]


def create_app(config: ServerConfig, engine: Engine | None = None, *, shared=None, refresher=None):
    """The ASGI app serving `config` (the engine is built here unless given). With `config.db`, compare jobs, usage
    records and paid APIs' rate limits live in that database (`shared`: `jobs_db.shared_state(config)`, made here
    unless given). With `config.refresh_s`, a `refresh.Refresher` (primed before `engine` was built, or made and
    primed here) swaps in a new engine whenever the corpus changes."""
    fastapi = require("fastapi", "serve", "clusterank serve")
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

    from clusterank.server.jobs_db import shared_state

    job_store, usage = shared or shared_state(config)  # before the engine: its API models count shared limits
    if config.refresh_s and refresher is None:
        refresher = Refresher(config)
        refresher.prime()  # before the engine reads the table: a change after it is a change to it
    engine = LiveEngine(engine or Engine(config))  # routes use the engine serving now (`--refresh-s` swaps it)
    if refresher is not None:
        refresher.start(engine)
    # no /docs or /redoc: FastAPI's pages load their scripts from a CDN; the schema stays at /openapi.json
    app = fastapi.FastAPI(title="clusterank", version=_version(), docs_url=None, redoc_url=None,
                          description="Embeddings, reranking and candidate search over one workspace.")

    @app.exception_handler(ApiError)
    async def api_error(_request, exc: ApiError):
        return _json(exc.body(), exc.status, exc.headers)

    @app.exception_handler(ClusterankError)
    async def clusterank_error(_request, exc: ClusterankError):
        return _json(error_body(400, str(exc)), 400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _json(error_body(400, f"the body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})",
                                    "body"), 400)
        param = field_name(first.get("loc", ()))
        if param is None and tuple(first.get("loc", ())) == ("body",) and first.get("type") == "missing":
            return _json(error_body(400, "the body is empty: send a JSON object", "body"), 400)
        message = f"`{param}`: {first.get('msg', 'invalid value')}" if param else first.get("msg", "invalid body")
        return _json(error_body(422, message, param or "body"), 422)

    @app.exception_handler(HTTPException)
    async def http_error(_request, exc: HTTPException):
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # FastAPI's answer when the body cannot even be decoded: bytes that are not UTF-8, or JSON nested
            # so deep that the parser gives up (a RecursionError underneath)
            return _json(error_body(400, "the body could not be read as JSON: it is not UTF-8 text, or it is nested "
                                         "too deeply", "body"), 400)
        return _json(error_body(exc.status_code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_request, exc: Exception):
        log.exception("unexpected error")
        return _json(error_body(500, f"internal error ({type(exc).__name__}); see the server log"), 500)

    @app.post("/v1/embeddings", summary="Embed texts (OpenAI's /v1/embeddings)")
    async def embeddings(body: EmbeddingRequest):
        texts = _texts(_token_texts(body.input), "input", config.max_batch)
        try:
            done = await asyncio.to_thread(engine.embed, body.model, texts, body.cut_to(), is_query_side(body))
        except ApiError as exc:  # a size asked for by Voyage's name is refused by that name
            if exc.param == "dimensions" and body.dimensions is None:
                exc.param, exc.message = "output_dimension", exc.message.replace("dimensions=", "output_dimension=")
            raise
        encode = ((lambda v: base64.b64encode(v.astype("<f4").tobytes()).decode()) if body.encoding_format == "base64"
                  else (lambda v: v.tolist()))
        data = [{"object": "embedding", "embedding": encode(v), "index": i} for i, v in enumerate(done.vectors)]
        usage.record("embeddings", body.model, len(texts), done.tokens)
        return _json({"object": "list", "data": data, "model": body.model,
                      "usage": {"prompt_tokens": done.tokens, "total_tokens": done.tokens}})

    @app.post("/v1/rerank", summary="Rerank documents for a query (Cohere's and Voyage's /v1/rerank)")
    @app.post("/v2/rerank", summary="Rerank documents for a query (Cohere v2's /v2/rerank)")
    async def rerank(body: RerankRequest):
        docs = [d if isinstance(d, str) else d.get("text") for d in body.documents]
        if any(not isinstance(d, str) for d in docs):
            raise ApiError(422, "`documents`: each item is a string or {\"text\": string}", param="documents")
        _texts(docs, "documents", config.max_batch)
        if not visible(body.query):
            raise ApiError(400, "`query` is empty or holds only invisible characters", param="query")
        _unicode(body.query, "query")
        name = body.model or f"rescore:{engine.default_model}"
        try:
            ranked = await asyncio.to_thread(engine.rerank, name, body.query, docs)
        except ApiError as exc:  # the reranker is named by this endpoint's `model` field
            raise ApiError(exc.status, exc.message, param="model" if exc.param == "reranker" else exc.param,
                           code=exc.code, headers=exc.headers) from None
        results = [{"index": i, "relevance_score": s, **({"document": {"text": docs[i]}} if body.return_documents else {})}
                   for i, s in ranked[: body.top_n or body.top_k or len(ranked)]]
        usage.record("rerank", name, len(docs))
        # Cohere's and Jina's clients read `results`, Voyage's reads `data` and `usage`: one answer serves them all
        return _json({"id": os.urandom(8).hex(), "object": "list", "model": name, "results": results, "data": results,
                      "meta": {"billed_units": {"search_units": 1}}, "usage": {"total_tokens": None}})  # not metered

    @app.post("/v1/search", summary="Find the best profiles for a job description")
    async def search(body: SearchRequest):
        if (body.query is None) == (body.vector is None):
            raise ApiError(400, "send exactly one of `query` (a job description) and `vector`", param="query")
        if body.query is not None and not visible(body.query):
            raise ApiError(400, "`query` is empty or holds only invisible characters: paste a job description",
                           param="query")
        if body.query is not None:
            _unicode(body.query, "query")
        vector = _unit_vector(body.vector) if body.vector is not None else None
        filters = body.filters.model_dump(exclude_none=True) if body.filters else None
        result = await asyncio.to_thread(
            engine.search, query=body.query, vector=vector, model=body.model, retriever=body.retriever,
            k=body.k, reranker=body.reranker, rerank_top_n=body.rerank_top, filters=filters,
            return_text=body.return_text, explain_hits=body.explain, blind=body.blind)
        usage.record("search", body.model or engine.default_model, 1)
        return _json({**result, "corpus_version": engine.refreshes})  # the page reloads its map when this moves

    jobs = CompareJobs(engine.workspace, config.corpus_args(), max_running=config.max_jobs,
                       max_queued=config.max_queued_jobs, keep_hours=config.job_keep_hours, store=job_store,
                       env=config.job_env())
    static = files("clusterank.server").joinpath("static")

    @app.get("/", include_in_schema=False)
    async def page():
        return HTMLResponse(static.joinpath("index.html").read_text(encoding="utf-8"))

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str):
        if name == "plotly.min.js":  # served from the installed plotly package: no CDN
            plotly = require("plotly", "viz", "the web page's map")
            path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
            return FileResponse(path, media_type="text/javascript", headers={"cache-control": "max-age=86400"})
        if name == "map.js":  # the map's trace builder, the same code as `clusterank map` pages
            from clusterank import MAP_SCRIPT

            return Response(MAP_SCRIPT, media_type="text/javascript", headers={"cache-control": "no-cache"})
        if name not in STATIC_FILES:
            raise ApiError(404, f"no file {name!r}")
        return Response(static.joinpath(name).read_bytes(), media_type=STATIC_FILES[name],
                        headers={"cache-control": "no-cache"})

    @app.get("/v1/options", summary="What the web page's choosers offer")
    async def options(blind: bool = False):
        return _json({**await asyncio.to_thread(engine.options, blind), "corpus_version": engine.refreshes})

    @app.get("/v1/map", summary="The 2-D cluster map of the corpus")
    async def cluster_map(model: str | None = None, blind: bool = False):
        return _json(await asyncio.to_thread(engine.map_json, model, blind))

    @app.get("/v1/audit", summary="Bias audit of a model and retriever by a group column of the profiles")
    async def audit(group: str = "name_gender", model: str | None = None, retriever: str = "exact", k: int = 30,
                    blind: bool = False):
        return _json(await asyncio.to_thread(engine.audit_json, group, model, retriever, k, blind))

    @app.get("/v1/profiles/{row}", summary="One whole profile")
    async def profile(row: int, model: str | None = None, blind: bool = False, id: str | None = None):
        return _json(engine.profile(row, model, blind, id))

    @app.get("/reports/{kind}", summary="The workspace's latest compare report or cost page")
    async def report(kind: str):
        if kind not in Workspace.REPORT_KINDS:
            raise ApiError(404, f"no report {kind!r}; reports: {', '.join(Workspace.REPORT_KINDS)}")
        path = engine.workspace.latest_report_path(kind)
        if not path.exists():
            command = "clusterank compare" if kind == "compare" else "clusterank cost"
            raise ApiError(404, f"no {kind} report in this workspace yet: run `{command}` (or start a comparison "
                                "from the page)", code="no_report")
        return FileResponse(path, media_type="text/html")

    @app.post("/v1/jobs/compare", summary="Start comparing models on this corpus")
    async def start_compare(body: CompareJobRequest):
        offered = engine.offline_models
        unknown = [m for m in body.models if m not in offered]
        if unknown:
            raise ApiError(400, f"cannot compare {', '.join(map(repr, unknown))} here; models: {', '.join(offered)}",
                           param="models")
        if engine.corpus.labels is None:
            raise ApiError(400, "this server's corpus has no role labels to score a comparison with", param="models")
        return _json(await asyncio.to_thread(jobs.start, body.models), 202)

    @app.get("/v1/jobs/{job_id}", summary="A job's progress")
    async def job(job_id: str):
        return _json(await asyncio.to_thread(jobs.status, job_id))

    @app.delete("/v1/jobs/{job_id}", summary="Cancel a job")
    async def cancel_job(job_id: str):
        return _json(await asyncio.to_thread(jobs.cancel, job_id))

    @app.get("/v1/usage", summary="Requests, texts and tokens per route and model (every replica's with --db)")
    async def usage_summary():
        return _json(await asyncio.to_thread(usage.summary))

    @app.get("/v1/models", summary="Models served here")
    async def models():
        return _json({"object": "list", "data": engine.model_cards()})

    @app.get("/v1/models/{model_id:path}", summary="One model served here (OpenAI's models.retrieve)")
    async def model(model_id: str):
        card = next((c for c in engine.model_cards() if c["id"] == model_id), None)
        if card is None:
            raise ApiError(404, f"no model {model_id!r} is served here; GET /v1/models lists them", param="model")
        return _json(card)

    @app.get("/healthz", summary="Liveness and what this process serves")
    async def healthz():
        # answered without the key: the corpus by its file name only, never the path it lies under
        return _json({"status": "ok", "pid": os.getpid(), "version": _version(),
                      "corpus": Path(engine.corpus.source).name, "profiles": len(engine.corpus),
                      "search_models": list(engine.pipelines), "faults": engine.faults.rates,
                      **(engine.status() if config.refresh_s else {})})

    @app.get("/metrics", summary="Prometheus metrics of this process")
    async def metrics():
        return PlainTextResponse(engine.metrics.text(), media_type="text/plain; version=0.0.4")

    wrapped = FaultMiddleware(app, engine.faults) if engine.faults else app
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        wrapped = CORSMiddleware(wrapped, allow_origins=list(config.cors_origins),
                                 allow_methods=["GET", "POST", "DELETE"], allow_headers=["authorization", "content-type"])
    guarded = Guard(wrapped, metrics=engine.metrics, max_body=config.max_body, max_in_flight=config.max_in_flight,
                    api_key_env=config.api_key_env, bound_host=config.host, allow_hosts=config.allow_hosts,
                    cors_origins=config.cors_origins)
    guarded.engine, guarded.fastapi, guarded.refresher = engine, app, refresher  # for tests and other apps
    return guarded


def app_from_env():
    """The app of a worker process (`uvicorn --factory`): settings from `CLUSTERANK_SERVE_CONFIG`."""
    return create_app(ServerConfig.from_env())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clusterank")
    except PackageNotFoundError:
        return "dev"
