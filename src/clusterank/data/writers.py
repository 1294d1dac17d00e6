"""Write tables to .parquet, .csv or .jsonl, chosen by the file's suffix (atomically: temp file, then rename)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from clusterank.errors import ClusterankError
from clusterank.workspace import atomic_path


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` to `path`; the suffix picks the format. A failed write leaves any old file intact.

    Raises:
        ClusterankError: an unknown suffix, or the file cannot be written (naming the path).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl"):
        raise ClusterankError(f"{path}: unknown format {suffix!r}; use .parquet, .csv or .jsonl")
    try:
        with atomic_path(path) as tmp:
            if suffix == ".parquet":
                frame.to_parquet(tmp, index=False)
            elif suffix == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
    except OSError as exc:
        raise ClusterankError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
