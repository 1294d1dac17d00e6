"""Bring the cached embeddings of a corpus in PostgreSQL up to date: only rows new or edited since the last sync
(told apart by key column and text hash) are embedded, deleted ones counted; the snapshot of (id, hash) in
`clusterank_sync` is replaced in one transaction after those vectors are stored, so an interrupted sync is redone.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from clusterank.data.blind import parse_blind
from clusterank.data.changes import Mark, read_changes, save_mark, tracked_mark, trim_log
from clusterank.data.database import database_source, diff_table, is_database_url, note_versions, without_id
from clusterank.data.loaders import Corpus, corpus_from_frame, load_profiles
from clusterank.data.schema import ROLE_COLUMN, TEXT_COLUMN
from clusterank.defaults import DEFAULT_MODEL
from clusterank.embed.base import Embedder
from clusterank.embed.registry import get_embedder, stored_name
from clusterank.embed.store import EmbeddingStore
from clusterank.errors import ClusterankError, printable
from clusterank.postgres import DEFAULT_WAIT_S, database_error, open_database, shown_url
from clusterank.workspace import Workspace

log = logging.getLogger("clusterank.sync")


@dataclass
class SyncReport:
    """What one sync found and did: rows new, edited, deleted and unchanged since the last sync of this corpus, model
    and cache; how many texts were embedded; seconds spent reading (and comparing, where the database compares),
    hashing and comparing here, embedding, recording."""

    source: str
    model: str
    new: int
    edited: int
    deleted: int
    unchanged: int
    embedded: int
    read_s: float
    diff_s: float
    embed_s: float
    record_s: float
    corpus: Corpus | None = field(repr=False)
    """The rows read: the whole table, or where the table was compared in SQL only its new and edited rows (None:
    none)."""
    via: str = "read whole"
    """How changed rows were found: `change log` (a tracked table: no scan), `compared in SQL` (one scan joined to
    the snapshot) or `read whole` (a query, blind fields, a first sync)."""
    version: int = 0
    """The snapshot's version after this sync: raised by every sync that found a row new, edited, deleted or (from
    the change log) rewritten in another column; what `serve --refresh-s` watches."""

    @property
    def changed(self) -> int:
        """Rows whose text must be (re-)embedded: new and edited ones."""
        return self.new + self.edited

    def line(self) -> str:
        """The one-line summary the CLI prints on stderr."""
        return (f"sync {self.source} ({self.model}): {self.new:,} new, {self.edited:,} edited, {self.deleted:,} "
                f"deleted, {self.unchanged:,} unchanged; {self.embedded:,} texts embedded "
                f"(rows found by {self.via}; read {self.read_s:.1f} s, compare {self.diff_s:.1f} s, embed "
                f"{self.embed_s:.1f} s)")


def snapshot_key(source: str, text_column: str, model: str, store: EmbeddingStore) -> str:
    """The `clusterank_sync.source` of a corpus (its `Corpus.source`) as embedded by `model` into this machine's
    cache: a snapshot says which rows that cache holds vectors for, so another machine's cache (or model) keeps its
    own."""
    return f"{source} | text={text_column} | model={model} | cache={socket.gethostname()}:{store.path}"


def sync_hash(text: str) -> bytes:
    """The snapshot's hash of a text: sha256 of its UTF-8 bytes, what PostgreSQL's `sha256(convert_to(t, 'UTF8'))`
    gives, so a table's texts are compared where they lie."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def sync_corpus(url: str, model: str | Embedder = DEFAULT_MODEL, *, text_column: str = TEXT_COLUMN,
                label_column: str = ROLE_COLUMN, blind: Sequence[str] | str = (), workspace: Workspace | None = None,
                device: str | None = None, progress: bool = False, wait_s: float = DEFAULT_WAIT_S) -> SyncReport:
    """Read the profiles at `url`, embed the rows new or edited since the last sync into the cache, and record the
    snapshot; the store's content hashes keep a text from being embedded twice even across sources.

    Args:
        url: `postgresql://user@host/db?table=profiles` (`&id=<column>`: the key column; `?query=select ...` for a
            read-only query); see `read_database`. A password belongs in PGPASSWORD.
        model: a model id for `get_embedder`, or an Embedder.
        text_column, label_column, blind: as `load_profiles` takes them.
        workspace: whose cache (default: `Workspace.default()`).
        device: where a local model runs (auto | cpu | cuda).
        progress: a progress bar while embedding.
        wait_s: the most seconds to wait for the database to answer.

    Returns:
        The `SyncReport`, with the rows read (`report.corpus`). A table whose text is one column is compared in the
        database, so only new and edited rows are read; otherwise (a query, the profile fields joined, `blind`) the
        rows are read whole and compared here.

    Raises:
        ClusterankError: not a database URL; anything `load_profiles` refuses (no table, no column, no answer, wrong
            credentials); the connection lost while recording (nothing of the snapshot is written then; run again).
    """
    if not is_database_url(url):
        raise ClusterankError(f"{printable(str(url), 120)!r}: sync takes a postgresql:// URL")
    workspace = workspace or Workspace.default()
    plain, _ = without_id(str(url))
    store = EmbeddingStore(workspace.store_path)
    mark = None
    name = model.name if isinstance(model, Embedder) else stored_name(model)
    one_at_a_time = snapshot_key(database_source(url), text_column, name, store)
    try:
        if not parse_blind(blind) and not (isinstance(model, str) and model.startswith("precomputed:")):
            t0 = time.perf_counter()
            build = lambda: model if isinstance(model, Embedder) else get_embedder(model, workspace, device=device)
            with open_database(plain, wait_s=wait_s) as conn:  # the model is built only when a row changed
                _lock(conn, plain, one_at_a_time)
                mark = _mark(conn, url, plain, text_column)  # before the table is read: nothing written since is lost
                done = _in_sql(conn, url, name, build, store, text_column, label_column, progress, t0, mark)
            if done is not None:
                return done
        t0 = time.perf_counter()
        corpus = load_profiles(url, text_column=text_column, label_column=label_column, blind=blind)
        read_s = time.perf_counter() - t0
        embedder = model if isinstance(model, Embedder) else get_embedder(model, workspace, tables=(corpus,),
                                                                           device=device)
        with open_database(plain, wait_s=wait_s) as conn:
            _lock(conn, plain, one_at_a_time)
            return _sync(conn, plain, corpus, name, embedder, store, read_s, progress, url, mark)
    finally:
        store.close()


def _lock(conn, url: str, key: str) -> None:
    """Hold an advisory lock on the snapshot `key` for this connection's life, so that two syncs of one snapshot
    (a server's workers refreshing, a cron job beside them) take turns: the second compares with what the first
    recorded instead of recording the same rows again."""
    import psycopg

    try:
        if not conn.execute("select pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]:
            log.info("another sync of this snapshot is running; waiting for it")
            conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (key,))
    except psycopg.Error as exc:
        raise database_error(exc, url) from None


def _mark(conn, url: str, plain: str, text_column: str) -> Mark | None:
    """Where this sync starts in the table's change log (`changes.tracked_mark`), or None: not tracked."""
    import psycopg

    try:
        return tracked_mark(conn, url, text_column)
    except psycopg.Error as exc:
        raise database_error(exc, plain) from None


def _in_sql(conn, url: str, name: str, build, store: EmbeddingStore, text_column: str, label_column: str,
            progress: bool, t0: float, mark: Mark | None) -> SyncReport | None:
    """The sync with only changed rows read: from the change log where the table is tracked (`read_changes`), else
    compared in the database (`diff_table`). None where neither applies, or the cache lost the
    model's vectors since (`_cache_lost`)."""
    import psycopg

    source = database_source(url)
    key = snapshot_key(source, text_column, name, store)
    plain, _ = without_id(str(url))
    found, via = None, ""
    try:
        for via, compare in (((("change log", read_changes),) if mark else ()) +
                             (("compared in SQL", diff_table),)):
            found = compare(conn, url, key, text_column)
            if found is not None and not _cache_lost(store, name, found[2] - len(found[1]["new"])):
                break
            found = None
    except psycopg.Error as exc:
        raise database_error(exc, plain) from None
    if found is None:
        return None
    frame, states, total = found
    read_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    corpus = (corpus_from_frame(frame, source, text_column=text_column, label_column=label_column,
                                id_column=frame.attrs["id_column"]) if len(frame) else None)
    cached: list[int] = []
    if corpus is not None:
        store.embed(build(), corpus.texts, progress=progress, what="profiles", cached=cached)
    embed_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    rows = list(zip(corpus.ids, corpus.texts)) if corpus is not None else []
    versions = frame.attrs.get("versions", {})
    version = _record(conn, plain, key, states["edited"] + states["deleted"],
                      [(key, i, sync_hash(t), versions.get(i)) for i, t in rows], mark and (mark, total),
                      bool(states.get("rewritten")))
    # (a row whose other columns changed keeps its old version and is hashed again next time: cheaper than a second
    # scan to note it)
    return SyncReport(source, name, len(states["new"]), len(states["edited"]), len(states["deleted"]),
                      total - len(rows), len(rows) - len(cached), read_s, 0.0, embed_s, time.perf_counter() - t2,
                      corpus, via, version)


def _sync(conn, url: str, corpus: Corpus, name: str, embedder: Embedder, store: EmbeddingStore, read_s: float,
          progress: bool, source_url: str, mark: Mark | None = None) -> SyncReport:
    """The sync with every row read (`corpus`) and compared here against the snapshot's (id, hash)."""
    import psycopg

    t0 = time.perf_counter()
    key = snapshot_key(corpus.source, corpus.text_column, name, store)
    hashes = [sync_hash(t) for t in corpus.texts]
    try:
        old = {i: bytes(h) for i, h in conn.execute("select id, hash from clusterank_sync where source = %s", (key,))}
    except psycopg.Error as exc:
        raise database_error(exc, url) from None
    rows = [r for r, (i, h) in enumerate(zip(corpus.ids, hashes)) if old.get(i) != h]
    new = sum(1 for r in rows if corpus.ids[r] not in old)
    deleted = [i for i in old.keys() - set(corpus.ids)]
    diff_s = time.perf_counter() - t0
    if _cache_lost(store, name, len(old) - len(deleted)):  # check every text
        log.info("the cache holds no vector of this model since the last sync; checking every text")
        rows = list(range(len(corpus)))
    t1 = time.perf_counter()
    cached: list[int] = []
    if rows:
        store.embed(embedder, [corpus.texts[r] for r in rows], progress=progress, what="profiles", cached=cached)
    embed_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    changed = [r for r in rows if old.get(corpus.ids[r]) != hashes[r]]
    version = _record(conn, url, key, [corpus.ids[r] for r in changed if corpus.ids[r] in old] + deleted,
                      [(key, corpus.ids[r], hashes[r], None) for r in changed], mark and (mark, len(corpus)))
    _note(conn, source_url, key, corpus.text_column)  # row versions for the next sync, where the table has them
    return SyncReport(corpus.source, name, new, len(changed) - new, len(deleted),
                      len(corpus) - len(changed), len(rows) - len(cached), read_s, diff_s, embed_s,
                      time.perf_counter() - t2, corpus, version=version)


def _cache_lost(store: EmbeddingStore, name: str, recorded: int) -> bool:
    """True where the snapshot records `recorded` rows but the cache holds no vector of the model: the store was
    deleted or cleared since, so every row must be checked again. One lookup, not a count of 100,000s of vectors (a
    vector lost otherwise, say by `cache repair`, is embedded by the first search that reads the corpus whole)."""
    return recorded > 0 and store.dims(name) is None


def _record(conn, url: str, key: str, drop: list[str], put: list[tuple[str, str, bytes, int | None]],
            marked: tuple[Mark, int] | None = None, rewritten: bool = False) -> int:
    """Replace the snapshot rows of `drop` and `put`, where the table is tracked this sync's mark (the mark, the
    table's rows), and where anything changed (or `rewritten`: rows written with the same text) raise the snapshot's
    version, in one transaction: all of it is written or none; then trim the change log. Returns the version."""
    import psycopg

    try:
        with conn.transaction():
            if drop:
                conn.execute("delete from clusterank_sync where source = %s and id = any(%s)", (key, drop))
            _copy(conn, put)
            if marked:
                save_mark(conn, key, *marked)
            if drop or put or rewritten:
                conn.execute("insert into clusterank_sync_state (source, version) values (%s, 1) on conflict (source) "
                             "do update set version = clusterank_sync_state.version + 1, changed_at = now()", (key,))
            row = conn.execute("select version from clusterank_sync_state where source = %s", (key,)).fetchone()
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterankError(f"database {shown_url(url)}: the connection was lost while recording the sync "
                              f"({printable(first, 160)}); nothing of it was written, run it again") from None
    except psycopg.Error as exc:
        raise database_error(exc, url) from None
    if marked:
        try:
            trim_log(conn, marked[0].rel)  # it only keeps the log short: a failure is logged, never raised
        except psycopg.Error as exc:
            log.debug("change log not trimmed: %s", exc)
    return int(row[0]) if row else 0


def _note(conn, url: str, key: str, text_column: str) -> None:
    """Row versions beside the snapshot (`note_versions`); they only spare the next sync work, so a failure is
    logged, never raised (the snapshot is written already)."""
    import psycopg

    try:
        note_versions(conn, url, key, text_column)
    except (psycopg.Error, ClusterankError) as exc:
        log.debug("row versions not noted: %s", exc)


def _copy(conn, rows: list[tuple[str, str, bytes, int | None]]) -> None:
    """COPY the new snapshot rows in (inside the caller's transaction)."""
    with conn.cursor() as cur, cur.copy("copy clusterank_sync (source, id, hash, row_version) from stdin") as copy:
        for row in rows:
            copy.write_row(row)
