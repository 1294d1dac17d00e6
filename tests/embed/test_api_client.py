"""The HTTP embedding client against a real `clusterank serve` on loopback: equal vectors, resumable jobs that
never pay twice, faults that end in the right vectors or one clear error, and a cache that never holds a bad
vector. Provider shapes (NVIDIA, Voyage, Cohere) are exercised against real loopback servers."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from loopback import Loopback

httpx = pytest.importorskip("httpx")

from clusterank.data.loaders import bundled_profiles  # noqa: E402
from clusterank.embed import get_embedder  # noqa: E402
from clusterank.embed.api import RateLimiter, estimate_tokens, retry_after  # noqa: E402
from clusterank.embed.batching import RequestQueue  # noqa: E402
from clusterank.embed.base import query_embedder  # noqa: E402
from clusterank.embed.store import EmbeddingStore, text_hash  # noqa: E402
from clusterank.errors import ClusterankError  # noqa: E402

TEXTS = bundled_profiles().texts[:400]
ROW_OF = {text_hash(t): i for i, t in enumerate(TEXTS)}


@pytest.fixture(scope="module")
def local(static_embedder, tmp_path_factory):
    """The in-process vectors of TEXTS: what every API job must end with."""
    return EmbeddingStore(tmp_path_factory.mktemp("local") / "s.sqlite").embed(static_embedder, TEXTS)


def client(url: str, *, batch: int = 50, timeout: float = 10, retries: int = 6, model: str = "minilm-static",
           prefix: str = "api"):
    emb = get_embedder(f"{prefix}:{model}@{url}")
    emb.provider = replace(emb.provider, max_inputs=batch)
    emb.batch = batch  # as `,batch=<batch>` would: these tests count requests of a known size
    emb.timeout, emb.max_retries, emb.backoff = timeout, retries, 0.01
    return emb


def assert_cache_holds_only_right_vectors(store: EmbeddingStore, model: str, local: np.ndarray) -> int:
    """Every vector stored for `model` equals the in-process one of its text; returns how many there are."""
    rows = store.lookup(model, list(ROW_OF))
    for h, vec in rows.items():
        assert vec.shape == local[0].shape and np.abs(vec - local[ROW_OF[h]]).max() < 1e-6
    return len(rows)


def test_client_vectors_equal_the_in_process_model(server, local, tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    emb = client(server.api)
    vecs = store.embed(emb, TEXTS)
    assert np.abs(vecs - local).max() < 1e-6
    billed = store.billed(emb.name)
    assert billed["texts"] == len(TEXTS) and billed["requests"] == len(TEXTS) // 50
    assert billed["tokens"] == emb.billed_tokens > len(TEXTS)
    again = client(server.api)
    store.embed(again, TEXTS)
    assert again.requests == 0  # everything from the cache: no call, nothing billed twice
    assert store.billed(emb.name) == billed


def test_an_interrupted_job_resumes_and_pays_each_batch_once(server, local, tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    emb = client(server.api, batch=20)
    emb.concurrency = 1
    real_post, calls = emb._post, []

    def post_then_interrupt(texts):
        calls.append(len(texts))
        if len(calls) == 5:  # the probe, then three batches, then Ctrl-C
            raise KeyboardInterrupt
        return real_post(texts)

    emb._post = post_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        store.embed(emb, TEXTS)
    assert store.count(emb.name) == 60
    resumed = client(server.api, batch=20)
    vecs = store.embed(resumed, TEXTS)
    assert np.abs(vecs - local).max() < 1e-6
    assert resumed.requests == 1 + (len(TEXTS) - 60) // 20  # the probe and the missing batches only
    assert store.billed(emb.name)["requests"] == len(TEXTS) // 20


def test_ctrl_c_keeps_every_request_already_paid_for(server, local, tmp_path):
    import os
    import signal

    store = EmbeddingStore(tmp_path / "s.sqlite")
    emb = client(server.api, batch=20)
    emb._dims = 256
    real_post, answered = emb._post, []

    def slow_post(texts):
        time.sleep(0.4)
        result = real_post(texts)
        answered.append(len(texts))
        return result

    emb._post = slow_post
    # a background job of a non-interactive shell (as CI may run us) inherits SIGINT ignored: restore Ctrl-C
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            store.embed(emb, TEXTS)
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert 0 < len(answered) < len(TEXTS) // 20
    assert store.billed(emb.name)["requests"] == len(answered)  # each answered request is stored: none lost
    assert store.count(emb.name) == sum(answered)
    assert assert_cache_holds_only_right_vectors(store, emb.name, local) == sum(answered)


def test_faults_end_in_the_right_vectors_or_one_clear_error(faulty_server, local, tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    outcomes, requests = [], []
    for attempt in range(3):
        emb = client(faulty_server.api, batch=25, timeout=1.0, retries=8)
        try:
            vecs = store.embed(emb, TEXTS)
        except ClusterankError as exc:
            outcomes.append(str(exc))
            # retries used up, or one input (the dimension probe, or a batch split down to one) timed out alone
            assert ("failed 9 times" in str(exc) or "timeout=" in str(exc)) and "\n" not in str(exc)
        else:
            outcomes.append("ok")
            assert np.abs(vecs - local).max() < 1e-6
        requests.append(emb.requests)
    assert "ok" in outcomes
    assert sum(requests) > len(requests) + len(TEXTS) // 25  # the faults forced retries (a probe per attempt)
    assert assert_cache_holds_only_right_vectors(store, emb.name, local) == len(TEXTS)
    got = store.embed(client(faulty_server.api, batch=25, timeout=1.0, retries=8), TEXTS)
    assert np.abs(got - local).max() < 1e-6


def test_every_stored_vector_is_correct_after_a_fault_storm_with_no_retries(faulty_server, local, tmp_path):
    store = EmbeddingStore(tmp_path / "s.sqlite")
    errors = 0
    for _ in range(12):
        emb = client(faulty_server.api, batch=10, timeout=1.0, retries=0)
        emb.concurrency, emb._dims = 2, 256
        try:
            store.embed(emb, TEXTS[:200])
        except ClusterankError as exc:
            errors += 1
            assert "failed 1 times; last:" in str(exc)
    assert errors >= 1  # a 20-request job with no retries meets a fault
    assert assert_cache_holds_only_right_vectors(store, emb.name, local) > 0


def test_errors_that_retrying_cannot_fix_fail_at_once(server, tmp_path):
    emb = client(server.api, model="no-such-model")
    emb._dims = 256
    with pytest.raises(ClusterankError, match="HTTP 404.*no-such-model"):
        EmbeddingStore(tmp_path / "s.sqlite").embed(emb, ["one text"])
    assert emb.requests == 1


def test_unreachable_server_is_one_error_after_bounded_retries(tmp_path):
    from conftest import free_port

    emb = client(f"http://127.0.0.1:{free_port()}/v1", retries=2)
    emb._dims = 256
    t = time.monotonic()
    with pytest.raises(ClusterankError, match="failed 3 times; last: connection failed"):
        EmbeddingStore(tmp_path / "s.sqlite").embed(emb, ["one text"])
    assert time.monotonic() - t < 30


def test_hosted_apis_need_their_key_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ClusterankError, match="OPENAI_API_KEY"):
        get_embedder("openai:text-embedding-3-small").embed(["x"])


def test_nvidia_and_voyage_shapes_against_an_openai_compatible_server(server, local, tmp_path, monkeypatch):
    monkeypatch.setenv("NVIDIA_API_KEY", "nv-test-key")
    monkeypatch.setenv("VOYAGE_API_KEY", "voyage-test-key")
    store = EmbeddingStore(tmp_path / "s.sqlite")
    for prefix in ("nvidia", "voyage"):
        emb = client(server.api, prefix=prefix)
        assert np.abs(store.embed(emb, TEXTS[:60]) - local[:60]).max() < 1e-6
        queries = query_embedder(emb)
        assert queries.name == f"{emb.name}#query" and queries.input_type == emb.provider.input_types[1]
        store.embed(queries, ["a job description"])
        assert store.count(queries.name) == 1  # queries filed apart from documents (asymmetric models)


def test_cohere_adapter_against_a_cohere_shaped_server(server, local, tmp_path, monkeypatch):
    monkeypatch.setenv("CO_API_KEY", "co-test-key")

    def cohere(path, body, headers):
        """Cohere's v2 /embed, answering with vectors from `clusterank serve` (real model output)."""
        r = httpx.post(server.api + "/embeddings", json={"input": body["texts"], "model": body["model"]})
        vectors = [d["embedding"] for d in r.json()["data"]]
        return 200, {"id": "x", "embeddings": {"float": vectors}, "texts": body["texts"],
                     "meta": {"billed_units": {"input_tokens": 7 * len(vectors)}}}

    cohere_server = Loopback(cohere)
    try:
        store = EmbeddingStore(tmp_path / "s.sqlite")
        emb = client(cohere_server.url(path=""), prefix="cohere", batch=96)
        emb.provider = replace(emb.provider, base_url="")
        vecs = store.embed(emb, TEXTS[:150])
        assert np.abs(vecs - local[:150]).max() < 1e-6
        assert store.billed(emb.name)["tokens"] == 7 * 150
        _, headers, request = cohere_server.requests[-1]
        assert {k.lower(): v for k, v in headers.items()}["authorization"] == "Bearer co-test-key"
        assert request["input_type"] == "search_document"
        assert request["embedding_types"] == ["float"] and len(request["texts"]) <= 96
        store.embed(query_embedder(emb), ["a job description"])
        assert cohere_server.requests[-1][2]["input_type"] == "search_query"
    finally:
        cohere_server.close()


def test_requests_are_packed_under_both_limits():
    texts = ["word " * 100] * 10 + ["short"] * 5
    queue = RequestQueue([estimate_tokens(t) for t in texts], max_tokens=400)
    groups = list(iter(lambda: queue.take(4), None))
    assert [i for g in groups for i in g] == list(range(15))
    for g in groups:
        assert len(g) <= 4
        assert sum(estimate_tokens(texts[i]) for i in g) <= 400 or len(g) == 1


def test_rate_limiter_holds_requests_and_tokens_per_window():
    limiter = RateLimiter(rpm=3, tpm=None, window=0.5)
    t = time.monotonic()
    for _ in range(6):
        limiter.acquire(1)
    assert time.monotonic() - t >= 0.45  # the fourth request waited for the window
    limiter = RateLimiter(rpm=None, tpm=100, window=0.4)
    t = time.monotonic()
    limiter.acquire(80)
    limiter.acquire(80)
    assert time.monotonic() - t >= 0.35


def test_retry_after_headers():
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({}) is None
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None


def test_per_token_vectors_stop_at_once_and_say_the_server_must_pool(tmp_path):
    """What llama.cpp's server answers without `--pooling`: each input's vectors per token. Retrying gets the same
    answer, so the client stops after one request and says what to change."""
    per_token = {"object": "list", "model": "m", "usage": {"prompt_tokens": 3, "total_tokens": 3},
                 "data": [{"object": "embedding", "index": 0, "embedding": [[0.1] * 8, [0.2] * 8, [0.3] * 8]}]}
    server = Loopback([(200, per_token)])
    emb = client(server.url(), retries=6, model="m")
    with pytest.raises(ClusterankError, match="3 vectors of 8 numbers, one per token.*does not pool.*--pooling mean"):
        EmbeddingStore(tmp_path / "s.sqlite").embed(emb, ["one text"])
    assert len(server.requests) == 1  # not retried
