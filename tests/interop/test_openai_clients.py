"""The real OpenAI SDKs against `clusterank serve` on loopback, with their default settings: the `openai` client
(token-id input, `models.retrieve`) and langchain-openai's `OpenAIEmbeddings`, which sends cl100k_base token ids
rather than text unless told otherwise."""

from __future__ import annotations

import base64

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")
pytest.importorskip("fastapi")

from clusterank import bundled_profiles  # noqa: E402

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(scope="module")
def tiktoken_cache(tmp_path_factory, monkeypatch_module):
    """tiktoken reads cl100k_base from OpenAI's blob store, which this machine cannot reach: its file is written
    from bpe-openai's copy of the same ranks into a tiktoken cache folder. tiktoken checks the file against the
    sha256 it pins, so the test runs on exactly OpenAI's file."""
    import hashlib

    import bpe_openai

    enc = bpe_openai.get_encoding("cl100k_base")
    rows = [base64.b64encode(enc.decode_single_token_bytes(i)) + f" {i}".encode() for i in range(100256)]
    folder = tmp_path_factory.mktemp("tiktoken")
    (folder / hashlib.sha1(CL100K_URL.encode()).hexdigest()).write_bytes(b"\n".join(rows) + b"\n")
    monkeypatch_module.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _text_vectors(server, texts):
    r = httpx.post(server.url + "/v1/embeddings", json={"input": texts, "model": "minilm-static"}, timeout=60)
    assert r.status_code == 200, r.text
    return np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)


def test_the_openai_client_sends_token_ids_and_retrieves_a_model(server, tiktoken_cache):
    import tiktoken

    client = openai.OpenAI(base_url=server.url + "/v1", api_key="not-needed-on-loopback", max_retries=0)
    texts = bundled_profiles().texts[:3]
    enc = tiktoken.get_encoding("cl100k_base")
    by_ids = client.embeddings.create(model="minilm-static", input=[enc.encode(t) for t in texts])
    vectors = np.array([d.embedding for d in by_ids.data], dtype=np.float32)
    assert np.abs(vectors - _text_vectors(server, texts)).max() < 1e-6  # the ids decode to the very same texts
    one = client.embeddings.create(model="minilm-static", input=enc.encode(texts[0]))  # one flat list of ids
    assert len(one.data) == 1 and np.allclose(one.data[0].embedding, vectors[0], atol=1e-6)
    model = client.models.retrieve("minilm-static")
    assert model.id == "minilm-static" and model.object == "model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_langchain_openai_with_its_defaults(server, tiktoken_cache):
    langchain_openai = pytest.importorskip("langchain_openai")
    embeddings = langchain_openai.OpenAIEmbeddings(model="minilm-static", base_url=server.url + "/v1",
                                                   api_key="not-needed-on-loopback", max_retries=0)
    assert embeddings.check_embedding_ctx_length  # the default that sends token ids
    texts = bundled_profiles().texts[3:6]
    documents = np.array(embeddings.embed_documents(texts), dtype=np.float32)
    assert documents.shape == (3, 256)
    assert np.abs(documents - _text_vectors(server, texts)).max() < 1e-5
    query = np.array(embeddings.embed_query("Product marketing manager for a B2B launch"), dtype=np.float32)
    assert np.abs(query - _text_vectors(server, ["Product marketing manager for a B2B launch"])[0]).max() < 1e-5


@pytest.mark.parametrize("body, status, says", [
    ({"input": [[]], "model": "minilm-static"}, 400, "empty list of token ids"),
    ({"input": [[100257]], "model": "minilm-static"}, 422, "input[0][0]: 100257 is not a token id of cl100k_base"),
    ({"input": [[5, -1]], "model": "minilm-static"}, 422, "input[0][1]: -1 is not a token id"),
    ({"input": [[10**9]], "model": "minilm-static"}, 422, "is not a token id"),
])
def test_bad_token_ids_are_a_4xx_naming_the_place(server, body, status, says):
    r = httpx.post(server.url + "/v1/embeddings", json=body, timeout=30)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert says in error["message"] and error["param"] == "input"
