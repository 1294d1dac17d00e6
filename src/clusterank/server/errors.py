"""Errors over HTTP in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with a 4xx status.

Every failure a client can cause becomes one of these; an unexpected one is a 500 with a generic message
(the details go to the server log, never a traceback into the response).
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger("clusterank.server")

TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
         405: "invalid_request_error", 408: "invalid_request_error", 413: "request_too_large",
         415: "invalid_request_error", 421: "invalid_request_error", 422: "invalid_request_error",
         431: "request_too_large", 429: "rate_limit_error", 500: "server_error", 503: "service_unavailable"}


class ApiError(Exception):
    """A request the server refuses: HTTP status, one-line message, and the field it names."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, " ".join(message.split()), param, code
        self.headers = headers or {}

    def body(self) -> dict:
        """The JSON body OpenAI's clients read."""
        return error_body(self.status, self.message, self.param, self.code)


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    """`{"error": {"message", "type", "param", "code"}}` for a status."""
    return {"error": {"message": message, "type": TYPES.get(status, "invalid_request_error"), "param": param,
                      "code": code}}


def error_bytes(status: int, message: str, param: str | None = None, code: str | None = None) -> bytes:
    """The error body, encoded (for the ASGI guard, which answers before FastAPI sees the request)."""
    return json.dumps(error_body(status, message, param, code)).encode()


_TYPE_NAMES = {"str", "int", "float", "bool", "dict", "list", "none"}


def field_name(loc) -> str | None:
    """A pydantic error location as the field it names: ("body", "input", 3) -> "input[3]"."""
    # union members show up as type names in the location ("input", "str"); they are not fields
    parts = [p for p in loc if p != "body" and not (isinstance(p, str) and (p in _TYPE_NAMES or "[" in p))]
    if not parts:
        return None
    name = str(parts[0])
    for p in parts[1:]:
        name += f"[{p}]" if isinstance(p, int) else f".{p}"
    return name
