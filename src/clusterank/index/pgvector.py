"""`pgvector`: the corpus vectors in a PostgreSQL table (a `vector` or `halfvec` column beside each profile's id and
the vector's hash), searched in SQL through an HNSW index, exactly (`index=exact`), or by sign bits re-ranked in float.

The database comes from the search context (`--db`, or the `CLUSTERANK_DB` environment variable), and each model and
corpus gets its own table (`auto_table`); rows are keyed by the profile's id (`SearchContext.ids`: the corpus' `id`
column, else row numbers) and synced by id and vector hash in one transaction, so a rebuild over the same vectors
writes nothing, removing one profile deletes one row (the later ones keep theirs), and a lost connection leaves the
table as it was. SQL returns ids; `search` maps them back to corpus rows. Filters become SQL (`id = any(...)`) with
pgvector's iterative index scans. A table of the layout before ids (`row integer`) is migrated in place once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.index.base import POSITIVE, Bound, Param, Retriever, RetrieverType, SearchContext, TopK, whole
from clusterank.index.exact import check_vectors

DB_ENV = "CLUSTERANK_DB"
"""The environment variable a database URL is read from when the context has none (`--db` sets the context)."""
INDEXES = ("hnsw", "exact")
TYPES = ("vector", "halfvec", "bit")
MAX_DIMS = {"vector": 2000, "halfvec": 4000, "bit": 2000}
"""The most dimensions pgvector's HNSW indexes (bit: the float column its bits are re-ranked from)."""
EXACT_FILTER_SHARE = 0.02
"""A filter keeping at most this share of the rows is searched exactly over them (a bitmap scan of the primary key,
then every distance): an HNSW scan filtered as it goes misses some of so few (recall@10 0.81 at 1% of 1M rows in
bench/pgvector.py), and reading that few rows stays cheap."""
log = logging.getLogger(__name__)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,50}")
_BATCH = 2000


def _row_numbered(columns: dict[str, str]) -> bool:
    """Whether a table's columns are the layout before ids: `row integer` (the corpus row number), no `id`."""
    return "id" not in columns and columns.get("row") == "integer"


def _choice(options: tuple[str, ...]):
    def parse(text: str) -> str:
        if text.lower() not in options:
            raise ValueError(f"must be one of {' | '.join(options)}")
        return text.lower()
    return parse


def _table_name(text: str) -> str:
    if text.lower() == "auto":
        return "auto"
    if not _NAME.fullmatch(text.lower()):
        raise ValueError("a table name: letters, digits and _, starting with a letter or _")
    return text.lower()


def row_hashes(vectors: np.ndarray) -> list[bytes]:
    """A 16-byte BLAKE2b digest of each float32 row: what tells a changed vector from an unchanged one."""
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in vecs]


def profile_keys(ids: Sequence[str] | None, rows: int) -> list[str]:
    """The key of each corpus row in the table: its profile's id (`SearchContext.ids`), else its row number as text.

    Raises:
        ClusterankError: not one id per row, or two rows with one id (the table keeps one row per id; the corpus
            loaders refuse such a corpus the same way).
    """
    if ids is None:
        return [str(i) for i in range(rows)]
    keys = [str(i) for i in ids]
    if len(keys) != rows:
        raise ClusterankError(f"pgvector: {len(keys):,} profile ids for {rows:,} corpus vectors")
    first: dict[str, int] = {}
    for row, key in enumerate(keys):
        if first.setdefault(key, row) != row:
            raise ClusterankError(f"pgvector: rows {first[key]} and {row} have the same id {key!r}; the table keeps "
                                  f"one row per id, so ids must be unique")
    return keys


def auto_table(column_type: str, dims: int, key: str | None) -> str:
    """The table `table=auto` names: `clusterank_<vector|halfvec>_<dims>`, and where the vectors' key is known (model,
    corpus source, blind fields: `SearchContext.vectors_key`) a digest of it, so two models of one width, or a corpus
    and its name-blind copy, never write over each other's rows."""
    suffix = f"_{hashlib.blake2b(key.encode('utf-8'), digest_size=6).hexdigest()}" if key else ""
    return f"clusterank_{column_type}_{dims}{suffix}"


def _psycopg():
    from clusterank.errors import require

    return require("psycopg", "pg", "the pgvector retriever")


class PgvectorIndex(Retriever):
    """Cosine search over the corpus in PostgreSQL + pgvector (the vectors are unit length, so the inner product
    operator `<#>` orders as the cosine). The table's rows are keyed by profile id (`ids`; None: row numbers as text);
    `search` returns corpus rows, like every retriever."""

    spec = ""
    filters_in_search = True

    def __init__(self, url: str, vectors: np.ndarray, *, index: str = "hnsw", type: str = "vector", m: int = 16,
                 ef_construction: int = 64, ef_search: int = 100, rescore: int = 4, table: str | None = None,
                 key: str | None = None, ids: Sequence[str] | None = None, wait_s: float = 5.0):
        from clusterank.postgres import connect

        self.vectors = check_vectors(vectors, what="corpus vectors")
        self.url, self.index, self.type, self.rescore = url, index, type, max(1, rescore)
        self.dims = int(self.vectors.shape[1])
        self.ids = profile_keys(ids, len(self.vectors))
        self.position = {key: row for row, key in enumerate(self.ids)}
        if self.dims > MAX_DIMS[type]:
            raise ClusterankError(f"pgvector: type={type} indexes at most {MAX_DIMS[type]:,} dimensions, the vectors "
                                  f"have {self.dims:,}")
        self.column_type = "halfvec" if type == "halfvec" else "vector"
        self.table = table if table not in (None, "auto") else auto_table(self.column_type, self.dims, key)
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self.written = 0
        self.conn = connect(url, wait_s=wait_s)
        try:
            self._prepare()
            self.written = self.sync(self.vectors)
            if index == "hnsw":
                self._create_index()
        except _psycopg().Error as exc:
            self.close()
            raise self._error(exc) from None
        except ClusterankError:
            self.close()
            raise

    def _error(self, exc: BaseException) -> ClusterankError:
        from clusterank.postgres import database_error

        return database_error(exc, self.url)

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def _prepare(self) -> None:
        from pgvector.psycopg import register_vector

        self.conn.execute("create extension if not exists vector")
        register_vector(self.conn)
        self.conn.execute(f"create table if not exists {self.table} (id text primary key, hash bytea not null, "
                          f"embedding {self.column_type}({self.dims}) not null)")
        found = self._columns()
        if _row_numbered(found):
            found = self._migrate()
        for column in ("id", "hash", "embedding"):
            if column not in found:
                raise ClusterankError(f"pgvector: table {self.table} in {self._shown()} has no column {column!r} "
                                      f"(columns: {', '.join(found) or 'none'}); name another table with table=")
        if found["id"] != "text":
            raise ClusterankError(f"pgvector: table {self.table} in {self._shown()} has an id column of type "
                                  f"{found['id']}, not text; name another table with table=")
        want = f"{self.column_type}({self.dims})"
        if found["embedding"] != want:
            raise ClusterankError(f"pgvector: table {self.table} in {self._shown()} holds {found['embedding']} "
                                  f"vectors, these are {want}; name another table with table=")

    def _columns(self) -> dict[str, str]:
        return dict(self.conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute where attrelid = %s::regclass "
            "and attnum > 0 and not attisdropped", (self.table,)).fetchall())

    def _migrate(self) -> dict[str, str]:
        """Re-key a table of the layout before ids (`row integer`, the corpus row number) by id, in one transaction
        under a lock (a second process finds it done): each vector stays, under its row number as text, which is
        its id where the corpus has no id column; the sync after it rewrites the rows whose id or vector differs."""
        with self.conn.transaction():
            self.conn.execute(f"lock table {self.table} in access exclusive mode")
            if _row_numbered(self._columns()):
                self.conn.execute(f"alter table {self.table} rename column row to id")
                self.conn.execute(f"alter table {self.table} alter column id type text using id::text")
                log.warning("pgvector: table %s in %s was keyed by row number; now keyed by profile id",
                            self.table, self._shown())
        return self._columns()

    def _shown(self) -> str:
        from clusterank.postgres import shown_url

        return shown_url(self.url)

    def sync(self, vectors: np.ndarray) -> int:
        """Make the table hold exactly these vectors (corpus row i under the id `ids[i]`), writing only the ids whose
        hash differs and deleting the ids no longer in the corpus, in one transaction: all or nothing. Returns the
        rows written or deleted.

        Raises:
            ClusterankError: not one vector per id, or the connection lost while writing (nothing written then).
        """
        if len(vectors) != len(self.ids):
            raise ClusterankError(f"pgvector: {len(vectors):,} vectors for {len(self.ids):,} profile ids")
        hashes = row_hashes(vectors)
        stored = dict(self.conn.execute(f"select id, hash from {self.table}").fetchall())
        changed = [i for i, (key, h) in enumerate(zip(self.ids, hashes)) if stored.get(key) != h]
        gone = [key for key in stored if key not in self.position]
        if not changed and not gone:
            return 0
        try:
            self._write(vectors, hashes, changed, gone)
        except _psycopg().OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterankError(f"database {self._shown()}: the connection was lost while writing {self.table} "
                                  f"({first}); nothing was written, run again") from None
        return len(changed) + len(gone)

    def _write(self, vectors: np.ndarray, hashes: list[bytes], changed: list[int], gone: list[str]) -> None:
        with self.conn.transaction():
            if gone:
                self.conn.execute(f"delete from {self.table} where id = any(%s)", (gone,))
            self.conn.execute(f"create temp table if not exists incoming (id text, hash bytea, embedding "
                              f"{self.column_type}({self.dims})) on commit delete rows")
            with self.conn.cursor().copy("copy incoming (id, hash, embedding) from stdin with (format binary)") as copy:
                copy.set_types(["text", "bytea", self.column_type])
                for i in changed:
                    copy.write_row((self.ids[i], hashes[i], self._param(vectors[i])))
            self.conn.execute(f"insert into {self.table} (id, hash, embedding) select id, hash, embedding from "
                              f"incoming on conflict (id) do update set hash = excluded.hash, "
                              f"embedding = excluded.embedding")

    def _param(self, vector: np.ndarray):
        if self.column_type == "halfvec":
            from pgvector import HalfVector

            return HalfVector(vector)
        return np.asarray(vector, dtype=np.float32)

    @property
    def index_name(self) -> str:
        """The HNSW index this spec searches (its parameters in the name, so another spec builds its own)."""
        return f"{self.table}_{self.type}_m{self.m}_ef{self.ef_construction}"

    def _create_index(self) -> None:
        opts = f"with (m = {self.m}, ef_construction = {self.ef_construction})"
        if self.type == "bit":
            target = f"(binary_quantize(embedding)::bit({self.dims})) bit_hamming_ops"
        else:
            target = f"embedding {self.column_type}_ip_ops"
        self.conn.execute(f"create index if not exists {self.index_name} on {self.table} using hnsw ({target}) {opts}")

    @property
    def memory_bytes(self) -> int:
        """Bytes of the HNSW index in the database (for `index=exact`: the table's)."""
        name = self.index_name if self.index == "hnsw" else self.table
        return int(self.conn.execute("select pg_relation_size(%s::regclass)", (name,)).fetchone()[0])

    def _sql(self, k: int, where: str) -> str:
        t, cast = self.table, f"%(q)s::{self.column_type}({self.dims})"
        if self.type == "bit":
            inner = (f"select id, embedding from {t} {where} order by binary_quantize(embedding)::bit({self.dims}) "
                     f"<~> binary_quantize({cast})::bit({self.dims}) limit {self.rescore * k}")
            return (f"select id, -(embedding <#> {cast}) as s from ({inner}) c "
                    f"order by embedding <#> {cast}, id limit {k}")
        if where:  # iterative scans may return rows slightly out of order (`_run` sorts the k found by score)
            return (f"select id, -(embedding <#> {cast}) as s from {t} {where} order by embedding <#> {cast} "
                    f"limit {k}")
        return f"select id, -(embedding <#> {cast}) as s from {t} order by embedding <#> {cast}, id limit {k}"

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The k best rows of each query (L2-normalised queries), best first; scores are the cosines."""
        return self._run(query_vectors, k, None)

    def search_within(self, query_vectors: np.ndarray, k: int, mask: np.ndarray) -> TopK:
        """The k best rows of each query among the rows `mask` keeps, the filter applied in SQL while the index is
        scanned (`hnsw.iterative_scan = relaxed_order`), so a selective filter still returns k rows where k match;
        a filter keeping at most `EXACT_FILTER_SHARE` of the rows is searched exactly over them."""
        keys = [self.ids[row] for row in np.flatnonzero(np.asarray(mask, dtype=bool))]
        return self._run(query_vectors, min(k, len(keys)), keys)

    def _run(self, query_vectors: np.ndarray, k: int, keys: list[str] | None) -> TopK:
        if k < 1 and keys is None:
            raise ClusterankError(f"k must be at least 1, got {k}")
        q = check_vectors(query_vectors, self.dims, what="query vectors")
        k = min(k, len(self.vectors))
        out_rows = np.full((len(q), max(k, 1)), -1, dtype=np.int64)
        out_scores = np.full((len(q), max(k, 1)), -np.inf, dtype=np.float32)
        if k < 1:
            return TopK(out_rows[:, :0], out_scores[:, :0])
        sql = self._sql(k, "where id = any(%(keys)s)" if keys is not None else "")
        exact = self.index == "exact" or (keys is not None and len(keys) <= EXACT_FILTER_SHARE * len(self.vectors))
        try:
            with self.conn.transaction():
                self.conn.execute("set local enable_indexscan = off" if exact else
                                  f"set local hnsw.ef_search = {max(self.ef_search, k if self.type != 'bit' else self.rescore * k)}")
                if keys is not None and not exact:
                    self.conn.execute("set local hnsw.iterative_scan = relaxed_order")
                for i, vector in enumerate(q):
                    # an id list is bound as a constant (no prepared plan), so PostgreSQL hashes it once per query
                    found = self.conn.execute(sql, {"q": self._param(vector), "keys": keys},
                                              prepare=keys is None).fetchall()
                    # ids back to corpus rows, best first, ties by row (as `exact`); an id this corpus lacks (another
                    # process synced a newer corpus since) is left out
                    hits = sorted((-score, self.position[key]) for key, score in found if key in self.position)
                    for j, (score, row) in enumerate(hits):
                        out_rows[i, j], out_scores[i, j] = row, -score
        except _psycopg().Error as exc:
            raise self._error(exc) from None
        return TopK(out_rows, out_scores)


def database_url(given: str | None = None) -> str:
    """The database the `pgvector` retriever uses: `given` (`--db`, `SearchContext.database`) when there is one,
    else the `CLUSTERANK_DB` environment variable; the flag always wins (an empty one too, refused as no URL).

    Raises:
        ClusterankError: neither names a database.
    """
    url = given if given is not None else os.environ.get(DB_ENV)
    if url is None:
        raise ClusterankError(f"retriever pgvector needs a database: --db postgresql://... or {DB_ENV}")
    return url


def pgvector_database(given: str | None = None, *, wait_s: float = 5.0) -> str:
    """The database the `pgvector` retriever will use (`database_url`), checked by connecting to it once, so that a
    command fails before it embeds anything; nothing is written.

    Raises:
        ClusterankError: no database named, not a postgresql:// URL, no answer within `wait_s`, wrong credentials or
            no such database: one line naming the database without its credentials.
    """
    from clusterank.postgres import connect

    url = database_url(given)
    connect(url, wait_s=wait_s).close()
    return url


def _build(context: SearchContext, index: str, type: str, m: int, ef_construction: int, ef_search: int,
           rescore: int, table: str) -> PgvectorIndex:
    return PgvectorIndex(database_url(context.database), context.vectors, index=index, type=type, m=m,
                         ef_construction=ef_construction, ef_search=ef_search, rescore=rescore, table=table,
                         key=context.vectors_key, ids=context.ids)


RETRIEVER = RetrieverType(
    "pgvector", "PostgreSQL + pgvector: HNSW (vector, halfvec, or bits re-ranked) or exact search in SQL",
    _build,
    {"index": Param(_choice(INDEXES), "hnsw", "hnsw | exact (a sequential scan in SQL, for comparison)"),
     "type": Param(_choice(TYPES), "vector", "vector | halfvec (16-bit) | bit (sign bits, top rescore x k re-ranked)"),
     "m": Param(whole, 16, "HNSW links per node", Bound(2, 100, why="pgvector's range")),
     "ef_construction": Param(whole, 64, "HNSW candidate list while building", Bound(4, 1000, why="pgvector's range")),
     "ef_search": Param(whole, 100, "HNSW candidate list per query", Bound(1, 1000, why="pgvector's range")),
     "rescore": Param(whole, 4, "type=bit: rows re-ranked per hit, x k", POSITIVE),
     "table": Param(_table_name, "auto", "the table; auto: clusterank_<vector|halfvec>_<dims>_<digest of the model "
                    "and corpus>")},
    needs=("psycopg", "pgvector"), extra="pg", needs_database=True, examples=("pgvector", "pgvector:index=exact"))
