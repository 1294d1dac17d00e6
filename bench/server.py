"""`clusterank serve` under load on loopback, and HTTP embedding against in-process embedding.

1. Search load: C concurrent clients post `/v1/search` (the 80 bundled job descriptions, default retriever)
   for S seconds; prints requests/s, p50/p99 latency and errors.
2. Embedding throughput, on texts no cache has seen (a fresh suffix per run):
   in-process `embedder.embed` (the baseline), the server's own rate (raw HTTP posts of B texts, base64),
   and clusterank's API client (`api:<model>@<server>`, through the store) against the same server.

    .venv/bin/python bench/server.py [--clients 200] [--seconds 60] [--models minilm-static,all-MiniLM-L6-v2]

The server runs as its own process in a temporary workspace (models linked from the default one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def start(home: Path, *args: str):
    """A `clusterank serve` process in workspace `home`; returns (process, base URL)."""
    from conftest import free_port

    import httpx

    port = free_port()
    log = open(home / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "clusterank", "serve", "--port", str(port), *args], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "CLUSTERANK_HOME": str(home)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.25)
        if proc.poll() is not None:
            break
    raise SystemExit(f"server did not start: {(home / 'serve.log').read_text()[-2000:]}")


async def _connection(host: str, port: int):
    return await asyncio.open_connection(host, port)


async def _post(reader, writer, host: str, path: str, body: bytes) -> int:
    """One HTTP/1.1 keep-alive POST on an open connection; returns the status (the body is read and dropped).

    A raw client, so that the load generator (sharing the 2 cores) costs little next to the server."""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def search_load(url: str, queries: list[str], clients: int, seconds: float) -> dict:
    """C clients, each on its own keep-alive connection, posting /v1/search back to back for `seconds`."""
    import json

    host, port = url.removeprefix("http://").split(":")
    bodies = [json.dumps({"query": q, "k": 10}).encode() for q in queries]
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    async def one(worker: int):
        i = worker
        reader, writer = await _connection(host, int(port))
        try:
            while time.monotonic() < deadline:
                t = time.perf_counter()
                try:
                    status = await _post(reader, writer, host, "/v1/search", bodies[i % len(bodies)])
                    if status != 200:
                        errors.append(f"HTTP {status}")
                except (OSError, asyncio.IncompleteReadError) as exc:
                    errors.append(type(exc).__name__)
                    writer.close()
                    reader, writer = await _connection(host, int(port))
                latencies.append(time.perf_counter() - t)
                i += clients
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(w) for w in range(clients)))
    elapsed = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "errors": len(errors), "kinds": sorted(set(errors))}


def embedding_rates(url: str, model: str, texts: list[str], batch: int, repeats: int = 5) -> dict:
    """Texts/s: in-process, the server over raw HTTP, and the API client through the store (fresh texts each);
    the three are measured in turn `repeats` times and each reports its median."""
    import httpx

    from clusterank import Workspace, get_embedder
    from clusterank.embed.base import truncation_summary
    from clusterank.embed.store import EmbeddingStore

    def fresh() -> list[str]:
        tag = uuid.uuid4().hex[:8]
        return [f"{t} [{tag}]" for t in texts]

    embedder = get_embedder(model)
    embedder.embed(texts[:8])
    http = httpx.Client(timeout=600)
    http.post(url + "/v1/embeddings", json={"input": fresh()[:8], "model": model})  # loads the model
    tmp = tempfile.TemporaryDirectory()
    store = EmbeddingStore(Path(tmp.name) / "client.sqlite")
    api = get_embedder(f"api:{model}@{url}/v1,batch={batch}", Workspace(Path(tmp.name)))  # the raw posts' requests
    api.embed(["warm-up"])

    def in_process() -> None:
        with truncation_summary(quiet=True):  # the same per-text token counting the server does, no warning
            embedder.embed(fresh())

    def server() -> None:
        batch_texts = fresh()
        for start in range(0, len(batch_texts), batch):
            r = http.post(url + "/v1/embeddings", json={"input": batch_texts[start:start + batch], "model": model,
                                                       "encoding_format": "base64"})
            assert r.status_code == 200, r.text

    def client() -> None:
        store.embed(api, fresh())

    rates: dict[str, list[float]] = {"in_process": [], "server": [], "client": []}
    for _ in range(repeats):
        for name, run in (("in_process", in_process), ("server", server), ("client", client)):
            t = time.perf_counter()
            run()
            rates[name].append(len(texts) / (time.perf_counter() - t))
    http.close()
    tmp.cleanup()
    return {"model": model, **{name: float(np.median(r)) for name, r in rates.items()}}


def main() -> None:
    """Run both parts and print the tables (paste them into bench/RESULTS.md)."""
    from clusterank import Workspace, bundled_profiles, bundled_queries

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--models", default="minilm-static,all-MiniLM-L6-v2")
    parser.add_argument("--texts", type=int, default=2048, help="texts per embedding measurement (static model)")
    parser.add_argument("--batch", type=int, default=256, help="texts per /v1/embeddings request")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ck-bench-server-") as tmp:
        home = Path(tmp)
        (home / "models").symlink_to(Workspace.default().models_dir, target_is_directory=True)
        proc, url = start(home, "--max-in-flight", str(max(512, 2 * args.clients)))
        try:
            queries = bundled_queries().texts
            asyncio.run(search_load(url, queries, min(args.clients, 20), 3))  # warm: every query embedded once
            load = asyncio.run(search_load(url, queries, args.clients, args.seconds))
            profiles = bundled_profiles().texts
            rates = []
            for model in args.models.split(","):
                n = args.texts if model == "minilm-static" else max(192, args.texts // 16)
                rates.append(embedding_rates(url, model, profiles[:n], args.batch))
        finally:
            proc.terminate()
            proc.wait(30)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"\n/v1/search, {args.clients} concurrent clients for {args.seconds:g} s on loopback "
          "(client and server share the cores):\n")
    print("| requests | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|")
    print(f"| {load['requests']:,} | {load['rps']:.0f} | {load['p50']:.1f} | {load['p99']:.1f} | "
          f"{load['errors']}{' ' + ','.join(load['kinds']) if load['kinds'] else ''} |")
    print(f"\n/v1/embeddings on texts not cached ({args.batch} per request, base64), texts/s:\n")
    print("| model | in-process | server | server / in-process | API client | client / server |\n"
          "|---|---|---|---|---|---|")
    for r in rates:
        print(f"| {r['model']} | {r['in_process']:,.0f} | {r['server']:,.0f} | {r['server'] / r['in_process']:.2f} | "
              f"{r['client']:,.0f} | {r['client'] / r['server']:.2f} |")


if __name__ == "__main__":
    main()
