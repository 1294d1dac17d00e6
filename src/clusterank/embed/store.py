"""Content-addressed vector cache: (model id, hash of text) -> L2-normalised float32 vector, in SQLite.

A text is embedded once per model; every chunk is committed as it finishes, so an interrupted run
resumes where it stopped and a second run makes no model calls. Bad vectors are refused before they
are written, so stored data is never damaged.

Every process that has the store open holds a shared lock on the store's folder (`lock_store`) for as long as it
has it open; `clusterank cache repair` takes it exclusively, so it never swaps the file under a live writer. A
store in a folder this process cannot write is opened read-only: reading works, writing says the workspace is
read-only.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sqlite3
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import numpy as np
from tqdm.auto import tqdm

from clusterank.embed.base import Embedder, embed_batches, truncation_summary
from clusterank.errors import ClusterankError

log = logging.getLogger("clusterank.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (model TEXT PRIMARY KEY, dims INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL, hash BLOB NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage (
    model TEXT PRIMARY KEY, requests INTEGER NOT NULL, texts INTEGER NOT NULL, tokens INTEGER NOT NULL
);
"""
BUSY_TIMEOUT_S = 60.0
"""How long a writer waits for another process's transaction (several servers or jobs share one store)."""
_IN_CHUNK = 900  # stays under SQLite's limit on bound parameters
_CHECK_HINT = ("`clusterank cache check` says what can be read and `clusterank cache repair` keeps every intact "
               "vector")


def text_hash(text: str) -> bytes:
    """The 16-byte BLAKE2b digest of a text's UTF-8 bytes: the store's content key."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def normalise(vectors: np.ndarray, *, model: str = "", rows: Sequence[int] | None = None,
              what: str = "") -> np.ndarray:
    """L2-normalise rows into float32, refusing NaN, infinite or all-zero vectors.

    Args:
        rows: the row (in the caller's texts) of each vector, for the message (default 0, 1, ...).
        what: how to name those texts ("profiles", "queries").

    Raises:
        ClusterankError: naming the model, the texts and the first bad row.
    """
    vecs = np.asarray(vectors, dtype=np.float32)
    name = f"{model or 'vectors'}{f' on {what}' if what else ''}"
    if vecs.ndim != 2:
        raise ClusterankError(f"{name}: expected a 2-D array of vectors, got shape {vecs.shape}")
    row = lambda mask: rows[int(np.argmax(mask))] if rows is not None else int(np.argmax(mask))  # noqa: E731
    bad = ~np.isfinite(vecs).all(axis=1)
    if bad.any():
        raise ClusterankError(f"{name}: vector for row {row(bad)} contains NaN or infinity ({int(bad.sum())} such "
                              "rows)")
    norms = np.linalg.norm(vecs.astype(np.float64), axis=1, keepdims=True)  # float32 overflows past ~1e19
    zero = norms[:, 0] == 0
    if zero.any():
        raise ClusterankError(f"{name}: vector for row {row(zero)} is all zeros (the model has no token for any "
                              "character of that text: edit or drop it, or use a model that reads its script, e.g. "
                              "multilingual-e5-small)")
    return (vecs / norms).astype(np.float32)


def lock_store(path: str | Path, *, exclusive: bool, wait_s: float) -> int | None:
    """Lock the folder of the store at `path`: shared by every process that has the store open, exclusive for
    `cache repair`. Waits up to `wait_s` seconds (0: tries once).

    The lock is on the folder itself, not on a file beside the store: it creates nothing in the workspace, works in
    a read-only one, and cannot be deleted with the store. flock locks belong to an open file, so two stores open in
    one process each hold their own share.

    Returns:
        The file descriptor holding the lock (closing it releases it), or None if it was not free in time.

    Raises:
        ClusterankError: the folder is missing, is a file, or cannot be opened.
    """
    path = Path(path)
    folder = path.parent
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise ClusterankError(f"embedding store {path}: the folder {folder} does not exist") from None
    except NotADirectoryError:
        raise ClusterankError(f"embedding store {path}: {folder} is a file, not a folder") from None
    except OSError as exc:
        raise ClusterankError(f"embedding store {path}: the folder {folder} cannot be opened "
                              f"({exc.strerror})") from None
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = time.monotonic() + wait_s
    while True:  # polled rather than blocking, so the wait is bounded
        try:
            fcntl.flock(fd, mode)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)
        except OSError as exc:  # a file system without locks (some network mounts)
            if not exclusive:
                log.warning("embedding store %s: its folder cannot be locked (%s); a concurrent `cache repair` "
                            "cannot see that this process uses it", path, exc.strerror)
                return fd
            os.close(fd)
            raise ClusterankError(f"embedding store {path}: its folder cannot be locked ({exc.strerror}), so "
                                  f"`cache repair` cannot make sure no other process uses it") from None


def writable(path: str | Path) -> bool:
    """Whether this process may write the store at `path`: its folder, the file and SQLite's side files."""
    path = Path(path)
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    return os.access(path.parent, os.W_OK) and all(os.access(p, os.W_OK) for p in files)


def read_only_error(path: Path, what: str) -> ClusterankError:
    """The one error for a command that must write a store in a workspace this process cannot write."""
    return ClusterankError(f"the workspace {path.parent} is read-only: {what} needs to write the embedding store "
                           f"{path}; make it writable or point CLUSTERANK_HOME at a writable folder")


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """SQLite's errors on a damaged or locked file as one clear error naming the file and what to run."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if "full" in str(exc):
            raise ClusterankError(f"embedding store {path}: the disk is full ({exc}); every vector stored so far is "
                                  f"intact: free some space and run the same command again to resume") from None
        if "locked" in str(exc) or "busy" in str(exc):
            raise ClusterankError(f"embedding store {path} stayed locked by another process for "
                                  f"{BUSY_TIMEOUT_S:.0f} s ({exc}); try again when it is done") from None
        if "readonly" in str(exc) or "read-only" in str(exc):  # e.g. a read-only mount os.access did not see
            raise read_only_error(path, "this command") from None
        raise ClusterankError(f"embedding store {path} is damaged or unreadable ({exc}); {_CHECK_HINT}") from None


def _vector(path: Path, model: str, blob, dims: int | None) -> np.ndarray:
    """A stored blob as a float32 vector of `dims` values, or one error naming the store if it is not one (a row of
    the wrong length would otherwise surface later as a shape error far from its cause)."""
    if isinstance(blob, bytes) and blob and len(blob) % 4 == 0 and (dims is None or len(blob) == 4 * dims):
        return np.frombuffer(blob, dtype=np.float32)
    got = f"{len(blob)} bytes" if isinstance(blob, (bytes, str)) else f"a {type(blob).__name__}"
    want = f"{4 * dims} bytes ({dims} float32 values)" if dims else "a whole number of float32 values"
    raise ClusterankError(f"embedding store {path} is damaged: a stored {model!r} vector holds {got}, not "
                          f"{want}; {_CHECK_HINT}")


class EmbeddingStore:
    """The vector cache of one workspace (a SQLite file, in WAL mode so readers never wait for a writer).

    Several processes may share it: each write is one short transaction and waits up to `BUSY_TIMEOUT_S` for
    another's. One object may be used from several threads if the caller serialises the calls (the server does).
    While open it holds a shared lock on its folder (see `lock_store`); `close()` or dropping the object releases
    it. A store this process cannot write is opened read-only (`read_only`): lookups work, writes raise.
    """

    def __init__(self, path: str | Path, *, lock: bool = True):
        """Open (or create) the store at `path`; `lock=False` only for a file no other process knows yet (the
        fresh file `cache repair` fills under its exclusive lock)."""
        self.path = Path(path)
        self._release = None
        if lock:
            # taken before SQLite opens the file: a repair in progress swaps the file, so we must open the new one
            fd = lock_store(self.path, exclusive=False, wait_s=BUSY_TIMEOUT_S)
            if fd is None:
                raise ClusterankError(f"embedding store {self.path} stayed locked by `clusterank cache repair` for "
                                      f"{BUSY_TIMEOUT_S:.0f} s; run the command again when the repair is done")
            self._release = weakref.finalize(self, os.close, fd)
        self.read_only = not writable(self.path)
        try:
            self._db = self._connect()
        except BaseException:
            self._unlock()
            raise

    def _connect(self) -> sqlite3.Connection:
        """The SQLite connection: read-write in WAL mode, or read-only where this process cannot write."""
        try:
            if not self.read_only:
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a commit survives a crash or kill -9 of any process; only a power cut may roll back
                # the last commits (never corrupting the file). Saves an fsync per committed batch.
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                return db
            if not self.path.is_file():
                raise read_only_error(self.path, "creating the cache")
            # mode=ro first (sees a WAL left beside it); immutable=1 where a WAL-mode file's shared-memory index
            # cannot be made in the read-only folder (nobody can write there, so nothing changes under us)
            for flags in ("mode=ro", "immutable=1"):
                db = sqlite3.connect(f"file:{quote(str(self.path))}?{flags}", uri=True, timeout=BUSY_TIMEOUT_S,
                                     check_same_thread=False)
                try:
                    db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                    return db
                except sqlite3.OperationalError as exc:
                    db.close()
                    if flags == "immutable=1" or not ("unable to open" in str(exc) or "readonly" in str(exc)):
                        raise
        except sqlite3.DatabaseError as exc:
            if "readonly" in str(exc):
                raise read_only_error(self.path, "opening the cache") from None
            raise ClusterankError(f"embedding store {self.path} is unreadable ({exc}); `clusterank cache repair` "
                                  f"keeps every intact vector, or delete the file to start an empty cache") from None
        raise AssertionError("unreachable")

    def _unlock(self) -> None:
        if self._release is not None:
            self._release()  # closes the folder's descriptor, releasing the shared lock

    def _must_write(self, what: str) -> None:
        if self.read_only:
            raise read_only_error(self.path, what)

    def close(self) -> None:
        """Close the database connection and release the store's lock."""
        try:
            self._db.close()
        finally:
            self._unlock()

    def dims(self, model: str) -> int | None:
        """The vector size stored for `model`, or None if nothing is stored for it."""
        with _readable(self.path):
            row = self._db.execute("SELECT dims FROM models WHERE model = ?", (model,)).fetchone()
            return int(row[0]) if row else None

    def count(self, model: str) -> int:
        """How many vectors are stored for `model`."""
        with _readable(self.path):
            return int(self._db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", (model,)).fetchone()[0])

    def lookup(self, model: str, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors among `hashes` for `model`, keyed by hash."""
        with _readable(self.path):
            found: dict[bytes, np.ndarray] = {}
            size = None if not hashes else self.dims(model)
            unique = list(dict.fromkeys(hashes))
            for start in range(0, len(unique), _IN_CHUNK):
                part = unique[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(f"SELECT hash, vec FROM vectors WHERE model = ? AND hash IN ({marks})",
                                        (model, *part))
                for h, blob in rows:
                    found[h] = _vector(self.path, model, blob, size)
                    size = size or len(found[h])  # no size on record (damaged models table): rows must agree
            return found

    def missing(self, model: str, hashes: Sequence[bytes],
                have: dict[bytes, np.ndarray] | None = None) -> dict[bytes, int]:
        """The hashes with no vector stored for `model`, each once, mapped to its first position in `hashes` (in
        order); `have` is what `lookup(model, hashes)` gave, when the caller has it already."""
        have = self.lookup(model, hashes) if have is None else have
        todo: dict[bytes, int] = {}
        for i, h in enumerate(hashes):
            if h not in have and h not in todo:
                todo[h] = i
        return todo

    def put(self, model: str, hashes: Sequence[bytes], vectors: np.ndarray, billed_tokens: int | None = None) -> None:
        """Store already-normalised float32 vectors in one transaction (all or nothing), with what the provider
        billed for them (API models), so the bill and the vectors can never disagree."""
        self._must_write("embedding")
        with _readable(self.path):
            dims = vectors.shape[1]
            with self._db:
                if billed_tokens is not None:
                    self._db.execute("INSERT INTO usage (model, requests, texts, tokens) VALUES (?, 1, ?, ?) "
                                     "ON CONFLICT (model) DO UPDATE SET requests = requests + 1, "
                                     "texts = texts + excluded.texts, tokens = tokens + excluded.tokens",
                                     (model, len(hashes), int(billed_tokens)))
                known = self.dims(model)
                if known is None:
                    self._db.execute("INSERT INTO models (model, dims) VALUES (?, ?)", (model, dims))
                elif known != dims:
                    raise ClusterankError(f"model {model!r} gives {dims}-dim vectors but the store holds {known}-dim "
                                          f"vectors under that name ({self.path}); clear them with "
                                          f"`clusterank cache clear --model {model}`")
                self._db.executemany("INSERT OR REPLACE INTO vectors (model, hash, vec) VALUES (?, ?, ?)",
                                     ((model, h, v.tobytes()) for h, v in zip(hashes, vectors)))

    def clear(self, model: str) -> int:
        """Delete every vector stored for `model`; returns how many were deleted."""
        self._must_write("clearing the cache")
        with _readable(self.path), self._db:
            n = self._db.execute("DELETE FROM vectors WHERE model = ?", (model,)).rowcount
            self._db.execute("DELETE FROM models WHERE model = ?", (model,))
        return n

    def billed(self, model: str) -> dict[str, int] | None:
        """What API calls for `model` have been billed so far: requests, texts and tokens (None: never billed)."""
        with _readable(self.path):
            row = self._db.execute("SELECT requests, texts, tokens FROM usage WHERE model = ?", (model,)).fetchone()
        return dict(zip(("requests", "texts", "tokens"), row)) if row else None

    def usage(self) -> dict[str, tuple[int, int, int]]:
        """Billed usage per API model: (requests, texts, tokens)."""
        with _readable(self.path):
            rows = self._db.execute("SELECT model, requests, texts, tokens FROM usage").fetchall()
        return {m: (r, n, t) for m, r, n, t in rows}

    def models(self) -> dict[str, int]:
        """Stored vector counts per model id."""
        with _readable(self.path):
            return dict(self._db.execute("SELECT model, COUNT(*) FROM vectors GROUP BY model"))

    def embed(self, embedder: Embedder, texts: Sequence[str], *, progress: bool = False,
              chunk_size: int = 512, what: str = "texts", cached: list[int] | None = None) -> np.ndarray:
        """Vectors for `texts`, embedding only those not stored yet.

        Args:
            embedder: the model; its `name` is the store key.
            texts: the texts, in order; none may be empty.
            progress: show a progress bar with texts/s and ETA over the texts still to embed.
            chunk_size: texts per model call and per commit (what an interruption can lose at most).
            what: how to name the texts in error messages ("profiles", "queries").
            cached: a list that receives the positions of the texts that came from the cache.

        Returns:
            float32 array (len(texts), dims), rows L2-normalised.
        """
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ClusterankError(f"{what}: text at row {i} is empty; nothing can be embedded for it")
        if isinstance(embedder, Embedder) and embedder.parts:  # a composite: each part under its own name, joined
            found = [[] for _ in embedder.parts]
            joined = embedder.join([self.embed(p, texts, progress=progress, chunk_size=chunk_size, what=what,
                                               cached=f) for p, f in zip(embedder.parts, found)])
            if cached is not None:  # from the cache: the texts every part had
                cached.extend(sorted(set.intersection(*map(set, found))))
            return joined
        model = embedder.name
        hashes = [text_hash(t) for t in texts]
        have = self.lookup(model, hashes)
        if cached is not None:
            cached.extend(i for i, h in enumerate(hashes) if h in have)
        todo = self.missing(model, hashes, have)
        if todo:
            if have:
                log.info("%s: %d of %d texts already embedded, resuming with %d", model,
                         len(texts) - len(todo), len(texts), len(todo))
            items = list(todo.items())
            with truncation_summary(what), tqdm(total=len(items), desc=f"embedding {what} with {model}",
                                                 unit="text", disable=not progress) as bar:
                for batch in embed_batches(embedder, [texts[i] for _, i in items], chunk_size):
                    part = [items[p] for p in batch.positions]
                    raw = np.asarray(batch.vectors)
                    if raw.shape != (len(part), embedder.dims):
                        raise ClusterankError(f"model {model!r} returned vectors of shape {raw.shape}, "
                                              f"expected ({len(part)}, {embedder.dims})")
                    vecs = normalise(raw, model=model, rows=[i for _, i in part], what=what)
                    self.put(model, [h for h, _ in part], vecs, batch.tokens)
                    have.update({h: v for (h, _), v in zip(part, vecs)})
                    bar.update(len(part))
        dims = len(next(iter(have.values()))) if have else embedder.dims
        out = np.empty((len(texts), dims), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = have[h]
        return out
