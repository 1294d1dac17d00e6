"""`--device auto|cpu|cuda`, length-sorted batching with tokenization ahead of the model, and the `gpu`
retriever. Without a GPU: `cuda` fails in one line, `auto` is the CPU, and the GPU code paths run on the CPU;
the tests marked `needs_gpu` run where torch sees a CUDA GPU."""

import logging
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from clusterank import ClusterankError, get_embedder  # noqa: E402
from clusterank.cli import main  # noqa: E402
from clusterank.data.loaders import bundled_profiles  # noqa: E402
from clusterank.embed.base import (TokenBatcher, check_device, length_sorted_batches, resolve_device,  # noqa: E402
                                   tokenized_ahead)
from clusterank.embed.local import StaticEmbedder, bundled_minilm_dir  # noqa: E402
from clusterank.embed.st import gpu_batch_rows  # noqa: E402
from clusterank.embed.registry import using_device  # noqa: E402
from clusterank.index import SearchContext, build_retriever  # noqa: E402
from clusterank.index.exact import ExactIndex  # noqa: E402
from clusterank.index.gpu import GpuIndex  # noqa: E402

GPU = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not GPU, reason="needs a CUDA GPU")
without_gpu = pytest.mark.skipif(GPU, reason="what happens on a machine without a GPU")
NO_CUDA = ("error: --device cuda: no CUDA GPU is visible (torch.cuda.is_available() is False); "
           "use --device cpu or auto\n")
LONG = " ".join(["Owns positioning, messaging and go-to-market launches for the enterprise suite."] * 40)
MIXED = ["Recruiter.", LONG, "  Backend engineer: Go, Kubernetes, PostgreSQL on-call  ", "x",
         "Product marketing lead: launch plans, buyer personas and competitive intelligence. " * 3,
         "Data scientist, churn models and A/B tests", LONG + " and pricing", "[SEP] literal special [CLS] tokens"]


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def minilm_cpu(session_home):
    return get_embedder("all-MiniLM-L6-v2", session_home, device="cpu")


@pytest.fixture(scope="module")
def static_vectors(session_home):
    from clusterank.pipeline import SearchPipeline
    from clusterank.data.loaders import bundled_queries

    pipe = SearchPipeline(bundled_profiles(), "minilm-static", workspace=session_home)
    return pipe.vectors, pipe.embed_queries(bundled_queries().texts)


# ---- the device option

@without_gpu
@pytest.mark.parametrize("command", [["search", "launches and positioning", "--n", "50"], ["demo", "--n", "50"],
                                     ["compare", "--n", "50", "--no-maps"]])
def test_cli_device_cuda_without_a_gpu_is_one_line_and_exit_2(workspace, capsys, command):
    code, out, err = run(capsys, *command, "--device", "cuda")
    assert code == 2
    assert err == NO_CUDA
    assert out == ""


def test_cli_unknown_device_is_one_line_and_exit_2(workspace, capsys):
    code, _, err = run(capsys, "search", "launches", "--n", "50", "--device", "tpu")
    assert code == 2
    assert err == "error: --device 'tpu': use one of auto, cpu, cuda\n"


@without_gpu
def test_python_device_cuda_raises_without_a_gpu(session_home):
    from clusterank.embed.local import SentenceTransformerEmbedder
    from clusterank.server.config import ServerConfig

    for name in ("all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "minilm-static"):
        with pytest.raises(ClusterankError, match=r"^--device cuda: no CUDA GPU is visible"):
            get_embedder(name, session_home, device="cuda")
    with pytest.raises(ClusterankError, match="no CUDA GPU is visible"):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2", bundled_minilm_dir(), device="cuda")
    with pytest.raises(ClusterankError, match="no CUDA GPU is visible"):
        with using_device("cuda"):
            pass
    with pytest.raises(ClusterankError, match="no CUDA GPU is visible"):
        ServerConfig(device="cuda").check()
    with pytest.raises(ClusterankError, match=r"^retriever 'gpu:device=cuda': no CUDA GPU is visible"):
        build_retriever("gpu:device=cuda", SearchContext(np.eye(4, dtype=np.float32)))


@without_gpu
def test_auto_is_the_cpu_here(minilm_cpu, session_home):
    assert check_device("AUTO") == "auto" and resolve_device("auto") == "cpu"
    assert get_embedder("paraphrase-MiniLM-L3-v2", session_home).embed(["x"]).shape == (1, 384)
    auto = get_embedder("all-MiniLM-L6-v2", session_home)
    assert auto.device == "cpu"
    assert next(auto._model.parameters()).dtype == torch.float32
    assert auto.batch_rows() == auto.batch_size  # memory sizing is for GPUs


@without_gpu
def test_auto_gives_the_vectors_sentence_transformers_gives(session_home):
    texts = list(bundled_profiles(n=24).texts) + MIXED
    emb = get_embedder("all-MiniLM-L6-v2", session_home, device="auto")
    before = emb._model.encode(texts, batch_size=32, convert_to_numpy=True)  # what embed() called until now
    np.testing.assert_allclose(emb.embed(texts), before, atol=1e-6)


def test_using_device_reaches_get_embedder_and_is_restored(session_home):
    with using_device("cpu") as device:
        assert device == "cpu"
        assert get_embedder("all-MiniLM-L6-v2", session_home).device == "cpu"
    from clusterank.embed.registry import _DEVICE

    assert _DEVICE.get() == "auto"


def test_server_config_carries_the_device_to_compare_jobs():
    from clusterank.server.config import ServerConfig

    assert ServerConfig().corpus_args() == []
    assert ServerConfig(device="cpu").corpus_args() == ["--device", "cpu"]
    ServerConfig(device="cpu").check()


def test_static_model_runs_on_the_cpu_and_says_so_once(static_embedder, session_home, caplog):
    with caplog.at_level(logging.INFO, logger="clusterank.embed"):
        for _ in range(2):
            emb = StaticEmbedder("model2vec-device-test", session_home.models_dir / "minilm-static", device="cuda")
    assert emb.device == "cpu"
    lines = [r.getMessage() for r in caplog.records if "static model" in r.getMessage()]
    assert lines == ["model2vec-device-test is a static model (a token-vector lookup): it runs on the CPU whatever "
                     "the device"]


# ---- length-sorted batching, tokenization ahead

def test_length_sorted_batching_returns_vectors_in_input_order(minilm_cpu):
    texts = MIXED + list(bundled_profiles(n=12).texts)
    alone = np.stack([minilm_cpu.embed([t])[0] for t in texts])  # one text per call: nothing sorted or padded
    minilm_cpu.batch_size = 4  # several batches, each of texts of similar length
    try:
        together = minilm_cpu.embed(texts)
        batches = list(minilm_cpu.embed_batches(texts))
    finally:
        minilm_cpu.batch_size = 32
    np.testing.assert_allclose(together, alone, atol=1e-5)
    positions = [p for b in batches for p in b.positions]
    assert sorted(positions) == list(range(len(texts))) and positions != list(range(len(texts)))
    assert len(texts[positions[0]]) == max(map(len, texts))  # longest first


def test_onnx_model_sorts_too_and_keeps_input_order(session_home):
    emb = get_embedder("paraphrase-MiniLM-L3-v2", session_home, device="cpu")
    texts = MIXED * 2
    alone = np.stack([emb.embed([t])[0] for t in texts])
    emb.batch_size = 3
    np.testing.assert_allclose(emb.embed(texts), alone, atol=1e-5)
    assert emb.device == "cpu"


def test_length_sorted_batches_cover_every_text_once():
    texts = ["a" * n for n in (3, 9, 1, 9, 5, 0, 7)]
    batches = length_sorted_batches(texts, 3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [[len(texts[i]) for i in b] for b in batches] == [[9, 9, 7], [5, 3, 1], [0]]
    assert [int(i) for i in batches[0][:2]] == [1, 3]  # stable: equal lengths keep input order
    assert length_sorted_batches([], 4) == []


def test_tokenized_ahead_runs_in_a_background_thread_in_batch_order():
    texts = [str(i) for i in range(20)]
    batches = length_sorted_batches(texts, 3)
    seen = []

    def tokenize(chunk):
        seen.append(threading.current_thread().name)
        return list(chunk)

    out = list(tokenized_ahead(tokenize, texts, batches, depth=2))
    assert out == [[texts[i] for i in b] for b in batches]
    assert all(name.startswith("clusterank-tokenize") for name in seen)
    early = tokenized_ahead(tokenize, texts, batches)
    next(early)
    early.close()  # a consumer that stops early leaves no thread behind
    assert not [t for t in threading.enumerate() if t.name.startswith("clusterank-tokenize")]


def test_token_batcher_truncates_as_the_tokenizer_does(minilm_cpu):
    hf = minilm_cpu._model.tokenizer
    batcher = TokenBatcher(hf.backend_tokenizer, 32, hf.pad_token_id)
    ids, lens, counts = batcher(MIXED)
    ref = hf(MIXED, truncation=True, max_length=32)["input_ids"]
    assert [list(row[:n]) for row, n in zip(ids, lens)] == ref
    full = [len(x) for x in hf(MIXED)["input_ids"]]
    for text, count, true in zip(MIXED, counts, full):
        if len(text) <= batcher.prefix_chars:
            assert count == true
        else:  # tokenized from a certain prefix: the count is estimated, and still over the limit
            assert count > 32 and abs(count - true) <= 0.25 * true, (count, true)
    assert (ids[np.arange(ids.shape[1])[None, :] >= lens[:, None]] == hf.pad_token_id).all()
    assert list(minilm_cpu.count_tokens(MIXED)) == full  # an explicit count reads the whole text


def test_truncation_warning_counts_every_token_once(minilm_cpu, caplog):
    with caplog.at_level(logging.WARNING, logger="clusterank.embed"):
        minilm_cpu.embed(MIXED)
    assert "all-MiniLM-L6-v2: 2 of 8 texts are longer than its 256-token limit" in caplog.text


def test_gpu_batch_rows_follow_free_memory():
    gib, mib = 2**30, 2**20
    assert gpu_batch_rows(100 * gib, 10 * mib) == 1024  # capped
    assert gpu_batch_rows(1 * gib, 10 * mib) == 32  # half of 1 GiB / 10 MiB = 51 -> 32
    assert gpu_batch_rows(10 * mib, 10 * mib) == 8  # never below 8
    assert gpu_batch_rows(8 * gib, 2 * mib, high=512) == 512


# ---- the gpu retriever (on the CPU here)

@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_gpu_retriever_equals_exact(static_vectors, dtype):
    vectors, queries = static_vectors
    exact = ExactIndex(vectors)
    gpu = build_retriever(f"gpu:dtype={dtype}", SearchContext(vectors))
    assert gpu.spec == f"gpu:dtype={dtype}"
    assert gpu.device == ("cuda" if GPU else "cpu")
    for k in (1, 10):
        got, want = gpu.search(queries, k), exact.search(queries, k)
        assert got.rows.dtype == np.int64 and got.scores.dtype == np.float32
        assert got.rows.shape == want.rows.shape == (len(queries), k)
        np.testing.assert_array_equal(got.rows, want.rows)
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-3 if dtype == "float16" else 1e-5)
    one = gpu.search(queries[0], 5)
    np.testing.assert_array_equal(one.rows, exact.search(queries[0], 5).rows)
    assert gpu.memory_bytes == vectors.size * (2 if dtype == "float16" else 4)


def test_gpu_retriever_edges():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(7, 8)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = GpuIndex(v, device="cpu")
    top = index.search(v, 50)  # k clipped to the corpus
    assert top.rows.shape == (7, 7) and (top.rows[:, 0] == np.arange(7)).all()
    assert np.allclose(top.scores[:, 0], 1.0, atol=1e-3)
    assert GpuIndex(torch.from_numpy(v), device="cpu").search(v[:2], 3).rows.shape == (2, 3)
    with pytest.raises(ClusterankError, match="k must be at least 1"):
        index.search(v, 0)
    with pytest.raises(ClusterankError, match="vectors have 3 dimensions, the index has 8"):
        index.search(np.ones((1, 3), dtype=np.float32), 1)
    with pytest.raises(ClusterankError, match="dtype"):
        build_retriever("gpu:dtype=int4", SearchContext(v))


# ---- on a GPU

@needs_gpu
def test_fp16_on_the_gpu_is_close_to_fp32_on_the_cpu(minilm_cpu, session_home):
    gpu = get_embedder("all-MiniLM-L6-v2", session_home, device="cuda")
    assert gpu.device == "cuda" and next(gpu._model.parameters()).dtype == torch.float16
    assert 8 <= gpu.batch_rows() <= 1024
    texts = MIXED + list(bundled_profiles(n=64).texts)
    a, b = gpu.embed(texts), minilm_cpu.embed(texts)
    assert a.dtype == np.float32 and a.shape == b.shape
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.999


@needs_gpu
def test_auto_is_the_gpu_there(session_home):
    assert resolve_device("auto") == "cuda"
    assert get_embedder("all-MiniLM-L6-v2", session_home).device == "cuda"


@needs_gpu
def test_gpu_retriever_on_cuda_equals_exact(static_vectors):
    vectors, queries = static_vectors
    gpu = GpuIndex(vectors, device="cuda")
    np.testing.assert_array_equal(gpu.search(queries, 10).rows, ExactIndex(vectors).search(queries, 10).rows)
