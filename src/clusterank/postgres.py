"""Connections to PostgreSQL (psycopg 3) for the corpus, the pgvector index and the shared server state.

One bounded wait, one clear error per failure (no answer, wrong credentials, no such database), credentials never
shown; clusterank's own tables come from versioned migrations applied on first use, and a schema from a newer
clusterank is refused instead of being written to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clusterank.errors import ClusterankError, install_hint, printable

SCHEMES = ("postgresql", "postgres")
OWN_PARAMS = ("table", "query")
"""URL parameters clusterank reads itself (`?table=profiles`, `?query=select ...`); the rest go to libpq."""
DEFAULT_WAIT_S = 5.0

MIGRATIONS: Sequence[tuple[int, str]] = (
    (1, """
        create table if not exists clusterank_sync (
            source text not null, id text not null, hash bytea not null,
            primary key (source, id));
    """),
    (2, """
        create table if not exists clusterank_jobs (
            id text primary key, state jsonb not null, cancel boolean not null default false,
            owner text, updated_at timestamptz not null default now());
        create table if not exists clusterank_rate (
            key text not null, window_start timestamptz not null, requests bigint not null default 0,
            tokens bigint not null default 0, primary key (key, window_start));
        create table if not exists clusterank_usage (
            id bigserial primary key, at timestamptz not null default now(), replica text not null,
            route text not null, model text, texts integer not null default 0, tokens bigint not null default 0);
    """),
    (3, """
        alter table clusterank_usage add column if not exists requests integer not null default 1;
        create index if not exists clusterank_usage_at on clusterank_usage (at);
    """),
    (4, """
        alter table clusterank_sync add column if not exists row_version bigint;
    """),
    (5, """
        create table if not exists clusterank_changes (
            rel oid not null, id text not null, xid xid8 not null default pg_current_xact_id());
        create index if not exists clusterank_changes_rel_xid on clusterank_changes (rel, xid);
        create table if not exists clusterank_sync_mark (
            source text primary key, rel oid not null, seen pg_snapshot not null, rows bigint not null,
            at timestamptz not null default now());
        create table if not exists clusterank_sync_state (
            source text primary key, version bigint not null, changed_at timestamptz not null default now());
    """),
)
"""(version, SQL) in order: each runs once, in one transaction with its version recorded. Append, never edit."""
SCHEMA_VERSION = MIGRATIONS[-1][0]
_MIGRATION_LOCK = 0x636C7573  # the advisory lock that keeps two replicas from migrating at once


def is_database_url(source: object) -> bool:
    """True when `source` is a `postgresql://` (or `postgres://`) URL, i.e. a corpus or store in a database."""
    return isinstance(source, str) and source.split("://", 1)[0].lower() in SCHEMES and "://" in source


def shown_url(url: str) -> str:
    """`url` as it may be shown or stored: scheme, host, port and database, without user, password or
    parameters other than `table` (a query's text is replaced by `query=...`)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    port = f":{parts.port}" if _port(parts) else ""
    own = dict(_own_params(url))
    tail = f"?table={own['table']}" if "table" in own else ("?query=..." if "query" in own else "")
    return printable(f"{parts.scheme}://{host}{port}{parts.path}{tail}", 200)


def _port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def _own_params(url: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in parse_qsl(urlsplit(str(url)).query, keep_blank_values=True) if k in OWN_PARAMS]


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """(the URL libpq connects with, clusterank's own parameters from it: `table`, `query`).

    Raises:
        ClusterankError: not a postgresql:// URL, or a bad port.
    """
    if not is_database_url(url):
        shown = shown_url(url) if "://" in str(url) else printable(url, 120)  # no password in the message
        raise ClusterankError(f"{shown!r} is not a database URL; e.g. "
                              "postgresql://user@host:5432/db?table=profiles")
    parts = urlsplit(str(url))
    try:
        parts.port
    except ValueError:
        raise ClusterankError(f"{shown_url(url)}: the port is not a number from 1 to 65535") from None
    params = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in params if k in OWN_PARAMS}
    rest = urlencode([(k, v) for k, v in params if k not in OWN_PARAMS])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), own


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise ClusterankError(f"a postgresql:// URL needs psycopg: {install_hint('pg')}") from None
    return psycopg


_CAUSES = (
    (re.compile(r"password authentication failed|no password supplied|role \"[^\"]*\" does not exist|"
                r"authentication failed", re.I), "wrong credentials (user or password; set the password in PGPASSWORD)"),
    (re.compile(r"database \"([^\"]*)\" does not exist", re.I), "the database does not exist"),
)


def database_error(exc: BaseException, url: str, wait_s: float | None = None) -> ClusterankError:
    """One line for a failed connection or statement: what failed at which database (no credentials)."""
    text = str(exc)
    for pattern, cause in _CAUSES:
        if pattern.search(text):
            return ClusterankError(f"database {shown_url(url)}: {cause}")
    psycopg = _psycopg()
    if isinstance(exc, psycopg.OperationalError):
        wait = f" within {wait_s:g} s" if wait_s is not None else ""
        return ClusterankError(f"database {shown_url(url)} did not answer{wait} "
                               f"({printable(text.splitlines()[0] if text else type(exc).__name__, 160)})")
    return ClusterankError(f"database {shown_url(url)}: {printable(text.splitlines()[0] if text else exc, 200)}")


def connect(url: str, *, wait_s: float = DEFAULT_WAIT_S, autocommit: bool = True):
    """An open psycopg connection to the database `url` names, waiting at most `wait_s` for it to answer.

    Args:
        url: `postgresql://user@host:port/db` (libpq's forms, `?host=/socket/dir` too; clusterank's own
            parameters such as `table` are left out of the connection). A password belongs in PGPASSWORD.
        wait_s: the most seconds to wait for the server (libpq's connect_timeout, whole seconds, at least 1).
        autocommit: each statement commits at once (the default); False for explicit transactions.

    Raises:
        ClusterankError: psycopg not installed, the database not answering in time, wrong credentials, or no such
            database: one line naming the database without credentials.
    """
    psycopg = _psycopg()
    conninfo, _ = split_url(url)
    try:
        return psycopg.connect(conninfo, connect_timeout=max(1, math.ceil(wait_s)), autocommit=autocommit)
    except psycopg.Error as exc:
        raise database_error(exc, url, wait_s) from None


def schema_version(conn) -> int:
    """The version of clusterank's tables in this database (0 before the first migration)."""
    conn.execute("create table if not exists clusterank_schema (version integer primary key, "
                 "applied_at timestamptz not null default now())")
    row = conn.execute("select coalesce(max(version), 0) from clusterank_schema").fetchone()
    return int(row[0])


def migrate(conn, url: str = "") -> int:
    """Apply the migrations this database has not had yet, each in its own transaction, under an advisory lock
    so replicas starting together migrate once; returns the schema version.

    Raises:
        ClusterankError: the database's schema is from a newer clusterank (nothing is written then).
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            raise ClusterankError(f"database {shown_url(url)}: its clusterank tables are at schema version "
                                  f"{version}, from a newer clusterank (this one knows up to {SCHEMA_VERSION}); "
                                  "upgrade clusterank")
        for number, sql in MIGRATIONS:
            if number > version:
                conn.execute(sql)
                conn.execute("insert into clusterank_schema (version) values (%s)", (number,))
    return max(version, SCHEMA_VERSION)


def open_database(url: str, *, wait_s: float = DEFAULT_WAIT_S):
    """A connection (autocommit) to `url` with clusterank's tables migrated to this version."""
    conn = connect(url, wait_s=wait_s)
    try:
        migrate(conn, url)
    except ClusterankError:
        conn.close()
        raise
    except _psycopg().Error as exc:
        conn.close()
        raise database_error(exc, url) from None
    return conn


def database_status(url: str, *, wait_s: float = DEFAULT_WAIT_S) -> dict:
    """What clusterank keeps in a database, read without writing (no migration): schema version, tables tracked by
    `track_changes` (key column, change-log rows not yet seen by every sync, sync marks and the oldest), sync
    snapshots (rows, version, last change), pgvector tables (rows, bytes with indexes) and compare jobs by
    state.

    Raises:
        ClusterankError: the database does not answer, wrong credentials, no such database, a failing statement.
    """
    psycopg = _psycopg()
    conn = connect(url, wait_s=wait_s)
    try:
        exists = lambda name: conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]  # noqa: E731
        status: dict = {"database": shown_url(url), "schema_version": 0, "tracked": [], "snapshots": [],
                        "vector_tables": [], "jobs": {}}
        if exists("clusterank_schema"):
            status["schema_version"] = conn.execute("select coalesce(max(version), 0) from clusterank_schema"
                                                    ).fetchone()[0]
        pending = dict(conn.execute("select rel, count(*) from clusterank_changes group by rel").fetchall()
                       ) if exists("clusterank_changes") else {}
        marks = {rel: (n, oldest) for rel, n, oldest in conn.execute(
            "select rel, count(*), min(at) from clusterank_sync_mark group by rel")} if exists(
            "clusterank_sync_mark") else {}
        for rel, table, args in conn.execute(
                "select t.tgrelid, t.tgrelid::regclass::text, t.tgargs from pg_trigger t "
                "where t.tgname = 'clusterank_track_insert' order by 2"):
            n, oldest = marks.get(rel, (0, None))
            status["tracked"].append({"table": table, "key": bytes(args).split(b"\0")[0].decode(),
                                      "pending_log_rows": pending.get(rel, 0), "marks": n,
                                      "oldest_mark": oldest.isoformat() if oldest else None})
        versions = {source: (version, changed) for source, version, changed in conn.execute(
            "select source, version, changed_at from clusterank_sync_state")} if exists("clusterank_sync_state") else {}
        if exists("clusterank_sync"):
            for source, rows in conn.execute("select source, count(*) from clusterank_sync group by 1 order by 1"):
                version, changed = versions.get(source, (0, None))
                status["snapshots"].append({"source": source, "rows": rows, "version": version,
                                            "changed_at": changed.isoformat() if changed else None})
        for table, size in conn.execute(
                "select relname, pg_total_relation_size(oid) from pg_class where relkind = 'r' and "
                "relnamespace = current_schema()::regnamespace and relname ~ '^clusterank_(vector|halfvec|bit)_' "
                "order by relname").fetchall():
            rows = conn.execute(psycopg.sql.SQL("select count(*) from {}").format(psycopg.sql.Identifier(table))
                                ).fetchone()[0]
            status["vector_tables"].append({"table": table, "rows": rows, "bytes": size})
        if exists("clusterank_jobs"):
            status["jobs"] = dict(conn.execute("select state->>'state', count(*) from clusterank_jobs group by 1 "
                                               "order by 1").fetchall())
        return status
    except psycopg.Error as exc:
        raise database_error(exc, url) from None
    finally:
        conn.close()
