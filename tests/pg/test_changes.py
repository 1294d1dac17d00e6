"""A corpus table tracked by clusterank's change-log triggers: a sync reads only the rows written since the last one
(through the key's index, no scan of the table), finds what a comparison of the whole table finds, loses no write
committed while it ran, and falls back to comparing the table after a truncate or without the triggers."""

from __future__ import annotations

import time

import psycopg
import pytest
from test_corpus_db import Counting, make_table, run_cli

from clusterank import EmbeddingStore, snapshot_key, sync_corpus, track_changes
from clusterank.data.database import database_source, diff_table
from clusterank.errors import ClusterankError


def scans(url: str) -> tuple[int, int]:
    """(sequential scans, index scans) of `profiles` as the statistics say now."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set stats_fetch_consistency = none")
        return conn.execute("select seq_scan, coalesce(idx_scan, 0) from pg_stat_user_tables "
                            "where relname = 'profiles'").fetchone()


def settled_scans(url: str) -> tuple[int, int]:
    """The scan counts once they stop moving: other sessions' statistics reach the shared counters when those
    sessions end, a moment after their connections close (bounded: 10 s)."""
    last, deadline = scans(url), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = scans(url)
        if now == last:
            return now
        last = now
    return last


def synced_table(pg_url: str, n: int, workspace) -> tuple[str, Counting]:
    """A tracked `profiles` table of `n` rows, synced once with a counting model: (its corpus URL, the model)."""
    url, model = make_table(pg_url, n), Counting()
    track_changes(url)
    sync_corpus(url, model, workspace=workspace)
    return url, model


def edit(url: str) -> None:
    """Edit the text of 1-3, only the role of 4, delete 5 and 6, insert 5000, change key 7 to 5007 (its text kept);
    each statement finds its rows through the key's index."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set enable_seqscan = off")
        conn.execute("update profiles set text = text || ' and Kafka' where pid in (1, 2, 3)")
        conn.execute("update profiles set role = 'Analyst' where pid = 4")
        conn.execute("delete from profiles where pid in (5, 6)")
        conn.execute("insert into profiles values (5000, 'Staff ML engineer, ranking systems', 'ML Engineer')")
        conn.execute("update profiles set pid = 5007 where pid = 7")


def test_a_tracked_table_syncs_from_its_log_finding_what_a_whole_comparison_finds_without_a_scan(pg_url, workspace):
    url, model = make_table(pg_url, 2000), Counting()  # enough rows that fetching 5 by key beats a scan
    assert "changes are tracked (key 'pid')" in track_changes(url)
    first = sync_corpus(url, model, workspace=workspace)
    assert (first.new, first.embedded, first.via) == (2000, 2000, "read whole")
    edit(pg_url)
    store = EmbeddingStore(workspace.store_path)
    key = snapshot_key(database_source(url), "text", model.name, store)
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the oracle: the whole table compared with the snapshot
        whole = diff_table(conn, url, key, "text")
    assert {k: sorted(v) for k, v in whole[1].items()} == {"new": ["5000", "5007"], "edited": ["1", "2", "3"],
                                                           "deleted": ["5", "6", "7"]}
    before = settled_scans(pg_url)
    model.seen.clear()
    second = sync_corpus(url, model, workspace=workspace)
    assert second.via == "change log"
    assert (second.new, second.edited, second.deleted, second.unchanged) == (2, 3, 3, whole[2] - 5) == (2, 3, 3, 1994)
    assert sorted(second.corpus.ids) == sorted(whole[1]["new"] + whole[1]["edited"])
    assert second.embedded == 4 and len(model.seen) == 4  # 5007 keeps 7's text, which the cache holds already
    deadline = time.monotonic() + 10
    while scans(pg_url)[1] == before[1] and time.monotonic() < deadline:  # the sync's statistics arrive
        time.sleep(0.2)
    after = settled_scans(pg_url)
    assert after[1] > before[1] and after[0] == before[0], (before, after)  # rows fetched by key; the table never scanned
    third = sync_corpus(url, model, workspace=workspace)
    assert (third.via, third.changed, third.deleted, third.unchanged) == ("change log", 0, 0, 1999)
    with psycopg.connect(pg_url) as conn:  # every mark has seen the log rows so far: trimmed
        assert conn.execute("select count(*) from clusterank_changes").fetchone()[0] == 0


def test_a_write_committed_while_a_sync_ran_is_found_by_the_next_one(pg_url, workspace):
    url, model = synced_table(pg_url, 10, workspace)
    with psycopg.connect(pg_url) as writer:  # a transaction open across the next sync, committed after it
        writer.execute("update profiles set text = 'Rust systems engineer' where pid = 1")
        during = sync_corpus(url, model, workspace=workspace)
        assert (during.via, during.changed) == ("change log", 0)  # not committed: not seen yet
        writer.commit()
    after = sync_corpus(url, model, workspace=workspace)
    assert (after.via, after.edited, after.corpus.texts) == ("change log", 1, ["Rust systems engineer"])
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a cache that synced once, 31 days ago, and is gone
        conn.execute("insert into clusterank_sync_mark (source, rel, seen, rows, at) select 'gone laptop', rel, "
                     "'1:1:', 10, now() - interval '31 days' from clusterank_sync_mark")
        conn.execute("update profiles set text = 'Go backend engineer' where pid = 2")
    assert sync_corpus(url, model, workspace=workspace).edited == 1
    with psycopg.connect(pg_url) as conn:  # its mark is forgotten, so it no longer holds the log back
        assert conn.execute("select source from clusterank_sync_mark").fetchall() != [] and conn.execute(
            "select count(*) from clusterank_sync_mark where source = 'gone laptop'").fetchone()[0] == 0
        assert conn.execute("select count(*) from clusterank_changes").fetchone()[0] == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a reload: reading the table whole is cheaper
        conn.execute("update profiles set text = text || ' (reloaded)'")
    reload = sync_corpus(url, model, workspace=workspace)
    assert (reload.via, reload.edited, reload.embedded) == ("read whole", 10, 10)
    store = EmbeddingStore(workspace.store_path)
    store.clear(model.name)  # the cache lost the vectors the snapshot stands for: every row is checked again
    store.close()
    again = sync_corpus(url, model, workspace=workspace)
    assert (again.via, again.changed, again.embedded) == ("read whole", 0, 10)


def test_a_truncate_or_removed_triggers_send_the_sync_back_to_comparing_the_table(pg_url, workspace, capsys):
    url, model = synced_table(pg_url, 10, workspace)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("truncate profiles")
        conn.execute("insert into profiles values (1, 'Data engineer number 1, Spark and SQL pipelines', 'Analyst')")
    after = sync_corpus(url, model, workspace=workspace)
    assert after.via != "change log" and (after.deleted, after.unchanged) == (9, 1)
    assert sync_corpus(url, model, workspace=workspace).via == "change log"
    assert track_changes(url, on=False).endswith("changes are no longer tracked")
    with psycopg.connect(pg_url) as conn:
        triggers = conn.execute("select count(*) from pg_trigger where tgname like 'clusterank%%'").fetchone()[0]
        assert triggers == 0 and conn.execute("select count(*) from clusterank_sync_mark").fetchone()[0] == 0
    assert sync_corpus(url, model, workspace=workspace).via == "compared in SQL"
    with pytest.raises(ClusterankError, match=r"a \?query= cannot be tracked; track the table it reads"):
        track_changes(pg_url + "&id=pid&query=select * from profiles")
    code, err = run_cli(["embed", "--corpus", "profiles.parquet", "--track-changes"], capsys)
    assert code == 2 and "apply to a postgresql://...?table= corpus" in err and len(err.strip().splitlines()) == 1
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create table notes (body text)")
        conn.execute("create table memos (k integer, body text)")
    with pytest.raises(ClusterankError, match="needs a key column"):
        track_changes(pg_url + "&table=notes", text_column="body")
    assert "warning: no index starts with 'k', so each sync still scans the table" in track_changes(
        pg_url + "&table=memos&id=k", text_column="body")


def test_the_cli_tracks_a_table_and_later_syncs_read_its_log(pg_url, workspace, capsys):
    url = make_table(pg_url, 12)
    code, err = run_cli(["embed", "--corpus", url, "--model", "minilm-static", "--track-changes"], capsys)
    assert code == 0 and "changes are tracked (key 'pid')" in err and "12 new" in err
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update profiles set text = 'Analytics engineer, dbt and Looker' where pid = 3")
    code, err = run_cli(["embed", "--corpus", url, "--model", "minilm-static"], capsys)
    assert code == 0 and "0 new, 1 edited, 0 deleted, 11 unchanged; 1 texts embedded" in err
    assert "rows found by change log" in err


def test_two_syncs_of_one_snapshot_at_once_take_turns(pg_url, workspace):
    """A server's workers refreshing together, or a cron job beside them: the second sync waits for the first and
    finds what it recorded, instead of recording the same rows again (which the snapshot's key would refuse)."""
    from concurrent.futures import ThreadPoolExecutor

    url = make_table(pg_url, 40)
    track_changes(url)

    def both():
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(lambda _: sync_corpus(url, Counting(), workspace=workspace), range(2)))

    assert sorted(r.new for r in both()) == [0, 40]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update profiles set text = text || ' and Flink' where pid <= 5")
    again = both()
    assert sorted(r.edited for r in again) == [0, 5] and {r.unchanged for r in again} == {35, 40}
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from clusterank_sync").fetchone()[0] == 40


def test_a_quoted_schema_table_and_text_key_are_tracked(pg_url, workspace):
    """Names that need quoting everywhere (a schema, a table and a key column with spaces and capitals, a text key
    with spaces around it): the triggers log them, and the log finds what the whole comparison finds."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('create schema "Talent"')
        conn.execute('create table "Talent"."Pool ""A""" ("Profile ID" text primary key, "text" text not null)')
        conn.execute('insert into "Talent"."Pool ""A""" select \' p\' || g || \' \', \'Backend engineer \' || g '
                     "from generate_series(1, 12) g")
    url = pg_url + '&table=Talent.Pool "A"&id=Profile ID'
    assert "changes are tracked (key 'Profile ID')" in track_changes(url)
    model = Counting()
    assert sync_corpus(url, model, workspace=workspace).new == 12
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('update "Talent"."Pool ""A""" set text = \'Data engineer\' where "Profile ID" = \' p1 \'')
        conn.execute('delete from "Talent"."Pool ""A""" where "Profile ID" = \' p2 \'')
        conn.execute('insert into "Talent"."Pool ""A""" values (\' p99 \', \'Platform engineer\')')
    store = EmbeddingStore(workspace.store_path)
    key = snapshot_key(database_source(url), "text", model.name, store)
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        whole = diff_table(conn, url, key, "text")
    synced = sync_corpus(url, model, workspace=workspace)
    assert synced.via == "change log"
    assert sorted(synced.corpus.ids) == sorted(whole[1]["new"] + whole[1]["edited"]) == ["p1", "p99"]
    assert (synced.new, synced.edited, synced.deleted) == (1, 1, 1) and whole[1]["deleted"] == ["p2"]


def test_the_teams_writers_need_no_rights_on_clusterank_tables(pg_url, workspace):
    """A writer with rights on the profiles table only: its writes are logged (the trigger function runs as whoever
    installed it), and it cannot attach that function to a table of its own."""
    url, model = synced_table(pg_url, 6, workspace)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("drop role if exists hr_writer")
        conn.execute("create role hr_writer login")
        conn.execute("grant select, insert, update, delete on profiles to hr_writer")
        conn.execute("grant usage, create on schema public to hr_writer")
    try:
        with psycopg.connect(pg_url.replace("postgres@", "hr_writer@"), autocommit=True) as writer:
            writer.execute("update profiles set text = 'Site reliability engineer' where pid = 2")
            writer.execute("create table mine (id integer)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                writer.execute("create trigger t after insert on mine referencing new table as new_rows for each "
                               "statement execute function clusterank_note_change('id')")
        synced = sync_corpus(url, model, workspace=workspace)
        assert (synced.via, synced.edited, synced.corpus.texts) == ("change log", 1, ["Site reliability engineer"])
        with pytest.raises(ClusterankError, match=r"^database postgresql:///t_\w+\?table=profiles: (must be owner|permission denied)"):
            track_changes(url.replace("postgres@", "hr_writer@"), on=False)  # not its table: one line, no change
        assert sync_corpus(url, model, workspace=workspace).via == "change log"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("drop table if exists mine")
            conn.execute("drop owned by hr_writer")
            conn.execute("drop role hr_writer")
