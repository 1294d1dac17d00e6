"""Routing cost on a reduced bundled set with the real default model."""

import pytest

from clusterank import ClusterankError, SearchPipeline, bundled_profiles, bundled_queries
from clusterank.data.roles import neighbour_map
from clusterank.evaluate.metrics import near_miss_rate, precision_at_k
from clusterank.evaluate.routing import routing_cost


def test_routing_cost_report(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=1500), static_embedder, workspace=workspace)
    queries = bundled_queries()
    qv = pipe.embed_queries(queries.texts)
    model = pipe.clusters(8)
    report = routing_cost(pipe.vectors, pipe.corpus.labels, qv, queries.labels, model, k=10,
                          nprobes=(1, 8, "auto"), neighbours=neighbour_map())
    by_name = {p.pipeline: p for p in report.pipelines}
    exact, one, full, auto = (by_name[n] for n in ("exact", "routed nprobe=1", "routed nprobe=8",
                                                   "routed nprobe=auto"))
    assert exact.recall_vs_exact == 1.0 and full.recall_vs_exact == pytest.approx(1.0)
    assert full.precision == pytest.approx(exact.precision) and full.near_miss == pytest.approx(exact.near_miss)
    assert 0 < one.recall_vs_exact <= auto.recall_vs_exact <= 1.0
    assert one.clusters_probed == 1 and 1 <= auto.clusters_probed <= 8
    # the exact row's numbers are the metrics of plain search
    rows = pipe.index.search(qv, 10).rows
    assert exact.precision == pytest.approx(precision_at_k(rows, pipe.corpus.labels, queries.labels, 10).mean())
    assert exact.near_miss == pytest.approx(
        near_miss_rate(rows, pipe.corpus.labels, queries.labels, neighbour_map(), 10).mean())
    assert 0 < report.routing_accuracy <= 1 and report.n_queries == 80
    assert set(report.cluster_quality) == {"purity", "nmi", "ari"}
    table = report.table()
    assert table.count("\n| ") == 4 and "routing accuracy" in table


def test_routing_cost_needs_labels_that_occur(workspace, static_embedder):
    pipe = SearchPipeline(bundled_profiles(n=100), static_embedder, workspace=workspace)
    qv = pipe.embed_queries(["a query"])
    with pytest.raises(ClusterankError, match="no query's label occurs among the corpus labels"):
        routing_cost(pipe.vectors, pipe.corpus.labels, qv, ["Astronaut"], pipe.clusters(3))
    with pytest.raises(ClusterankError, match="needs labelled queries"):
        routing_cost(pipe.vectors, pipe.corpus.labels, qv[:0], [], pipe.clusters(3))
