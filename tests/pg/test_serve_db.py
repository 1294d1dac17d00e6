"""`clusterank serve --db` (issue 26, item 3): two real replicas over one real PostgreSQL share compare jobs, usage
records and paid APIs' rate limits; the database restarted under load costs some 503s and nothing else; a replica
killed mid-job leaves its job reported lost; a database that cannot be used stops the start with one line. Every
wait is bounded; nothing here is timed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from conftest import free_port, start_server, wait_until  # noqa: E402


@pytest.fixture(scope="module")
def shared_db(postgres):
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="module")
def replicas(session_home, tmp_path_factory, shared_db):
    """Two replicas of one server (ports p and p + 1) over `shared_db`; replica B is killed (and started again by the parent) by the last test."""
    server = start_server(session_home.root, tmp_path_factory.mktemp("replicas") / "serve.log", "--db", shared_db,
                          "--replicas", "2", "--replica-lost-s", "4", "--max-jobs", "2", "--max-queued-jobs", "4")
    port = int(server.url.rsplit(":", 1)[1])
    b = f"http://127.0.0.1:{port + 1}"
    try:
        wait_until(lambda: _ok(b + "/healthz"), 240, "replica B answering")
    except AssertionError:
        server.stop()
        raise
    yield server.api, b + "/v1", server
    server.stop()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _state(api: str, job: str) -> dict:
    return httpx.get(f"{api}/jobs/{job}", timeout=30).json()


@pytest.mark.slow
def test_a_job_started_on_one_replica_is_reported_and_cancelled_by_the_other(replicas):
    a, b, _ = replicas
    started = httpx.post(a + "/jobs/compare", json={"models": ["minilm-static"]}, timeout=30)
    assert started.status_code == 202 and started.json()["state"] == "running"
    job = started.json()["id"]
    seen = _state(b, job)
    assert seen["id"] == job and seen["state"] == "running" and "owner" not in seen and "args" not in seen
    assert httpx.delete(f"{b}/jobs/{job}", timeout=30).status_code == 200
    wait_until(lambda: _state(a, job)["state"] == "cancelled", 60, "the cancel from B stopping A's job")
    assert _state(b, job)["state"] == "cancelled"
    assert httpx.get(f"{b}/jobs/0123456789ab", timeout=30).status_code == 404


@pytest.mark.slow
def test_a_jobs_compare_child_gets_the_db_flag_as_its_database(replicas, shared_db):
    """A job's `clusterank compare` child names `--db` as CLUSTERANK_DB, so its pgvector pipelines keep their vectors
    there (tests/pg/test_compare_job_db.py runs one), whatever the server's own environment says."""
    a, b, _ = replicas
    started = httpx.post(a + "/jobs/compare", json={"models": ["minilm-static"]}, timeout=30).json()
    try:
        with open(f"/proc/{started['pid']}/environ", "rb") as f:
            environ = f.read().split(b"\0")
    finally:
        httpx.delete(f"{a}/jobs/{started['id']}", timeout=30)
        wait_until(lambda: _state(b, started["id"])["state"] == "cancelled", 60, "the job ending")
    assert f"CLUSTERANK_DB={shared_db}".encode() in environ


@pytest.mark.slow
def test_usage_is_summed_over_both_replicas(replicas):
    a, b, _ = replicas
    before = _searches(a)
    for api in (a, a, a, b, b):
        assert httpx.post(api + "/search", json={"query": "python backend developer", "k": 3},
                          timeout=60).status_code == 200
    row = wait_until(lambda: (lambda r: r if r["requests"] - before == 5 else None)(_search_row(b)), 30,
                "five searches counted")
    assert row["replicas"] == 2 and row["texts"] >= 5


def _search_row(api: str) -> dict:
    usage = httpx.get(api + "/usage", timeout=30).json()
    assert usage["scope"] == "every replica"
    return next((r for r in usage["data"] if r["route"] == "search"), {"requests": 0, "replicas": 0, "texts": 0})


def _searches(api: str) -> int:
    return _search_row(api)["requests"]


@pytest.mark.slow
def test_the_database_restarted_under_load_costs_some_503s_and_loses_nothing(replicas, postgres):
    a, b, _ = replicas
    job = httpx.post(a + "/jobs/compare", json={"models": ["minilm-static"]}, timeout=30).json()["id"]
    httpx.delete(f"{a}/jobs/{job}", timeout=30)
    wait_until(lambda: _state(b, job)["state"] == "cancelled", 60, "the job ending")
    before = _searches(a)
    statuses, bodies, searches_ok, stop = [], [], [0], threading.Event()

    def client(api: str):
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                for r in (http.post(api + "/search", json={"query": "data engineer", "k": 2}),
                          http.get(f"{api}/jobs/{job}")):
                    statuses.append(r.status_code)
                    if r.status_code == 503:
                        bodies.append(r.json())
                    elif r.request.method == "POST" and r.status_code == 200:
                        searches_ok[0] += 1

    threads = [threading.Thread(target=client, args=(api,)) for api in (a, b, a, b)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    postgres.restart()
    time.sleep(1.0)
    n_during = len(statuses)
    wait_until(lambda: len(statuses) > n_during + 40 and set(statuses[-20:]) == {200}, 60, "all 200 again")
    stop.set()
    for t in threads:
        t.join(60)
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    for body in bodies:  # one line naming the database, never its credentials; a JSON body a client can read
        assert body["error"]["code"] == "database_unavailable" and "retry" in body["error"]["message"]
    assert _state(a, job)["state"] == _state(b, job)["state"] == "cancelled"
    wait_until(lambda: _searches(b) - before == searches_ok[0], 30, "every answered search counted once")


@pytest.mark.slow
def test_a_replica_killed_mid_job_leaves_its_job_reported_lost(replicas):
    a, b, _ = replicas
    started = httpx.post(b + "/jobs/compare", json={"models": ["minilm-static"]}, timeout=30)
    assert started.status_code == 202 and started.json()["state"] == "running"
    job = started.json()["id"]
    killed = httpx.get(b.removesuffix("/v1") + "/healthz", timeout=10).json()["pid"]
    os.kill(killed, signal.SIGKILL)
    lost = wait_until(lambda: (lambda s: s if s["state"] != "running" else None)(_state(a, job)), 60,
                 "the job of the killed replica reported")
    assert lost["state"] == "interrupted" and "replica lost" in lost["message"]
    again = httpx.post(a + "/jobs/compare", json={"models": ["minilm-static"]}, timeout=30)
    assert again.status_code == 202 and again.json()["state"] == "running"  # its slot is free again
    httpx.delete(f"{a}/jobs/{again.json()['id']}", timeout=30)
    back = wait_until(lambda: _pid(b.removesuffix("/v1")), 120, "replica B started again on its port")
    assert back != killed and _state(b, job)["state"] == "interrupted"  # the restarted replica sees the same jobs


def _pid(url: str) -> int | None:
    try:
        return httpx.get(url + "/healthz", timeout=2).json()["pid"]
    except httpx.HTTPError:
        return None


@pytest.mark.slow
def test_a_replica_that_keeps_dying_is_given_up(postgres, pg_url, session_home, monkeypatch):
    import socket

    from clusterank.server import replicas as supervisor
    from clusterank.errors import ClusterankError
    from clusterank.server.config import ServerConfig

    monkeypatch.setattr(supervisor, "RESTART_WAIT_S", 0.1)
    monkeypatch.setattr(supervisor, "MAX_RESTARTS", 1)
    monkeypatch.setenv("CLUSTERANK_HOME", str(session_home.root))
    with socket.socket() as taken:  # the replica's port is held: it exits each time it tries to listen
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = ServerConfig(db=pg_url, replicas=1, port=taken.getsockname()[1])
        with pytest.raises(ClusterankError, match="every replica was given up"):
            supervisor.run_replicas(config)


def _serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clusterank", "serve", "--port", str(free_port()), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_serve_refuses_a_database_it_cannot_use_with_one_line(postgres, pg_url):
    silent = _serve("--db", f"postgresql://ann:hunter2@127.0.0.1:{free_port()}/hr")
    assert silent.returncode == 2 and silent.stderr.count("\n") == 1, silent.stderr
    assert "did not answer within 5 s" in silent.stderr and "hunter2" not in silent.stderr
    wrong = _serve("--db", postgres.url("postgres").replace("postgres@", "nobody_here@"))
    assert wrong.returncode == 2 and "wrong credentials" in wrong.stderr and wrong.stderr.count("\n") == 1
    from clusterank.postgres import SCHEMA_VERSION, open_database

    with open_database(pg_url) as conn:
        conn.execute("insert into clusterank_schema (version) values (%s)", (SCHEMA_VERSION + 1,))
    newer = _serve("--db", pg_url)
    assert newer.returncode == 2 and "from a newer clusterank" in newer.stderr and newer.stderr.count("\n") == 1
    not_pg = _serve("--db", "mysql://ann:hunter2@db/hr")
    assert not_pg.returncode == 2 and "not a database URL" in not_pg.stderr and "hunter2" not in not_pg.stderr
    alone = _serve("--replicas", "2")
    assert alone.returncode == 2 and "--db" in alone.stderr


LIMITED = """
import sys, threading, time
from clusterank.embed.api import RateLimiter
from clusterank.server.shared import SharedRateCounter
limiter = RateLimiter(10, None, 3600, key="openai:text-embedding-3-small", shared=SharedRateCounter(sys.argv[1]))
sent = [0]
def send():
    while True:
        limiter.acquire(100)
        sent[0] += 1
threading.Thread(target=send, daemon=True).start()
time.sleep(float(sys.argv[2]))
print(sent[0])
"""


def test_a_shared_rate_limit_holds_across_two_processes(pg_url):
    from clusterank.postgres import open_database

    open_database(pg_url).close()
    left = 3600 - time.time() % 3600  # windows start on the hour: a run that crossed one would get 20
    if left < 60:
        time.sleep(left + 1)
    procs = [subprocess.Popen([sys.executable, "-c", LIMITED, pg_url, "4"], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    sent = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert sum(sent) == 10, sent  # 10 requests an hour between them, however the two raced for them
    with open_database(pg_url) as conn:
        assert conn.execute("select sum(requests), sum(tokens) from clusterank_rate").fetchone() == (10, 1000)


def test_a_server_with_a_database_counts_paid_api_limits_there(pg_url, workspace):
    from clusterank import ServerConfig, get_embedder, share_rate_limits
    from clusterank.server.jobs_db import DatabaseJobStore, shared_state

    try:
        store, usage = shared_state(ServerConfig(db=pg_url))
        paid = get_embedder("openai:text-embedding-3-small", workspace)
        assert isinstance(store, DatabaseJobStore) and usage.db is not None
        assert paid.limiter.shared is not None and paid.limiter.rpm  # the price table's limit, counted in the database
        paid.limiter.acquire(5)
        with store.db.connection() as conn:
            assert conn.execute("select key, requests, tokens from clusterank_rate").fetchall() == [
                ("openai:text-embedding-3-small", 1, 5)]
    finally:
        share_rate_limits(None)
    assert get_embedder("openai:text-embedding-3-small", workspace).limiter.shared is None
