"""Names that load on first use (PEP 562): each package's `__init__` lists what it offers in an `_EXPORTS` table
(module -> names) and takes its `__getattr__` and `__dir__` from `lazy_names`, so importing a package imports none
of its heavy modules until a name is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping


def lazy_names(exports: Mapping[str, tuple[str, ...]],
               namespace: MutableMapping[str, object]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module-level `__getattr__` and `__dir__` of a package whose names load on first use.

    Args:
        exports: module -> the names it defines that the package offers.
        namespace: the package's `globals()`; a loaded name is kept there, so later lookups skip `__getattr__`.
    """
    where = {name: module for module, names in exports.items() for name in names}
    package = namespace.get("__name__", "package")

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
