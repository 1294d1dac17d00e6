"""clusterank: find the right candidate profiles for a job description, and measure which embedding
model to use. This module is the public Python API; everything a user needs is re-exported here.

The names load on first use (PEP 562), so `import clusterank` stays light: numpy, pandas, plotly and
the model libraries load only with the name that needs them.
"""

from __future__ import annotations

from clusterank.lazy import lazy_names

__version__ = "0.2.0"

_EXPORTS = {
    "clusterank.cluster.describe": ("ClusterSummary", "describe_clusters"),
    "clusterank.cluster.kmeans": ("ClusterModel", "choose_k", "fit_kmeans"),
    "clusterank.cluster.map": ("MapData", "build_map"),
    "clusterank.cluster.project": ("Projection", "fit_projection"),
    "clusterank.cost.machine": ("measure_machine",),
    "clusterank.cost.plan": ("CostPlan", "plan_costs"),
    "clusterank.cost.run": ("run_cost",),
    "clusterank.cost.throughput": ("Throughput",),
    "clusterank.data.loaders": ("Corpus", "bundled_profiles", "bundled_queries", "load_profiles", "load_queries",
                                "read_table"),
    "clusterank.defaults": ("DEFAULT_MODEL",),
    "clusterank.embed.base": ("Embedder",),
    "clusterank.embed.catalog": ("CATALOG", "ModelInfo", "model_info"),
    "clusterank.embed.precomputed": ("PrecomputedEmbedder",),
    "clusterank.embed.registry": ("EMBEDDERS", "available_models", "get_embedder"),
    "clusterank.embed.store": ("EmbeddingStore",),
    "clusterank.errors": ("ClusterankError",),
    "clusterank.evaluate.compare": ("Comparison", "ModelRun", "compare_models", "default_models"),
    "clusterank.evaluate.evaluator": ("Pipeline", "PipelineRun", "evaluate_pipelines", "parse_pipelines"),
    "clusterank.evaluate.relevance": ("Relevance", "build_relevance"),
    "clusterank.evaluate.report": ("markdown_tables", "recommend"),
    "clusterank.evaluate.routing": ("RoutingReport", "routing_cost"),
    "clusterank.evaluate.stats": ("Estimate", "bootstrap_ci", "paired_difference"),
    "clusterank.index.base": ("Retriever", "SearchContext", "TopK"),
    "clusterank.index.exact": ("ExactIndex",),
    "clusterank.index.hits": ("Hit", "similarity_percent"),
    "clusterank.index.persist": ("SavedIndex",),
    "clusterank.index.registry": ("RETRIEVERS", "build_retriever", "canonical_spec"),
    "clusterank.index.routed": ("RoutedIndex",),
    "clusterank.pipeline": ("SearchPipeline",),
    "clusterank.prices": ("load_prices",),
    "clusterank.rerank": ("RERANKERS", "Reranker", "get_reranker"),
    "clusterank.viz.cost": ("write_cost_html", "write_cost_png"),
    "clusterank.viz.map": ("write_map_html", "write_map_png"),
    "clusterank.viz.report": ("write_report",),
    "clusterank.workspace": ("Workspace",),
}
"""module -> the public names it defines; `__getattr__` imports the module when a name is first asked for."""
__all__ = [
    "CATALOG", "DEFAULT_MODEL", "ClusterModel", "Comparison", "Estimate", "ModelRun", "Relevance",
    "bootstrap_ci", "build_relevance", "compare_models", "default_models", "markdown_tables", "paired_difference",
    "recommend", "write_report", "ClusterSummary", "ClusterankError", "Corpus", "Embedder",
    "EmbeddingStore", "ExactIndex", "Hit", "MapData", "ModelInfo", "PrecomputedEmbedder", "Projection",
    "RoutedIndex", "RoutingReport", "SavedIndex", "SearchPipeline", "TopK", "Workspace", "available_models",
    "build_map", "bundled_profiles", "bundled_queries", "choose_k", "describe_clusters", "fit_kmeans",
    "fit_projection", "get_embedder", "load_profiles", "load_queries", "model_info", "read_table", "routing_cost",
    "similarity_percent", "write_map_html", "write_map_png",
    "EMBEDDERS", "RERANKERS", "RETRIEVERS", "Pipeline", "PipelineRun", "Reranker", "Retriever", "SearchContext",
    "build_retriever", "canonical_spec", "evaluate_pipelines", "get_reranker", "parse_pipelines",
    "CostPlan", "Throughput", "run_cost", "load_prices", "measure_machine", "plan_costs", "write_cost_html", "write_cost_png",
]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
