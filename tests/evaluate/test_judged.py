"""Comparing models on LLM-judged relevance: grades read from a scripted OpenAI-compatible server on loopback, the
grade cache (resume, prompt versions), the budget, and the agreement statistics on hand-made examples."""

import importlib.util
import logging
import math

import numpy as np
import pytest

from clusterank import ClusterankError, bundled_profiles, bundled_queries
from clusterank.cli import main
from clusterank.evaluate.agreement import cohen_kappa, kappa_by_queries, kendall_tau, tau_by_queries
from clusterank.evaluate.judged import judged_compare, parse_judge
from clusterank.evaluate.report import recommend
from clusterank.viz.report import write_report
from clusterank.rerank.grade import Grader, read_grade
from clusterank.rerank.llm import ChatClient


def digit_reply(probs: dict[str, float], text: str | None = None) -> dict:
    top = [{"token": t, "logprob": math.log(p)} for t, p in sorted(probs.items(), key=lambda kv: -kv[1])]
    first = top[0]["token"]
    return {"choices": [{"message": {"content": text if text is not None else first},
                         "logprobs": {"content": [{"token": first, "logprob": top[0]["logprob"], "top_logprobs": top}]}}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 1}}


def text_reply(text: str) -> dict:
    return {"choices": [{"message": {"content": text}}]}


def test_grades_from_logprobs_and_from_text():
    grade, expected, source = read_grade(digit_reply({"2": 0.6, "3": 0.3, " The": 0.05, "0": 0.05}))
    assert (grade, source) == (2, "logprobs") and expected == pytest.approx((2 * .6 + 3 * .3) / .95)
    assert read_grade(text_reply(" 3")) == (3, 3.0, "text")
    assert read_grade(text_reply("Grade: 1.")) == (1, 1.0, "text")
    assert read_grade(digit_reply({"Grade": 0.9, "x": 0.1}, text="Grade 0")) == (0, 0.0, "text")  # no digit token


@pytest.mark.parametrize("reply, message", [
    (text_reply("I cannot say"), r"answered 'I cannot say', which holds no grade 0-3"),
    (text_reply("7"), r"answered the grade 7, outside 0-3"),
    (digit_reply({"5": 0.7, "2": 0.3}), r"answered the grade 5, outside 0-3"),
])
def test_no_grade_or_out_of_range_is_one_line(reply, message):
    with pytest.raises(ClusterankError, match=message) as exc:
        read_grade(reply, "judge m")
    assert "\n" not in str(exc.value)


def test_cache_resumes_and_prompt_versions_are_kept_apart(loopbacks, tmp_path, caplog):
    srv = loopbacks([(200, digit_reply({"3": 0.7, "1": 0.3}), {})])
    cache = tmp_path / "grades.sqlite"
    pairs = [("job advert", f"profile {i}") for i in range(4)]
    first = Grader(ChatClient(srv.url(), "m", backoff=0.01), cache)
    assert [g.grade for g in first.grade_many(pairs)] == [3, 3, 3, 3] and len(srv.requests) == 4
    assert "0, 1, 2 or 3" in srv.requests[0][2]["messages"][0]["content"] and srv.requests[0][2]["logprobs"] is True
    first.close()
    again = Grader(ChatClient(srv.url(), "m", backoff=0.01), cache)  # a rerun: every grade from the cache
    assert [g.source for g in again.grade_many(pairs)] == ["cache"] * 4 and len(srv.requests) == 4
    assert again.stats.calls == 0 and again.stats.cached == 4
    edited = again.template.replace("nothing else", "nothing more")
    with pytest.raises(ClusterankError, match=r"prompt version umbrela-jobs-1 changed under its cached grades"):
        Grader(ChatClient(srv.url(), "m"), cache, template=edited)
    with caplog.at_level(logging.WARNING, logger="clusterank.rerank"):
        bumped = Grader(ChatClient(srv.url(), "m", backoff=0.01), cache, version="umbrela-jobs-2", template=edited)
    assert "(4 under umbrela-jobs-1) are not used for umbrela-jobs-2" in caplog.text
    bumped.grade_many(pairs[:1])
    assert len(srv.requests) == 5  # the new version is graded afresh, never from the old grades


def test_judge_specs():
    assert parse_judge("local").local and parse_judge("llm:gpt-4o-mini@https://api.example.com/v1").model == "gpt-4o-mini"
    for bad in ("llm:gpt-4o", "gpt-4o", "llm:@http://x", "llm:m@ftp://x"):
        with pytest.raises(ClusterankError):
            parse_judge(bad)


def test_kappa_and_tau_on_hand_made_examples():
    judge = [True, True, False, False, True, False]
    label = [True, False, False, False, True, True]
    # observed 4/6; both say yes half the time: chance 0.5 -> kappa (2/3 - 1/2) / (1/2) = 1/3
    assert cohen_kappa(judge, label) == pytest.approx(1 / 3)
    assert cohen_kappa([True, False], [True, False]) == 1.0 and math.isnan(cohen_kappa([True], [True]))
    assert kendall_tau([0.1, 0.2, 0.3, 0.4], [0.1, 0.3, 0.2, 0.4]) == pytest.approx(4 / 6)  # 5 of 6 pairs concordant
    est = kappa_by_queries([np.array(judge[:3]), np.array(judge[3:])], [np.array(label[:3]), np.array(label[3:])])
    assert est.mean == pytest.approx(1 / 3) and est.low <= est.mean <= est.high
    sys_q = np.array([[0.1, 0.2, 0.1], [0.5, 0.4, 0.6], [0.9, 0.8, 0.7]])
    tau = tau_by_queries(sys_q, sys_q * 0.5)
    assert (tau.mean, tau.low, tau.high) == (1.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def small_set():
    corpus, queries = bundled_profiles(n=200), bundled_queries()
    return corpus, queries.subset(list(range(4)))


def graded_by_role(path, body, headers):
    """A judge that grades 3 when the profile's headline shares a word with the advert, else 0."""
    prompt = body["messages"][0]["content"]
    return 200, digit_reply({"3": 0.8, "0": 0.2} if "Marketer" in prompt else {"0": 0.9, "3": 0.1})


def test_judged_compare_budget_warns_and_scores_whole_queries(loopbacks, workspace, small_set, caplog):
    corpus, queries = small_set
    srv = loopbacks(graded_by_role)
    grader = Grader(ChatClient(srv.url(), "m", backoff=0.01), workspace.root / "grades.sqlite")
    kw = dict(pipelines=["exact", "routed:nprobe=1", "routed:nprobe=2"], with_maps=False, hide_labels=0,
              workspace=workspace, pool_depth=3)
    with caplog.at_level(logging.WARNING, logger="clusterank.compare"):
        result = judged_compare(["minilm-static"], corpus, queries, grader, max_judgments=5, **kw)
    assert result.left_out and result.calls <= 5 and "are not fully judged" in caplog.text
    assert len(result.comparison.query_ids) + len(result.left_out) == 4
    assert any("not scored: " + result.left_out[0] in line for line in result.comparison.notes)
    full = judged_compare(["minilm-static"], corpus, queries, grader, **kw)  # the rest; the first grades are cached
    assert not full.left_out and full.cached >= result.calls and len(full.comparison.query_ids) == 4
    assert full.kappa is not None and -1 <= full.kappa.mean <= 1 and full.tau is not None
    assert full.comparison.notes[0].startswith("Relevance is LLM-judged, not labelled: judge m, prompt umbrela-jobs-1")
    assert "of this machine's time priced as" in full.comparison.notes[1]  # a judge on loopback: its time, priced
    paths = write_report(full.comparison, workspace.root / "report", recommend(full.comparison))
    report = paths["md"].read_text()
    assert "Relevance is LLM-judged" in report and "Cohen's kappa" in report
    assert "+nan" not in report and "| nan" not in report  # no undefined near-miss line or cell
    assert "LLM-judged" in paths["html"].read_text()
    p = full.comparison.runs[0].pipelines["exact"]
    assert 0 <= p.estimate("nDCG@10").mean <= 1 and np.isnan(p.per_query["recall@50"]).all()
    calls = len(srv.requests)
    again = judged_compare(["minilm-static"], corpus, queries, grader, **kw)
    assert len(srv.requests) == calls and again.calls == 0  # a rerun pays nothing
    with pytest.raises(ClusterankError, match=r"--max-judgments 1 is smaller than the first query's pool"):
        judged_compare(["minilm-static"], corpus, bundled_queries().subset([10]), grader, max_judgments=1, **kw)


def test_cli_judge_that_answers_without_a_grade_exits_2(loopbacks, workspace, capsys):
    srv = loopbacks([(200, text_reply("no idea"), {})])
    code = main(["compare", "--judge", f"llm:m@{srv.url()}", "--models", "minilm-static", "--pipelines", "exact",
                 "--n", "200", "--no-maps", "--hide-labels", "0", "--pool-depth", "2", "--out", str(workspace.root / "r")])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: judge m at ") and "holds no grade 0-3" in last


@pytest.mark.slow
def test_judged_compare_with_the_bundled_local_judge(workspace, small_set, tmp_path):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: `make llm`")
    corpus, queries = small_set
    result = judged_compare(["minilm-static", "paraphrase-MiniLM-L3-v2"], corpus, queries.subset([0, 1]), "local",
                            pipelines=["exact"], with_maps=False, hide_labels=0, workspace=workspace, pool_depth=3)
    assert result.calls == len(result.grades) > 0 and set(result.grades.values()) <= {0, 1, 2, 3}
    assert result.per_second and result.tokens > 100 and result.kappa is not None
    assert "judge qwen2.5-coder-0.5b-instruct-q4_k_m" in result.comparison.notes[0]
