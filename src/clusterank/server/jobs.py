"""Background jobs the web page starts: `clusterank compare` on the server's corpus, as a child process.

Each job's state lives in a JSON file in the workspace (`jobs/<id>.json`), so any worker can report or
cancel it; with `serve --db` it lives in the database instead (`jobs_db.DatabaseJobStore`), so any replica can. At most `max_running` jobs run at once across every worker (admission under a file lock); up to
`max_queued` more wait their turn and any worker starts them; beyond that a request gets 429. Finished jobs
are deleted after `keep_hours` (and beyond the newest `keep` finished ones). A job whose server died (kill -9,
a crash) is marked `interrupted` by the next server on this workspace, and its orphaned child is stopped.
Cancelling stops the child; what it embedded stays cached, so running the same comparison again resumes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from clusterank import Workspace, atomic_path
from clusterank.server.errors import ApiError

MODEL_LINE = re.compile(r"model (\d+) of (\d+): (.+)")
STEP_LINE = re.compile(r": step (\d+) of (\d+): ")
PERCENT = re.compile(r"(\d{1,3})%\|")
JOB_ID = re.compile(r"^[0-9a-f]{12}$")
ACTIVE = ("queued", "running")
log = logging.getLogger("clusterank.server")
TICK_S = 0.5
"""How often a worker looks for a queued job it may start, and for its own jobs' cancel requests."""


def job_progress(model: int, models: int, step: int = 0, steps: int = 0, percent: float = 0.0) -> float:
    """A comparison's progress in [0, 0.99] from what its log last said: the models done, the steps of this model done
    (`clusterank.evaluate.compare.STEPS`, each logged as it starts) and the share of the running step a progress bar
    shows (`percent`, embedding); without steps, 80% of a model is its progress bar. 1.0 only when the job is done."""
    if not model or not models:
        return 0.0
    within = (step - 1 + percent / 100) / steps if steps else percent / 100 * 0.8
    return round(min(0.99, (model - 1 + min(1.0, within)) / models), 3)


def _write(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(state))


def _started_at(pid: int) -> str | None:
    """The kernel's start time of a process (so a reused pid is not taken for the one that started a job);
    None when the process does not exist."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"  # alive, start time unknown (no /proc)


def _alive(owner: dict | None) -> bool:
    if not owner:
        return False
    started = _started_at(int(owner["pid"]))
    return started is not None and (started == owner.get("started") or "?" in (started, owner.get("started")))


class FileJobStore:
    """Job states as JSON files in the workspace (`jobs/<id>.json`, a `.cancel` file beside a job asked to stop),
    under a file lock: the store of one machine's workers. `jobs_db.DatabaseJobStore` has the same methods."""

    lost_message = ("the server stopped while this comparison ran; start it again (what was embedded stays cached, "
                    "so it resumes)")

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.owner = {"pid": os.getpid(), "started": _started_at(os.getpid())}

    def _path(self, job_id: str) -> Path:
        return self.workspace.jobs_dir / f"{job_id}.json"

    @contextmanager
    def locked(self):
        """The workspace's job lock: admission, dispatch and recovery see one consistent set of jobs."""
        with open(self.workspace.jobs_dir / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def states(self) -> list[dict]:
        """Every job's state, oldest first."""
        states = []
        for path in self.workspace.jobs_dir.glob("*.json"):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # written atomically, so only a foreign file can be unreadable
            if isinstance(state, dict) and JOB_ID.match(str(state.get("id", ""))):
                states.append(state)
        return sorted(states, key=lambda s: s.get("submitted", s.get("started", 0)))

    def read(self, job_id: str) -> dict | None:
        """One job's state (None: no such job)."""
        try:
            return json.loads(self._path(job_id).read_text())
        except FileNotFoundError:
            return None

    def write(self, state: dict) -> None:
        """Store a job's state (atomically)."""
        _write(self._path(state["id"]), state)

    def remove(self, job_id: str) -> None:
        """Forget a finished job."""
        for leftover in (self._path(job_id).with_suffix(".cancel"), self._path(job_id)):
            leftover.unlink(missing_ok=True)

    def request_cancel(self, job_id: str) -> None:
        """Ask the worker running the job to stop it."""
        self._path(job_id).with_suffix(".cancel").touch()

    def cancelled(self, job_id: str) -> bool:
        """Whether the job was asked to stop."""
        return self._path(job_id).with_suffix(".cancel").exists()

    def beat(self, job_id: str) -> None:
        """The running worker's sign of life (a file job's is its process, so nothing to write)."""

    def lost(self, state: dict) -> bool:
        """Whether a running job's worker is gone."""
        return not _alive(state.get("owner"))


class CompareJobs:
    """Starts, queues, follows, cancels and cleans up comparison jobs in one workspace.

    Args:
        workspace: where job files live (`jobs/`).
        corpus_args: the `clusterank compare` options naming the server's corpus and queries.
        max_running: jobs running at once, across every worker on this workspace.
        max_queued: jobs waiting beyond those (429 beyond).
        keep_hours: how long a finished job (its state and report folder) is kept.
        keep: the most finished jobs kept, newest first.
        env: environment variables each job's child gets over the server's (`ServerConfig.job_env`: --db).
    """

    def __init__(self, workspace: Workspace, corpus_args: list[str], *, max_running: int = 1, max_queued: int = 8,
                 keep_hours: float = 24.0, keep: int = 50, store=None, env: dict[str, str] | None = None):
        self.workspace, self.corpus_args, self.env = workspace, corpus_args, dict(env or {})
        self.max_running, self.max_queued, self.keep_hours, self.keep = max_running, max_queued, keep_hours, keep
        self.store = store or FileJobStore(workspace)
        """Where job states live: `FileJobStore` (this workspace) or `jobs_db.DatabaseJobStore` (shared)."""
        self.me = self.store.owner
        self._dispatcher: threading.Thread | None = None
        self._start_lock = threading.Lock()
        with self._locked():
            self._recover()
            self._clean()
            waiting = any(s["state"] == "queued" for s in self._states())
        if waiting:  # queued before a restart: this worker starts them in turn
            self._ensure_dispatcher()

    # ---- the state files

    def path(self, job_id: str) -> Path:
        """The folder stem of a job's files in the workspace (`<stem>/` holds its report).

        Raises:
            ApiError: 404 for an id that is not a job id (ids are 12 hex digits; nothing else reaches the disk).
        """
        if not JOB_ID.match(job_id):
            raise ApiError(404, f"no job {job_id!r}", param="job")
        return self.workspace.jobs_dir / f"{job_id}.json"

    def _states(self) -> list[dict]:
        return self.store.states()

    def _locked(self):
        return self.store.locked()

    # ---- admission

    def start(self, models: list[str]) -> dict:
        """Run `clusterank compare --models ...` on the server's corpus now, or queue it; returns its first state.

        Raises:
            ApiError: 429 (with Retry-After) when `max_running` jobs run and `max_queued` more wait.
        """
        job_id = uuid.uuid4().hex[:12]
        state = {"id": job_id, "state": "queued", "progress": 0.0, "message": "waiting for a running comparison "
                 "to end", "models": models, "submitted": time.time(), "started": None, "finished": None,
                 "report": None, "error": None, "args": self.corpus_args}
        with self._locked():
            self._clean()
            self._recover()
            states = self._states()
            running = sum(s["state"] == "running" for s in states)
            queued = sum(s["state"] == "queued" for s in states)
            if running >= self.max_running and queued >= self.max_queued:
                raise ApiError(429, f"{running} comparison(s) are running and {queued} are waiting, the most this "
                                    "server takes (--max-jobs, --max-queued-jobs); retry when one ends",
                               param="models", headers={"retry-after": "30"})
            if running < self.max_running:
                self._launch(state)
            else:
                self.store.write(state)
        self._ensure_dispatcher()
        return state

    def _launch(self, state: dict) -> None:
        """Start a job's child (under the lock) and follow it from this worker."""
        out_dir = self.workspace.jobs_dir / state["id"]
        child = subprocess.Popen([sys.executable, "-m", "clusterank", "compare", "--models", ",".join(state["models"]),
                                  "--skip-unanswerable", "--out", str(out_dir), *state["args"]],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env={**os.environ, **self.env, "CLUSTERANK_HOME": str(self.workspace.root)})
        state.update(state="running", message="starting", started=time.time(), pid=child.pid, owner=self.me)
        self.store.write(state)
        threading.Thread(target=self._follow, args=(child, state["id"], state, out_dir), daemon=True).start()
        threading.Thread(target=self._watch, args=(child, state["id"]), daemon=True).start()

    def _ensure_dispatcher(self) -> None:
        with self._start_lock:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._dispatch, daemon=True)
                self._dispatcher.start()

    def _dispatch(self) -> None:
        """Start queued jobs as running ones end (any worker may start any queued job); stop when none wait."""
        last_clean = time.monotonic()
        while True:
            time.sleep(TICK_S)
            with self._locked():
                if time.monotonic() - last_clean > 60:
                    self._clean()
                    last_clean = time.monotonic()
                self._recover()
                states = self._states()
                waiting = [s for s in states if s["state"] == "queued"]
                if not waiting:
                    return
                if sum(s["state"] == "running" for s in states) < self.max_running:
                    self._launch(waiting[0])

    # ---- one running job

    def _watch(self, child: subprocess.Popen, job_id: str) -> None:
        last_beat = time.monotonic()
        while child.poll() is None:  # a cancel request stops the child within 0.2 s, however quiet it is
            if self._cancelled(job_id):
                child.terminate()
                return
            if time.monotonic() - last_beat > 1.0:
                self._quietly(self.store.beat, job_id)
                last_beat = time.monotonic()
            time.sleep(0.2)

    def _quietly(self, action, *args) -> None:
        """Run a store action a running job can do without (a progress write, a heartbeat): when the database is
        away, the next one writes again."""
        try:
            action(*args)
        except ApiError as exc:
            log.warning("job store: %s", exc.message)

    def _follow(self, child: subprocess.Popen, job_id: str, state: dict, out_dir: Path) -> None:
        model_i, n_models, buffer, last_line = 0, len(state["models"]), "", ""
        step, steps, percent = 0, 0, 0.0
        last_write = 0.0
        while True:
            chunk = child.stderr.read1(4096) if hasattr(child.stderr, "read1") else child.stderr.read(4096)
            if not chunk:
                break
            buffer = (buffer + chunk.decode(errors="replace"))[-65536:]  # a line without end cannot grow forever
            *lines, buffer = re.split(r"[\r\n]", buffer)
            for line in lines:
                if not line.strip():
                    continue
                last_line = line.strip()[:500]
                found = MODEL_LINE.search(line)
                if found:
                    model_i, n_models = int(found.group(1)), int(found.group(2))
                    state["message"] = f"model {model_i} of {n_models}: {found.group(3)[:200]}"
                    stepped = STEP_LINE.search(line)
                    step, steps = (int(stepped.group(1)), int(stepped.group(2))) if stepped else (0, 0)
                    percent = 0.0  # a bar seen from here on belongs to this step
                bar = PERCENT.search(line)
                if bar:
                    percent = float(bar.group(1))
                if model_i:  # never backwards (a step's bar starts again at 0%)
                    state["progress"] = max(state["progress"], job_progress(model_i, n_models, step, steps, percent))
            if time.monotonic() - last_write > 0.3:
                self._quietly(self.store.write, dict(state))
                last_write = time.monotonic()
        code = child.wait()
        if self._cancelled(job_id):
            state.update(state="cancelled", message="cancelled; what was embedded stays cached")
        elif code == 0:
            self.workspace.keep_latest_report("compare", out_dir / "report.html")
            state.update(state="done", progress=1.0, message="done", report="/reports/compare")
        else:
            state.update(state="failed", error=last_line.removeprefix("error: ") or f"exit status {code}",
                         message="failed")
        state["finished"] = time.time()
        while True:  # the end of a job is not lost: written as soon as the store answers again
            try:
                with self._locked():
                    self.store.write(state)
                return
            except ApiError as exc:
                log.warning("job %s ended %s; waiting for the job store: %s", job_id, state["state"], exc.message)
                time.sleep(1.0)

    def _cancelled(self, job_id: str) -> bool:
        try:
            return self.store.cancelled(job_id)
        except ApiError:
            return False  # asked again in a moment

    # ---- restarts and retention (under the lock)

    def _recover(self) -> None:
        """Jobs left `running` by a server that died are `interrupted`; their orphaned children are stopped."""
        for state in self._states():
            if state["state"] != "running" or not self.store.lost(state):
                continue
            pid = state.get("pid")
            if pid and _is_our_child(int(pid), state["id"]):
                try:
                    os.kill(int(pid), 15)
                except OSError:
                    pass
            state.update(state="interrupted", finished=time.time(), message=self.store.lost_message)
            self.store.write(state)

    def _clean(self) -> None:
        """Delete finished jobs older than `keep_hours`, and all but the newest `keep` finished ones."""
        finished = [s for s in self._states() if s["state"] not in ACTIVE]
        finished.sort(key=lambda s: s.get("finished") or s.get("submitted") or 0, reverse=True)
        cutoff = time.time() - self.keep_hours * 3600
        for i, state in enumerate(finished):
            if i >= self.keep or (state.get("finished") or state.get("submitted") or 0) < cutoff:
                shutil.rmtree(self.path(state["id"]).with_suffix(""), ignore_errors=True)
                self.store.remove(state["id"])

    # ---- what the routes call

    def status(self, job_id: str) -> dict:
        """A job's state as its store holds it (without the command line it runs); a running job whose worker is
        gone is reported `interrupted` (any replica notices)."""
        self.path(job_id)
        state = self.store.read(job_id)
        if state is None:
            raise ApiError(404, f"no job {job_id!r}", param="job")
        if state["state"] == "running" and self.store.lost(state):
            with self._locked():
                self._recover()
            state = self.store.read(job_id) or state
        return _public(state)

    def cancel(self, job_id: str) -> dict:
        """Ask the job to stop (the worker following it stops the child within a moment); a queued job ends now."""
        self.path(job_id)
        with self._locked():
            self._recover()
            state = self.store.read(job_id)
            if state is None:
                raise ApiError(404, f"no job {job_id!r}", param="job")
            if state["state"] == "queued":
                state.update(state="cancelled", message="cancelled before it started", finished=time.time())
                self.store.write(state)
            elif state["state"] == "running":
                self.store.request_cancel(job_id)
                state["message"] = "cancelling"
        return _public(state)


def _public(state: dict) -> dict:
    """A job's state as the routes show it: without the command line it runs and the worker that owns it."""
    return {k: v for k, v in state.items() if k not in ("args", "owner")}


def _is_our_child(pid: int, job_id: str) -> bool:
    """Whether `pid` is still the `clusterank compare` of this job (its command line names the job's folder)."""
    try:
        return job_id in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
