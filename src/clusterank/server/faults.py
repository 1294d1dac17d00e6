"""The server's fault mode (`clusterank serve --faults 429:0.2,500:0.1,slow:0.1,truncated:0.05`): makes
`/v1/embeddings` misbehave the way hosted APIs do, so clients can be tested against real failures.

Faults change only what is sent back, never what is stored: the server's own cache stays correct.
"""

from __future__ import annotations

import random
import threading

from clusterank.errors import ClusterankError

KINDS = {
    "429": "answer 429 rate_limit_exceeded with Retry-After",
    "500": "answer 500",
    "503": "answer 503",
    "slow": "wait --fault-slow-s seconds before answering (longer than a client's timeout)",
    "truncated": "send the first half of the JSON body",
    "wrong-dims": "drop the last dimension of one vector",
    "reorder": "send the items of `data` in reverse order (indices stay right)",
    "bad-index": "give two items the same index",
    "nan": "put NaN in one vector",
}
"""Each fault this server can play, and what it does."""


class Faults:
    """Which fault (if any) each request gets: independent draws with the given probabilities, seeded."""

    def __init__(self, spec: str = "", seed: int | None = None, slow_s: float = 3.0):
        self.rates: dict[str, float] = parse_faults(spec)
        self.slow_s = slow_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.rates)

    def draw(self) -> str | None:
        """One fault for this request, or None: kinds are tried in order on one uniform draw."""
        if not self.rates:
            return None
        with self._lock:
            u = self._rng.random()
        for kind, rate in self.rates.items():
            if u < rate:
                return kind
            u -= rate
        return None


def parse_faults(spec: str) -> dict[str, float]:
    """`kind:rate,...` -> {kind: rate}.

    Raises:
        ClusterankError: an unknown kind, a rate outside [0, 1], or rates summing over 1.
    """
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        kind, _, rate = part.partition(":")
        if kind not in KINDS:
            raise ClusterankError(f"--faults: unknown fault {kind!r}; faults: {', '.join(KINDS)}")
        try:
            value = float(rate)
        except ValueError:
            raise ClusterankError(f"--faults: {part!r} needs a rate, e.g. {kind}:0.1") from None
        if not 0 <= value <= 1:
            raise ClusterankError(f"--faults: the rate of {kind} must be in [0, 1], got {value}")
        rates[kind] = value
    if sum(rates.values()) > 1 + 1e-9:
        raise ClusterankError(f"--faults: the rates add up to {sum(rates.values()):.2f}, more than 1")
    return rates
