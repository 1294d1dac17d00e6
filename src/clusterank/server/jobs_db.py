"""Compare jobs in the database replicas share (`clusterank serve --db`): `clusterank_jobs` holds each job's state,
its cancel flag, the replica running it and that replica's last sign of life, so any replica lists, reports or
cancels any job, and a job whose replica died is reported `interrupted` instead of running forever.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from clusterank import share_rate_limits
from clusterank.server.config import ServerConfig
from clusterank.server.shared import Database, SharedRateCounter, UsageLog, replica_name

_JOBS_LOCK = 0x636C726A  # the advisory lock under which replicas admit, dispatch and recover jobs
LOST_S = 15.0
"""A running job whose replica has not shown a sign of life for this long is lost (replicas beat every second)."""


class DatabaseJobStore:
    """`jobs.FileJobStore`'s methods over `clusterank_jobs` (see the module).

    Args:
        db: the shared database.
        replica: this replica's name (`shared.replica_name`).
        lost_s: seconds without a heartbeat after which a running job's replica counts as gone.
    """

    def __init__(self, db: Database, replica: str, *, lost_s: float = LOST_S):
        self.db, self.owner, self.lost_s = db, replica, lost_s
        self.lost_message = (f"the replica running this comparison stopped answering for {lost_s:g} s (replica "
                             "lost); start it again (what was embedded stays cached, so it resumes)")

    @contextmanager
    def locked(self):
        """A session advisory lock on one pooled connection: one replica at a time admits or recovers jobs (the
        database drops the lock if the replica dies holding it)."""
        with self.db.connection() as conn:
            conn.execute("select pg_advisory_lock(%s)", (_JOBS_LOCK,))
            try:
                yield
            finally:
                conn.execute("select pg_advisory_unlock(%s)", (_JOBS_LOCK,))

    def _rows(self, where: str = "", args: tuple = ()) -> list[dict]:
        with self.db.connection() as conn:
            rows = conn.execute("select state, owner, extract(epoch from now() - updated_at) from clusterank_jobs "
                                f"{where} order by (state->>'submitted')::float8 nulls first, id", args).fetchall()
        found = []
        for state, owner, age in rows:
            state = state if isinstance(state, dict) else json.loads(state)
            state["owner"] = {"replica": owner, "quiet_s": float(age)}
            found.append(state)
        return found

    def states(self) -> list[dict]:
        """Every job's state, oldest first."""
        return self._rows()

    def read(self, job_id: str) -> dict | None:
        """One job's state (None: no such job)."""
        found = self._rows("where id = %s", (job_id,))
        return found[0] if found else None

    def write(self, state: dict) -> None:
        """Store a job's state; a running job's write is also its replica's heartbeat. A job another replica
        already ended (found lost, say, while this one could not reach the database) is not made running again."""
        body = {k: v for k, v in state.items() if k != "owner"}
        owner = state.get("owner")
        owner = self.owner if state["state"] == "running" else owner.get("replica") if isinstance(owner, dict) else owner
        with self.db.connection() as conn:
            conn.execute("insert into clusterank_jobs (id, state, owner, updated_at) values (%s, %s, %s, now()) "
                         "on conflict (id) do update set state = excluded.state, owner = excluded.owner, "
                         "updated_at = now() where clusterank_jobs.state->>'state' in ('queued', 'running') "
                         "or excluded.state->>'state' not in ('queued', 'running')",  # an ended job stays ended
                         (state["id"], json.dumps(body), owner))

    def remove(self, job_id: str) -> None:
        """Forget a finished job."""
        with self.db.connection() as conn:
            conn.execute("delete from clusterank_jobs where id = %s", (job_id,))

    def request_cancel(self, job_id: str) -> None:
        """Set the job's cancel flag; the replica running it stops it within a moment."""
        with self.db.connection() as conn:
            conn.execute("update clusterank_jobs set cancel = true where id = %s", (job_id,))

    def cancelled(self, job_id: str) -> bool:
        """Whether the job's cancel flag is set, or another replica ended it (found its replica lost)."""
        with self.db.connection() as conn:
            row = conn.execute("select cancel or state->>'state' not in ('queued', 'running') from clusterank_jobs "
                               "where id = %s", (job_id,)).fetchone()
        return bool(row and row[0])

    def beat(self, job_id: str) -> None:
        """This replica is alive and still runs the job."""
        with self.db.connection() as conn:
            conn.execute("update clusterank_jobs set updated_at = now() where id = %s and owner = %s",
                         (job_id, self.owner))

    def lost(self, state: dict) -> bool:
        """Whether a running job's replica has been quiet longer than `lost_s`."""
        owner = state.get("owner") or {}
        return float(owner.get("quiet_s", 0.0)) > self.lost_s


def shared_state(config: ServerConfig):
    """What a server process keeps in the database (`config.db`): (job store or None, usage log); also makes
    paid APIs' rate limits count in the shared table from now on in this process."""
    name = replica_name(config.port)
    if not config.db:
        return None, UsageLog(None, name)
    share_rate_limits(SharedRateCounter(config.db))
    db = Database(config.db)
    return DatabaseJobStore(db, name, lost_s=config.replica_lost_s), UsageLog(db, name)
