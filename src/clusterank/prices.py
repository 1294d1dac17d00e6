"""The dated price and throughput table behind `clusterank cost`: API prices, GPUs, self-hosted options.

The built-in table is the package file `prices.toml`; a user's file of the same shape and `--set`
assignments override it. Every entry keeps a date and a source; an override that changes a price or
a throughput re-dates the entry to the override (the file's modification date, or today for `--set`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable

from clusterank.errors import ClusterankError
from clusterank.tomlfile import Field, Schema, check_table, key_path, non_negative, positive, read_toml

BUILTIN = "built-in prices.toml"

_STR = Field("str")


def _fraction(value: float) -> str:
    return "" if 0 <= value < 1 else "must be a fraction in [0, 1)"


JUDGE_TOKENIZERS = ("o200k_base", "cl100k_base", "bundled")
"""What counts an LLM judge's prompt tokens: an OpenAI BPE (bpe-openai), or "bundled": the bundled local judge's own
GGUF tokenizer and chat template."""


def _tokenizer(value: str) -> str:
    return "" if value in JUDGE_TOKENIZERS else f"must be one of {', '.join(JUDGE_TOKENIZERS)}"


def _optional(kind: str, check=None) -> Field:
    return Field(kind, required=False, check=check)


_COMMON = {"date": Field("date"), "source": _STR}
SCHEMA: dict[str, Schema] = {
    "api": {"provider": _STR, "price_per_1m_tokens": Field("number", check=non_negative),
            "rpm": Field("number", check=positive), "tpm": Field("number", check=positive),
            "max_inputs_per_request": _optional("int", positive),
            "max_tokens_per_request": _optional("number", positive),
            "batch_discount": _optional("number", _fraction), "batch_window_h": _optional("number", positive),
            "batch_queue_tokens": _optional("number", positive), **_COMMON},
    "gpu": {"hourly_usd": Field("number", check=non_negative), "instance": _optional("str"), **_COMMON},
    "selfhosted": {"label": _STR, "models": _optional("texts"), "params_m": _optional("number", positive),
                   "gpu": _STR, "gpus": Field("int", check=positive), "texts_per_s": Field("number", check=positive),
                   "reference_tokens": Field("number", check=positive),
                   "startup_min": Field("number", check=non_negative), **_COMMON},
    "machine": {"hourly_usd": Field("number", check=non_negative), "instance": _optional("str"),
                "startup_min": Field("number", check=non_negative), **_COMMON},
    "judge": {"provider": _STR, "input_per_1m": Field("number", check=non_negative),
              "output_per_1m": Field("number", check=non_negative), "rpm": Field("number", check=positive),
              "tpm": Field("number", check=positive), "tokenizer": Field("str", check=_tokenizer),
              "chat_overhead": _optional("number", non_negative), "latency_s": _optional("number", positive),
              "batch_discount": _optional("number", _fraction), "batch_window_h": _optional("number", positive),
              "batch_queue_tokens": _optional("number", positive),
              "batch_queue_requests": _optional("number", positive), **_COMMON},
    "judge-gpu": {"label": _STR, "models": _optional("texts"), "params_m": _optional("number", positive),
                  "gpu": _STR, "gpus": Field("int", check=positive),
                  "judgments_per_s": Field("number", check=positive),
                  "reference_tokens": Field("number", check=positive),
                  "startup_min": Field("number", check=non_negative), "tokenizer": Field("str", check=_tokenizer),
                  "chat_overhead": _optional("number", non_negative), **_COMMON},
}
"""What each section's entries hold (`clusterank.tomlfile` fields); `machine` is one entry, not a table of them."""
PRICE_FIELDS = {"price_per_1m_tokens", "batch_discount", "hourly_usd", "texts_per_s", "reference_tokens",
                "input_per_1m", "output_per_1m", "judgments_per_s"}
"""Fields whose change re-dates an entry: the figures a cost is computed from."""


@dataclass(frozen=True, kw_only=True)
class Dated:
    """What every entry of the table carries: when its figures held, where they come from, which file set them."""

    date: str
    source: str
    origin: str = BUILTIN
    """The built-in table, a user's price file or a `--set` assignment."""


@dataclass(frozen=True)
class ApiOption(Dated):
    """One API embedding model: its price per 1M tokens, batch discount and rate limits, dated."""

    model: str
    provider: str
    price_per_1m_tokens: float
    rpm: float
    tpm: float
    max_inputs_per_request: int = 2048
    max_tokens_per_request: float = float("inf")
    batch_discount: float = 0.0
    """Fraction off the price through the provider's batch API; 0 where it has none."""
    batch_window_h: float = 24.0
    batch_queue_tokens: float = float("inf")


@dataclass(frozen=True, kw_only=True)
class Hourly(Dated):
    """Something rented by the hour: its price and the cloud instance it was priced as."""

    hourly_usd: float
    instance: str = ""


@dataclass(frozen=True)
class Gpu(Hourly):
    """A GPU type and what one costs per hour, dated."""

    name: str


@dataclass(frozen=True, kw_only=True)
class OnGpus(Dated):
    """A model served on rented GPUs (for embedding or judging): which GPU, how many, and what they cost."""

    key: str
    label: str
    gpu: Gpu
    gpus: int
    models: tuple[str, ...] = ()
    params_m: float | None = None

    @property
    def hourly_usd(self) -> float:
        """What all its GPUs cost per hour."""
        return self.gpu.hourly_usd * self.gpus

    @property
    def price_date(self) -> str:
        """The older of the throughput's and the GPU price's dates: the figure is as old as its oldest part."""
        return min(self.date, self.gpu.date)


@dataclass(frozen=True)
class SelfHosted(OnGpus):
    """A model class served on GPUs: texts/s per GPU at `reference_tokens` tokens per text."""

    texts_per_s: float
    reference_tokens: float
    startup_min: float


@dataclass(frozen=True)
class Machine(Hourly):
    """This machine, priced as a comparable cloud VM, for the rows measured here."""

    startup_min: float


@dataclass(frozen=True)
class JudgeApi(Dated):
    """An LLM judge behind a chat API: USD per 1M input and output tokens, rate limits, batch terms, dated."""

    model: str
    provider: str
    input_per_1m: float
    output_per_1m: float
    rpm: float
    tpm: float
    """Tokens per minute (input + output), as the provider counts them."""
    tokenizer: str
    """One of `JUDGE_TOKENIZERS`: what counts the prompt (a stand-in where the provider publishes none)."""
    chat_overhead: float = 7.0
    """Tokens the chat format adds around one user message and the reply's start."""
    latency_s: float = 1.0
    """Seconds one grade request takes (an assumption); with the requests in flight it bounds the time."""
    batch_discount: float = 0.0
    batch_window_h: float = 24.0
    batch_queue_tokens: float = math.inf
    batch_queue_requests: float = math.inf


@dataclass(frozen=True)
class JudgeGpu(OnGpus):
    """An LLM judge served on rented GPUs: judgments/s of all its GPUs at `reference_tokens` prompt tokens."""

    judgments_per_s: float
    reference_tokens: float
    startup_min: float
    tokenizer: str
    chat_overhead: float = 0.0


@dataclass(frozen=True)
class PriceTable:
    """Every price and throughput `clusterank cost` uses, each with its date and source."""

    api: dict[str, ApiOption]
    gpus: dict[str, Gpu]
    selfhosted: dict[str, SelfHosted]
    machine: Machine
    judges: dict[str, JudgeApi] = field(default_factory=dict)
    judge_gpus: dict[str, JudgeGpu] = field(default_factory=dict)

    def with_gpus(self, n: int) -> "PriceTable":
        """The same table with every self-hosted option on `n` GPUs."""
        if n < 1:
            raise ClusterankError(f"--gpus must be at least 1, got {n}")
        sh = {k: SelfHosted(**{**v.__dict__, "gpus": n}) for k, v in self.selfhosted.items()}
        return replace(self, selfhosted=sh)


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_setting(setting: str) -> tuple[tuple[str, ...], Any]:
    """Split `section.entry.field=value` (or `machine.field=value`) into a key path and a TOML value.

    Raises:
        ClusterankError: no `=`, or a path that does not name a section, entry and field.
    """
    path, sep, value = setting.partition("=")
    keys = tuple(k.strip() for k in path.strip().split(".")) if sep else ()
    if keys and keys[0] == "machine" and len(keys) == 2 and all(keys):
        return keys, _parse_value(value.strip())
    if len(keys) < 3 or keys[0] not in SCHEMA or not all(keys):
        raise ClusterankError(
            f"--set {setting!r}: expected SECTION.ENTRY.FIELD=VALUE with SECTION one of api, gpu, selfhosted, judge, "
            f"judge-gpu (entry names may contain dots) or machine.FIELD=VALUE")
    return (keys[0], ".".join(keys[1:-1]), keys[-1]), _parse_value(value.strip())


def _merge(raw: dict, override: dict, origin: str, date: str, where: str) -> None:
    """Fold `override` into `raw` entry by entry, re-dating entries whose figures change."""
    for section, body in override.items():
        if section not in SCHEMA or not isinstance(body, dict):
            raise ClusterankError(f"{where}: unknown section [{section}] (known: {', '.join(SCHEMA)})")
        entries = {"": body} if section == "machine" else body
        for name, fields in entries.items():
            if not isinstance(fields, dict):
                raise ClusterankError(f"{where}: [{section}.{name}] must be a table of fields")
            target = raw.setdefault(section, {}) if section == "machine" else \
                raw.setdefault(section, {}).setdefault(name, {})
            is_new = not target
            changed = {k for k, v in fields.items() if target.get(k) != v}
            target.update(fields)
            if "date" not in fields and (is_new or changed & PRICE_FIELDS):
                target["date"] = date
            if "source" not in fields and changed:
                target["source"] = origin if is_new else \
                    f"{', '.join(sorted(changed))} from {origin}; the rest: {target.get('source', '')}"
            target["__origin__"] = origin


def _check(section: str, name: str, fields: dict) -> dict[str, Any]:
    """One entry checked against its section's `SCHEMA` (messages name its file and `section.name.field`), with
    its date as YYYY-MM-DD and the file it came from as `origin`."""
    where = fields.get("__origin__", BUILTIN)
    path = (section, name) if name else (section,)
    entry = {k: v for k, v in fields.items() if k != "__origin__"}
    checked = check_table(entry, SCHEMA[section], where=where, path=path)
    checked["origin"] = where
    return checked


def _build(raw: dict) -> PriceTable:
    for section in SCHEMA:
        if section not in raw:
            raise ClusterankError(f"prices: section [{section}] is missing")
    machine = _check("machine", "", raw["machine"])
    api = {m: ApiOption(model=m, **_check("api", m, f)) for m, f in raw["api"].items()}
    gpus = {g: Gpu(name=g, **_check("gpu", g, f)) for g, f in raw["gpu"].items()}
    selfhosted = {k: _on_gpus(SelfHosted, "selfhosted", k, f, gpus) for k, f in raw["selfhosted"].items()}
    judges = {m: JudgeApi(model=m, **_check("judge", m, f)) for m, f in raw["judge"].items()}
    judge_gpus = {k: _on_gpus(JudgeGpu, "judge-gpu", k, f, gpus) for k, f in raw["judge-gpu"].items()}
    return PriceTable(api, gpus, selfhosted, Machine(**machine), judges, judge_gpus)


def _on_gpus(kind: type[OnGpus], section: str, key: str, raw: dict, gpus: dict[str, Gpu]) -> OnGpus:
    """One checked [selfhosted.*] or [judge-gpu.*] entry, its `gpu` resolved to a [gpu.*] entry."""
    fields = _check(section, key, raw)
    if fields["gpu"] not in gpus:
        raise ClusterankError(f"{fields['origin']}: {key_path((section, key, 'gpu'))} names {fields['gpu']!r}, "
                              f"which is not a [gpu.*] entry (known: {', '.join(gpus)})")
    return kind(key=key, **{**fields, "gpu": gpus[fields["gpu"]]})


def load_prices(files_: Iterable[str | Path] = (), settings: Iterable[str] = (),
                today: dt.date | None = None) -> PriceTable:
    """The built-in table with the user's price files and `--set` assignments applied in order.

    Args:
        files_: TOML files of the same shape as the built-in one; entries they touch are merged field by field.
        settings: `section.entry.field=value` strings (values in TOML syntax: 0.1, 2_000_000, "text").
        today: the date given to `--set` changes of a price or throughput (default: today).

    Returns:
        The checked table.

    Raises:
        ClusterankError: an unreadable or malformed file, an unknown section or field, a missing date or
            source, a negative price, a non-positive rate limit or throughput, a GPU that does not exist.
    """
    _, raw = read_toml(files("clusterank").joinpath("prices.toml"), "built-in prices")
    for path in map(Path, files_):
        _, user = read_toml(path, "prices")
        mtime = dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
        _merge(raw, user, str(path), mtime, f"prices file {path}")
    for setting in settings:
        keys, value = parse_setting(setting)
        if keys[0] == "machine":
            override = {"machine": {keys[1]: value}}
        else:
            override = {keys[0]: {keys[1]: {keys[2]: value}}}
        _merge(raw, override, f"--set {keys[-1]}", (today or dt.date.today()).isoformat(), f"--set {setting!r}")
    return _build(raw)


@lru_cache(maxsize=1)
def default_prices() -> PriceTable:
    """The built-in table, read once."""
    return load_prices()


def api_price(model_id: str) -> tuple[float, str] | None:
    """(USD per 1M tokens, date) of an API model in the built-in table; None for models with no API price."""
    option = default_prices().api.get(model_id)
    return None if option is None else (option.price_per_1m_tokens, option.date)
