"""The comparison end to end: two real offline models on a reduced bundled set, and the seed's schema."""

import csv
import re

import numpy as np
import pandas as pd
import pytest

from clusterank import bundled_profiles, bundled_queries, load_profiles, load_queries
from clusterank.cli import main
from clusterank.cost import default_prices
from clusterank.data.roles import neighbour_map
from clusterank.evaluate.compare import METRICS, compare_models
from clusterank.evaluate.report import markdown_tables, recommend, search_rows
from clusterank.viz.report import write_report


@pytest.fixture(scope="module")
def comparison(session_home):
    corpus = bundled_profiles(n=700)
    queries = bundled_queries()
    return compare_models(["minilm-static", "paraphrase-MiniLM-L3-v2"], corpus, queries, workspace=session_home,
                          parent_labels=(corpus.families, queries.families), neighbours=neighbour_map())


def test_table_csv_and_report(comparison, tmp_path):
    cmp = comparison
    assert [r.model for r in cmp.runs] == ["minilm-static", "paraphrase-MiniLM-L3-v2"]
    tables = markdown_tables(cmp)
    assert tables.count("| minilm-static |") == 9 and "| routed:nprobe=1 |" in tables  # 4 + 4 pipelines + facts
    header, search = search_rows(cmp)
    exact = next(r for r in search if r[:2] == ["minilm-static", "exact"])
    assert header[2] == "index MB" and exact[4] == "1.000" and exact[5] == "1.00"
    assert float(exact[2]) == pytest.approx(700 * 256 * 4 / 1e6, abs=0.01)  # the float32 vectors
    assert "| routed:nprobe=auto |" in tables and "| role |" in tables  # role: the corpus has labels
    for run in cmp.runs:
        assert run.texts_per_s > 0 and run.query_ms > 0 and run.peak_mb >= 0 and run.dims in (256, 384)
        assert 0 <= run.routing_accuracy <= 1 and 0 < run.cluster_nmi <= 1
        machine = default_prices().machine  # run here: 1M texts at the measured rate, priced as the VM
        assert run.cost_per_1m_texts == pytest.approx(machine.hourly_usd * 1e6 / run.texts_per_s / 3600)
        assert run.price_date == machine.date
        for p in run.pipelines.values():
            for m in METRICS:
                e = p.estimate(m)
                assert 0 <= e.low <= e.mean <= e.high <= 1
    text = recommend(cmp, max_cost_per_1m=1.0, max_latency_ms=10_000)
    best = cmp.best()
    assert f"**{best.model}**" in text and "Best at or under $1 per 1M texts" in text
    assert "Best at or under 10000 ms per query" in text
    paths = write_report(cmp, tmp_path, text)

    rows = list(csv.DictReader(paths["csv"].open()))
    assert len(rows) == 2 * 4 * 80
    first = next(r for r in rows if r["model"] == "minilm-static" and r["pipeline"] == "exact")
    assert first["query_id"] == "q001" and set(METRICS) <= set(first)
    mean = np.mean([float(r["nDCG@10"]) for r in rows if r["model"] == best.model and r["pipeline"] == "exact"])
    assert mean == pytest.approx(best.pipelines["exact"].per_query["nDCG@10"].mean())

    page = paths["html"].read_text()
    ids = set(re.findall(r'<div id="(chart-[^"]+)"', page))
    expected = {f"chart-bar-{m}" for m in METRICS} | {"chart-quality-speed"}
    expected |= {f"chart-map-{r.model}" for r in cmp.runs} | {f"chart-confusion-{r.model}" for r in cmp.runs}
    assert expected <= ids
    assert page.count("Plotly.newPlot") >= len(expected) and "<script src=" not in page
    assert page.count("<h3>minilm-static</h3>") == 1 and "routed:nprobe=1" in page
    md = paths["md"].read_text()
    assert "## Recommendation" in md and best.model in md and "Text " in md


def test_routing_to_every_cluster_equals_exact_search(session_home):
    corpus, queries = bundled_profiles(n=700), bundled_queries()
    cmp = compare_models(["minilm-static"], corpus, queries, workspace=session_home, n_clusters=10,
                         pipelines=("exact", "routed:nprobe=10", "routed:nprobe=1"), with_maps=False)
    exact, every, one = cmp.runs[0].pipelines.values()
    assert exact.rows.shape == every.rows.shape == (80, 50)
    # probing all 10 clusters searches every row: the same lists, up to the order of rows with equal cosines
    assert (every.rows == exact.rows).mean() > 0.995
    assert all(len(set(a[:45]) - set(b)) == 0 for a, b in zip(every.rows, exact.rows))
    for m in METRICS:
        assert every.per_query[m].mean() == pytest.approx(exact.per_query[m].mean(), abs=0.005)
    assert every.clusters_probed == 10 and one.clusters_probed == 1
    assert (one.rows != exact.rows).any()  # one cluster is not every cluster: the check above can fail


def seed_schema(tmp_path, dims=8, bad_query_dims=False):
    """Profiles and queries in the seed dataset's schema with two precomputed embedding columns."""
    rng = np.random.default_rng(0)
    roles = ["Product Marketing Manager", "Product Manager", "Data Scientist", "Recruiter"]
    centres = {r: rng.standard_normal(dims) for r in roles}
    prof = []
    for i in range(60):
        role = roles[i % 4]
        prof.append({"Headline": f"{role} | tagline {i}", "About Me": f"I work as {role} number {i}",
                     "text": f"{role} profile {i}",
                     "embeddings_mxbai-embed-large-v1 ": (centres[role] + 0.5 * rng.standard_normal(dims)).tolist(),
                     "embeddings_text-embedding-3-small": rng.standard_normal(dims).tolist()})
    qs = []
    for j, role in enumerate(roles * 2):
        qd = dims + 1 if bad_query_dims and j == 0 else dims
        qs.append({"natural_language": f"looking for {role} {j}", "role": role,
                   "embeddings_mxbai-embed-large-v1 ": (centres[role][:qd] if qd == dims else
                                                        np.ones(qd)).tolist(),
                   "embeddings_text-embedding-3-small": rng.standard_normal(dims).tolist()})
    p, q = tmp_path / "profiles.parquet", tmp_path / "jobs.parquet"
    pd.DataFrame(prof).to_parquet(p)
    if bad_query_dims:
        q = tmp_path / "jobs.jsonl"
        pd.DataFrame(qs).to_json(q, orient="records", lines=True)
    else:
        pd.DataFrame(qs).to_parquet(q)
    return p, q


def test_precomputed_columns_reproduce_a_seed_style_comparison(tmp_path, session_home):
    p, q = seed_schema(tmp_path)
    corpus, queries = load_profiles(p), load_queries(q)
    cmp = compare_models(["precomputed:mxbai-embed-large-v1", "precomputed:text-embedding-3-small"], corpus,
                         queries, workspace=session_home, n_clusters=4, with_maps=False)
    good, noise = cmp.runs
    assert good.pipelines["exact"].per_query["P@10"].mean() > 0.9  # vectors built around each role's centre
    assert noise.pipelines["exact"].per_query["P@10"].mean() < 0.6  # random vectors
    assert good.params_m == 335 and good.texts_per_s is None
    import bpe_openai  # the cl100k tokenizer counts the tokens OpenAI bills, even for precomputed vectors

    cl100k = bpe_openai.get_encoding("cl100k_base")
    tokens = np.mean([len(cl100k.encode(t)) for t in corpus.texts[:500]])
    assert noise.cost_per_1m_texts == pytest.approx(0.02 * tokens)
    assert noise.price_date == "2024-07-25"
    assert cmp.best().model == "precomputed:mxbai-embed-large-v1"


def test_rerank_pipeline_joins_the_comparison(tmp_path, session_home):
    from clusterank.evaluate.evaluator import parse_pipelines
    from clusterank.rerank import get_reranker

    corpus, queries = bundled_profiles(n=300), bundled_queries()
    pipelines = parse_pipelines("exact,routed:nprobe=1,routed:nprobe=auto,exact+rescore:paraphrase-MiniLM-L3-v2",
                                lambda name: get_reranker(name, workspace=session_home), rerank_top=10)
    cmp = compare_models(["minilm-static"], corpus, queries.subset(range(10)), workspace=session_home,
                         with_maps=False, pipelines=pipelines)
    run = cmp.runs[0]
    assert list(run.pipelines) == ["exact", "routed:nprobe=1", "routed:nprobe=auto",
                                   "exact + rescore:paraphrase-MiniLM-L3-v2"]
    exact, reranked = run.pipelines["exact"].rows, run.pipelines["exact + rescore:paraphrase-MiniLM-L3-v2"].rows
    for a, b in zip(exact, reranked):
        assert set(a[:10]) == set(b[:10]) and list(a[10:]) == list(b[10:])
    assert "exact + rescore:paraphrase-MiniLM-L3-v2" in markdown_tables(cmp)


def test_relevance_from_explicit_ids_via_cli(tmp_path, workspace, capsys):
    p, q = seed_schema(tmp_path)
    frame = pd.read_parquet(q)
    frame["relevant_ids"] = [[i for i in range(60) if i % 4 == j % 4] for j in range(len(frame))]
    frame = frame.drop(columns=["role"])
    frame.to_parquet(q)
    code = main(["compare", "--models", "precomputed:mxbai-embed-large-v1", "--corpus", str(p), "--queries",
                 str(q), "--clusters", "4", "--no-maps", "-o", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| precomputed:mxbai-embed-large-v1 | exact |" in out
    assert (tmp_path / "rep" / "report.html").exists()


@pytest.mark.parametrize("case, message", [
    ("no-labels", "no label column and no relevant ids"),
    ("no-relevant", "8 queries have no relevant profile"),
    ("bad-dims", "row 1: vector has 8 dimensions, row 0 has 9"),
    ("table-dims", "vector sizes differ between tables ([8, 9])"),
])
def test_bad_input(tmp_path, workspace, capsys, case, message):
    p, q = seed_schema(tmp_path, bad_query_dims=case == "bad-dims")
    if case == "no-labels":
        pd.read_parquet(q).drop(columns=["role"]).to_parquet(q)
    if case == "table-dims":
        frame = pd.read_parquet(q)
        frame["embeddings_mxbai-embed-large-v1 "] = [np.ones(9).tolist()] * len(frame)
        frame.to_parquet(q)
    if case == "no-relevant":
        frame = pd.read_parquet(q)
        frame["role"] = "Astronaut"
        frame.to_parquet(q)
    code = main(["compare", "--models", "precomputed:mxbai-embed-large-v1", "--corpus", str(p), "--queries", str(q),
                 "--clusters", "4", "--no-maps", "-o", str(tmp_path / "rep")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: ") and message in err[-1]


def test_a_query_with_an_unknown_label_stops_compare_unless_skipped(tmp_path, workspace, capsys):
    p, q = seed_schema(tmp_path)
    frame = pd.read_parquet(q)
    frame.loc[0, "role"] = "Astronaut"
    frame.to_parquet(q)
    args = ["compare", "--models", "precomputed:mxbai-embed-large-v1", "--corpus", str(p), "--queries", str(q),
            "--clusters", "4", "--no-maps", "-o", str(tmp_path / "rep")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "1 query has no relevant profile (rows 0)" in err[-1]
    assert "--skip-unanswerable" in err[-1]
    code = main([*args, "--skip-unanswerable"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "1 of 8 queries have no relevant profile" in captured.err and "rows 0)" in captured.err
    assert "7 queries; 1 with no relevant profile left out" in captured.out


def test_a_comparison_is_a_table_in_a_notebook(comparison):
    frame = comparison.to_frame()
    assert len(frame) == sum(len(r.pipelines) for r in comparison.runs)
    row = frame[(frame.model == "minilm-static") & (frame.pipeline == "exact")].iloc[0]
    per_query = comparison.per_query_frame()
    mean = per_query[(per_query.model == "minilm-static") & (per_query.pipeline == "exact")]["nDCG@10"].mean()
    assert row["nDCG@10"] == pytest.approx(mean) and row["nDCG@10_low"] <= mean <= row["nDCG@10_high"]
    assert row["dims"] == 256 and row["texts_per_s"] > 0


def test_the_report_title_counts_models_in_english(comparison):
    from dataclasses import replace

    from clusterank.evaluate.report import report_title

    assert report_title(comparison).startswith("Which embedding model? 2 models on 700 profiles")
    assert report_title(replace(comparison, runs=comparison.runs[:1])).startswith("Which embedding model? 1 model on")


def test_the_showcase_runs_only_pipelines_that_were_asked_for(session_home, caplog):
    """`--pipelines exact` builds no role or prior retriever behind the user's back (nor logs their alpha)."""
    corpus = bundled_profiles(n=300)
    queries = bundled_queries().subset(range(10))
    with caplog.at_level("INFO", logger="clusterank"):
        cmp = compare_models(["minilm-static"], corpus, queries, workspace=session_home, pipelines=["exact"],
                             with_maps=False, hide_labels=0)
    assert list(cmp.runs[0].showcase) == ["exact"]
    assert not [r for r in caplog.records if "alpha=auto" in r.getMessage()]
    both = compare_models(["minilm-static"], corpus, queries, workspace=session_home,
                          pipelines=["exact", "routed:nprobe=1"], with_maps=False, hide_labels=0)
    assert list(both.runs[0].showcase) == ["exact", "routed:nprobe=1"]


def test_an_api_models_options_reach_it_through_compare(workspace, capsys, tmp_path):
    """`--models api:m@url,timeout=...,minilm-static`: the options stay with their model (a comma does not split
    them off into model names of their own), so a bad one is named before anything runs."""
    from clusterank.embed.registry import catalog_id

    code = main(["compare", "--models", "api:m@http://127.0.0.1:9/v1,timeout=0,minilm-static", "--n", "200",
                 "--no-maps", "-o", str(tmp_path / "rep")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "timeout" in err[-1] and "unknown model" not in err[-1], err[-1]
    assert catalog_id("openai:text-embedding-3-small,batch=64") == "text-embedding-3-small"  # prices still found
