"""An embedding client for HTTP APIs: batches by the provider's limits and by what the server's first answers
show it can do in time (`clusterank.embed.batching`), runs requests concurrently under its rate limits, retries
429/5xx/bad responses with backoff and `Retry-After`, sends a request that timed out again in smaller pieces, and
yields each finished batch so the store commits it at once (an interrupted job resumes; nothing is paid for twice).
The retries, waits and error messages are `clusterank.httpclient`'s, shared with the LLM judge.

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
from clusterank.embed.batching import Pacer, RequestQueue, estimate_tokens, limit_tokens, parse_options
from clusterank.embed.providers import (PROVIDERS, BadResponse, Provider, SchemaError, endpoint, public_name,
                                        request_body, split_api_name, usage_ceiling, usage_tokens, with_sides)
from clusterank.httpclient import HttpError, RetryAnswer, RetryPolicy, graceful_interrupt, post_json
from clusterank.httpclient import retry_after  # noqa: F401  (kept importable from here)
from clusterank.errors import ClusterankError, printable, public_url, require, url_has_secrets

log = logging.getLogger("clusterank.api")


class TimedOut(Exception):
    """A request that got no answer within the timeout (not sent again as it was: see `Pacer.timed_out`)."""

    def __init__(self, detail: str, tries: int):
        super().__init__(detail)
        self.detail, self.tries = detail, tries


_SHARED_COUNTER = None


def share_rate_limits(counter) -> None:
    """Count every `RateLimiter` made from now on in this process in `counter` as well, an object with
    `take(key, tokens, rpm, tpm, window) -> seconds to wait (0.0: counted)` shared by several processes (the
    server's `SharedRateCounter` over PostgreSQL), so limits hold across replicas; None stops sharing."""
    global _SHARED_COUNTER
    _SHARED_COUNTER = counter


class RateLimiter:
    """Requests and tokens per minute over a sliding 60-second window, shared by the client's threads; with a
    shared counter (`share_rate_limits`), a fixed window counted by every process sharing it, under `key`."""

    def __init__(self, rpm: float | None, tpm: float | None, window: float = 60.0, *, key: str = "",
                 shared=None):
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self.key, self.shared = key, shared if shared is not None else _SHARED_COUNTER
        self._sent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> None:
        """Block until one request of `tokens` tokens fits under both limits, then count it. When the shared
        counter cannot be reached, this process' own window counts (with a warning) until it can again."""
        while self.shared is not None and (self.rpm is not None or self.tpm is not None):
            try:
                pause = self.shared.take(self.key, tokens, self.rpm, self.tpm, self.window)
            except Exception as exc:  # the database away: limits are held per process meanwhile
                log.warning("shared rate limit of %s unavailable (%s); counting in this process", self.key,
                            printable(exc, 200))
                break
            if pause <= 0:
                return
            time.sleep(min(pause, 1.0))
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
        input_type: what this side embeds for asymmetric APIs (documents by default; see `for_queries`): one of
            the provider's `input_types`, sent where its `side_field` says (`input_type`, `task`, the model id).
        max_tokens: the model's token limit per input (the catalog's, or the `max_tokens` option).
        truncate: None: texts are sent whole (the server applies its own limit); True: texts estimated over
            `max_tokens` are cut to it, with the usual truncation warning; False: such texts are refused.
        rpm, tpm: rate limits (None: unlimited), e.g. from the dated price table.
        concurrency: requests in flight at most; one once the server answers slowly (see `Pacer`).
        timeout: seconds per request; a request that times out is sent again split in two, never as it was.
        max_retries: further tries per request after a 429, 5xx, bad answer or lost connection; then one error
            naming the last failure.
        backoff: the first retry's wait in seconds, doubling each time (with jitter, capped at 30 s); the
            statuses retried and the waits are `clusterank.httpclient`'s (`retryable`, `RetryPolicy`).
        batch: inputs per request at most; None: start small and grow while answers come back quickly.
        batch_tokens: estimated tokens per request at most (None: the provider's limit).
    """

    remote = True
    """Sends its own concurrent, rate-limited requests: nothing for Ray to spread."""
    paid = True
    """Calls cost money: callers time it on small samples, once."""

    @property
    def asymmetric(self) -> bool:
        """True where the provider embeds queries apart from documents (`input_type`, or `api:`'s `asymmetric`
        option; see `for_queries`)."""
        return bool(self.provider.input_types)

    def __init__(self, name: str, provider: Provider, model: str, base_url: str, *, dims: int | None = None,
                 max_tokens: int = 8191, input_type: str | None = None, rpm: float | None = None,
                 tpm: float | None = None, concurrency: int = 4, timeout: float = 60.0, max_retries: int = 6,
                 backoff: float = 0.5, batch: int | None = None, batch_tokens: int | None = None,
                 truncate: bool | None = None):
        self.name, self.provider, self.model, self.base_url = public_name(name), provider, model, base_url
        self.url = endpoint(base_url, provider.shape.path)
        """Where requests go, credentials included: never shown (`shown_url` is)."""
        self.shown_url = printable(public_url(self.url), 300)
        self.max_tokens, self.concurrency, self.timeout = max_tokens, max(1, concurrency), timeout
        self.max_retries, self.backoff = max_retries, backoff
        self.batch, self.batch_tokens, self.truncate = batch, batch_tokens, truncate
        self._pacer: Pacer | None = None
        self.input_type = input_type or (provider.input_types[0] if provider.input_types else None)
        self.limiter = RateLimiter(rpm, tpm, key=self.name)
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
        self.pacer()  # learned once for both sides
        twin = copy.copy(self)  # shares the HTTP client, the rate limiter and the pacer: one provider account
        twin.name, twin.input_type = f"{self.name}#query", self.provider.input_types[1]
        twin.billed_tokens = twin.requests = twin.unusable_usage = 0
        return twin

    @property
    def dims(self) -> int:
        """The vector size: the catalog's, or what one probe request returns."""
        if self._dims is None:
            try:
                self._dims = int(self._post(["dimension probe"])[0].shape[1])
            except TimedOut as exc:
                raise self._too_slow(exc) from None
        return self._dims

    def pacer(self) -> Pacer:
        """The inputs per request and requests in flight learned so far (made at the first request, from the
        options as they are then)."""
        if self._pacer is None:
            self._pacer = Pacer(batch=self.batch, most=self.provider.max_inputs, timeout=self.timeout,
                                lanes=self.concurrency, name=self.name)
        return self._pacer

    def _too_slow(self, exc: TimedOut) -> ClusterankError:
        pacer = self.pacer()
        went = (f"; the batch went from {pacer.first} inputs down to 1 after {pacer.timeouts} timeouts"
                if pacer.timeouts else "")
        return ClusterankError(f"model {self.name!r}: {self.shown_url} failed {exc.tries} times; last: "
                               f"{exc.detail} for a request of 1 input{went}; a server this slow needs a longer "
                               f"timeout: add e.g. ,timeout={max(300, int(self.timeout * 5))} to the model name")

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

    def _post(self, texts: list[str]) -> tuple[np.ndarray, int | None, float]:
        """One request with retries: (vectors in order, billed tokens or None, seconds the answer took).

        Raises:
            TimedOut: no answer within the timeout (the caller splits the request).
        """
        body = request_body(self.provider, self.model, texts, self.input_type)
        tokens = sum(estimate_tokens(t) for t in texts)

        def parse(response) -> tuple[np.ndarray, int | None]:
            try:
                vectors, usage = self.provider.shape.parse(response.content, len(texts), self._dims)
            except SchemaError as exc:  # the same request would get the same answer: not retried
                raise ClusterankError(f"model {self.name!r}: {self.shown_url} answered in a shape clusterank cannot "
                                      f"use: {printable(exc, 300)}") from None
            except BadResponse as exc:
                raise RetryAnswer(f"bad response: {printable(exc, 200)}") from None
            return vectors, self._usage(usage, texts), response.elapsed.total_seconds()

        def answered(_response) -> None:
            self.requests += 1

        policy = RetryPolicy(tries=self.max_retries + 1, backoff=self.backoff)
        try:
            return post_json(self._http(), self.url, body, parse=parse, policy=policy, label=self.name,
                             headers=self._headers, before=lambda: self.limiter.acquire(tokens), answered=answered,
                             logger=log, rng=self._rng, retry_timeouts=False)
        except HttpError as exc:
            if exc.timed_out:
                raise TimedOut(exc.detail, exc.tries) from None
            if exc.gave_up:
                raise ClusterankError(f"model {self.name!r}: {self.shown_url} failed {exc.tries} times; "
                                      f"last: {exc.detail}") from None
            hint = f" (check the key in ${self.provider.key_env})" if exc.status in (401, 403) else ""
            if exc.status in (400, 422) and self.provider.asymmetric_option and self.input_type:
                hint = (f" (requests say their side by {self.provider.side_field} {self.input_type!r}; a server "
                        "that refuses it needs ,asymmetric=none)")
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
        (requests are sized by the provider's limits and the server's speed, not by `chunk_size`; see `Pacer`).

        A request that times out is not sent again as it was: its texts go back to the front of the queue and
        are sent in requests of at most half as many; one text that times out alone ends the job with one error.
        Ctrl-C is taken gracefully: no new request is sent, the requests in flight (already paid for) are
        awaited and yielded for the store to keep, then KeyboardInterrupt is raised; a second Ctrl-C stops at
        once. On an error, requests not yet sent are cancelled and those in flight are awaited.
        """
        if self.truncate is not None:
            texts = limit_tokens(self.name, texts, self.max_tokens, self.truncate)
        if not texts:
            return
        queue = RequestQueue([estimate_tokens(t) for t in texts], self.batch_tokens or self.provider.max_tokens)
        _ = self.dims  # learn the size once, before the threads start
        pacer = self.pacer()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="clusterank-api")
        pending: dict[Future, list[int]] = {}
        with graceful_interrupt(log) as interrupted:
            try:
                while True:
                    while len(pending) < pacer.lanes and not interrupted:
                        group = queue.take(pacer.size)
                        if group is None:
                            break
                        pending[pool.submit(self._post, [texts[i] for i in group])] = group
                    if not pending:
                        break
                    done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        group = pending.pop(future)
                        try:
                            result = future.result()
                        except TimedOut as exc:
                            if len(group) == 1:
                                raise self._too_slow(exc) from None
                            pacer.timed_out(len(group))
                            queue.put_back(group)
                            continue
                        pacer.answered(len(group), result[2])
                        yield self._finished(result, group)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            if interrupted:
                raise KeyboardInterrupt

    def _finished(self, result: tuple[np.ndarray, int | None, float], group: list[int]) -> Batch:
        vectors, tokens, _seconds = result
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
        from clusterank.embed.providers import PROVIDERS

        argument, options, given = parse_options(prefix, PROVIDERS[prefix], argument)
        provider, model, url = split_api_name(prefix, argument)
        if "asymmetric" in options:
            provider = with_sides(provider, options["asymmetric"], model)
        name = public_name(f"{prefix}:{argument}")
        if url_has_secrets(url):
            log.warning("model %r: the base URL carries a user name, password or query string; it is sent with "
                        "each request but left out of the stored name and of every message (a key is better in "
                        "$%s)", name, provider.key_env)
        short = model.split("/")[-1]
        info = CATALOG.get(short) if prefix != "api" else None
        limits = default_prices().api.get(short) if prefix != "api" else None
        truncate = options["truncate"]
        if truncate is None and "max_tokens" in given:
            truncate = True
        return ApiEmbedder(name, provider, model, url, dims=info.dims if info else None,
                           max_tokens=options["max_tokens"] or (info.max_tokens if info else 8191),
                           rpm=limits.rpm if limits else None, tpm=limits.tpm if limits else None,
                           concurrency=options["concurrency"], timeout=options["timeout"],
                           max_retries=options["retries"], batch=options["batch"],
                           batch_tokens=options["batch_tokens"], truncate=truncate)
    return build


OPTIONS_USAGE = "[,batch=auto,timeout=60,concurrency=4,max_tokens=N,...]"
"""The options an API model name takes, as help texts show them (all of them: `batching.option_params`)."""


def api_backend(prefix: str, summary: str) -> EmbedderBackend:
    """The registry entry of one provider prefix (`openai:` ...). Its options (`batch`, `timeout` ...) are read
    by its build from the end of the argument (`batching.parse_options`), so that they never reach the name its
    vectors are stored under."""
    argument = "<model>" + OPTIONS_USAGE
    if prefix == "api":
        argument = "<model>@<base_url>" + OPTIONS_USAGE
    if PROVIDERS[prefix].asymmetric_option:
        argument = argument.replace(",...]", ",asymmetric=auto,...]")
    return EmbedderBackend(f"{prefix}:", summary, _build(prefix), argument=argument,
                           needs=("httpx",), extra="api", catalog_argument=True)
