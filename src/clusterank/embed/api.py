"""An embedding client for HTTP APIs: batches by the provider's limits, runs requests concurrently under
its rate limits, retries 429/5xx/timeouts/bad responses with backoff and `Retry-After`, and yields each
finished batch so the store commits it at once (an interrupted job resumes; nothing is paid for twice). The
retries, waits and error messages are `clusterank.httpclient`'s, shared with the LLM judge.

The key is read from an environment variable when a request is built, and never logged or stored.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np

from clusterank.embed.base import Batch, Embedder, EmbedderBackend
from clusterank.embed.providers import (BadResponse, Provider, SchemaError, endpoint, public_name, split_api_name,
                                        usage_ceiling, usage_tokens)
from clusterank.httpclient import HttpError, RetryAnswer, RetryPolicy, graceful_interrupt, post_json
from clusterank.httpclient import retry_after  # noqa: F401  (kept importable from here)
from clusterank.errors import ClusterankError, printable, public_url, require, url_has_secrets

log = logging.getLogger("clusterank.api")
CHARS_PER_TOKEN = 3.0
"""For packing requests under a token limit without a tokenizer: English BPE averages ~4 chars a token."""


def estimate_tokens(text: str) -> int:
    """A conservative token count for packing requests (over-estimates English text by about a third)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


def plan_requests(texts: Sequence[str], max_inputs: int, max_tokens: int) -> list[list[int]]:
    """Positions of `texts` grouped into requests of at most `max_inputs` texts and ~`max_tokens` tokens."""
    groups: list[list[int]] = []
    current: list[int] = []
    tokens = 0
    for i, text in enumerate(texts):
        t = estimate_tokens(text)
        if current and (len(current) >= max_inputs or tokens + t > max_tokens):
            groups.append(current)
            current, tokens = [], 0
        current.append(i)
        tokens += t
    if current:
        groups.append(current)
    return groups


class RateLimiter:
    """Requests and tokens per minute over a sliding 60-second window, shared by the client's threads."""

    def __init__(self, rpm: float | None, tpm: float | None, window: float = 60.0):
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self._sent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> None:
        """Block until one request of `tokens` tokens fits under both limits, then count it."""
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0][0] >= self.window:
                    self._sent.popleft()
                used = sum(t for _, t in self._sent)
                fits = ((self.rpm is None or len(self._sent) < self.rpm)
                        and (self.tpm is None or not self._sent or used + tokens <= self.tpm))
                if fits:
                    self._sent.append((now, tokens))
                    return
                pause = self.window - (now - self._sent[0][0])
            time.sleep(min(max(pause, 0.01), 1.0))


class ApiEmbedder(Embedder):
    """Embeds through an HTTP API (see `clusterank.embed.providers`).

    Args:
        name: the store key and display name (`openai:text-embedding-3-small`, `api:<model>@<url>`); a user name,
            password or query string in it is left out (`public_name`): it is stored and printed.
        provider: the API's shape, key variable and limits.
        model: the model id sent to the API.
        base_url: the API root; credentials in it (`http://user:pw@host/v1`, `?api_key=`) are used for the
            requests, and left out of every message.
        dims: the vector size when known (the catalog's); otherwise learned from a one-text probe.
        input_type: what this side embeds for asymmetric APIs (documents by default; see `for_queries`).
        rpm, tpm: rate limits (None: unlimited), e.g. from the dated price table.
        concurrency: requests in flight at once.
        timeout: seconds per request before it counts as failed and is retried.
        max_retries: further tries per request; then one error naming the last failure.
        backoff: the first retry's wait in seconds, doubling each time (with jitter, capped at 30 s); the
            statuses retried and the waits are `clusterank.httpclient`'s (`retryable`, `RetryPolicy`).
    """

    remote = True
    """Sends its own concurrent, rate-limited requests: nothing for Ray to spread."""
    paid = True
    """Calls cost money: callers time it on small samples, once."""

    @property
    def asymmetric(self) -> bool:
        """True where the provider embeds queries apart from documents (`input_type`; see `for_queries`)."""
        return bool(self.provider.input_types)

    def __init__(self, name: str, provider: Provider, model: str, base_url: str, *, dims: int | None = None,
                 max_tokens: int = 8191, input_type: str | None = None, rpm: float | None = None,
                 tpm: float | None = None, concurrency: int = 4, timeout: float = 60.0, max_retries: int = 6,
                 backoff: float = 0.5):
        self.name, self.provider, self.model, self.base_url = public_name(name), provider, model, base_url
        self.url = endpoint(base_url, provider.shape.path)
        """Where requests go, credentials included: never shown (`shown_url` is)."""
        self.shown_url = printable(public_url(self.url), 300)
        self.max_tokens, self.concurrency, self.timeout = max_tokens, max(1, concurrency), timeout
        self.max_retries, self.backoff = max_retries, backoff
        self.input_type = input_type or (provider.input_types[0] if provider.input_types else None)
        self.limiter = RateLimiter(rpm, tpm)
        self.billed_tokens = 0
        self.requests = 0
        self.unusable_usage = 0
        """Responses whose token count was not believable (see `usage_tokens`): no usage recorded for them."""
        self._usage_lock = threading.Lock()
        self._dims = dims
        self._client = None
        self._rng = random.Random()

    def for_queries(self) -> "ApiEmbedder":
        """The same model embedding job descriptions: the query input type, filed under `<name>#query`."""
        if not self.provider.input_types:
            return self
        twin = copy.copy(self)  # shares the HTTP client and the rate limiter: one provider account
        twin.name, twin.input_type = f"{self.name}#query", self.provider.input_types[1]
        twin.billed_tokens = twin.requests = twin.unusable_usage = 0
        return twin

    @property
    def dims(self) -> int:
        """The vector size: the catalog's, or what one probe request returns."""
        if self._dims is None:
            self._dims = int(self._post(["dimension probe"])[0].shape[1])
        return self._dims

    def _http(self):
        if self._client is None:
            httpx = require("httpx", "api", f"model {self.name!r}")
            self._client = httpx.Client(timeout=self.timeout,
                                        limits=httpx.Limits(max_connections=self.concurrency + 1))
        return self._client

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.provider.key_env)
        if not key:
            if self.provider.key_required:
                raise ClusterankError(f"model {self.name!r} needs an API key in the environment variable "
                                      f"{self.provider.key_env}")
            return {}
        return {"Authorization": f"Bearer {key}"}

    def _post(self, texts: list[str]) -> tuple[np.ndarray, int | None]:
        """One request with retries: (vectors in order, billed tokens or None)."""
        body = self.provider.shape.request(self.model, texts, self.input_type)
        tokens = sum(estimate_tokens(t) for t in texts)

        def parse(response) -> tuple[np.ndarray, int | None]:
            try:
                vectors, usage = self.provider.shape.parse(response.content, len(texts), self._dims)
            except SchemaError as exc:  # the same request would get the same answer: not retried
                raise ClusterankError(f"model {self.name!r}: {self.shown_url} answered in a shape clusterank cannot "
                                      f"use: {printable(exc, 300)}") from None
            except BadResponse as exc:
                raise RetryAnswer(f"bad response: {printable(exc, 200)}") from None
            return vectors, self._usage(usage, texts)

        def answered(_response) -> None:
            self.requests += 1

        policy = RetryPolicy(tries=self.max_retries + 1, backoff=self.backoff)
        try:
            return post_json(self._http(), self.url, body, parse=parse, policy=policy, label=self.name,
                             headers=self._headers, before=lambda: self.limiter.acquire(tokens), answered=answered,
                             logger=log, rng=self._rng)
        except HttpError as exc:
            if exc.gave_up:
                raise ClusterankError(f"model {self.name!r}: {self.shown_url} failed {exc.tries} times; "
                                      f"last: {exc.detail}") from None
            hint = f" (check the key in ${self.provider.key_env})" if exc.status in (401, 403) else ""
            raise ClusterankError(f"model {self.name!r}: {self.shown_url} answered HTTP {exc.status}: "
                                  f"{exc.detail}{hint}") from None

    def _usage(self, value, texts: list[str]) -> int | None:
        """The provider's token count for one response once it is believable (`usage_tokens`), else None: the
        request's usage is then not recorded (never a made-up bill), with one warning per model."""
        tokens, problem = usage_tokens(value, usage_ceiling(texts))
        if problem is not None:
            with self._usage_lock:
                self.unusable_usage += 1
                first = self.unusable_usage == 1
            if first:
                log.warning("%s: ignoring the token count the provider reported (%s: %s); usage of such responses "
                            "is not recorded", self.name, self.provider.shape.usage_field, problem)
        return tokens

    def embed_batches(self, texts: Sequence[str], chunk_size: int = 512) -> Iterator[Batch]:
        """Embed `texts` with up to `concurrency` requests in flight, yielding each batch as it finishes
        (requests are sized by the provider's limits, not by `chunk_size`).

        Ctrl-C is taken gracefully: no new request is sent, the requests in flight (already paid for) are
        awaited and yielded for the store to keep, then KeyboardInterrupt is raised; a second Ctrl-C stops at
        once. On an error, requests not yet sent are cancelled and those in flight are awaited.
        """
        groups = plan_requests(texts, self.provider.max_inputs, self.provider.max_tokens)
        if not groups:
            return
        _ = self.dims  # learn the size once, before the threads start
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="clusterank-api")
        pending: dict[Future, list[int]] = {}
        queue = iter(groups)
        with graceful_interrupt(log) as interrupted:
            try:
                while True:
                    while len(pending) < self.concurrency and not interrupted:
                        group = next(queue, None)
                        if group is None:
                            break
                        pending[pool.submit(self._post, [texts[i] for i in group])] = group
                    if not pending:
                        break
                    done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield self._finished(future.result(), pending.pop(future))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            if interrupted:
                raise KeyboardInterrupt

    def _finished(self, result: tuple[np.ndarray, int | None], group: list[int]) -> Batch:
        vectors, tokens = result
        if tokens is not None:
            self.billed_tokens += tokens
        return Batch(group, vectors, tokens)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (float32, in order) through the API."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for batch in self.embed_batches(texts):
            out[batch.positions] = batch.vectors
        return out


def _build(prefix: str):
    def build(argument: str, _context) -> ApiEmbedder:
        from clusterank.prices import default_prices
        from clusterank.embed.catalog import CATALOG

        provider, model, url = split_api_name(prefix, argument)
        name = public_name(f"{prefix}:{argument}")
        if url_has_secrets(url):
            log.warning("model %r: the base URL carries a user name, password or query string; it is sent with "
                        "each request but left out of the stored name and of every message (a key is better in "
                        "$%s)", name, provider.key_env)
        short = model.split("/")[-1]
        info = CATALOG.get(short) if prefix != "api" else None
        limits = default_prices().api.get(short) if prefix != "api" else None
        return ApiEmbedder(name, provider, model, url, dims=info.dims if info else None,
                           max_tokens=info.max_tokens if info else 8191, rpm=limits.rpm if limits else None,
                           tpm=limits.tpm if limits else None)
    return build


def api_backend(prefix: str, summary: str) -> EmbedderBackend:
    """The registry entry of one provider prefix (`openai:` ...)."""
    return EmbedderBackend(f"{prefix}:", summary, _build(prefix), argument="<model>@<base_url>" if prefix == "api"
                           else "<model>", needs=("httpx",), extra="api", catalog_argument=True)
