"""Rerankers: one front, `get_reranker(name)`, over a registry of backends (`RERANKERS`).

`none`; `llm-pairwise` (PRP with an LLM judge: a remote OpenAI-compatible API, or by default the
bundled 0.5B model on a loopback llama.cpp server); `rescore:<model>` (a stronger embedding model);
`cross-encoder:<folder-or-hub-id>` (sentence-transformers, bring your own weights); `fair:group=<column>` (towards a
target group distribution, DetConstSort). A new backend is
one file and one line in `RERANKERS`; one whose packages are missing is listed with its install command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from clusterank.errors import ClusterankError, check_base_url
from clusterank.lazy import lazy_names
from clusterank.registry import POSITIVE, Backend, Param, Registry, typed_params, whole
from clusterank.workspace import Workspace

if TYPE_CHECKING:
    from clusterank.rerank.base import Reranker

_EXPORTS = {
    "clusterank.rerank.base": ("NoReranker", "Reranker", "RerankStats", "rerank_top"),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use (PEP 562),
so the registry and `check_reranker` do not import numpy or the corpus loaders."""

@dataclass(frozen=True)
class LLMOptions:
    """How `llm-pairwise` reaches its judge and how hard it may work (see `PairwiseReranker`).

    Checked when made, so a command fails on a bad `--llm-base-url` before it loads or embeds anything.

    Raises:
        ClusterankError: a base URL that is not http(s) with a host.
    """

    base_url: str | None = None
    """An OpenAI-compatible API; None starts the bundled local model on loopback."""
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding the API key (read, never stored)."""
    strategy: str = "sliding"
    passes: int = 3
    budget: int | None = 60

    def __post_init__(self) -> None:
        if self.base_url is not None:
            check_base_url(self.base_url, "--llm-base-url")


@dataclass(frozen=True)
class RerankContext:
    """What a reranker may be built from: the workspace (caches, the bundled model) and how `llm-pairwise` reaches
    its judge. Each backend reads what it needs, as retrievers read a `SearchContext`."""

    workspace: Workspace
    llm: LLMOptions


@dataclass(frozen=True)
class RerankerBackend(Backend):
    """One registered reranker: `build(argument, context, **params) -> Reranker` (the argument is "" for a fixed
    name), and `check(argument)`, which validates a prefix's argument without loading anything (None: any)."""

    noun: ClassVar[str] = "reranker"

    check: Callable[[str], None] | None = None

    def declares(self) -> tuple[str, ...]:
        """The set capabilities, as words (`checks its argument`)."""
        return ("checks its argument",) if self.check is not None else ()


def _none(_arg, _context) -> Reranker:
    from clusterank.rerank.base import NoReranker

    return NoReranker()


def _rescore(model: str, context: RerankContext) -> Reranker:
    from clusterank.rerank.rescore import RescoreReranker

    return RescoreReranker(model, context.workspace)


def _check_model(model: str) -> None:
    from clusterank.embed.registry import find_backend

    find_backend(model)


def _cross_encoder(path: str, _context) -> Reranker:
    from clusterank.rerank.rescore import CrossEncoderReranker

    return CrossEncoderReranker(path)


def _llm_pairwise(_arg, context: RerankContext, strategy: str | None, passes: int | None,
                  budget: int | None) -> Reranker:
    from clusterank.rerank.llm import ChatClient, LLMJudge
    from clusterank.rerank.prp import PairwiseReranker

    options, workspace = context.llm, context.workspace
    base_url, model = options.base_url, options.model
    if base_url is None:
        from clusterank.rerank.local_llm import LocalLLMServer

        server = LocalLLMServer(workspace=workspace)
        base_url, model = server.base_url, server.model
    elif not model:
        raise ClusterankError("--llm-model is required with --llm-base-url")
    judge = LLMJudge(ChatClient(base_url, model, api_key_env=options.api_key_env), workspace.llm_cache_path)
    return PairwiseReranker(judge, strategy=strategy or options.strategy,
                            passes=options.passes if passes is None else passes,
                            budget=options.budget if budget is None else budget)


def _fair(_arg, _context, group: str | None, target, max_loss: float) -> Reranker:
    from clusterank.rerank.fair import FairReranker

    if not group:
        raise ClusterankError("fair needs group=<column> (e.g. fair:group=name_gender); group=role uses the labels")
    return FairReranker(group, target, max_loss)


def _fair_target(text: str):
    from clusterank.rerank.fair import parse_target

    return parse_target(text)


def _share(text: str) -> float:
    from clusterank.rerank.fair import parse_loss

    return parse_loss(text)


_FAIR_PARAMS = {
    "group": Param(str, None, "the corpus column of each profile's group (role: the label)"),
    "target": Param(_fair_target, "corpus", "corpus | equal | <group>:<share>/<group>:<share>... summing to 1"),
    "max_loss": Param(_share, 0.02, "the largest share of the list's DCG (cosine gains) the target may cost"),
}


def _strategy(text: str) -> str:
    if text not in ("sliding", "allpairs"):
        raise ValueError("use sliding or allpairs")
    return text


_LLM_PARAMS = {
    "strategy": Param(_strategy, None, "sliding | allpairs (default: --llm-strategy, sliding)"),
    "passes": Param(whole, None, "bubble passes of the sliding window (default: --llm-passes, 3)", POSITIVE),
    "budget": Param(whole, None, "most LLM calls per query (default: --llm-budget, 60)", POSITIVE),
}

RERANKERS: Registry[RerankerBackend] = Registry("reranker", (
    RerankerBackend("none", "keep the retrieval order", _none, examples=("none",)),
    RerankerBackend("llm-pairwise", "an LLM judges pairs of profiles in both orders (PRP)", _llm_pairwise,
                    _LLM_PARAMS, needs=("httpx",), extra="llm", examples=("llm-pairwise:passes=1,budget=8",)),
    RerankerBackend("rescore:", "re-embed the short list with a stronger embedding model", _rescore,
                    argument="<model>", examples=("rescore:minilm-static",), check=_check_model),
    RerankerBackend("cross-encoder:", "a sentence-transformers CrossEncoder (a folder, or a hub id when online)",
                    _cross_encoder, argument="<folder-or-hub-id>", needs=("sentence_transformers",)),
    RerankerBackend("fair", "re-order towards a target group distribution (DetConstSort) within a DCG loss bound",
                    _fair, _FAIR_PARAMS, examples=("fair:group=role,target=equal,max_loss=0.5",)),
), group="clusterank.rerankers")
BACKENDS = tuple(b.name + b.argument for b in RERANKERS.values())
"""The reranker names as help texts show them."""


def check_reranker(name: str) -> str:
    """Check a reranker spec without building it (nothing loads, nothing is written): a known backend whose packages
    are installed, valid parameters, and for `rescore:<model>` a known model. Commands call it before embedding
    anything (the `llm-pairwise` connection options are checked when an `LLMOptions` is made).

    Raises:
        ClusterankError: what `get_reranker` would raise for the name before building.
    """
    backend, spec = RERANKERS.find(name)
    typed_params(backend, spec)
    if backend.check is not None:
        backend.check(spec.argument)
    return name


def get_reranker(name: str, *, workspace: Workspace | None = None, llm: LLMOptions | None = None) -> Reranker:
    """Build a reranker from its spec.

    Args:
        name: `none`, `llm-pairwise[:passes=N,budget=N,strategy=S]`, `rescore:<model>` or
            `cross-encoder:<folder-or-hub-id>`.
        workspace: where caches and the local model live.
        llm: how `llm-pairwise` reaches its judge (default: the bundled model on loopback), and its defaults for
            the parameters the spec does not give.

    Raises:
        ClusterankError: unknown name or parameter, or its packages are not installed (with the install command).
    """
    backend, spec = RERANKERS.find(name)
    values = typed_params(backend, spec)
    return backend.build(spec.argument, RerankContext(workspace or Workspace.default(), llm or LLMOptions()), **values)


__all__ = ["BACKENDS", "LLMOptions", "check_reranker", "NoReranker", "RERANKERS", "RerankContext", "RerankStats",
           "Reranker", "RerankerBackend", "get_reranker", "rerank_top"]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
