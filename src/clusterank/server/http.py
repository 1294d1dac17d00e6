"""The connection layer under the request gate: what a client may do before its request is complete.

uvicorn bounds neither how long a request line and headers may take nor how large they may be, so one slow
or endless header holds a connection (and its memory) forever. `GatedProtocol` gives every request head a
deadline (408 and close) and a size limit (431 and close), closes connections that send nothing, and when open
connections near the process's descriptor limit it closes the oldest ones still sending their head, so the
health probe and real clients always find a place. `raise_descriptor_limit` lifts the soft limit to the hard one.
"""

from __future__ import annotations

import resource
import weakref
from collections import OrderedDict

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # imported only by `serve`, after require()

from clusterank.server.errors import error_bytes

PROTOCOL = "clusterank.server.http:GatedProtocol"
"""What `uvicorn.run(http=...)` is given (an import path, so worker processes load it too)."""

HEAD_TIMEOUT_S = 10.0
"""How long a request line and its headers may take to arrive, from the connection or the request's first byte."""
MAX_HEAD_BYTES = 64 * 1024
"""The largest request line + headers (431 beyond)."""
TOO_LARGE = f"the request line and headers are over {MAX_HEAD_BYTES // 1024} KB, the most this server reads"
RESERVED_DESCRIPTORS = 64
"""Descriptors kept free of connections: the store, models, logs and job files need some."""



class HeadTooLarge(Exception):
    """Raised inside the parser's callbacks when a request's head passes MAX_HEAD_BYTES."""


_PENDING: "weakref.WeakKeyDictionary[object, OrderedDict]" = weakref.WeakKeyDictionary()


def raise_descriptor_limit(want: int = 65536) -> int:
    """Raise this process's soft limit on open files towards `want` (never above the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_budget() -> int:
    """How many client connections this process keeps open at once (its descriptor limit less a reserve)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(16, soft - RESERVED_DESCRIPTORS)


class GatedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the request head bounded in time and size (module docstring)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_bytes, self._head_parsed, self._head_timer, self._awaiting_head = 0, 0, None, True
        self._arm_head_deadline()  # registers this connection among the pending heads, newest last
        pending = _PENDING[self.server_state]
        budget = connection_budget()
        while len(self.connections) > budget and pending:  # shed the oldest unfinished heads, never a request
            oldest, _ = pending.popitem(last=False)
            oldest._close_head("too many connections are still sending their request")

    def connection_lost(self, exc) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._head_bytes += len(data)
            if self._head_timer is None:  # the first byte of a request after an idle keep-alive
                self._arm_head_deadline()
        self._unset_keepalive_if_required()
        try:  # uvicorn's own data_received, less its catch-all 400 for a head that is too large
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                return self._refuse(431, str(exc.__context__))
            self.logger.warning("Invalid HTTP request received.")
            return self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            return self.handle_websocket_upgrade() if self._should_upgrade() else self._unsupported_upgrade_warning()
        if self._awaiting_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(431, TOO_LARGE)  # a head still unfinished after 64 KB

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_parsed = 0

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_head(self, n: int) -> None:
        """Counts what the parser finished of this request's head (a whole head can arrive in one read)."""
        self._head_parsed += n
        if self._head_parsed > MAX_HEAD_BYTES:
            raise HeadTooLarge(TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head, self._head_bytes = True, 0  # the next bytes are the next request's head

    # ---- the head's deadline

    def _arm_head_deadline(self) -> None:
        self._awaiting_head = True
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_timed_out)
        _PENDING.setdefault(self.server_state, OrderedDict())[self] = None

    def _disarm_head_deadline(self) -> None:
        self._awaiting_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        pending = _PENDING.get(self.server_state)
        if pending is not None:
            pending.pop(self, None)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._awaiting_head and not self.transport.is_closing():
            self._close_head(f"the request line and headers did not arrive within {HEAD_TIMEOUT_S:.0f} s")

    def _close_head(self, why: str) -> None:
        if self._head_bytes:
            self._refuse(408, why)
        else:  # nothing sent: nobody to answer
            self._disarm_head_deadline()
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        self._disarm_head_deadline()
        body = error_bytes(status, message, "headers")
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}.get(status, b"")
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        self.transport.close()

