"""What replicas of `clusterank serve --db` share through PostgreSQL: a small connection pool whose failures are one
503 line, usage records (requests, texts, tokens per route and model, buffered and written in batches, kept in
memory while the database is away) and fixed-window rate-limit counters for paid APIs.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections import Counter
from contextlib import contextmanager

from clusterank import ClusterankError, database_error, open_database
from clusterank.server.errors import ApiError

log = logging.getLogger("clusterank.server")
WAIT_S = 3.0
"""How long a request waits for the database to answer (connecting, a lock, a statement) before its 503."""
POOL = 8


def replica_name(port: int) -> str:
    """This process' name in the shared tables: host, port and pid (unique while it runs)."""
    return f"{socket.gethostname()[:40]}:{port}:{os.getpid()}"


class Database:
    """A pool of autocommit connections to the database `url` names, for a server's threads.

    `with db.connection() as conn:` hands one out; any database failure in the block becomes `ApiError(503)` with
    one line naming the database (never its credentials), and the broken connection is dropped. A pooled
    connection that the database closed meanwhile (a restart) is replaced once, quietly.
    """

    def __init__(self, url: str, *, wait_s: float = WAIT_S, size: int = POOL):
        self.url, self.wait_s, self.size = url, wait_s, size
        self._idle: list = []
        self._lock = threading.Lock()

    def _open(self):
        conn = open_database(self.url, wait_s=self.wait_s)  # a database restored meanwhile gets its tables again
        ms = int(self.wait_s * 1000)
        conn.execute(f"set statement_timeout = {ms * 3}; set lock_timeout = {ms * 3}")
        return conn

    def _unavailable(self, exc: BaseException) -> ApiError:
        error = str(exc if isinstance(exc, ClusterankError) else database_error(exc, self.url, self.wait_s))
        log.warning("%s", error)  # the driver's own words (socket paths, addresses) stay in the log
        return ApiError(503, f"{error.split(' (', 1)[0]}; retry in a moment", code="database_unavailable",
                        headers={"retry-after": "2"})

    @contextmanager
    def connection(self):
        """One connection from the pool for the block (see the class)."""
        import psycopg

        for attempt in (0, 1):
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            try:
                conn = conn or self._open()
            except ClusterankError as exc:
                raise self._unavailable(exc) from None
            try:
                if reused and attempt == 0:
                    conn.execute("select 1")  # a connection the database ended (restart) fails here, not mid-block
            except psycopg.Error:
                conn.close()
                self.close()  # the others most likely went with it (a restart): fresh connections from here on
                continue
            try:
                yield conn
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                conn.close()
                raise self._unavailable(exc) from None
            except BaseException:
                conn.close() if conn.info.transaction_status != 0 else self._give_back(conn)
                raise
            self._give_back(conn)
            return

    def _give_back(self, conn) -> None:
        with self._lock:
            if len(self._idle) < self.size and not conn.closed:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class UsageLog:
    """Requests, texts and tokens per (route, model), counted in memory and written to `clusterank_usage` every
    `every_s` seconds (one row per route and model per write) when a database is shared; what could not be
    written stays counted and goes with the next write, so a database restart loses nothing.

    Args:
        db: the shared database (None: this process' counts only).
        replica: this process' name (`replica_name`).
        every_s: seconds between writes.
    """

    def __init__(self, db: Database | None, replica: str, *, every_s: float = 1.0):
        self.db, self.replica, self.every_s = db, replica, every_s
        self._pending: Counter = Counter()
        self._total: Counter = Counter()
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    def record(self, route: str, model: str | None, texts: int = 0, tokens: int | None = 0) -> None:
        """Count one answered request (cheap: the write happens later, in the background)."""
        with self._lock:
            for counter in (self._pending, self._total):
                counter[(route, model or "", "requests")] += 1
                counter[(route, model or "", "texts")] += int(texts or 0)
                counter[(route, model or "", "tokens")] += int(tokens or 0)
            if self.db is not None and (self._flusher is None or not self._flusher.is_alive()):
                self._flusher = threading.Thread(target=self._flush_loop, daemon=True)
                self._flusher.start()

    def _flush_loop(self) -> None:
        while True:
            time.sleep(self.every_s)
            try:
                if not self.flush():
                    return
            except ApiError as exc:  # the database is away: keep counting, write when it is back
                log.warning("usage records wait for the database: %s", exc.message)

    def flush(self) -> bool:
        """Write what was counted since the last write; False when there was nothing to write.

        Raises:
            ApiError: 503 when the database does not answer (the counts stay for the next write).
        """
        with self._lock:
            pending, self._pending = self._pending, Counter()
        rows: dict[tuple[str, str], list[int]] = {}
        for (route, model, what), n in pending.items():
            rows.setdefault((route, model), [0, 0, 0])[("requests", "texts", "tokens").index(what)] += n
        if not rows or self.db is None:
            return bool(rows)
        try:
            with self.db.connection() as conn:
                with conn.cursor() as cur:
                    cur.executemany("insert into clusterank_usage (replica, route, model, requests, texts, tokens) "
                                    "values (%s, %s, %s, %s, %s, %s)",
                                    [(self.replica, r, m or None, *counts) for (r, m), counts in rows.items()])
        except BaseException:
            with self._lock:
                self._pending.update(pending)
            raise
        return True

    def summary(self) -> dict:
        """Usage per route and model: summed over every replica sharing the database (written so far, this
        process' pending counts flushed first), or this process' own counts without a database."""
        if self.db is None:
            with self._lock:
                total = dict(self._total)
            keys = sorted({(r, m) for r, m, _ in total})
            data = [{"route": r, "model": m or None, **{w: total[(r, m, w)] for w in ("requests", "texts", "tokens")},
                     "replicas": 1} for r, m in keys]
            return {"object": "list", "scope": "this process", "data": data}
        self.flush()
        with self.db.connection() as conn:
            found = conn.execute("select route, model, sum(requests), sum(texts), sum(tokens), count(distinct replica) "
                                 "from clusterank_usage group by route, model order by route, model").fetchall()
        data = [{"route": r, "model": m, "requests": int(q), "texts": int(t), "tokens": int(k), "replicas": int(n)}
                for r, m, q, t, k, n in found]
        return {"object": "list", "scope": "every replica", "data": data}


class SharedRateCounter:
    """A fixed-window rate-limit counter in `clusterank_rate`, shared by every process on the database: one
    statement counts a request and its tokens only where both still fit the window's limits.

    Args:
        url: the database (`postgresql://...`).
    """

    def __init__(self, url: str):
        self.db = Database(url, size=2)

    def take(self, key: str, tokens: int, rpm: float | None, tpm: float | None, window: float = 60.0) -> float:
        """Count one request of `tokens` tokens under `key` if it fits this window; returns 0.0 when counted,
        else the seconds until the next window. The first request of a window always fits (as a lone request
        larger than `tpm` must go some time).

        Raises:
            ApiError: 503 when the database does not answer.
        """
        now = time.time()
        start = math.floor(now / window) * window
        max_requests = int(rpm) if rpm is not None else 2**62
        max_tokens = int(tpm) if tpm is not None else 2**62
        with self.db.connection() as conn:
            row = conn.execute(
                "insert into clusterank_rate (key, window_start, requests, tokens) "
                "values (%s, to_timestamp(%s), 1, %s) on conflict (key, window_start) do update set "
                "requests = clusterank_rate.requests + 1, tokens = clusterank_rate.tokens + excluded.tokens "
                "where clusterank_rate.requests + 1 <= %s and clusterank_rate.tokens + excluded.tokens <= %s "
                "returning requests", (key, start, int(tokens), max_requests, max_tokens)).fetchone()
            if row is not None and row[0] == 1 and int(now) % 97 == 0:  # now and then: drop windows long gone
                conn.execute("delete from clusterank_rate where window_start < now() - interval '1 day'")
        return 0.0 if row is not None else max(0.01, start + window - now)
