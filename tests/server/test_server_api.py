"""`clusterank serve` over real HTTP on loopback: OpenAI's /v1/embeddings shape, /v1/rerank, /v1/search,
/v1/models, /healthz, /metrics, and a 4xx error body naming the field for every kind of bad request."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from clusterank.data.loaders import bundled_profiles  # noqa: E402
from clusterank.data.synthetic import DEMO_QUERY  # noqa: E402
from clusterank.embed.store import EmbeddingStore  # noqa: E402
from clusterank.pipeline import SearchPipeline  # noqa: E402

PMM = DEMO_QUERY


def post(server, path, body, **kw):
    return httpx.post(server.url + path, json=body, timeout=60, **kw)


def test_embeddings_match_the_in_process_model_in_both_encodings(server, static_embedder, tmp_path):
    texts = bundled_profiles().texts[:40] + ["a brand-new text the cache has never seen"]
    local = EmbeddingStore(tmp_path / "s.sqlite").embed(static_embedder, texts)
    r = post(server, "/v1/embeddings", {"input": texts, "model": "minilm-static"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "minilm-static"
    assert [d["index"] for d in body["data"]] == list(range(len(texts)))
    assert all(d["object"] == "embedding" for d in body["data"])
    vecs = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    assert np.abs(vecs - local).max() < 1e-6
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > len(texts)

    r = post(server, "/v1/embeddings", {"input": texts, "model": "minilm-static", "encoding_format": "base64"})
    decoded = np.vstack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in r.json()["data"]])
    assert np.abs(decoded - local).max() < 1e-6


def test_a_single_string_and_dimensions(server):
    r = post(server, "/v1/embeddings", {"input": "Senior data engineer, Spark and Airflow", "model": "minilm-static",
                                        "dimensions": 64})
    assert r.status_code == 200, r.text
    vec = np.array(r.json()["data"][0]["embedding"])
    assert vec.shape == (64,) and abs(np.linalg.norm(vec) - 1) < 1e-5


def test_embeddings_are_cached_and_counted_in_metrics(server):
    text = "A metrics probe text about a product marketing manager"
    for _ in range(2):
        assert post(server, "/v1/embeddings", {"input": [text], "model": "minilm-static"}).status_code == 200
    metrics = httpx.get(server.url + "/metrics").text
    assert 'clusterank_requests_total{path="/v1/embeddings",status="200"' in metrics
    assert "clusterank_request_seconds_bucket" in metrics
    hits = [line for line in metrics.splitlines() if line.startswith('clusterank_cache_hits_total{model="minilm-static"')]
    assert hits and float(hits[0].split()[-1]) >= 1


def test_models_and_healthz(server):
    models = httpx.get(server.url + "/v1/models").json()
    cards = {m["id"]: m for m in models["data"]}
    assert models["object"] == "list"
    assert cards["minilm-static"]["search"] is True and cards["minilm-static"]["dims"] == 256
    assert all(m["object"] == "model" for m in models["data"])
    health = httpx.get(server.url + "/healthz").json()
    assert health["status"] == "ok" and health["profiles"] == 6904 and health["search_models"] == ["minilm-static"]


def test_search_returns_seed_style_hits_with_timings(server, session_home):
    r = post(server, "/v1/search", {"query": PMM, "k": 5, "retriever": "routed:nprobe=auto"})
    assert r.status_code == 200, r.text
    body = r.json()
    hits = body["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    local = SearchPipeline(bundled_profiles(), workspace=session_home).search(PMM, 5, retriever="routed:nprobe=auto")
    assert [h["row"] for h in hits] == [h.row for h in local]
    assert [h["role"] for h in hits] == [h.role for h in local]
    for h in hits:
        assert h["similarity_percent"] == pytest.approx((h["cosine"] + 1) / 2 * 100, abs=0.01)
        assert isinstance(h["cluster"], int) and h["preview"]
    assert set(body["timings_ms"]) == {"embed_ms", "retrieve_ms", "rerank_ms"}


def test_search_retrievers_filters_vectors_and_rerankers(server):
    exact = post(server, "/v1/search", {"query": PMM, "k": 10, "retriever": "exact"}).json()["hits"]
    routed = post(server, "/v1/search", {"query": PMM, "k": 10, "retriever": "routed:nprobe=1"}).json()["hits"]
    assert len({h["cluster"] for h in routed}) == 1  # one cluster searched
    assert [h["row"] for h in routed] != [h["row"] for h in exact] or len({h["cluster"] for h in exact}) == 1

    family = post(server, "/v1/search", {"query": PMM, "k": 10, "filters": {"family": "Engineering"}}).json()["hits"]
    assert len(family) == 10
    profiles = bundled_profiles()
    assert {profiles.frame["family"][h["row"]] for h in family} == {"Engineering"}
    role = post(server, "/v1/search", {"query": PMM, "k": 3, "filters": {"role": "Product Manager"}}).json()["hits"]
    assert {h["role"] for h in role} == {"Product Manager"}

    vector = post(server, "/v1/embeddings", {"input": PMM, "model": "minilm-static"}).json()["data"][0]["embedding"]
    by_vector = post(server, "/v1/search", {"vector": vector, "k": 10, "retriever": "exact"}).json()["hits"]
    assert [h["row"] for h in by_vector] == [h["row"] for h in exact]

    reranked = post(server, "/v1/search", {"query": PMM, "k": 5, "reranker": "rescore:minilm-static",
                                           "rerank_top": 10, "return_text": True}).json()
    assert reranked["reranker"] == "rescore:minilm-static"
    assert all(h["rerank_score"] is not None and h["text"] for h in reranked["hits"])


def test_rerank_in_cohere_shape(server):
    docs = ["I sell shoes in a retail store", "Data engineer: Spark, Airflow, dbt pipelines",
            {"text": "Bakery owner and pastry chef"}]
    r = post(server, "/v1/rerank", {"query": "data engineer with Spark", "documents": docs, "top_n": 2,
                                    "return_documents": True})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 2 and results[0]["index"] == 1
    assert results[0]["document"] == {"text": docs[1]}
    assert results[0]["relevance_score"] >= results[1]["relevance_score"]


BAD = [
    ("/v1/embeddings", {"input": "", "model": "minilm-static"}, 400, "input"),
    ("/v1/embeddings", {"input": [], "model": "minilm-static"}, 400, "input"),
    ("/v1/embeddings", {"input": ["fine", "  "], "model": "minilm-static"}, 400, "input[1]"),
    ("/v1/embeddings", {"input": ["w"] * 3000, "model": "minilm-static"}, 413, "input"),
    ("/v1/embeddings", {"input": "x", "model": "no-such-model"}, 404, "model"),
    ("/v1/embeddings", {"input": "x", "model": "minilm-static", "dimensions": 999}, 400, "dimensions"),
    ("/v1/embeddings", {"input": "x", "model": "minilm-static", "dimensions": 0}, 422, "dimensions"),
    ("/v1/embeddings", {"input": "x", "model": "minilm-static", "encoding_format": "int8"}, 422, "encoding_format"),
    ("/v1/embeddings", {"input": 5, "model": "minilm-static"}, 422, "input"),
    ("/v1/embeddings", {"input": [1.5, 2], "model": "minilm-static"}, 422, "input"),  # ints are token ids
    ("/v1/embeddings", {"model": "minilm-static"}, 422, "input"),
    ("/v1/embeddings", {"input": "x", "model": ["minilm-static"]}, 422, "model"),
    ("/v1/search", {"query": "   "}, 400, "query"),
    ("/v1/search", {}, 400, "query"),
    ("/v1/search", {"query": "x", "k": 0}, 422, "k"),
    ("/v1/search", {"query": "x", "k": 10**9}, 422, "k"),
    ("/v1/search", {"query": "x", "retriever": "warp-drive"}, 400, "retriever"),
    ("/v1/search", {"query": "x", "retriever": "routed:nprobe=-1"}, 400, "retriever"),
    ("/v1/search", {"query": "x", "reranker": "cross-encoder:/etc/passwd"}, 400, "reranker"),
    ("/v1/search", {"query": "x", "model": "all-mpnet-base-v2"}, 404, "model"),
    ("/v1/search", {"vector": [0.1, 0.2]}, 400, "vector"),
    ("/v1/search", {"query": "x", "filters": {"role": "Astronaut"}}, 400, "filters"),
    ("/v1/search", {"query": "x", "filters": {"path": "/etc"}}, 422, "filters.path"),
    ("/v1/rerank", {"query": "x", "documents": []}, 400, "documents"),
    ("/v1/rerank", {"query": "x", "documents": ["a"], "model": "llm-pairwise"}, 400, "model"),  # the field that names it here
]


@pytest.mark.parametrize("path,body,status,param", BAD, ids=[f"{p}-{s}-{q}" for p, _, s, q in BAD])
def test_bad_requests_get_a_4xx_naming_the_field(server, path, body, status, param):
    r = post(server, path, body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == param
    assert error["message"] and error["type"]
    assert "Traceback" not in r.text


@pytest.mark.parametrize("content,status", [(b'{"input": ', 400), (b"not json at all", 400), (b"[1, 2]", 422),
                                             (b'{"input": "x", "model": "minilm-static"}', 200)])
def test_raw_bodies(server, content, status):
    r = httpx.post(server.url + "/v1/embeddings", content=content, headers={"content-type": "application/json"},
                   timeout=30)
    assert r.status_code == status, r.text
    if status != 200:
        assert "error" in r.json()
    # the same without a JSON content type (curl -d says form data) is refused: it is what a cross-site form sends
    r = httpx.post(server.url + "/v1/embeddings", content=content, timeout=30)
    assert r.status_code == 415 and r.json()["error"]["param"] == "content-type"


def test_oversized_bodies_are_refused_before_parsing(server):
    big = b'{"input": "' + b"a" * (10 * 1024 * 1024) + b'", "model": "minilm-static"}'
    r = httpx.post(server.url + "/v1/embeddings", content=big, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "at most" in r.json()["error"]["message"]

    def chunks():  # no content-length: the limit holds on a streamed body too
        for _ in range(12):
            yield b"a" * (1024 * 1024)
    r = httpx.post(server.url + "/v1/embeddings", content=chunks(), headers={"content-type": "application/json"},
                   timeout=60)
    assert r.status_code == 413


def test_unknown_paths_and_methods_answer_in_the_error_shape(server):
    r = httpx.get(server.url + "/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    r = httpx.get(server.url + "/v1/embeddings")
    assert r.status_code == 405 and "error" in r.json()
    assert "access-control-allow-origin" not in httpx.options(
        server.url + "/v1/search", headers={"origin": "http://evil.example", "access-control-request-method": "POST"}
    ).headers  # CORS is off by default


def test_openapi_schema_is_served_without_cdn_pages(server):
    spec = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/embeddings", "/v1/rerank", "/v1/search", "/v1/models"} <= set(spec["paths"])
    assert httpx.get(server.url + "/docs").status_code == 404  # FastAPI's page loads Swagger UI from a CDN
    json.dumps(spec)


def test_page_data_endpoints(server):
    options = httpx.get(server.url + "/v1/options").json()
    assert options["models"] == ["minilm-static"] and "role" in options["retrievers"]
    assert "Product Marketing Manager" in options["roles"] and "Marketing" in options["families"]
    assert options["example"] == PMM and options["can_compare"] is True
    mapped = httpx.get(server.url + "/v1/map", timeout=60).json()
    assert len(mapped["x"]) == len(mapped["hover"]) == 6904 and len(mapped["cluster_names"]) == 10
    hit = post(server, "/v1/search", {"query": PMM, "k": 1}).json()
    assert len(hit["map_xy"]) == 2  # once the map exists, each search says where the query lands on it
    profile = httpx.get(server.url + f"/v1/profiles/{hit['hits'][0]['row']}").json()
    assert profile["name"] == hit["hits"][0]["name"] and profile["fields"]["Headline"] == hit["hits"][0]["headline"]
    assert httpx.get(server.url + "/v1/profiles/6904").status_code == 404
    assert httpx.get(server.url + "/v1/profiles/-1").status_code == 404
    assert httpx.get(server.url + "/v1/profiles/abc").status_code == 422


def test_page_files_and_no_path_from_a_request(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert httpx.get(server.url + "/static/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(server.url + "/static/plotly.min.js").status_code == 200
    for path in ("/static/engine.py", "/static/..%2Fapp.py", "/static/%2e%2e%2f%2e%2e%2fprices.toml",
                 "/reports/..%2F..%2Fembeddings.sqlite", "/v1/jobs/..%2F..%2Fembeddings"):
        r = httpx.get(server.url + path)
        assert r.status_code == 404 and "error" in r.json(), path


def test_reports_are_served_from_the_workspace(server, session_home):
    r = httpx.get(server.url + "/reports/cost")
    if not session_home.latest_report_path("cost").exists():
        assert r.status_code == 404 and "clusterank cost" in r.json()["error"]["message"]
    session_home.latest_report_path("cost").write_text("<html><body>cost page</body></html>")
    assert "cost page" in httpx.get(server.url + "/reports/cost").text


def test_compare_jobs_refuse_what_they_cannot_run(server):
    r = post(server, "/v1/jobs/compare", {"models": ["st:/etc"]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "models"
    assert post(server, "/v1/jobs/compare", {"models": []}).status_code == 422
    assert httpx.get(server.url + "/v1/jobs/000000000000").status_code == 404


@pytest.mark.slow
def test_a_compare_job_runs_to_a_report(server):
    import time

    job = post(server, "/v1/jobs/compare", {"models": ["minilm-static"]})
    assert job.status_code == 202, job.text
    job_id, seen = job.json()["id"], set()
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        state = httpx.get(server.url + f"/v1/jobs/{job_id}").json()
        seen.add(round(state["progress"], 1))
        if state["state"] != "running":
            break
        time.sleep(0.5)
    assert state["state"] == "done", state
    assert state["progress"] == 1.0 and state["report"] == "/reports/compare"
    assert "minilm-static" in httpx.get(server.url + "/reports/compare").text
