"""Routing cost on a reduced bundled set with the real default model, through the one evaluator."""

import pytest

from clusterank import ClusterankError, SearchPipeline, bundled_profiles, bundled_queries, load_queries
from clusterank.data.roles import neighbour_map
from clusterank.evaluate.metrics import near_miss_rate
from clusterank.evaluate.neighbours import from_map
from clusterank.evaluate.relevance import build_relevance
from clusterank.evaluate.routing import routing_cost


def test_routing_cost_report(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=1500), static_embedder, workspace=workspace, n_clusters=8)
    queries = bundled_queries()
    rel = build_relevance(1500, pipe.corpus.labels, queries.labels)
    report = routing_cost(pipe, queries, rel, pipelines=("exact", "routed:nprobe=1", "routed:nprobe=8",
                                                          "routed:nprobe=auto"), k=10, neighbours=neighbour_map())
    exact, one, full, auto = report.runs.values()
    recall, p10, near = "recall@10 vs exact", "P@10", "near-miss@10"
    assert exact.mean(recall) == 1.0 and full.mean(recall) == pytest.approx(1.0)
    assert full.mean(p10) == pytest.approx(exact.mean(p10)) and full.mean(near) == pytest.approx(exact.mean(near))
    assert 0 < one.mean(recall) <= auto.mean(recall) <= 1.0
    assert one.clusters_probed == 1 and 1 <= auto.clusters_probed <= 8 and exact.clusters_probed is None
    # the exact row's numbers are the label metrics of plain search, for the queries that were scored
    kept = rel.kept or list(range(len(queries)))
    labels = [queries.labels[i] for i in kept]
    rows = pipe.retriever("exact").search(pipe.embed_queries([queries.texts[i] for i in kept]), 10).rows
    same_role = [[pipe.corpus.labels[r] == label for r in top] for top, label in zip(rows, labels)]
    assert exact.mean(p10) == pytest.approx(sum(map(sum, same_role)) / (10 * len(rows)))
    assert exact.mean(near) == pytest.approx(near_miss_rate(rows, pipe.corpus.labels, from_map(labels, neighbour_map()).sets,
                                                            10).mean())
    assert 0 < report.routing_accuracy <= 1 and report.n_queries == len(kept) > 40
    assert set(report.cluster_quality) == {"purity", "nmi", "ari"}
    table = report.table()
    assert table.count("\n| ") == 4 and "routing accuracy" in table and "| routed:nprobe=auto |" in table


def test_queries_whose_label_occurs_nowhere_can_be_left_out_with_a_warning(workspace, static_embedder, tmp_path,
                                                                        caplog):
    pipe = SearchPipeline(bundled_profiles(n=300), static_embedder, workspace=workspace, n_clusters=3)
    path = tmp_path / "q.jsonl"
    path.write_text('{"natural_language": "Own positioning and launches", "role": "Product Marketing Manager"}\n'
                    '{"natural_language": "Fly to the moon", "role": "Astronaut"}\n')
    queries = load_queries(path)
    with pytest.raises(ClusterankError, match="1 query has no relevant profile .rows 1.*--skip-unanswerable"):
        build_relevance(300, pipe.corpus.labels, queries.labels, source=str(path))
    rel = build_relevance(300, pipe.corpus.labels, queries.labels, source=str(path), drop_unscorable=True)
    assert rel.kept == [0] and "1 of 2 queries have no relevant profile" in caplog.text
    assert routing_cost(pipe, queries, rel).n_queries == 1
    with pytest.raises(ClusterankError, match="1 query has no relevant profile"):
        build_relevance(300, pipe.corpus.labels, ["Astronaut"], source="q", drop_unscorable=True)
