"""matplotlib for the static images, headless (Agg), with one install hint when it is missing."""

from __future__ import annotations

from pathlib import Path

from clusterank.errors import ClusterankError


def pyplot(image: str):
    """`matplotlib.pyplot` on the Agg backend.

    Raises:
        ClusterankError: matplotlib is not installed (names `image`, the picture that needed it).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ClusterankError(f"the {image} needs matplotlib: pip install 'clusterank[viz]'") from None
    return plt


def prepare(path: str | Path) -> Path:
    """`path` as a Path whose folder exists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
