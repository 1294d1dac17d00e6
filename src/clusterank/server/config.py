"""What one `clusterank serve` runs with, chosen at start-up (no request can change it or name a file).

It travels to worker processes as JSON in `CLUSTERANK_SERVE_CONFIG`; the API key itself never does
(only the name of the variable that holds it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clusterank import (DEFAULT_MODEL, SEED_RANGE, Bound, ClusterankError, Workspace, canonical_spec, check_device,
                        is_database_url, is_loopback)

CONFIG_ENV = "CLUSTERANK_SERVE_CONFIG"
LIMITS = (("--port", "port", Bound(1, 65535)), ("--workers", "workers", Bound(1, 64)),
          ("--max-body-mb", "max_body_mb", Bound(0.001, 1024, whole=False)),
          ("--max-batch", "max_batch", Bound(1, 100_000)),
          ("--max-in-flight", "max_in_flight", Bound(1, 100_000)),
          ("--fault-slow-s", "fault_slow_s", Bound(0, 3600, whole=False)), ("--max-jobs", "max_jobs", Bound(1, 64)),
          ("--max-queued-jobs", "max_queued_jobs", Bound(0, 1000)),
          ("--job-keep-hours", "job_keep_hours", Bound(0, 24 * 365, whole=False)),
          ("--replicas", "replicas", Bound(1, 64)), ("--replica-lost-s", "replica_lost_s", Bound(1, 3600, whole=False)))
"""Every numeric setting's range, checked once before anything loads (NaN and infinity fail every range)."""


@dataclass(frozen=True)
class ServerConfig:
    """Start-up settings of the server.

    Attributes:
        corpus: the profiles file searched by `/v1/search` (None: the bundled set).
        models: models `/v1/search` serves (the corpus is embedded with each at start-up); the first is the
            default. `/v1/embeddings` serves these and every other offline model installed here.
        rerankers: rerankers allowed besides `none` and `rescore:<offline model>` (e.g. `llm-pairwise`).
        workspace: the workspace root (None: `$CLUSTERANK_HOME` or `~/.cache/clusterank`).
        api_key_env: the variable holding the bearer key; required to bind beyond loopback.
        max_body_mb: the largest request body (413 beyond).
        max_batch: the most inputs (or documents) in one request (413 beyond).
        max_in_flight: requests served at once (429 beyond).
        faults: the fault mode, `kind:rate,...` (see `clusterank.server.faults.KINDS`).
        cors_origins: origins allowed to call from a browser (none by default).
        device: where local transformer models run: auto | cpu | cuda (`clusterank.embed.get_embedder`).
        allow_hosts: host names requests may give in `Host` besides the bound address, IP addresses and
            `localhost` (a DNS rebinding guard; `*` turns it off).
        retrievers: the retriever specs `/v1/search` offers (None: the page's default list); a request can name
            only these, so no request can order new k-means fits or codebooks.
        max_jobs: comparisons running at once (across workers); max_queued_jobs more wait, 429 beyond.
        job_keep_hours: how long a finished comparison (its status and report) is kept.
    """

    corpus: str | None = None
    queries: str | None = None
    """Labelled job descriptions for comparisons started from the page (None: the bundled ones, with the
    bundled corpus only)."""
    text_column: str = "text"
    label_column: str = "role"
    models: tuple[str, ...] = (DEFAULT_MODEL,)
    rerankers: tuple[str, ...] = ()
    workspace: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_key_env: str | None = None
    max_body_mb: float = 4.0
    max_batch: int = 2048
    max_in_flight: int = 512
    faults: str = ""
    fault_seed: int | None = None
    fault_slow_s: float = 3.0
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    device: str = "auto"
    allow_hosts: tuple[str, ...] = field(default_factory=tuple)
    retrievers: tuple[str, ...] | None = None
    max_jobs: int = 1
    max_queued_jobs: int = 8
    job_keep_hours: float = 24.0
    db: str | None = None
    """The PostgreSQL database replicas share (`--db postgresql://...`): compare jobs, usage records and paid APIs'
    rate-limit counters live there; None keeps them in this workspace and process."""
    replicas: int = 1
    """Server processes over the shared database, on ports port .. port + replicas - 1 (`--replicas`)."""
    replica_lost_s: float = 15.0
    """Seconds without a sign of life after which a replica's running job is reported lost (`interrupted`)."""
    blind: tuple[str, ...] = ()
    """Personal fields left out of the profiles' embedded text (`--blind`: names, email, ...); () searches all."""
    refresh_s: float | None = None
    """Seconds between looks at the corpus (`--refresh-s`): a postgresql:// table is synced, a file's size and
    modification time compared; profiles added, edited or removed reach the served search without a restart
    (`server.refresh`). None reads the corpus once, at start."""
    blind_toggle: tuple[str, ...] = ()
    """Fields a second, name-blind copy of the corpus also leaves out (`--blind-toggle names`): embedded at start-up
    with every search model, searched by `/v1/search` with `"blind": true` (the page's Name-blind box); () offers
    no such copy."""

    def check(self) -> None:
        """Refuse unsafe or impossible settings before anything loads.

        Raises:
            ClusterankError: binding beyond loopback without a key (or with its variable empty), bad limits, a
                malformed --retriever spec, an unknown device or `cuda` with no GPU visible.
        """
        if not is_loopback(self.host) and not self.api_key_env:
            raise ClusterankError(f"--host {self.host} is reachable from other machines; give --api-key-env VAR "
                                  "(a variable holding the bearer key clients must send), or bind 127.0.0.1")
        if self.api_key_env and not os.environ.get(self.api_key_env):
            raise ClusterankError(f"--api-key-env {self.api_key_env}: that environment variable is empty or unset")
        for name, attribute, bound in LIMITS:
            bound.check(getattr(self, attribute), name)
        if self.fault_seed is not None:
            SEED_RANGE.check(self.fault_seed, "--fault-seed")
        for spec in self.retrievers or ():  # the grammar and fixed ranges now; the corpus' limits when built
            try:
                canonical_spec(spec)
            except ClusterankError as exc:
                raise ClusterankError(f"--retriever {spec}: {exc}") from None
        for name, values in (("--allow-host", self.allow_hosts), ("--cors-origin", self.cors_origins)):
            for value in values:
                if not value or any(c.isspace() or ord(c) < 32 for c in value) or "/" in value.split("://")[-1]:
                    raise ClusterankError(f"{name} {value!r} is not a host name (or origin such as "
                                          "http://app.example:3000)")
        if not self.models:
            raise ClusterankError("--model: give at least one model to search with")
        if self.blind_toggle and set(self.blind_toggle) <= set(self.blind):
            raise ClusterankError(f"--blind-toggle {','.join(self.blind_toggle)}: --blind already leaves those out of "
                                  "every search; name fields it keeps (names, email, ...)")
        if self.replicas > 1 and not self.db:
            raise ClusterankError(f"--replicas {self.replicas}: replicas share their jobs and limits through a "
                                  "database; give --db postgresql://...")
        if self.replicas > 1 and self.workers > 1:
            raise ClusterankError("--replicas and --workers: give one of them (each replica is one process)")
        if self.replicas > 1 and self.port + self.replicas - 1 > 65535:
            raise ClusterankError(f"--port {self.port} --replicas {self.replicas}: the ports run past 65535")
        if self.refresh_s is not None:
            Bound(1, 86_400, whole=False).check(self.refresh_s, "--refresh-s")
            if not (is_database_url(self.corpus) or (self.corpus and Path(self.corpus).is_file())):
                raise ClusterankError("--refresh-s: give a --corpus that can change while serving: a "
                                      "postgresql://...?table= table or a profiles file")
        check_device(self.device)

    @property
    def max_body(self) -> int:
        """The body limit in bytes."""
        return int(self.max_body_mb * 1024 * 1024)

    def corpus_args(self) -> list[str]:
        """The `clusterank compare` options that name this server's corpus and queries (and its device)."""
        args = [] if self.device == "auto" else ["--device", self.device]
        if self.corpus:
            args += ["--corpus", self.corpus, "--text-column", self.text_column, "--label-column", self.label_column]
        if self.queries:
            args += ["--queries", self.queries]
        if self.blind:
            args += ["--blind", ",".join(self.blind)]
        return args

    def open_workspace(self) -> Workspace:
        """The workspace this server uses (`workspace`, else the default one): its engine's cache, clusters and
        reports, and the cache a refresh syncs into."""
        return Workspace(Path(self.workspace)) if self.workspace else Workspace.default()

    def job_env(self) -> dict[str, str]:
        """What a compare job's child process gets in its environment over the server's: with `--db`, that database
        as `CLUSTERANK_DB`, so the job's pgvector pipelines keep their vectors where the server's search does (the
        flag wins over the server's own variable, as everywhere)."""
        return {"CLUSTERANK_DB": self.db} if self.db else {}

    def toggle_fields(self) -> tuple[str, ...]:
        """The fields the name-blind copy of the corpus leaves out: `--blind`'s and `--blind-toggle`'s (() when no
        toggle is offered)."""
        return tuple(dict.fromkeys((*self.blind, *self.blind_toggle))) if self.blind_toggle else ()

    def to_env(self) -> str:
        """The settings as JSON for worker processes."""
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "ServerConfig":
        """The settings the parent process left in `CLUSTERANK_SERVE_CONFIG`."""
        raw = json.loads(os.environ[CONFIG_ENV])
        for key in ("models", "rerankers", "cors_origins", "allow_hosts", "retrievers", "blind", "blind_toggle"):
            raw[key] = tuple(raw[key]) if raw.get(key) is not None else None
        raw["allow_hosts"], raw["blind"] = raw["allow_hosts"] or (), raw.get("blind") or ()
        raw["blind_toggle"] = raw.get("blind_toggle") or ()
        return cls(**raw)


