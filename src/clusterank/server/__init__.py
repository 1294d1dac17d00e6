"""`clusterank serve`: the HTTP API over one workspace (FastAPI + uvicorn; install `clusterank[serve]`).

`create_app(config)` is the ASGI app; `serve(config)` checks the settings, embeds the corpus once (so
every worker starts from the cache), then runs uvicorn with `config.workers` processes. The names
load on first use (PEP 562): importing this package does not import FastAPI or the engine.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from clusterank import lazy_names, require

if TYPE_CHECKING:
    from clusterank.server.config import ServerConfig

_EXPORTS = {
    "clusterank.server.app": ("create_app",),
    "clusterank.server.config": ("CONFIG_ENV", "ServerConfig"),
    "clusterank.server.engine": ("Engine",),
}
"""module -> the names it defines that this package offers; `__getattr__` imports the module on first use."""
__all__ = ["Engine", "ServerConfig", "create_app", "serve"]

log = logging.getLogger("clusterank.server")


def serve(config: ServerConfig, *, progress: bool = True) -> None:
    """Run the server until interrupted.

    Raises:
        ClusterankError: unsafe or bad settings, a missing package, an unreadable corpus or unknown model.
    """
    config.check()
    uvicorn = require("uvicorn", "serve", "clusterank serve")
    require("fastapi", "serve", "clusterank serve")
    require("httptools", "serve", "clusterank serve")
    from clusterank.server.app import create_app
    from clusterank.server.config import CONFIG_ENV
    from clusterank.server.engine import Engine
    from clusterank.server.http import PROTOCOL, raise_descriptor_limit

    raise_descriptor_limit()  # held connections must not starve the health probe of descriptors (server/http.py)
    options = dict(host=config.host, port=config.port, log_level="warning", timeout_keep_alive=30, http=PROTOCOL)
    if config.db:  # before anything loads: a database that does not answer is one line, not a server without jobs
        from clusterank.server.jobs_db import shared_state
        from clusterank.server.replicas import check_database, run_replicas

        check_database(config.db)
        if config.replicas == 1:
            shared = shared_state(config)  # paid APIs' limits count in the database from the first embedder on
    refresher = None
    if config.refresh_s:  # the table synced into the cache first: a change after it is a change to this engine's
        from clusterank.server.refresh import Refresher

        refresher = Refresher(config, progress=progress)
        refresher.prime()
    engine = Engine(config, progress=progress)  # embeds the corpus and fits k-means once, into the workspace
    log.info("serving %d profiles from %s with %s on http://%s:%d (%d worker%s)", len(engine.corpus),
             engine.corpus.source, ", ".join(engine.pipelines), config.host, config.port, config.workers,
             "s" if config.workers > 1 else "")
    if config.db and config.replicas > 1:
        del engine  # each replica builds its own from the now-warm workspace
        run_replicas(config)
        return
    if config.workers == 1:
        uvicorn.run(create_app(config, engine, shared=shared if config.db else None, refresher=refresher), **options)
        return
    del engine  # each worker builds its own from the now-warm workspace
    os.environ[CONFIG_ENV] = config.to_env()
    uvicorn.run("clusterank.server.app:app_from_env", factory=True, workers=config.workers, **options)


__getattr__, __dir__ = lazy_names(_EXPORTS, globals())
