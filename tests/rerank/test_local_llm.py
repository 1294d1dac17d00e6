"""The offline default judge for real: the bundled 0.5B GGUF on llama.cpp's server on loopback."""

import pytest

from clusterank import Hit
from clusterank.rerank.llm import ChatClient, LLMJudge, choice_probability

pytest.importorskip("llama_cpp", reason="pip install 'clusterank[llm]' (llama-cpp-python)")
pytestmark = pytest.mark.slow

JOB = ("We need someone to own how our product is positioned and sold: messaging for each buyer persona, "
       "go-to-market plans for launches, sales battlecards and competitive intelligence.")
PMM = ("Headline: Product Marketing Manager | Positioning, messaging and launches. Led go-to-market launches, "
       "wrote messaging frameworks and battlecards, trained the sales team.")
LAWYER = ("Headline: Legal Counsel | Contracts and compliance. Drafted commercial contracts, advised on GDPR, "
          "managed litigation with outside counsel.")


@pytest.fixture(scope="module")
def server(session_home):
    from clusterank.rerank.local_llm import LocalLLMServer, bundled_gguf

    path = bundled_gguf(session_home)
    assert path.read_bytes()[:4] == b"GGUF" and path.stat().st_size > 400_000_000
    with LocalLLMServer(workspace=session_home) as srv:
        yield srv


def test_real_judgments_over_loopback(server, tmp_path):
    client = ChatClient(server.base_url, server.model)
    reply = client.complete([{"role": "user", "content": "Answer with one letter: A or B. Which comes first?"}])
    p, source = choice_probability(reply)
    assert source == "logprobs" and 0.0 < p < 1.0  # the answer token's log-probabilities came back
    top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert {top[0]["token"].strip(), top[1]["token"].strip()} == {"A", "B"}  # a real model answering the question
    assert top[0]["logprob"] > top[1]["logprob"] > top[-1]["logprob"]
    judge = LLMJudge(client, tmp_path / "cache.sqlite")
    forward = judge.prob_first(JOB, PMM, LAWYER)
    backward = judge.prob_first(JOB, LAWYER, PMM)
    assert 0.0 <= forward <= 1.0 and 0.0 <= backward <= 1.0
    assert judge.stats.calls == 2 and judge.stats.prompt_tokens > 100 and judge.sources == {"logprobs": 2}
    judge.prob_first(JOB, PMM, LAWYER)
    assert judge.stats.calls == 2 and judge.stats.cached == 1


def test_pairwise_reranker_end_to_end(server, tmp_path):
    from clusterank.rerank.prp import PairwiseReranker

    judge = LLMJudge(ChatClient(server.base_url, server.model), tmp_path / "cache.sqlite")
    hits = [Hit(1, 0, "0", 0.8, "Legal Counsel", "lawyer", text=LAWYER),
            Hit(2, 1, "1", 0.7, "Product Marketing Manager", "pmm", text=PMM)]
    out = PairwiseReranker(judge, strategy="allpairs", budget=2).rerank(JOB, hits)
    assert sorted(h.row for h in out) == [0, 1] and judge.stats.calls == 2
    assert out[0].rerank_score is not None
