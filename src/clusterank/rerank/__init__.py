"""Rerankers: one front, `get_reranker(name)`, over a registry of backends (`RERANKERS`).

`none`; `llm-pairwise` (PRP with an LLM judge: a remote OpenAI-compatible API, or by default the
bundled 0.5B model on a loopback llama.cpp server); `rescore:<model>` (a stronger embedding model);
`cross-encoder:<folder-or-hub-id>` (sentence-transformers, bring your own weights). A new backend is
one file and one line in `RERANKERS`; one whose packages are missing is listed with its install command.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clusterank.lazy import lazy_names
from clusterank.errors import ClusterankError, check_base_url, install_hint
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
class RerankerBackend:
    """One registered reranker: a name (or a prefix ending in ":"), its builder and what it needs."""

    name: str
    build: Callable[[str, Workspace, LLMOptions], Reranker]
    needs: tuple[str, ...] = ()
    extra: str = "local"
    summary: str = ""
    argument: str = ""
    """What follows a prefix, as help texts show it (`<model>`)."""
    examples: tuple[str, ...] = ()
    """Full names that build offline here once its packages are installed (the conformance suite runs each)."""

    def missing(self) -> list[str]:
        """The modules it needs that are not installed."""
        return [m for m in self.needs if importlib.util.find_spec(m) is None]


def _none(_arg, _workspace, _options) -> Reranker:
    from clusterank.rerank.base import NoReranker

    return NoReranker()


def _rescore(model: str, workspace: Workspace, _options) -> Reranker:
    from clusterank.rerank.rescore import RescoreReranker

    return RescoreReranker(model, workspace)


def _cross_encoder(path: str, _workspace, _options) -> Reranker:
    from clusterank.rerank.rescore import CrossEncoderReranker

    return CrossEncoderReranker(path)


def _llm_pairwise(_arg, workspace: Workspace, options: LLMOptions) -> Reranker:
    from clusterank.rerank.llm import ChatClient, LLMJudge
    from clusterank.rerank.prp import PairwiseReranker

    base_url, model = options.base_url, options.model
    if base_url is None:
        from clusterank.rerank.local_llm import LocalLLMServer

        server = LocalLLMServer(workspace=workspace)
        base_url, model = server.base_url, server.model
    elif not model:
        raise ClusterankError("--llm-model is required with --llm-base-url")
    judge = LLMJudge(ChatClient(base_url, model, api_key_env=options.api_key_env), workspace.llm_cache_path)
    return PairwiseReranker(judge, strategy=options.strategy, passes=options.passes, budget=options.budget)


RERANKERS: dict[str, RerankerBackend] = {b.name: b for b in (
    RerankerBackend("none", _none, summary="keep the retrieval order", examples=("none",)),
    RerankerBackend("llm-pairwise", _llm_pairwise, ("httpx",), "llm",
                    "an LLM judges pairs of profiles in both orders (PRP)", examples=("llm-pairwise",)),
    RerankerBackend("rescore:", _rescore, (), "local", "re-embed the short list with a stronger embedding model",
                    "<model>", ("rescore:minilm-static",)),
    RerankerBackend("cross-encoder:", _cross_encoder, ("sentence_transformers",), "local",
                    "a sentence-transformers CrossEncoder (a folder, or a hub id when online)", "<folder-or-hub-id>"),
)}
BACKENDS = tuple(b.name + b.argument for b in RERANKERS.values())
"""The reranker names as help texts show them."""


def _backend(name: str):
    """The installed backend a reranker name selects, and the name's argument (after a `prefix:`).

    Raises:
        ClusterankError: an unknown name, or its packages are not installed (with the install command).
    """
    for backend in RERANKERS.values():
        prefix = backend.name.endswith(":")
        if name == backend.name or (prefix and name.startswith(backend.name) and len(name) > len(backend.name)):
            missing = backend.missing()
            if missing:
                raise ClusterankError(f"reranker {name!r} needs the Python package {missing[0]!r}; "
                                      f"{install_hint(backend.extra)}")
            return backend, name[len(backend.name):] if prefix else name
    raise ClusterankError(f"unknown reranker {name!r}; use one of: {', '.join(BACKENDS)}")


def check_reranker(name: str) -> str:
    """Check a reranker name without building it (nothing loads, nothing is written): a known backend whose packages
    are installed, and for `rescore:<model>` a known model. Commands call it before embedding anything (the
    `llm-pairwise` options are checked when an `LLMOptions` is made).

    Raises:
        ClusterankError: what `get_reranker` would raise for the name.
    """
    backend, argument = _backend(name)
    if backend.name == "rescore:":
        from clusterank.embed.registry import find_backend

        find_backend(argument)
    return name


def get_reranker(name: str, *, workspace: Workspace | None = None, llm: LLMOptions | None = None) -> Reranker:
    """Build a reranker by name.

    Args:
        name: `none`, `llm-pairwise`, `rescore:<model>` or `cross-encoder:<folder-or-hub-id>`.
        workspace: where caches and the local model live.
        llm: how `llm-pairwise` reaches its judge (default: the bundled model on loopback).

    Raises:
        ClusterankError: unknown name, or its packages are not installed (with the install command).
    """
    backend, argument = _backend(name)
    return backend.build(argument, workspace or Workspace.default(), llm or LLMOptions())


__all__ = ["BACKENDS", "LLMOptions", "check_reranker", "NoReranker", "RERANKERS", "RerankStats", "Reranker", "RerankerBackend",
           "get_reranker", "rerank_top"]


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
