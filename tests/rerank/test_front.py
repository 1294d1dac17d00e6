"""The one front: rerankers by name, plugged into search from Python and the CLI."""

import json

import pytest

from clusterank import ClusterankError, SearchPipeline, bundled_profiles
from clusterank.cli import main
from clusterank.rerank import LLMOptions, get_reranker
from clusterank.rerank.base import NoReranker


def test_names(workspace):
    assert isinstance(get_reranker("none", workspace=workspace), NoReranker)
    assert get_reranker("rescore:minilm-static", workspace=workspace).name == "rescore:minilm-static"
    with pytest.raises(ClusterankError, match="unknown reranker 'magic'"):
        get_reranker("magic", workspace=workspace)
    with pytest.raises(ClusterankError, match="--llm-model is required"):
        get_reranker("llm-pairwise", workspace=workspace, llm=LLMOptions(base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ClusterankError, match="unknown model 'nope'"):
        get_reranker("rescore:nope", workspace=workspace)


def test_rerank_only_the_top_and_keep_k(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=300), static_embedder, workspace=workspace)
    plain = pipe.search("Kubernetes, on-call and SLOs", 10)
    reranker = get_reranker("rescore:paraphrase-MiniLM-L3-v2", workspace=workspace)
    out = pipe.search("Kubernetes, on-call and SLOs", 10, reranker=reranker, rerank_top=6)
    assert len(out) == 10 and [h.rank for h in out] == list(range(1, 11))
    assert {h.row for h in out[:6]} == {h.row for h in plain[:6]}  # the top 6 reordered among themselves
    assert [h.row for h in out[6:]] == [h.row for h in plain[6:]]
    assert all(h.rerank_score is not None for h in out[:6]) and out[6].rerank_score is None


def test_cli_search_with_rerank(workspace, capsys):
    code = main(["search", "Own positioning and launches", "--n", "300", "-k", "5", "--rerank",
                 "rescore:paraphrase-MiniLM-L3-v2", "--rerank-top", "8", "--json"])
    captured = capsys.readouterr()
    hits = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 0 and len(hits) == 5 and all(h["rerank_score"] is not None for h in hits)
    assert [h["rerank_score"] for h in hits] == sorted((h["rerank_score"] for h in hits), reverse=True)
    assert "reranked with rescore:paraphrase-MiniLM-L3-v2: 9 calls" in captured.err
