"""Connections and migrations against a real PostgreSQL: bounded waits, one line per failure, no credentials shown,
migrations applied once and a newer schema refused."""

from __future__ import annotations

import time

import pytest

from clusterank.errors import ClusterankError
from clusterank.postgres import SCHEMA_VERSION, connect, migrate, open_database, shown_url, split_url


def test_migrations_apply_once_and_record_their_version(pg_url):
    with open_database(pg_url) as conn:
        assert migrate(conn, pg_url) == SCHEMA_VERSION
        versions = [v for (v,) in conn.execute("select version from clusterank_schema order by version")]
        tables = {t for (t,) in conn.execute("select tablename from pg_tables where tablename like 'clusterank_%'")}
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert {"clusterank_sync", "clusterank_jobs", "clusterank_rate", "clusterank_usage"} <= tables


def test_a_schema_from_a_newer_clusterank_is_refused_and_left_alone(pg_url):
    with open_database(pg_url) as conn:
        conn.execute("insert into clusterank_schema (version) values (%s)", (SCHEMA_VERSION + 5,))
    with pytest.raises(ClusterankError, match=f"schema version {SCHEMA_VERSION + 5}, from a newer clusterank"):
        open_database(pg_url)
    with connect(pg_url) as conn:
        assert conn.execute("select max(version) from clusterank_schema").fetchone()[0] == SCHEMA_VERSION + 5


def test_a_database_that_does_not_answer_is_one_line_after_a_bounded_wait(tmp_path):
    from conftest import free_port

    t0 = time.monotonic()
    with pytest.raises(ClusterankError, match=r"did not answer within 2 s") as err:
        connect(f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/db?table=t", wait_s=2)
    assert time.monotonic() - t0 < 30
    assert "hunter2" not in str(err.value) and "someone" not in str(err.value)
    with pytest.raises(ClusterankError, match="did not answer"):
        connect(f"postgresql://postgres@/db?host={tmp_path}", wait_s=1)  # no server on this socket folder


def test_wrong_credentials_and_a_missing_database_are_named(postgres):
    with pytest.raises(ClusterankError, match="wrong credentials"):
        connect(postgres.url("postgres").replace("postgres@", "nobody_here@"))
    with pytest.raises(ClusterankError, match="the database does not exist"):
        connect(postgres.url("no_such_db"))


def test_urls_are_shown_without_secrets_and_own_parameters_kept_from_libpq():
    url = "postgresql://ann:s3cret@db.example:5433/hr?table=profiles&sslmode=require"
    assert shown_url(url) == "postgresql://db.example:5433/hr?table=profiles"
    conninfo, own = split_url(url)
    assert own == {"table": "profiles"} and "table=" not in conninfo and "sslmode=require" in conninfo
    with pytest.raises(ClusterankError, match="not a database URL"):
        split_url("mysql://x/y")
    with pytest.raises(ClusterankError, match="port is not a number"):
        split_url("postgresql://h:99999/db")
