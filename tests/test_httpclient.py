"""The one retrying HTTP client (`clusterank.httpclient`) against real scripted servers on loopback: what is
retried (the same for the embedding APIs and the LLM judge), how long it waits (`Retry-After` as seconds, as an
HTTP date, `retry-after-ms`; jittered backoff; all bounded), the caps on tries and waiting, connection failures,
and error messages that carry neither a credential nor an escape sequence."""

from __future__ import annotations

import base64
import logging
import os
import random
import re
import signal
import threading
import time
from email.utils import formatdate

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")


from clusterank.embed import get_embedder  # noqa: E402
from clusterank.httpclient import (HttpError, RetryPolicy, graceful_interrupt, post_json,  # noqa: E402
                                         retry_after, retryable)
from clusterank.errors import ClusterankError  # noqa: E402
from clusterank.rerank.llm import ChatClient, LLMJudge  # noqa: E402

ANSI = "\x1b[2J\x1b[31mPWNED\x1b[0m\x1b]0;owned title\x07\r\nnext\x9b2J\u202eevil"
RETRIED = [408, 409, 425, 429, 500, 502, 503, 504, 520, 529]
FINAL = [400, 401, 403, 404, 413, 422, 501, 505]


@pytest.fixture
def serve(loopbacks):
    """Scripted loopback servers (`tests/loopback.py`), closed after the test."""
    return loopbacks


def ok(path, body):
    """The success answer of either user: vectors for /embeddings, a one-letter reply for /chat/completions."""
    if path.endswith("/embeddings"):
        data = [{"index": i, "embedding": base64.b64encode(np.ones(4, "<f4").tobytes()).decode()}
                for i, _ in enumerate(body["input"])]
        return {"data": data, "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    return {"choices": [{"message": {"content": "A"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}


def first_then_ok(status, payload=None, headers=None, times=1):
    """A script: `status` for the first `times` requests, then the success answer."""
    seen = []

    def answer(path, body, _headers):
        seen.append(path)
        if len(seen) <= times:
            return status, {"error": {"message": "try later"}} if payload is None else payload, headers or {}
        return 200, ok(path, body)
    return answer


def embed_once(url: str, *, tries: int = 3):
    emb = get_embedder(f"api:m@{url}")
    emb.max_retries, emb.backoff, emb.timeout, emb._dims = tries - 1, 0.01, 5, 4
    return emb.embed(["one text"])


def judge_once(url: str, *, tries: int = 3, key_env: str = "CK_TEST_JUDGE_KEY"):
    client = ChatClient(url, "m", max_tries=tries, backoff=0.01, timeout=5, api_key_env=key_env)
    try:
        return client.complete([{"role": "user", "content": "x"}])
    finally:
        client.close()


USERS = {"embedder": embed_once, "judge": judge_once}


# ---- what is retried: the same statuses for both users

def test_the_retried_statuses():
    assert all(retryable(s) for s in RETRIED) and not any(retryable(s) for s in FINAL + [200, 204, 302])


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("status", RETRIED)
def test_both_users_retry_the_same_statuses(user, status, serve):
    srv = serve(first_then_ok(status))
    USERS[user](srv.url())
    assert len(srv.requests) == 2


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("status", FINAL)
def test_both_users_stop_at_once_on_the_other_statuses(user, status, serve):
    srv = serve(first_then_ok(status, times=99))
    with pytest.raises(ClusterankError, match=f"HTTP {status}: try later"):
        USERS[user](srv.url())
    assert len(srv.requests) == 1


# ---- how long it waits

def test_retry_after_is_read_as_seconds_date_or_milliseconds():
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25  # the finer one wins
    assert retry_after({"retry-after": formatdate(time.time() + 30, usegmt=True)}) == pytest.approx(30, abs=1.5)
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past: at once
    assert retry_after({"retry-after": "-4"}) == 0.0
    for nonsense in ("soon", "inf", "nan", "", "1e999", "Wed, 99 Foo 2015"):
        assert retry_after({"retry-after": nonsense}) is None, nonsense
    assert retry_after({"retry-after-ms": "x"}) is None and retry_after({}) is None


def test_retry_after_names_match_in_any_case_and_a_bad_ms_falls_back():
    assert retry_after({"Retry-After": "3"}) == 3.0 and retry_after({"RETRY-AFTER-MS": "1500"}) == 1.5
    assert retry_after({"retry-after-ms": "soon", "Retry-After": "2"}) == 2.0  # nonsense in ms: the seconds count
    assert retry_after(httpx.Headers({"Retry-After-Ms": "20"})) == 0.02


@pytest.fixture
def far_timezone(monkeypatch):
    """This machine's clock in a zone far from GMT, so a date read as local time would be off by hours."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # GMT+14
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_http_date_without_a_zone_is_gmt(far_timezone):
    ahead = time.time() + 30
    for stamp in (formatdate(ahead, usegmt=True), formatdate(ahead),  # "GMT" and "-0000" (no zone)
                  time.strftime("%a, %d %b %Y %H:%M:%S", time.gmtime(ahead))):  # no zone at all
        assert retry_after({"retry-after": stamp}) == pytest.approx(30, abs=1.5), stamp


def test_an_asked_wait_past_the_total_limit_is_not_made(serve):
    srv = serve([(429, {"error": "slow down"}, {"Retry-After": "5"})])
    waits: list[float] = []
    with httpx.Client(timeout=5) as http, pytest.raises(HttpError, match="failed 1 times; last: HTTP 429") as exc:
        post_json(http, srv.url() + "/x", {}, parse=lambda r: r, label="t", sleep=waits.append,
                  policy=RetryPolicy(tries=5, total=2.0))
    assert waits == [] and len(srv.requests) == 1 and exc.value.gave_up


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("header, low, high", [
    ({"Retry-After": "1"}, 0.9, 2.5),
    ({"retry-after-ms": "400"}, 0.35, 1.5),
    ("date", 0.9, 3.5),  # an HTTP date 2 s ahead (whole seconds: 1 to 2 s from now)
], ids=["seconds", "ms", "date"])
def test_both_users_wait_as_the_server_asks(user, header, low, high, serve):
    if header == "date":
        header = {"Retry-After": formatdate(time.time() + 2, usegmt=True)}
    srv = serve(first_then_ok(429, headers=header))
    USERS[user](srv.url())
    assert len(srv.requests) == 2 and low <= srv.gaps()[0] <= high, srv.gaps()  # backoff alone: ~0.01 s


def test_a_long_retry_after_is_capped(serve):
    srv = serve(first_then_ok(503, headers={"Retry-After": "3600"}))
    with httpx.Client(timeout=5) as http:
        post_json(http, srv.url() + "/chat/completions", {}, parse=lambda r: r.json(), label="t",
                  policy=RetryPolicy(tries=2, max_asked=0.3))
    assert 0.25 <= srv.gaps()[0] < 1.5


def test_backoff_doubles_with_jitter_within_bounds():
    policy, rng = RetryPolicy(backoff=0.5, max_backoff=5.0), random.Random(7)
    for retry in range(1, 9):
        base = min(5.0, 0.5 * 2 ** (retry - 1))
        waits = [policy.delay(retry, None, rng) for _ in range(200)]
        assert all(base / 2 <= w < base for w in waits)
        assert max(waits) - min(waits) > base / 4  # really spread, not one value
    assert policy.delay(3, 12.0, rng) == 12.0 and policy.delay(3, 999.0, rng) == policy.max_asked


def test_the_waits_between_real_tries_are_the_jittered_backoff(serve):
    srv = serve([(503, {"error": "busy"}, {})])
    waits: list[float] = []
    with httpx.Client(timeout=5) as http, pytest.raises(HttpError) as exc:
        post_json(http, srv.url() + "/x", {}, parse=lambda r: r, label="t", sleep=waits.append,
                  policy=RetryPolicy(tries=6, backoff=0.2, max_backoff=1.0))
    assert exc.value.gave_up and exc.value.tries == 6 and len(srv.requests) == 6 and len(waits) == 5
    for retry, wait in enumerate(waits, 1):
        base = min(1.0, 0.2 * 2 ** (retry - 1))
        assert base / 2 <= wait < base


# ---- the caps

@pytest.mark.parametrize("user", USERS)
def test_both_users_stop_after_their_tries(user, serve):
    srv = serve([(503, {"error": "overloaded"}, {})])
    with pytest.raises(ClusterankError, match=r"failed.* (4 times|4 tries).*HTTP 503: overloaded"):
        USERS[user](srv.url(), tries=4)
    assert len(srv.requests) == 4


def test_all_waits_together_are_capped(serve):
    srv = serve([(429, {"error": "slow down"}, {"Retry-After": "0.4"})])
    waits: list[float] = []
    with httpx.Client(timeout=5) as http, pytest.raises(HttpError) as exc:
        post_json(http, srv.url() + "/x", {}, parse=lambda r: r, label="t", sleep=waits.append,
                  policy=RetryPolicy(tries=50, total=1.0))
    assert waits == [0.4, 0.4] and len(srv.requests) == 3 and exc.value.tries == 3  # a third wait would pass 1 s


@pytest.mark.parametrize("user", USERS)
def test_both_users_retry_connection_failures(user, serve):
    srv = serve([(200, {}, {})])
    port = srv.port
    srv.close()  # nothing listens there now
    t = time.monotonic()
    with pytest.raises(ClusterankError, match=r"failed.* (3 times|3 tries).*connection failed"):
        USERS[user](f"http://127.0.0.1:{port}/v1")
    assert time.monotonic() - t < 10


def test_a_server_that_does_not_answer_in_time_is_retried(serve):
    def slow(path, body, headers):
        time.sleep(1.0)
        return 200, ok(path, body)

    srv = serve(slow)
    with httpx.Client(timeout=0.2) as http, pytest.raises(HttpError, match=r"failed 2 times; last: no answer within 0.2 s"):
        post_json(http, srv.url() + "/chat/completions", {}, parse=lambda r: r.json(), label="t",
                  policy=RetryPolicy(tries=2, backoff=0.01))
    assert len(srv.requests) == 2


def test_a_caller_may_take_a_timeout_at_once_instead_of_a_retry(serve):
    def slow(path, body, headers):
        time.sleep(0.6)
        return 200, ok(path, body)

    srv = serve(slow)
    srv.server.handle_error = lambda *_: None  # the client hung up: expected
    with httpx.Client(timeout=0.2) as http, pytest.raises(HttpError) as exc:
        post_json(http, srv.url() + "/embeddings", {}, parse=lambda r: r.json(), label="t",
                  policy=RetryPolicy(tries=5, backoff=0.01), retry_timeouts=False)
    assert exc.value.timed_out and exc.value.tries == 1 and "no answer within 0.2 s" in exc.value.detail
    assert len(srv.requests) == 1  # the embedding client splits such a request instead (tests/embed)


def test_an_unusable_200_from_an_embedding_api_is_retried(serve):
    answers = iter([(200, {"data": "not vectors"})])
    srv = serve(lambda path, body, headers: next(answers, (200, ok(path, body))))
    assert embed_once(srv.url()).shape == (1, 4) and len(srv.requests) == 2


# ---- what a message may carry

SECRET, QSECRET, KEY = "s3cr3t-pw-7f1e", "q-key-90ab3c", "sk-canary-4b1d9e77"


@pytest.mark.parametrize("status", [400, 503])
@pytest.mark.parametrize("user", USERS)
def test_errors_carry_no_credential_and_no_escape_sequence(user, status, serve, monkeypatch, caplog):
    """The server echoes everything it was sent (URL, key, password) in an error body full of escape sequences."""
    monkeypatch.setenv("CLUSTERANK_API_KEY", KEY)
    monkeypatch.setenv("CK_TEST_JUDGE_KEY", KEY)

    def echo(path, body, headers):
        said = f"{ANSI} you sent {path} with {headers.get('Authorization')} " + "padding " * 500
        return status, {"error": {"message": said}}

    srv = serve(echo)
    with caplog.at_level(logging.DEBUG, "clusterank"), pytest.raises(ClusterankError) as exc:
        USERS[user](srv.url(f"alice:{SECRET}@", f"?api_key={QSECRET}"), tries=2)
    message = str(exc.value)
    path, headers, _ = srv.requests[-1]
    assert QSECRET in path and headers["Authorization"]  # the request carried them
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in (message, logged):
        for secret in (SECRET, QSECRET, KEY, "alice", base64.b64encode(f"alice:{SECRET}".encode()).decode()):
            assert secret not in text, (secret, text)
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e]", text.replace("\n", "")), repr(text)
        assert "owned title" not in text
    assert "PWNED" in message and "you sent" in message and "127.0.0.1" in message
    assert len(message) < 700  # a bounded excerpt of the body, not the body


def test_a_huge_error_body_gives_a_short_message(serve):
    srv = serve([(400, b"x" * (5 * 2**20), {"Content-Type": "text/plain"})])
    with pytest.raises(ClusterankError) as exc:
        judge_once(srv.url())
    assert len(str(exc.value)) < 400


# ---- Ctrl-C

@pytest.fixture
def ctrl_c():
    """Ctrl-C as an interactive shell has it (a background job of a non-interactive shell inherits it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield lambda after: threading.Timer(after, os.kill, (os.getpid(), signal.SIGINT))
    signal.signal(signal.SIGINT, previous)


def test_a_first_ctrl_c_is_noted_and_a_second_one_stops(ctrl_c):
    with graceful_interrupt() as interrupted:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert interrupted
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_judge_keeps_the_answer_in_flight_when_interrupted(ctrl_c, serve, tmp_path):
    def slow(path, body, headers):
        time.sleep(0.6)
        return 200, ok(path, body)

    srv = serve(slow)
    judge = LLMJudge(ChatClient(srv.url(), "m"), tmp_path / "j.sqlite")
    timer = ctrl_c(0.2)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            judge.prob_first("job", "first", "second")
    finally:
        timer.join()
    assert judge.cached("job", "first", "second") and judge.stats.calls == 1  # paid for, so kept


@pytest.mark.parametrize("host, local", [("localhost", True), ("api.localhost", True), ("127.0.0.1", True),
                                         ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("LOCALHOST.", True),
                                         ("10.0.0.1", False), ("0.0.0.0", False), ("example.com", False), ("", False)])
def test_is_loopback_is_one_check_for_the_server_and_the_judge(host, local):
    from clusterank.httpclient import is_loopback

    assert is_loopback(host) is local
