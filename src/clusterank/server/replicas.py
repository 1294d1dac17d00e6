"""`clusterank serve --db postgresql://... --replicas N`: N server processes on ports port .. port + N - 1 over one
shared database, so a load balancer can send any request to any of them.

The database is checked and migrated once before anything loads (a database that does not answer, wrong
credentials or a schema from a newer clusterank stop the start with one line); each replica then keeps its compare
jobs, usage records and paid APIs' rate-limit counters there (`jobs_db`, `shared`). The parent stops its replicas
when it is stopped, starts one that died again on its port (giving up on a crash loop), and a replica dies with its
parent.
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


RESTART_WAIT_S = 1.0
"""Seconds before a replica that exited is started again (doubled for each further death within the window)."""
MAX_RESTARTS = 5
"""Deaths within `RESTART_WINDOW_S` after which a replica is given up (a crash loop)."""
RESTART_WINDOW_S = 60.0


def _die_with_parent() -> None:
    """In the replica, before it runs: SIGTERM when the parent process ends (Linux; elsewhere nothing)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


def run_replicas(config: ServerConfig) -> None:
    """Start `config.replicas` server processes on consecutive ports and wait; stopping this process (SIGTERM,
    Ctrl-C) stops them. A replica that exits is started again on its port after `RESTART_WAIT_S` (doubling while it
    keeps dying, up to a minute); one that dies `MAX_RESTARTS` times within `RESTART_WINDOW_S` (a crash loop: its
    port taken, say) is given up, logged, and the others go on serving.

    Raises:
        ClusterankError: every replica was given up; the last one's exit status.
    """
    env = {**os.environ, CONFIG_ENV: config.to_env()}

    def launch(i: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "clusterank.server.replicas", str(i)], env=env,
                                preexec_fn=_die_with_parent)

    children = [launch(i) for i in range(config.replicas)]
    deaths: dict[int, list[float]] = {i: [] for i in range(config.replicas)}
    due: dict[int, float] = {}  # replica -> when it starts again
    log.info("%d replicas on http://%s:%d-%d over %s", config.replicas, config.host, config.port,
             config.port + config.replicas - 1, shown_url(config.db or ""))

    def stop(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        running = set(range(len(children)))
        while running:
            time.sleep(0.5)
            now = time.monotonic()
            for i in sorted(running):
                if i in due:
                    if now >= due[i]:
                        del due[i]
                        children[i] = launch(i)
                        log.warning("replica %d (port %d) started again, pid %d", i, config.port + i, children[i].pid)
                    continue
                code = children[i].poll()
                if code is None:
                    continue
                deaths[i] = [t for t in deaths[i] if now - t < RESTART_WINDOW_S] + [now]
                if len(deaths[i]) > MAX_RESTARTS:
                    running.discard(i)
                    log.error("replica %d (port %d) exited with status %s, %d times within %.0f s: given up", i,
                              config.port + i, code, len(deaths[i]), RESTART_WINDOW_S)
                    continue
                due[i] = now + min(60.0, RESTART_WAIT_S * 2 ** (len(deaths[i]) - 1))
                log.warning("replica %d (port %d, pid %d) exited with status %s; starting it again in %.0f s", i,
                            config.port + i, children[i].pid, code, due[i] - now)
        raise ClusterankError(f"every replica was given up (the last exited with status {code}); see the lines "
                              "above")
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
