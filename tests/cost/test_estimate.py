"""The cost arithmetic against hand-computed values, the seed's scenario first."""

import math

import pytest

from clusterank import ClusterankError
from clusterank.cost import api_estimate, load_prices, savings_percent, selfhosted_estimate
from clusterank.cost import Throughput
from clusterank.cost.estimate import machine_estimate
from clusterank.cost.throughput import scaled_texts_per_s
from clusterank.prices import ApiOption


@pytest.fixture(scope="module")
def prices():
    return load_prices()


def test_seed_scenario_text_embedding_3_large_costs_130_dollars(prices):
    est = api_estimate(prices.api["text-embedding-3-large"], 2_500_000, 400)
    assert est.tokens == 1_000_000_000  # 2.5M texts x 400 tokens = 1B tokens
    assert est.usd == pytest.approx(130.0)  # 1,000 x $0.13 per 1M
    assert est.option.date == "2024-07-25" and "$0.13 / 1M tokens (2024-07-25)" in est.option.basis


def test_seed_scenario_335m_model_on_one_l4_takes_6_74_hours(prices):
    sh = prices.selfhosted["335M-on-L4"]
    assert (sh.gpu.name, sh.gpus, sh.texts_per_s) == ("L4", 1, 103)
    est = selfhosted_estimate(sh, 2_500_000, 400)
    assert est.compute_hours == pytest.approx(2_500_000 / 103 / 3600)
    assert round(est.compute_hours, 2) == 6.74
    assert est.seconds == pytest.approx(2_500_000 / 103 + sh.startup_min * 60)
    assert est.usd == pytest.approx(sh.gpu.hourly_usd * est.hours)


def test_seed_scenario_7b_model_on_one_a100_at_40_texts_per_second(prices):
    est = selfhosted_estimate(prices.selfhosted["7B-on-A100"], 2_500_000, 400)
    assert est.compute_hours == pytest.approx(2_500_000 / 40 / 3600)  # 17.36 h


def test_batch_api_halves_the_openai_price_and_its_time_is_the_window_per_queued_batch(prices):
    api = prices.api["text-embedding-3-small"]
    sync = api_estimate(api, 100_000, 400)
    batch = api_estimate(api, 100_000, 400, batch=True)
    assert sync.usd == pytest.approx(0.8)  # 40M tokens x $0.02 / 1M
    assert batch.usd == pytest.approx(0.4)
    assert batch.option.upper_bound_time and batch.option.kind == "api-batch"
    assert batch.seconds == math.ceil(40e6 / api.batch_queue_tokens) * api.batch_window_h * 3600


def test_rate_limited_time_takes_the_slower_of_requests_and_tokens_per_minute():
    api = ApiOption("m", "p", 1.0, rpm=10, tpm=1_000_000, date="2026-01-01", source="test",
                    max_inputs_per_request=100)
    few_long = api_estimate(api, 1_000, 10_000)  # 10M tokens: 10 min by TPM; 10 requests: 1 min by RPM
    assert few_long.seconds == pytest.approx(600)
    many_short = api_estimate(api, 100_000, 1)  # 1,000 requests: 100 min by RPM; 0.1 min by TPM
    assert many_short.seconds == pytest.approx(6000)
    assert "requests per minute" in many_short.notes[0]


def test_throughput_scales_with_tokens_per_text_and_gpus(prices):
    assert scaled_texts_per_s(103, 400, 200) == pytest.approx(206)
    two = prices.with_gpus(2).selfhosted["335M-on-L4"]
    one = prices.selfhosted["335M-on-L4"]
    e1, e2 = selfhosted_estimate(one, 1_000_000, 400), selfhosted_estimate(two, 1_000_000, 400)
    assert e2.compute_hours == pytest.approx(e1.compute_hours / 2)
    assert e2.usd == pytest.approx(2 * one.gpu.hourly_usd * e2.hours)


def test_savings_of_self_hosting_against_the_api(prices):
    api = api_estimate(prices.api["text-embedding-3-large"], 2_500_000, 400)
    gpu = selfhosted_estimate(prices.selfhosted["335M-on-L4"], 2_500_000, 400)
    assert savings_percent(gpu, api) == pytest.approx(100 * (1 - gpu.usd / 130))
    assert savings_percent(gpu, api) > 95  # the seed's "up to 95%"
    measured = Throughput("minilm-static", 2000.0, 200.0, 64, "2026-11-27", "test cpu")  # 400k tokens/s
    cpu = machine_estimate(prices.machine, measured, 2_500_000, 400)  # -> 1,000 texts/s at 400 tokens
    assert cpu.seconds == pytest.approx(2500) and cpu.usd == pytest.approx(prices.machine.hourly_usd * 2500 / 3600)
    with pytest.raises(ClusterankError, match="same number of texts"):
        savings_percent(gpu, api_estimate(prices.api["text-embedding-3-large"], 10, 400))


@pytest.mark.parametrize("n, tokens", [(-5, 400), (0, 400), (100, -1), (100, float("nan")), (float("inf"), 400)])
def test_negative_zero_or_nan_counts_are_refused(prices, n, tokens):
    with pytest.raises(ClusterankError, match="must be a positive number"):
        api_estimate(prices.api["text-embedding-3-large"], n, tokens)


def test_unit_prices_keep_their_digits():
    from clusterank.tables import format_usd

    assert [format_usd(p, unit_price=True) for p in (0.13, 0.1, 0.065, 0.0402, 0.02)] == [
        "$0.13", "$0.10", "$0.065", "$0.0402", "$0.02"]
    assert format_usd(0.065) == "$0.065" and format_usd(0.0402) == "$0.04"  # an amount: two significant digits
