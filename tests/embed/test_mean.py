"""`mean-of-models`: the cosine of the joined vectors is the mean of the models' cosines."""

import numpy as np
import pytest

from clusterank import ClusterankError
from clusterank.embed.registry import catalog_id, get_embedder

TEXTS = ["Product Marketing Manager: positioning, launches, messaging", "Product Manager: roadmap, discovery",
         "Data engineer: Spark pipelines, dbt, Airflow"]


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_joined_cosine_is_the_mean_of_the_models_cosines(session_home):
    mean = get_embedder("mean-of-models:minilm-static+paraphrase-MiniLM-L3-v2", session_home, device="cpu")
    parts = [unit(get_embedder(n, session_home, device="cpu").embed(TEXTS))
             for n in ("minilm-static", "paraphrase-MiniLM-L3-v2")]
    joined = mean.embed(TEXTS)
    assert joined.shape == (3, sum(p.shape[1] for p in parts)) == (3, mean.dims)
    assert np.allclose(np.linalg.norm(joined, axis=1), 1.0, atol=1e-5)
    assert np.allclose(joined @ joined.T, (parts[0] @ parts[0].T + parts[1] @ parts[1].T) / 2, atol=1e-5)
    assert not mean.remote and not mean.paid and catalog_id(mean.name) == mean.name


@pytest.mark.parametrize("name, message", [
    ("mean-of-models:minilm-static", "at least two models"),
    ("mean-of-models:minilm-static++minilm-static", "none empty"),
    ("mean-of-models:minilm-static+nope", "unknown model 'nope'"),
])
def test_bad_member_lists_are_named(name, message, session_home):
    with pytest.raises(ClusterankError, match=message):
        get_embedder(name, session_home, device="cpu")
