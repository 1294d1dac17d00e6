"""A whole cost plan: options x sizes, this machine measured for real, tokens counted on real texts."""

import pytest

from clusterank import ClusterankError, bundled_profiles
from clusterank.cost import load_prices, measure_machine, parse_counts, plan_costs
from clusterank.cost.plan import format_duration, format_percent, parse_count
from clusterank.tables import format_usd


@pytest.fixture(scope="module")
def prices():
    return load_prices()


def test_parse_counts_reads_suffixes_and_refuses_nonsense():
    assert parse_counts("10k,100k,1M,2.5M") == [10_000, 100_000, 1_000_000, 2_500_000]
    assert parse_counts("2_500_000, 10k, 10000") == [10_000, 2_500_000]
    assert parse_count("1B") == 1_000_000_000
    for bad in ("-5", "ten", "1.5x", "0"):
        with pytest.raises(ClusterankError, match=repr(bad).replace(".", r"\.")):
            parse_count(bad)
    with pytest.raises(ClusterankError, match="--texts is empty"):
        parse_counts(" , ")


def test_plan_holds_every_option_at_every_size_with_the_seed_numbers(prices):
    plan = plan_costs(prices)
    assert plan.sizes == [10_000, 100_000, 1_000_000, 2_500_000]
    names = [o.name for o in plan.options]
    assert "text-embedding-3-large" in names and "text-embedding-3-large (batch)" in names
    assert "voyage-3 (batch)" in names and "~335M model on 1x L4" in names and "7B model on 1x A100" in names
    assert plan.estimate("text-embedding-3-large", 2_500_000).usd == pytest.approx(130)
    assert plan.estimate("~335M model on 1x L4", 2_500_000).compute_hours == pytest.approx(6.742, abs=1e-3)
    hosted, apis, grid = plan.savings()
    i, j = hosted.index("~335M model on 1x L4"), apis.index("text-embedding-3-large")
    assert grid[i, j] == pytest.approx(100 * (1 - plan.estimate(hosted[i], 2_500_000).usd / 130))
    assert len(plan.rows()) == len(plan.options) * 4


def test_markdown_never_shows_a_price_without_its_date(prices):
    text = plan_costs(prices).markdown()
    assert "| text-embedding-3-large | api | 400 | $0.13 / 1M tokens (2024-07-25)" in text
    assert "| text-embedding-3-large | $0.52 | $5.20 | $52.00 | $130 |" in text
    for line in text.splitlines():
        if line.startswith("| ") and " | api" in line or " | self-hosted |" in line:
            assert "(20" in line, line  # every option row carries a date


def test_markdown_and_tables_are_one_source(prices):
    plan = plan_costs(prices, models=["text-embedding-3-large", "nv-embedqa-e5-v5"], tokens_per_text=600)
    tables = plan.tables()
    assert [t.title.split(" (")[0].split(":")[0] for t in tables] == ["", "Cost", "Time", "Savings of self-hosting "
                                                                     "against each API at 2.5M texts"]
    assert tables[1].header == ("option", "10k", "100k", "1M", "2.5M")
    assert tables[1].rows[0] == ("text-embedding-3-large", "$0.78", "$7.80", "$78.00", "$195")  # 600 tokens
    assert tables[3].header == ("self-hosted \\ API", "text-embedding-3-large", "text-embedding-3-large (batch)")
    text = plan.markdown()
    assert text.startswith(f"Tokens per text: {plan.token_source}.\n\n| option | kind |")
    for table in tables:
        assert table.markdown() in text
    assert text.endswith("\n\nNote: " + plan.notes[0]) and len(plan.notes) == 1


def test_models_filter_keeps_named_options_and_refuses_unknown_ones(prices):
    plan = plan_costs(prices, models=["text-embedding-3-small", "nv-embedqa-e5-v5"], batch=False)
    assert [o.name for o in plan.options] == ["text-embedding-3-small", "~335M model on 1x L4"]
    with pytest.raises(ClusterankError, match="no price or measurement for gpt-9"):
        plan_costs(prices, models=["gpt-9"])


def test_tokens_beyond_a_models_limit_are_capped_and_said(prices):
    plan = plan_costs(prices, tokens_per_text=600, models=["nv-embedqa-e5-v5", "text-embedding-3-large"])
    assert plan.options[-1].tokens_per_text == 512  # the 335M class reads 512 tokens at most
    assert plan.estimate("~335M model on 1x L4", 10_000).notes[0].startswith(f"{103 * 400 / 512:,.1f}")
    assert any("cut to the model's limit of 512" in n for n in plan.notes)


def test_this_machine_is_measured_for_real_and_cached(prices, workspace):
    texts = bundled_profiles(n=200).texts
    first = measure_machine(["minilm-static"], texts, workspace=workspace, sample_size=32)
    thr = first["minilm-static"]
    assert thr.texts_per_s > 50 and 20 < thr.mean_tokens < 512 and thr.sample == 32
    again = measure_machine(["minilm-static"], texts, workspace=workspace, sample_size=32)
    assert again["minilm-static"] == thr  # from the cache: same date, same number
    plan = plan_costs(prices, models=["minilm-static"], machine=first)
    est = plan.estimate("this machine: minilm-static", 1_000_000)
    assert est.compute_hours == pytest.approx(1_000_000 / thr.at(400) / 3600)
    assert thr.at(400) == pytest.approx(thr.texts_per_s * thr.mean_tokens / 400)
    assert "measured" in est.option.basis and "/h (2024-07-25)" in est.option.basis


def test_corpus_tokens_are_counted_per_model(prices):
    texts = bundled_profiles(n=300).texts
    plan = plan_costs(prices, texts=texts, corpus_name="bundled", models=["text-embedding-3-large",
                                                                           "mistral-7b-v2"], batch=False)
    stats = {s.model: s for s in plan.token_stats}
    assert set(stats) == {"text-embedding-3-large", "mistral-7b-v2"}
    large = plan.estimate("text-embedding-3-large", 10_000)
    assert large.option.tokens_per_text == pytest.approx(stats["text-embedding-3-large"].mean)
    assert large.usd == pytest.approx(10_000 * stats["text-embedding-3-large"].mean * 0.13 / 1e6)
    assert stats["text-embedding-3-large"].mean != stats["mistral-7b-v2"].mean
    assert "counted with each model's tokenizer on bundled (300 texts)" in plan.markdown()


def test_formats_read_well():
    assert [format_usd(v) for v in (1234.5, 12.345, 0.8, 0.0052)] == ["$1,234", "$12.35", "$0.80", "$0.0052"]
    assert [format_usd(v) for v in (0.0, float("nan"), float("inf"))] == ["$0", "-", "-"]
    assert [format_duration(s) for s in (42, 1500, 24272, 86400 * 5)] == ["42 s", "25 min", "6.74 h", "5.0 d"]
    assert [format_percent(v) for v in (95.6, 99.96, 99.04, -223.4)] == ["96%", "99.9%", "99.0%", "-223%"]


def test_a_large_corpus_is_counted_on_a_fixed_sample(prices, monkeypatch):
    import clusterank.cost.plan as plan_module

    monkeypatch.setattr(plan_module, "TOKEN_SAMPLE", 100)
    texts = bundled_profiles(n=300).texts
    plan = plan_costs(prices, texts=texts, corpus_name="big", models=["text-embedding-3-small"], batch=False)
    again = plan_costs(prices, texts=texts, corpus_name="big", models=["text-embedding-3-small"], batch=False)
    assert plan.token_stats[0].n_texts == 100 and "(300 texts, a random sample of 100)" in plan.token_source
    assert plan.token_stats[0].mean == again.token_stats[0].mean  # the same sample every run


def test_this_machine_can_be_timed_on_texts_of_the_asked_length(workspace):
    from clusterank.cost.machine import texts_of_length
    from clusterank.cost.tokens import count_tokens

    texts = bundled_profiles(n=60).texts
    cut = texts_of_length(texts, 400, "minilm-static", 5)
    counts = count_tokens("minilm-static", cut)
    assert len(cut) == 5 and all(390 <= c <= 400 for c in counts), counts  # whole words, at most 400 tokens
    thr = measure_machine(["paraphrase-MiniLM-L3-v2"], texts, tokens_per_text=400, workspace=workspace,
                          sample_size=8)["paraphrase-MiniLM-L3-v2"]
    assert 120 <= thr.mean_tokens <= 128  # cut to its 128-token limit, not to 400
    with pytest.raises(ClusterankError, match="fewer than 100000 tokens"):
        texts_of_length(texts[:3], 100_000, "minilm-static", 1)


def test_run_cost_is_the_whole_command_in_one_call(workspace, tmp_path):
    from clusterank.cost import run_cost

    plan = run_cost([10_000, 2_500_000], models=["text-embedding-3-large", "minilm-static"], batch=False,
                    workspace=workspace)
    assert [o.name for o in plan.options] == ["text-embedding-3-large", "this machine: minilm-static"]
    assert plan.estimate("text-embedding-3-large", 2_500_000).usd == pytest.approx(130)  # 400 tokens by default
    assert workspace.throughput_cache_path.exists()  # this machine was timed, and the timing kept
    assert "minilm-static|" in workspace.throughput_cache_path.read_text()
    again = run_cost([10_000, 2_500_000], models=["text-embedding-3-large", "minilm-static"], batch=False,
                     workspace=workspace)
    assert again.markdown() == plan.markdown()  # the cached timing: the same tables
    offline = run_cost([10_000], models=["text-embedding-3-small"], machine=False, batch=False,
                       settings=["api.text-embedding-3-small.price_per_1m_tokens=0.01"])
    assert [o.name for o in offline.options] == ["text-embedding-3-small"]
    assert offline.estimate("text-embedding-3-small", 10_000).usd == pytest.approx(10_000 * 400 * 0.01 / 1e6)
    with pytest.raises(ClusterankError, match="not both"):
        run_cost(corpus=tmp_path / "missing.csv", tokens_per_text=300)  # refused before the file is read
    corpus = tmp_path / "texts.csv"
    corpus.write_text("text\nSenior Product Marketing Manager\nStaff Data Engineer\n")
    counted = run_cost([10_000], corpus=corpus, models=["text-embedding-3-small"], machine=False, batch=False)
    assert str(corpus) in counted.token_source and counted.token_stats[0].n_texts == 2
