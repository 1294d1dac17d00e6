from clusterank import CATALOG, available_models, model_info
from clusterank.embed.catalog import offline_models

SEED_NINE = {"text-embedding-ada-002", "text-embedding-3-small", "nv-embed-v1", "mistral-7b-v2", "nv-embedqa-e5-v5",
             "arctic-embed-l", "bge-m3", "gte-large-en-v1.5", "mxbai-embed-large-v1"}


def test_catalog_holds_the_seeds_nine_models_with_facts():
    seed = {m.id for m in CATALOG.values() if m.seed}
    assert seed == SEED_NINE
    for m in CATALOG.values():
        assert m.dims > 0 and m.max_tokens > 0 and m.licence and m.source


def test_every_priced_api_model_is_in_the_catalog_as_a_closed_model():
    from clusterank.cost import default_prices

    for model_id in default_prices().api:
        assert not model_info(model_id).open_weights


def test_every_offline_model_is_registered_and_sizes_differ():
    offline = offline_models()
    assert [m.id for m in offline if m.backend] and {m.id for m in offline} == set(available_models())
    sizes = [m.params_m for m in offline]
    assert max(sizes) / min(sizes) > 2.5
