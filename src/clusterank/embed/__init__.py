"""Embedding models: one protocol, a registry of backends, a catalog of facts, a vector store.

`get_embedder(name)` builds any registered model; `st:<path-or-hub-id>`, `model2vec:<path-or-hub-id>` and
`precomputed:<model>` take an argument, and so do the HTTP APIs: `api:<model>@<base_url>`,
`openai:<model>`, `nvidia:<model>`, `voyage:<model>`, `cohere:<model>`. `EMBEDDERS` lists every backend with whether it can run here.
The names load on first use (PEP 562): the catalog alone does not import numpy or the backends.
"""

from __future__ import annotations

from clusterank.lazy import lazy_names

_EXPORTS = {
    "clusterank.defaults": ("DEFAULT_MODEL",),
    "clusterank.embed.base": ("Embedder", "EmbedderBackend"),
    "clusterank.embed.catalog": ("CATALOG", "ModelInfo", "model_info", "offline_models"),
    "clusterank.embed.registry": ("EMBEDDERS", "available_models", "catalog_id", "find_backend", "get_embedder"),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["CATALOG", "DEFAULT_MODEL", "EMBEDDERS", "Embedder", "EmbedderBackend", "ModelInfo", "available_models",
           "catalog_id", "find_backend", "get_embedder", "model_info", "offline_models"]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
