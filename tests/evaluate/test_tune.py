"""Cross-validated tuning: folds, selection on the other folds only, and the tune command end to end."""

import json

import numpy as np
import pytest

from clusterank import SearchPipeline, bundled_profiles, bundled_queries
from clusterank.cli import main
from clusterank.evaluate.compare import compare_models
from clusterank.evaluate.tune import choose_per_fold, fold_of, is_tuned, with_alpha


def test_folds_are_even_fixed_and_refuse_too_few_queries():
    folds = fold_of(23, 5, seed=3)
    assert sorted(np.bincount(folds).tolist()) == [4, 4, 5, 5, 5]
    np.testing.assert_array_equal(folds, fold_of(23, 5, seed=3))
    with pytest.raises(Exception, match="needs at least 5 labelled queries; there are 4"):
        fold_of(4, 5)


def test_each_fold_is_scored_with_a_value_chosen_on_the_others():
    folds = np.array([0, 0, 1, 1, 2, 2])
    # value 1 is best on fold 0 alone; value 0 is best on folds 1 and 2
    scores = np.array([[0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
                       [9.0, 9.0, 0.0, 0.0, 0.0, 0.0]])
    chosen = choose_per_fold(scores, folds)
    assert chosen[0] == 0  # fold 0's own (huge) score for value 1 is never seen when choosing for fold 0
    assert chosen[1] == 1 and chosen[2] == 1  # the others see fold 0's 9.0


def test_spec_helpers():
    assert is_tuned("role") and is_tuned("soft:alpha=auto,k=20") and not is_tuned("role:alpha=0.5")
    assert not is_tuned("exact") and with_alpha("role:min_size=3", 0.25) == "role:min_size=3,alpha=0.25"


def test_tune_stores_alpha_that_search_then_uses(workspace, capsys):
    assert main(["tune", "--n", "700", "--retriever", "role", "--folds", "4"]) == 0
    out = capsys.readouterr().out
    assert "held-out nDCG@10 (4-fold cross-validation)" in out and "chosen on all queries: alpha = " in out
    stored = json.loads(next((workspace.root / "clusters").rglob("*-tuned.json")).read_text())
    alpha = stored["role"]["params"]["alpha"]
    assert stored["role"]["folds"] == 4 and stored["role"]["queries"] == 80
    pipe = SearchPipeline(bundled_profiles(n=700), "minilm-static", workspace=workspace)
    assert pipe.retriever("role").alpha == alpha


@pytest.mark.parametrize("args, message", [
    (["--retriever", "exact"], "nothing to tune in 'exact'"),
    (["--folds", "500"], "with 500 folds needs at least 500 labelled queries; there are 80"),
    (["--retriever", "role:alpha=-2"], "alpha='-2' is not valid"),
    (["--label-column", "nope", "--corpus", "MISSING"], "MISSING"),
])
def test_tune_bad_input_is_one_line_and_stores_nothing(workspace, capsys, args, message):
    code = main(["tune", "--n", "300", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: ") and message in err[-1]
    assert not list(workspace.root.rglob("*-tuned.json"))


def test_compare_scores_tuned_pipelines_with_nested_cross_validation(session_home):
    corpus, queries = bundled_profiles(n=700), bundled_queries()
    cmp = compare_models(["minilm-static"], corpus, queries, workspace=session_home, with_maps=False,
                         pipelines=("exact", "role", "role:alpha=0.5", "soft", "role-route:m=2"))
    runs = cmp.runs[0].pipelines
    assert len(runs["role"].fold_alphas) == 5 and runs["role:alpha=0.5"].fold_alphas is None
    assert runs["role-route:m=2"].clusters_probed == 2
    for name, run in runs.items():
        assert 0 < run.mean("nDCG@10") <= 1, name
