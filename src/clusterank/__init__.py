"""clusterank: find the right candidate profiles for a job description, and measure which embedding
model to use. This module is the public Python API; everything a user needs is re-exported here.
"""

from clusterank.cluster.describe import ClusterSummary, describe_clusters
from clusterank.cluster.kmeans import ClusterModel, choose_k, fit_kmeans
from clusterank.cluster.project import Projection, fit_projection
from clusterank.cost import CostPlan, Throughput, load_prices, measure_machine, plan_costs, run_cost
from clusterank.data.loaders import Corpus, bundled_profiles, bundled_queries, load_profiles, load_queries, read_table
from clusterank.embed import (CATALOG, DEFAULT_MODEL, EMBEDDERS, Embedder, ModelInfo, available_models, get_embedder,
                              model_info)
from clusterank.embed.precomputed import PrecomputedEmbedder
from clusterank.embed.store import EmbeddingStore
from clusterank.errors import ClusterankError
from clusterank.evaluate.compare import Comparison, ModelRun, compare_models, default_models
from clusterank.evaluate.evaluator import Pipeline, PipelineRun, evaluate_pipelines, parse_pipelines
from clusterank.evaluate.relevance import Relevance, build_relevance
from clusterank.evaluate.report import markdown_tables, recommend
from clusterank.viz.report import write_report
from clusterank.evaluate.routing import RoutingReport, routing_cost
from clusterank.evaluate.stats import Estimate, bootstrap_ci, paired_difference
from clusterank.index import (RETRIEVERS, ExactIndex, Retriever, RoutedIndex, SearchContext, TopK, build_retriever,
                              canonical_spec)
from clusterank.index.hits import Hit, similarity_percent
from clusterank.index.persist import SavedIndex
from clusterank.pipeline import SearchPipeline
from clusterank.rerank import RERANKERS, Reranker, get_reranker
from clusterank.viz.cost import write_cost_html, write_cost_png
from clusterank.cluster.map import MapData, build_map
from clusterank.viz.map import write_map_html, write_map_png
from clusterank.workspace import Workspace

__version__ = "0.2.0"

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
