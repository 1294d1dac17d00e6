"""A corpus in a real PostgreSQL table: read in batches with ids from its key column, synced so that only new and
edited rows are embedded, and one line (exit 2) for each bad input, a lost connection leaving the snapshot whole."""

from __future__ import annotations

import hashlib

import numpy as np
import psycopg
import pytest

from clusterank import Embedder, EmbeddingStore, load_profiles, read_database, sync_corpus
from clusterank.cli import main
from clusterank.errors import ClusterankError


def make_table(url: str, n: int = 40) -> str:
    """A `profiles` table keyed by `pid` (no `id` column) of `n` rows; the corpus URL for it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('create table profiles (pid integer primary key, "text" text not null, role text)')
        conn.execute("insert into profiles select g, 'Data engineer number ' || g || ', Spark and SQL pipelines', "
                     "case when g %% 2 = 0 then 'Data Engineer' else 'Analyst' end from generate_series(1, %s) g", (n,))
    return url + "&table=profiles"


class Counting(Embedder):
    """A small deterministic model (the sync is under test here, not a model) that counts the texts it embeds."""

    name, dims, max_tokens = "counting-hash", 16, 512

    def __init__(self):
        self.seen: list[str] = []

    def embed(self, texts, *, progress=False):
        self.seen.extend(texts)
        return np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], np.uint8) + 1.0 for t in texts],
                        np.float32)


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_a_table_reads_in_batches_with_ids_from_its_key_and_labels_like_a_file(pg_url):
    url = make_table(pg_url, 23)
    assert len(read_database(url, batch_rows=5)) == 23  # five round trips of the server-side cursor
    corpus = load_profiles(url)
    assert corpus.ids == [str(i) for i in range(1, 24)]  # the primary key, as no `id` column exists
    assert corpus.labels[:2] == ["Analyst", "Data Engineer"]
    assert corpus.source.endswith("?table=profiles") and "postgres@" not in corpus.source
    query = load_profiles(pg_url + "&id=pid&query=" + "select pid, text from profiles where pid <= 3 order by pid")
    assert query.ids == ["1", "2", "3"] and query.labels is None
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create sequence tickets")
    with pytest.raises(ClusterankError, match="read-only transaction"):  # a query only reads
        read_database(pg_url + "&id=pid&query=select pid, text, nextval('tickets') from profiles")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select last_value, is_called from tickets").fetchone() == (1, False)


@pytest.mark.parametrize("form", ["table", "query"])  # compared in SQL; read whole and compared here
def test_sync_embeds_only_new_and_edited_rows_and_counts_what_changed(pg_url, workspace, form):
    url, model = make_table(pg_url), Counting()
    url = url if form == "table" else pg_url + "&id=pid&query=select * from profiles"
    first = sync_corpus(url, model, workspace=workspace)
    assert (first.new, first.edited, first.deleted, first.unchanged, first.embedded) == (40, 0, 0, 0, 40)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update profiles set text = text || ' and Kafka' where pid in (1, 2, 3)")
        conn.execute("update profiles set role = 'Analyst' where pid = 4")  # not the text: nothing to embed
        conn.execute("delete from profiles where pid in (5, 6)")
        conn.execute("insert into profiles values (100, 'Staff ML engineer, ranking systems', 'ML Engineer')")
    model.seen.clear()
    second = sync_corpus(url, model, workspace=workspace)
    assert (second.new, second.edited, second.deleted, second.unchanged, second.embedded) == (1, 3, 2, 35, 4)
    assert sorted(model.seen) == sorted(second.corpus.texts[i] for i, pid in enumerate(second.corpus.ids)
                                        if pid in ("1", "2", "3", "100"))
    assert "1 new, 3 edited, 2 deleted, 35 unchanged; 4 texts embedded" in second.line()
    store = EmbeddingStore(workspace.store_path)
    assert store.count(model.name) == 44
    store.close()
    with psycopg.connect(pg_url) as conn:  # a table's row versions let the next sync skip rows not written since
        unversioned = conn.execute("select count(*) from clusterank_sync where row_version is null").fetchone()[0]
    assert unversioned == (0 if form == "table" else 39)
    third = sync_corpus(url, model, workspace=workspace)
    assert (third.changed, third.deleted, third.unchanged, third.embedded) == (0, 0, 39, 0)


def test_a_connection_lost_while_recording_writes_nothing_and_the_rerun_finishes(pg_url, workspace, monkeypatch):
    import clusterank.embed.sync as sync

    url, model = make_table(pg_url, 10), Counting()
    sync_corpus(url, model, workspace=workspace)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("update profiles set text = text || ' edited' where pid <= 4")
        snapshot = conn.execute("select id, hash from clusterank_sync order by id").fetchall()
    copy = sync._copy

    def cut_then_copy(conn, rows):  # the old rows are already deleted inside the transaction when the line drops
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))
        copy(conn, rows)

    monkeypatch.setattr(sync, "_copy", cut_then_copy)
    with pytest.raises(ClusterankError, match="connection was lost while recording the sync.*run it again"):
        sync_corpus(url, model, workspace=workspace)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select id, hash from clusterank_sync order by id").fetchall() == snapshot
    monkeypatch.setattr(sync, "_copy", copy)
    rerun = sync_corpus(url, model, workspace=workspace)
    assert (rerun.edited, rerun.unchanged, rerun.embedded) == (4, 6, 0)  # the vectors were stored before the cut
    assert sync_corpus(url, model, workspace=workspace).changed == 0


def test_bad_tables_columns_and_credentials_are_one_line_through_the_cli(pg_url, postgres, workspace, capsys):
    url = make_table(pg_url, 5)
    code, err = run_cli(["embed", "--corpus", pg_url + "&table=staff"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: postgresql:///t_"), err
    assert "?table=staff: no table 'staff'; tables are: profiles" in err
    code, err = run_cli(["search", "Spark pipelines", "--corpus", url, "--text-column", "body"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no column 'body'; columns are: pid, text, role" in err
    code, err = run_cli(["embed", "--corpus", url.replace("postgres@", "nobody@")], capsys)
    assert code == 2 and "wrong credentials" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ClusterankError, match=r"no key column 'id' .*\(name one with &id=<column>\); columns are: text"):
        load_profiles(pg_url + "&query=select text from profiles")


def test_a_database_that_does_not_answer_is_one_line_after_a_bounded_wait(capsys):
    from conftest import free_port

    code, err = run_cli(["embed", "--corpus", f"postgresql://ann:s3cret@127.0.0.1:{free_port()}/hr?table=p"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "did not answer within 5 s" in err
    assert "s3cret" not in err and "ann" not in err
