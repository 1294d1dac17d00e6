"""`clusterank serve`: the HTTP API (embeddings, rerank, search) over one workspace."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from clusterank.cli.common import BlindOpt, DeviceOpt, LabelColOpt, TextColOpt, app, corpus_arg
from clusterank import DEFAULT_MODEL


@app.command()
def serve(
    corpus: Optional[Path] = typer.Option(None, "--corpus", parser=corpus_arg, help="Profiles file (or "
                                          "postgresql://...?table=) searched by /v1/search (default: the bundled "
                                          "set). Chosen here: no request can name a file."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="Labelled job descriptions for comparisons "
                                           "started from the web page (default: the bundled ones)."),
    text_column: str = TextColOpt,
    label_column: str = LabelColOpt,
    model: List[str] = typer.Option([DEFAULT_MODEL], "--model", "-m", help="A model /v1/search serves (repeat, or "
                                    "comma-separate); the corpus is embedded with each at start-up. /v1/embeddings "
                                    "also serves every other offline model installed here."),
    reranker: List[str] = typer.Option([], "--reranker", help="A reranker to offer besides none and "
                                       "rescore:<model> (e.g. llm-pairwise, cross-encoder:<folder>); repeat."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback needs --api-key-env."),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", help="Server processes sharing this workspace."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Environment variable holding the bearer "
                                              "key every request must send (compared in constant time, never logged)."),
    max_body_mb: float = typer.Option(4.0, "--max-body-mb", help="Largest request body (413 beyond)."),
    max_batch: int = typer.Option(2048, "--max-batch", help="Most inputs or documents per request (413 beyond)."),
    max_in_flight: int = typer.Option(512, "--max-in-flight", help="Requests served at once (429 beyond)."),
    cors_origin: List[str] = typer.Option([], "--cors-origin", help="An origin browsers may call from (repeat); "
                                          "CORS is off by default."),
    faults: str = typer.Option("", "--faults", help="Fault mode for testing clients, e.g. "
                               "429:0.2,500:0.1,slow:0.1,truncated:0.05,wrong-dims:0.02 (see docs/server.md)."),
    fault_seed: Optional[int] = typer.Option(None, "--fault-seed", help="Seed of the fault draws (reproducible runs)."),
    fault_slow_s: float = typer.Option(3.0, "--fault-slow-s", help="How long a `slow` fault waits."),
    device: str = DeviceOpt,
    allow_host: List[str] = typer.Option([], "--allow-host", help="A host name clients may reach this server by "
                                         "(repeat); requests whose Host names anything else but an IP address or "
                                         "localhost are refused (a DNS rebinding guard). `*` allows any."),
    retriever: List[str] = typer.Option([], "--retriever", "-r", help="A retriever /v1/search offers (repeat, or "
                                        "comma-separate); built at start-up, and requests can name only these. "
                                        "Default: exact, routed:nprobe=1|2|auto, soft, and role, role-route:m=3 "
                                        "when the corpus has labels."),
    max_jobs: int = typer.Option(1, "--max-jobs", help="Comparisons started from the page that run at once."),
    max_queued_jobs: int = typer.Option(8, "--max-queued-jobs", help="Comparisons that wait their turn (429 beyond)."),
    job_keep_hours: float = typer.Option(24.0, "--job-keep-hours", help="How long a finished comparison and its "
                                         "report are kept."),
    blind: str = BlindOpt,
    db: Optional[str] = typer.Option(None, "--db", help="A PostgreSQL database replicas share "
                                     "(postgresql://user@host/db; the password in PGPASSWORD): compare jobs, usage "
                                     "and paid APIs' rate limits live there; its tables are migrated on start."),
    replicas: int = typer.Option(1, "--replicas", help="Server processes over --db, on ports --port .. "
                                 "--port + N - 1; any of them reports or cancels any job."),
    replica_lost_s: float = typer.Option(15.0, "--replica-lost-s", help="Seconds without a sign of life after "
                                         "which a replica's running job is reported lost."),
    refresh_s: Optional[float] = typer.Option(None, "--refresh-s", help="Look at the --corpus every N seconds and "
                                              "serve changed profiles without a restart: a postgresql:// table is "
                                              "synced (track it with `embed --track-changes` so a sync reads only "
                                              "changes), a file is read again when it changed."),
    blind_toggle: str = typer.Option("", "--blind-toggle", help="Offer name-blind search beside the normal one: "
                                     "these fields (e.g. names) are left out of a second copy of the corpus, "
                                     "searched when a request (the page's Name-blind box) asks for it."),
) -> None:
    """Serve the web page at / and the HTTP API: /v1/embeddings (OpenAI's shape), /v1/rerank, /v1/search,
    /v1/models, /healthz, /metrics."""
    from clusterank import ServerConfig, parse_blind, serve as run, split_specs

    models = tuple(split_specs(",".join(model)))  # an API model's options (`,timeout=300`) stay with it
    retrievers = tuple(split_specs(",".join(retriever))) if retriever else None
    run(ServerConfig(corpus=str(corpus) if corpus else None, queries=str(queries) if queries else None,
                     text_column=text_column, label_column=label_column,
                     models=models, rerankers=tuple(reranker), host=host, port=port, workers=workers,
                     api_key_env=api_key_env, max_body_mb=max_body_mb, max_batch=max_batch,
                     max_in_flight=max_in_flight, faults=faults, fault_seed=fault_seed, fault_slow_s=fault_slow_s,
                     cors_origins=tuple(cors_origin), device=device, allow_hosts=tuple(allow_host),
                     retrievers=retrievers, max_jobs=max_jobs, max_queued_jobs=max_queued_jobs,
                     db=db, replicas=replicas, replica_lost_s=replica_lost_s, refresh_s=refresh_s,
                     job_keep_hours=job_keep_hours, blind=parse_blind(blind),
                     blind_toggle=parse_blind(blind_toggle)))
