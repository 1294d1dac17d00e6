"""The counterfactual name test: ranks move with the names, and not at all on a name-blind corpus."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from clusterank import (ClusterankError, SearchPipeline, bundled_profiles, bundled_queries, compare_models, name_swap, rbo,
                        swapped_corpus)
from clusterank.cli import main


def test_rbo():
    assert rbo([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert rbo([1, 2, 3], [4, 5, 6]) == 0.0
    assert 0 < rbo([1, 2, 3], [2, 1, 3]) < rbo([1, 2, 3], [1, 3, 2]) < 1  # a swap at the top costs more


@pytest.fixture(scope="module")
def queries():
    return bundled_queries().texts[:12]


def test_name_swap_moves_ranks_unless_blind(workspace, static_embedder, queries):
    plain = name_swap(SearchPipeline(bundled_profiles(n=300), static_embedder, workspace=workspace), queries,
                      n_boot=200)
    assert math.isfinite(plain.mean_abs_delta.mean) and plain.mean_abs_delta.mean > 0
    assert plain.moved > 0 and plain.rbo.mean < 1 and plain.swapped > 250 and plain.texts_changed == plain.swapped
    assert plain.mean_abs_delta.low <= plain.mean_abs_delta.mean <= plain.mean_abs_delta.high
    assert len(plain.per_query) == 12 and set(plain.by_group) <= {"female", "male", "unisex"}

    blind = name_swap(SearchPipeline(bundled_profiles(n=300, blind="names"), static_embedder, workspace=workspace),
                      queries, n_boot=200)
    assert blind.mean_abs_delta.mean == 0 and blind.mean_abs_delta.high == 0  # exactly, by construction
    assert blind.rbo.mean == 1 and blind.moved == 0 and blind.texts_changed == 0 and blind.swapped == plain.swapped
    assert blind.as_row()["blind"] == "names" and plain.as_row()["blind"] == "no"


def test_swapped_corpus_keeps_ids_labels_and_blind():
    corpus = bundled_profiles(n=50, blind="names")
    swapped, n = swapped_corpus(corpus, "both", seed=2)
    assert swapped.ids == corpus.ids and swapped.labels == corpus.labels and swapped.blind == ("names",)
    assert swapped.texts == corpus.texts and n > 40


def test_cli_missing_name_fields_is_one_line_exit_2(tmp_path, capsys, workspace):
    path = tmp_path / "profiles.csv"
    pd.DataFrame({"text": ["data scientist, python", "product manager"], "role": ["DS", "PM"]}).to_csv(path,
                                                                                                     index=False)
    assert main(["names", "swap", "--corpus", str(path), "--swap", "both"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "no name fields FirstName, LastName to swap" in lines[0]
    assert main(["names", "swap", "--swap", "sideways"]) == 2
    assert "--swap sideways" in capsys.readouterr().err


def test_name_swap_refuses_bad_depth(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=30), static_embedder, workspace=workspace)
    with pytest.raises(ClusterankError, match="top"):
        name_swap(pipe, ["a data scientist"], top=20, depth=10)


def test_compare_runs_each_model_on_blind_texts_beside_the_plain_ones(workspace, tmp_path, capsys):
    code = main(["compare", "--models", "minilm-static", "--blind", "names", "--n", "300", "--pipelines", "exact",
                 "--no-maps", "--hide-labels", "0", "-o", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert code == 0, out
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "| minilm-static |" in report and "| minilm-static (blind: names) |" in report
    assert "minilm-static (blind: names) embeds the same profiles without names: nDCG@10 (exact)" in report
    per_query = (tmp_path / "rep" / "per_query.csv").read_text()
    assert "minilm-static (blind: names)" in per_query


def test_a_blind_corpus_of_other_profiles_is_refused(workspace):
    with pytest.raises(ClusterankError, match="not the same profiles"):
        compare_models(["minilm-static"], bundled_profiles(n=200), bundled_queries(), workspace=workspace,
                       blind_corpus=bundled_profiles(n=150, blind="names"), with_maps=False)
