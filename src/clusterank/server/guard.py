"""The request gate: the ASGI layer in front of every route. In order it checks the Host (DNS rebinding), the Origin
(cross-site requests), the API key, the content type (415 for anything but JSON on a body), the body's size and time,
and the in-flight limit, and counts every request in the metrics. It answers refusals itself, before a byte of an
oversized body is parsed. What arrives before a request is complete (request line, headers) is bounded one layer
down, in `clusterank.server.http`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import time
from urllib.parse import urlsplit

from clusterank.server.errors import error_bytes
from clusterank.server.metrics import Metrics

OPEN_PATHS = ("/healthz", "/", "/favicon.ico")
UNCOUNTED_PATHS = ("/healthz",)
"""Answered even when `--max-in-flight` requests are being served: the probe must tell alive from busy."""
BODY_METHODS = (b"POST", b"PUT", b"PATCH")
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
        bound_host: the address the server listens on (its requests' Host may name it).
        allow_hosts: further names a request's Host may give (`--allow-host`; `*`: any).
        cors_origins: origins whose pages may call (besides the server's own page).
    """

    def __init__(self, app, *, metrics: Metrics, max_body: int, max_in_flight: int, api_key_env: str | None,
                 bound_host: str = "127.0.0.1", allow_hosts: tuple[str, ...] = (), cors_origins: tuple[str, ...] = ()):
        self.app, self.metrics, self.max_body, self.max_in_flight = app, metrics, max_body, max_in_flight
        self.hosts = HostPolicy(bound_host, allow_hosts)
        self.cors_origins = {o.rstrip("/").lower() for o in cors_origins}
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
            host = headers.get(b"host", b"").decode("latin-1")
            if not self.hosts.allows(host):
                return await refuse(421, f"this server does not answer for the host {host[:100]!r} (a DNS rebinding "
                                         "guard); use its address, or start it with --allow-host NAME", "host")
            origin = headers.get(b"origin")
            if origin is not None and not self._same_or_allowed(origin.decode("latin-1"), host):
                return await refuse(403, f"requests from the web page at {origin.decode('latin-1')[:100]!r} are "
                                         "refused; allow that origin with --cors-origin", "origin")
            preflight = scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers
            if (self._key is not None and not preflight and path not in OPEN_PATHS
                    and not path.startswith(OPEN_PREFIXES) and not self._authorised(headers)):
                return await refuse(401, "missing or wrong API key: send 'Authorization: Bearer <key>'")
            method = scope.get("method", "").encode()
            if method in BODY_METHODS and not is_json(headers.get(b"content-type", b"")):
                # every body here is JSON; anything else is what a cross-site form or a no-preflight fetch sends
                label = headers.get(b"content-type", b"").decode("latin-1")[:100] or "none"
                return await refuse(415, f"the request body must be JSON: send 'Content-Type: application/json' "
                                         f"(got {label})", "content-type")
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
            if path not in UNCOUNTED_PATHS:
                self.metrics.in_flight += 1
                counted = True
            if counted and self.metrics.in_flight > self.max_in_flight:
                return await refuse(429, f"the server is serving {self.max_in_flight} requests; retry shortly",
                                    extra=((b"retry-after", b"1"),))
            await self.app(scope, replay, send_counted)
        finally:
            if counted:
                self.metrics.in_flight -= 1
            self.metrics.observe(path, status[0], time.perf_counter() - start)

    def _same_or_allowed(self, origin: str, host: str) -> bool:
        """A browser's Origin is this server's own page (same host and port) or one given by --cors-origin."""
        origin = origin.rstrip("/").lower()
        if origin in self.cors_origins or "*" in self.cors_origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host.lower()

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        header = headers.get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)


def is_json(content_type: bytes) -> bool:
    """`application/json` or a `+json` type, with or without parameters (`; charset=utf-8`)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class HostPolicy:
    """Which Host headers a server answers: its bound address, any IP address (a DNS rebinding attack needs a name),
    `localhost` when it listens on loopback or everywhere, and the names given by `--allow-host` (`*`: any).

    Args:
        bound: the address the server listens on.
        allowed: further host names (case-insensitive; a leading `.` allows subdomains).
    """

    def __init__(self, bound: str, allowed: tuple[str, ...] = ()):
        self.any = "*" in allowed
        self.names = {bound.lower(), *(a.lower().rstrip(".") for a in allowed if a != "*")}
        try:
            address = ipaddress.ip_address(bound)
            local = address.is_loopback or address.is_unspecified
        except ValueError:
            local = bound.lower() == "localhost"
        if local:
            self.names.add("localhost")

    def allows(self, host: str) -> bool:
        """True if a request's Host header (with or without port) names this server; an absent one (HTTP/1.0)
        is allowed."""
        if self.any or not host:
            return True
        name = host.strip().lower()
        if name.startswith("["):  # [::1]:8000
            name = name[1:].split("]", 1)[0]
        elif name.count(":") == 1:
            name = name.rsplit(":", 1)[0]
        name = name.rstrip(".")
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            pass
        return name in self.names or any(n.startswith(".") and (name.endswith(n) or name == n[1:])
                                         for n in self.names)
