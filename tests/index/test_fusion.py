"""`fusion:` models: rankings of several real models fused by reciprocal rank or normalised score sum, weights
chosen by nested cross-validation in `compare`, parts compared beside the fused model and never embedded twice."""

import numpy as np
import pytest

from clusterank import ClusterankError, bundled_profiles, bundled_queries
from clusterank.cli import main
from clusterank.embed.fusion import FusionRule, weight_grid
from clusterank.embed.registry import get_embedder
from clusterank.embed.store import EmbeddingStore
from clusterank.evaluate.compare import compare_models, expand_models
from clusterank.evaluate.relevance import build_relevance
from clusterank.evaluate.report import method_notes
from clusterank.evaluate.tune import choose_per_fold, fold_of, grid_scores, tuned_grid
from clusterank.index.base import TopK
from clusterank.index.fusion import FusedRetriever, fuse
from clusterank.pipeline import SearchPipeline

A, B = "minilm-static", "paraphrase-MiniLM-L3-v2"
FUSED = f"fusion:models={A}+{B}"


def test_reciprocal_rank_and_normalised_sum_match_their_definitions():
    first = TopK(np.array([[3, 1, 0]]), np.array([[0.9, 0.5, 0.4]], np.float32))
    second = TopK(np.array([[1, 2, -1]]), np.array([[0.8, 0.2, -np.inf]], np.float32))
    rrf, seen = fuse([first, second], (0.25, 0.75), "rrf", 60, 5)
    want = np.zeros(5)
    for found, w in ((first, 0.25), (second, 0.75)):
        for rank, row in enumerate(found.rows[0], start=1):
            if row >= 0:
                want[row] += w / (60 + rank)
    assert np.allclose(rrf[0], want) and seen[0].tolist() == [True, True, True, True, False]
    total, _ = fuse([first, second], (0.5, 0.5), "sum", 60, 5)
    # min-max over each list: first (0.9, 0.5, 0.4) -> (1, 0.2, 0); second (0.8, 0.2) -> (1, 0)
    assert np.allclose(total[0], [0.0, 0.5 * 0.2 + 0.5 * 1.0, 0.0, 0.5 * 1.0, 0.0])
    only_first, seen = fuse([first, second], (1.0, 0.0), "rrf", 60, 5)
    assert not seen[0, 2] and only_first[0, 2] == 0  # a part with no weight adds no rows


def test_weight_grid_covers_the_simplex_with_each_part_alone():
    two = weight_grid(2)
    assert len(two) == 11 and (0.0, 1.0) in two and (1.0, 0.0) in two
    assert all(abs(sum(w) - 1) < 1e-9 for n in (2, 3, 4) for w in weight_grid(n))
    assert len(weight_grid(3)) == 15
    assert FusionRule(weights=(1.0, 3.0)).resolved(2) == (0.25, 0.75) and FusionRule().resolved(2) == (0.5, 0.5)


@pytest.fixture(scope="module")
def small(session_home):
    return bundled_profiles(n=500), bundled_queries()


def test_a_part_alone_is_that_models_own_ranking_and_scores_are_joined_cosines(small, session_home):
    corpus, queries = small
    fused = SearchPipeline(corpus, FUSED + ",method=sum", workspace=session_home)
    parts = [SearchPipeline(corpus, m, workspace=session_home) for m in (A, B)]
    qv = fused.embed_queries(queries.texts[:20])
    retriever = fused.retriever("exact")
    assert isinstance(retriever, FusedRetriever)
    for i, part in enumerate(parts):
        alone = retriever.with_weights((1.0, 0.0) if i == 0 else (0.0, 1.0)).search(qv, 10)
        assert np.array_equal(alone.rows, part.retriever("exact").search(part.embed_queries(queries.texts[:20]),
                                                                         10).rows)
    found = retriever.search(qv, 10)
    assert np.allclose(found.scores, np.take_along_axis(qv @ fused.vectors.T, found.rows, axis=1), atol=1e-5)
    mean = (parts[0].embed_queries(queries.texts[:20]) @ parts[0].vectors.T
            + parts[1].embed_queries(queries.texts[:20]) @ parts[1].vectors.T) / 2
    assert np.allclose(found.scores, np.take_along_axis(mean, found.rows, axis=1), atol=1e-5)  # mean cosine
    routed = fused.search(queries.texts[0], 10, retriever="routed:nprobe=1")
    assert len(routed) == 10 and routed[0].cluster is not None  # any retriever: each part's, fused


def test_compare_scores_a_fused_model_beside_its_parts_with_nested_cv_weights(small, session_home):
    corpus, queries = small
    models = expand_models([FUSED + ",method=rrf"])
    assert models == [A, B, FUSED + ",method=rrf"]  # its parts run first, beside it
    cmp = compare_models(models, corpus, queries, workspace=session_home, pipelines=["exact"], with_maps=False,
                         hide_labels=0)
    part_a, part_b, fused = cmp.runs
    run = fused.pipelines["exact"]
    assert len(run.fold_weights) == 5 and all(len(w) == 2 for w in run.fold_weights)
    assert part_a.pipelines["exact"].fold_weights is None
    assert fused.dims == part_a.dims + part_b.dims and fused.texts_per_s > 0 and fused.query_ms > 0
    assert fused.cost_per_1m_texts > 0
    notes = " ".join(method_notes(cmp))
    assert f"{FUSED},method=rrf fuses its parts' rankings" in notes and "nested cross-validation" in notes
    store = EmbeddingStore(session_home.store_path)
    assert not [m for m in store.models() if m.startswith("fusion:")]  # only the parts' vectors are kept
    # honest: each fold's weights are the grid point best on the OTHER folds, and its queries use them
    pipe = SearchPipeline(corpus, FUSED + ",method=rrf", workspace=session_home)
    rel = build_relevance(len(corpus), corpus.labels, queries.labels)
    qv = pipe.embed_queries([queries.texts[i] for i in rel.scored])
    grid, points = tuned_grid(pipe, qv, "exact", depth=run.rows.shape[1])
    chosen = choose_per_fold(grid_scores(grid, rel), fold_of(len(rel.scored), 5))
    assert run.fold_weights == [points[c][1] for c in chosen]
    assert np.array_equal(run.rows, grid[chosen[fold_of(len(rel.scored), 5)], np.arange(len(rel.scored))])


@pytest.mark.parametrize("model, message", [
    (f"fusion:models={A}", "at least two models"),
    (f"fusion:models={A}+{B},weights=0+0", "sum to a positive number"),
    (f"fusion:models={A}+{B},weights=1", "1 weights for 2 models"),
    (f"fusion:models={A}+{B},method=max", "must be one of rrf, sum"),
    (f"fusion:models={A}+nope", "unknown model 'nope'"),
])
def test_bad_fusion_specs_get_one_line_and_exit_2(model, message, workspace, capsys, tmp_path):
    with pytest.raises(ClusterankError, match=message):
        get_embedder(model, workspace)
    code = main(["compare", "--models", model, "--n", "200", "--no-maps", "-o", str(tmp_path / "rep")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and len(err[-1].splitlines()) == 1


def test_parts_that_do_not_make_the_joined_vectors_are_refused():
    with pytest.raises(ClusterankError, match="corpora differ"):
        FusedRetriever([object(), object()], [4, 4], FusionRule(), np.zeros((3, 6), np.float32), "exact")


def test_search_runs_a_fused_model_from_the_command_line(workspace, capsys):
    code = main(["search", "Own positioning, messaging and launches for our B2B product", "--model",
                 FUSED + ",method=rrf", "--n", "500", "-k", "5"])
    out = capsys.readouterr().out
    assert code == 0 and "Product Marketing Manager" in out, out
