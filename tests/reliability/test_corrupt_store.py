"""A damaged embedding store: truncated or byte-flipped. Use gives one clear error naming the file and the commands;
`cache check` says it is damaged (exit 2); `cache repair` keeps every row it can read, and each kept vector is the
one stored before; the next run embeds only what was lost."""

from __future__ import annotations

import os

import numpy as np
import pytest

from clusterank.cli import main
from clusterank.embed.store import EmbeddingStore, normalise, text_hash
from clusterank.errors import ClusterankError

N = 3000


@pytest.fixture
def filled(workspace, static_embedder):
    texts = [f"profile {i}: data engineer with Spark and Airflow, {i % 17} years" for i in range(N)]
    store = EmbeddingStore(workspace.store_path)
    vectors = store.embed(static_embedder, texts)
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return workspace.store_path, texts, vectors


def damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:  # flip bytes in three pages in the middle of the file
        page = 4096
        for p in (len(data) // page // 3, len(data) // page // 2, 2 * len(data) // page // 3):
            for off in range(p * page + 100, p * page + 140):
                data[off] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_damaged_store_is_reported_and_repaired(filled, static_embedder, how, capsys):
    path, texts, vectors = filled
    damage(path, how)
    hashes = [text_hash(t) for t in texts]
    with pytest.raises(ClusterankError, match=r"embedding store .* (damaged|unreadable).*cache repair"):
        EmbeddingStore(path).lookup("minilm-static", hashes)

    assert main(["cache", "check"]) == 2
    out, err = capsys.readouterr()
    assert "DAMAGED" in out and len(err.strip().splitlines()) == 1 and "cache repair" in err

    assert main(["cache", "repair"]) == 0
    out = capsys.readouterr().out
    assert "kept as" in out and list(path.parent.glob(f"{path.name}.damaged-*")), out
    store = EmbeddingStore(path)
    kept = store.lookup("minilm-static", hashes)
    assert 0 < len(kept) < N if how == "truncated" else 0 < len(kept) <= N
    for i, h in enumerate(hashes):  # every kept vector is exactly the one stored before
        if h in kept:
            np.testing.assert_array_equal(kept[h], vectors[i])
    assert main(["cache", "check"]) == 0
    assert "intact" in capsys.readouterr().out

    again = store.embed(static_embedder, texts)  # only what was lost is embedded again
    np.testing.assert_allclose(again, normalise(static_embedder.embed(texts)), atol=1e-6)
    assert store.count("minilm-static") == N


def test_not_a_database_is_one_error_and_nothing_is_deleted(workspace, capsys):
    path = workspace.store_path
    path.write_bytes(os.urandom(8192))
    before = path.read_bytes()
    assert main(["search", "data engineer", "--n", "200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "cache repair" in err[0]
    assert path.read_bytes() == before
