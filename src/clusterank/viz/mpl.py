"""matplotlib for the static images, headless (Agg), with one install hint when it is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusterank.errors import require
from clusterank.workspace import atomic_path


def pyplot(image: str) -> Any:
    """`matplotlib.pyplot` on the Agg backend.

    Args:
        image: the picture that needs it, named in the error.

    Raises:
        ClusterankError: matplotlib is not installed (says how to install it).
    """
    require("matplotlib", "viz", f"the {image}").use("Agg")
    return require("matplotlib.pyplot", "viz", f"the {image}")


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a matplotlib figure to `path` atomically (folders created; the suffix picks the format) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return path
