"""`serve --refresh-s N`: profiles added, edited or removed in the team's PostgreSQL table (or in the profiles file)
reach the served search without a restart.

Before the engine reads the table, each served model's cache is synced (`sync_corpus`), which also gives the
snapshot's version: a number every sync that found a change raises, kept in the database. Then every N seconds a
thread syncs again (with the table tracked, only the rows written since are read: `clusterank.data.changes`). Where a
version moved, by this process' sync or another worker's or replica's over the same cache, it builds a whole new
`Engine` beside the one serving (the corpus read again, vectors from the cache, clusters and retrievers built) and
swaps it in between requests; a request already running keeps the engine it started with. The new engine takes over
the old one's lock, metrics, faults and loaded rerankers, and the arrays fitted to the old corpus (k-means, learned
retrievers) are deleted from the workspace. A file corpus is looked at the same way, its size and modification time
standing for the version (write it whole and rename it into place, so that a half-written file is never read). A
failure (the database away, a bad row, an unreadable file) is shown by `/healthz` and logged, and the old engine goes
on serving.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from clusterank import ClusterankError, is_database_url, sync_corpus
from clusterank.server.config import ServerConfig
from clusterank.server.engine import Engine

log = logging.getLogger("clusterank.server")


class LiveEngine:
    """The engine requests use now: attribute reads go to the current `Engine`; `swap` replaces it."""

    def __init__(self, engine: Engine):
        self.current = engine
        self.refreshes = 0
        self.refreshed_at: float | None = None
        self.refresh_error: str | None = None

    def __getattr__(self, name: str):
        return getattr(self.current, name)

    def swap(self, engine: Engine) -> None:
        """Serve `engine` from the next request on, with the current one's lock, metrics, faults and rerankers."""
        old = self.current
        engine.lock, engine.metrics, engine.faults = old.lock, old.metrics, old.faults
        engine._rerankers = old._rerankers
        self.current = engine
        self.refreshes += 1
        self.refreshed_at = time.time()

    def status(self) -> dict:
        """What `/healthz` says of refreshing: swaps so far, when the last was, the last error (None: none)."""
        return {"refreshes": self.refreshes, "refreshed_at": self.refreshed_at, "refresh_error": self.refresh_error}


class Refresher:
    """Keeps a `LiveEngine` up to date with its corpus, a table or a file (see the module docstring)."""

    def __init__(self, config: ServerConfig, *, progress: bool = False):
        self.config, self.progress = config, progress
        self.workspace = config.open_workspace()  # the engine's: the cache a sync fills is the one it reads
        self.versions: dict[str, object] | None = None
        self.live: LiveEngine | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync(self, progress: bool = False) -> dict[str, object]:
        """A table: sync it into each served model's cache, and give the snapshots' versions by model. A file: its
        size and modification time (the engine embeds what it does not find in the cache).

        Raises:
            ClusterankError: the database fails (see `sync_corpus`), or the file is gone or unreadable.
        """
        corpus = str(self.config.corpus)
        if not is_database_url(corpus):
            try:
                found = Path(corpus).stat()
            except OSError as exc:
                raise ClusterankError(f"--corpus {corpus}: cannot be read ({exc.strerror or exc})") from None
            return {"file": (found.st_mtime_ns, found.st_size)}
        return {model: sync_corpus(corpus, model, text_column=self.config.text_column,
                                   label_column=self.config.label_column, workspace=self.workspace,
                                   device=self.config.device, progress=progress).version
                for model in self.config.models}

    def prime(self) -> None:
        """Sync before an engine reads the table, so that any change after it raises a version this one saw (with
        a progress bar where the server was started with one: the first sync embeds the whole table)."""
        self.versions = self.sync(self.progress)

    def start(self, live: LiveEngine) -> None:
        """Refresh `live` every `config.refresh_s` seconds from a daemon thread (`prime` first)."""
        if self.versions is None:
            raise ClusterankError("Refresher.start: prime() before the engine is built")
        self.live = live
        self._thread = threading.Thread(target=self._run, name="clusterank-refresh", daemon=True)
        self._thread.start()

    def stop(self, wait_s: float = 10.0) -> None:
        """Stop after the refresh under way, if any (waiting at most `wait_s`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait_s)

    def refresh(self) -> bool:
        """Sync, and where a snapshot's version moved build a new engine and swap it in; True when it swapped."""
        versions = self.sync()
        if versions == self.versions:
            return False
        started = time.perf_counter()
        fresh = Engine(self.config)
        old = self.live.current
        self.live.swap(fresh)
        self.versions = versions
        self._drop_arrays(old, fresh)
        log.info("refreshed: %d profiles from %s, engine rebuilt in %.1f s", len(fresh.corpus), fresh.corpus.source,
                 time.perf_counter() - started)
        return True

    def _drop_arrays(self, old: Engine, fresh: Engine) -> None:
        """Delete the k-means models and fitted arrays kept for the corpus the old engine served (its pipelines read
        them when built): each refresh of a changed table would otherwise leave another set in the workspace."""
        kept = {(p.embedder.name, p.corpus_key) for p in fresh.cluster_labels}
        for pipe in old.cluster_labels:
            if (pipe.embedder.name, pipe.corpus_key) not in kept:
                for path in self.workspace.fitted_arrays(pipe.embedder.name, pipe.corpus_key):
                    path.unlink(missing_ok=True)

    def _run(self) -> None:
        while not self._stop.wait(self.config.refresh_s):
            try:
                self.refresh()
                self.live.refresh_error = None
            except Exception as exc:  # noqa: BLE001 - whatever failed, the engine serving goes on serving
                self.live.refresh_error = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                log.warning("refresh failed; still serving the profiles read before: %s", self.live.refresh_error,
                            exc_info=not isinstance(exc, ClusterankError))  # a bug's traceback in the log
