"""The dated price table: every entry dated and sourced; user files and --set override it; bad files fail clearly."""

import datetime as dt
import os
import re

import pytest

from clusterank import ClusterankError
from clusterank.cost import api_price, load_prices
from clusterank.prices import parse_setting

SEED_API = {"text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large", "voyage-3"}


def test_builtin_table_prices_the_seeds_models_each_with_a_date_and_source():
    table = load_prices()
    assert SEED_API <= set(table.api)
    entries = [*table.api.values(), *table.gpus.values(), *table.selfhosted.values(), table.machine]
    for e in entries:
        dt.date.fromisoformat(e.date)
        assert e.source.strip()
    assert table.api["text-embedding-3-large"].price_per_1m_tokens == 0.13
    assert table.api["text-embedding-3-small"].price_per_1m_tokens == 0.02
    assert table.api["text-embedding-ada-002"].price_per_1m_tokens == 0.10
    assert table.api["text-embedding-3-large"].batch_discount == 0.5
    assert table.selfhosted["335M-on-L4"].texts_per_s == 103 and table.selfhosted["7B-on-A100"].texts_per_s == 40
    assert api_price("text-embedding-3-small") == (0.02, "2024-07-25") and api_price("minilm-static") is None


def test_a_user_file_overrides_a_price_and_redates_it(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('[gpu.L4]\nhourly_usd = 0.50\n\n[api.cohere-embed-v3]\nprovider = "Cohere"\n'
                    'price_per_1m_tokens = 0.10\nrpm = 2000\ntpm = 5000000\n'
                    'date = "2026-11-01"\nsource = "https://cohere.com/pricing"\n')
    os.utime(mine, (dt.datetime(2026, 11, 20).timestamp(),) * 2)
    table = load_prices([mine])
    l4 = table.gpus["L4"]
    assert l4.hourly_usd == 0.50 and l4.date == "2026-11-20" and str(mine) in l4.source
    assert table.selfhosted["335M-on-L4"].gpu.hourly_usd == 0.50  # the self-hosted option follows the GPU
    assert table.api["cohere-embed-v3"].date == "2026-11-01"
    assert table.api["text-embedding-3-large"].price_per_1m_tokens == 0.13  # untouched entries stay


def test_set_changes_one_field_and_keeps_the_price_date_for_a_rate_limit():
    table = load_prices(settings=["api.text-embedding-3-large.tpm=5_000_000",
                                  "api.voyage-3.price_per_1m_tokens=0.05", "machine.hourly_usd=0"],
                        today=dt.date(2026, 11, 27))
    large, voyage = table.api["text-embedding-3-large"], table.api["voyage-3"]
    assert large.tpm == 5_000_000 and large.date == "2024-07-25" and "tpm from --set" in large.source
    assert voyage.price_per_1m_tokens == 0.05 and voyage.date == "2026-11-27"
    assert table.machine.hourly_usd == 0 and table.machine.date == "2026-11-27"


def test_entry_names_with_dots_parse():
    assert parse_setting("selfhosted.335M-on-L4.texts_per_s=120") == (("selfhosted", "335M-on-L4", "texts_per_s"), 120)
    assert parse_setting("api.my.model.v2.rpm=10")[0] == ("api", "my.model.v2", "rpm")


@pytest.mark.parametrize("body, message", [
    ("[gpu.L4\nhourly_usd = 1", "not valid TOML"),
    ("[gpu.L4]\nhourly_usd = -1", "gpu.L4.hourly_usd must be >= 0"),
    ("[gpu.L4]\nhourly_usd = 'cheap'", "gpu.L4.hourly_usd must be a number, got 'cheap'"),
    ("[gpu.L4]\nhourly_usdd = 1", "gpu.L4.hourly_usdd is not a known field"),
    ("[api.text-embedding-3-large]\ntpm = 0", "tpm must be > 0"),
    ("[api.text-embedding-3-large]\nbatch_discount = 1.5", "must be a fraction"),
    ("[api.new-model]\nprovider = 'x'\nprice_per_1m_tokens = 0.1\nrpm = 1\ntpm = 1", None),  # dated by the file
    ("[selfhosted.335M-on-L4]\ngpu = 'TPU'", "names 'TPU', which is not a [gpu.*] entry"),
    ("[gpus.L4]\nhourly_usd = 1", "unknown section [gpus]"),
    ("[gpu.T4]\ninstance = 'n1 + T4'", "gpu.T4 lacks hourly_usd"),
    ("[gpu.T4]\nhourly_usd = 0.35\ndate = 'last week'\nsource = 'me'", "date must be YYYY-MM-DD"),
])
def test_malformed_price_files_give_one_line_naming_file_and_field(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    if message is None:  # a new entry without date/source takes the file's date and path
        entry = load_prices([path]).api["new-model"]
        assert entry.source == str(path) and dt.date.fromisoformat(entry.date)
        return
    with pytest.raises(ClusterankError, match=re.escape(message)) as info:
        load_prices([path])
    assert "\n" not in str(info.value) and ("bad.toml" in str(info.value))


def test_unreadable_file_and_bad_set_are_clear(tmp_path):
    with pytest.raises(ClusterankError, match="cannot read prices file .*missing.toml"):
        load_prices([tmp_path / "missing.toml"])
    with pytest.raises(ClusterankError, match="expected SECTION.ENTRY.FIELD=VALUE"):
        load_prices(settings=["tpm=5"])
    with pytest.raises(ClusterankError, match="gpus must be at least 1"):
        load_prices().with_gpus(0)


def test_a_user_file_adds_a_gpu_and_a_self_hosted_option(tmp_path):
    from clusterank.cost import plan_costs

    mine = tmp_path / "h100.toml"
    mine.write_text('[gpu.H100]\nhourly_usd = 2.5\ndate = "2026-11-01"\nsource = "our cloud quote"\n\n'
                    '[selfhosted.bge-on-H100]\nlabel = "bge-m3 on 2x H100"\nmodels = ["bge-m3"]\n'
                    'gpu = "H100"\ngpus = 2\ntexts_per_s = 2000\nreference_tokens = 400\nstartup_min = 5\n')
    plan = plan_costs(load_prices([mine]), [1_000_000], models=["bge-on-H100"])
    est = plan.estimate("bge-m3 on 2x H100", 1_000_000)
    assert est.seconds == pytest.approx(300 + 1_000_000 / 4000)  # 5 min + 1M / (2,000 x 2 GPUs)
    assert est.usd == pytest.approx(2 * 2.5 * est.hours)
    assert "2x H100 at $2.5/h (2026-11-01)" in est.option.basis


def test_every_seed_model_can_be_priced():
    from clusterank import CATALOG

    table = load_prices()
    covered = set(table.api) | {m for sh in table.selfhosted.values() for m in sh.models}
    assert {m.id for m in CATALOG.values() if m.seed} <= covered
