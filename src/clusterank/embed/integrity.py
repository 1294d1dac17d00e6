"""Checking and repairing a damaged embedding store (`clusterank cache check` / `cache repair`).

`check_store` runs SQLite's integrity check and validates every vector (size, finite, unit length). `repair_store`
takes the store's lock exclusively (it refuses while any other process has the store open, so no writer's rows go
into the file it moves aside), checks the store, and changes nothing if it is intact. Otherwise it copies every row
it can still read and that passes those checks into a fresh file, keeps the damaged file beside it under a name of
its own (nothing is deleted or overwritten), and swaps the fresh one in.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np

from clusterank.embed.store import BUSY_TIMEOUT_S, EmbeddingStore, lock_store, read_only_error, writable
from clusterank.errors import ClusterankError

IN_USE = ("is in use by another clusterank process (embed, search, serve, compare or a Ray run); stop it, or run "
          "`clusterank cache repair` again when it ends; nothing was changed")


@dataclass
class StoreCheck:
    """What a check or a repair found: readable and valid rows per model, bad rows, unreadable ranges, problems."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)
    bad_rows: int = 0
    unreadable_ranges: int = 0
    recovered: int = 0
    problems: list[str] = field(default_factory=list)
    kept_damaged_file: Path | None = None

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems and not self.bad_rows and not self.unreadable_ranges

    def lines(self) -> list[str]:
        """A short report, one fact per line."""
        out = [f"{self.path}: {'intact' if self.ok else 'DAMAGED'}"]
        out += [f"  {model}: {n:,} readable, valid vectors" for model, n in sorted(self.rows.items())]
        if self.bad_rows:
            out.append(f"  {self.bad_rows:,} rows with a vector of the wrong size, NaN or not unit length")
        if self.unreadable_ranges:
            out.append(f"  {self.unreadable_ranges:,} key ranges could not be read through the b-tree")
        if self.recovered:
            out.append(f"  {self.recovered:,} of the kept rows were recovered from the pages themselves")
        out += [f"  {p}" for p in self.problems[:5]]
        if self.kept_damaged_file:
            out.append(f"  the damaged file is kept as {self.kept_damaged_file}")
        return out


def _valid(blob, dims: int | None) -> bool:
    if not isinstance(blob, bytes) or len(blob) % 4 or not blob:
        return False
    vec = np.frombuffer(blob, dtype=np.float32)
    return (dims is None or len(vec) == dims) and bool(np.isfinite(vec).all()) and abs(
        float(np.linalg.norm(vec)) - 1.0) < 1e-3


def _models(src: sqlite3.Connection, report: StoreCheck) -> dict[str, int | None]:
    try:
        return {m: int(d) for m, d in src.execute("SELECT model, dims FROM models")}
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"models table unreadable ({exc}); model names taken from the vectors")
    try:
        return {m: None for (m,) in src.execute("SELECT DISTINCT model FROM vectors")}
    except sqlite3.DatabaseError as exc:
        raise ClusterankError(f"embedding store {report.path}: not even the model names can be read ({exc}); "
                              f"delete the file to start an empty cache") from None


def _ranges(prefix: bytes):
    """The hash key ranges one byte deeper than `prefix` ([lo, hi); hi None = to the end)."""
    for b in range(256):
        lo = prefix + bytes([b])
        nxt = int.from_bytes(lo, "big") + 1
        yield lo, (nxt.to_bytes(len(lo), "big") if nxt < 256 ** len(lo) else None)


def _scan(src: sqlite3.Connection, model: str, dims: int | None, report: StoreCheck, sink=None) -> None:
    """Read every row of one model by hash ranges, two levels deep where a range fails to read."""
    def read(lo: bytes, hi: bytes | None):
        sql = "SELECT hash, vec FROM vectors WHERE model = ? AND hash >= ?" + (" AND hash < ?" if hi else "")
        return src.execute(sql, (model, lo, hi) if hi else (model, lo)).fetchall()

    for lo, hi in _ranges(b""):
        try:
            rows = read(lo, hi)
        except sqlite3.DatabaseError:
            rows = []
            for sub_lo, sub_hi in _ranges(lo):
                sub_hi = sub_hi if sub_hi is not None else hi
                try:
                    rows += read(sub_lo, sub_hi)
                except sqlite3.DatabaseError:
                    report.unreadable_ranges += 1
        for h, blob in rows:
            if _valid(blob, dims) and isinstance(h, bytes) and len(h) == 16:
                report.rows[model] = report.rows.get(model, 0) + 1
                if sink is not None:
                    sink(model, h, blob)
            else:
                report.bad_rows += 1


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    """SQLite's big-endian varint at `i`: (value, next offset)."""
    value = 0
    for n in range(9):
        byte = buf[i + n]
        if n == 8:
            return (value << 8) | byte, i + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + n + 1
    raise ValueError("bad varint")


def raw_rows(path: Path):
    """Every (model, hash, vector blob) record found by reading the file's pages directly, without the b-tree
    above them: what survives when interior pages were lost (a truncated file) or damaged. Records are yielded
    as found (stale copies in free pages included); overflow chains that leave the file are skipped."""
    data = path.read_bytes()
    if len(data) < 100 or not data.startswith(b"SQLite format 3\x00"):
        return
    size = int.from_bytes(data[16:18], "big")
    size = 65536 if size == 1 else size
    usable = size - data[20]
    max_local, min_local = (usable - 12) * 64 // 255 - 23, (usable - 12) * 32 // 255 - 23

    def payload(start: int, total: int) -> bytes | None:
        local = total if total <= max_local else min_local + (total - min_local) % (usable - 4)
        local = local if local <= max_local else min_local
        out = bytearray(data[start:start + local])
        nxt = int.from_bytes(data[start + local:start + local + 4], "big") if local < total else 0
        seen = 0
        while len(out) < total:
            offset = (nxt - 1) * size
            if nxt < 1 or offset + size > len(data) or seen > total // (usable - 4) + 1:
                return None
            nxt = int.from_bytes(data[offset:offset + 4], "big")
            out += data[offset + 4:offset + 4 + min(usable - 4, total - len(out))]
            seen += 1
        return bytes(out)

    for page in range(len(data) // size):
        base = page * size
        head = base + (100 if page == 0 else 0)
        kind = data[head]
        if kind not in (0x02, 0x0A):  # index b-tree pages: WITHOUT ROWID tables keep their rows in these
            continue
        cells = int.from_bytes(data[head + 3:head + 5], "big")
        pointers = head + (12 if kind == 0x02 else 8)
        for c in range(min(cells, size // 2)):
            try:
                cell = base + int.from_bytes(data[pointers + 2 * c:pointers + 2 * c + 2], "big")
                total, start = _varint(data, cell + (4 if kind == 0x02 else 0))
                record = payload(start, total)
                if record is None:
                    continue
                header_size, i = _varint(record, 0)
                types = []
                while i < header_size:
                    t, i = _varint(record, i)
                    types.append(t)
                if len(types) != 3 or types[0] < 13 or types[0] % 2 == 0 or types[1] != 44 or types[2] % 2 or \
                        types[2] < 12:
                    continue
                lengths = [(t - 13) // 2 if t % 2 else (t - 12) // 2 for t in types]
                at = header_size
                model = record[at:at + lengths[0]].decode("utf-8")
                h = record[at + lengths[0]:at + lengths[0] + 16]
                vec = record[at + lengths[0] + 16:at + lengths[0] + 16 + lengths[2]]
                if len(vec) == lengths[2]:
                    yield model, h, vec
            except (IndexError, ValueError, UnicodeDecodeError):
                continue


def _open_read_only(path: Path, *, lenient: bool = True) -> sqlite3.Connection:
    """A read-only connection; `lenient` lets SQLite open a file shorter than its header says (a truncated one), so
    the pages that are still there can be read."""
    if not path.is_file():
        raise ClusterankError(f"embedding store {path}: no such file")
    con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=60)
    try:
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if "unable to open" in str(exc) or "readonly" in str(exc):
            # a WAL-mode file in a folder we cannot write: its shared-memory index cannot be made there. Nothing
            # can write such a folder either, so the file is read as it is.
            con.close()
            con = sqlite3.connect(f"file:{quote(str(path))}?immutable=1", uri=True, timeout=60)
    except sqlite3.DatabaseError:
        pass  # a damaged file: the checks that follow say how
    if lenient:
        con.execute("PRAGMA writable_schema=ON")  # read-only still: the file cannot be written through it
    return con


def check_store(path: str | Path) -> StoreCheck:
    """Check a store file: SQLite's integrity check, then every vector read and validated. Changes nothing.

    Waits (up to `BUSY_TIMEOUT_S`) while a repair holds the store; runs beside processes that only use it."""
    path = Path(path)
    if not path.is_file():
        raise ClusterankError(f"embedding store {path}: no such file")
    fd = lock_store(path, exclusive=False, wait_s=BUSY_TIMEOUT_S)
    if fd is None:
        raise ClusterankError(f"embedding store {path} stayed locked by `clusterank cache repair` for "
                              f"{BUSY_TIMEOUT_S:.0f} s; run the check again when the repair is done")
    try:
        return _check(path)
    finally:
        os.close(fd)


def _check(path: Path) -> StoreCheck:
    """`check_store` without taking the lock (the caller holds it)."""
    report = StoreCheck(path)
    strict = _open_read_only(path, lenient=False)
    try:
        verdict = [r[0] for r in strict.execute("PRAGMA integrity_check(20)")]
        if verdict != ["ok"]:
            report.problems += [f"integrity check: {v}" for v in verdict]
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"integrity check could not run: {exc}")
    finally:
        strict.close()
    src = _open_read_only(path)
    try:
        for model, dims in _models(src, report).items():
            _scan(src, model, dims, report)
    finally:
        src.close()
    return report


def _exclusive(path: Path) -> int:
    """The store's lock, exclusively, or one error saying who holds it. Refuses at once rather than waiting: a
    server or a long embed may hold the store for hours, and the user should decide whether to stop it."""
    fd = lock_store(path, exclusive=True, wait_s=0)
    if fd is None:
        gc.collect()  # stores of this process that are unreachable but not yet collected still hold a share
        fd = lock_store(path, exclusive=True, wait_s=0)
    if fd is None:
        raise ClusterankError(f"embedding store {path} {IN_USE}")
    return fd


def _kept_name(path: Path) -> Path:
    """A name for the damaged original that no earlier repair used: the time, this pid and a random part."""
    for _ in range(100):
        kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-"
                              f"{uuid.uuid4().hex[:8]}")
        if not any(Path(f"{kept}{s}").exists() for s in ("", "-wal", "-shm")):
            return kept
    raise ClusterankError(f"embedding store {path}: no free name for the damaged file beside it")


def repair_store(path: str | Path) -> StoreCheck:
    """Under the store's exclusive lock: check it; if damaged, copy every readable, valid row into a fresh file and
    swap it in, keeping the damaged file under a name of its own. An intact store is left as it was.

    Returns:
        What was kept (`rows` per model) and what was lost (`bad_rows`, `unreadable_ranges`); `kept_damaged_file`
        is None when the store was intact and nothing changed.

    Raises:
        ClusterankError: no such store, another process has it open, or the workspace is read-only.
    """
    path = Path(path)
    if not path.is_file():
        raise ClusterankError(f"embedding store {path}: no such file")
    fd = _exclusive(path)
    try:
        # checked under the lock: no writer can change the verdict before the swap, so an intact store is never
        # moved aside
        checked = _check(path)
        if checked.ok:
            return checked
        if not writable(path):
            raise read_only_error(path, "`clusterank cache repair` (the store is damaged)")
        return _rebuild(path)
    finally:
        os.close(fd)


def _rebuild(path: Path) -> StoreCheck:
    """Copy every readable, valid row into a fresh file and swap it in (the caller holds the exclusive lock)."""
    report = StoreCheck(path)
    src = _open_read_only(path)
    fresh_path = path.with_name(f".{path.name}.repair")
    for p in (fresh_path, Path(f"{fresh_path}-wal"), Path(f"{fresh_path}-shm")):
        p.unlink(missing_ok=True)
    fresh = EmbeddingStore(fresh_path, lock=False)  # our exclusive lock covers its folder already
    try:
        models = _models(src, report)
        kept: dict[tuple[str, bytes], bytes] = {}
        for model, dims in models.items():
            _scan(src, model, dims, report, lambda m, h, blob: kept.__setitem__((m, h), blob))
        if report.unreadable_ranges or report.problems:  # rows the tree no longer reaches: read the pages themselves
            for model, h, blob in raw_rows(path):
                if (model, h) not in kept and _valid(blob, models.get(model)):
                    kept[(model, h)] = blob
                    report.rows[model] = report.rows.get(model, 0) + 1
                    report.recovered += 1
        for model in {m for m, _ in kept}:
            rows = [(m, h, blob) for (m, h), blob in kept.items() if m == model]
            with fresh._db:
                fresh._db.execute("INSERT OR REPLACE INTO models (model, dims) VALUES (?, ?)",
                                  (model, models.get(model) or len(rows[0][2]) // 4))
                fresh._db.executemany("INSERT OR REPLACE INTO vectors (model, hash, vec) VALUES (?, ?, ?)", rows)
        try:
            usage = src.execute("SELECT model, requests, texts, tokens FROM usage").fetchall()
            with fresh._db:
                fresh._db.executemany("INSERT OR REPLACE INTO usage VALUES (?, ?, ?, ?)", usage)
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"billing usage unreadable ({exc}); not copied")
    finally:
        src.close()
        fresh._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        fresh.close()
    kept = _kept_name(path)
    path.replace(kept)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            side.replace(Path(f"{kept}{suffix}"))
    fresh_path.replace(path)
    Path(f"{fresh_path}-wal").unlink(missing_ok=True)
    Path(f"{fresh_path}-shm").unlink(missing_ok=True)
    report.kept_damaged_file = kept
    return report
