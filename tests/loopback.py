"""A scripted HTTP server on loopback for the tests of HTTP clients: a real `http.server` in a thread that answers
each POST from a script and records what it was sent (path, headers, body, arrival time)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Loopback:
    """Answers POSTs on 127.0.0.1 from `script`, recording each request in `requests` and its arrival in `times`.

    `script` is either a list of `(status, body, headers)` answers, taken in order with the last one repeated, or
    a function `(path, body, headers) -> (status, body)` or `(status, body, headers)`. A body that is not bytes is
    sent as JSON; a request body that is not JSON is recorded as bytes.
    """

    def __init__(self, script):
        self.requests: list[tuple[str, dict, object]] = []
        self.times: list[float] = []
        answers = None if callable(script) else list(script)
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                loopback.times.append(time.monotonic())
                loopback.requests.append((self.path, dict(self.headers), body))
                if answers is None:
                    answer = script(self.path, body, self.headers)
                else:
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                status, payload, headers = (*answer, {})[:3]
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                if not any(k.lower() == "content-type" for k in headers):
                    self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, userinfo: str = "", query: str = "", path: str = "/v1") -> str:
        """The server's base URL, with `userinfo` (`user:pw@`) and `query` (`?key=...`) when given."""
        return f"http://{userinfo}127.0.0.1:{self.port}{path}{query}"

    def gaps(self) -> list[float]:
        """Seconds between one request's arrival and the next's."""
        return [b - a for a, b in zip(self.times, self.times[1:])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
