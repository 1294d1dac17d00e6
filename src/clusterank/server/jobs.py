"""Background jobs the web page starts: `clusterank compare` on the server's corpus, as a child process.

Each job's state lives in a JSON file in the workspace (`jobs/<id>.json`), so any worker can report or
cancel it; the worker that started it follows the child's progress lines and writes the file. Cancelling
stops the child; what it embedded stays cached, so running the same comparison again resumes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from clusterank.server.errors import ApiError
from clusterank.workspace import Workspace, atomic_path

MODEL_LINE = re.compile(r"model (\d+) of (\d+): (.+)")
PERCENT = re.compile(r"(\d{1,3})%\|")
JOB_ID = re.compile(r"^[0-9a-f]{12}$")


def _write(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(state))


class CompareJobs:
    """Starts, follows and cancels comparison jobs in one workspace."""

    def __init__(self, workspace: Workspace, corpus_args: list[str]):
        self.workspace, self.corpus_args = workspace, corpus_args

    def path(self, job_id: str) -> Path:
        """The status file of a job.

        Raises:
            ApiError: 404 for an id that is not a job id (ids are 12 hex digits; nothing else reaches the disk).
        """
        if not JOB_ID.match(job_id):
            raise ApiError(404, f"no job {job_id!r}", param="job")
        return self.workspace.jobs_dir / f"{job_id}.json"

    def start(self, models: list[str]) -> dict:
        """Start `clusterank compare --models ...` on the server's corpus; returns the job's first state."""
        job_id = uuid.uuid4().hex[:12]
        out_dir = self.workspace.jobs_dir / job_id
        state = {"id": job_id, "state": "running", "progress": 0.0, "message": "starting", "models": models,
                 "started": time.time(), "report": None, "error": None}
        path = self.path(job_id)
        _write(path, state)
        child = subprocess.Popen([sys.executable, "-m", "clusterank", "compare", "--models", ",".join(models),
                                  "--skip-unanswerable", "--out", str(out_dir), *self.corpus_args],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env={**os.environ, "CLUSTERANK_HOME": str(self.workspace.root)})
        state["pid"] = child.pid
        _write(path, state)
        threading.Thread(target=self._follow, args=(child, path, state, out_dir), daemon=True).start()
        threading.Thread(target=self._watch, args=(child, path), daemon=True).start()
        return state

    def _watch(self, child: subprocess.Popen, path: Path) -> None:
        while child.poll() is None:  # a cancel request stops the child within 0.2 s, however quiet it is
            if self._cancelled(path):
                child.terminate()
                return
            time.sleep(0.2)

    def _follow(self, child: subprocess.Popen, path: Path, state: dict, out_dir: Path) -> None:
        model_i, n_models, buffer, last_line = 0, len(state["models"]), "", ""
        last_write = 0.0
        while True:
            chunk = child.stderr.read1(4096) if hasattr(child.stderr, "read1") else child.stderr.read(4096)
            if not chunk:
                break
            buffer += chunk.decode(errors="replace")
            *lines, buffer = re.split(r"[\r\n]", buffer)
            for line in lines:
                if not line.strip():
                    continue
                last_line = line.strip()
                found = MODEL_LINE.search(line)
                if found:
                    model_i, n_models = int(found.group(1)), int(found.group(2))
                    state["message"] = f"model {model_i} of {n_models}: {found.group(3)}"
                percent = PERCENT.search(line)
                if percent and model_i:
                    state["progress"] = round((model_i - 1 + int(percent.group(1)) / 100 * 0.8) / n_models, 3)
            if time.monotonic() - last_write > 0.3:
                _write(path, {**state, "cancel": self._cancelled(path)})
                last_write = time.monotonic()
        code = child.wait()
        if self._cancelled(path):
            state.update(state="cancelled", message="cancelled; what was embedded stays cached")
        elif code == 0:
            report = out_dir / "report.html"
            self.workspace.keep_latest_report("compare", report)
            state.update(state="done", progress=1.0, message="done", report="/reports/compare")
        else:
            state.update(state="failed", error=last_line.removeprefix("error: ") or f"exit status {code}",
                         message="failed")
        _write(path, state)

    def _cancelled(self, path: Path) -> bool:
        return path.with_suffix(".cancel").exists()

    def status(self, job_id: str) -> dict:
        """A job's state as its status file holds it."""
        path = self.path(job_id)
        if not path.exists():
            raise ApiError(404, f"no job {job_id!r}", param="job")
        return json.loads(path.read_text())

    def cancel(self, job_id: str) -> dict:
        """Ask the job to stop (the worker following it stops the child within a moment)."""
        state = self.status(job_id)
        if state["state"] == "running":
            self.path(job_id).with_suffix(".cancel").touch()
            state["message"] = "cancelling"
        return state
