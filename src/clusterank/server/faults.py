"""The server's fault mode (`clusterank serve --faults 429:0.2,500:0.1,slow:0.1,truncated:0.05`): makes
`/v1/embeddings` misbehave the way hosted APIs do, so clients can be tested against real failures.

`FaultMiddleware` plays them around the route, which knows nothing of them: a request is answered as usual, and
only then is a fault drawn and its answer changed. Faults change only what is sent back, never what is stored:
the server's own cache stays correct.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import threading

from clusterank import ClusterankError
from clusterank.server.errors import error_bytes

FAULT_PATH = "/v1/embeddings"

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


class FaultMiddleware:
    """ASGI middleware playing `faults` on successful answers of `/v1/embeddings` (see the module docstring).

    Args:
        app: the ASGI app.
        faults: the seeded draws (`Faults`); with no rates every request passes untouched.
    """

    def __init__(self, app, faults: Faults):
        self.app, self.faults = app, faults

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != FAULT_PATH or not self.faults:
            return await self.app(scope, receive, send)
        start: dict = {}
        chunks: list[bytes] = []

        async def keep(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        status, body, extra = start["status"], b"".join(chunks), []
        if status == 200:
            fault = self.faults.draw()
            if fault == "slow":
                await asyncio.sleep(self.faults.slow_s)
            status, body, extra = play(fault, body) if fault else (status, body, [])
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, *extra, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def play(fault: str, body: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, body, extra headers) of a successful `/v1/embeddings` answer under `fault` (see KINDS)."""
    if fault == "429":
        return 429, error_bytes(429, "fault mode: rate limit reached", code="rate_limit_exceeded"), [
            (b"retry-after-ms", b"20"), (b"retry-after", b"1")]
    if fault in ("500", "503"):
        return int(fault), error_bytes(int(fault), "fault mode: server error"), []
    if fault == "truncated":
        return 200, body[: len(body) // 2], []
    if fault == "slow":
        return 200, body, []
    payload = json.loads(body)
    data = payload["data"]
    if fault == "reorder":
        data.reverse()
    elif fault == "bad-index" and len(data) > 1:
        data[1]["index"] = data[0]["index"]
    elif fault in ("wrong-dims", "nan"):
        data[0]["embedding"] = _spoil(data[0]["embedding"], fault)
    return 200, json.dumps(payload, separators=(",", ":")).encode(), []


def _spoil(embedding, fault: str):
    """One vector without its last dimension (`wrong-dims`) or with NaN first (`nan`), as a list or as base64."""
    import numpy as np

    packed = isinstance(embedding, str)
    vector = np.frombuffer(base64.b64decode(embedding), "<f4").copy() if packed else np.asarray(embedding, "<f4")
    if fault == "wrong-dims":
        vector = vector[:-1]
    else:
        vector[0] = np.nan
    if packed:
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    return ["NaN" if x != x else x for x in vector.tolist()]  # JSON has no NaN: clients see the string, as from APIs
