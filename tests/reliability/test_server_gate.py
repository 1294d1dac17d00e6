"""The request gate of `clusterank serve` against what an outside attack tried (issue 20, classes 1, 3 and 6):
cross-site requests and DNS rebinding, no-preflight content types, CORS preflight with a key, the health probe
under a full in-flight limit, /docs without a CDN, retriever specs that would order new fits, start-up options out
of range, and `usage` that must not depend on the cache. Real servers on 127.0.0.1; every loop bounded."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from conftest import start_server  # noqa: E402

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

KEY = "gate-test-key-7f3a"
AUTH = {"authorization": f"Bearer {KEY}"}
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def gated(session_home, tmp_path_factory):
    """A server with a key, one allowed extra origin and host name, two requests in flight at most, and every
    embedding request slowed (so the in-flight limit can be filled on purpose)."""
    srv = start_server(session_home.root, tmp_path_factory.mktemp("gated") / "serve.log",
                       "--api-key-env", "CK_GATE_KEY", "--cors-origin", "http://app.example",
                       "--allow-host", "search.example", "--max-in-flight", "2",
                       "--faults", "slow:1", "--fault-slow-s", "6", env={"CK_GATE_KEY": KEY})
    yield srv
    srv.stop()


def _jobs_on_disk(home) -> int:
    jobs = home / "jobs"
    return len(list(jobs.glob("*.json"))) if jobs.exists() else 0


# ---- class 1: cross-site requests and rebinding

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_no_preflight_content_types_are_refused_before_any_work(server, session_home, content_type):
    headers = {"content-type": content_type} if content_type else {}
    before = _jobs_on_disk(session_home.root)
    r = httpx.post(server.url + "/v1/jobs/compare", content=b'{"models":["minilm-static"]}', headers=headers,
                   timeout=10)
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["param"] == "content-type" and "application/json" in error["message"]
    assert _jobs_on_disk(session_home.root) == before


def test_the_attack_from_a_foreign_page_starts_nothing(server, session_home):
    """The issue's example: text/plain from evil.example, which a browser sends without a preflight."""
    before = _jobs_on_disk(session_home.root)
    for content_type in ("text/plain", "application/json"):
        r = httpx.post(server.url + "/v1/jobs/compare", content=b'{"models":["minilm-static"]}',
                       headers={"content-type": content_type, "origin": EVIL}, timeout=10)
        assert r.status_code == 403 and r.json()["error"]["param"] == "origin", r.text
    assert _jobs_on_disk(session_home.root) == before


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "localhost.evil"])
def test_dns_rebinding_reads_no_profile(server, host):
    r = httpx.get(server.url + "/v1/profiles/5", headers={"host": host}, timeout=10)
    assert r.status_code == 421 and r.json()["error"]["param"] == "host", r.text
    assert "text" not in r.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:1234", "[::1]", "10.1.2.3:80"])
def test_addresses_and_localhost_are_answered(server, host):
    assert httpx.get(server.url + "/v1/profiles/5", headers={"host": host}, timeout=10).status_code == 200


def test_allow_host_and_cors_origin_open_what_they_name(gated):
    ok = httpx.get(gated.url + "/v1/profiles/5", headers={**AUTH, "host": "search.example"}, timeout=10)
    assert ok.status_code == 200
    assert httpx.get(gated.url + "/v1/profiles/5", headers={**AUTH, "host": "other.example"}, timeout=10).status_code == 421
    allowed = httpx.get(gated.url + "/v1/profiles/5", headers={**AUTH, "origin": "http://app.example"}, timeout=10)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "http://app.example"
    refused = httpx.get(gated.url + "/v1/profiles/5", headers={**AUTH, "origin": EVIL}, timeout=10)
    assert refused.status_code == 403


def test_the_page_own_origin_is_served(server):
    """The page's fetch() sends Origin: its own address; that is not cross-site."""
    r = httpx.post(server.url + "/v1/search", json={"query": "data engineer", "k": 3},
                   headers={"origin": server.url}, timeout=30)
    assert r.status_code == 200, r.text


def test_cors_preflight_with_a_key_and_delete(gated):
    r = httpx.options(gated.url + "/v1/jobs/abcdefabcdef", timeout=10,
                      headers={"origin": "http://app.example", "access-control-request-method": "DELETE",
                               "access-control-request-headers": "authorization"})
    assert r.status_code == 200, r.text
    assert "DELETE" in r.headers["access-control-allow-methods"]
    # the preflight is answered without the key; the request itself still needs it
    assert httpx.delete(gated.url + "/v1/jobs/abcdefabcdef", headers={"origin": "http://app.example"},
                        timeout=10).status_code == 401


# ---- class 6: the health probe, /docs, usage, invisible text

def test_healthz_shows_no_path_and_answers_when_the_server_is_full(gated):
    health = httpx.get(gated.url + "/healthz", timeout=10).json()
    assert "/" not in health["corpus"]
    results = []

    def slow_embed():
        results.append(httpx.post(gated.url + "/v1/embeddings", json={"input": "x", "model": "minilm-static"},
                                  headers=AUTH, timeout=30).status_code)

    threads = [threading.Thread(target=slow_embed) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5  # until both sleep in the slow fault (6 s), filling --max-in-flight 2
    while httpx.get(gated.url + "/metrics", headers=AUTH, timeout=5).status_code != 429:
        assert time.monotonic() < deadline, "the two slow requests did not arrive"
        time.sleep(0.1)
    try:
        assert httpx.post(gated.url + "/v1/embeddings", json={"input": "y", "model": "minilm-static"},
                          headers=AUTH, timeout=30).status_code == 429
        assert httpx.get(gated.url + "/healthz", timeout=5).status_code == 200
    finally:
        for t in threads:
            t.join(30)
    assert results == [200, 200]


def test_docs_need_no_cdn(server):
    assert httpx.get(server.url + "/docs", timeout=10).status_code == 404
    schema = httpx.get(server.url + "/openapi.json", timeout=10)
    assert schema.status_code == 200 and "/v1/search" in schema.json()["paths"]


def test_usage_is_the_same_for_the_same_request(server):
    body = {"input": [f"usage probe {time.time()} staff data engineer with Spark", "a second new text"],
            "model": "minilm-static"}
    first = httpx.post(server.url + "/v1/embeddings", json=body, timeout=30).json()["usage"]
    second = httpx.post(server.url + "/v1/embeddings", json=body, timeout=30).json()["usage"]
    assert first == second and first["prompt_tokens"] > 0


@pytest.mark.parametrize("path,body,param", [
    ("/v1/embeddings", {"input": ["ok", "\u200b\u200c\u2060"], "model": "minilm-static"}, "input[1]"),
    ("/v1/embeddings", {"input": "\u200d\ufeff", "model": "minilm-static"}, "input"),
    ("/v1/search", {"query": "\u200b \u200e"}, "query"),
    ("/v1/rerank", {"query": "\u2060", "documents": ["a"]}, "query"),
])
def test_invisible_text_names_its_field(server, path, body, param):
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text


# ---- class 3: work a request can order

def test_retriever_specs_are_limited_to_what_the_server_built(server, session_home):
    clusters_before = sorted(p.name for p in session_home.root.rglob("*") if "cluster" in p.name)
    t0 = time.monotonic()
    for spec in ("soft:alpha=0.1,k=5001", "routed:nprobe=1,k=4000", "ivfpq:nlist=7000", "int8"):
        r = httpx.post(server.url + "/v1/search", json={"query": "data engineer", "retriever": spec}, timeout=30)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["param"] == "retriever" and "--retriever" in error["message"]
    assert time.monotonic() - t0 < 10  # refused before any fitting (a k=5001 fit alone took seconds)
    assert sorted(p.name for p in session_home.root.rglob("*") if "cluster" in p.name) == clusters_before
    options = httpx.get(server.url + "/v1/options", timeout=10).json()
    for spec in options["retrievers"]:  # every offered one answers
        assert httpx.post(server.url + "/v1/search", json={"query": "data engineer", "retriever": spec, "k": 3},
                          timeout=30).status_code == 200


# ---- class 5: start-up options, range-checked once

@pytest.mark.parametrize("args,named", [
    (["--port", "99999"], "--port"), (["--port", "0"], "--port"), (["--max-body-mb", "nan"], "--max-body-mb"),
    (["--max-body-mb", "inf"], "--max-body-mb"), (["--max-in-flight", "0"], "--max-in-flight"),
    (["--max-jobs", "0"], "--max-jobs"), (["--fault-seed", str(2**40)], "--fault-seed"),
    (["--allow-host", "a b"], "--allow-host"), (["--retriever", "soft:k=-1"], "soft"),
])
def test_bad_start_up_options_are_one_line(session_home, args, named):
    proc = subprocess.run([sys.executable, "-m", "clusterank", "serve", *args], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "CLUSTERANK_HOME": str(session_home.root)})
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
