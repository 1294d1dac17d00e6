"""The arithmetic of embedding N texts: what it costs and how long it takes, per option.

API: tokens x price (less the batch discount), time from the rate limit (requests and tokens per
minute; for the batch API the provider's completion window per queued batch, an upper bound).
Self-hosted: start-up + N / (texts/s x GPUs), billed per second at the GPUs' hourly price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from clusterank.prices import ApiOption, Machine, SelfHosted
from clusterank.cost.throughput import Throughput, check_count, scaled_texts_per_s
from clusterank.errors import ClusterankError
from clusterank.tables import format_usd


@dataclass(frozen=True)
class Option:
    """One way to embed the texts: a line on the charts, a row in the tables."""

    name: str
    kind: str
    models: tuple[str, ...]
    basis: str
    """The figures the estimate rests on, each with its date, e.g. "$0.13 / 1M tokens (2024-07-25)"."""
    date: str
    source: str
    tokens_per_text: float
    """Tokens per text this option is priced at (the model's tokenizer with --corpus; capped at its limit)."""
    upper_bound_time: bool = False
    """True where the time is a provider's guaranteed window, not an expected duration (batch APIs)."""

    @property
    def is_api(self) -> bool:
        """True for options billed per token."""
        return self.kind in ("api", "api-batch")


@dataclass(frozen=True)
class CostEstimate:
    """Cost and time of one option for one number of texts."""

    option: Option
    n_texts: int
    tokens: float
    usd: float
    seconds: float
    startup_seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def hours(self) -> float:
        """Wall-clock hours, start-up included."""
        return self.seconds / 3600

    @property
    def compute_hours(self) -> float:
        """Hours spent embedding, start-up excluded."""
        return (self.seconds - self.startup_seconds) / 3600


def api_option(api: ApiOption, tokens_per_text: float, batch: bool = False) -> Option:
    """The option of calling `api` (or its batch API) at `tokens_per_text`."""
    if batch and api.batch_discount <= 0:
        raise ClusterankError(f"{api.model} has no batch discount in the price table")
    price = api.price_per_1m_tokens * (1 - api.batch_discount if batch else 1)
    basis = f"{format_usd(price, unit_price=True)} / 1M tokens ({api.date})"
    if batch:
        basis += (f", {api.batch_discount:.0%} batch discount, results within {api.batch_window_h:g} h, "
                  f"{api.batch_queue_tokens:,.0f} tokens queued at a time")
    else:
        basis += f", {api.rpm:,.0f} RPM / {api.tpm:,.0f} TPM"
    return Option(f"{api.model} (batch)" if batch else api.model, "api-batch" if batch else "api", (api.model,),
                  basis, api.date, api.source, tokens_per_text, upper_bound_time=batch)


def api_estimate(api: ApiOption, n_texts: int, tokens_per_text: float, batch: bool = False) -> CostEstimate:
    """Cost and time of embedding `n_texts` texts of `tokens_per_text` tokens through `api`.

    Args:
        api: the model's price and limits.
        n_texts: how many texts.
        tokens_per_text: mean tokens per text under the model's tokenizer.
        batch: use the provider's batch API (discounted; time is the completion window per queued batch).

    Returns:
        The estimate: tokens x price per 1M tokens / 1e6 (less the discount); synchronous time is the
        slower of requests / RPM and tokens / TPM, where a request carries at most
        `max_inputs_per_request` texts and `max_tokens_per_request` tokens.
    """
    check_count(n_texts, "number of texts")
    check_count(tokens_per_text, "tokens per text")
    option = api_option(api, tokens_per_text, batch)
    tokens = n_texts * tokens_per_text
    usd = tokens / 1e6 * api.price_per_1m_tokens * ((1 - api.batch_discount) if batch else 1)
    if batch:
        batches = math.ceil(tokens / api.batch_queue_tokens)
        seconds = batches * api.batch_window_h * 3600
        notes = (f"{batches:,} batch(es) of at most {api.batch_queue_tokens:,.0f} queued tokens, "
                 f"each done within {api.batch_window_h:g} h",)
    else:
        requests = max(math.ceil(n_texts / api.max_inputs_per_request),
                       math.ceil(tokens / api.max_tokens_per_request))
        by_tokens, by_requests = tokens / api.tpm, requests / api.rpm  # minutes each limit allows
        seconds = max(by_tokens, by_requests) * 60
        notes = (f"{requests:,} requests; limited by {'tokens' if by_tokens >= by_requests else 'requests'} "
                 "per minute",)
    return CostEstimate(option, n_texts, tokens, usd, seconds, 0.0, notes)


def _gpu_estimate(option: Option, n_texts: int, texts_per_s: float, hourly_usd: float,
                  startup_min: float) -> CostEstimate:
    check_count(n_texts, "number of texts")
    startup = startup_min * 60
    seconds = startup + n_texts / texts_per_s
    usd = hourly_usd * seconds / 3600
    return CostEstimate(option, n_texts, n_texts * option.tokens_per_text, usd, seconds, startup,
                    (f"{texts_per_s:,.1f} texts/s",))


def selfhosted_texts_per_s(sh: SelfHosted, tokens_per_text: float) -> float:
    """Texts/s of all of `sh`'s GPUs together at `tokens_per_text` tokens per text."""
    return scaled_texts_per_s(sh.texts_per_s, sh.reference_tokens, tokens_per_text) * sh.gpus


def selfhosted_option(sh: SelfHosted, tokens_per_text: float) -> Option:
    """The option of serving `sh`'s model class on its GPUs at `tokens_per_text`."""
    basis = (f"{sh.gpus}x {sh.gpu.name} at ${sh.gpu.hourly_usd:g}/h ({sh.gpu.date}), "
             f"{selfhosted_texts_per_s(sh, tokens_per_text):,.1f} texts/s ({sh.date}), "
             f"start-up {sh.startup_min:g} min")
    return Option(sh.label, "self-hosted", sh.models, basis, sh.price_date,
                  f"{sh.source} ; GPU: {sh.gpu.source}", tokens_per_text)


def selfhosted_estimate(sh: SelfHosted, n_texts: int, tokens_per_text: float) -> CostEstimate:
    """Cost and time of embedding `n_texts` texts on `sh`'s GPUs (throughput scaled to `tokens_per_text`)."""
    return _gpu_estimate(selfhosted_option(sh, tokens_per_text), n_texts, selfhosted_texts_per_s(sh, tokens_per_text),
                         sh.hourly_usd, sh.startup_min)


def machine_option(machine: Machine, thr: Throughput, tokens_per_text: float) -> Option:
    """The option of embedding with an offline model on this machine, from its measured throughput."""
    rate = f"{thr.at(tokens_per_text):,.1f} texts/s at {tokens_per_text:,.0f} tokens"
    if abs(thr.mean_tokens - tokens_per_text) <= 0.02 * tokens_per_text:
        rate += f" (measured here {thr.measured_on})"
    else:
        rate += (f" (scaled from {thr.texts_per_s:,.1f} texts/s at {thr.mean_tokens:,.0f} tokens, measured here "
                 f"{thr.measured_on})")
    basis = f"{rate}, VM at ${machine.hourly_usd:g}/h ({machine.date})"
    return Option(f"this machine: {thr.model}", "this machine", (thr.model,), basis,
                  min(thr.measured_on, machine.date),
                  f"measured by clusterank on {thr.machine} ; VM price: {machine.instance}, {machine.source}",
                  tokens_per_text)


def machine_estimate(machine: Machine, thr: Throughput, n_texts: int, tokens_per_text: float) -> CostEstimate:
    """Cost and time of embedding `n_texts` texts on this machine at the throughput measured here."""
    check_count(thr.texts_per_s, f"measured throughput of {thr.model}")
    option = machine_option(machine, thr, tokens_per_text)
    return _gpu_estimate(option, n_texts, thr.at(tokens_per_text), machine.hourly_usd, machine.startup_min)


def savings_percent(self_hosted: CostEstimate, api: CostEstimate) -> float:
    """How much cheaper `self_hosted` is than `api` for the same texts, in percent (negative: dearer)."""
    if self_hosted.n_texts != api.n_texts:
        raise ClusterankError("savings compare estimates for the same number of texts")
    if api.usd == 0:
        return float("nan")
    return 100 * (1 - self_hosted.usd / api.usd)
