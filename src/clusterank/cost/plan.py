"""A cost plan: every option (API, batch API, self-hosted GPU, this machine) x every corpus size.

`plan_costs` builds it from the price table, a token count (fixed, or counted on the user's texts with
each model's tokenizer) and this machine's measured throughputs; `CostPlan.markdown()` prints the
tables (options with their dated figures, cost, time, savings of self-hosting against each API).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from clusterank.defaults import DEFAULT_TOKENS_PER_TEXT
from clusterank.cost.estimate import (CostEstimate, Option, api_estimate, machine_estimate, savings_percent,
                                      selfhosted_estimate)
from clusterank.prices import PriceTable
from clusterank.cost.throughput import Throughput, check_count
from clusterank.errors import ClusterankError
from clusterank.tables import Table, format_usd

DEFAULT_SIZES = (10_000, 100_000, 1_000_000, 2_500_000)
"""The seed's range: 10k to 2.5M texts."""


TOKEN_SAMPLE = 50_000
"""Texts whose tokens are counted when a corpus is larger: a fixed random sample (mean within ~0.3%)."""

log = logging.getLogger(__name__)

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


def parse_count(text: str) -> int:
    """'10k', '2.5M', '1_000_000' or '400' as an int.

    Raises:
        ClusterankError: not a number with an optional k/M/B suffix, or not positive.
    """
    m = re.fullmatch(r"\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([kKmMbB]?)\s*", text)
    if not m:
        raise ClusterankError(f"{text.strip()!r} is not a count (use 10k, 2.5M or 2500000)")
    value = float(m.group(1).replace("_", "").replace(",", "")) * _SUFFIX[m.group(2).lower()]
    if value < 1:
        raise ClusterankError(f"{text.strip()!r} must be at least 1")
    return int(round(value))


def parse_counts(text: str) -> list[int]:
    """A comma-separated list of counts ('10k,100k,1M,2.5M'), sorted and without repeats."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ClusterankError("--texts is empty (use e.g. 10k,100k,1M,2.5M)")
    return sorted({parse_count(p) for p in parts})


def format_duration(seconds: float) -> str:
    """Seconds as s / min / h / d, whichever reads best."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 86400:.1f} d"


def format_percent(value: float) -> str:
    """Savings in percent: whole numbers; above 99%, one decimal rounded down so 99.96% never reads as 100%."""
    return f"{math.floor(value * 10) / 10:.1f}%" if 99 < value < 100 else f"{value:.0f}%"


def format_count(n: float) -> str:
    """10k / 2.5M / 1B."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:g}{suffix}"
    return f"{n:g}"


@dataclass(frozen=True)
class Billed:
    """What a provider billed for one API model's vectors in this workspace, beside what the plan estimated."""

    model: str
    """The store key (`openai:text-embedding-3-small`)."""
    requests: int
    texts: int
    tokens: int
    estimated_tokens: float | None
    """The plan's tokens per text for this model x the texts billed; None when the price table lacks the model."""
    usd: float | None
    """The billed tokens at the table's list price; None when the table lacks the model."""


@dataclass
class CostPlan:
    """Estimates for each option and corpus size, with what they rest on."""

    sizes: list[int]
    estimates: dict[str, list[CostEstimate]]
    """Option name -> one estimate per size, in `sizes` order."""
    token_source: str
    """How tokens per text were obtained: a fixed number, or the tokenizers run on a named corpus."""
    token_stats: list = field(default_factory=list)
    """TokenStats per model when tokens were counted on the user's texts."""
    notes: list[str] = field(default_factory=list)
    billed: list[Billed] = field(default_factory=list)
    """Usage the providers reported for API jobs run in this workspace (`clusterank embed/compare` with api models)."""

    @property
    def options(self) -> list[Option]:
        """The options, in table order."""
        return [ests[0].option for ests in self.estimates.values()]

    def estimate(self, option: str, n_texts: int) -> CostEstimate:
        """The estimate of one option for one size in the plan."""
        try:
            return self.estimates[option][self.sizes.index(n_texts)]
        except (KeyError, ValueError):
            raise ClusterankError(f"no estimate for {option!r} at {n_texts:,} texts") from None

    def savings(self, n_texts: int | None = None) -> tuple[list[str], list[str], np.ndarray]:
        """(self-hosted option names, API option names, percent saved) at `n_texts` (default: the largest)."""
        n = n_texts or self.sizes[-1]
        hosted = [o.name for o in self.options if not o.is_api]
        apis = [o.name for o in self.options if o.is_api]
        grid = np.array([[savings_percent(self.estimate(h, n), self.estimate(a, n)) for a in apis] for h in hosted])
        return hosted, apis, grid.reshape(len(hosted), len(apis))

    def rows(self) -> list[dict[str, object]]:
        """One flat record per (option, size), for CSV or JSON."""
        return [{"option": e.option.name, "kind": e.option.kind, "models": ",".join(e.option.models),
                 "n_texts": e.n_texts, "tokens_per_text": round(e.option.tokens_per_text, 1), "tokens": e.tokens,
                 "usd": round(e.usd, 6), "seconds": round(e.seconds, 1), "hours": round(e.hours, 4),
                 "time_is_upper_bound": e.option.upper_bound_time, "basis": e.option.basis, "date": e.option.date,
                 "source": e.option.source} for o in self.options for e in self.estimates[o.name]]

    def tables(self) -> list[Table]:
        """The tables a user reads, in order: the options with their dated figures, cost, time, savings of
        self-hosting against each API (when there are both), and token counts (when counted on a corpus)."""
        sizes = tuple(format_count(n) for n in self.sizes)
        options = self.options
        out = [Table(("option", "kind", "tokens/text", "priced at (date)"),
                     tuple((o.name, o.kind, f"{o.tokens_per_text:,.0f}", o.basis) for o in options)),
               Table(("option", *sizes), tuple((o.name, *(format_usd(e.usd) for e in self.estimates[o.name]))
                                              for o in options), "Cost (USD):"),
               Table(("option", *sizes),
                     tuple((o.name, *(("≤ " if o.upper_bound_time else "") + format_duration(e.seconds)
                                      for e in self.estimates[o.name])) for o in options),
                     "Time (wall clock; ≤ = the provider's completion window, an upper bound):")]
        hosted, apis, grid = self.savings()
        if hosted and apis:
            out.append(Table(("self-hosted \\ API", *apis),
                             tuple((h, *(format_percent(v) for v in grid[i])) for i, h in enumerate(hosted)),
                             f"Savings of self-hosting against each API at {format_count(self.sizes[-1])} texts "
                             "(% of the API bill; negative = dearer):"))
        if self.billed:
            out.append(Table(("model", "requests", "texts", "tokens billed", "tokens estimated", "billed / estimate",
                              "USD billed"),
                             tuple((b.model, f"{b.requests:,}", f"{b.texts:,}", f"{b.tokens:,}",
                                    "-" if b.estimated_tokens is None else f"{b.estimated_tokens:,.0f}",
                                    "-" if not b.estimated_tokens else f"{b.tokens / b.estimated_tokens:.2f}",
                                    "-" if b.usd is None else format_usd(b.usd)) for b in self.billed),
                             "Billed by the providers so far (usage they reported, stored with the vectors in this "
                             "workspace), beside this plan's estimate for the same texts:"))
        if self.token_stats:
            out.append(Table(("model", "tokenizer", "mean tokens", "median", "max", "over the model's limit"),
                             tuple((s.model, s.tokenizer, f"{s.mean:,.1f}", f"{s.median:,.0f}", f"{s.max:,}",
                                    f"{s.over_limit:,}") for s in self.token_stats)))
        return out

    @property
    def intro(self) -> str:
        """The line above the tables: how tokens per text were obtained."""
        return f"Tokens per text: {self.token_source}."

    def markdown(self) -> str:
        """The tables a user pastes: the options and their dated figures, cost, time and savings."""
        return "\n\n".join([self.intro, *(t.markdown() for t in self.tables()),
                             *(["\n".join(f"Note: {n}" for n in self.notes)] if self.notes else [])])


def _max_tokens(models: Sequence[str]) -> float:
    from clusterank.embed.catalog import CATALOG

    limits = [CATALOG[m].max_tokens for m in models if m in CATALOG]
    return min(limits) if limits else math.inf


def _wanted(selection: set[str] | None, *names: str) -> bool:
    return selection is None or any(n in selection for n in names)


def plan_costs(prices: PriceTable, sizes: Sequence[int] = DEFAULT_SIZES, *,
               tokens_per_text: float = DEFAULT_TOKENS_PER_TEXT,
               texts: Sequence[str] | None = None, corpus_name: str = "", models: Sequence[str] | None = None,
               machine: dict[str, Throughput] | None = None, batch: bool = True) -> CostPlan:
    """CostEstimate every selected option at every size.

    Args:
        prices: the dated price table (`load_prices()`).
        sizes: corpus sizes (number of texts).
        tokens_per_text: tokens per text for every model when `texts` is None (the seed assumes 400).
        texts: the user's texts: tokens per text are then counted per model with its own tokenizer.
        corpus_name: named in the plan's token line when `texts` is given.
        models: keep only options naming one of these (API model ids, self-hosted keys or their model ids,
            offline models measured here); None keeps all.
        machine: this machine's measured throughputs (`measure_machine`), one row each.
        batch: add each API's batch option where the provider discounts it.

    Returns:
        The plan; tokens per text are capped at each model's limit (longer texts are truncated).

    Raises:
        ClusterankError: a non-positive size or token count, or a selected model no option knows.
    """
    from clusterank.cost.tokens import count_tokens, token_stats

    for n in sizes:
        check_count(n, "number of texts")
    n_corpus = 0 if texts is None else len(texts)
    if texts is not None and n_corpus > TOKEN_SAMPLE:
        rows = np.sort(np.random.default_rng(0).choice(n_corpus, TOKEN_SAMPLE, replace=False))
        texts = [texts[i] for i in rows]
    if texts is None:
        check_count(tokens_per_text, "--tokens-per-text")
    machine = machine or {}
    selection = None if models is None else set(models)
    if selection is not None:
        known = set(prices.api) | set(prices.selfhosted) | set(machine)
        known |= {m for sh in prices.selfhosted.values() for m in sh.models}
        unknown = sorted(selection - known)
        if unknown:
            raise ClusterankError(f"--models: no price or measurement for {', '.join(unknown)}; known: "
                                  f"{', '.join(sorted(known))}")

    stats: dict[str, object] = {}
    notes: list[str] = []

    def tokens_for(model_ids: Sequence[str]) -> float:
        """Mean tokens per text for the first model (options share one tokenizer), capped at the limit."""
        limit = _max_tokens(model_ids)
        if texts is None:
            if tokens_per_text > limit:
                notes.append(f"{', '.join(model_ids)}: texts of {tokens_per_text:g} tokens are cut to the "
                             f"model's limit of {limit:,.0f} tokens")
            return float(min(tokens_per_text, limit))
        from clusterank.embed.catalog import CATALOG

        in_catalog = [m for m in model_ids if m in CATALOG]
        model = next((m for m in in_catalog if selection is None or m in selection), None) or \
            next(iter(in_catalog), None)
        if model is None:
            notes.append(f"{', '.join(model_ids)}: not in the catalog; tokens counted with cl100k_base")
            return float(np.minimum(count_tokens("text-embedding-3-small", texts), limit).mean())
        if model not in stats:
            log.info("counting tokens with %s's tokenizer on %s texts ...", model, f"{len(texts):,}")
            stats[model] = token_stats(model, texts)
        return stats[model].mean_read

    options: dict[str, list[CostEstimate]] = {}
    for api in prices.api.values():
        if not _wanted(selection, api.model):
            continue
        tpt = tokens_for([api.model])
        options[api.model] = [api_estimate(api, n, tpt) for n in sizes]
        if batch and api.batch_discount > 0:
            options[f"{api.model} (batch)"] = [api_estimate(api, n, tpt, batch=True) for n in sizes]
    for sh in prices.selfhosted.values():
        if not _wanted(selection, sh.key, sh.label, *sh.models):
            continue
        tpt = tokens_for(list(sh.models) or [sh.key])
        options[sh.label] = [selfhosted_estimate(sh, n, tpt) for n in sizes]
    for model, thr in machine.items():
        if not _wanted(selection, model):
            continue
        tpt = tokens_for([model])
        options[f"this machine: {model}"] = [machine_estimate(prices.machine, thr, n, tpt) for n in sizes]
    if not options:
        raise ClusterankError("no option left to price (check --models)")
    sample = f", a random sample of {len(texts):,}" if texts is not None and len(texts) < n_corpus else ""
    source = (f"counted with each model's tokenizer on {corpus_name or 'the given texts'} ({n_corpus:,} texts{sample})"
              if texts is not None else f"{tokens_per_text:g} for every model (assumed)")
    return CostPlan(list(sizes), options, source, list(stats.values()), list(dict.fromkeys(notes)))
