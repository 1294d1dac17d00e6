"""Jobs spread over several machines: embedding a corpus on a Ray cluster into the workspace's one store.

Importing this package does not import Ray; `embed_on_ray` does, and says how to install it when it is missing.
"""

from __future__ import annotations

from clusterank.distributed.ray_embed import RayEmbedReport, check_address, embed_on_ray

__all__ = ["RayEmbedReport", "check_address", "embed_on_ray"]
