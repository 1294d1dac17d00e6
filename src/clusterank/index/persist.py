"""A saved index: the corpus vectors and any compressed retrievers over them, kept in the workspace.

Built once, memory-mapped on the next start, and updated by profile id (new profiles embedded and appended,
removed ones dropped) instead of being rebuilt. `meta.json` records the model, the corpus fingerprint and
every file's size and checksum. Opening checks the metadata and every file's size only (an index of another model,
a stale one and a truncated or resized file are told apart on open, in milliseconds at any size). The content is
checked against the checksums by `verify` (`clusterank index check`), when a compressed retriever's files are first
loaded (they are read whole then anyway), and before every rewrite (an update or an added retriever reads every file
anyway, and damage must not be carried into a new index); the vectors are not read at start-up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.index.base import Retriever, SearchContext, TopK
from clusterank.index.exact import ExactIndex, check_vectors
from clusterank.index.quantized import BinaryIndex, IVFPQIndex, ScalarQuantizedIndex, _FaissIndex, _faiss
from clusterank.index.registry import build_retriever, canonical_spec, retriever_type, saveable_kinds
from clusterank.workspace import atomic_path, safe_name

log = logging.getLogger(__name__)

FORMAT = 2
SAVED_KINDS: dict[str, type] = {"ScalarQuantizedIndex": ScalarQuantizedIndex, "BinaryIndex": BinaryIndex,
                                "IVFPQIndex": IVFPQIndex}
"""The classes of the compressed indexes' files, by the name written in the metadata (`exact` needs no file of its
own: it is the vectors). Which kinds may be saved is each kind's `saveable`."""
REBUILD_SHARE = 0.5
"""Past this share of rows removed, an update rebuilds the compressed codes instead of patching them."""


def check_saveable(spec: str) -> str:
    """The canonical spec when a saved index can hold it.

    Raises:
        ClusterankError: a bad spec, or a kind that is not saved (routed and role-aware retrievers are rebuilt
            from the saved clusters in seconds instead).
    """
    key = canonical_spec(spec)
    if not retriever_type(key).saveable:
        raise ClusterankError(f"retriever {key!r} cannot be saved in an index (kinds that can: "
                              f"{', '.join(saveable_kinds())}); it is built from the saved clusters at start-up")
    return key


@dataclass(frozen=True)
class Changes:
    """What bringing a saved index up to date with its corpus did: rows kept, added, removed; rebuilt or not."""

    kept: int
    added: int
    removed: int
    rebuilt: bool = False

    def __str__(self) -> str:
        how = "rebuilt" if self.rebuilt else "updated"
        return f"{how}: +{self.added} added, -{self.removed} removed, {self.kept} kept without re-embedding"


class SavedIndex:
    """An index folder: `vectors.npy` (float32, memory-mapped), `ids.npy`, `hashes.npy`, `rows.npy` (the corpus
    row of each index row), one `<spec>.faiss` + `<spec>.npz` per compressed retriever, and `meta.json`.

    Rows are in index order: updates append new rows and drop removed ones, so `rows` maps them to the corpus.
    Open one with `SavedIndex.open`, make one with `SavedIndex.create`.
    """

    def __init__(self, path: Path, meta: dict, vectors: np.ndarray, ids: np.ndarray, hashes: np.ndarray,
                 rows: np.ndarray):
        self.path, self.meta = Path(path), meta
        self.vectors, self.ids, self.hashes, self.rows = vectors, ids, hashes, rows
        self.identity = bool(np.array_equal(rows, np.arange(len(rows))))
        """Whether index row i is corpus row i for every row (no update moved one)."""
        self._retrievers: dict[str, Retriever] = {}

    # ---- facts -------------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The embedding model id the vectors come from."""
        return self.meta["model"]

    @property
    def fingerprint(self) -> str:
        """The corpus fingerprint (`corpus_key` of its text hashes in corpus order) it was last brought up to."""
        return self.meta["fingerprint"]

    @property
    def specs(self) -> list[str]:
        """Retriever specs it can serve without building: `exact` and every saved compressed retriever."""
        return ["exact", *self.meta["retrievers"]]

    def __len__(self) -> int:
        return len(self.vectors)

    def corpus_vectors(self) -> np.ndarray:
        """The vectors in corpus order (the memory map itself when no update moved a row)."""
        if self.identity:
            return self.vectors
        out = np.empty_like(self.vectors)
        out[self.rows] = self.vectors
        return out

    # ---- open / create -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, model: str | None = None, dims: int | None = None,
             corpus: str | None = None, verify: bool = False) -> "SavedIndex":
        """Open a saved index, memory-mapping its files: the metadata and every file's size are checked, not the
        content (see `verify`), so opening takes milliseconds at any size.

        Args:
            path: the index folder.
            model, dims, corpus: when given, the index must have been built with this model, vector size and
                corpus source.
            verify: also check every file against the checksum written with it (`verify`: ~1 s per GB).

        Raises:
            ClusterankError: a missing or unreadable `meta.json`, another format, model, size or corpus, or a
                file whose size differs from the one recorded (truncated or replaced) — naming the file.
        """
        path = Path(path)
        meta_path = path / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
            files, fmt = dict(meta["files"]), meta["format"]
        except FileNotFoundError:
            raise ClusterankError(f"{path}: not a saved index (no meta.json); build one with `clusterank index "
                                  f"build`") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ClusterankError(f"{meta_path}: unreadable index metadata ({exc}); rebuild the index with "
                                  f"`clusterank index build --rebuild`") from None
        if fmt != FORMAT:
            raise ClusterankError(f"{path}: index format {fmt}, this clusterank reads format {FORMAT}; rebuild it")
        for what, want in (("model", model), ("dims", dims), ("corpus", corpus)):
            if want is not None and meta.get(what) != want:
                raise ClusterankError(f"{path}: this index was built for {what} {meta.get(what)!r}, not {want!r}; "
                                      f"build one for it with `clusterank index build`")
        for name, entry in files.items():
            f = path / name
            have = f.stat().st_size if f.exists() else None
            if have is None or have != entry["bytes"]:
                _damaged(f, "missing" if have is None else f"{have} bytes, {entry['bytes']} recorded: truncated or "
                         f"replaced")
        try:
            vectors, ids, hashes, rows = (np.load(path / f"{name}.npy", mmap_mode="r")
                                          for name in ("vectors", "ids", "hashes", "rows"))
        except (OSError, ValueError) as exc:
            raise ClusterankError(f"{path}: unreadable index file ({exc}); rebuild the index with `clusterank "
                                  f"index build --rebuild`") from None
        n = meta["n"]
        if vectors.shape != (n, meta["dims"]) or vectors.dtype != np.float32 or not len(ids) == len(hashes) == len(
                rows) == n:
            raise ClusterankError(f"{path}: index files disagree with meta.json ({vectors.shape} vectors, "
                                  f"{len(ids)} ids, {n} rows recorded); rebuild the index")
        opened = cls(path, meta, vectors, ids, hashes, rows)
        if verify:
            opened.verify()
        return opened

    def verify(self) -> None:
        """Check every file's content against the checksum written with it (reads each file once: ~1 s per GB).

        Raises:
            ClusterankError: the first damaged file, named, with what to do.
        """
        for name, entry in self.meta["files"].items():
            if _digest(self.path / name) != entry["blake2b"]:
                _damaged(self.path / name, "damaged: its checksum differs from the one recorded")

    @classmethod
    def create(cls, path: str | Path, *, model: str, corpus: str, fingerprint: str, vectors: np.ndarray,
               ids: Sequence[str], hashes: Sequence[bytes]) -> "SavedIndex":
        """Save corpus vectors (corpus order) as a new index with no compressed retrievers yet, and open it."""
        vectors = check_vectors(vectors, what="index vectors")
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        meta = {"format": FORMAT, "model": model, "corpus": corpus, "fingerprint": fingerprint,
                "dims": int(vectors.shape[1]), "n": len(vectors), "built": now, "updated": now, "retrievers": {},
                "files": {}}
        fresh = cls(Path(path), meta, vectors, np.asarray(list(ids), dtype=str),
                    np.asarray(list(hashes), dtype="V16"), np.arange(len(vectors), dtype=np.int64))
        fresh._write({})
        return cls.open(path, verify=False)

    # ---- retrievers --------------------------------------------------------------------------------------
    def retriever(self, spec: str) -> Retriever:
        """A saved retriever (or `exact`) over the memory-mapped vectors; its rows are index rows.

        Raises:
            ClusterankError: the spec is not saved here, or its file cannot be read.
        """
        key = canonical_spec(spec)
        if key not in self._retrievers:
            if key == "exact":
                self._retrievers[key] = ExactIndex(self.vectors, check=False)
            elif key in self.meta["retrievers"]:
                self._retrievers[key] = self._load(key)
            else:
                raise ClusterankError(f"{self.path}: no saved retriever {key!r}; saved: {', '.join(self.specs)}")
            self._retrievers[key].spec = key
        return self._retrievers[key]

    def _load(self, key: str) -> _FaissIndex:
        entry = self.meta["retrievers"][key]
        for name in (entry["codes"], entry["arrays"]):  # read whole anyway: checked first, so faiss never parses
            if _digest(self.path / name) != self.meta["files"][name]["blake2b"]:  # a damaged header
                _damaged(self.path / name, "damaged: its checksum differs from the one recorded")
        faiss = _faiss()
        codes = str(self.path / entry["codes"])
        try:
            kind = SAVED_KINDS[entry["kind"]]
            index = faiss.read_index_binary(codes) if kind is BinaryIndex else faiss.read_index(codes)
            with np.load(self.path / entry["arrays"]) as arrays:
                state = {**entry["state"], **{k: arrays[k] for k in arrays.files}}
        except (KeyError, RuntimeError, OSError, ValueError) as exc:
            raise ClusterankError(f"{codes}: unreadable saved retriever {key!r} ({str(exc).splitlines()[0]}); "
                                  f"rebuild the index with `clusterank index build --rebuild`") from None
        if index.ntotal != len(self):
            raise ClusterankError(f"{codes}: {index.ntotal} codes for {len(self)} vectors; rebuild the index")
        return kind.restore(self.vectors, index, int(entry["rescore"]), state)

    def search(self, spec: str, query_vectors: np.ndarray, k: int) -> TopK:
        """Search with a saved retriever and return corpus rows (not index rows); -1 stays -1."""
        result = self.retriever(spec).search(query_vectors, k)
        if self.identity:
            return result
        rows = np.where(result.rows >= 0, self.rows[np.maximum(result.rows, 0)], -1)
        return TopK(rows, result.scores, result.probed, result.groups)

    def corpus_retriever(self, spec: str) -> Retriever:
        """A saved retriever whose rows are corpus rows (the saved one itself when no update moved a row)."""
        return self.retriever(spec) if self.identity else _CorpusRows(self, canonical_spec(spec))

    def add_retriever(self, spec: str) -> Retriever:
        """Build a compressed retriever over the saved vectors and save it beside them (a no-op if saved).

        Raises:
            ClusterankError: a retriever kind that cannot be saved (routed and role-aware ones are rebuilt from
                the saved clusters in seconds instead).
        """
        key = check_saveable(spec)
        if key in self.specs:
            return self.retriever(key)
        self.verify()  # the new folder is written from these files: damage is not carried into it
        built = build_retriever(key, SearchContext(self.vectors))
        self._write({**self._loaded_all(), key: built})
        return self.retriever(key)

    def _loaded_all(self) -> dict[str, _FaissIndex]:
        return {key: self.retriever(key) for key in self.meta["retrievers"]}

    # ---- updates -----------------------------------------------------------------------------------------
    def update(self, ids: Sequence[str], hashes: Sequence[bytes], fingerprint: str,
               embed: Callable[[list[int]], np.ndarray]) -> Changes:
        """Bring the index up to a corpus given as ids and text hashes in corpus order.

        A row is kept when its (id, text hash) pair is still there; rows whose pair is gone are removed, and new
        pairs are embedded with `embed(corpus_rows)` (which should read the embedding store) and appended.
        Compressed retrievers are patched (codebooks kept) unless more than `REBUILD_SHARE` of the rows went.
        The folder is rewritten atomically: an interruption leaves the old index whole. Every file is checked
        against its checksum first (`verify`), so damage is not carried into the new folder.
        """
        place: dict[tuple[str, bytes], list[int]] = {}
        for r in range(len(ids) - 1, -1, -1):  # popped from the end, so duplicates are matched in order
            place.setdefault((str(ids[r]), bytes(hashes[r])), []).append(r)
        new_rows = np.empty(len(self), dtype=np.int64)
        removed: list[int] = []
        for j, key in enumerate(zip(self.ids.tolist(), self.hashes.tolist())):
            left = place.get(key)
            if left:
                new_rows[j] = left.pop()
            else:
                removed.append(j)
        added = sorted(r for left in place.values() for r in left)
        if not removed and not added and self.fingerprint == fingerprint and np.array_equal(new_rows, self.rows):
            return Changes(len(self), 0, 0)
        self.verify()
        new_vecs = np.asarray(embed(added), dtype=np.float32) if added else np.empty((0, self.meta["dims"]),
                                                                                     np.float32)
        if new_vecs.shape != (len(added), self.meta["dims"]):
            raise ClusterankError(f"{self.path}: {new_vecs.shape} vectors for {len(added)} new profiles")
        rebuild = len(removed) > REBUILD_SHARE * len(self)
        retrievers = {} if rebuild else self._loaded_all()
        for r in retrievers.values():
            if removed:
                r.remove_codes(np.asarray(removed))
            if added:
                r.add_codes(new_vecs)
        keep = np.delete(np.arange(len(self)), removed)
        vectors = np.concatenate([np.asarray(self.vectors[keep]), new_vecs])
        specs = list(self.meta["retrievers"])
        self.vectors = vectors
        self.ids = np.concatenate([self.ids[keep], np.asarray([str(ids[r]) for r in added], dtype=str)])
        self.hashes = np.concatenate([self.hashes[keep], np.asarray([bytes(hashes[r]) for r in added], "V16")])
        self.rows = np.concatenate([new_rows[keep], np.asarray(added, dtype=np.int64)])
        self.meta.update(fingerprint=fingerprint, n=len(vectors), updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
        if rebuild:
            order = np.argsort(self.rows)  # a rebuild also puts the rows back in corpus order
            self.vectors, self.ids, self.hashes = self.vectors[order], self.ids[order], self.hashes[order]
            self.rows = self.rows[order]
            retrievers = {s: build_retriever(s, SearchContext(self.vectors)) for s in specs}
        for r in retrievers.values():
            r.vectors = self.vectors
        self._write(retrievers)
        reopened = SavedIndex.open(self.path, verify=False)  # just written
        self.__dict__.update(reopened.__dict__)
        return Changes(len(keep), len(added), len(removed), rebuild)

    def _write(self, retrievers: dict[str, _FaissIndex]) -> None:
        """Write the whole folder beside the old one and swap it in (vectors, ids, codes, then meta.json)."""
        faiss = _faiss() if retrievers else None
        meta = {**self.meta, "n": len(self.vectors), "dims": int(self.vectors.shape[1]), "retrievers": {}}
        with atomic_path(self.path) as tmp:
            tmp.mkdir(parents=True)
            np.save(tmp / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
            np.save(tmp / "ids.npy", self.ids)
            np.save(tmp / "hashes.npy", self.hashes)
            np.save(tmp / "rows.npy", self.rows)
            for key, r in retrievers.items():
                stem = safe_name(key)
                if isinstance(r, BinaryIndex):
                    faiss.write_index_binary(r.index, str(tmp / f"{stem}.faiss"))
                else:
                    faiss.write_index(r.index, str(tmp / f"{stem}.faiss"))
                state = r.state()
                arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
                np.savez(tmp / f"{stem}.npz", **arrays)
                meta["retrievers"][key] = {"kind": type(r).__name__, "codes": f"{stem}.faiss",
                                           "arrays": f"{stem}.npz", "rescore": int(r.rescore),
                                           "state": {k: _plain(v) for k, v in state.items() if k not in arrays}}
            meta["files"] = {f.name: {"bytes": f.stat().st_size, "blake2b": _digest(f)}
                             for f in sorted(tmp.iterdir())}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        self.meta = meta


def _digest(path: Path) -> str:
    """BLAKE2b of a file's bytes, read in 8 MB pieces."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while piece := f.read(8 << 20):
            h.update(piece)
    return h.hexdigest()


def _damaged(f: Path, problem: str):
    raise ClusterankError(f"{f}: index file {problem}; rebuild the index with `clusterank index build --rebuild` "
                          f"(stored embeddings are not affected)")


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value



class _CorpusRows(Retriever):
    """A saved retriever seen in corpus row numbers (after updates appended or dropped rows)."""

    def __init__(self, saved: SavedIndex, spec: str):
        self.saved, self.spec = saved, spec

    @property
    def memory_bytes(self) -> int:
        """The bytes of the saved retriever it maps."""
        return int(self.saved.retriever(self.spec).memory_bytes or 0)

    def search(self, query_vectors: np.ndarray, k: int) -> TopK:
        """The saved retriever's hits, in corpus rows."""
        return self.saved.search(self.spec, query_vectors, k)
