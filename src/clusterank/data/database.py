"""Profiles from a PostgreSQL table or a read-only query (`postgresql://.../db?table=profiles`), as a table.

Rows come through a server-side cursor in batches; identifiers are quoted, a query runs in a read-only transaction;
a missing table names the tables there, and the row ids come from a key column (`id`, `?id=<column>`, else the
table's primary key), which is what `clusterank.embed.sync` tells changed rows apart by.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from clusterank.errors import ClusterankError
from clusterank.postgres import DEFAULT_WAIT_S, connect, database_error, is_database_url, shown_url, split_url

__all__ = ["ID_PARAM", "database_source", "is_database_url", "read_database", "shown_url", "without_id"]

ID_PARAM = "id"
"""The URL parameter naming the key column (`?table=profiles&id=profile_id`); read here, never sent to libpq."""
BATCH_ROWS = 5_000
"""Rows fetched per round trip from the server-side cursor (memory holds one batch of tuples at a time)."""


def without_id(url: str) -> tuple[str, str | None]:
    """(`url` without clusterank's `id` parameter, so libpq can take it; that parameter's value or None)."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    key = next((v for k, v in params if k == ID_PARAM), None)
    rest = urlencode([(k, v) for k, v in params if k != ID_PARAM])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), key


def database_source(url: str) -> str:
    """How a database corpus is named in messages, saved indexes and sync snapshots: `shown_url` (no user, password
    or query text) with the key column when one was named."""
    plain, key = without_id(str(url))
    return shown_url(plain) + (f"&id={key}" if key else "")


def _table_parts(name: str) -> tuple[str, ...]:
    """`schema.table` or `table` as identifier parts (quoted later, so any name is safe)."""
    parts = tuple(name.split(".", 1)) if "." in name else (name,)
    if not all(p.strip() for p in parts):
        raise ClusterankError(f"?table={name!r} is not a table name; e.g. ?table=profiles or ?table=hr.profiles")
    return parts


def _check_table(conn, parts: tuple[str, ...], source: str) -> None:
    """Raise one line naming the tables there when the table does not exist (or cannot be seen)."""
    schema = parts[0] if len(parts) == 2 else None
    found = conn.execute("select 1 from information_schema.tables where table_name = %s and "
                         "table_schema = coalesce(%s, current_schema())", (parts[-1], schema)).fetchone()
    if found:
        return
    names = [n for (n,) in conn.execute(
        "select case when table_schema = current_schema() then table_name else table_schema || '.' || table_name end "
        "from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema') "
        "and table_name not like 'clusterank\\_%%' order by 1 limit 30")]
    raise ClusterankError(f"{source}: no table {'.'.join(parts)!r}; tables are: {', '.join(names) or '(none)'}")


def _primary_key(conn, parts: tuple[str, ...]) -> str | None:
    """The table's primary key column when it has exactly one, else None."""
    rows = conn.execute(
        "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indrelid = %s::regclass and i.indisprimary",
        (".".join('"' + p.replace('"', '""') + '"' for p in parts),)).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def read_database(url: str, *, wait_s: float = DEFAULT_WAIT_S, batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """The rows of the table (`?table=name`) or read-only query (`?query=select ...`) that `url` names.

    Args:
        url: `postgresql://user@host:port/db?table=profiles` (a password belongs in PGPASSWORD); `&id=<column>`
            names the key column (default: `id`, else the table's single-column primary key), which is recorded
            in `frame.attrs["id_column"]`.
        wait_s: the most seconds to wait for the server to answer.
        batch_rows: rows per fetch from the server-side cursor.

    Raises:
        ClusterankError: neither or both of `table` and `query`; the database not answering, wrong credentials, no
            such table (naming those there), a failing query, or the connection lost while reading: one line each.
    """
    plain, key = without_id(str(url))
    _, own = split_url(plain)
    source = database_source(url)
    table, query = own.get("table", "").strip(), own.get("query", "").strip()
    if bool(table) == bool(query):
        raise ClusterankError(f"{source}: name the rows with ?table=<name> or ?query=select ... (one of them)")
    import psycopg
    from psycopg import sql

    conn = connect(plain, wait_s=wait_s, autocommit=False)
    try:
        with conn:
            if query:
                conn.execute("set transaction read only")  # a query reads; it never changes the team's data
                statement = sql.SQL(query)  # the user's own SQL, run read-only
            else:
                parts = _table_parts(table)
                _check_table(conn, parts, source)
                key = key or None
                statement = sql.SQL("select * from {}").format(sql.Identifier(*parts))
            with conn.cursor(name="clusterank_corpus") as cur:
                cur.itersize = batch_rows
                cur.execute(statement)
                chunks, columns = [], None
                while rows := cur.fetchmany(batch_rows):
                    columns = columns or [d.name for d in cur.description]
                    chunks.append(pd.DataFrame.from_records(rows, columns=columns))
                columns = columns or [d.name for d in (cur.description or ())]
            if key is None and not query and ID_PARAM not in columns:
                key = _primary_key(conn, parts)
    except psycopg.Error as exc:
        raise database_error(exc, plain, wait_s) from None
    finally:
        conn.close()
    frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns)
    key = key or ID_PARAM
    if key not in frame.columns:
        raise ClusterankError(f"{source}: no key column {key!r} to tell rows apart (name one with &id=<column>); "
                              f"columns are: {', '.join(map(str, frame.columns))}")
    frame.attrs["id_column"] = key
    return frame


def diff_table(conn, url: str, snapshot: str, text_column: str) -> tuple[pd.DataFrame, dict[str, list[str]], int] | None:
    """Compare a table with a sync snapshot inside the database: only the rows that differ travel.

    The server joins the rows to the snapshot's (id, hash, row_version: the row's xmin then) by the key column and
    hashes `text_column` (sha256 of its UTF-8 text, as `clusterank.embed.sync` hashes a text) of the rows written
    since (another xmin); the changed rows' xmin is in `frame.attrs["versions"]` (by id).

    Args:
        conn: an open connection (autocommit) to the database `url` names.
        url: the corpus URL (`?table=`; a `?query=` is not compared here).
        snapshot: the snapshot's `clusterank_sync.source`.
        text_column: the column holding the text that is embedded.

    Returns:
        (the new and edited rows, as `read_database` reads them; ids by state, `new`, `edited` and `deleted`; the
        rows of the table in all), or None when the comparison is not one for SQL: a query, no column `text_column`
        (the text is built from several columns), no key column, or more than half of the rows changed (a
        first sync reads the table whole).

    Raises:
        ClusterankError: no such table (naming those there).
    """
    from psycopg import sql

    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read, read only")  # one state of the table
        found = _table_names(conn, url, text_column)
        if found is None:
            return None
        names, key = found
        kept = conn.execute("select count(*) from clusterank_sync where source = %s", (snapshot,)).fetchone()[0]
        cur = conn.execute(sql.SQL(  # one scan: the changed rows whole, the deleted ones by id; a row whose version
            # (xmin) is the one the snapshot saw was not written since, so its text is neither read nor hashed
            "select coalesce(btrim(t.{k}::text), s.id), case when t.{k} is null then 'deleted' when s.id is null "
            "then 'new' else 'edited' end, t.xmin::text::bigint, t.* from {t} t full join "
            "(select id, hash, row_version from clusterank_sync where source = %s) s on s.id = btrim(t.{k}::text) "
            "where t.{k} is null or s.id is null or (s.row_version is distinct from t.xmin::text::bigint "
            "and s.hash is distinct from sha256(convert_to(t.{x}, 'UTF8')))").format(**names), (snapshot,))
        rows = cur.fetchall()
        columns = [d.name for d in cur.description][3:]
    states: dict[str, list[str]] = {"new": [], "edited": [], "deleted": []}
    for row in rows:
        states[row[1]].append(row[0])
    total = kept - len(states["deleted"]) + len(states["new"])
    if 2 * (len(states["new"]) + len(states["edited"])) > total:
        return None
    frame = pd.DataFrame.from_records([row[3:] for row in rows if row[1] != "deleted"], columns=columns)
    frame.attrs["versions"] = {row[0]: row[2] for row in rows if row[1] != "deleted"}
    frame.attrs["id_column"] = key
    return frame, states, total


def _table_names(conn, url: str, text_column: str) -> tuple[dict, str] | None:
    """(the table's, key column's and text column's identifiers, `t`, `k`, `x`, for SQL; the key column), or None
    for a query, a table without `text_column` or without a key column.

    Raises:
        ClusterankError: no such table (naming those there).
    """
    from psycopg import sql

    plain, key = without_id(str(url))
    _, own = split_url(plain)
    table = own.get("table", "").strip()
    if not table or own.get("query", "").strip():
        return None
    parts = _table_parts(table)
    _check_table(conn, parts, database_source(url))
    columns = [c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_name = %s and table_schema = "
        "coalesce(%s, current_schema()) order by ordinal_position", (parts[-1], parts[0] if len(parts) == 2 else None))]
    key = key or (ID_PARAM if ID_PARAM in columns else _primary_key(conn, parts))
    if text_column not in columns or key not in columns:
        return None
    return {"t": sql.Identifier(*parts), "k": sql.Identifier(key), "x": sql.Identifier(text_column)}, key


def note_versions(conn, url: str, snapshot: str, text_column: str) -> int:
    """Write each row's version (xmin) beside its snapshot row where the text still has the recorded hash, so the
    next `diff_table` neither reads nor hashes a row not written since; one statement. Returns the rows noted."""
    from psycopg import sql

    found = _table_names(conn, url, text_column)
    if found is None:
        return 0
    names, _ = found
    return conn.execute(sql.SQL(
        "update clusterank_sync s set row_version = t.xmin::text::bigint from {t} t where s.source = %s "
        "and s.id = btrim(t.{k}::text) and case when s.row_version is distinct from t.xmin::text::bigint "
        "then s.hash = sha256(convert_to(t.{x}, 'UTF8')) else false end").format(**names), (snapshot,)).rowcount
    # (the case keeps the planner from hashing every text to join on it: only rows written since are hashed)
