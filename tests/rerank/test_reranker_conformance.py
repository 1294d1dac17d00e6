"""The Reranker contract, for every registered reranker that builds offline here.

The list comes from the registry (`RERANKERS`, each backend's `examples`): a backend with an example joins every
test below. A backend with no offline example of its own is run on one built here when `FIXTURE_BUILT` knows how
(a cross-encoder saved from the bundled MiniLM). Checked: the base class and declared capabilities, the same hits
back best first with ranks 1..n, empty, one and huge inputs, determinism, `rerank_top` keeping the tail, and
ClusterankError from a failing backend (every backend but `none` needs a case in `FAILING`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest

from clusterank import ClusterankError, Hit
from clusterank.data.loaders import bundled_profiles
from clusterank.rerank import RERANKERS, LLMOptions, get_reranker
from clusterank.rerank.base import Reranker, RerankStats, rerank_top

QUERY = "Own positioning, messaging and go-to-market launches; equip sales with battlecards."
PROFILES = bundled_profiles(n=8)
SLOW = {"llm-pairwise"}
"""Backends whose cases run a real model slowly (the bundled LLM judges ~1 s a call on a laptop CPU): marked slow,
and given 4 hits instead of 8 so each case stays bounded."""


def _saved_cross_encoder(request) -> str:
    return f"cross-encoder:{request.getfixturevalue('cross_encoder_dir')}"


FIXTURE_BUILT: dict[str, Callable[[pytest.FixtureRequest], str]] = {"cross-encoder:": _saved_cross_encoder}
"""How to name a real reranker of a backend that declares no offline example (its path is known only at test
time); used only while the registry declares none, so a backend is never run twice."""


def _params() -> list:
    out = []
    for backend in RERANKERS.values():
        marks = [pytest.mark.slow] if backend.name in SLOW else []
        if backend.missing():
            marks.append(pytest.mark.skip(reason=f"{backend.name} needs {', '.join(backend.missing())}"))
        names = list(backend.examples)
        if not names and backend.name in FIXTURE_BUILT:
            names = [backend.name + "<built-here>"]
        out += [pytest.param((backend.name, name), id=name, marks=marks) for name in names]
    return out


_BUILT: dict[str, Reranker] = {}


@pytest.fixture(scope="session")
def cross_encoder_dir(tmp_path_factory):
    """A real small cross-encoder made offline: the bundled all-MiniLM-L6-v2 with a fresh one-logit head, saved by
    sentence-transformers as a user's own would be (weights are random in the head, so orders are arbitrary but
    fixed)."""
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import CrossEncoder

    from clusterank.embed.local import bundled_minilm_dir

    folder = tmp_path_factory.mktemp("cross-encoder") / "minilm-ce"
    CrossEncoder(str(bundled_minilm_dir()), num_labels=1, device="cpu").save(str(folder))
    return folder


@pytest.fixture(params=_params())
def case(request, session_home) -> tuple[Reranker, int]:
    """(the reranker, how many hits its cases use), built once per session."""
    backend, name = request.param
    if name.endswith("<built-here>"):
        name = FIXTURE_BUILT[backend](request)
    if name not in _BUILT:
        try:
            _BUILT[name] = get_reranker(name, workspace=session_home)
        except ClusterankError as exc:  # an extra the registry does not list (llama.cpp for the bundled judge)
            if "pip install" not in str(exc):
                raise
            pytest.skip(str(exc))
    return _BUILT[name], 4 if backend in SLOW else 8


def hits(n: int, *, first_rank: int = 11, huge: bool = False) -> list[Hit]:
    """`n` real profiles as retrieved hits, ranked from `first_rank` (a reranker must renumber them); `huge` makes
    each text ~50k characters, its own from the first character on."""
    out = []
    for i in range(n):
        text = PROFILES.texts[i]
        if huge:
            text = f"Candidate {i} of {n}. " + (text + " ") * (50_000 // len(text) + 1)
        out.append(Hit(rank=first_rank + i, row=100 + i, id=f"p{i}", cosine=0.9 - i / 100,
                       role=PROFILES.labels[i], preview=text[:60], text=text))
    return out


def check_same_hits_best_first(reranker: Reranker, given: list[Hit], out: list[Hit]) -> None:
    """The contract of one `rerank` answer: the given hits, each once and otherwise unchanged, ranks 1..n, scores
    (where given) best first."""
    assert isinstance(out, list) and all(isinstance(h, Hit) for h in out)
    assert sorted(h.row for h in out) == sorted(h.row for h in given)
    assert sorted(h.id for h in out) == sorted(h.id for h in given)
    assert [h.rank for h in out] == list(range(1, len(given) + 1))
    by_row = {h.row: h for h in given}
    for h in out:  # only the rank and the rerank score may change
        assert replace(h, rank=by_row[h.row].rank, rerank_score=by_row[h.row].rerank_score) == by_row[h.row]
    scores = [h.rerank_score for h in out if h.rerank_score is not None]
    assert all(math.isfinite(s) for s in scores)
    assert scores == sorted(scores, reverse=True)
    if reranker.relevance_scores:
        assert len(scores) == len(out)
    if not reranker.reorders:
        assert [h.row for h in out] == [h.row for h in given]


def test_is_a_reranker_with_declared_capabilities(case):
    reranker, _ = case
    assert isinstance(reranker, Reranker)
    assert isinstance(reranker.name, str) and reranker.name
    assert isinstance(reranker.stats, RerankStats)
    for capability in ("remote", "paid", "reorders", "relevance_scores"):
        assert type(getattr(reranker, capability)) is bool, capability
    assert not reranker.remote and not reranker.paid  # an offline example sends nothing away and costs nothing


def test_returns_the_same_hits_best_first(case):
    reranker, n = case
    given = hits(n)
    check_same_hits_best_first(reranker, given, reranker.rerank(QUERY, given))
    assert isinstance(reranker.stats, RerankStats) and reranker.stats.seconds >= 0


def test_empty_and_one_hit(case):
    reranker, _ = case
    assert reranker.rerank(QUERY, []) == []
    one = hits(1)
    out = reranker.rerank(QUERY, one)
    check_same_hits_best_first(reranker, one, out)
    assert out[0].row == one[0].row and out[0].rank == 1


def test_deterministic(case):
    reranker, n = case
    given = hits(n)
    first, second = reranker.rerank(QUERY, given), reranker.rerank(QUERY, given)
    assert [h.row for h in first] == [h.row for h in second]
    assert [h.rerank_score is None for h in first] == [h.rerank_score is None for h in second]
    assert [h.rerank_score or 0.0 for h in first] == pytest.approx([h.rerank_score or 0.0 for h in second], rel=1e-5)


def test_huge_texts(case):
    reranker, n = case
    given = hits(n // 2, huge=True)  # 2 for the slow judge: one pair, asked both ways
    assert all(len(h.text) >= 50_000 for h in given)
    check_same_hits_best_first(reranker, given, reranker.rerank(QUERY * 200, given))


def test_rerank_top_keeps_the_tail_in_order(case):
    reranker, n = case
    given = hits(n, first_rank=1)
    top = n // 2
    out = rerank_top(reranker, QUERY, given, top)
    assert [h.rank for h in out] == list(range(1, n + 1))
    assert sorted(h.row for h in out[:top]) == sorted(h.row for h in given[:top])
    assert out[top:] == given[top:]  # ranks already n-top+1..n, nothing else touched
    with pytest.raises(ClusterankError, match="at least 1"):
        rerank_top(reranker, QUERY, given, 0)


# ---- a failing backend: one ClusterankError, from building or from the first rerank


def _failing_server(request) -> str:
    """A loopback server that answers every request 500 (with Retry-After: 0, so the retries are quick)."""
    srv = request.getfixturevalue("loopbacks")([(500, {"error": {"message": "boom"}}, {"Retry-After": "0"})])
    return srv.url()


def _failing_rescore(request) -> Callable[[], object]:
    request.getfixturevalue("monkeypatch").setenv("CLUSTERANK_API_KEY", "k")
    ws = request.getfixturevalue("workspace")
    reranker = get_reranker(f"rescore:api:judge-model@{_failing_server(request)}", workspace=ws)
    assert reranker.remote and reranker.paid  # it sends the texts to the API
    return lambda: reranker.rerank(QUERY, hits(3))


def _failing_llm(request) -> Callable[[], object]:
    options = LLMOptions(base_url=_failing_server(request), model="judge-model")
    reranker = get_reranker("llm-pairwise", workspace=request.getfixturevalue("workspace"), llm=options)
    assert not reranker.remote and not reranker.paid  # a judge on loopback keeps the texts on this machine
    return lambda: reranker.rerank(QUERY, hits(3))


def _refused_llm(request) -> Callable[[], object]:
    from conftest import free_port

    options = LLMOptions(base_url=f"http://127.0.0.1:{free_port()}/v1", model="judge-model")
    reranker = get_reranker("llm-pairwise", workspace=request.getfixturevalue("workspace"), llm=options)
    return lambda: reranker.rerank(QUERY, hits(2))


def _broken_cross_encoder(request) -> Callable[[], object]:
    folder = request.getfixturevalue("tmp_path") / "broken-ce"
    folder.mkdir()
    (folder / "config.json").write_text("{ not json")
    return lambda: get_reranker(f"cross-encoder:{folder}")


def _fair_without_its_column(request) -> Callable[[], object]:
    reranker = get_reranker("fair:group=name_gender")  # a corpus column, but no corpus handed to it
    return lambda: reranker.rerank(QUERY, hits(3))


def _fair_with_an_absent_group(request) -> Callable[[], object]:
    reranker = get_reranker("fair:group=label,target=nobody:1")  # a target group no profile is in
    return lambda: rerank_top(reranker, QUERY, hits(3), 3, lambda column: PROFILES.labels)


FAILING: dict[str, list[Callable[[pytest.FixtureRequest], Callable[[], object]]]] = {
    "fair": [_fair_without_its_column, _fair_with_an_absent_group],
    "rescore:": [_failing_rescore],
    "llm-pairwise": [_failing_llm, _refused_llm],
    "cross-encoder:": [_broken_cross_encoder],
}
"""Per backend, how to give it a failing backend: each returns a call that must raise ClusterankError."""
NO_BACKEND = {"none"}
"""Backends with nothing that can fail."""


@pytest.mark.parametrize("backend", list(RERANKERS), ids=list(RERANKERS))
def test_a_failing_backend_raises_clusterank_error(backend, request):
    if backend in NO_BACKEND:
        pytest.skip(f"{backend} has no backend that could fail")
    assert backend in FAILING, f"add a failing case for the reranker backend {backend!r} to FAILING"
    if RERANKERS[backend].missing():
        pytest.skip(f"{backend} needs {', '.join(RERANKERS[backend].missing())}")
    for make in FAILING[backend]:
        call = make(request)
        with pytest.raises(ClusterankError) as info:
            call()
        assert "\n" not in str(info.value)  # one line


@pytest.mark.parametrize(("base_url", "remote"), [("https://api.example.com/v1", True),
                                                  ("http://localhost:8080/v1", False),
                                                  ("http://[::1]:8080/v1", False)])
def test_an_llm_judge_is_remote_and_paid_off_this_machine_only(base_url, remote, workspace):
    if RERANKERS["llm-pairwise"].missing():
        pytest.skip("llm-pairwise needs httpx")
    reranker = get_reranker("llm-pairwise", workspace=workspace, llm=LLMOptions(base_url=base_url, model="m"))
    assert reranker.remote is remote and reranker.paid is remote and reranker.relevance_scores is False
