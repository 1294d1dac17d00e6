"""The bias audit: hand-computed rates, impact ratios, skew@k and NDKL on tiny arrays; the small-group rule;
intersections; intervals; the `audit` command on a bundled corpus with a group column added here."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from clusterank import (Audit, ClusterankError, audit_arrays, audit_pipelines, bundled_profiles, check_groups,
                        group_values)
from clusterank.cli import main
from clusterank.evaluate.audit import (UNKNOWN, impact_ratios, ndkl, ratioed_groups, scoring_rates, selection_rates,
                                       skew_at_k)

CODES = np.array([0] * 5 + [1] * 5)  # rows 0-4 group A, rows 5-9 group B
ROWS = np.array([[0, 1, 5], [0, 1, 2]])  # two queries' top 3


def test_selection_rate_and_impact_ratio_by_hand():
    rates = selection_rates(ROWS, CODES, 2, k=3)
    # query 0: A 2/5, B 1/5; query 1: A 3/5, B 0/5
    assert rates == pytest.approx(np.array([[0.4, 0.2], [0.6, 0.0]]))
    ratios = impact_ratios(rates, np.array([True, True]), n_boot=500)
    assert ratios[0].mean == pytest.approx(1.0)
    assert ratios[1].mean == pytest.approx(0.1 / 0.5)  # mean B 0.1 / mean A 0.5


def test_relevant_selection_rate_counts_only_eligible_members():
    eligible = np.zeros((2, 10), dtype=bool)
    eligible[:, [0, 3, 5, 6]] = True  # relevant: A rows 0, 3; B rows 5, 6
    eligible[1, [5, 6]] = False  # query 1: no relevant B member
    rates = selection_rates(ROWS, CODES, 2, k=3, eligible=eligible)
    assert rates[0] == pytest.approx([0.5, 0.5])  # A: row 0 of {0, 3}; B: row 5 of {5, 6}
    assert rates[1, 0] == pytest.approx(0.5) and math.isnan(rates[1, 1])


def test_scoring_rate_is_the_share_above_the_median():
    scores = np.array([[0.9, 0.8, 0.1, 0.2], [0.9, 0.1, 0.8, 0.2]])
    rates = scoring_rates(scores, np.array([0, 0, 1, 1]), 2)
    assert rates == pytest.approx(np.array([[1.0, 0.0], [0.5, 0.5]]))


def test_skew_at_k_by_hand():
    skew = skew_at_k(ROWS, CODES, np.array([0.5, 0.5]), k=3)
    assert skew[0] == pytest.approx([math.log((2 / 3) / 0.5), math.log((1 / 3) / 0.5)])
    assert skew[1, 1] == pytest.approx(math.log((0.5 / 3) / 0.5))  # absent: half a member


def test_ndkl_by_hand_and_zero_when_every_prefix_matches():
    kl3 = 2 / 3 * math.log((2 / 3) / 0.5) + 1 / 3 * math.log((1 / 3) / 0.5)
    w = [1.0, 1 / math.log2(3), 0.5]
    expected = (w[0] * math.log(2) + w[1] * math.log(2) + w[2] * kl3) / sum(w)
    assert ndkl(ROWS[:1], CODES, np.array([0.5, 0.5]), k=3)[0] == pytest.approx(expected)
    assert ndkl(ROWS[1:], CODES, np.array([1.0, 0.0]), k=3)[0] == pytest.approx(0.0)
    # three groups in equal shares, each prefix of length 3m matches: still > 0 for the prefixes in between
    assert ndkl(np.array([[0, 5]]), CODES, np.array([0.5, 0.5]), k=2)[0] > 0


def test_small_groups_are_reported_not_ratioed_nor_the_denominator():
    values = ["A"] * 60 + ["B"] * 39 + ["C"]  # C: 1% of the profiles
    rows = np.array([[99, 0, 60]] * 4)  # C's only member always selected: its rate 1.0 is the highest
    result = audit_arrays("m", "exact", rows, None, values, k=3, n_boot=200)
    assert list(result.groups) == ["A", "B", "C"]
    assert list(result.ratioed) == [True, True, False]
    ratios = result.ratios["selection"]
    assert ratios[2] is None
    assert ratios[1].mean == pytest.approx(1.0)  # B (1/39) is the highest ratioed group, not C (1/1)
    assert ratios[0].mean == pytest.approx((1 / 60) / (1 / 39))
    assert list(ratioed_groups(["A", UNKNOWN], np.array([50, 50]))) == [True, False]
    record = result.records()[2]
    assert record["selection"] == pytest.approx(1.0) and record["selection_ratio"] is None


def test_intersections_of_two_columns_and_unknown():
    frame = pd.DataFrame({"g": ["f", "m", "f", None], "o": ["x", "x", "y", "y"]})
    assert group_values(frame, "g,o") == ["f × x", "m × x", "f × y", UNKNOWN]
    assert group_values(frame, ["o"]) == ["x", "x", "y", "y"]


def test_bootstrap_interval_contains_the_point_estimate():
    rng = np.random.default_rng(3)
    rates = np.column_stack([rng.uniform(0.3, 0.6, 40), rng.uniform(0.2, 0.5, 40), rng.uniform(0.25, 0.55, 40)])
    for est in impact_ratios(rates, np.array([True, True, True])):
        assert est.low <= est.mean <= est.high
        assert est.high <= 1.0


def test_missing_column_and_empty_group_are_one_line_errors():
    frame = pd.DataFrame({"name_x": ["a"], "role": ["r"]})
    with pytest.raises(ClusterankError, match="no group column 'name_gender'; its columns are: name_x, role"):
        group_values(frame, "name_gender", "profiles.csv")
    with pytest.raises(ClusterankError, match="group 'b' has no members"):
        check_groups(["a", "a"], ["a", "b"])


def test_audit_pipelines_on_bundled_profiles(workspace):
    from clusterank import SearchPipeline, bundled_queries

    table = bundled_profiles(n=400)
    table.frame["grp"] = np.where(np.arange(len(table)) % 3 == 0, "a", "b")
    queries = bundled_queries()
    pipe = SearchPipeline(table, "minilm-static", workspace=workspace)
    audit = audit_pipelines(pipe, queries, "grp", ["exact", "role"], k=30, n_boot=200)
    assert isinstance(audit, Audit) and [p.pipeline for p in audit.pipelines] == ["exact", "role"]
    frame = audit.to_frame()
    assert set(frame["group"]) == {"a", "b"} and len(frame) == 4
    assert (frame["selection_ratio"] <= 1.0 + 1e-9).all()
    assert (frame["selection_ratio_low"] <= frame["selection_ratio"] + 1e-9).all()
    assert "selection_relevant_ratio" in frame and "scoring_ratio" in frame
    assert "| minilm-static | exact | a |" in audit.markdown()


@pytest.fixture
def grouped_corpus(tmp_path):
    frame = bundled_profiles(n=300).frame.copy()
    frame["grp"] = np.where(np.arange(len(frame)) % 2 == 0, "a", "b")
    path = tmp_path / "profiles.parquet"
    frame.to_parquet(path)
    return path


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_missing_group_column_is_one_line_exit_2(workspace, grouped_corpus, capsys):
    code, _, err = run(capsys, "audit", "--corpus", str(grouped_corpus), "--group", "ethnicity")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no group column 'ethnicity'" in lines[0] and "grp" in lines[0]


def test_cli_expected_group_without_members_is_one_line_exit_2(workspace, grouped_corpus, capsys):
    code, _, err = run(capsys, "audit", "--corpus", str(grouped_corpus), "--group", "grp", "--groups", "a,c")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "group 'c' has no members" in lines[0]


def test_cli_json_parses_and_report_is_written(workspace, grouped_corpus, tmp_path, capsys):
    report = tmp_path / "audit.md"
    code, out, _ = run(capsys, "audit", "--corpus", str(grouped_corpus), "--group", "grp", "--groups", "a,b",
                       "--pipelines", "exact", "--k", "10", "--n-boot", "200", "--json", "-o", str(report))
    assert code == 0
    data = json.loads(out)
    assert data["group_column"] == "grp" and data["k"] == 10 and data["queries"] == 80
    assert {r["group"] for r in data["rows"]} == {"a", "b"}
    assert all(r["pipeline"] == "exact" for r in data["rows"])
    assert "## Bias audit by grp (top 10)" in report.read_text()


def test_compare_with_audit_groups_adds_the_section(workspace, tmp_path):
    from clusterank import bundled_queries, compare_models
    from clusterank.evaluate.report import render_markdown
    from clusterank.viz.report import audit_html

    table = bundled_profiles(n=400)
    table.frame["grp"] = np.where(np.arange(len(table)) % 4 == 0, "a", "b")
    queries = bundled_queries().subset(range(20))
    with pytest.raises(ClusterankError, match="no group column 'nope'"):
        compare_models(["minilm-static"], table, queries, workspace=workspace, pipelines=["exact"],
                       with_maps=False, hide_labels=0, audit_groups="nope")
    cmp = compare_models(["minilm-static"], table, queries, workspace=workspace, pipelines=["exact"],
                         with_maps=False, hide_labels=0, skip_unanswerable=True, audit_groups="grp")
    audit = cmp.runs[0].audit
    assert audit.n_queries == len(cmp.query_ids) and [p.pipeline for p in audit.pipelines] == ["exact"]
    assert "## Bias audit by grp (top 30)" in render_markdown(cmp, "pick it")
    assert "id='audit'" in audit_html(cmp) and "<td>a</td>" in audit_html(cmp)
    plain = compare_models(["minilm-static"], table, queries, workspace=workspace, pipelines=["exact"],
                           with_maps=False, hide_labels=0, skip_unanswerable=True)
    assert plain.runs[0].audit is None and "Bias audit" not in render_markdown(plain, "pick it")
