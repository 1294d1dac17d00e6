"""How the API client cuts texts into requests: the spec options (`api:<model>@<url>,batch=64,timeout=120`), the
per-input token limit, and the batch size and requests in flight learned from the first answers.

A server's speed is not known in advance: a hosted API answers 2,048 inputs in seconds, a CPU server on loopback
needs minutes for them. So, unless `batch` is given, requests start with `START_BATCH` inputs and double while
answers come back within a quarter of the timeout (`Pacer`). A request that times out is not sent again: its
inputs go back to the front of the queue and every following request holds at most half as many (`Pacer.timed_out`);
only one input that times out on its own ends the job. An answer that takes half the timeout leaves one request in
flight instead of several, so a slow server is never handed work it cannot finish.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Sequence
from typing import Any

from clusterank.data.bounds import Bound
from clusterank.embed.base import EmbedderBackend
from clusterank.embed.providers import Provider, asymmetric_mode, public_name, split_options
from clusterank.embed.truncation import warn_truncated
from clusterank.errors import ClusterankError
from clusterank.registry import Param, Spec, boolean, number, typed_params, whole

log = logging.getLogger("clusterank.api")

CHARS_PER_TOKEN = 3.0
"""For packing requests under a token limit without a tokenizer: English BPE averages ~4 chars a token."""
START_BATCH = 32
"""Inputs in the first requests when `batch` is not given (fewer when the provider takes fewer)."""
GROW_SHARE = 0.25
"""An answer within this share of the timeout lets the next requests hold twice as many inputs."""
SLOW_SHARE = 0.5
"""An answer taking this share of the timeout leaves one request in flight from then on."""
SHRINK_SHARE = 0.75
"""An answer taking this share of the timeout halves the inputs of the following requests (before any times out)."""


def estimate_tokens(text: str) -> int:
    """A conservative token count for packing requests (over-estimates English text by about a third)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


def auto_or_whole(text: str) -> int | None:
    """`auto` (None: learned from the first answers) or a whole number (its range is the parameter's `bound`)."""
    return None if text.strip().lower() == "auto" else whole(text)


def option_params(provider: Provider) -> dict[str, Param]:
    """The options an API model name takes after its base URL, with their ranges (`provider`'s limits)."""
    inputs = Bound(1, provider.max_inputs, f"{provider.prefix}: takes at most {provider.max_inputs:,} inputs a request")
    tokens = Bound(1, provider.max_tokens, f"{provider.prefix}: takes at most {provider.max_tokens:,} tokens a request")
    params = {
        "batch": Param(auto_or_whole, None, f"most inputs per request, or auto: start at {START_BATCH} and grow "
                       "while answers come back quickly", inputs),
        "batch_tokens": Param(whole, provider.max_tokens, "most tokens per request (estimated from characters)",
                              tokens),
        "timeout": Param(number, 60.0, "seconds one request may take", Bound(0.1, 3600, whole=False)),
        "concurrency": Param(whole, 4, "most requests in flight (one when the server is slow)", Bound(1, 64)),
        "max_tokens": Param(whole, None, "the model's token limit per input: longer inputs are cut to it "
                            "(truncate=false: refused)", Bound(1, 1_000_000)),
        "truncate": Param(boolean, None, "cut inputs over max_tokens (true) or refuse them (false)"),
        "retries": Param(whole, 6, "further tries of a request after a 429, 5xx, bad answer or lost connection",
                         Bound(0, 20)),
    }
    if provider.asymmetric_option:
        params["asymmetric"] = Param(asymmetric_mode, "auto", "how requests say query or passage: input_type, task "
                                     "(Jina), suffix (model-query), none; auto: input_type for E5 models, task for "
                                     "jina-embeddings-v3/v4, else none")
    return params


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def parse_options(prefix: str, provider: Provider, argument: str) -> tuple[str, dict[str, Any], set[str]]:
    """Split the options off a model name's argument (`m@http://h/v1,batch=64` -> `m@http://h/v1`) and read them
    as the spec grammar does (`clusterank.registry.typed_params`): types, ranges and unknown names.

    A trailing `key=value` whose key is no option is refused as an unknown option, unless the base URL has a
    query string it may belong to (`?a=1,b=2`).

    Returns:
        (the argument without options, every option's value with defaults filled in, the options given).

    Raises:
        ClusterankError: an unknown option or a value its type or range refuses, naming the option and the model
            (without the base URL's credentials).
    """
    base, given = split_options(argument)
    pieces = base.split(",")
    if len(pieces) > 1 and "?" not in ",".join(pieces[:-1]):
        key, eq, value = pieces[-1].partition("=")
        if eq and _KEY.fullmatch(key.strip()):
            base, given = ",".join(pieces[:-1]), [(key.strip().lower(), value.strip()), *given]
    record = EmbedderBackend(prefix, "options of an API model", lambda *_: None, option_params(provider))
    shown = public_name(f"{prefix}:{base}")[len(prefix) + 1:]
    values = typed_params(record, Spec(f"{prefix}:", tuple(given), shown))
    return base, values, {key for key, _ in given}


def limit_tokens(name: str, texts: Sequence[str], max_tokens: int, truncate: bool) -> Sequence[str]:
    """`texts` with every text estimated over `max_tokens` tokens cut to the limit (counted into the enclosing
    `truncation_summary`, as local models' truncations are), or refused when `truncate` is False.

    Raises:
        ClusterankError: some text is over the limit and `truncate` is False, before any request is sent.
    """
    counts = [estimate_tokens(t) for t in texts]
    over = [i for i, c in enumerate(counts) if c > max_tokens]
    if not over:
        warn_truncated(name, counts, max_tokens)
        return texts
    if not truncate:
        raise ClusterankError(f"model {name!r}: {len(over):,} of {len(texts):,} texts are longer than its "
                              f"{max_tokens:,}-token limit (max_tokens; the longest is about {max(counts):,} tokens, "
                              f"estimated at {CHARS_PER_TOKEN:g} characters a token); shorten them, raise "
                              "max_tokens, or leave out truncate=false to cut them to the limit")
    warn_truncated(name, counts, max_tokens)
    keep = int((max_tokens - 1) * CHARS_PER_TOKEN)
    cut = list(texts)
    for i in over:
        cut[i] = cut[i][:keep]
    return cut


class RequestQueue:
    """The positions still to send, in order; each request takes the next ones, up to a number of inputs and
    `max_tokens` estimated tokens (one longer text goes alone). Inputs of a request that timed out go back to the
    front (`put_back`)."""

    def __init__(self, tokens: Sequence[int], max_tokens: int):
        self.tokens, self.max_tokens = list(tokens), max_tokens
        self._todo: deque[int] = deque(range(len(self.tokens)))

    def take(self, size: int) -> list[int] | None:
        """The next request's positions (at most `size`), or None when none are left."""
        group: list[int] = []
        used = 0
        while self._todo and len(group) < size:
            cost = self.tokens[self._todo[0]]
            if group and used + cost > self.max_tokens:
                break
            group.append(self._todo.popleft())
            used += cost
        return group or None

    def put_back(self, group: list[int]) -> None:
        """Send these positions next (a request that timed out, to be sent again in smaller pieces)."""
        self._todo.extendleft(reversed(group))



class Pacer:
    """The inputs per request (`size`) and requests in flight (`lanes`) for one model, learned from its answers.

    Args:
        batch: the user's `batch` (the first and largest size), or None to start at `START_BATCH` and grow.
        most: the provider's inputs per request.
        timeout: seconds per request.
        lanes: the user's `concurrency`.
        name: the model, for the log.
    """

    def __init__(self, *, batch: int | None, most: int, timeout: float, lanes: int, name: str = ""):
        self.most = max(1, min(most, batch or most))
        self.size = min(self.most, batch or START_BATCH)
        self.first = self.size
        self.timeout, self.lanes, self.name = timeout, max(1, lanes), name
        self.timeouts = 0

    def answered(self, inputs: int, seconds: float) -> None:
        """A request of `inputs` answered after `seconds`: fewer lanes or inputs when slow, more inputs when fast."""
        share = seconds / self.timeout
        if share >= SLOW_SHARE and self.lanes > 1:
            log.info("%s: an answer took %.1f s of the %g s timeout; one request in flight from now on", self.name,
                     seconds, self.timeout)
            self.lanes = 1
        if share >= SHRINK_SHARE and inputs > 1:
            self._shrink(inputs)
        elif share < GROW_SHARE and inputs >= self.size and self.size < self.most:
            self.size = min(self.most, self.size * 2)
            log.debug("%s: %d inputs answered in %.2f s; requests now hold up to %d", self.name, inputs, seconds,
                      self.size)

    def timed_out(self, inputs: int) -> None:
        """A request of `inputs` got no answer in time: one lane, and at most half its inputs in every request
        from now on (never growing back to a size that timed out)."""
        self.timeouts += 1
        self.lanes = 1
        self._shrink(inputs)
        log.warning("%s: no answer within %g s to %d inputs; sending them again in requests of at most %d, one at "
                    "a time", self.name, self.timeout, inputs, self.size)

    def _shrink(self, inputs: int) -> None:
        half = max(1, inputs // 2)
        self.size, self.most = min(self.size, half), min(self.most, half)
