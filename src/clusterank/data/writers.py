"""Write tables to .parquet, .csv or .jsonl, chosen by the file's suffix (atomically: temp file, then rename)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from clusterank.errors import ClusterankError


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write `frame` to `path`; the suffix picks the format. A failed write leaves any old file intact."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl"):
        raise ClusterankError(f"{path}: unknown format {suffix!r}; use .parquet, .csv or .jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ClusterankError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
