"""The `pgvector` retriever against a real PostgreSQL 18 + pgvector 0.8.2: exact SQL search equals `exact`, HNSW
recall measured (vector, halfvec, bits re-ranked), filters in SQL return k matching rows, a column of another size
refused in one line, rows keyed by profile id (a removed profile deletes one row, shifting none; a table keyed by row
number is migrated), a rebuild writes only what changed, and a connection lost mid-write leaves no half-written rows."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from clusterank.errors import ClusterankError
from clusterank.index import SearchContext, build_retriever
from clusterank.index.exact import ExactIndex
from clusterank.index.pgvector import row_hashes

N, DIMS, K = 3000, 32, 10


def structured(n: int, d: int, seed: int) -> np.ndarray:
    """Unit vectors around 40 centres, like embeddings of a corpus (uniform noise has no neighbours to find)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, d)).astype(np.float32)
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    x = structured(N + 30, DIMS, 3)
    return x[:N], x[N:]  # queries held out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[f >= 0].tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def build(spec: str, vectors: np.ndarray, url: str, ids: list[str] | None = None):
    return build_retriever(spec, SearchContext(vectors, database=url, ids=ids))


def test_exact_sql_search_returns_the_rows_and_cosines_of_exact(pg_url, data):
    x, q = data
    found = build("pgvector:index=exact", x, pg_url).search(q, K)
    truth = ExactIndex(x).search(q, K)
    np.testing.assert_array_equal(found.rows, truth.rows)
    np.testing.assert_allclose(found.scores, truth.scores, atol=1e-5)


def test_hnsw_recall_over_vector_halfvec_and_bits_reranked(pg_url, data):
    x, q = data
    truth = ExactIndex(x).search(q, K).rows
    for spec, floor in (("pgvector:m=8,ef_construction=32,ef_search=64", 0.9), ("pgvector:type=halfvec", 0.9),
                        ("pgvector:type=bit,rescore=10", 0.8)):
        retriever = build(spec, x, pg_url)
        found = retriever.search(q, K)
        assert recall(found.rows, truth) >= floor, spec
        exact = np.take_along_axis(q @ x.T, found.rows, axis=1)  # the scores are the rows' cosines
        np.testing.assert_allclose(found.scores, exact, atol=2e-3 if "halfvec" in spec else 1e-5)
        assert retriever.memory_bytes > 0
        retriever.close()


@pytest.mark.parametrize("kept, floor", [(40, 1.0), (300, 0.8)])  # ~1%: exact over the rows; 10%: HNSW, iterative
def test_a_filter_in_sql_returns_k_rows_that_all_match(pg_url, data, kept, floor):
    x, q = data
    mask = np.zeros(N, dtype=bool)
    mask[np.random.default_rng(1).choice(N, kept, replace=False)] = True
    retriever = build("pgvector", x, pg_url)
    found = retriever.search_within(q, K, mask)
    assert found.rows.shape == (len(q), K) and np.all(found.rows >= 0) and mask[found.rows].all()
    truth = np.flatnonzero(mask)[ExactIndex(x[mask]).search(q, K).rows]
    assert recall(found.rows, truth) >= floor
    assert np.all(np.diff(found.scores, axis=1) <= 1e-6), "best first"


def test_a_filter_through_the_pipeline_goes_into_sql(pg_url, data, tmp_path):
    import pandas as pd

    from clusterank import SearchPipeline
    from clusterank.workspace import Workspace

    x, q = data
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(600)], "text": [f"profile {i}" for i in range(600)],
                          "role": [f"r{i % 60}" for i in range(600)], "embeddings_v": list(x[:600])})
    pipe = SearchPipeline(frame, "precomputed:v", workspace=Workspace(tmp_path), use_saved_index=False,
                          database=pg_url)
    hits = pipe.search_vectors(q[:3], K, retriever="pgvector", filters={"role": "r7"})
    assert [len(h) for h in hits] == [K, K, K]
    assert all(h.row % 60 == 7 for query in hits for h in query)


def test_two_models_of_one_width_keep_their_own_tables(pg_url, data, tmp_path):
    """Two pipelines over one database whose vectors have the same width (two models, or a corpus and its name-blind
    copy) each get a table of their own (keyed by model and corpus), so neither overwrites the other's rows."""
    import pandas as pd

    from clusterank import SearchPipeline
    from clusterank.workspace import Workspace

    x, q = data
    other = structured(600, DIMS, 9)
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(600)], "text": [f"profile {i}" for i in range(600)],
                          "embeddings_a": list(x[:600]), "embeddings_b": list(other)})
    pipes = [SearchPipeline(frame, f"precomputed:{v}", workspace=Workspace(tmp_path), use_saved_index=False,
                            database=pg_url) for v in "ab"]
    found = [p.search_vectors(q[:5], K, retriever="pgvector:index=exact") for p in pipes]  # both written, then read
    found = [p.search_vectors(q[:5], K, retriever="pgvector:index=exact") for p in pipes]
    for hits, vectors in zip(found, (x[:600], other)):
        assert [[h.row for h in query] for query in hits] == ExactIndex(vectors).search(q[:5], K).rows.tolist()
    import psycopg

    with psycopg.connect(pg_url) as conn:
        tables = [t for (t,) in conn.execute("select tablename from pg_tables where tablename like "
                                             "'clusterank_vector%'")]
    assert len(tables) == 2 and all(t.startswith(f"clusterank_vector_{DIMS}_") for t in tables)


def test_a_vector_column_of_another_size_or_a_table_without_it_is_one_line(pg_url, data):
    import psycopg

    x, _ = data
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create table small (row integer primary key, hash bytea not null, embedding vector(8) not null)")
        conn.execute("create table people (id text primary key, name text)")
    with pytest.raises(ClusterankError, match=r"small .* holds vector\(8\) vectors, these are vector\(32\)") as err:
        build("pgvector:table=small", x, pg_url)
    assert "\n" not in str(err.value)
    with pytest.raises(ClusterankError, match="table people .* has no column 'hash'") as err:
        build("pgvector:table=people", x, pg_url)
    assert "\n" not in str(err.value)
    with pytest.raises(ClusterankError, match="table=") as err:
        build("pgvector:table=no-such;drop", x, pg_url)


def test_a_rebuild_writes_only_the_rows_that_changed(pg_url, data):
    x, q = data
    first = build("pgvector:index=exact", x, pg_url)
    assert first.written == N
    assert build("pgvector:index=exact", x, pg_url).written == 0  # same vectors: nothing written
    changed = x.copy()
    changed[[5, 50, 500]] = x[[6, 60, 600]]
    again = build("pgvector:index=exact", changed[:-10], pg_url)
    assert again.written == 3 + 10  # three rows rewritten, ten deleted
    np.testing.assert_array_equal(again.search(q, K).rows, ExactIndex(changed[:-10]).search(q, K).rows)


def test_a_connection_lost_mid_write_leaves_the_old_rows_and_the_rerun_finishes(pg_url, data):
    import psycopg

    x, q = data
    build("pgvector:index=exact", x[:1000], pg_url).close()
    table = f"clusterank_vector_{DIMS}"
    blocker = psycopg.connect(pg_url)  # holds a lock the sync's insert waits for, inside its transaction
    blocker.execute(f"lock table {table} in share mode")
    failure: list[BaseException] = []

    def sync():
        try:
            build("pgvector:index=exact", x, pg_url)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)

    worker = threading.Thread(target=sync)
    worker.start()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for _ in range(200):
            waiting = admin.execute("select pid from pg_stat_activity where wait_event_type = 'Lock' and "
                                    "query like 'insert into%%'").fetchall()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the sync reached its insert"
        admin.execute("select pg_terminate_backend(%s)", (waiting[0][0],))
        worker.join(30)
        blocker.rollback()
        blocker.close()
        assert len(failure) == 1 and isinstance(failure[0], ClusterankError)
        assert "connection was lost while writing" in str(failure[0]) and "\n" not in str(failure[0])
        assert admin.execute(f"select count(*) from {table}").fetchone()[0] == 1000  # no half-written rows
    rerun = build("pgvector:index=exact", x, pg_url)
    assert rerun.written == N - 1000
    np.testing.assert_array_equal(rerun.search(q, K).rows, ExactIndex(x).search(q, K).rows)


def _stored(url: str, table: str) -> dict[str, bytes]:
    import psycopg

    with psycopg.connect(url) as conn:
        return dict(conn.execute(f"select id, hash from {table}").fetchall())


def test_rows_keyed_by_id_a_removed_and_an_edited_profile_write_two_rows(pg_url, data):
    """Issue 26: each table row is keyed by the profile's id, so removing a profile near the start of the corpus
    deletes its row alone (with row numbers every later row would shift and be rewritten) and editing one rewrites
    one; searches still answer `exact`'s corpus rows, filters included."""
    x, q = data
    n = 1000
    ids = [f"emp-{(i * 7919) % n:04d}" for i in range(n)]  # ids in another order than the rows
    first = build("pgvector:index=exact", x[:n], pg_url, ids)
    assert first.written == n
    assert set(_stored(pg_url, first.table)) == set(ids)
    keep = np.arange(n) != 3  # profile 3 removed: every later one moves up a row
    vectors, kept = x[:n][keep].copy(), [i for i, k in zip(ids, keep) if k]
    vectors[500] = x[n + 1]  # and profile 501 (now row 500) edited: a vector from outside this corpus
    again = build("pgvector:index=exact", vectors, pg_url, kept)
    assert again.written == 2  # one deleted, one rewritten; not the ~1000 rows after the removed one
    stored = _stored(pg_url, again.table)
    assert len(stored) == n - 1 and ids[3] not in stored and stored[kept[500]] == row_hashes(vectors[500:501])[0]
    found, truth = again.search(q, K), ExactIndex(vectors).search(q, K)
    np.testing.assert_array_equal(found.rows, truth.rows)
    np.testing.assert_allclose(found.scores, truth.scores, atol=1e-5)
    mask = np.zeros(n - 1, dtype=bool)
    mask[np.random.default_rng(4).choice(n - 1, 15, replace=False)] = True  # an id filter in SQL
    within = again.search_within(q, K, mask)
    np.testing.assert_array_equal(within.rows, np.flatnonzero(mask)[ExactIndex(vectors[mask]).search(q, K).rows])
    assert build("pgvector:index=exact", vectors, pg_url, kept).written == 0


def test_two_profiles_with_one_id_are_refused_in_one_line(pg_url, data):
    x, _ = data
    with pytest.raises(ClusterankError, match="rows 1 and 3 have the same id 'b'; .*ids must be unique") as err:
        build("pgvector:index=exact", x[:4], pg_url, ["a", "b", "c", "b"])
    assert "\n" not in str(err.value)


def test_a_table_keyed_by_row_number_is_migrated_to_ids_keeping_its_vectors(pg_url, data):
    """A table of the layout before ids (`row integer`) is re-keyed in place: each vector stays under its row number
    as text, the id of a corpus without an id column, so nothing is rewritten; a corpus with ids replaces them."""
    import psycopg
    from pgvector.psycopg import register_vector

    x, q = data
    n = 200
    with psycopg.connect(pg_url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"create table old_rows (row integer primary key, hash bytea not null, "
                     f"embedding vector({DIMS}) not null)")
        with conn.cursor() as cur:
            cur.executemany("insert into old_rows (row, hash, embedding) values (%s, %s, %s)",
                            [(i, h, x[i]) for i, h in enumerate(row_hashes(x[:n]))])
    migrated = build("pgvector:index=exact,table=old_rows", x[:n], pg_url)  # no ids: the row numbers
    assert migrated.written == 0
    with psycopg.connect(pg_url) as conn:
        columns = dict(conn.execute("select attname, format_type(atttypid, atttypmod) from pg_attribute where "
                                    "attrelid = 'old_rows'::regclass and attnum > 0 and not attisdropped"))
    assert columns == {"id": "text", "hash": "bytea", "embedding": f"vector({DIMS})"}
    np.testing.assert_array_equal(migrated.search(q, K).rows, ExactIndex(x[:n]).search(q, K).rows)
    migrated.close()
    named = build("pgvector:index=exact,table=old_rows", x[:n], pg_url, [f"p{i}" for i in range(n)])
    assert named.written == 2 * n  # a corpus with an id column: its ids written, the row numbers deleted
    assert sorted(_stored(pg_url, "old_rows")) == sorted(f"p{i}" for i in range(n))
    np.testing.assert_array_equal(named.search(q, K).rows, ExactIndex(x[:n]).search(q, K).rows)
