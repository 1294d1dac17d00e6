"""An LLM as pairwise judge over the OpenAI-compatible chat API (OpenAI, vLLM, Ollama, llama.cpp's server).

The judge asks which of two profiles fits the job and reads the answer-token log-probabilities of
"A" and "B" when the server returns them (small models are only usable this way), else the text.
Judgments are cached by (model, prompt hash) in SQLite; 429, 5xx and timeouts are retried by the shared
client (`clusterank.httpclient`); calls and tokens are counted. The API key is read from an environment
variable, never stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from clusterank.httpclient import (HttpError, RetryPolicy, error_detail, graceful_interrupt, is_loopback,
                                  post_json, secrets_of)
from clusterank.embed.providers import endpoint, usage_ceiling, usage_tokens
from clusterank.errors import ClusterankError, check_base_url, printable, public_url
from clusterank.rerank.base import RerankStats
from clusterank.rerank.prp import PairJudge

log = logging.getLogger("clusterank.rerank")

PROMPT = """You are screening candidates for a job.

Job description:
{query}

Candidate A:
{a}

Candidate B:
{b}

Which candidate fits the job better? Answer with one letter: A or B."""


COMPLETION_CEILING = 4096
"""The most answer tokens a reply may report: the judge asks for one; a reasoning model may think a few thousand."""


class _LogprobsRefused(Exception):
    """A server's error answer to a request for log-probabilities that names them (sent again without)."""


class ChatClient:
    """A minimal OpenAI-compatible `/chat/completions` client with the shared retries (`clusterank.httpclient`).

    Args:
        base_url: e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8765/v1` (http or https, with a host;
            credentials in it are used for the requests and left out of every message).
        model: the model name the server expects.
        api_key_env: the environment variable holding the API key (unset: no Authorization header).
        timeout: seconds per request.
        max_tries: attempts per request before giving up.
        backoff: first wait in seconds; doubles per retry with jitter, capped at 30 s (`Retry-After` or
            `retry-after-ms` wins, capped at 60 s; see `RetryPolicy`).
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 max_tries: int = 5, backoff: float = 0.5):
        import httpx

        self.base_url, self.model = check_base_url(base_url, "--llm-base-url"), model
        self.remote = not is_loopback(urlsplit(self.base_url).hostname or "")
        """The server is off this machine (an API, which may also bill); False for loopback (the bundled model)."""
        self.url = endpoint(self.base_url, "/chat/completions")
        self.shown_url = printable(public_url(self.url), 300)
        self.max_tries, self.backoff = max_tries, backoff
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(timeout=timeout, headers=headers)
        self.logprobs_refused = False
        """The server refused a request for log-probabilities (e.g. llama.cpp's Python server started without
        `--logits_all true`): later requests ask for text only, and answers are read from it."""

    def complete(self, messages: list[dict], *, max_tokens: int = 1, logprobs: bool = True,
                 top_logprobs: int = 10) -> dict:
        """POST one chat completion and return the JSON reply (retrying 429/5xx/timeouts).

        A server that refuses the log-probabilities (an error status whose message names them) is asked again at
        once without them, and never asked for them again (`logprobs_refused`); the reply then has text only.
        """
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0}
        if logprobs and not self.logprobs_refused:
            body.update({"logprobs": True, "top_logprobs": top_logprobs})
        shown = self.shown_url

        def parse(reply) -> dict:
            try:
                return reply.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ClusterankError(f"LLM server {shown} answered 200 with a body that is not JSON") from None

        def refused(response) -> None:
            status = response.status_code
            if "logprobs" in body and status >= 400 and status != 429 and b"logprob" in response.content[:65536]:
                raise _LogprobsRefused(error_detail(response, secrets_of(self.url, dict(self._http.headers))))

        try:
            return post_json(self._http, self.url, body, parse=parse, label=f"LLM server {shown}", logger=log,
                             policy=RetryPolicy(tries=self.max_tries, backoff=self.backoff), answered=refused)
        except _LogprobsRefused as exc:
            self.logprobs_refused = True
            log.warning("LLM server %s refused log-probabilities (%s); answers are read from their text from now on",
                        shown, printable(str(exc), 200))
            return self.complete(messages, max_tokens=max_tokens, logprobs=False)
        except HttpError as exc:
            if exc.gave_up:
                raise ClusterankError(f"LLM server {shown} failed after {exc.tries} tries ({exc.detail})") from None
            raise ClusterankError(f"LLM server {shown} refused the request (HTTP {exc.status}: {exc.detail})") from None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()


def choice_probability(reply: dict) -> tuple[float, str]:
    """P(answer is "A") from a chat reply, and how it was read ("logprobs" or "text").

    With log-probabilities: softmax over the best-ranked "A" and "B" tokens among the top alternatives of the
    first answer token (0.5 when neither appears). Without: 1.0 for an answer starting with A, 0.0 for B,
    0.5 otherwise.
    """
    choice = (reply.get("choices") or [{}])[0]
    content = ((choice.get("logprobs") or {}).get("content") or [])
    if content:
        best: dict[str, float] = {}
        for alt in content[0].get("top_logprobs") or [{"token": content[0].get("token"),
                                                       "logprob": content[0].get("logprob")}]:
            token = str(alt.get("token") or "").strip().upper()
            if token in ("A", "B") and alt.get("logprob") is not None:
                best[token] = max(best.get(token, -math.inf), float(alt["logprob"]))
        if best:
            la, lb = best.get("A", -math.inf), best.get("B", -math.inf)
            top = max(la, lb)
            ea, eb = math.exp(la - top), math.exp(lb - top)
            return ea / (ea + eb), "logprobs"
        return 0.5, "logprobs"
    text = str((choice.get("message") or {}).get("content") or "").strip().upper()
    return (1.0 if text.startswith("A") else 0.0 if text.startswith("B") else 0.5), "text"


def open_checked_cache(path: str | Path, tables: list[str], what: str, redone: str, *,
                       threads: bool = False) -> sqlite3.Connection:
    """An LLM answer cache in SQLite with its tables created, checked whole (`PRAGMA quick_check`) so a damaged file
    is named now, not mid-run.

    Args:
        path: the cache file. tables: CREATE TABLE IF NOT EXISTS statements. what: its name in the error
            ("judgment cache"). redone: what happens to the pairs if it is deleted ("judged", "graded").
        threads: the connection may be used from other threads (the caller serialises writes).

    Raises:
        ClusterankError: the file is damaged or not a database, naming it and what deleting it costs.
    """
    try:
        db = sqlite3.connect(Path(path), check_same_thread=not threads)
        with db:
            for table in tables:
                db.execute(table)
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise ClusterankError(f"{what} {path} is damaged ({verdict}); delete it and the pairs are {redone} again "
                              "(LLM calls)")
    return db


class LLMJudge(PairJudge):
    """Pairwise judge backed by a chat model; judgments are cached in SQLite by (model, prompt hash).

    `remote` and `paid` when its server is off this machine (an API); neither for a server on loopback (the bundled
    llama.cpp one, or a model the user runs here).

    Args:
        client: the chat client.
        cache_path: the SQLite file of cached judgments.
        max_chars: each profile and the job description are cut to this many characters in the prompt.
    """

    def __init__(self, client: ChatClient, cache_path: str | Path, *, max_chars: int = 700):
        self.client, self.max_chars = client, max_chars
        self.name = client.model
        self.remote = self.paid = client.remote
        self.stats = RerankStats()
        self._db = open_checked_cache(cache_path, ["CREATE TABLE IF NOT EXISTS judgments (model TEXT, prompt BLOB, "
                                                   "p_first REAL, PRIMARY KEY (model, prompt)) WITHOUT ROWID"],
                                      "judgment cache", "judged")
        self.sources: dict[str, int] = {}
        self._said_usage = False

    def prompt(self, query: str, first: str, second: str) -> str:
        """The prompt for one ordered pair."""
        cut = self.max_chars
        return PROMPT.format(query=query[:cut], a=first[:cut], b=second[:cut])

    def _key(self, query: str, first: str, second: str) -> bytes:
        return hashlib.sha256(self.prompt(query, first, second).encode("utf-8")).digest()

    def cached(self, query: str, first: str, second: str) -> bool:
        """True when this ordered comparison is in the cache."""
        return self._lookup(self._key(query, first, second)) is not None

    def _lookup(self, key: bytes) -> float | None:
        row = self._db.execute("SELECT p_first FROM judgments WHERE model = ? AND prompt = ?",
                               (self.name, key)).fetchone()
        return None if row is None else float(row[0])

    def _count_usage(self, usage, prompt: str) -> None:
        """Add a reply's token counts to the stats once they are believable (`usage_tokens`: whole numbers from 0
        to one per byte of the prompt, and for the answer one per byte of a generous answer); else count nothing
        for this reply and warn once."""
        usage = usage if isinstance(usage, dict) else {}
        checks = (("prompt_tokens", usage_ceiling([prompt])), ("completion_tokens", COMPLETION_CEILING))
        for field, ceiling in checks:
            tokens, problem = usage_tokens(usage.get(field), ceiling)
            if problem is not None:
                if not self._said_usage:
                    self._said_usage = True
                    log.warning("LLM server %s: ignoring the token count it reported (usage.%s: %s)",
                                self.client.shown_url, field, problem)
                continue
            if field == "prompt_tokens":
                self.stats.prompt_tokens += tokens or 0
            else:
                self.stats.completion_tokens += tokens or 0

    def prob_first(self, query: str, first: str, second: str) -> float:
        """P(first is the better fit), from the cache or one model call."""
        key = self._key(query, first, second)
        hit = self._lookup(key)
        if hit is not None:
            self.stats.cached += 1
            return hit
        prompt = self.prompt(query, first, second)
        with graceful_interrupt(log) as interrupted:  # a first Ctrl-C: the answer in flight is paid for, keep it
            p = self._judge(key, prompt)
        if interrupted:
            raise KeyboardInterrupt
        return p

    def _judge(self, key: bytes, prompt: str) -> float:
        reply = self.client.complete([{"role": "user", "content": prompt}])
        if not isinstance(reply, dict):
            raise ClusterankError(f"LLM server {self.client.shown_url} answered with JSON that is not an object")
        self.stats.calls += 1
        self._count_usage(reply.get("usage"), prompt)
        p, source = choice_probability(reply)
        self.sources[source] = self.sources.get(source, 0) + 1
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO judgments VALUES (?, ?, ?)", (self.name, key, p))
        return p
