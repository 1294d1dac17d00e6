"""Jobs spread over several machines: embedding a corpus on a Ray cluster into the workspace's one store.

Importing this package does not import Ray, nor numpy and the embedders: the names load on first use
(PEP 562); `embed_on_ray` imports Ray, and says how to install it when it is missing.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "clusterank.distributed.ray_embed": ("RayEmbedReport", "check_address", "embed_on_ray"),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""

__all__ = ["RayEmbedReport", "check_address", "embed_on_ray"]

_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
