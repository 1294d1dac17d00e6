"""litellm (its `openai/` and `jina_ai/` embedding routes and its `cohere/` rerank, which calls `/v2/rerank`) and
llama-index's `OpenAIEmbedding` against `clusterank serve` on loopback, with their default settings: each gets the
vectors and scores clusterank's own endpoints give."""

from __future__ import annotations

import os

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

TEXTS = ["Product marketing manager: positioning, messaging and launches", "Registered nurse, cardiac ward"]
DOCS = ["Payroll clerk processing salaries", "Product Marketing Manager owning positioning and launches",
        "Nurse on a surgical ward"]


@pytest.fixture(scope="module")
def litellm():
    """litellm with its bundled model-price map (it would fetch the newest from GitHub on import otherwise)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return pytest.importorskip("litellm")


def _vectors(server, texts):
    r = httpx.post(server.url + "/v1/embeddings", json={"input": texts, "model": "minilm-static"}, timeout=60)
    assert r.status_code == 200, r.text
    return np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)


@pytest.mark.parametrize("route", ["openai", "jina_ai"])
def test_litellm_embedding_routes(server, litellm, route):
    response = litellm.embedding(model=f"{route}/minilm-static", api_base=server.url + "/v1",
                                 api_key="not-needed-on-loopback", input=TEXTS)
    got = np.array([d["embedding"] for d in response.data], dtype=np.float32)
    assert got.shape == (2, 256)
    assert np.abs(got - _vectors(server, TEXTS)).max() < 1e-6
    assert response.usage.prompt_tokens > 0


def test_litellm_cohere_rerank_calls_v2(server, litellm):
    response = litellm.rerank(model="cohere/rescore:minilm-static", api_base=server.url,
                              api_key="not-needed-on-loopback", query=TEXTS[0], documents=DOCS, top_n=2)
    direct = httpx.post(server.url + "/v2/rerank", json={"model": "rescore:minilm-static", "query": TEXTS[0],
                                                         "documents": DOCS, "top_n": 2}, timeout=60).json()
    assert [r["index"] for r in response.results] == [r["index"] for r in direct["results"]]
    assert response.results[0]["index"] == 1
    assert all(0 <= r["relevance_score"] <= 1 for r in response.results)
    assert [r["relevance_score"] for r in response.results] == pytest.approx(
        [r["relevance_score"] for r in direct["results"]])


def test_llama_index_openai_embedding(server):
    openai_embedding = pytest.importorskip("llama_index.embeddings.openai")
    model = openai_embedding.OpenAIEmbedding(model_name="minilm-static", api_base=server.url + "/v1",
                                             api_key="not-needed-on-loopback", max_retries=0)
    documents = np.array(model.get_text_embedding_batch(TEXTS), dtype=np.float32)
    assert np.abs(documents - _vectors(server, TEXTS)).max() < 1e-6
    query = np.array(model.get_query_embedding(TEXTS[1]), dtype=np.float32)
    assert np.abs(query - _vectors(server, [TEXTS[1]])[0]).max() < 1e-6
