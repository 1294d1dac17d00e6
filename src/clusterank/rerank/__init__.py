"""Rerankers: one front, `get_reranker(name)`, over several backends.

`none`; `llm-pairwise` (PRP with an LLM judge: a remote OpenAI-compatible API, or by default the
bundled 0.5B model on a loopback llama.cpp server); `rescore:<model>` (a stronger embedding model);
`cross-encoder:<folder-or-hub-id>` (sentence-transformers, bring your own weights).
"""

from __future__ import annotations

from clusterank.errors import ClusterankError
from clusterank.rerank.base import NoReranker, Reranker, RerankStats
from clusterank.workspace import Workspace

BACKENDS = ("none", "llm-pairwise", "rescore:<model>", "cross-encoder:<folder-or-hub-id>")


def get_reranker(name: str, *, workspace: Workspace | None = None, llm_base_url: str | None = None,
                 llm_model: str | None = None, llm_api_key_env: str = "OPENAI_API_KEY", strategy: str = "sliding",
                 passes: int = 3, budget: int | None = 60) -> Reranker:
    """Build a reranker by name.

    Args:
        name: one of `BACKENDS`.
        workspace: where caches and the local model live.
        llm_base_url: an OpenAI-compatible API for `llm-pairwise`; None starts the bundled local model.
        llm_model: the model name for that API.
        llm_api_key_env: environment variable holding the API key (read, never stored).
        strategy, passes, budget: pairwise settings (see `PairwiseReranker`).
    """
    workspace = workspace or Workspace.default()
    if name == "none":
        return NoReranker()
    if name.startswith("rescore:"):
        from clusterank.rerank.rescore import RescoreReranker

        return RescoreReranker(name[len("rescore:"):], workspace)
    if name.startswith("cross-encoder:"):
        from clusterank.rerank.rescore import CrossEncoderReranker

        return CrossEncoderReranker(name[len("cross-encoder:"):])
    if name == "llm-pairwise":
        from clusterank.rerank.llm import ChatClient, LLMJudge
        from clusterank.rerank.prp import PairwiseReranker

        if llm_base_url is None:
            from clusterank.rerank.local_llm import LocalLLMServer

            server = LocalLLMServer(workspace=workspace)
            llm_base_url, llm_model = server.base_url, server.model
        elif not llm_model:
            raise ClusterankError("--llm-model is required with --llm-base-url")
        client = ChatClient(llm_base_url, llm_model, api_key_env=llm_api_key_env)
        judge = LLMJudge(client, workspace.llm_cache_path)
        return PairwiseReranker(judge, strategy=strategy, passes=passes, budget=budget)
    raise ClusterankError(f"unknown reranker {name!r}; use one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "NoReranker", "RerankStats", "Reranker", "get_reranker"]
