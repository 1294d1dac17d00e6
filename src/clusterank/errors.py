"""The one exception type a user sees: a single line that names what is wrong and where.

The CLI prints `error: <message>` and exits with status 2; Python callers catch `ClusterankError`.
"""

from __future__ import annotations


class ClusterankError(Exception):
    """Bad input or an unusable resource; the message is one line naming the file, column, row or model."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


EXTRAS = {
    "local": "pip install torch==2.13.0 && pip install 'clusterank[local]'",
    "viz": "pip install 'clusterank[viz]'",
    "hf": "pip install 'clusterank[hf]'",
    "llm": "pip install 'clusterank[llm]'",
    "cost": "pip install 'clusterank[cost]'",
    "faiss": "pip install faiss-cpu",
    "api": "pip install 'clusterank[api]'",
    "serve": "pip install 'clusterank[serve]'",
    "ray": "pip install 'clusterank[ray]'",
}
"""How to install each optional extra: the one place an install hint is written."""


def install_hint(extra: str) -> str:
    """The command that installs `extra` (one of `EXTRAS`)."""
    return EXTRAS[extra]


def require(module: str, extra: str, what: str):
    """Import `module`, or raise one line saying what needs it and how to install it.

    Args:
        module: the module to import (e.g. "plotly.graph_objects").
        extra: the clusterank extra that provides it (a key of `EXTRAS`).
        what: what needs it, for the message (e.g. "the cluster map", "model 'all-MiniLM-L6-v2'").

    Raises:
        ClusterankError: `<what> needs the Python package '<name>'; <install command>`.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        name = exc.name or module.split(".")[0]
        raise ClusterankError(f"{what} needs the Python package {name!r}; {install_hint(extra)}") from None
