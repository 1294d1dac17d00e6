"""`clusterank serve --db postgresql://... --replicas N`: N server processes on ports port .. port + N - 1 over one
shared database, so a load balancer can send any request to any of them.

The database is checked and migrated once before anything loads (a database that does not answer, wrong
credentials or a schema from a newer clusterank stop the start with one line); each replica then keeps its compare
jobs, usage records and paid APIs' rate-limit counters there (`jobs_db`, `shared`). The parent stops its replicas
when it is stopped, and a replica dies with its parent.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

from clusterank import ClusterankError, open_database, shown_url
from clusterank.server.config import CONFIG_ENV, ServerConfig

log = logging.getLogger("clusterank.server")
START_WAIT_S = 5.0
"""How long `serve --db` waits for the database at start (then one line, exit 2)."""


def check_database(url: str) -> None:
    """Connect once (bounded wait) and apply clusterank's migrations.

    Raises:
        ClusterankError: the database does not answer in time, wrong credentials, no such database, or its
            schema is from a newer clusterank: one line, without credentials.
    """
    open_database(url, wait_s=START_WAIT_S).close()


def _die_with_parent() -> None:
    """In the replica, before it runs: SIGTERM when the parent process ends (Linux; elsewhere nothing)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


def run_replicas(config: ServerConfig) -> None:
    """Start `config.replicas` server processes on consecutive ports and wait; stopping this process (SIGTERM,
    Ctrl-C) stops them. A replica that dies is logged; the others go on serving.

    Raises:
        ClusterankError: every replica exited (e.g. its port was taken); the last one's exit status.
    """
    env = {**os.environ, CONFIG_ENV: config.to_env()}
    children = []
    for i in range(config.replicas):
        children.append(subprocess.Popen([sys.executable, "-m", "clusterank.server.replicas", str(i)], env=env,
                                         preexec_fn=_die_with_parent))
    log.info("%d replicas on http://%s:%d-%d over %s", config.replicas, config.host, config.port,
             config.port + config.replicas - 1, shown_url(config.db or ""))

    def stop(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        running = set(range(len(children)))
        while running:
            time.sleep(0.5)
            for i in sorted(running):
                code = children[i].poll()
                if code is not None:
                    running.discard(i)
                    log.warning("replica %d (port %d, pid %d) exited with status %s", i, config.port + i,
                                children[i].pid, code)
        raise ClusterankError(f"every replica exited (the last with status {code}); see the lines above")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)


def _replica_main(index: int) -> None:
    """One replica: the settings from `CLUSTERANK_SERVE_CONFIG`, on port + `index`."""
    import uvicorn

    from clusterank.server.app import create_app
    from clusterank.server.http import PROTOCOL

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = replace(ServerConfig.from_env(), replicas=1)
    config = replace(config, port=config.port + index)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning", timeout_keep_alive=30,
                http=PROTOCOL)


if __name__ == "__main__":
    _replica_main(int(sys.argv[1]))
