"""A real interruption: Ctrl-C (SIGINT) during `clusterank embed`, then the same command resumes."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_ctrl_c_keeps_finished_chunks_and_the_rerun_resumes(workspace):
    exe = os.path.join(os.path.dirname(sys.executable), "clusterank")
    cmd = [exe, "embed", "--model", "paraphrase-MiniLM-L3-v2", "--n", "2000"]  # 4 chunks: 3 left after the first
    # a job started in the background by a non-interactive shell inherits SIGINT as ignored, and Python then
    # keeps ignoring it: give the child the default disposition, as a terminal would
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
    db = workspace.store_path
    deadline = time.time() + 300
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if stored:
            break
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted: what was embedded so far is cached" in err and "Traceback" not in err
    kept = sqlite3.connect(db).execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert 0 < kept < 2000
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{kept} of 2000 texts already embedded, resuming with {2000 - kept}" in rerun.stderr
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 2000
