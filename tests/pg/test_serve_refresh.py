"""`clusterank serve --corpus postgresql://... --refresh-s 1`: a real server over a real, tracked PostgreSQL table
serves a profile inserted after it started, drops a deleted one (a stale row asked for by id is a 404, a moved one is
found by its id), and goes on serving when the database goes away, saying so in /healthz. Every wait is bounded;
nothing here is timed."""

from __future__ import annotations

import psycopg
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from conftest import start_server, wait_until  # noqa: E402

from clusterank import generate_profiles, track_changes  # noqa: E402
from clusterank.cli import main  # noqa: E402

DIVER = ("Rosa Lindqvist\nHeadline: Commercial diving supervisor and underwater welding instructor\n"
         "Experience: Led saturation diving teams; taught underwater wet welding and hyperbaric safety.")


def health(url: str) -> dict:
    return httpx.get(url + "/healthz", timeout=10).json()


def profiles_db(postgres, n: int, seed: int, *, track: bool = True) -> tuple[str, str]:
    """A fresh database with `n` bundled-style profiles in `profiles` (key `id`), tracked unless `track` is False:
    (its URL, the corpus URL)."""
    db = postgres.create_database()
    frame = generate_profiles(n=n, seed=seed)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("create table profiles (id integer primary key, text text not null, role text)")
        with conn.cursor().copy("copy profiles (id, text, role) from stdin") as copy:
            for i, (text, role) in enumerate(zip(frame["text"], frame["role"]), start=1):
                copy.write_row((i, text, role))
    if track:
        track_changes(db + "&table=profiles")
    return db, db + "&table=profiles"


def search(api: str, query: str, k: int = 3, retriever: str = "exact") -> dict:
    answer = httpx.post(api + "/search", json={"query": query, "k": k, "retriever": retriever}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.slow
def test_a_refreshing_server_serves_new_rows_drops_deleted_ones_and_survives_the_database_going(
        postgres, session_home, tmp_path):
    db, corpus = profiles_db(postgres, 60, seed=3)
    frame = generate_profiles(n=60, seed=3)
    kept = session_home.root / "clusters" / "minilm-static"
    arrays = lambda: set(kept.glob("*.npz"))  # noqa: E731
    others = arrays()
    server = start_server(session_home.root, tmp_path / "serve.log", "--corpus", corpus, "--refresh-s", "1",
                          "--retriever", "exact,pgvector:index=exact", "--db", db)
    try:
        first = arrays() - others  # the k-means model fitted to these 60 profiles
        assert first
        before = search(server.api, DIVER)
        assert health(server.url)["profiles"] == 60 and before["corpus_version"] == 0
        assert before["hits"][0]["id"] != "9001"
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("insert into profiles values (9001, %s, 'Diving Supervisor')", (DIVER,))
        wait_until(lambda: health(server.url)["refreshes"] >= 1, 120, "the server refreshing after an insert")
        after = search(server.api, DIVER)
        assert health(server.url)["profiles"] == 61 and after["corpus_version"] >= 1
        assert after["hits"][0]["id"] == "9001" and after["hits"][0]["cosine"] > 0.99
        assert not first & arrays() and arrays() - others  # the old corpus' arrays went, the new one's are there
        in_sql = search(server.api, DIVER, k=10, retriever="pgvector:index=exact")  # its table synced by id
        assert [h["id"] for h in in_sql["hits"]] == [h["id"] for h in search(server.api, DIVER, k=10)["hits"]]

        rows = {h["id"]: h["row"] for h in search(server.api, frame["text"][0], k=60)["hits"]}
        gone, moved = "1", max(rows, key=lambda i: rows[i])  # deleting row 0 moves every later row up by one
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("delete from profiles where id = 1")
        wait_until(lambda: health(server.url)["profiles"] == 60, 120, "the server refreshing after a delete")
        stale = httpx.get(f"{server.api}/profiles/{rows[gone]}", params={"id": gone}, timeout=10)
        assert stale.status_code == 404 and "left the corpus" in stale.json()["error"]["message"]
        found = httpx.get(f"{server.api}/profiles/{rows[moved]}", params={"id": moved}, timeout=10).json()
        assert found["id"] == moved and found["row"] == rows[moved] - 1
        assert all(h["id"] != gone for h in search(server.api, frame["text"][0], k=60)["hits"])

        postgres.drop_database(db)  # the table is gone: refreshes fail, the profiles read before are still served
        wait_until(lambda: health(server.url)["refresh_error"], 60, "a failed refresh showing in /healthz")
        assert search(server.api, DIVER)["hits"][0]["id"] == "9001"
    finally:
        server.stop()


def test_refresh_takes_a_corpus_that_can_change_and_a_sane_period(capsys, tmp_path):
    assert main(["serve", "--refresh-s", "5"]) == 2  # the bundled profiles never change
    assert "--refresh-s: give a --corpus that can change while serving" in capsys.readouterr().err
    assert main(["serve", "--corpus", str(tmp_path / "gone.csv"), "--refresh-s", "5"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["serve", "--corpus", "postgresql://127.0.0.1/hr?table=p", "--refresh-s", "0.1"]) == 2
    assert "--refresh-s" in capsys.readouterr().err


@pytest.mark.slow
def test_every_worker_of_a_refreshing_server_serves_the_new_row(postgres, session_home, tmp_path):
    """Two workers over one cache: the first to sync records the change, and the other sees the snapshot's version
    move, so both swap in the new profiles (each answers /healthz with its own pid)."""
    db, corpus = profiles_db(postgres, 30, seed=4, track=False)
    server = start_server(session_home.root, tmp_path / "serve.log", "--corpus", corpus, "--refresh-s", "1",
                          "--workers", "2")  # every default retriever, rebuilt by each refresh
    try:
        with psycopg.connect(db, autocommit=True) as conn:  # not tracked: each sync compares the table
            conn.execute("insert into profiles values (9001, %s, 'Diving Supervisor')", (DIVER,))
        refreshed: dict[int, int] = {}

        def both_refreshed() -> bool:
            seen = health(server.url)  # the kernel hands each new connection to either worker
            refreshed[seen["pid"]] = seen["profiles"]
            return len(refreshed) == 2 and set(refreshed.values()) == {31}

        wait_until(both_refreshed, 120, "both workers serving 31 profiles")
        assert all(search(server.api, DIVER)["hits"][0]["id"] == "9001" for _ in range(6))
    finally:
        server.stop()
        postgres.drop_database(db)


MAP_POINTS = "() => (document.getElementById('map').data || []).reduce((n, t) => n + (t.rows ? t.rows.length : 0), 0)"
RINGS = "() => document.getElementById('map').data.filter(t => t.type === 'scatter' && t.name.startsWith('search'))[0].x"


@pytest.mark.slow
def test_the_page_reloads_its_corpus_and_map_when_a_refresh_moved_the_rows(browser, postgres, session_home, tmp_path):
    db, corpus = profiles_db(postgres, 30, seed=5)
    server = start_server(session_home.root, tmp_path / "serve.log", "--corpus", corpus, "--refresh-s", "1",
                          "--retriever", "exact")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=30000)
        page.wait_for_function(f"({MAP_POINTS})() === 30", timeout=30000)
        assert page.inner_text("#corpus-line").startswith("30 profiles")
        with psycopg.connect(db, autocommit=True) as conn:  # rows 0 and 1 leave, the diver comes: every row moves
            conn.execute("delete from profiles where id in (1, 2)")
            conn.execute("insert into profiles values (9001, %s, 'Diving Supervisor')", (DIVER,))
        wait_until(lambda: health(server.url)["refreshes"] >= 1, 120, "the server refreshing")
        page.fill("#query", DIVER)
        page.click("#search")
        page.wait_for_function("document.body.dataset.searched", timeout=30000)
        assert page.inner_text("#corpus-line").startswith("29 profiles")
        assert page.inner_text("#results li:first-child .name") == "Rosa Lindqvist"
        page.wait_for_function(f"({MAP_POINTS})() === 29 && ({RINGS})().every(x => typeof x === 'number')",
                               timeout=30000)  # the rings sit on the new map's points
        page.click("#results li:first-child summary")  # the whole profile, fetched by row and id
        page.wait_for_function("document.querySelector('#results li:first-child pre').textContent"
                               ".includes('hyperbaric safety')", timeout=30000)
        assert errors == []
    finally:
        page.close()
        server.stop()
        postgres.drop_database(db)
