"""Secrets: every command that takes an API key is run with a canary key value (a server that requires it, the API
embedders of each provider shape, a wrong key, the LLM judge, cost and compare), then the workspace, the server log,
every output and the test's own folder are searched for the canary: zero hits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from conftest import free_port, start_server  # noqa: E402

CANARY = "ck-reliability-canary-93c1a7e5d2"
KEY_VARS = ("CLUSTERANK_API_KEY", "OPENAI_API_KEY", "NVIDIA_API_KEY", "VOYAGE_API_KEY", "COHERE_API_KEY",
            "CK_SERVE_KEY")


@pytest.mark.slow
def test_a_canary_key_is_never_written_anywhere(session_home, static_embedder, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(session_home.models_dir.resolve(), target_is_directory=True)
    env = {**os.environ, "CLUSTERANK_HOME": str(home), **{v: CANARY for v in KEY_VARS}}
    srv = start_server(home, tmp_path / "serve.log", "--api-key-env", "CK_SERVE_KEY", env={"CK_SERVE_KEY": CANARY})
    outputs: list[str] = []

    def cli(*args: str, code: int | None = 0, **extra_env: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "clusterank", *args], capture_output=True, text=True,
                              timeout=600, env={**env, **extra_env})
        outputs.extend([done.stdout, done.stderr])
        if code is not None:
            assert done.returncode == code, (args, done.stderr[-2000:])
        return done

    try:
        cli("embed", "--n", "300", "--model", f"api:minilm-static@{srv.api}")
        cli("embed", "--n", "300", "--model", f"nvidia:minilm-static@{srv.api}")
        cli("embed", "--n", "300", "--model", f"voyage:minilm-static@{srv.api}")
        wrong = cli("embed", "--n", "301", "--model", f"api:minilm-static@{srv.api}", code=2,
                    CLUSTERANK_API_KEY="not-the-key")
        assert "CLUSTERANK_API_KEY" in wrong.stderr  # names the variable, never a value
        cli("embed", "--n", "300", "--model", f"openai:text-embedding-3-small@{srv.api}", code=2)  # unknown there
        cli("search", "data engineer", "--n", "300", "--rerank", "llm-pairwise", "--llm-base-url",
            f"http://127.0.0.1:{free_port()}/v1", "--llm-model", "judge", code=None)
        cli("cost", "--texts", "10k", "--models", "openai:text-embedding-3-small", "--tokens-per-text", "300")
        cli("compare", "--n", "300", "--models", f"api:minilm-static@{srv.api}", "--pipelines", "exact",
            "-o", str(tmp_path / "report"))
        served = httpx.get(srv.url + "/metrics", headers={"authorization": f"Bearer {CANARY}"}, timeout=30)
        assert served.status_code == 200 and CANARY not in served.text
    finally:
        srv.stop()

    assert all(CANARY not in text for text in outputs)
    assert CANARY not in srv.log()
    for root in (home, tmp_path):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 200 * 1024 * 1024:
                assert CANARY.encode() not in path.read_bytes(), path
