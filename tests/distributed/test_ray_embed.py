"""`clusterank embed --ray` on real Ray clusters on loopback: a head and two worker nodes started here.

Each node is a `ray start --block` in its own session, so a test can kill one node (all its processes) and
the finalizer can stop exactly what the test started; `ray stop` would stop every Ray on the machine.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from clusterank.data.loaders import bundled_profiles
from clusterank.embed.store import EmbeddingStore, normalise, text_hash

N = 20_000
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
"""Loopback-only clusters: no usage report, no token (nothing in ~/.ray), nothing from the network."""


def needs_ray() -> None:
    pytest.importorskip("ray.data", reason="Ray is an optional extra: pip install 'clusterank[ray]'")


def _env(home: Path | None = None, **extra: str) -> dict:
    env = {**os.environ, **RAY_ENV, **extra}
    env.pop("RAY_ADDRESS", None)
    if home is not None:
        env["CLUSTERANK_HOME"] = str(home)
    return env


def _kill_session(sid: int, sig: int = signal.SIGKILL) -> None:
    """Signal every process of session `sid` (a node's `ray start --block` and all it started)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    os.kill(int(entry), sig)
            except (ProcessLookupError, PermissionError):
                pass


class Cluster:
    """A head node with no CPUs (the driver's node) and worker nodes with one CPU each, on 127.0.0.1."""

    def __init__(self, workers: int = 2, timeout: float = 180):
        from conftest import free_port

        ray = os.path.join(os.path.dirname(sys.executable), "ray")
        self.tmp = Path(tempfile.mkdtemp(prefix="cr", dir="/tmp"))  # short: Ray's unix socket paths must fit
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[subprocess.Popen] = []
        common = ["--node-ip-address=127.0.0.1", "--block", "--disable-usage-stats", "--object-store-memory=200000000"]
        self._start("h", [ray, "start", "--head", f"--port={self.port}", "--num-cpus=0", "--include-dashboard=false",
                          *common])
        for w in range(workers):
            self._start(f"w{w}", [ray, "start", f"--address={self.address}", "--num-cpus=1", *common])
        deadline = time.monotonic() + timeout
        for name in ["h"] + [f"w{w}" for w in range(workers)]:
            while "Ray runtime started" not in self.log(name):
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.nodes):
                    self.stop()
                    raise RuntimeError(f"Ray node {name} did not start: {self.log(name)[-2000:]}")
                time.sleep(0.3)

    def _start(self, name: str, cmd: list[str]) -> None:
        with open(self.tmp / f"{name}.log", "wb") as log:
            self.nodes.append(subprocess.Popen([*cmd, f"--temp-dir={self.tmp / name}"], stdout=log,
                                               stderr=subprocess.STDOUT, env=_env(), start_new_session=True))

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def kill_node(self, i: int) -> None:
        """SIGKILL every process of node `i` (0 is the head), like a machine dropping off the network."""
        _kill_session(self.nodes[i].pid)
        self.nodes[i].wait(30)

    def stop(self) -> None:
        """Kill every node outright (a graceful `ray start` shutdown takes ~20 s and keeps nothing we need)."""
        for node in reversed(self.nodes):
            _kill_session(node.pid)
        for node in self.nodes:
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(request):
    """One cluster for the module, always torn down; the kill test, last in the file, takes a worker node."""
    needs_ray()
    c = Cluster()
    request.addfinalizer(c.stop)
    return c


@pytest.fixture(scope="module")
def corpus_20k(static_embedder):
    """20,000 bundled profiles and their vectors from the local embedder, normalised as the store does."""
    texts = bundled_profiles(n=N).texts
    assert len(set(texts)) == N
    return texts, normalise(static_embedder.embed(texts), model=static_embedder.name)


def _cli(*args: str, home: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clusterank", *args], capture_output=True, text=True,
                          timeout=timeout, env=_env(home, **env))


def _stored(home: Path, texts) -> tuple[int, np.ndarray]:
    """How many vectors the store holds for minilm-static, and those of `texts` in order."""
    store = EmbeddingStore(home / "embeddings.sqlite")
    try:
        have = store.lookup("minilm-static", [text_hash(t) for t in texts])
        assert len(have) == len(set(texts)), f"{len(set(texts)) - len(have)} texts have no vector"
        return store.count("minilm-static"), np.stack([have[text_hash(t)] for t in texts])
    finally:
        store.close()


@pytest.mark.slow
def test_ray_run_stores_every_vector_once_equal_to_the_local_embedder(workspace, corpus_20k, cluster):
    texts, local = corpus_20k
    run = _cli("embed", "--n", str(N), "--ray-address", cluster.address, "--ray-actors", "2", "--batch-size", "1000",
               home=workspace.root)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"{N:,} texts embedded with minilm-static (256 dims): {N:,} now on Ray (2 actors" in run.stdout
    count, stored = _stored(workspace.root, texts)
    assert count == N
    np.testing.assert_allclose(stored, local, atol=1e-5)

    again = _cli("embed", "--n", str(N), "--ray-address", cluster.address, home=workspace.root)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"none needed Ray, {N:,} from the cache" in again.stdout
    assert _stored(workspace.root, texts)[0] == N


@pytest.mark.slow
def test_bare_ray_starts_a_local_cluster_and_shares_the_cache_with_the_local_path(workspace, static_embedder,
                                                                                  tmp_path):
    import pandas as pd

    needs_ray()
    long_text = "positioning launches messaging " * 300  # over the model's 512 tokens: one truncation warning
    texts = [*bundled_profiles(n=500).texts, long_text]
    corpus = tmp_path / "profiles.parquet"
    pd.DataFrame({"text": texts, "role": "x"}).to_parquet(corpus)
    store = EmbeddingStore(workspace.store_path)
    store.embed(static_embedder, texts[:300])  # the local path fills part of the cache
    store.close()
    ray_tmp = tempfile.mkdtemp(prefix="crl", dir="/tmp")  # no cluster recorded there: --ray starts its own
    try:
        run = _cli("embed", "--corpus", str(corpus), "--ray", "--batch-size", "64", home=workspace.root,
                   RAY_TMPDIR=ray_tmp)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "501 texts embedded with minilm-static (256 dims): 201 now on Ray" in run.stdout
    assert "300 from the cache" in run.stdout
    assert ("warning: minilm-static: 1 of 201 profiles are longer than its 512-token limit and were truncated"
            in run.stderr)
    count, vectors = _stored(workspace.root, texts)
    assert count == 501
    np.testing.assert_allclose(vectors, normalise(static_embedder.embed(texts)), atol=1e-5)


def test_an_address_that_does_not_answer_is_one_line_and_changes_nothing(workspace, static_embedder):
    from conftest import free_port

    needs_ray()
    texts = bundled_profiles(n=50).texts
    store = EmbeddingStore(workspace.store_path)
    store.embed(static_embedder, texts[:10])
    store.close()
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    run = _cli("embed", "--n", "50", "--ray-address", address, home=workspace.root, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith(f"error: Ray cluster at '{address}' does not answer")
    assert time.monotonic() - started < 30
    assert _stored(workspace.root, texts[:10])[0] == 10


def test_options_and_missing_ray_are_one_line(workspace):
    run = _cli("embed", "--n", "50", "--ray-actors", "2", home=workspace.root, timeout=60)
    assert run.returncode == 2 and run.stderr == "error: --ray-actors and --batch-size apply to Ray runs; add --ray\n"
    code = ("import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
            "from clusterank.cli import main; sys.exit(main(['embed', '--n', '50', '--ray']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=_env(workspace.root))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "pip install 'clusterank[ray]'" in run.stderr


def test_remote_models_are_refused_before_any_cluster_starts(workspace):
    from clusterank import ClusterankError
    from clusterank.distributed.ray_embed import embed_on_ray

    needs_ray()
    with pytest.raises(ClusterankError, match="is an HTTP API whose client already sends requests concurrently"):
        embed_on_ray(["a profile"], "api:m@http://127.0.0.1:9/v1", workspace=workspace, address="local")
    assert not workspace.store_path.exists()  # refused before the store is opened


@pytest.mark.slow
def test_killing_a_worker_node_mid_run_still_stores_every_vector_once(workspace, corpus_20k, cluster):
    texts, local = corpus_20k
    proc = subprocess.Popen([sys.executable, "-m", "clusterank", "embed", "--n", str(N), "--ray-address",
                             cluster.address, "--ray-actors", "2", "--batch-size", "250"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(workspace.root))
    try:
        db, stored, deadline = workspace.store_path, 0, time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and stored < 1000:
            time.sleep(0.1)
            try:
                stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            except sqlite3.OperationalError:
                continue
        assert proc.poll() is None and 1000 <= stored < N, f"the run ended before the kill ({stored} stored)"
        cluster.kill_node(2)  # the second worker node, and the actor it held (the cluster is not used after this)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == 0, err[-3000:]
    assert f"{N:,} texts embedded with minilm-static" in out
    count, vectors = _stored(workspace.root, texts)
    assert count == N
    np.testing.assert_allclose(vectors, local, atol=1e-5)
