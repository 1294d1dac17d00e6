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
    "clusterank.cluster.kmeans": ("ClusterModel", "check_k", "choose_k", "fit_kmeans", "parse_k"),
    "clusterank.cluster.map": ("MapData", "build_map"),
    "clusterank.cluster.project": ("PROJECTIONS", "Projection", "fit_projection"),
    "clusterank.cost.machine": ("measure_machine",),
    "clusterank.cost.plan": ("CostPlan", "parse_counts", "plan_costs"),
    "clusterank.cost.run": ("run_cost",),
    "clusterank.cost.throughput": ("Throughput",),
    "clusterank.cost.tokens": ("decode_token_ids",),
    "clusterank.data.bounds": ("MAX_PROFILES", "PROFILES_RANGE", "SEED_RANGE", "Bound", "check_seed"),
    "clusterank.data.i18n": ("QUERY_LANGUAGES", "check_lang", "demo_query"),
    "clusterank.data.loaders": ("Corpus", "bundled_profiles", "bundled_queries", "load_profiles", "load_queries",
                                "read_table", "visible"),
    "clusterank.data.languages": ("detect_language", "query_languages"),
    "clusterank.data.queries": ("parent_labels", "relevant_ids"),
    "clusterank.data.roles": ("neighbour_map",),
    "clusterank.data.synthetic": ("DEMO_QUERY", "generate_profiles", "generate_queries"),
    "clusterank.data.writers": ("write_table",),
    "clusterank.defaults": ("AUTO_MARGIN", "BUNDLED_N", "COMPARE_PIPELINES", "DEFAULT_K", "DEFAULT_MODEL",
                            "DEFAULT_RETRIEVER", "DEFAULT_SEED", "DEFAULT_TOKENS_PER_TEXT", "LABELLED_PIPELINES",
                            "ROUTING_PIPELINES", "SHOWCASE_PIPELINES"),
    "clusterank.demo": ("run_demo",),
    "clusterank.distributed.ray_embed": ("RayEmbedReport", "embed_on_ray"),
    "clusterank.embed.base": ("Embedder", "check_device"),
    "clusterank.embed.catalog": ("CATALOG", "ModelInfo", "model_info"),
    "clusterank.embed.integrity": ("check_store", "repair_store"),
    "clusterank.embed.precomputed": ("PrecomputedEmbedder",),
    "clusterank.embed.registry": ("EMBEDDERS", "available_models", "find_backend", "get_embedder", "stored_name",
                                  "using_device"),
    "clusterank.embed.store": ("EmbeddingStore",),
    "clusterank.embed.truncation": ("truncation_summary",),
    "clusterank.errors": ("ClusterankError", "install_hint", "printable", "require"),
    "clusterank.httpclient": ("is_loopback",),
    "clusterank.evaluate.compare": ("Comparison", "ModelRun", "compare_models", "default_models", "expand_models"),
    "clusterank.evaluate.evaluator": ("Pipeline", "PipelineRun", "evaluate_pipelines", "parse_pipelines"),
    "clusterank.evaluate.explain": ("explain", "explanation_line"),
    "clusterank.evaluate.relevance": ("Relevance", "build_relevance"),
    "clusterank.evaluate.report": ("markdown_tables", "recommend"),
    "clusterank.evaluate.routing": ("RoutingReport", "routing_cost"),
    "clusterank.evaluate.stats": ("Estimate", "bootstrap_ci", "paired_difference"),
    "clusterank.evaluate.tune": ("check_tunable", "fold_of", "save_tuning", "tune", "with_alpha"),
    "clusterank.index.base": ("Retriever", "SearchContext", "TopK", "parse_spec", "split_specs"),
    "clusterank.index.exact": ("ExactIndex",),
    "clusterank.index.hits": ("Hit", "preview", "similarity_percent"),
    "clusterank.index.persist": ("SavedIndex", "check_saveable"),
    "clusterank.index.registry": ("RETRIEVERS", "build_retriever", "canonical_spec", "check_spec", "page_specs",
                                  "retriever_type", "saveable_kinds", "tunable_kinds"),
    "clusterank.index.routed": ("RoutedIndex",),
    "clusterank.lazy": ("lazy_names",),
    "clusterank.pipeline": ("SearchPipeline", "SearchResult", "SearchResults"),
    "clusterank.prices": ("api_price", "load_prices"),
    "clusterank.train.finetune": ("FinetuneSettings", "finetune"),
    "clusterank.train.models": ("FinetunedModel", "check_not_trained_on", "finetune_card", "finetuned_models"),
    "clusterank.rerank": ("RERANKERS", "LLMOptions", "Reranker", "check_reranker", "get_reranker", "rerank_top"),
    "clusterank.rerank.base": ("relevance_in_unit",),
    "clusterank.server": ("ServerConfig", "serve"),
    "clusterank.tables": ("markdown_table",),
    "clusterank.viz.cost": ("write_cost_html", "write_cost_png"),
    "clusterank.viz.map": ("MAP_SCRIPT", "write_map_html", "write_map_png"),
    "clusterank.viz.report": ("write_report",),
    "clusterank.workspace": ("Workspace", "atomic_path", "safe_name"),
}
"""module -> the public names it defines; `__getattr__` imports the module when a name is first asked for."""
__all__ = [
    "AUTO_MARGIN", "BUNDLED_N", "CATALOG", "COMPARE_PIPELINES", "DEFAULT_K", "DEFAULT_MODEL", "DEFAULT_RETRIEVER",
    "DEFAULT_SEED", "DEFAULT_TOKENS_PER_TEXT", "DEMO_QUERY", "EMBEDDERS", "LABELLED_PIPELINES", "MAP_SCRIPT",
    "MAX_PROFILES", "PROFILES_RANGE", "PROJECTIONS", "QUERY_LANGUAGES", "RERANKERS", "RETRIEVERS", "ROUTING_PIPELINES", "SEED_RANGE", "SHOWCASE_PIPELINES",
    "Bound", "ClusterankError", "ClusterModel", "ClusterSummary", "Comparison", "Corpus", "CostPlan", "Embedder",
    "FinetuneSettings", "FinetunedModel", "check_not_trained_on", "finetune", "finetune_card", "finetuned_models",
    "safe_name",
    "explain", "explanation_line",
    "EmbeddingStore", "Estimate", "ExactIndex", "Hit", "LLMOptions", "MapData", "ModelInfo", "ModelRun", "Pipeline",
    "PipelineRun", "PrecomputedEmbedder", "Projection", "RayEmbedReport", "Relevance", "Reranker", "Retriever",
    "RoutedIndex", "RoutingReport", "SavedIndex", "SearchContext", "SearchPipeline", "SearchResult", "SearchResults",
    "ServerConfig", "Throughput", "TopK", "Workspace", "api_price", "atomic_path", "available_models", "bootstrap_ci",
    "build_map", "build_relevance", "build_retriever", "bundled_profiles", "bundled_queries", "canonical_spec",
    "check_device", "check_k", "check_reranker", "check_saveable", "check_seed", "check_spec", "check_store",
    "check_lang", "check_tunable", "choose_k", "compare_models", "decode_token_ids", "default_models", "demo_query", "describe_clusters", "detect_language", "embed_on_ray",
    "evaluate_pipelines", "expand_models", "find_backend", "fit_kmeans", "fit_projection", "fold_of",
    "generate_profiles", "generate_queries", "get_embedder", "get_reranker", "install_hint", "is_loopback", "lazy_names",
    "load_prices", "load_profiles", "load_queries", "query_languages", "markdown_table", "markdown_tables", "measure_machine",
    "model_info", "neighbour_map", "page_specs", "paired_difference", "parent_labels", "parse_counts", "parse_k", "parse_pipelines",
    "parse_spec", "plan_costs", "preview", "printable", "read_table", "recommend", "relevance_in_unit",
    "relevant_ids", "repair_store",
    "require", "rerank_top", "retriever_type", "routing_cost", "run_cost", "run_demo", "save_tuning", "saveable_kinds", "serve",
    "similarity_percent", "split_specs", "stored_name", "truncation_summary", "tunable_kinds", "tune", "using_device", "visible",
    "with_alpha", "write_cost_html", "write_cost_png", "write_map_html", "write_map_png", "write_report",
    "write_table",
]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
