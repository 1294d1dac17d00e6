"""Embedding models: one protocol, a registry of backends, a catalog of facts, a vector store.

`get_embedder(name)` builds any registered model; `st:<path-or-hub-id>`, `model2vec:<path-or-hub-id>` and
`precomputed:<model>` take an argument, and so do the HTTP APIs: `api:<model>@<base_url>`,
`openai:<model>`, `nvidia:<model>`, `voyage:<model>`, `cohere:<model>`. `EMBEDDERS` lists every backend with whether it can run here.
"""

from __future__ import annotations

from clusterank.defaults import DEFAULT_MODEL
from clusterank.embed.base import Embedder, EmbedderBackend
from clusterank.embed.catalog import CATALOG, ModelInfo, model_info, offline_models
from clusterank.embed.registry import EMBEDDERS, available_models, catalog_id, find_backend, get_embedder

__all__ = ["CATALOG", "DEFAULT_MODEL", "EMBEDDERS", "Embedder", "EmbedderBackend", "ModelInfo", "available_models",
           "catalog_id", "find_backend", "get_embedder", "model_info", "offline_models"]
