"""The real rerank SDKs against `clusterank serve`: Cohere's v2 client (`/v2/rerank`) and v1 client
(`/v1/rerank`), and Voyage's (`top_k` in, `data` out); relevance scores in [0, 1], best first, the same order for
every client."""

from __future__ import annotations

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

QUERY = "Product marketing manager: positioning, messaging and launches for a B2B product"
DOCS = ["Payroll clerk processing salaries and tax forms",
        "Product Marketing Manager owning positioning, messaging and go-to-market launches",
        "Nurse on a surgical ward",
        "Product Manager owning the roadmap and discovery with engineers"]


@pytest.fixture(scope="module")
def expected(server):
    r = httpx.post(server.url + "/v1/rerank", json={"query": QUERY, "documents": DOCS}, timeout=120)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert all(0.0 <= x["relevance_score"] <= 1.0 for x in results)  # a cosine c is reported as (c + 1) / 2
    scores = [x["relevance_score"] for x in results]
    assert scores == sorted(scores, reverse=True) and results[0]["index"] == 1
    return [(x["index"], x["relevance_score"]) for x in results]


def test_cohere_v2_client(server, expected):
    cohere = pytest.importorskip("cohere")
    client = cohere.ClientV2(api_key="not-needed-on-loopback", base_url=server.url)
    response = client.rerank(model="rescore:minilm-static", query=QUERY, documents=DOCS, top_n=3)
    assert [(r.index, pytest.approx(r.relevance_score)) for r in response.results] == expected[:3]


def test_cohere_v1_client(server, expected):
    cohere = pytest.importorskip("cohere")
    client = cohere.Client(api_key="not-needed-on-loopback", base_url=server.url)
    response = client.rerank(model="rescore:minilm-static", query=QUERY, documents=DOCS)
    assert [(r.index, pytest.approx(r.relevance_score)) for r in response.results] == expected


def test_voyage_client(server, expected):
    voyageai = pytest.importorskip("voyageai")
    client = voyageai.Client(api_key="not-needed-on-loopback", max_retries=0, base_url=server.url + "/v1")
    response = client.rerank(QUERY, DOCS, model="rescore:minilm-static", top_k=2)
    assert [(r.index, pytest.approx(r.relevance_score)) for r in response.results] == expected[:2]
    assert response.results[0].document == DOCS[expected[0][0]]


def test_an_unknown_reranker_names_the_model_field(server):
    for path in ("/v1/rerank", "/v2/rerank"):
        r = httpx.post(server.url + path, json={"query": QUERY, "documents": DOCS, "model": "no-such"}, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["param"] == "model", r.text


def test_voyage_embed_output_dimension_is_honoured_or_refused_by_name(server):
    """Voyage's `output_dimension` cuts the vectors (as OpenAI's `dimensions` does); `output_dtype` other than float
    and `truncation=False` are refused naming the field, never silently ignored."""
    import numpy as np

    voyageai = pytest.importorskip("voyageai")
    client = voyageai.Client(api_key="not-needed-on-loopback", max_retries=0, base_url=server.url + "/v1")
    cut = client.embed(DOCS[:2], model="minilm-static", input_type="document", output_dimension=64).embeddings
    direct = httpx.post(server.url + "/v1/embeddings", json={"input": DOCS[:2], "model": "minilm-static",
                                                              "dimensions": 64}, timeout=60).json()["data"]
    assert [len(v) for v in cut] == [64, 64]
    assert np.allclose(cut, [d["embedding"] for d in direct], atol=1e-6)
    for field, value, says in [("output_dtype", "int8", "output_dtype"), ("truncation", False, "truncation=false"),
                               ("output_dimension", 4096, "output_dimension=4096")]:
        r = httpx.post(server.url + "/v1/embeddings", json={"input": DOCS[:1], "model": "minilm-static",
                                                             field: value}, timeout=60)
        assert r.status_code in (400, 422), r.text
        error = r.json()["error"]
        assert error["param"] == field and says.split("=")[0] in error["message"], error
    with pytest.raises(voyageai.error.VoyageError, match="output_dtype"):
        client.embed(DOCS[:1], model="minilm-static", output_dtype="int8")
