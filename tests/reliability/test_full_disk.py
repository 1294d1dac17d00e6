"""A full disk: an embedding job on a 3 MB tmpfs stops with one clear line, the store stays intact, and once there
is room again the same command resumes and finishes with every vector right."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid

import numpy as np
import pytest

from clusterank.data.synthetic import generate_profiles
from clusterank.data.writers import write_table
from clusterank.embed.store import EmbeddingStore, normalise, text_hash

EXE = os.path.join(os.path.dirname(sys.executable), "clusterank")


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.strip()}): needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.slow
def test_full_disk_is_one_error_and_the_job_resumes_after(small_disk, tmp_path, session_home, static_embedder):
    home = small_disk / "home"
    home.mkdir()
    (home / "models").symlink_to(session_home.models_dir.resolve(), target_is_directory=True)
    frame = generate_profiles(3000, seed=13)
    corpus = tmp_path / "profiles.parquet"  # the corpus lives outside the small disk
    write_table(frame[["text", "role"]], corpus)
    env = {**os.environ, "CLUSTERANK_HOME": str(home)}
    cmd = [EXE, "embed", "--corpus", str(corpus), "--model", "minilm-static"]

    full = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert full.returncode == 2, full.stderr
    lines = [x for x in full.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "disk is full" in lines[0] and "Traceback" not in full.stderr, full.stderr
    db = home / "embeddings.sqlite"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert 0 < kept < 3000

    grown = subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], capture_output=True, text=True)
    assert grown.returncode == 0, grown.stderr
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{kept} of 3000 texts already embedded" in resumed.stderr
    texts = list(frame["text"])
    store = EmbeddingStore(db)
    have = store.lookup("minilm-static", [text_hash(t) for t in texts])
    got = np.stack([have[text_hash(t)] for t in texts])
    np.testing.assert_allclose(got, normalise(static_embedder.embed(texts)), atol=1e-6)
