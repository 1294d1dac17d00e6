"""`clusterank db status`: what clusterank keeps in a PostgreSQL database (tracked tables and their change logs, sync
snapshots, pgvector tables, compare jobs), read without writing anything."""

from __future__ import annotations

import json
import os
from typing import Optional

import typer
from rich.table import Table

from clusterank.cli.common import app, out

db_app = typer.Typer(help="What clusterank keeps in a PostgreSQL database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("status")
def status(db: Optional[str] = typer.Option(None, "--db", help="postgresql://user@host/db (default: $CLUSTERANK_DB; "
                                            "the password in PGPASSWORD)."),
           as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables.")) -> None:
    """Tracked tables (key, log rows not yet seen by every sync, sync marks), sync snapshots (rows, version, last
    change), pgvector tables (rows, size) and compare jobs by state; nothing is written."""
    from clusterank import ClusterankError, database_status

    url = db if db is not None else os.environ.get("CLUSTERANK_DB")
    if not url:
        raise ClusterankError("db status: name the database with --db postgresql://... or CLUSTERANK_DB")
    found = database_status(url)
    if as_json:
        out.print_json(json.dumps(found))
        return
    out.print(f"{found['database']}: clusterank schema version {found['schema_version']}", markup=False)
    tracked = Table("table", "key", "log rows pending", "sync marks", "oldest mark", title="tracked tables")
    for t in found["tracked"]:
        tracked.add_row(t["table"], t["key"], f"{t['pending_log_rows']:,}", str(t["marks"]), t["oldest_mark"] or "")
    snapshots = Table("snapshot (corpus | text | model | cache)", "rows", "version", "last change",
                      title="sync snapshots")
    for s in found["snapshots"]:
        snapshots.add_row(s["source"], f"{s['rows']:,}", str(s["version"]), s["changed_at"] or "")
    vectors = Table("table", "rows", "MB", title="pgvector tables")
    for v in found["vector_tables"]:
        vectors.add_row(v["table"], f"{v['rows']:,}", f"{v['bytes'] / 1e6:.1f}")
    for table in (tracked, snapshots, vectors):
        out.print(table if table.row_count else f"{table.title}: none")
    jobs = ", ".join(f"{n} {state}" for state, n in found["jobs"].items()) or "none"
    out.print(f"compare jobs: {jobs}", markup=False)
