"""The embedder registry: every backend by name, missing packages reported with the install command, and
`precomputed:` vectors usable by search, clusters and the map, not only by compare."""

import json

import numpy as np
import pandas as pd
import pytest

from clusterank import EMBEDDERS, ClusterankError, available_models, get_embedder
from clusterank.cli import main
from clusterank.embed import EmbedderBackend, find_backend


def test_fixed_ids_and_prefixes_resolve():
    assert find_backend("minilm-static") == (EMBEDDERS["minilm-static"], "minilm-static")
    backend, arg = find_backend("st:/models/my-model")
    assert backend.name == "st:" and arg == "/models/my-model"
    assert find_backend("precomputed:text-embedding-3-small")[1] == "text-embedding-3-small"
    assert set(available_models()) >= {"minilm-static", "paraphrase-MiniLM-L3-v2", "all-MiniLM-L6-v2"}
    with pytest.raises(ClusterankError, match="unknown model 'voyage-3' \\(facts only"):
        get_embedder("voyage-3")
    with pytest.raises(ClusterankError, match="say what follows 'st:'"):
        get_embedder("st:")


@pytest.fixture()
def ghost():
    backend = EMBEDDERS.register(EmbedderBackend("ghost-model", "a test", lambda *a: None,
                                                 needs=("clusterank_no_such_package",)))
    yield backend
    EMBEDDERS.unregister("ghost-model")


def test_a_backend_whose_package_is_missing_is_listed_not_raised(ghost, workspace, capsys):
    assert ghost.missing() == ["clusterank_no_such_package"] and ghost.status().startswith("unavailable: pip install")
    assert "ghost-model" not in available_models()
    with pytest.raises(ClusterankError, match="needs the Python package 'clusterank_no_such_package'; pip install"):
        get_embedder("ghost-model")
    assert main(["models", "--format", "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["minilm-static"]["status"] == "available" and rows["voyage-3"]["status"] == "facts only"
    assert rows["st:<...>"]["status"] == "available"


@pytest.fixture()
def precomputed_corpus(tmp_path):
    rng = np.random.default_rng(1)
    roles = ["Product Marketing Manager", "Product Manager", "Data Scientist"]
    centres = {r: rng.standard_normal(12) for r in roles}
    rows = [{"text": f"{roles[i % 3]} profile number {i}", "role": roles[i % 3],
             "embeddings_my-model": (centres[roles[i % 3]] + 0.3 * rng.standard_normal(12)).tolist()}
            for i in range(90)]
    path = tmp_path / "profiles.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_precomputed_vectors_work_in_search_clusters_and_map(precomputed_corpus, tmp_path, workspace, capsys):
    common = ["--model", "precomputed:my-model", "--corpus", str(precomputed_corpus)]
    assert main(["search", "Data Scientist profile number 5", "-k", "3", "--json", *common]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits[0]["row"] == 5 and hits[0]["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert all(h["role"] == "Data Scientist" for h in hits)
    assert main(["clusters", "--clusters", "3", *common]) == 0
    out = capsys.readouterr().out
    assert "3 clusters of 90 profiles (precomputed:my-model" in out
    assert main(["map", "--clusters", "3", "-o", str(tmp_path / "m.html"), *common]) == 0
    assert "90 points, 3 clusters" in capsys.readouterr().out
    assert main(["search", "a job description that is not in the corpus", *common]) == 2
    assert "precomputed models only know texts that carry a vector" in capsys.readouterr().err
