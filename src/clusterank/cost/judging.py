"""The arithmetic of LLM judging (`clusterank cost --judge`): how many pairs a judged comparison grades, and what
grading them costs and takes per option: a chat API (synchronous or batch), a judge on rented GPUs, this machine.

Pairs: `clusterank compare --judge` grades each query's pool once: the union of every model x pipeline's top
`pool_depth`. That union is at most systems x depth rows and at least depth (all systems agree); `overlap` is the
share of each further system's top-depth already in the pool, so pairs per query = depth + (systems - 1) x depth x
(1 - overlap). A measured figure (the report's graded pairs / queries) replaces the assumption.

A grade is one chat request: the prompt's tokens (counted on real prompts, `cost.judge_run`) in, at most
`COMPLETION_TOKENS` out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from clusterank.cost.throughput import check_count, scaled_texts_per_s
from clusterank.errors import ClusterankError
from clusterank.prices import JudgeApi, JudgeGpu, Machine
from clusterank.tables import Table, format_usd

COMPLETION_TOKENS = 3
"""Completion tokens a grade may use: the grader asks for `max_tokens=3` (a digit, and an end token at most)."""
DEFAULT_OVERLAP = 0.5
"""Share of a further system's top-depth already pooled by the others. The bundled set's judged run (4 systems x
depth 3, 4 queries, bench/RESULTS.md) pooled 27 unique pairs of 48 listed: overlap 0.58; 0.5 is rounded down."""


def pairs_per_query(systems: int, depth: int, overlap: float = DEFAULT_OVERLAP, corpus_size: int | None = None) -> float:
    """Unique (query, profile) pairs pooled per query: depth + (systems - 1) x depth x (1 - overlap), capped at the
    corpus size.

    Raises:
        ClusterankError: a non-positive number of systems or depth, or an overlap outside [0, 1].
    """
    check_count(systems, "--systems")
    check_count(depth, "--pool-depth")
    if not isinstance(overlap, (int, float)) or not 0 <= overlap <= 1:
        raise ClusterankError(f"--overlap {overlap!r}: give a fraction from 0 (no two systems share a row) to 1 "
                              f"(all return the same top rows)")
    unique = depth + (systems - 1) * depth * (1 - overlap)
    return float(min(unique, corpus_size) if corpus_size else unique)


@dataclass(frozen=True)
class Workload:
    """What a judged comparison grades: queries x pooled pairs per query, and how the latter was obtained."""

    queries: int
    pairs_per_query: float
    basis: str

    @property
    def pairs(self) -> int:
        """Pairs graded in all (each once; the cache makes a rerun free)."""
        return math.ceil(self.queries * self.pairs_per_query)


@dataclass(frozen=True)
class JudgeOption:
    """One way to judge: its name, kind, prompt tokens per grade and the dated figures it is priced at."""

    name: str
    kind: str
    """"api", "api-batch", "self-hosted" or "this machine"."""
    prompt_tokens: float
    """Mean prompt tokens per grade under the judge's tokenizer, chat format included."""
    tokenizer: str
    basis: str
    date: str
    source: str
    upper_bound_time: bool = False


@dataclass(frozen=True)
class JudgeEstimate:
    """Cost and time of grading a workload with one option."""

    option: JudgeOption
    pairs: int
    input_tokens: float
    output_tokens: float
    usd: float
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def tokens_per_pair(self) -> float:
        """Prompt + completion tokens per grade."""
        return (self.input_tokens + self.output_tokens) / self.pairs


def judge_api_usd(judge: JudgeApi, input_tokens: float, output_tokens: float, batch: bool = False) -> float:
    """USD for these tokens at the judge's list prices (less the batch discount)."""
    usd = input_tokens / 1e6 * judge.input_per_1m + output_tokens / 1e6 * judge.output_per_1m
    return usd * (1 - judge.batch_discount) if batch else usd


def judge_api_estimate(judge: JudgeApi, pairs: int, prompt_tokens: float, *, concurrency: int = 4,
                       batch: bool = False) -> JudgeEstimate:
    """Cost and time of `pairs` grades through a chat API.

    Cost: pairs x (prompt tokens x input price + `COMPLETION_TOKENS` x output price) / 1e6, less the batch discount.
    Time: synchronous, the slowest of requests / RPM, tokens / TPM and pairs x latency / concurrency; batch, the
    provider's completion window per queued batch (an upper bound).

    Raises:
        ClusterankError: a non-positive number of pairs, prompt tokens or concurrency.
    """
    check_count(pairs, "number of pairs")
    check_count(prompt_tokens, "prompt tokens per pair")
    check_count(concurrency, "--concurrency")
    tokens_in, tokens_out = pairs * prompt_tokens, pairs * COMPLETION_TOKENS
    usd = judge_api_usd(judge, tokens_in, tokens_out, batch)
    prices = (f"{format_usd(judge.input_per_1m, unit_price=True)} in / {format_usd(judge.output_per_1m, unit_price=True)}"
              f" out per 1M tokens ({judge.date})")
    if batch:
        windows = max(math.ceil(tokens_in / judge.batch_queue_tokens), math.ceil(pairs / judge.batch_queue_requests))
        seconds = windows * judge.batch_window_h * 3600
        basis = f"{prices}, {judge.batch_discount:.0%} batch discount, results within {judge.batch_window_h:g} h"
        notes = (f"{windows:,} batch(es), each done within {judge.batch_window_h:g} h",)
    else:
        limits = {"requests per minute": pairs / judge.rpm * 60, "tokens per minute": (tokens_in + tokens_out) /
                  judge.tpm * 60, f"{concurrency} requests in flight x {judge.latency_s:g} s each":
                  pairs * judge.latency_s / concurrency}
        bound = max(limits, key=limits.get)
        seconds = limits[bound]
        basis = f"{prices}, {judge.rpm:,.0f} RPM / {judge.tpm:,.0f} TPM, {concurrency} in flight"
        notes = (f"limited by {bound}",)
    option = JudgeOption(f"{judge.model} (batch)" if batch else judge.model, "api-batch" if batch else "api",
                         prompt_tokens, judge.tokenizer, basis, judge.date, judge.source, upper_bound_time=batch)
    return JudgeEstimate(option, pairs, tokens_in, tokens_out, usd, seconds, notes)


def judge_gpu_rate(gpu: JudgeGpu, prompt_tokens: float) -> float:
    """Grades/s of all the option's GPUs at `prompt_tokens` prompt tokens (tokens/s held constant)."""
    return scaled_texts_per_s(gpu.judgments_per_s, gpu.reference_tokens, prompt_tokens)


def _timed(option: JudgeOption, pairs: int, rate: float, hourly_usd: float, startup_min: float) -> JudgeEstimate:
    check_count(pairs, "number of pairs")
    check_count(rate, f"judgments/s of {option.name}")
    seconds = startup_min * 60 + pairs / rate
    return JudgeEstimate(option, pairs, pairs * option.prompt_tokens, pairs * COMPLETION_TOKENS,
                         hourly_usd * seconds / 3600, seconds)


def judge_gpu_estimate(gpu: JudgeGpu, pairs: int, prompt_tokens: float, tokenizer: str = "") -> JudgeEstimate:
    """Cost and time of `pairs` grades on the option's GPUs: start-up + pairs / judgments/s, billed per second."""
    rate = judge_gpu_rate(gpu, prompt_tokens)
    basis = (f"{gpu.gpus}x {gpu.gpu.name} at ${gpu.gpu.hourly_usd:g}/h ({gpu.gpu.date}), {rate:,.3g} judgments/s "
             f"(assumed, {gpu.date}), start-up {gpu.startup_min:g} min")
    option = JudgeOption(gpu.label, "self-hosted", prompt_tokens, tokenizer or gpu.tokenizer, basis, gpu.price_date,
                         f"{gpu.source} ; GPU: {gpu.gpu.source}")
    return _timed(option, pairs, rate, gpu.hourly_usd, gpu.startup_min)


@dataclass(frozen=True)
class JudgeRate:
    """Judgments/s of a judge on this machine, at a known mean prompt length, measured here."""

    judge: str
    judgments_per_s: float
    prompt_tokens: float
    sample: int
    measured_on: str
    machine: str
    how: str = "measured by clusterank cost --judge"

    def at(self, prompt_tokens: float) -> float:
        """Judgments/s at `prompt_tokens` prompt tokens (tokens/s held constant)."""
        return scaled_texts_per_s(self.judgments_per_s, self.prompt_tokens, prompt_tokens)


def judge_machine_estimate(machine: Machine, rate: JudgeRate, pairs: int, prompt_tokens: float,
                           tokenizer: str = "") -> JudgeEstimate:
    """Cost and time of `pairs` grades by a judge on this machine at its measured rate, priced as a VM of its size."""
    per_s = rate.at(prompt_tokens)
    basis = (f"{per_s:,.3g} judgments/s ({rate.how} on {rate.sample} grades, {rate.measured_on}, at "
             f"{rate.prompt_tokens:,.0f} prompt tokens), VM at ${machine.hourly_usd:g}/h ({machine.date})")
    option = JudgeOption(f"this machine: {rate.judge}", "this machine", prompt_tokens, tokenizer, basis,
                         min(rate.measured_on, machine.date), f"measured on {rate.machine} ; VM price: "
                         f"{machine.instance}, {machine.source}")
    return _timed(option, pairs, per_s, machine.hourly_usd, machine.startup_min)


def _duration(seconds: float) -> str:
    from clusterank.cost.plan import format_duration

    return format_duration(seconds)


@dataclass
class JudgePlan:
    """What judging one workload costs with each selected option, and what the figures rest on."""

    workload: Workload
    estimates: list[JudgeEstimate]
    token_source: str
    """Which prompts the tokens were counted on."""
    tokenizers: list[tuple[str, float, str]] = field(default_factory=list)
    """(tokenizer, mean prompt tokens per grade, the options it counts for) for each tokenizer used."""
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, object]]:
        """One flat record per option, for JSON."""
        w = self.workload
        return [{"option": e.option.name, "kind": e.option.kind, "queries": w.queries,
                 "pairs_per_query": round(w.pairs_per_query, 2), "pairs": e.pairs,
                 "prompt_tokens_per_pair": round(e.option.prompt_tokens, 1), "completion_tokens_per_pair":
                 COMPLETION_TOKENS, "input_tokens": round(e.input_tokens), "output_tokens": round(e.output_tokens),
                 "usd": round(e.usd, 6), "seconds": round(e.seconds, 1), "time_is_upper_bound":
                 e.option.upper_bound_time, "tokenizer": e.option.tokenizer, "basis": e.option.basis,
                 "notes": list(e.notes), "date": e.option.date, "source": e.option.source} for e in self.estimates]

    def tables(self) -> list[Table]:
        """The option table (tokens, cost, time, what it is priced at) and the tokenizers' prompt counts."""
        out = [Table(("option", "kind", "tokens/pair (prompt + completion)", "USD", "time", "priced at (date)"),
                     tuple((e.option.name, e.option.kind, f"{e.option.prompt_tokens:,.0f} + {COMPLETION_TOKENS}",
                            format_usd(e.usd), ("≤ " if e.option.upper_bound_time else "") + _duration(e.seconds),
                            "; ".join((e.option.basis, *e.notes))) for e in self.estimates),
                     f"Judging {self.workload.pairs:,} pairs (time: wall clock; ≤ = the provider's completion "
                     "window, an upper bound):")]
        if self.tokenizers:
            out.append(Table(("tokenizer", "prompt tokens per pair (mean, chat format included)", "counts for"),
                             tuple((name, f"{mean:,.1f}", used) for name, mean, used in self.tokenizers)))
        return out

    @property
    def intro(self) -> str:
        """The lines above the tables: the workload and where its numbers come from."""
        w = self.workload
        return (f"Workload: {w.queries:,} queries x {w.pairs_per_query:,.1f} pooled pairs per query = {w.pairs:,} "
                f"graded pairs ({w.basis}).\nTokens per pair: {self.token_source}.")

    def markdown(self) -> str:
        """The tables a user pastes, with the workload above and the notes below."""
        return "\n\n".join([self.intro, *(t.markdown() for t in self.tables()),
                            *(["\n".join(f"Note: {n}" for n in self.notes)] if self.notes else [])])


def judging_price(judge: str, prompt_tokens: int, completion_tokens: int, seconds: float, local: bool,
                  prices=None) -> str:
    """What a judged run's tokens or time cost, for the compare report's "Judging cost" line: an API judge's billed
    tokens at its list price in the price table (as `clusterank cost --judge` prices them), a judge on loopback as
    this machine's time; "" when neither applies."""
    from clusterank.prices import default_prices

    prices = prices or default_prices()
    if local:
        if not seconds:
            return ""
        machine = prices.machine
        return (f", ${machine.hourly_usd * seconds / 3600:.4f} of this machine's time priced as {machine.instance} at "
                f"${machine.hourly_usd:g}/h ({machine.date})")
    api = prices.judges.get(judge)
    if api is None:
        return f", not priced (no list price for {judge} in prices.toml; `clusterank cost --judge` lists those priced)"
    usd = judge_api_usd(api, prompt_tokens, completion_tokens)
    return (f", ${usd:.4f} at {api.model}'s list price (${api.input_per_1m:g} in / ${api.output_per_1m:g} out per 1M "
            f"tokens, {api.date})")
