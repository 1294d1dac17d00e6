"""The chat client and LLM judge against a real HTTP server on loopback."""

import math

import pytest

from clusterank import ClusterankError
from clusterank.rerank.llm import ChatClient, LLMJudge, choice_probability


def logprob_reply(pa, pb, tokens=(120, 1)):
    return {"choices": [{"message": {"content": "A"}, "logprobs": {"content": [{"token": "A", "logprob": math.log(pa),
            "top_logprobs": [{"token": "A", "logprob": math.log(pa)}, {"token": " B", "logprob": math.log(pb)},
                             {"token": "The", "logprob": -9.0}]}]}}],
            "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}}


@pytest.fixture
def serve(loopbacks):
    """Loopback servers answering from a list of (status, body, headers) (the last one repeated)."""
    return loopbacks


def test_retries_429_then_reads_logprobs(serve, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-secret")
    srv = serve([(429, {"error": "slow down"}, {"Retry-After": "0"}), (200, logprob_reply(0.8, 0.2), {})])
    client = ChatClient(srv.url(), "judge-model", api_key_env="TEST_LLM_KEY", backoff=0.01)
    reply = client.complete([{"role": "user", "content": "hi"}])
    assert len(srv.requests) == 2
    path, headers, body = srv.requests[-1]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-secret"
    assert body["model"] == "judge-model" and body["logprobs"] is True and body["max_tokens"] == 1
    assert choice_probability(reply) == (pytest.approx(0.8), "logprobs")


def test_server_errors_exhaust_retries_with_one_line(serve):
    srv = serve([(503, {"error": "overloaded"}, {})])
    client = ChatClient(srv.url(), "m", max_tries=3, backoff=0.01)
    with pytest.raises(ClusterankError, match=r"failed after 3 tries \(HTTP 503"):
        client.complete([{"role": "user", "content": "hi"}])
    assert len(srv.requests) == 3


def test_client_errors_are_not_retried(serve):
    srv = serve([(401, {"error": "bad key"}, {})])
    with pytest.raises(ClusterankError, match=r"refused the request \(HTTP 401"):
        ChatClient(srv.url(), "m", backoff=0.01).complete([{"role": "user", "content": "hi"}])
    assert len(srv.requests) == 1


def test_unreachable_server(tmp_path):
    client = ChatClient("http://127.0.0.1:9/v1", "m", max_tries=2, backoff=0.01, timeout=2)
    with pytest.raises(ClusterankError, match="failed after 2 tries"):
        client.complete([{"role": "user", "content": "hi"}])


def test_text_answers_when_there_are_no_logprobs():
    assert choice_probability({"choices": [{"message": {"content": " B"}}]}) == (0.0, "text")
    assert choice_probability({"choices": [{"message": {"content": "A."}}]}) == (1.0, "text")
    assert choice_probability({"choices": [{"message": {"content": "maybe"}}]}) == (0.5, "text")


def test_judge_counts_tokens_and_caches(serve, tmp_path):
    srv = serve([(200, logprob_reply(0.3, 0.7, tokens=(200, 1)), {})])
    judge = LLMJudge(ChatClient(srv.url(), "m", backoff=0.01), tmp_path / "cache.sqlite")
    assert not judge.cached("job", "alice", "bob")
    assert judge.prob_first("job", "alice", "bob") == pytest.approx(0.3)
    assert judge.cached("job", "alice", "bob") and not judge.cached("job", "bob", "alice")
    assert judge.prob_first("job", "alice", "bob") == pytest.approx(0.3)
    assert len(srv.requests) == 1 and judge.stats.calls == 1 and judge.stats.cached == 1
    assert judge.stats.prompt_tokens == 200 and judge.stats.completion_tokens == 1
    again = LLMJudge(ChatClient(srv.url(), "m"), tmp_path / "cache.sqlite")  # the cache outlives the process
    assert again.prob_first("job", "alice", "bob") == pytest.approx(0.3) and len(srv.requests) == 1
    assert "sk-" not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")


def test_a_server_refusing_logprobs_is_asked_again_without_them(serve):
    """llama.cpp's Python server without `--logits_all true` answers a logprobs request with a 500 naming them: the
    client asks again at once without (no retries spent on it) and never asks for them again."""
    refusal = {"error": {"message": "logprobs is not supported for models created with logits_all=False"}}
    srv = serve([(500, refusal, {}), (200, {"choices": [{"message": {"content": "B"}}]}, {})])
    client = ChatClient(srv.url(), "m", backoff=0.01)
    assert choice_probability(client.complete([{"role": "user", "content": "hi"}])) == (0.0, "text")
    assert choice_probability(client.complete([{"role": "user", "content": "hi"}])) == (0.0, "text")
    bodies = [body for _, _, body in srv.requests]
    assert len(bodies) == 3 and bodies[0]["logprobs"] is True
    assert all("logprobs" not in b and "top_logprobs" not in b for b in bodies[1:])
    assert client.logprobs_refused


def test_other_server_errors_do_not_drop_logprobs(serve):
    srv = serve([(503, {"error": "overloaded"}, {}), (200, logprob_reply(0.3, 0.7), {})])
    client = ChatClient(srv.url(), "m", backoff=0.01)
    assert choice_probability(client.complete([{"role": "user", "content": "hi"}])) == (pytest.approx(0.3),
                                                                                          "logprobs")
    assert [body["logprobs"] for _, _, body in srv.requests] == [True, True] and not client.logprobs_refused


def test_a_judge_on_loopback_waits_longer_than_an_api(workspace):
    """A CPU judge server on loopback answers one request at a time: queued requests get 300 s, an API 60 s."""
    from clusterank.evaluate.judged import open_grader

    with open_grader("llm:m@http://127.0.0.1:9/v1", workspace) as grader:
        assert grader.client._http.timeout.read == 300.0
    with open_grader("llm:m@https://api.example.com/v1", workspace) as grader:
        assert grader.client._http.timeout.read == 60.0
