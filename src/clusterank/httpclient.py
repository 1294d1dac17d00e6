"""The one retrying HTTP client of clusterank, shared by the embedding APIs (`embed/api.py`) and the LLM judge
(`rerank/llm.py`): which statuses are retried, how long to wait (`Retry-After` in seconds or as an HTTP date,
`retry-after-ms`, else exponential backoff with jitter), caps on tries and waiting, and messages without secrets.

A ground-layer module (tests/test_layers.py): it needs only `clusterank.errors`, and both users import it.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from clusterank.errors import ClusterankError, printable, public_url

log = logging.getLogger("clusterank.http")
T = TypeVar("T")

RETRY_STATUS = frozenset({408, 409, 425, 429})
"""4xx statuses worth another try: request timeout, conflict (OpenAI's lock timeout), too early, rate limited."""
FINAL_5XX = frozenset({501, 505})
"""5xx statuses that another try cannot fix (not implemented, HTTP version not supported)."""
ERROR_BODY_CHARS = 200
"""How much of an error body reaches a message (after `printable`)."""


def retryable(status: int) -> bool:
    """True for the statuses worth another try: `RETRY_STATUS` and every 5xx except `FINAL_5XX` (so 500, 502,
    503, 504, 529 and the CDN's 52x are retried); any other status is the caller's error or an answer."""
    return status in RETRY_STATUS or (500 <= status <= 599 and status not in FINAL_5XX)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait (at least 0), or None when it did not say or said nonsense.

    `retry-after-ms` (OpenAI, Azure) wins when it is a number; then `Retry-After` as seconds or as an HTTP date
    (RFC 9110; a date without a zone is GMT). Header names are matched in any case, in any mapping.
    """
    named = {str(key).lower(): value for key, value in headers.items()}
    seconds = _number(named.get("retry-after-ms"))
    if seconds is not None:
        seconds /= 1000
    else:
        value = named.get("retry-after")
        if value is None:
            return None
        seconds = _number(value)
        if seconds is None:
            try:
                when = parsedate_to_datetime(str(value).strip())
                if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT, never this machine's zone
                    when = when.replace(tzinfo=dt.timezone.utc)
                seconds = when.timestamp() - time.time()
            except (ValueError, TypeError, OverflowError, IndexError):
                return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _number(value: object) -> float | None:
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return None


@dataclass
class RetryPolicy:
    """How one request is retried.

    Args:
        tries: attempts in all (at least 1).
        backoff: the first computed wait in seconds; doubles each retry, capped at `max_backoff`, and then
            scaled by a random factor in [0.5, 1) ("equal jitter": clients that failed together spread out).
        max_backoff: the cap on one computed wait.
        max_asked: the cap on one wait the server asked for (`Retry-After`), honoured without jitter.
        total: the cap on all waits of one request together; a retry that would pass it is not made.
    """

    tries: int = 7
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_asked: float = 60.0
    total: float = 300.0

    def delay(self, retry: int, asked: float | None, rng: random.Random | None = None) -> float:
        """The wait before retry number `retry` (1 for the first), given what the server asked (or None)."""
        if asked is not None:
            return min(asked, self.max_asked)
        base = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return base * (0.5 + (rng or random).random() / 2)


class HttpError(ClusterankError):
    """A request that failed for good: `status` refused it (not retried), or every try failed (`gave_up`), or
    it got no answer in time and its caller asked for timeouts not to be retried (`timed_out`).

    The message names the URL without secrets; `detail` (the server's text, or the last failure) is printable,
    bounded and holds no credential. Callers usually reword it for their user (`ApiEmbedder`, `ChatClient`).
    """

    def __init__(self, shown: str, *, status: int | None = None, detail: str = "", tries: int = 0,
                 gave_up: bool = False, timed_out: bool = False) -> None:
        self.shown, self.status, self.detail, self.tries, self.gave_up = shown, status, detail, tries, gave_up
        self.timed_out = timed_out
        super().__init__(f"{shown} failed {tries} times; last: {detail}" if gave_up
                         else f"{shown} answered HTTP {status}: {detail}")


class RetryAnswer(Exception):
    """Raised by a `parse` function for a 200 whose body is unusable but may be fine next time (retried)."""


def secrets_of(url: str, headers: Mapping[str, str] | None = None) -> list[str]:
    """What must never be shown: the URL's user name, password and query, and credential header values."""
    parts = urlsplit(url)
    found = [parts.username, parts.password, parts.query]
    if parts.username or parts.password:  # as sent: Basic base64(user:password)
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        found.append(base64.b64encode(pair).decode())
    for name, value in (headers or {}).items():
        if name.lower() in ("authorization", "x-api-key", "api-key", "proxy-authorization"):
            found.extend([value, value.split(" ", 1)[-1]])
    found += [unquote(s) for s in found if s]
    return sorted({s for s in found if s and len(s) >= 3}, key=len, reverse=True)


def scrub(text: object, secrets: list[str], limit: int = ERROR_BODY_CHARS) -> str:
    """`text` made printable and cut to `limit`, with every secret replaced by `***` (before the cut)."""
    text = str(text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return printable(text, limit)


def error_detail(response, secrets: list[str]) -> str:
    """What an error response says (its JSON `error.message` or `error`, else the start of the body, else the
    reason phrase): only the first 64 KiB are read, and the result is printable, short and without secrets."""
    content = response.content[:65536]
    message = None
    try:
        err = json.loads(content).get("error")
        message = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass
    if not message:
        message = content[:2400].decode("utf-8", "replace") or response.reason_phrase
    return scrub(message, secrets)


def post_json(http, url: str, body: Any, *, parse: Callable[[Any], T], policy: RetryPolicy, label: str,
              headers: Callable[[], dict[str, str]] | None = None, before: Callable[[], None] | None = None,
              answered: Callable[[Any], None] | None = None, logger: logging.Logger = log,
              rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep,
              retry_timeouts: bool = True) -> T:
    """POST `body` as JSON to `url` with `http` (an `httpx.Client`) until `parse` accepts a 200.

    Args:
        parse: turns a 200 response into the result; raises `RetryAnswer(reason)` to try again, or any
            `ClusterankError` to stop.
        policy: the tries and waits (`RetryPolicy`).
        label: who is speaking in the retry log lines (a model's name, "LLM server <url>").
        headers: builds each request's headers (e.g. reads the key from the environment at send time).
        before: called before every attempt (e.g. a rate limiter's `acquire`).
        answered: called with every response received, whatever its status (e.g. to count requests).
        retry_timeouts: False: a request that gets no answer in time is not sent again; `HttpError` with
            `timed_out` (and `gave_up`) is raised at once, for a caller that sends smaller requests instead (the
            embedding client: a server too slow for a batch is as slow the second time).

    Raises:
        HttpError: a status that is not `retryable` (at once), a timeout when `retry_timeouts` is False (at once,
            `timed_out`), or every try failed (`gave_up`).
    """
    import httpx

    shown = printable(public_url(url), 300)
    tries = max(1, int(policy.tries))
    waited, reason = 0.0, ""
    timeout = getattr(http.timeout, "read", None)
    for attempt in range(1, tries + 1):
        if before is not None:
            before()
        sent = headers() if headers is not None else {}
        secrets = secrets_of(url, {**dict(http.headers), **sent})
        asked = None
        try:
            response = http.post(url, json=body, headers=sent)
        except httpx.TimeoutException:
            reason = f"no answer within {timeout:g} s" if timeout else "no answer in time"
            if not retry_timeouts:
                raise HttpError(shown, detail=reason, tries=attempt, gave_up=True, timed_out=True) from None
        except httpx.TransportError as exc:
            reason = f"connection failed ({type(exc).__name__}: {scrub(exc, secrets)})"
        except httpx.RequestError as exc:
            reason = f"request failed ({type(exc).__name__}: {scrub(exc, secrets)})"
        else:
            if answered is not None:
                answered(response)
            status = response.status_code
            if status == 200:
                try:
                    return parse(response)
                except RetryAnswer as exc:
                    reason = scrub(exc, secrets, 300)
            elif retryable(status):
                reason = f"HTTP {status}: {error_detail(response, secrets)}"
                asked = retry_after(response.headers)
            else:
                raise HttpError(shown, status=status, detail=error_detail(response, secrets))
        if attempt == tries:
            break
        wait_s = policy.delay(attempt, asked, rng)
        if waited + wait_s > policy.total:
            logger.info("%s: %s; not retrying: the wait (%.1f s) would pass the %g s limit", label, reason,
                        wait_s, policy.total)
            break
        logger.info("%s: %s; retry %d of %d in %.2f s", label, reason, attempt, tries - 1, wait_s)
        sleep(wait_s)
        waited += wait_s
    raise HttpError(shown, detail=reason, tries=attempt, gave_up=True)


@contextmanager
def graceful_interrupt(logger: logging.Logger = log) -> Iterator[list]:
    """While inside, a first Ctrl-C only appends to the yielded list (the caller finishes the requests already
    sent, keeps their answers, then stops); a second one interrupts at once. Where Ctrl-C is ignored, or off the
    main thread, nothing changes."""
    flag: list = []
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield flag
        return

    def first(_signum, _frame):
        flag.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        logger.warning("interrupted: finishing the requests already sent (Ctrl-C again to stop at once)")

    signal.signal(signal.SIGINT, first)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def is_loopback(host: str) -> bool:
    """True for a host only this machine can reach: `localhost` (and `*.localhost`), 127.0.0.0/8, ::1."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
