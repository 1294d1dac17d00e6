"""The Embedder contract, for every registered backend whose packages are installed here.

The list comes from the registry (`EMBEDDERS`): a new backend joins every test below; a prefix backend needs one
`examples` entry in the registry, or one in `EXAMPLES` here when it needs a fixture (a test fails until it has one). API backends run against a real `clusterank serve` on loopback.
Checked: declared capabilities, shapes, float32, L2-normalised at the store, deterministic, independent of batch
neighbours, empty and huge inputs, ClusterankError for bad input, and `embed --ray` equal to the local vectors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clusterank.data.loaders import Corpus, bundled_profiles
from clusterank.embed.base import Embedder
from clusterank.embed.catalog import CATALOG
from clusterank.embed.registry import EMBEDDERS, get_embedder
from clusterank.embed.store import EmbeddingStore, normalise, text_hash
from clusterank.errors import ClusterankError

sys.path.insert(0, str(Path(__file__).parents[1] / "distributed"))
from test_ray_embed import Cluster, _env, needs_ray  # noqa: E402 (the real loopback cluster of the Ray tests)

TEXTS = bundled_profiles(n=24).texts
"""Enough for three batches of 8 with the real models at their real length (each text is embedded ~6 times here)."""
HUGE = "positioning launches messaging pricing " * 80_000  # ~3.2 MB, one text
PROVIDER_KEYS = {"OPENAI_API_KEY": "k", "NVIDIA_API_KEY": "k", "VOYAGE_API_KEY": "k", "CO_API_KEY": "k"}


def _precomputed(_request) -> tuple[str, tuple]:
    vectors = np.random.default_rng(0).normal(size=(len(TEXTS) + 1, 24)).astype(np.float32)
    table = Corpus(texts=[*TEXTS, HUGE], ids=[str(i) for i in range(len(TEXTS) + 1)], source="conformance",
                   precomputed={"fake-24": vectors})
    return "precomputed:fake-24", (table,)


def _served(prefix: str):
    def example(request) -> tuple[str, tuple]:
        return f"{prefix}:minilm-static@{request.getfixturevalue('server').url}/v1", ()
    return example


def _unserved(request) -> tuple[str, tuple]:
    pytest.skip("`clusterank serve` speaks no Cohere /embed; the same ApiEmbedder is checked through api:")


EXAMPLES = {
    "st:": lambda request: (f"st:{request.getfixturevalue('minilm_dir')}", ()),
    "model2vec:": lambda request: (f"model2vec:{request.getfixturevalue('session_home').models_dir / 'minilm-static'}",
                                   ()),
    "precomputed:": _precomputed,
    "api:": _served("api"), "openai:": _served("openai"), "nvidia:": _served("nvidia"), "voyage:": _served("voyage"),
    "cohere:": _unserved,
}
"""How to name one real model of each prefix backend: (model name, tables for `get_embedder`)."""

INSTALLED = [b for b in EMBEDDERS.values() if not b.missing()]
BACKENDS = [pytest.param(b.name, id=b.name, marks=[pytest.mark.slow] if "torch" in b.needs else [])
            for b in INSTALLED]
LOCAL = [pytest.param(b.name, id=b.name, marks=[pytest.mark.slow]) for b in INSTALLED
         if b.extra != "api" and b.name != "precomputed:"]
_BUILT: dict[str, tuple[Embedder, tuple]] = {}


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from clusterank.embed.local import bundled_minilm_dir

    return bundled_minilm_dir()


@pytest.fixture(autouse=True)
def _provider_keys(monkeypatch):
    for key, value in PROVIDER_KEYS.items():
        monkeypatch.setenv(key, value)


def _model(request, backend: str) -> tuple[str, tuple]:
    if EMBEDDERS[backend].examples:
        return EMBEDDERS[backend].examples[0], ()
    return EXAMPLES[backend](request)


@pytest.fixture
def built(request, session_home, static_embedder) -> tuple[Embedder, tuple]:
    """(the embedder of this backend, its tables), built once per session."""
    backend = request.param
    if backend not in _BUILT:
        name, tables = _model(request, backend)
        _BUILT[backend] = get_embedder(name, session_home, tables=tables, device="cpu"), tables
    return _BUILT[backend]


def test_every_prefix_backend_has_an_example():
    """A prefix backend declares an offline example in the registry, or has one here that needs a fixture (a
    folder, a served URL)."""
    assert sorted(b.name for b in EMBEDDERS.values() if b.is_prefix and not b.examples) == sorted(EXAMPLES)


@pytest.mark.parametrize("built", BACKENDS, indirect=True)
def test_capabilities_are_declared(built):
    emb, _ = built
    backend = next(b for b in EMBEDDERS.values() if emb.name.startswith(b.name))
    assert isinstance(emb, Embedder)
    assert isinstance(emb.name, str) and emb.name and isinstance(emb.dims, int) and emb.dims > 0
    assert isinstance(emb.max_tokens, int) and emb.max_tokens > 0
    if emb.name in CATALOG:  # the catalog is the one source of a known model's facts; the model agrees with it
        assert (emb.dims, emb.max_tokens) == (CATALOG[emb.name].dims, CATALOG[emb.name].max_tokens)
    for capability in ("remote", "paid", "asymmetric"):
        assert isinstance(getattr(emb, capability), bool), capability
    assert emb.remote == (backend.extra == "api")
    twin = emb.for_queries()
    if emb.asymmetric:
        assert twin.name != emb.name and twin.dims == emb.dims and isinstance(twin, type(emb))
    else:
        assert twin is emb


@pytest.mark.parametrize("built", BACKENDS, indirect=True)
def test_vectors_are_float32_of_the_declared_shape_and_deterministic(built):
    emb, _ = built
    first = emb.embed(TEXTS)
    assert first.shape == (len(TEXTS), emb.dims) and first.dtype == np.float32
    assert np.isfinite(first).all() and (np.linalg.norm(first, axis=1) > 0).all()
    np.testing.assert_allclose(emb.embed(TEXTS), first, atol=1e-6)
    # a text's vector does not depend on its batch neighbours: the store caches it by the text alone
    alone = np.vstack([emb.embed([t]) for t in TEXTS[:5]])
    np.testing.assert_allclose(normalise(alone), normalise(first[:5]), atol=1e-5)
    batches = list(emb.embed_batches(TEXTS, 8))
    assert sorted(p for b in batches for p in b.positions) == list(range(len(TEXTS)))
    for b in batches:
        np.testing.assert_allclose(normalise(b.vectors), normalise(first[b.positions]), atol=1e-5)


@pytest.mark.parametrize("built", BACKENDS, indirect=True)
def test_the_store_keeps_them_l2_normalised(built, tmp_path):
    emb, _ = built
    store = EmbeddingStore(tmp_path / "s.sqlite")
    try:
        stored = store.embed(emb, TEXTS)
        assert stored.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1, atol=1e-5)
        np.testing.assert_allclose(stored, normalise(emb.embed(TEXTS)), atol=1e-5)
        kept = [p.name for p in emb.parts] or [emb.name]  # a composite's parts are kept, each under its name
        assert all(store.missing(name, [text_hash(t) for t in TEXTS]) == {} for name in kept)
        assert emb.name not in store.models() or not emb.parts
    finally:
        store.close()


@pytest.mark.parametrize("built", BACKENDS, indirect=True)
def test_empty_input_gives_an_empty_array(built):
    emb, _ = built
    empty = emb.embed([])
    assert empty.shape == (0, emb.dims) and empty.dtype == np.float32
    assert list(emb.embed_batches([])) == []
    assert len(emb.count_tokens([])) == 0


@pytest.mark.parametrize("built", BACKENDS, indirect=True)
def test_one_huge_text_gives_one_vector(built):
    emb, _ = built
    vector = emb.embed([HUGE])
    assert vector.shape == (1, emb.dims) and vector.dtype == np.float32
    assert np.isfinite(vector).all() and np.linalg.norm(vector) > 0


@pytest.mark.parametrize("built", BACKENDS, indirect=True)
def test_token_counts_are_one_int_per_text(built):
    emb, _ = built
    counts = np.asarray(emb.count_tokens(TEXTS[:5]))
    assert counts.shape == (5,) and counts.dtype == np.int64 and (counts > 0).all()


@pytest.mark.parametrize("built", BACKENDS, indirect=True)
@pytest.mark.parametrize("bad", ["", "   ", None, 7])
def test_bad_input_is_a_clusterank_error_and_stores_nothing(built, bad, tmp_path):
    emb, _ = built
    store = EmbeddingStore(tmp_path / "s.sqlite")
    try:
        with pytest.raises(ClusterankError, match="row 2"):
            store.embed(emb, [*TEXTS[:2], bad, TEXTS[3]])
        assert store.count(emb.name) == 0
    finally:
        store.close()


def test_a_text_precomputed_vectors_lack_is_a_clusterank_error():
    name, tables = _precomputed(None)
    with pytest.raises(ClusterankError, match="has no vector for text 0"):
        get_embedder(name, tables=tables).embed(["a text no table holds"])


@pytest.fixture(scope="module")
def one_node_cluster(request):
    """A loopback cluster with one one-CPU worker (two cores here: the models run one at a time)."""
    needs_ray()
    c = Cluster(workers=1)
    request.addfinalizer(c.stop)
    return c


@pytest.mark.parametrize("built", LOCAL, indirect=True)
def test_embed_on_ray_matches_the_local_vectors(built, one_node_cluster, workspace, tmp_path):
    emb, _ = built
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    run = subprocess.run([sys.executable, "-m", "clusterank", "embed", "--model", emb.name, "--corpus", str(corpus),
                          "--ray-address", one_node_cluster.address, "--ray-actors", "1", "--batch-size", "16"],
                         capture_output=True, text=True, timeout=600, env=_env(workspace.root))
    assert run.returncode == 0, run.stderr[-3000:]
    store = EmbeddingStore(workspace.store_path)
    try:
        have = store.lookup(emb.name, [text_hash(t) for t in TEXTS])
    finally:
        store.close()
    assert len(have) == len(TEXTS)
    stored = np.stack([have[text_hash(t)] for t in TEXTS])
    np.testing.assert_allclose(stored, normalise(emb.embed(TEXTS)), atol=1e-5)
