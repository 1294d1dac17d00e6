"""Deploying `clusterank serve`: loopback unless a key is required, the key checked and never written, two
worker processes sharing one workspace, and `compare` running a model through the server end to end."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from conftest import start_server  # noqa: E402

from clusterank.cli import main  # noqa: E402
from clusterank.embed.store import EmbeddingStore  # noqa: E402

CANARY = "ck-canary-5f1d0e7a9b3c"


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "clusterank", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_binding_beyond_loopback_needs_a_key():
    done = run_cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert "--api-key-env" in done.stderr and "0.0.0.0" in done.stderr
    done = run_cli("serve", "--host", "0.0.0.0", "--api-key-env", "CK_UNSET_KEY_VAR")
    assert done.returncode == 2 and "CK_UNSET_KEY_VAR" in done.stderr


def test_bad_fault_spec_is_one_error():
    done = run_cli("serve", "--faults", "gremlins:0.5")
    assert done.returncode == 2 and "unknown fault 'gremlins'" in done.stderr


def test_a_key_is_required_checked_and_never_written(session_home, tmp_path):
    srv = start_server(session_home.root, tmp_path / "serve.log", "--api-key-env", "CK_TEST_KEY",
                       env={"CK_TEST_KEY": CANARY})
    try:
        body = {"input": "data engineer", "model": "minilm-static"}
        assert httpx.post(srv.api + "/embeddings", json=body).status_code == 401
        wrong = httpx.post(srv.api + "/embeddings", json=body, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
        ok = httpx.post(srv.api + "/embeddings", json=body, headers={"authorization": f"Bearer {CANARY}"})
        assert ok.status_code == 200
        assert httpx.get(srv.url + "/healthz").status_code == 200  # probes need no key
        assert httpx.get(srv.api + "/models").status_code == 401
        assert CANARY not in wrong.text and CANARY not in ok.text
    finally:
        srv.stop()
    assert CANARY not in srv.log()
    for path in session_home.root.rglob("*"):
        if path.is_file() and path.stat().st_size < 200 * 1024 * 1024:
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_two_workers_serve_one_workspace(session_home, static_embedder, tmp_path):
    srv = start_server(session_home.root, tmp_path / "serve.log", "--workers", "2")
    try:
        pids = set()
        for _ in range(60):
            with httpx.Client() as c:  # a new connection each time, so the kernel spreads them over the workers
                pids.add(c.get(srv.url + "/healthz").json()["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2
        store = EmbeddingStore(session_home.store_path)
        before = store.count("minilm-static")
        texts = [f"worker test profile {i}: staff data engineer, Spark and Kafka, {i} years" for i in range(200)]
        answers, failures = {}, []

        def send(part):
            try:
                with httpx.Client() as c:
                    for start in range(part, len(texts), 40):
                        chunk = texts[start:start + 20]
                        r = c.post(srv.api + "/embeddings", json={"input": chunk, "model": "minilm-static"}, timeout=60)
                        assert r.status_code == 200, r.text
                        for d in r.json()["data"]:
                            answers[chunk[d["index"]]] = d["embedding"]
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=send, args=(p,)) for p in (0, 20)]
        [t.start() for t in threads]
        [t.join(120) for t in threads]
        assert not failures
        assert store.count("minilm-static") == before + len(texts)  # each new text stored once
        local = static_embedder.embed(texts)
        local /= np.linalg.norm(local, axis=1, keepdims=True)
        got = np.array([answers[t] for t in texts], dtype=np.float32)
        assert np.abs(got - local).max() < 1e-5
    finally:
        srv.stop()


@pytest.mark.slow
def test_compare_runs_a_model_through_the_server_and_the_rows_agree(server, tmp_path, capsys):
    model = "all-MiniLM-L6-v2"
    code = main(["compare", "--n", "400", "--models", f"{model},api:{model}@{server.api}", "--pipelines", "exact",
                 "--skip-unanswerable", "--out", str(tmp_path / "report")])
    assert code == 0, capsys.readouterr().err
    import pandas as pd

    frame = pd.read_csv(tmp_path / "report" / "per_query.csv")
    by_model = {m: g.sort_values("query_id") for m, g in frame.groupby("model")}
    assert set(by_model) == {model, f"api:{model}@{server.api}"}
    a, b = by_model.values()
    assert np.allclose(a["nDCG@10"].to_numpy(), b["nDCG@10"].to_numpy(), atol=1e-9)
