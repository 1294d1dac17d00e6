"""A change log kept by triggers on a corpus table, so that a sync reads only the rows written since the last one.

`track_changes(url)` puts statement-level triggers on the team's table: every insert, update and delete writes the
keys of the rows it touched to `clusterank_changes`, with its transaction id; a truncate forgets every sync's mark
on the table, so the next sync compares the table whole. Each sync records in `clusterank_sync_mark` the snapshot
(`pg_current_snapshot()`) taken before it read the table. The next sync reads the keys written by transactions that
snapshot did not see, fetches those rows through the table's key index and compares their text hashes with the sync
snapshot's: no scan of the table, whatever its size. Log rows that every mark on the table has seen are deleted
after each sync. Without the triggers (or with another key column) a sync compares the table in SQL as before
(`database.diff_table`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from clusterank.data.database import _table_names, database_source, without_id
from clusterank.errors import ClusterankError
from clusterank.postgres import DEFAULT_WAIT_S, database_error, open_database, split_url

__all__ = ["MARK_DAYS", "Mark", "read_changes", "save_mark", "track_changes", "tracked_mark", "trim_log"]

TRIGGERS = {"insert": "referencing new table as new_rows", "update": "referencing old table as old_rows new table "
            "as new_rows", "delete": "referencing old table as old_rows", "truncate": ""}
"""The triggers `track_changes` puts on a table (`clusterank_track_<event>`), with their transition tables."""
MARK_DAYS = 30
"""A sync mark not moved for this many days is forgotten when the log is trimmed, so the log of a table stays short
when one of the caches that synced it is gone."""
_FUNCTION = """
create or replace function clusterank_note_change() returns trigger language plpgsql security definer
set search_path = {schema}, pg_temp as $$
begin
  if tg_op = 'TRUNCATE' then  -- which keys went is not known: the next sync of this table compares it whole
    delete from clusterank_sync_mark where rel = tg_relid;
  elsif tg_op = 'INSERT' then
    insert into clusterank_changes (rel, id) select distinct tg_relid, to_jsonb(n) ->> tg_argv[0] from new_rows n;
  elsif tg_op = 'DELETE' then
    insert into clusterank_changes (rel, id) select distinct tg_relid, to_jsonb(o) ->> tg_argv[0] from old_rows o;
  else  -- an update that changes a key: the old key is gone, the new one new
    insert into clusterank_changes (rel, id) select tg_relid, k from (select to_jsonb(o) ->> tg_argv[0] as k
      from old_rows o union select to_jsonb(n) ->> tg_argv[0] from new_rows n) keys;
  end if;
  return null;
end $$"""
"""The trigger function (security definer: the team's writers need no rights on clusterank's tables)."""


@dataclass(frozen=True)
class Mark:
    """Where a sync stands in a tracked table's change log: the table (`rel`, its oid) and the snapshot taken before
    the table was read (`seen`, `pg_snapshot` text); changes by transactions it does not see come next time."""

    rel: int
    seen: str


def _table(conn, url: str, text_column: str):
    """(identifiers for SQL, key column, the table's oid) of a `?table=` corpus with `text_column`, else None."""
    found = _table_names(conn, url, text_column)
    if found is None:
        return None
    names, key = found
    rel = conn.execute("select %s::regclass::oid", (names["t"].as_string(conn),)).fetchone()[0]
    return names, key, int(rel)


def track_changes(url: str, *, on: bool = True, text_column: str = "text", wait_s: float = DEFAULT_WAIT_S) -> str:
    """Put the change-log triggers on the corpus table `url` names (`on=False`: take them off), in one transaction.

    Either way every sync mark on the table is forgotten (the log only counts from a sync after the triggers went
    on), so the next sync compares the table whole once. Changing a table's triggers takes its owner (or the TRIGGER
    right) and a short lock that waits for the table's open transactions.

    Args:
        url: `postgresql://.../db?table=profiles` (`&id=<column>`: the key column, as `read_database` takes it).
        on: install (True) or remove (False).
        text_column: the column holding the text (the table must have it and a key column).
        wait_s: the most seconds to wait for the database to answer.

    Returns:
        One line saying what was done, for the CLI.

    Raises:
        ClusterankError: not a table URL (a `?query=` cannot be tracked), no such table, no key or text column, no
            right to change the table's triggers: one line each.
    """
    import psycopg
    from psycopg import sql

    plain, _ = without_id(str(url))
    source = database_source(url)
    if split_url(plain)[1].get("query"):
        raise ClusterankError(f"{source}: a ?query= cannot be tracked; track the table it reads (?table=<name>)")
    with open_database(plain, wait_s=wait_s) as conn:
        try:
            with conn.transaction():
                found = _table(conn, url, text_column)
                if found is None:
                    raise ClusterankError(f"{source}: to track changes the table needs a key column (`id`, &id=<"
                                          f"column> or a one-column primary key) and a text column {text_column!r}")
                names, key, rel = found
                for event in TRIGGERS:
                    conn.execute(sql.SQL("drop trigger if exists {} on {}").format(
                        sql.Identifier(f"clusterank_track_{event}"), names["t"]))
                if on:
                    schema = conn.execute("select current_schema()").fetchone()[0]
                    conn.execute(sql.SQL(_FUNCTION).format(schema=sql.Identifier(schema)))
                    # the triggers fire whoever writes; nobody else may attach the function to a table of theirs
                    conn.execute("revoke execute on function clusterank_note_change() from public")
                    for event, referencing in TRIGGERS.items():
                        conn.execute(sql.SQL("create trigger {} after {} on {} {} for each statement execute function "
                                             "clusterank_note_change({})").format(
                            sql.Identifier(f"clusterank_track_{event}"), sql.SQL(event), names["t"],
                            sql.SQL(referencing), sql.Literal(key)))
                conn.execute("delete from clusterank_sync_mark where rel = %s", (rel,))
                if not on:
                    conn.execute("delete from clusterank_changes where rel = %s", (rel,))
                    return f"{source}: changes are no longer tracked"
                indexed = conn.execute("select exists (select 1 from pg_index i join pg_attribute a on a.attrelid = "
                                       "i.indrelid and a.attnum = i.indkey[0] where i.indrelid = %s and a.attname = %s)",
                                       (rel, key)).fetchone()[0]
        except psycopg.Error as exc:
            raise database_error(exc, plain) from None
    return (f"{source}: changes are tracked (key {key!r}); the next sync compares the table whole, later ones read "
            f"only the rows written since" + ("" if indexed else f"; warning: no index starts with {key!r}, so each "
                                              f"sync still scans the table (create one on it)"))


def tracked_mark(conn, url: str, text_column: str) -> Mark | None:
    """A mark for the sync about to read the table: the snapshot now, where all of the table's change-log triggers
    are in place and log the key column this sync uses; None where the table is not tracked (or `url` is a query)."""
    found = _table(conn, url, text_column)
    if found is None or not _logging(conn, found[2], found[1]):
        return None
    return Mark(found[2], conn.execute("select pg_current_snapshot()::text").fetchone()[0])


def _logging(conn, rel: int, key: str) -> bool:
    """Whether every change-log trigger is on table `rel`, enabled, and logs the key column `key`."""
    triggers = conn.execute("select tgname, tgargs from pg_trigger where tgrelid = %s and tgenabled <> 'D' and "
                            "tgname like 'clusterank\\_track\\_%%'", (rel,)).fetchall()
    wanted = {f"clusterank_track_{event}" for event in TRIGGERS}
    return {name for name, _ in triggers} == wanted and all(bytes(args) == key.encode() + b"\0" for _, args in triggers)


def read_changes(conn, url: str, snapshot: str, text_column: str,
                 ) -> tuple[pd.DataFrame, dict[str, list[str]], int] | None:
    """The rows written since the last sync of `snapshot` (a `clusterank_sync.source`), from the change log.

    Returns:
        As `diff_table`: (the new and edited rows, their `xmin` in `frame.attrs["versions"]`; ids by state, `new`,
        `edited`, `deleted` and `rewritten` (written since, the text unchanged); the table's rows in all), or None
        where the log cannot say or should not: the table is not tracked with this key, this snapshot has no mark
        on it (never synced since the triggers went on, a truncate, a mark forgotten after `MARK_DAYS`), or more
        than half of the rows were written since.
    """
    from psycopg import sql

    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read, read only")  # one state of the table
        found = _table(conn, url, text_column)
        if found is None or not _logging(conn, found[2], found[1]):
            return None
        names, key, rel = found
        last = conn.execute("select seen::text, rows from clusterank_sync_mark where source = %s and rel = %s",
                            (snapshot, rel)).fetchone()
        if last is None:
            return None
        seen, kept = last
        keys = [k for (k,) in conn.execute(
            "select distinct id from clusterank_changes where rel = %s and xid >= pg_snapshot_xmin(%s::pg_snapshot) "
            "and not pg_visible_in_snapshot(xid, %s::pg_snapshot)", (rel, seen, seen))]
        if 2 * len(keys) > kept:  # most of the table was written (a reload): reading it whole is cheaper
            return None
        conn.execute("set local enable_seqscan = off")  # the changed rows by key, even where a scan looks cheap
        key_type = conn.execute("select format_type(atttypid, atttypmod) from pg_attribute where attrelid = %s and "
                                "attname = %s", (rel, key)).fetchone()[0]
        cur = conn.execute(sql.SQL(  # through the key's index: each logged key's row (or none: deleted) beside the
            # snapshot's hash; `distinct` folds keys logged in two spellings of one value
            "select btrim(c.k::text), t.{k} is not null, s.hash is not null, s.hash is not distinct from "
            "sha256(convert_to(t.{x}, 'UTF8')), t.xmin::text::bigint, t.* from (select distinct k from "
            "unnest(%s::{type}[]) k) c left join {t} t on t.{k} = c.k left join clusterank_sync s on "
            "s.source = %s and s.id = btrim(c.k::text)").format(type=sql.SQL(key_type), **names), (keys, snapshot))
        rows = cur.fetchall()
        columns = [d.name for d in cur.description][5:]
    states: dict[str, list[str]] = {"new": [], "edited": [], "deleted": []}
    kept_rows = []
    for row in rows:
        ident, present, recorded, same = row[:4]
        state = ("new" if not recorded else None if same else "edited") if present else \
            ("deleted" if recorded else None)
        if state:
            states[state].append(ident)
            if present:
                kept_rows.append(row)
        elif present:  # written since, its text the same: another column changed
            states.setdefault("rewritten", []).append(ident)
    frame = pd.DataFrame.from_records([row[5:] for row in kept_rows], columns=columns)
    frame.attrs["versions"] = {row[0]: row[4] for row in kept_rows}
    frame.attrs["id_column"] = key
    return frame, states, int(kept) - len(states["deleted"]) + len(states["new"])


def save_mark(conn, snapshot: str, mark: Mark, rows: int) -> None:
    """Record where `snapshot`'s sync stands (`mark`) and how many rows the table had then; inside the transaction
    that records the sync snapshot, so the two never disagree."""
    conn.execute("insert into clusterank_sync_mark (source, rel, seen, rows) values (%s, %s, %s::pg_snapshot, %s) "
                 "on conflict (source) do update set rel = excluded.rel, seen = excluded.seen, rows = excluded.rows, "
                 "at = now()", (snapshot, mark.rel, mark.seen, rows))


def trim_log(conn, rel: int) -> int:
    """Delete the log rows of table `rel` that every sync mark on it has seen, after forgetting marks not moved for
    `MARK_DAYS` (a cache that stopped syncing must not keep the log growing; its next sync compares the table whole);
    returns how many log rows went."""
    conn.execute("delete from clusterank_sync_mark where rel = %s and at < now() - make_interval(days => %s)",
                 (rel, MARK_DAYS))
    return conn.execute("delete from clusterank_changes where rel = %s and xid < (select min(pg_snapshot_xmin(seen)) "
                        "from clusterank_sync_mark where rel = %s)", (rel, rel)).rowcount
