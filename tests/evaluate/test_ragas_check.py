"""RAGAS as a second opinion beside the judged comparison: real ragas (`ContextPrecisionWithoutReference`) against a
scripted OpenAI-compatible judge on loopback (verdicts, a bad one counted, calls counted), against a judge that
does not answer (one error line, exit 2), and against the bundled local judge (slow)."""

import importlib.util
import json
import sys

import pytest

from clusterank import ClusterankError, bundled_profiles, bundled_queries
from clusterank.cli import main
from clusterank.evaluate.judged import judged_compare
from clusterank.evaluate.ragas_check import RESPONSE, average_precision, check_ragas
from clusterank.rerank.grade import Grader
from clusterank.rerank.llm import ChatClient

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ragas") is None, reason="the ragas extra is not installed")
RAGAS_PROMPT = "verify if the context was useful"


def chat(content: str) -> dict:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920}}


def grade_reply(grade: str) -> dict:
    reply = chat(grade)
    reply["choices"][0]["logprobs"] = {"content": [{"token": grade, "logprob": 0.0,
                                                    "top_logprobs": [{"token": grade, "logprob": 0.0}]}]}
    return reply


def is_ragas(body) -> bool:
    return any(RAGAS_PROMPT in m["content"] for m in body["messages"])


def scripted_judge(bad_every: int = 0):
    """Grades 3 / verdict 1 when the profile is a Marketer's, else 0; every `bad_every`-th ragas answer is not JSON."""
    seen = {"ragas": 0}

    def answer(path, body, headers):
        text = " ".join(m["content"] for m in body["messages"])
        if not is_ragas(body):
            return 200, grade_reply("3" if "Marketer" in text else "0")
        seen["ragas"] += 1
        if bad_every and seen["ragas"] % bad_every == 0:
            return 200, chat("I think the verdict is yes")
        context = text.rsplit('"context": ', 1)[-1].split('"answer": ')[0]  # the last input: the profile asked about
        return 200, chat(json.dumps({"reason": "fits", "verdict": int("Marketer" in context)}))
    return answer


@pytest.fixture(scope="module")
def small_set():
    return bundled_profiles(n=200), bundled_queries().subset([0, 1, 2])


def test_average_precision_is_ragas_own():
    """The list score computed from single-context verdicts equals ragas scoring the whole list at once."""
    import asyncio

    from ragas.llms.base import InstructorBaseRagasLLM
    from ragas.metrics.collections import ContextPrecisionWithoutReference

    class Scripted(InstructorBaseRagasLLM):
        def __init__(self, verdicts):
            self.verdicts = list(verdicts)

        def generate(self, prompt, response_model):
            return response_model(reason="scripted", verdict=self.verdicts.pop(0))

        async def agenerate(self, prompt, response_model):
            return self.generate(prompt, response_model)

    for verdicts in ([1, 0, 1], [0, 0, 0], [0, 1], [1, 1, 1, 0, 1], [1]):
        metric = ContextPrecisionWithoutReference(llm=Scripted(verdicts))
        whole = asyncio.run(metric.ascore(user_input="advert", response=RESPONSE,
                                          retrieved_contexts=[f"profile {i}" for i in range(len(verdicts))]))
        assert average_precision(verdicts) == pytest.approx(whole.value)
    assert average_precision([1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)


def test_ragas_beside_judged_ndcg_counts_verdicts_and_calls(loopbacks, workspace, small_set):
    corpus, queries = small_set
    srv = loopbacks(scripted_judge(bad_every=4))
    grader = Grader(ChatClient(srv.url(), "m", backoff=0.01), workspace.root / "grades.sqlite")
    result = judged_compare(["minilm-static"], corpus, queries, grader, pipelines=["exact", "routed:nprobe=1"],
                            with_maps=False, hide_labels=0, workspace=workspace, pool_depth=3, ragas=True,
                            ragas_depth=2)
    check = result.ragas
    asked = [body for _, _, body in srv.requests if is_ragas(body)]
    pairs = {(q, int(r)) for run in result.comparison.runs for p in run.pipelines.values()
             for q in range(3) for r in p.rows[q, :2]}
    assert check.calls == len(asked) == len(pairs) == check.parsed + check.failed  # one call per distinct pair
    assert check.failed == len(pairs) // 4 and check.failures["InstructorRetryException"] == check.failed
    assert all(RESPONSE in b["messages"][-1]["content"] for b in asked) and check.tokens == 920 * len(asked)
    for name, est in check.precision.items():
        assert check.scored[name] <= 3 and (est is None or 0 <= est.low <= est.mean <= est.high <= 1)
        assert est is None or name in check.ndcg
    notes = result.comparison.notes
    at = next(i for i, line in enumerate(notes) if line.startswith("RAGAS second opinion"))
    assert notes[0].startswith("Relevance is LLM-judged") and at < len(result.lines())
    assert f"{check.parsed:,} of {len(pairs):,} verdicts parsed, {check.failed:,} failed" in notes[at]
    assert any(line.startswith("RAGAS minilm-static / exact: ") for line in notes)


def test_a_ragas_judge_that_does_not_answer_is_one_line(loopbacks, workspace, small_set):
    from conftest import free_port

    corpus, queries = small_set
    result = judged_compare(["minilm-static"], corpus, queries.subset([0]), Grader(
        ChatClient(loopbacks(scripted_judge()).url(), "m", backoff=0.01), workspace.root / "g.sqlite"),
        pipelines=["exact"], with_maps=False, hide_labels=0, workspace=workspace, pool_depth=2)
    from clusterank.evaluate.ragas_check import ragas_context_precision

    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ClusterankError, match=r"--ragas .* the judge m at http://127.0.0.1:\d+/v1 did not answer: "
                                              r"APIConnectionError") as exc:
        ragas_context_precision(result.comparison, [queries.texts[0]], corpus.texts, url, "m", depth=1)
    assert "\n" not in str(exc.value)


def test_cli_ragas_refused_by_the_judge_exits_2(loopbacks, workspace, capsys):
    def answer(path, body, headers):  # grades fine, refuses ragas' requests
        if is_ragas(body):
            return 404, {"error": {"message": "no such model for this route"}}
        return 200, grade_reply("2")

    srv = loopbacks(answer)
    args = ["compare", "--judge", f"llm:m@{srv.url()}", "--models", "minilm-static", "--pipelines", "exact", "--n",
            "200", "--no-maps", "--hide-labels", "0", "--pool-depth", "2", "--ragas", "--ragas-depth", "1",
            "--out", str(workspace.root / "r")]
    code = main(args)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "did not answer: NotFoundError" in last and last.startswith("error: --ragas")
    code = main(["compare", "--ragas", "--models", "minilm-static", "--n", "200", "--no-maps"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "--ragas is a second opinion beside --judge" in last
    code = main(["compare", "--judge", f"llm:m@{srv.url()}", "--ragas", "--ragas-depth", "4", "--pool-depth", "2",
                 "--models", "minilm-static", "--n", "200", "--no-maps"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "--ragas-depth 4 is deeper than --pool-depth 2" in last


def test_missing_ragas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ragas.metrics.collections", None)  # import fails as if not installed
    with pytest.raises(ClusterankError, match=r"needs the Python package .*pip install 'clusterank\[ragas\]'") as exc:
        check_ragas()
    assert "\n" not in str(exc.value)


@pytest.mark.slow
def test_ragas_with_the_bundled_local_judge(workspace, small_set):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: `make llm`")
    corpus, queries = small_set
    result = judged_compare(["minilm-static"], corpus, queries.subset([0]), "local", pipelines=["exact"],
                            with_maps=False, hide_labels=0, workspace=workspace, pool_depth=1, ragas=True,
                            ragas_depth=1)
    check = result.ragas
    assert check.parsed + check.failed == 1 and check.calls == 1 and check.tokens > 300
    assert check.judge == "qwen2.5-coder-0.5b-instruct-q4_k_m" and check.seconds > 0
    assert any(line.startswith("RAGAS second opinion") for line in result.comparison.notes)
