from clusterank import CATALOG, available_models, model_info
from clusterank.embed.catalog import offline_models

SEED_NINE = {"text-embedding-ada-002", "text-embedding-3-small", "nv-embed-v1", "mistral-7b-v2", "nv-embedqa-e5-v5",
             "arctic-embed-l", "bge-m3", "gte-large-en-v1.5", "mxbai-embed-large-v1"}


def test_catalog_holds_the_seeds_nine_models_with_facts():
    seed = {m.id for m in CATALOG.values() if m.seed}
    assert seed == SEED_NINE
    for m in CATALOG.values():
        assert m.dims > 0 and m.max_tokens > 0 and m.licence and m.source
        if m.price_per_1m_tokens is not None:
            assert m.price_date and not m.open_weights


def test_api_prices_are_dated_and_match_the_providers_list():
    assert model_info("text-embedding-3-large").price_per_1m_tokens == 0.13
    assert model_info("text-embedding-3-small").price_per_1m_tokens == 0.02


def test_every_offline_model_is_registered_and_sizes_differ():
    offline = offline_models()
    assert [m.id for m in offline if m.backend] and {m.id for m in offline} == set(available_models())
    sizes = [m.params_m for m in offline]
    assert max(sizes) / min(sizes) > 2.5
