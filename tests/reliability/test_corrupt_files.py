"""Damaged derived files: a cluster model cut short or with a flipped byte is one clear error that says what to do,
and removing it lets the clusters be fitted again."""

from __future__ import annotations

import numpy as np
import pytest

from clusterank.cluster.kmeans import ClusterModel, fit_kmeans
from clusterank.errors import ClusterankError


@pytest.mark.parametrize("how", ["truncated", "flipped", "empty"])
def test_damaged_cluster_file_is_one_clear_error(tmp_path, how):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    path = tmp_path / "clusters.npz"
    fit_kmeans(x, 5).save(path)
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "flipped":
        data[len(data) // 3] ^= 0xFF
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(ClusterankError, match=r"clusters.npz: damaged .*delete it and the clusters are fitted again"):
        ClusterModel.load(path)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_damaged_judgment_cache_is_one_clear_error(tmp_path, how):
    from clusterank.rerank.llm import ChatClient, LLMJudge

    path = tmp_path / "judgments.sqlite"
    judge = LLMJudge(ChatClient("http://127.0.0.1:9/v1", "judge"), path)
    with judge._db:
        judge._db.executemany("INSERT INTO judgments VALUES (?, ?, ?)",
                              [("judge", i.to_bytes(32, "big"), 0.5) for i in range(5000)])
    judge._db.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"x" * len(data))
    with pytest.raises(ClusterankError, match=r"judgment cache .*judgments.sqlite is damaged .*delete it"):
        LLMJudge(ChatClient("http://127.0.0.1:9/v1", "judge"), path)
