"""Comparison jobs a request can start (issue 20, class 3): at most `--max-jobs` run and `--max-queued-jobs` wait
(429 beyond), queued ones start as running ones end, finished ones are cleaned up, and a job whose server was
killed is reported `interrupted` by the next server, its orphaned child stopped. Real servers and real
`clusterank compare` children on 127.0.0.1; every wait bounded."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from conftest import start_server, wait_until  # noqa: E402

from clusterank import Workspace  # noqa: E402
from clusterank.server.jobs import CompareJobs  # noqa: E402


def _home(session_home, tmp_path):
    """A workspace of its own (its own job files and store) sharing the session's built models."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(session_home.models_dir, target_is_directory=True)
    return home


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.slow
def test_jobs_run_one_at_a_time_queue_then_429(session_home, tmp_path):
    server = start_server(_home(session_home, tmp_path), tmp_path / "serve.log", "--max-jobs", "1",
                          "--max-queued-jobs", "1")
    try:
        post = lambda: httpx.post(server.api + "/jobs/compare", json={"models": ["minilm-static"]}, timeout=30)
        first, second, third = post(), post(), post()
        assert first.status_code == 202 and first.json()["state"] == "running"
        assert second.status_code == 202 and second.json()["state"] == "queued"
        assert third.status_code == 429 and third.headers["retry-after"] and third.json()["error"]["param"] == "models"
        # cancelling the running one lets the queued one start
        httpx.delete(server.api + f"/jobs/{first.json()['id']}", timeout=10)
        job = second.json()["id"]
        wait_until(lambda: httpx.get(server.api + f"/jobs/{job}", timeout=10).json()["state"] == "running", 30,
              "the queued job starting")
        assert "args" not in httpx.get(server.api + f"/jobs/{job}", timeout=10).json()  # no command line leaks
        httpx.delete(server.api + f"/jobs/{job}", timeout=10)
        wait_until(lambda: httpx.get(server.api + f"/jobs/{job}", timeout=10).json()["state"] == "cancelled", 30,
              "the cancel")
    finally:
        server.stop()


@pytest.mark.slow
def test_a_killed_server_job_is_interrupted_and_its_child_stopped(session_home, tmp_path):
    home = _home(session_home, tmp_path)
    server = start_server(home, tmp_path / "serve.log")
    job = httpx.post(server.api + "/jobs/compare", json={"models": ["minilm-static"]}, timeout=30).json()
    child = job["pid"]
    assert _alive(child)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    # the dead server's file still says running: that is what the next server must not believe
    assert json.loads((home / "jobs" / f"{job['id']}.json").read_text())["state"] == "running"
    again = start_server(home, tmp_path / "serve2.log")
    try:
        state = httpx.get(again.api + f"/jobs/{job['id']}", timeout=10).json()
        assert state["state"] == "interrupted" and "start it again" in state["message"]
        wait_until(lambda: not _alive(child), 20, "the orphaned compare stopping")
        # the slot is free again
        assert httpx.post(again.api + "/jobs/compare", json={"models": ["minilm-static"]},
                          timeout=30).json()["state"] == "running"
    finally:
        again.stop()


def test_finished_jobs_are_cleaned_up(tmp_path):
    ws = Workspace(tmp_path / "home")
    ws.jobs_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    ages_h = {"aaaaaaaaaaa1": 48, "aaaaaaaaaaa2": 30, "aaaaaaaaaaa3": 2, "aaaaaaaaaaa4": 1, "aaaaaaaaaaa5": 0.5}
    for job_id, age in ages_h.items():
        (ws.jobs_dir / f"{job_id}.json").write_text(json.dumps(
            {"id": job_id, "state": "done", "submitted": now - age * 3600, "finished": now - age * 3600}))
        (ws.jobs_dir / job_id).mkdir()
        (ws.jobs_dir / job_id / "report.html").write_text("<html></html>")
    (ws.jobs_dir / "notes.txt").write_text("not a job")
    CompareJobs(ws, [], keep_hours=24, keep=2)
    left = sorted(p.name for p in ws.jobs_dir.iterdir() if not p.name.startswith("."))
    # over a day old: gone; of the rest only the newest two are kept; foreign files untouched
    assert left == ["aaaaaaaaaaa4", "aaaaaaaaaaa4.json", "aaaaaaaaaaa5", "aaaaaaaaaaa5.json", "notes.txt"]


def test_a_running_job_of_a_live_server_is_left_alone(tmp_path):
    ws = Workspace(tmp_path / "home")
    ws.jobs_dir.mkdir(parents=True, exist_ok=True)
    me = CompareJobs(ws, []).me  # this very process stands for a live server
    state = {"id": "bbbbbbbbbbb1", "state": "running", "submitted": time.time(), "owner": me, "pid": os.getpid()}
    (ws.jobs_dir / "bbbbbbbbbbb1.json").write_text(json.dumps(state))
    CompareJobs(ws, [])
    assert json.loads((ws.jobs_dir / "bbbbbbbbbbb1.json").read_text())["state"] == "running"
