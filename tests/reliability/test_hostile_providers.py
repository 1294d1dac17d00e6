"""Hostile providers and hostile sizes (issue 20, classes 5 and 6), each class tried with every example found:

1. token counts a provider reports (`usage`) that no text could have: never billed, never in any arithmetic;
2. credentials in a base URL (`http://user:pw@host`, `?api_key=`): used for the request, never stored or printed;
3. escape sequences and control characters in what a provider says: never reach the terminal;
4. a 20 MB text: costs about what a normal text does, and gives the very vector the whole text gives;
5. a judge's base URL that is not http(s) with a host: one clear error at start-up.

Providers are small real HTTP servers on loopback (`tests/loopback.py`) answering what a hostile server would.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sqlite3
import time

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

import clusterank as ck  # noqa: E402
from clusterank.cli import main  # noqa: E402
from clusterank.embed import get_embedder  # noqa: E402
from clusterank.embed.base import TokenBatcher  # noqa: E402
from clusterank.embed.store import EmbeddingStore  # noqa: E402
from clusterank.errors import ClusterankError, check_base_url, printable, public_url  # noqa: E402
from clusterank.rerank import LLMOptions  # noqa: E402
from clusterank.rerank.llm import ChatClient, LLMJudge  # noqa: E402

TEXTS = [f"profile {i}: data engineer who builds pipelines" for i in range(6)]
ANSI = "\x1b[2J\x1b[H\x1b[31mPWNED\x1b[0m\x1b]0;owned title\x07\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\\r\nnext\x08\x7f\x9b2J\u202eevil"


@pytest.fixture
def provider(loopbacks):
    """Loopback providers: `answer(path, body, headers) -> (status, JSON body)`; each records what it was sent."""
    return loopbacks


def vectors_for(texts: list[str]) -> list[list[float]]:
    """Deterministic non-zero 8-dim vectors, one per text."""
    return [[1.0 + (hash(t) % 97) / 97, 0.5, -0.25, 0.125, 1.0, 2.0, 3.0, 4.0] for t in texts]


def openai_answer(usage):
    """An OpenAI-shaped answer whose `usage.prompt_tokens` is `usage` (base64 vectors, as asked for)."""
    def answer(path, body, headers):
        data = [{"index": i, "embedding": base64.b64encode(np.asarray(v, "<f4").tobytes()).decode()}
                for i, v in enumerate(vectors_for(body["input"]))]
        return 200, {"object": "list", "data": data, "usage": {"prompt_tokens": usage, "total_tokens": usage}}
    return answer


def fast(emb):
    emb.max_retries, emb.backoff, emb.timeout = 1, 0.01, 10
    return emb


# ---- 1. token counts no text could have

HOSTILE_COUNTS = [10**30, 2**63, -5, 1.5, float("inf"), float("nan"), "12", True, [3], {"n": 1}, 10**6]


@pytest.mark.parametrize("usage", HOSTILE_COUNTS, ids=repr)
def test_an_impossible_token_count_is_ignored_not_billed(usage, provider, workspace, caplog):
    p = provider(openai_answer(usage))
    store = EmbeddingStore(workspace.store_path)
    emb = fast(get_embedder(f"api:m@{p.url()}"))
    with caplog.at_level(logging.WARNING, "clusterank"):
        vecs = store.embed(emb, TEXTS)
    assert vecs.shape == (len(TEXTS), 8) and store.count(emb.name) == len(TEXTS)  # the vectors are kept
    assert store.billed(emb.name) is None and emb.billed_tokens == 0  # no made-up bill
    said = [r.getMessage() for r in caplog.records if "token count" in r.getMessage()]
    assert len(said) == 1 and "usage.prompt_tokens" in said[0], said  # once, naming the field


def test_a_believable_token_count_is_billed(provider, workspace):
    p = provider(openai_answer(42))
    store = EmbeddingStore(workspace.store_path)
    emb = fast(get_embedder(f"api:m@{p.url()}"))
    store.embed(emb, TEXTS)
    assert store.billed(emb.name)["tokens"] == 42 and emb.billed_tokens == 42


def test_cohere_billed_units_are_checked_too(provider, workspace, monkeypatch):
    def answer(path, body, headers):
        return 200, {"embeddings": {"float": vectors_for(body["texts"])},
                     "meta": {"billed_units": {"input_tokens": 10**30}}}

    p = provider(answer)
    monkeypatch.setenv("CO_API_KEY", "k")
    store = EmbeddingStore(workspace.store_path)
    emb = fast(get_embedder(f"cohere:embed-english-v3.0@{p.url()}"))
    store.embed(emb, TEXTS)
    assert store.billed(emb.name) is None and store.count(emb.name) == len(TEXTS)


@pytest.mark.parametrize("usage", [10**30, -1, "many", float("inf"), None, [1]], ids=repr)
def test_the_llm_judge_ignores_impossible_token_counts(usage, provider, tmp_path):
    def answer(path, body, headers):
        return 200, {"choices": [{"message": {"content": "A"}}],
                     "usage": {"prompt_tokens": usage, "completion_tokens": usage}}

    p = provider(answer)
    judge = LLMJudge(ChatClient(p.url(), "m", max_tries=1), tmp_path / "j.sqlite")
    assert judge.prob_first("job", "first", "second") == 1.0
    assert judge.stats.prompt_tokens == 0 and judge.stats.completion_tokens == 0
    assert judge.stats.calls == 1


# ---- 2. credentials in a base URL

SECRET, QSECRET = "s3cr3t-pw-7f1e", "q-key-90ab3c"


def test_credentials_in_a_base_url_are_used_but_never_stored_or_printed(provider, workspace, capsys, caplog):
    p = provider(openai_answer(12))
    url = p.url(f"alice:{SECRET}@", f"?api_key={QSECRET}")
    name = f"api:bge-m3@{url}"
    store = EmbeddingStore(workspace.store_path)
    with caplog.at_level(logging.INFO, "clusterank"):
        emb = fast(get_embedder(name))
        store.embed(emb, TEXTS)
    assert emb.name == f"api:bge-m3@{p.url()}"
    path, headers, _ = p.requests[-1]  # the request still carries them
    assert path == f"/v1/embeddings?api_key={QSECRET}"
    assert base64.b64decode(headers["Authorization"].split()[1]).decode() == f"alice:{SECRET}"
    assert list(store.models()) == [emb.name]
    store.close()
    con = sqlite3.connect(workspace.store_path)
    dump = "\n".join(con.iterdump())
    con.close()
    assert main(["cache", "info"]) == 0
    out, err = capsys.readouterr()
    assert emb.name in out
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "left out of the stored name" in logged  # the user is told, once
    for where in (dump, out, err, logged):
        assert SECRET not in where and QSECRET not in where and "alice" not in where


def test_credentials_never_reach_an_error_message(provider, workspace):
    def refuse(path, body, headers):
        return 400, {"error": {"message": "bad model"}}

    p = provider(refuse)
    url = p.url(f"alice:{SECRET}@", f"?api_key={QSECRET}")
    messages = []
    for name in (f"api:m@{url}", f"api:m@ftp://alice:{SECRET}@host/?api_key={QSECRET}",
                 f"api:m@http://alice:{SECRET}@host:99999/?api_key={QSECRET}", f"apii:m@{url}"):
        with pytest.raises(ClusterankError) as exc:
            fast(get_embedder(name)).embed(TEXTS)
        messages.append(str(exc.value))
    for message in messages:
        assert SECRET not in message and QSECRET not in message, message
    assert "bad model" in messages[0] and "127.0.0.1" in messages[0]


def test_public_url_leaves_a_url_without_secrets_as_it_is():
    for url in ("http://127.0.0.1:8000/v1", "https://api.openai.com/v1/", "HTTP://Host:1/a/b"):
        assert public_url(url) == url
    assert public_url("https://u:p@h:1/v1?key=k#f") == "https://h:1/v1"
    assert public_url("https://u@h") == "https://h"


# ---- 3. escape sequences and control characters in what a provider says

def _assert_inert(text: str) -> None:
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), repr(text)
    assert "owned title" not in text and "http://evil" not in text  # the payloads of OSC sequences are gone too


def test_printable_removes_every_escape_sequence_and_control_character():
    shown = printable(ANSI, None)
    _assert_inert(shown)
    assert "PWNED" in shown and "next" in shown and "\n" not in shown


def test_an_api_error_body_cannot_drive_the_terminal(provider, workspace, capsys):
    def refuse(path, body, headers):
        return 400, {"error": {"message": ANSI}}

    p = provider(refuse)
    corpus = workspace.root / "p.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "role": "DE"}) + "\n" for t in TEXTS))
    code = main(["search", "data engineer", "--model", f"api:m@{p.url()}", "--corpus", str(corpus)])
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]  # the rest: the progress bar's
    assert code == 2 and len(errors) == 1 and "PWNED" in errors[0], err
    _assert_inert(errors[0])


def test_a_retried_error_body_cannot_drive_the_terminal_either(provider, workspace, capsys):
    def unavailable(path, body, headers):
        return 503, {"error": ANSI}

    p = provider(unavailable)
    corpus = workspace.root / "p.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "role": "DE"}) + "\n" for t in TEXTS))
    code = main(["search", "data engineer", "--model", f"api:m@{p.url()}", "--corpus", str(corpus)])
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if "PWNED" in line]  # the retry lines and the error line
    assert code == 2 and len(said) >= 2 and said[-1].startswith("error: "), err
    for line in said:
        _assert_inert(line)


@pytest.mark.parametrize("status", [400, 503])
def test_an_llm_error_body_cannot_drive_the_terminal(status, provider):
    p = provider(lambda path, body, headers: (status, ANSI.encode()))
    with pytest.raises(ClusterankError) as exc:
        ChatClient(p.url(), "m", max_tries=2, backoff=0.01).complete([{"role": "user", "content": "x"}])
    assert "PWNED" in str(exc.value)
    _assert_inert(str(exc.value))


# ---- 4. a 20 MB text

BIG_MB = 20
LONG_CASES = {
    "prose": lambda base: base[:30_000],
    "spaces then prose": lambda base: " " * 40_000 + base[:5_000],
    "a giant word then prose": lambda base: "x" * 30_000 + " " + base[:5_000],
    "one giant word": lambda base: "a" * 60_000,
    "CJK": lambda base: "数据科学家负责模型 " * 3_000,
    "emoji": lambda base: "😀👩‍💻 " * 5_000,
    "control characters": lambda base: "\n\t\r" * 9_000 + base[:5_000],
    "accents at the edge": lambda base: base[:2_040] + "é" * 6_000,
    "punctuation": lambda base: ". ," * 20_000,
    "just over the first prefix": lambda base: base[:2_049],
}


@pytest.fixture(scope="module")
def base_text() -> str:
    return " ".join(ck.bundled_profiles().texts)


def _big(base: str) -> str:
    n = BIG_MB * 2**20
    return (base * (n // len(base) + 1))[:n]


def test_token_batcher_gives_the_ids_of_the_whole_text_from_a_prefix(base_text):
    from clusterank.embed.local import bundled_minilm_dir
    tokenizers = pytest.importorskip("tokenizers")

    tok = tokenizers.Tokenizer.from_file(str(bundled_minilm_dir() / "tokenizer.json"))
    for max_tokens in (128, 256, 512):
        cut, whole = TokenBatcher(tok, max_tokens), TokenBatcher(tok, max_tokens)
        whole.prefix_chars = None  # every text tokenized whole: what the ids must equal
        texts = [make(base_text) for make in LONG_CASES.values()]
        got, want = cut(texts), whole(texts)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert np.array_equal(got[2] > max_tokens, want[2] > max_tokens)  # the same texts counted as truncated


@pytest.mark.parametrize("model", ["minilm-static", "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"])
def test_a_20mb_text_costs_about_a_normal_one_and_gives_the_same_vector(model, session_home, base_text, caplog):
    try:
        emb = get_embedder(model, session_home, device="cpu")
    except ClusterankError as exc:
        pytest.skip(str(exc))
    emb.embed([base_text[:500]])  # loaded
    big = _big(base_text)
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, "clusterank"):
        vec = emb.embed([big])
    took = time.perf_counter() - start
    assert took < 3.0, f"{model}: a {BIG_MB} MB text took {took:.1f} s"  # tokenized whole it took ~11 s
    assert any("truncated" in r.getMessage() for r in caplog.records)
    assert np.array_equal(vec, emb.embed([big[:200_000]]))  # the rest of the 20 MB cannot matter
    long = [make(base_text) for make in LONG_CASES.values()]
    if model == "minilm-static":
        reference = emb._load().encode(long, max_length=emb.max_tokens)  # model2vec's own encode
        assert np.allclose(emb.embed(long), reference, atol=1e-6)
    elif model == "all-MiniLM-L6-v2":
        reference = emb._model.encode(long, batch_size=1, convert_to_numpy=True)  # sentence-transformers' own
        assert np.allclose(emb.embed(long), reference, atol=1e-5)


# ---- 5. a judge's base URL

BAD_URLS = ["ftp://x", "http://", "not a url", "https:///v1", "http//host/v1", "file:///etc/passwd", "127.0.0.1:8000",
            "http://host:99999/v1", "http://ho st/v1", "http://host/v1\n", "javascript:alert(1)", ""]


@pytest.mark.parametrize("url", BAD_URLS, ids=repr)
def test_a_bad_judge_url_is_one_clear_error_when_the_options_are_made(url):
    with pytest.raises(ClusterankError, match="--llm-base-url"):
        LLMOptions(base_url=url, model="m")
    with pytest.raises(ClusterankError, match="--llm-base-url"):
        ChatClient(url, "m")


def _search_with_judge(url: str, capsys) -> tuple[int, list[str]]:
    code = main(["search", "data engineer", "--n", "20", "--rerank", "llm-pairwise", "--llm-base-url", url,
                 "--llm-model", "m"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("error")]


@pytest.mark.parametrize("url", ["ftp://x", "http://", "not a url"])
def test_cli_a_bad_judge_url_is_one_error_line(url, workspace, static_embedder, capsys):
    code, errors = _search_with_judge(url, capsys)
    assert code == 2 and len(errors) == 1 and errors[0].startswith("error: --llm-base-url"), errors


def test_cli_a_bad_judge_url_fails_before_anything_is_embedded(workspace, static_embedder, capsys):
    code, errors = _search_with_judge("ftp://x", capsys)
    assert code == 2 and len(errors) == 1
    assert EmbeddingStore(workspace.store_path).models() == {}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "https://api.openai.com/v1", "HTTPS://Host/v1/",
                                 "http://[::1]:8000/v1", "http://user:pw@host/v1?x=1"])
def test_good_judge_urls_are_accepted(url):
    assert LLMOptions(base_url=url, model="m").base_url == url
    assert check_base_url(url, "x") == url
