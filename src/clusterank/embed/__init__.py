"""Embedding models: one protocol, a registry of offline backends, a catalog of facts, a vector store.

`get_embedder(name)` builds any registered model; `st:<path-or-hub-id>` and `model2vec:<path-or-hub-id>`
load any sentence-transformers or model2vec model (from the hub when online).
"""

from __future__ import annotations

from collections.abc import Callable

from clusterank.embed.base import Embedder
from clusterank.embed.catalog import CATALOG, DEFAULT_MODEL, ModelInfo, model_info, offline_models
from clusterank.errors import ClusterankError
from clusterank.workspace import Workspace


def _registry() -> dict[str, Callable[[Workspace], Embedder]]:
    from clusterank.embed import local

    return {
        "minilm-static": local.minilm_static,
        "paraphrase-MiniLM-L3-v2": local.paraphrase_minilm_l3,
        "all-MiniLM-L6-v2-int8": local.minilm_l6_int8,
        "all-MiniLM-L6-v2": local.minilm_l6,
        "all-mpnet-base-v2": local.mpnet_base,
    }


def available_models() -> list[str]:
    """Ids of the models `get_embedder` can build offline."""
    return list(_registry())


def get_embedder(name: str, workspace: Workspace | None = None) -> Embedder:
    """Build the embedder called `name`.

    Args:
        name: a registered id (`available_models()`), `st:<folder-or-hub-id>` or `model2vec:<folder-or-hub-id>`.
        workspace: where models built on first use are kept (default: `Workspace.default()`).

    Raises:
        ClusterankError: unknown name, or its package is not installed.
    """
    from clusterank.embed import local

    workspace = workspace or Workspace.default()
    if name.startswith("st:"):
        return local.SentenceTransformerEmbedder(name, name[3:])
    if name.startswith("model2vec:"):
        return local.StaticEmbedder(name, name[len("model2vec:"):])
    factories = _registry()
    if name not in factories:
        hint = " (facts only: it is an API or hub model with no offline backend)" if name in CATALOG else ""
        raise ClusterankError(f"unknown model {name!r}{hint}; offline models: {', '.join(factories)}; "
                              "or st:<folder-or-hub-id>, model2vec:<folder-or-hub-id>")
    return factories[name](workspace)


__all__ = ["CATALOG", "DEFAULT_MODEL", "Embedder", "ModelInfo", "available_models", "get_embedder",
           "model_info", "offline_models"]
