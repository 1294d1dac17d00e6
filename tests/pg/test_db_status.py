"""`clusterank db status`: what clusterank keeps in a real PostgreSQL, read without writing anything: a tracked
table with its pending log rows and marks, a sync snapshot with its version, a pgvector table with its rows; a
database clusterank never used shows schema version 0 and nothing else; no database named is one line."""

from __future__ import annotations

import json

import psycopg
from test_corpus_db import Counting, make_table, run_cli

from clusterank import database_status, sync_corpus, track_changes


def test_db_status_shows_tracked_tables_snapshots_and_vector_tables(pg_url, workspace, capsys):
    url, model = make_table(pg_url, 12), Counting()
    track_changes(url)
    sync_corpus(url, model, workspace=workspace)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update profiles set text = text || ' and Kafka' where pid <= 3")  # logged, not yet synced
        conn.execute("create table clusterank_vector_4_abc (id text primary key, embedding vector(4))")
        conn.execute("insert into clusterank_vector_4_abc values ('a', '[1,0,0,0]'), ('b', '[0,1,0,0]')")
        tables = conn.execute("select count(*) from pg_tables").fetchone()[0]
    found = database_status(pg_url)
    assert found["schema_version"] >= 5
    assert [(t["table"], t["key"], t["pending_log_rows"], t["marks"]) for t in found["tracked"]] == [
        ("profiles", "pid", 3, 1)]
    [snapshot] = found["snapshots"]
    assert snapshot["rows"] == 12 and snapshot["version"] == 1 and "counting-hash" in snapshot["source"]
    assert [(v["table"], v["rows"]) for v in found["vector_tables"]] == [("clusterank_vector_4_abc", 2)]
    sync_corpus(url, model, workspace=workspace)
    again = database_status(pg_url)
    assert again["tracked"][0]["pending_log_rows"] == 0 and again["snapshots"][0]["version"] == 2
    from clusterank.cli import main

    assert main(["db", "status", "--db", pg_url]) == 0
    shown = capsys.readouterr().out
    assert "tracked tables" in shown and "clusterank_vector_4_abc" in shown and "compare jobs: none" in shown
    assert as_json(capsys, ["db", "status", "--db", pg_url, "--json"])["tracked"][0]["table"] == "profiles"
    with psycopg.connect(pg_url) as conn:  # nothing was written by any of it
        assert conn.execute("select count(*) from pg_tables").fetchone()[0] == tables


def as_json(capsys, argv: list[str]) -> dict:
    from clusterank.cli import main

    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_a_database_clusterank_never_used_and_no_database_named(postgres, capsys, monkeypatch):
    fresh = postgres.create_database()
    try:
        found = database_status(fresh)
        assert (found["schema_version"], found["tracked"], found["snapshots"], found["jobs"]) == (0, [], [], {})
        with psycopg.connect(fresh) as conn:  # read only: no clusterank table was made
            assert conn.execute("select count(*) from pg_tables where tablename like 'clusterank%%'").fetchone()[0] == 0
    finally:
        postgres.drop_database(fresh)
    monkeypatch.delenv("CLUSTERANK_DB", raising=False)
    code, err = run_cli(["db", "status"], capsys)
    assert code == 2 and "--db postgresql://... or CLUSTERANK_DB" in err and len(err.strip().splitlines()) == 1
