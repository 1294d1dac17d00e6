"""`fusion:models=<model>+<model>[,method=rrf|sum][,weights=auto|w+w]`: several models' rankings fused into one.

The model's vectors are its parts' normalised vectors side by side, each scaled by 1/sqrt(m) (`mean-of-models`'
vectors: the store embeds and keeps each part under its own name, so a part already compared is not embedded
again). The pipeline sees the declared `fusion` rule and asks each part for its own ranking with the same
retriever (exact, routed, role ...), then fuses them (`index/fusion.py`): reciprocal rank fusion (`rrf`,
sum of w / (rrf_k + rank)) or the sum of min-max normalised scores (`sum`). `weights=auto` is chosen per fold by
the nested cross-validation `compare` uses for alpha; outside it, auto means equal weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

from clusterank.embed.base import EmbedContext, Embedder, EmbedderBackend
from clusterank.embed.mean import MeanOfModels
from clusterank.errors import ClusterankError
from clusterank.registry import POSITIVE, Param, whole

METHODS = ("rrf", "sum")


def method(text: str) -> str:
    """`rrf` or `sum`."""
    value = text.strip().lower()
    if value not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)}")
    return value


def weights(text: str) -> tuple[float, ...] | None:
    """`auto` (None: chosen by cross-validation) or one non-negative number per model joined by '+', summing to a
    positive number (`0.3+0.7`; scaled to sum to 1 when used)."""
    if text.strip().lower() == "auto":
        return None
    try:
        values = tuple(float(w) for w in text.split("+"))
    except ValueError:
        raise ValueError("give auto or numbers joined by '+', e.g. 0.3+0.7") from None
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise ValueError("every weight must be a finite number >= 0")
    if sum(values) <= 0:
        raise ValueError("the weights must sum to a positive number")
    return values


@dataclass(frozen=True)
class FusionRule:
    """How a fused model's rankings are combined.

    method: `rrf` (reciprocal rank) or `sum` (min-max normalised scores); weights: one per part, summing to 1, or
    None (auto: equal, or chosen by nested cross-validation in `compare`); depth: how many hits each part retrieves
    before fusing (at least the k asked for); rrf_k: the constant of reciprocal rank fusion (60, after Cormack et al.
    2009).
    """

    method: str = "rrf"
    weights: tuple[float, ...] | None = None
    depth: int = 100
    rrf_k: int = 60

    def resolved(self, parts: int) -> tuple[float, ...]:
        """The weights to use: the given ones scaled to sum to 1, or equal ones for auto."""
        if self.weights is None:
            return (1.0 / parts,) * parts
        total = sum(self.weights)
        return tuple(w / total for w in self.weights)


def weight_grid(parts: int) -> list[tuple[float, ...]]:
    """The weights `weights=auto` tries: steps of 0.1 for two parts (0 and 1 are each part alone), of 0.25 for
    three, 0.5 beyond; every point of the simplex on that grid."""
    steps = 10 if parts == 2 else 4 if parts == 3 else 2

    def points(n: int, left: int) -> list[tuple[int, ...]]:
        return [(left,)] if n == 1 else [(i, *rest) for i in range(left + 1) for rest in points(n - 1, left - i)]

    return [tuple(p / steps for p in point) for point in points(parts, steps)]


class FusedModels(MeanOfModels):
    """Several models whose rankings the pipeline fuses by `fusion` (see the module); `name` keys the joined vectors
    (`fusion:models=a+b`), `spec` is the whole spec with its rule."""

    def __init__(self, name: str, parts: Sequence[Embedder], rule: FusionRule, spec: str):
        super().__init__(name, parts)
        self.fusion, self.spec = rule, spec

    def for_queries(self) -> Embedder:
        """The query side of every asymmetric part, under its own store key."""
        if not self.asymmetric:
            return self
        twin = copy.copy(self)
        twin.name, twin.parts = self.name + "#query", [p.for_queries() for p in self.parts]
        return twin


def part_names(argument: str) -> list[str]:
    """The models a `fusion:` argument lists (`models=a+b` or `a+b`), in order, empty names kept (refused by the
    build)."""
    listed = argument.strip()
    listed = listed[len("models="):] if listed.lower().startswith("models=") else listed
    return [n.strip() for n in listed.split("+")]


def _build(argument: str, context: EmbedContext) -> FusedModels:
    names = part_names(argument)
    if len(names) < 2 or any(not n for n in names) or any(n.lower().startswith(("fusion:", "mean-of-models:"))
                                                          for n in names):
        raise ClusterankError(f"model 'fusion:{argument}': give at least two models joined by '+', none empty or "
                              "itself fused (fusion:models=minilm-static+multilingual-e5-small)")
    params = context.params
    rule = FusionRule(params["method"], params["weights"], params["depth"], params["rrf_k"])
    if rule.weights is not None and len(rule.weights) != len(names):
        raise ClusterankError(f"model 'fusion:{argument}': {len(rule.weights)} weights for {len(names)} models; "
                              "give one per model, joined by '+'")
    shown = ",".join([f"models={'+'.join(names)}", f"method={rule.method}"]
                     + ([f"weights={'+'.join(f'{w:g}' for w in rule.weights)}"] if rule.weights else []))
    return FusedModels(f"fusion:models={'+'.join(names)}", [context.model(n) for n in names], rule,
                       f"fusion:{shown}")


BACKEND = EmbedderBackend(
    "fusion:", "several models' rankings fused by reciprocal rank (rrf) or normalised score sum", _build,
    params={"method": Param(method, "rrf", "rrf (reciprocal rank) | sum (min-max normalised scores)"),
            "weights": Param(weights, None, "auto (nested cross-validation in compare; equal elsewhere) | w+w"),
            "depth": Param(whole, 100, "hits each model retrieves before fusing", POSITIVE),
            "rrf_k": Param(whole, 60, "the constant k of 1/(k + rank)", POSITIVE)},
    argument="models=<model>+<model>[+...]",
    examples=("fusion:models=minilm-static+paraphrase-MiniLM-L3-v2,method=rrf",))
