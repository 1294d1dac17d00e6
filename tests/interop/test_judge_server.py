"""The LLM judge through a third-party OpenAI-compatible server on loopback agrees with the offline judge, pair for
pair (issue 27): llama-cpp-python's `llama_cpp.server` over the same bundled Qwen2.5-0.5B GGUF (its own chat template
from the GGUF, greedy at temperature 0, the same 2,048-token context) against clusterank's own loopback server.

That server, started the fast way (`--logits_all false`; its default is true), refuses log-probabilities with a 500;
the client asks again without them and the grade is read from the answer's text, while the offline judge reads the
most probable of "0".."3" from the first answer token's distribution. Greedy decoding makes those the same digit
whenever the first token is a digit, so the grades must be equal, not merely close.

Equal text grades show little on their own with this 0.5B judge: it answers "3" to every pair tried (a nurse's
advert against a footballer's profile included), so a server with the wrong chat template or a stray BOS token would
most likely answer "3" too. The sharp check is the second test: started with `--logits_all true`, the server returns
the first token's distribution, and it is the offline judge's to float32 rounding (expected grades equal to 1e-3),
which a different template, BOS token or numerics would shift."""

from __future__ import annotations

import sys

import pytest

from clusterank import bundled_profiles, bundled_queries
from clusterank.evaluate.judged import open_grader
from clusterank.workspace import Workspace
from conftest import free_port, start_process, stop_process

pytestmark = pytest.mark.slow
ALIAS = "qwen-llama-cpp-server"
"""Not the offline judge's name, so the two never share cached grades."""


def _pairs(n_queries: int = 2) -> list[tuple[str, str]]:
    """For each of a few bundled queries: one profile of its role and one of another role."""
    queries, profiles = bundled_queries(), bundled_profiles(n=200)
    out = []
    for q in range(0, 20 * n_queries, 20):
        label = queries.labels[q]
        same = next(i for i, lab in enumerate(profiles.labels) if lab == label)
        other = next(i for i, lab in enumerate(profiles.labels) if lab != label and i > 7 * q // 20)
        out += [(queries.texts[q], profiles.texts[same]), (queries.texts[q], profiles.texts[other])]
    return out


def _serve(tmp_path_factory, home, logits_all: str):
    """`python -m llama_cpp.server` on a free loopback port over the bundled GGUF, default sampling settings."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    from clusterank.rerank.local_llm import bundled_gguf

    port = free_port()
    proc = start_process([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf(home)),
                          "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                          "--n_threads", "2", "--logits_all", logits_all], f"http://127.0.0.1:{port}/v1/models",
                         tmp_path_factory.mktemp("llama-judge") / "serve.log")
    return proc, f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def home(tmp_path_factory, session_home):
    """A workspace of this module's own (its grade cache starts empty), sharing the session's models."""
    root = tmp_path_factory.mktemp("judge-home")
    (root / "models").symlink_to(session_home.models_dir, target_is_directory=True)
    return Workspace(root)


@pytest.fixture(scope="module")
def offline(home):
    """The offline judge's grades of the pairs (clusterank's own loopback server, read from log-probabilities)."""
    with open_grader("local", home) as grader:
        return grader.grade_many(_pairs())


def test_a_llama_cpp_server_judge_agrees_with_the_offline_judge(tmp_path_factory, home, offline):
    proc, url = _serve(tmp_path_factory, home, "false")  # the fast way: no log-probabilities
    try:
        with open_grader(f"llm:{ALIAS}@{url}", home, concurrency=1) as grader:
            served = grader.grade_many(_pairs())
            assert grader.client.logprobs_refused  # the server said no to log-probabilities: read from the text
    finally:
        stop_process(proc)
    assert {g.source for g in offline} == {"logprobs"} and {g.source for g in served} == {"text"}
    assert [g.grade for g in served] == [g.grade for g in offline]


def test_with_logits_all_its_log_probabilities_are_the_offline_ones(tmp_path_factory, home, offline):
    """`--logits_all true` (slower: the vocabulary's logits at every prompt position) returns log-probabilities:
    the same distribution over "0".."3" as the offline judge's, to float32 rounding, on one pair (the slowest
    server mode here)."""
    proc, url = _serve(tmp_path_factory, home, "true")
    try:
        with open_grader(f"llm:{ALIAS}-logits@{url}", home, concurrency=1) as grader:
            served = grader.grade_many(_pairs()[:1])
    finally:
        stop_process(proc)
    assert {g.source for g in served} == {"logprobs"}
    assert [g.grade for g in served] == [g.grade for g in offline[:1]]
    assert [g.expected for g in served] == pytest.approx([g.expected for g in offline[:1]], abs=1e-3)
