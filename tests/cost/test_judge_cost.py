"""`clusterank cost --judge`: what grading a judged comparison's pooled pairs costs and takes, per judge."""

import importlib.util
import json

import pytest

from clusterank import ClusterankError
from clusterank.cli import main
from clusterank.cost.judge_run import (MAX_CHARS, cached_judge_rate, grade_prompt, prompt_tokens, run_judge_cost,
                                       select_judges)
from clusterank.cost.judging import (COMPLETION_TOKENS, JudgeRate, Workload, judge_api_estimate, judge_gpu_estimate,
                                     judge_machine_estimate, judging_price, pairs_per_query)
from clusterank.cost.tokens import count_encoding
from clusterank.prices import Gpu, JudgeApi, JudgeGpu, Machine, load_prices
from clusterank.rerank.grade import PROMPT_VERSION, Grader
from clusterank.rerank.local_llm import LOCAL_MODEL

API = JudgeApi(model="mini", provider="OpenAI", input_per_1m=0.15, output_per_1m=0.60, rpm=500, tpm=200_000,
               tokenizer="o200k_base", latency_s=0.5, batch_discount=0.5, batch_window_h=24,
               batch_queue_tokens=2_000_000, date="2024-07-18", source="test")
L4 = Gpu(name="L4", hourly_usd=0.72, date="2024-07-25", source="test")


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_pool_size_assumption_by_hand():
    assert pairs_per_query(5, 20, 0.5) == 60.0  # 20 + 4 x 20 x 0.5
    assert pairs_per_query(5, 20, 0.0) == 100.0 and pairs_per_query(5, 20, 1.0) == 20.0
    assert pairs_per_query(1, 10, 0.3) == 10.0  # one system: its own top 10
    assert pairs_per_query(5, 20, 0.0, corpus_size=30) == 30.0  # never more than the profiles there are
    assert Workload(80, 60.0, "").pairs == 4_800 and Workload(3, 2.5, "").pairs == 8  # rounded up
    for bad in (1.5, -0.1):
        with pytest.raises(ClusterankError, match=r"^--overlap .*: give a fraction"):
            pairs_per_query(5, 20, bad)
    with pytest.raises(ClusterankError, match=r"^--systems must be a positive number"):
        pairs_per_query(0, 20)


def test_api_cost_and_time_by_hand():
    sync = judge_api_estimate(API, 1_000, 400.0, concurrency=4)
    # 400,000 tokens in x $0.15 + 3,000 out x $0.60, per 1M: $0.06 + $0.0018
    assert sync.input_tokens == 400_000 and sync.output_tokens == 3_000 == 1_000 * COMPLETION_TOKENS
    assert sync.usd == pytest.approx(0.0618)
    # 1,000 requests / 500 RPM = 120 s; 403,000 tokens / 200,000 TPM = 120.9 s; 1,000 x 0.5 s / 4 in flight = 125 s
    assert sync.seconds == pytest.approx(125.0) and "in flight" in sync.notes[0]
    assert judge_api_estimate(API, 1_000, 400.0, concurrency=8).seconds == pytest.approx(120.9)  # now TPM binds
    batch = judge_api_estimate(API, 1_000, 400.0, batch=True)
    assert batch.usd == pytest.approx(0.0309) and batch.seconds == 24 * 3600 and batch.option.upper_bound_time
    assert judge_api_estimate(API, 20_000, 400.0, batch=True).seconds == 4 * 24 * 3600  # 8M tokens / 2M queued
    assert sync.tokens_per_pair == pytest.approx(403.0)


def test_gpu_and_this_machine_by_hand():
    gpu = JudgeGpu(key="k", label="8B on L4", gpu=L4, gpus=1, judgments_per_s=10, reference_tokens=400,
                   startup_min=10, tokenizer="cl100k_base", date="2026-12-07", source="test")
    est = judge_gpu_estimate(gpu, 1_000, 800.0)
    # twice the reference prompt: 5 grades/s; 1,000 / 5 = 200 s + 600 s start-up, at $0.72/h
    assert est.seconds == pytest.approx(800.0) and est.usd == pytest.approx(0.72 * 800 / 3600)
    two = judge_gpu_estimate(JudgeGpu(**{**gpu.__dict__, "gpus": 2, "judgments_per_s": 20}), 1_000, 800.0)
    assert two.seconds == pytest.approx(700.0)
    machine = Machine(hourly_usd=0.096, startup_min=0, instance="m5.large", date="2024-07-25", source="test")
    rate = JudgeRate(LOCAL_MODEL, 0.5, 400.0, 4, "2026-12-07", "cpu")
    here = judge_machine_estimate(machine, rate, 1_000, 400.0)
    assert here.seconds == pytest.approx(2_000.0) and here.usd == pytest.approx(0.096 * 2_000 / 3600)
    assert "0.5 judgments/s (measured by clusterank cost --judge on 4 grades, 2026-12-07" in here.option.basis


def test_tokens_per_pair_come_from_the_real_prompt(workspace):
    advert, profile = "Product marketing manager. " * 60, "Led launches and positioning. " * 80
    grader = Grader(type("Client", (), {"model": "m", "close": lambda self: None})(), workspace.root / "g.sqlite")
    try:
        assert grade_prompt(advert, profile) == grader.prompt(advert, profile)  # the grader's own text, version
        assert grader.version == PROMPT_VERSION and MAX_CHARS == grader.max_chars == 700
    finally:
        grader.close()
    prompt = grade_prompt(advert, profile)
    assert profile[:MAX_CHARS] in prompt and profile[:MAX_CHARS + 1] not in prompt  # texts cut as sent
    mean, name, exact = prompt_tokens("o200k_base", [prompt], chat_overhead=7)
    assert mean == count_encoding("o200k_base", [prompt])[0] + 7 and name == "o200k_base" and exact
    assert 300 < mean < 500  # ~1,400 characters of texts and ~150 tokens of instructions


def test_judge_selection_and_price_overrides():
    table = load_prices(settings=["judge.gpt-4o-mini.input_per_1m=0.3"])
    assert table.judges["gpt-4o-mini"].input_per_1m == 0.3 and table.judges["gpt-4o-mini"].source.startswith(
        "input_per_1m from --set")
    assert select_judges(table, ["llm:gpt-4o-mini@https://api.openai.com/v1"]) == (["gpt-4o-mini"], [], False)
    apis, gpus, local = select_judges(table, ["local"])
    assert apis == [] and gpus == ["0.5B-on-L4"] and local
    assert select_judges(table, ["llama-3.1-8b-instruct"])[1] == ["8B-on-L4", "8B-on-A100"]
    everything = select_judges(table, ["all"])
    assert len(everything[0]) >= 4 and len(everything[1]) >= 3 and everything[2]
    with pytest.raises(ClusterankError, match=r"^--judge gpt-9: no price for gpt-9; known: .*gpt-4o-mini"):
        select_judges(table, ["gpt-9"])


def test_report_line_prices_an_api_judge_as_cost_does():
    from clusterank.evaluate.judged import JudgedComparison

    line = judging_price("gpt-4o-mini", 1_000_000, 3_000, 60.0, local=False)
    assert line == ", $0.1518 at gpt-4o-mini's list price ($0.15 in / $0.6 out per 1M tokens, 2024-07-18)"
    result = JudgedComparison(None, "gpt-4o-mini", "v", 10, {}, calls=2_500, tokens=1_003_000,
                              prompt_tokens=1_000_000, seconds=60.0)
    assert result._price() == line
    assert "not priced (no list price for my-judge" in judging_price("my-judge", 10, 3, 1.0, local=False)
    assert "of this machine's time priced as" in judging_price("m", 10, 3, 36.0, local=True)


def test_judged_run_on_loopback_leaves_its_rate_for_cost(workspace):
    from clusterank.evaluate.judged import JudgedComparison, _recorded

    result = JudgedComparison(None, LOCAL_MODEL, "v", 10, {}, calls=4, tokens=1_604, prompt_tokens=1_600,
                              seconds=8.0, local=True)
    _recorded(result, workspace)
    rate = cached_judge_rate(LOCAL_MODEL, workspace)
    assert rate.judgments_per_s == 0.5 and rate.prompt_tokens == 400 and rate.how == "measured in a judged compare"


def test_cli_table_and_json(workspace, capsys):
    args = ("cost", "--judge", "gpt-4o-mini,8B-on-L4", "--queries", "80", "--pool-depth", "20", "--systems", "5")
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "80 queries x 60.0 pooled pairs per query = 4,800 graded pairs" in out
    assert "| gpt-4o-mini | api |" in out and "| gpt-4o-mini (batch) | api-batch |" in out
    assert "| 7-8B judge on 1x L4 | self-hosted |" in out and "(2024-07-18)" in out
    assert f"grade prompt {PROMPT_VERSION}" in out and "| o200k_base |" in out
    code, out, err = run(capsys, *args, "--json", "--no-batch", "--pairs-per-query", "25")
    assert code == 0, err
    rows = {r["option"]: r for r in json.loads(out)}
    assert set(rows) == {"gpt-4o-mini", "7-8B judge on 1x L4"}
    mini = rows["gpt-4o-mini"]
    assert mini["pairs"] == 2_000 and mini["completion_tokens_per_pair"] == 3
    assert mini["usd"] == pytest.approx((mini["input_tokens"] * 0.15 + 6_000 * 0.60) / 1e6, abs=1e-6)
    assert mini["date"] == "2024-07-18" and mini["tokenizer"] == "o200k_base"


def test_cli_counts_the_users_adverts_and_profiles(workspace, tmp_path, capsys):
    queries = tmp_path / "adverts.csv"
    queries.write_text("natural_language\nShort advert.\nAnother short advert.\n")
    profiles = tmp_path / "profiles.csv"
    profiles.write_text("text\nA short profile.\nAnother.\nA third.\n")
    code, out, err = run(capsys, "cost", "--judge", "gpt-4o-mini", "--queries", str(queries), "--corpus",
                         str(profiles), "--json", "--systems", "5", "--pool-depth", "10")
    assert code == 0, err
    row = json.loads(out)[0]
    assert row["queries"] == 2 and row["pairs_per_query"] == 3  # capped at the 3 profiles
    assert row["prompt_tokens_per_pair"] < 250  # short texts: the instructions and little else


@pytest.mark.parametrize("args, message", [
    (("--judge", "gpt-9"), "--judge gpt-9: no price for gpt-9"),
    (("--judge", "gpt-4o-mini", "--queries", "0"), "--queries: '0' must be at least 1"),
    (("--judge", "gpt-4o-mini", "--queries", "nope.csv"), "--queries 'nope.csv': not a count"),
    (("--judge", "gpt-4o-mini", "--set", "judge.gpt-4o-mini.input_per_1m=-1"), "judge.gpt-4o-mini.input_per_1m"),
    (("--judge", "gpt-4o-mini", "--set", "judge.gpt-4o-mini"), "--set 'judge.gpt-4o-mini': expected SECTION"),
    (("--judge", "gpt-4o-mini", "--overlap", "2"), "--overlap 2.0: give a fraction"),
    (("--queries", "80"), "--queries and --pairs-per-query price LLM judging; give them with --judge"),
])
def test_bad_input_is_one_line_exit_2(workspace, capsys, args, message):
    code, out, err = run(capsys, "cost", *args, "--no-png", "-o", str(workspace.root / "c.html"))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err


@pytest.mark.slow
def test_bundled_judge_counts_with_its_own_tokenizer_and_uses_a_recorded_rate(workspace):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: `make llm`")
    from clusterank.cost.judge_run import record_judge_rate
    from clusterank.cost.machine import machine_description

    mean, name, exact = prompt_tokens("bundled", ["hello world"], workspace=workspace)
    assert exact and LOCAL_MODEL in name and mean == 2 + 29  # two tokens inside the chat template's 29
    record_judge_rate(JudgeRate(LOCAL_MODEL, 0.25, 400.0, 8, "2026-12-07", machine_description()), workspace)
    plan = run_judge_cost(["local"], queries=10, pairs_per_query_=4, workspace=workspace)  # no server started
    here = next(e for e in plan.estimates if e.option.kind == "this machine")
    assert here.pairs == 40 and "on 8 grades, 2026-12-07" in here.option.basis
    assert here.seconds == pytest.approx(40 / (0.25 * 400 / here.option.prompt_tokens))
