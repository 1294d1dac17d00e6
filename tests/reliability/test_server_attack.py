"""`clusterank serve` under hostile clients on loopback: senders that never finish their body do not hold places
others need and are cut off with a 408; deeply nested JSON, 10,000-item batches and oversized bodies get a 4xx in
OpenAI's error shape. Every loop is bounded in count and time and targets 127.0.0.1 only."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

SLOW_CLIENTS = 40


def _address(server) -> tuple[str, int]:
    url = urlparse(server.url)
    assert url.hostname == "127.0.0.1"
    return url.hostname, url.port


@pytest.mark.slow
def test_stalled_senders_neither_block_others_nor_stay_forever(server):
    host, port = _address(server)
    stalled = []
    for _ in range(SLOW_CLIENTS):  # headers and half a body, then nothing
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"query\": \"data engi")
        stalled.append(sock)
    try:
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: httpx.post(server.url + "/v1/search", json={"query": f"engineer {i}",
                                                         "k": 3}, timeout=30), range(40)))
        assert [a.status_code for a in answers] == [200] * 40
        assert time.monotonic() - t0 < 30  # served while the stalled senders hold their sockets
        sock = stalled[0]
        sock.settimeout(40)
        reply = b""
        while b"\r\n\r\n" not in reply:  # the guard cuts the stalled body off (15 s) with a 408
            piece = sock.recv(4096)
            if not piece:
                break
            reply += piece
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        body = reply.split(b"\r\n\r\n", 1)[1] or sock.recv(4096)
        assert json.loads(body)["error"]["param"] == "body"
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.parametrize("name,body,status", [
    ("nested arrays", "[" * 100_000 + "]" * 100_000, 400),
    ("nested objects", '{"input":' * 50_000 + '"x"' + "}" * 50_000, 400),
    ("10,000 inputs", json.dumps({"model": "minilm-static", "input": ["a profile"] * 10_000}), 413),
])
def test_hostile_bodies_get_a_4xx_in_the_error_shape(server, name, body, status):
    answer = httpx.post(server.url + "/v1/embeddings", content=body.encode(),
                        headers={"content-type": "application/json"}, timeout=60)
    assert answer.status_code == status, (name, answer.text[:300])
    error = answer.json()["error"]
    assert error["message"] and "Traceback" not in answer.text
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200  # still up
