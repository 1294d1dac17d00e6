"""`clusterank serve --db`: a compare job's pgvector pipelines keep their vectors in the database the server's flag
names, not only where `CLUSTERANK_DB` points (the job runs `clusterank compare` as a child process, which gets the
flag's database as that variable). A real PostgreSQL and a real `clusterank compare` child; every wait bounded."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi")

from clusterank import Workspace  # noqa: E402
from clusterank.index.pgvector import DB_ENV  # noqa: E402
from clusterank.server.config import ServerConfig  # noqa: E402
from clusterank.server.jobs import CompareJobs  # noqa: E402


def test_job_env_names_the_db_flag_and_nothing_without_it():
    url = "postgresql://search@db.internal/hr"
    assert ServerConfig(db=url).job_env() == {DB_ENV: url}
    assert ServerConfig().job_env() == {}


@pytest.mark.slow
def test_a_servers_compare_job_runs_pgvector_in_the_db_flag_database(session_home, tmp_path, pg_url, monkeypatch):
    import pandas as pd
    import psycopg

    monkeypatch.delenv(DB_ENV, raising=False)  # only the server's --db names a database
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(session_home.models_dir, target_is_directory=True)
    config = ServerConfig(db=pg_url)
    jobs = CompareJobs(Workspace(home), [*config.corpus_args(), "--pipelines", "exact,pgvector:index=exact", "--n",
                                        "300", "--no-maps", "--hide-labels", "0"], env=config.job_env())
    job = jobs.start(["minilm-static"])["id"]
    deadline = time.monotonic() + 400
    while jobs.status(job)["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    state = jobs.status(job)
    assert state["state"] == "done", state
    with psycopg.connect(pg_url) as conn:
        tables = [t for (t,) in conn.execute("select tablename from pg_tables where tablename like "
                                             "'clusterank_vector%'")]
        assert len(tables) == 1 and conn.execute(f"select count(*) from {tables[0]}").fetchone()[0] == 300
    per_query = pd.read_csv(home / "jobs" / job / "per_query.csv")
    exact, in_sql = (per_query[per_query["pipeline"] == p] for p in ("exact", "pgvector:index=exact"))
    assert len(exact) == len(in_sql) > 0
    assert in_sql["nDCG@10"].tolist() == pytest.approx(exact["nDCG@10"].tolist(), abs=1e-6)
