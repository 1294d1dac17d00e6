"""clusterank: find the right candidate profiles for a job description, and measure which embedding
model to use. This module is the public Python API; everything a user needs is re-exported here.
"""

from clusterank.data.loaders import Corpus, bundled_profiles, bundled_queries, load_profiles, load_queries, read_table
from clusterank.embed import CATALOG, DEFAULT_MODEL, Embedder, ModelInfo, available_models, get_embedder, model_info
from clusterank.embed.precomputed import PrecomputedEmbedder
from clusterank.embed.store import EmbeddingStore
from clusterank.errors import ClusterankError
from clusterank.index.exact import ExactIndex, TopK
from clusterank.pipeline import Hit, SearchPipeline, similarity_percent
from clusterank.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "CATALOG", "DEFAULT_MODEL", "ClusterankError", "Corpus", "Embedder", "EmbeddingStore", "ExactIndex", "Hit",
    "ModelInfo", "PrecomputedEmbedder", "SearchPipeline", "TopK", "Workspace", "available_models",
    "bundled_profiles", "bundled_queries", "get_embedder", "load_profiles", "load_queries", "model_info",
    "read_table", "similarity_percent",
]
