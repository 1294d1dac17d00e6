"""How `api:` says which side a request embeds (`clusterank.embed.providers.SIDES`): the `asymmetric` option
(`input_type`, Jina's `task`, a model suffix, `none`), its default by model id, and the query side's own store key.
The server is a real HTTP server on loopback (`tests/loopback.py`) that records each request's body; a query request
must differ from a passage request of the same texts by the side's field alone."""

from __future__ import annotations

import pytest
from loopback import Loopback

httpx = pytest.importorskip("httpx")

from clusterank.embed.registry import get_embedder  # noqa: E402
from clusterank.errors import ClusterankError  # noqa: E402

TEXTS = ["Data engineer, Spark and Kafka", "Registered nurse, cardiac ward"]


def answer(path, body, headers):
    """Two-number vectors that depend on the text and on every field that could carry the side, so a server that
    embeds the sides differently is what this one looks like."""
    texts = body["input"]
    side = f"{body.get('model')}|{body.get('input_type')}|{body.get('task')}"
    data = [{"object": "embedding", "index": i, "embedding": [1.0 + len(t) % 7, 1.0 + len(side) % 5]}
            for i, t in enumerate(texts)]
    return 200, {"object": "list", "data": data, "usage": {"prompt_tokens": len(texts)}}


@pytest.fixture
def server():
    loop = Loopback(answer)
    yield loop
    loop.close()


def sides(server, name: str) -> tuple[dict, dict, object, object]:
    """(the body of a passage request, the body of a query request of the same texts, the two embedders)."""
    passages = get_embedder(name)
    queries = passages.for_queries()
    passages.embed(TEXTS)
    sent_p = server.requests[-1][2]
    queries.embed(TEXTS)
    sent_q = server.requests[-1][2]
    assert sent_p["input"] == sent_q["input"] == TEXTS
    return sent_p, sent_q, passages, queries


def differing(a: dict, b: dict) -> set[str]:
    """The keys whose values differ between two bodies."""
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


@pytest.mark.parametrize("option, field, passage, query", [
    ("", "input_type", "passage", "query"),  # the default for an E5 model
    (",asymmetric=auto", "input_type", "passage", "query"),
    (",asymmetric=input_type", "input_type", "passage", "query"),
    (",asymmetric=task", "task", "retrieval.passage", "retrieval.query"),
    (",asymmetric=suffix", "model", "multilingual-e5-small-passage", "multilingual-e5-small-query"),
])
def test_each_side_is_one_field(server, option, field, passage, query):
    name = f"api:multilingual-e5-small@{server.url()}"
    sent_p, sent_q, passages, queries = sides(server, name + option)
    assert differing(sent_p, sent_q) == {field}
    assert (sent_p[field], sent_q[field]) == (passage, query)
    assert passages.asymmetric and queries.name == f"{name}#query" != passages.name  # two store keys
    assert passages.name == name  # the option never reaches the name the passages are stored under


def test_the_default_follows_the_model_id(server):
    e5 = get_embedder(f"api:intfloat/e5-base-v2@{server.url()}")
    jina = get_embedder(f"api:jina-embeddings-v3@{server.url()}")
    plain = get_embedder(f"api:all-MiniLM-L6-v2@{server.url()}")
    assert (e5.provider.side_field, e5.input_type) == ("input_type", "passage")
    assert (jina.provider.side_field, jina.input_type) == ("task", "retrieval.passage")
    assert not plain.asymmetric and plain.for_queries() is plain


@pytest.mark.parametrize("model, option", [("multilingual-e5-small", ",asymmetric=none"), ("all-MiniLM-L6-v2", "")])
def test_a_symmetric_model_sends_no_side_and_has_one_key(server, model, option):
    sent_p, sent_q, passages, queries = sides(server, f"api:{model}@{server.url()}{option}")
    assert sent_p == sent_q
    assert not {"input_type", "task"} & sent_p.keys()
    assert queries is passages


@pytest.mark.parametrize("name, words", [
    ("api:m@http://127.0.0.1:9/v1,asymmetric=yes", ["asymmetric='yes' is not valid", "input_type, task, suffix"]),
    ("api:m@http://127.0.0.1:9/v1,asymmetric=", ["asymmetric='' is not valid"]),
    ("openai:text-embedding-3-small,asymmetric=task", ["unknown parameter 'asymmetric'"]),
    ("nvidia:nv-embedqa-e5-v5,asymmetric=none", ["unknown parameter 'asymmetric'"]),
])
def test_a_bad_value_is_one_error_naming_the_option(name, words):
    with pytest.raises(ClusterankError) as err:
        get_embedder(name)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_a_server_refusing_the_field_says_how_to_leave_it_out():
    loop = Loopback([(422, {"detail": [{"loc": ["body", "input_type"], "msg": "extra fields not permitted"}]})])
    try:
        with pytest.raises(ClusterankError) as err:
            get_embedder(f"api:e5-small@{loop.url()}").embed(TEXTS)
    finally:
        loop.close()
    assert "HTTP 422" in str(err.value) and ",asymmetric=none" in str(err.value)
    assert loop.requests[0][2]["input_type"] == "passage"
