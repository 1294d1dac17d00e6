"""The ASGI layer in front of every route: the API key, the body-size and body-time limits, the in-flight limit
and the metrics. It answers refusals itself, before a byte of an oversized body is parsed.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time

from clusterank.server.errors import error_bytes
from clusterank.server.metrics import Metrics

OPEN_PATHS = ("/healthz", "/", "/favicon.ico")
"""Answered without the key: the health probe, and the page's own files (no data; the page asks for the key)."""
OPEN_PREFIXES = ("/static/",)
BODY_TIMEOUT_S = 15.0
"""How long a request body may take to arrive (408 after): slow or stalled senders are cut off."""


class Guard:
    """Wraps the app.

    Args:
        app: the ASGI app.
        metrics: where requests are counted.
        max_body: bytes a request body may have (413 beyond).
        max_in_flight: requests served at once (429 with Retry-After beyond).
        api_key_env: the environment variable holding the bearer key; None: no key needed (loopback only).
    """

    def __init__(self, app, *, metrics: Metrics, max_body: int, max_in_flight: int, api_key_env: str | None):
        self.app, self.metrics, self.max_body, self.max_in_flight = app, metrics, max_body, max_in_flight
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        self._key = key.encode() if key else None  # held in memory only; never logged

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, path, status = time.perf_counter(), scope.get("path", ""), [500]

        async def send_counted(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        async def refuse(code: int, message: str, param: str | None = None, extra: tuple = ()):
            body = error_bytes(code, message, param)
            await send_counted({"type": "http.response.start", "status": code,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode()), *extra]})
            await send_counted({"type": "http.response.body", "body": body})

        counted = False
        try:
            headers = dict(scope.get("headers") or [])
            if (self._key is not None and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES)
                    and not self._authorised(headers)):
                return await refuse(401, "missing or wrong API key: send 'Authorization: Bearer <key>'")
            if scope.get("method") == "POST" and not headers.get(b"content-type", b"").startswith(b"application/json"):
                # every body here is JSON: read it as JSON whatever the client labelled it (curl -d says form data)
                scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"content-type"]
                             + [(b"content-type", b"application/json")])
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                return await refuse(413, f"the request body is {length.decode(errors='replace')} bytes; this server "
                                         f"takes at most {self.max_body} (--max-body-mb)", "body")
            chunks, size = [], 0
            deadline = time.monotonic() + BODY_TIMEOUT_S
            while True:  # read the whole body first (it is at most max_body), refusing it once it is too big
                try:  # a client that never finishes its body is cut off instead of holding a place
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    return await refuse(408, f"the request body did not arrive within {BODY_TIMEOUT_S:.0f} s", "body")
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > self.max_body:
                    return await refuse(413, f"the request body is over {self.max_body} bytes, the most this "
                                             "server takes (--max-body-mb)", "body")
                if not message.get("more_body"):
                    break
            body, replayed = b"".join(chunks), [False]

            async def replay():
                if not replayed[0]:
                    replayed[0] = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            # only requests whose body has arrived count against the limit: slow senders cannot fill it
            self.metrics.in_flight += 1
            counted = True
            if self.metrics.in_flight > self.max_in_flight:
                return await refuse(429, f"the server is serving {self.max_in_flight} requests; retry shortly",
                                    extra=((b"retry-after", b"1"),))
            await self.app(scope, replay, send_counted)
        finally:
            if counted:
                self.metrics.in_flight -= 1
            self.metrics.observe(path, status[0], time.perf_counter() - start)

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        header = headers.get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)
