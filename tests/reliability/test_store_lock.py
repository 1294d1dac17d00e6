"""`clusterank cache repair` beside live writers, on intact and read-only stores; a store row of the wrong length;
a workspace root that is a file.

Every process that has the store open holds a shared lock on its folder; repair takes it exclusively and refuses
while the store is open elsewhere, so a writer's rows never go into a file moved aside. Repair runs the integrity
check under that lock and leaves an intact store alone; every damaged original it moves aside keeps a name of its
own. All with real processes: `clusterank embed`, `clusterank cache ...` and the offline model minilm-static.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clusterank.cli import main
from clusterank.embed.integrity import repair_store
from clusterank.embed.store import EmbeddingStore, lock_store, normalise, text_hash
from clusterank.errors import ClusterankError

WORDS = ("spark airflow kafka dbt python scala sql pricing launches hiring payroll audit tax design figma react "
         "kubernetes terraform sales churn retention forecasting budgeting procurement logistics").split()
N_WRITER = 12_000  # texts the live writer embeds per run: a few seconds of commits with minilm-static
EXTRA_RUNS = 5
"""More runs, repairing at the writer's first commit, when the random moments all missed the writing."""
RUNS = 5


def cli(home: Path, *args: str, timeout: float = 300, user: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m clusterank *args` in a fresh process with workspace `home` (as another user with `user`)."""
    env = {**os.environ, "CLUSTERANK_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([*(user or []), sys.executable, "-m", "clusterank", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single `error: ...` line of a command that failed on bad input (exit 2, no traceback)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


def new_home(base: Path, session_home, name: str) -> Path:
    """A fresh workspace whose models folder is the session's (minilm-static is built once)."""
    home = base / name
    home.mkdir()
    (home / "models").symlink_to(session_home.models_dir, target_is_directory=True)
    return home


def texts_for(run: int, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"run {run} profile {i}: " + " ".join(rng.choice(WORDS) for _ in range(12)) for i in range(n)]


def fill(path: Path, embedder, texts: list[str]) -> np.ndarray:
    store = EmbeddingStore(path)
    try:
        return store.embed(embedder, texts)
    finally:
        store.close()  # the last connection folds the WAL into the file


def stored_rows(path: Path) -> int:
    """Rows in the store, read with plain SQLite (takes no store lock, so it cannot disturb what is tested)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return 0


# ---- (1) repair beside a live writer

def test_repair_beside_a_live_embed_loses_nothing(session_home, static_embedder, tmp_path):
    outcomes = []
    started = time.monotonic()
    run = -1
    # RUNS runs at random moments; when none of them met the writer still holding the store (a fast writer on an
    # idle machine), up to EXTRA_RUNS more repair right after its first commit, so the race is really run
    while (run := run + 1) < RUNS or (run < RUNS + EXTRA_RUNS and not any(o.startswith("refused") for o in outcomes)):
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        home = new_home(tmp_path, session_home, f"run{run}")
        texts = texts_for(run, N_WRITER, seed)
        corpus = tmp_path / f"corpus{run}.csv"
        pd.DataFrame({"text": texts, "role": ["data engineer"] * len(texts)}).to_csv(corpus, index=False)
        store_path = home / "embeddings.sqlite"
        writer = subprocess.Popen([sys.executable, "-m", "clusterank", "embed", "--corpus", str(corpus)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "CLUSTERANK_HOME": str(home)})
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and writer.poll() is None and not stored_rows(store_path):
                time.sleep(0.05)  # the writer's first commit: it is writing from here on
            time.sleep(rng.uniform(0, 1.5) if run < RUNS else 0.0)  # the attack: repair at a random point
            during = writer.poll() is None
            repair = cli(home, "cache", "repair", timeout=120)
            out, err = writer.communicate(timeout=240)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait(10)
        assert writer.returncode == 0, err
        assert f"{N_WRITER:,} texts embedded" in out
        if repair.returncode == 2:
            line = one_error_line(repair)
            assert "in use by another clusterank process" in line and str(store_path) in line
            outcomes.append("refused")
        else:  # the writer was done (or not yet writing): the store is intact, and repair must leave it so
            assert repair.returncode == 0 and "nothing to repair" in repair.stdout, repair.stdout + repair.stderr
            outcomes.append("intact, unchanged")
        assert not list(home.glob("embeddings.sqlite.damaged-*")), "an intact store was moved aside"
        store = EmbeddingStore(store_path)
        try:
            hashes = [text_hash(t) for t in texts]
            kept = store.lookup(static_embedder.name, hashes)
            assert len(kept) == N_WRITER, f"run {run} (seed {seed}): {N_WRITER - len(kept)} rows lost"
            sample = rng.sample(range(N_WRITER), 500)
            expected = normalise(static_embedder.embed([texts[i] for i in sample]))
            np.testing.assert_allclose(np.stack([kept[hashes[i]] for i in sample]), expected, atol=1e-6)
        finally:
            store.close()
        outcomes[-1] += f" (repair {'during' if during else 'after'} the writing, seed {seed})"
    print(f"{len(outcomes)} runs in {time.monotonic() - started:.1f} s, 0 rows lost: " + "; ".join(outcomes))
    assert any(o.startswith("refused") for o in outcomes), outcomes  # the race was really run at least once


def test_a_store_opened_during_a_repair_waits_for_it(workspace, static_embedder, tmp_path):
    fill(workspace.store_path, static_embedder, texts_for(0, 50, 1))
    fd = lock_store(workspace.store_path, exclusive=True, wait_s=0)  # what `cache repair` holds while it works
    assert fd is not None
    try:
        reader = subprocess.Popen([sys.executable, "-m", "clusterank", "cache", "info"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "CLUSTERANK_HOME": str(workspace.root)})
        time.sleep(3)
        assert reader.poll() is None, "a process opened the store while a repair held it"
    finally:
        os.close(fd)
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0 and "minilm-static: 50 vectors" in out, err


def test_repair_refuses_while_another_or_this_process_has_the_store_open(workspace, static_embedder):
    fill(workspace.store_path, static_embedder, texts_for(0, 20, 2))
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from clusterank import EmbeddingStore; "
                               "s = EmbeddingStore(sys.argv[1]); print('open', flush=True); time.sleep(60)",
                               str(workspace.store_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        line = one_error_line(cli(workspace.root, "cache", "repair"))
        assert "in use by another clusterank process" in line and "nothing was changed" in line
    finally:
        holder.kill()
        holder.wait(10)
    kept_open = EmbeddingStore(workspace.store_path)  # a store this process keeps open counts too
    with pytest.raises(ClusterankError, match="in use by another clusterank process"):
        repair_store(workspace.store_path)
    kept_open.close()
    assert repair_store(workspace.store_path).kept_damaged_file is None  # intact: nothing moved


def test_repair_refuses_while_a_server_serves_the_store(session_home, tmp_path):
    pytest.importorskip("fastapi")
    from conftest import start_server

    home = new_home(tmp_path, session_home, "served")
    server = start_server(home, tmp_path / "serve.log")
    try:
        line = one_error_line(cli(home, "cache", "repair"))
        assert "in use by another clusterank process" in line
    finally:
        server.stop()
    proc = cli(home, "cache", "repair")
    assert proc.returncode == 0 and "nothing to repair" in proc.stdout, proc.stderr
    assert not list(home.glob("embeddings.sqlite.damaged-*"))


# ---- (2) and (3): an intact store is left alone; every damaged original is kept

def listing(folder: Path) -> dict[str, bytes]:
    """Every file in `folder` -> its bytes. SQLite's own -wal/-shm files are left out (they appear when a store is
    merely opened, as in tests/reliability/test_bad_input.py); a WAL holding data is not."""
    found = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.is_symlink():
            if p.name.endswith(("-wal", "-shm")):
                assert not p.name.endswith("-wal") or p.stat().st_size == 0, f"{p} holds writes"
                continue
            found[p.name] = p.read_bytes()
    return found


def test_repair_of_an_intact_store_changes_nothing(workspace, static_embedder):
    fill(workspace.store_path, static_embedder, texts_for(0, 500, 3))
    before = listing(workspace.root)
    proc = cli(workspace.root, "cache", "repair")
    assert proc.returncode == 0 and "intact" in proc.stdout and "nothing to repair" in proc.stdout, proc.stderr
    assert listing(workspace.root) == before


def flip(path: Path) -> bytes:
    """Flip bytes in a page in the middle of the file; returns the damaged file's bytes."""
    data = bytearray(path.read_bytes())
    page = len(data) // 4096 // 2
    for off in range(page * 4096 + 100, page * 4096 + 140):
        data[off] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


def test_two_quick_repairs_keep_both_damaged_originals(workspace, static_embedder, capsys):
    path = workspace.store_path
    texts = texts_for(0, 3000, 4)
    fill(path, static_embedder, texts)
    originals = []
    started = time.monotonic()
    for _ in range(2):
        originals.append(flip(path))
        assert main(["cache", "repair"]) == 0
        assert "repaired" in capsys.readouterr().out
    kept = sorted(p for p in path.parent.glob(f"{path.name}.damaged-*") if not p.name.endswith(("-wal", "-shm")))
    assert len(kept) == 2, (kept, f"{time.monotonic() - started:.2f} s")
    assert sorted(k.read_bytes() for k in kept) == sorted(originals)
    assert main(["cache", "check"]) == 0


# ---- (4) a read-only workspace

def without_override(tmp_path: Path) -> list[str] | None:
    """A command prefix under which file modes apply: as is for a user, and for root `setpriv` dropping the
    capabilities that let root ignore them (from the bounding set, so the program run has none of them). None if
    that cannot be done here."""
    if os.geteuid() != 0:
        return []
    probe_file = tmp_path / "mode-probe"
    probe_file.write_text("")
    probe_file.chmod(0o444)
    prefix = [shutil.which("setpriv") or "setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    try:
        probe = subprocess.run([*prefix, sys.executable, "-c", "import os, sys; sys.exit(os.access(sys.argv[1], "
                                "os.W_OK))", str(probe_file)], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if probe.returncode == 0 else None


def test_read_only_workspace_reads_and_says_read_only(static_embedder, tmp_path):
    user = without_override(tmp_path)
    if user is None:
        pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE here: file modes do not stop root")
    home = tmp_path / "home"
    try:
        home.mkdir()
        path = home / "embeddings.sqlite"
        texts = texts_for(0, 300, 5)
        vectors = fill(path, static_embedder, texts)
        damaged = home / "damaged"
        damaged.mkdir()
        shutil.copyfile(path, damaged / "embeddings.sqlite")
        flip(damaged / "embeddings.sqlite")
        for f in (path, damaged / "embeddings.sqlite"):
            f.chmod(0o444)
        home.chmod(0o555)
        damaged.chmod(0o555)
        before = listing(home)

        info = cli(home, "cache", "info", user=user)
        assert info.returncode == 0 and "minilm-static: 300 vectors" in info.stdout, info.stderr
        check = cli(home, "cache", "check", user=user)
        assert check.returncode == 0 and "intact" in check.stdout, check.stderr
        repair = cli(home, "cache", "repair", user=user)
        assert repair.returncode == 0 and "nothing to repair" in repair.stdout, repair.stderr
        for args, what in ((["cache", "clear", "--model", "minilm-static"], "clearing"),
                           (["cache", "repair"], "repair")):
            line = one_error_line(cli(damaged if what == "repair" else home, *args, user=user))
            assert "is read-only" in line and what in line and "delete" not in line, line
        probe = ("import sys, numpy as np; from clusterank import EmbeddingStore, ClusterankError; "
                 "from clusterank.embed.store import text_hash; s = EmbeddingStore(sys.argv[1]); "
                 "v = s.lookup('minilm-static', [text_hash(t) for t in sys.argv[2:]]); "
                 "np.save(sys.stdout.buffer, np.stack([v[text_hash(t)] for t in sys.argv[2:]]))\n"
                 "try: s.put('m', [b'x' * 16], np.ones((1, 4), np.float32))\n"
                 "except ClusterankError as e: sys.stderr.write(str(e))")
        got = subprocess.run([*user, sys.executable, "-c", probe, str(path), *texts[:5]], capture_output=True,
                             timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        assert got.returncode == 0 and "is read-only" in got.stderr.decode(), got.stderr.decode()
        np.testing.assert_array_equal(np.load(io.BytesIO(got.stdout)), vectors[:5])
        assert listing(home) == before
    finally:
        for folder in (home, home / "damaged"):
            if folder.exists():
                folder.chmod(0o755)


# ---- (5) a stored row of the wrong length; (6) a workspace root that is a file

def test_a_row_of_the_wrong_length_is_one_error_pointing_at_cache_check(workspace, capsys):
    assert main(["embed", "--n", "200"]) == 0
    path = workspace.store_path
    with sqlite3.connect(path) as con:
        con.execute("UPDATE vectors SET vec = ? WHERE hash = (SELECT MIN(hash) FROM vectors)", (b"\0" * 100,))
    con.close()
    capsys.readouterr()
    assert main(["search", "data engineer", "--n", "200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "cache check" in err[0] and "damaged" in err[0], err
    assert main(["cache", "check"]) == 2 and "DAMAGED" in capsys.readouterr().out
    assert main(["cache", "repair"]) == 0
    assert main(["search", "data engineer", "--n", "200"]) == 0


@pytest.mark.parametrize("below", [False, True], ids=["home-is-a-file", "home-under-a-file"])
def test_clusterank_home_that_is_a_file_is_one_error(tmp_path, below):
    home_file = tmp_path / "home"
    home_file.write_text("not a folder")
    home = home_file / "sub" if below else home_file
    for args in (["cache", "info"], ["search", "data engineer", "--n", "50"]):
        line = one_error_line(cli(home, *args, timeout=120))
        assert str(home_file) in line and "not a folder" in line, line
    assert home_file.read_text() == "not a folder"
