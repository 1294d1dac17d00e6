"""Jobs spread over several machines: embedding a corpus on a Ray cluster into the workspace's one store.

Importing this package does not import Ray, nor numpy and the embedders: the names load on first use
(PEP 562); `embed_on_ray` imports Ray, and says how to install it when it is missing.
"""

from __future__ import annotations

from clusterank.lazy import lazy_names

_EXPORTS = {
    "clusterank.distributed.ray_embed": ("RayEmbedReport", "check_address", "embed_on_ray"),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["RayEmbedReport", "check_address", "embed_on_ray"]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
