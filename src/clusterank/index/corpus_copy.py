"""The workspace's copy of a corpus file that a saved index serves: texts, ids and labels in memory-mapped files.

A search that starts from a saved index needs the corpus only to show its hits, so reading (and hashing) a million
profile texts at every start is wasted work. `index build` and the first search over a saved index write a copy
(`corpora/<stem>-<hash>/`) recording the file's *stamp* (size, modification and change times, inode) and the
corpus fingerprint; `open_profiles` then opens the copy instead of the file while the stamp is the recorded one,
and a row's text is read when a hit shows it. Another stamp means the file changed: it is read in full as before
(and the copy written again). The trade-off: a file whose content changed while all four stayed the same is
searched as it was (a normal write cannot do that: the kernel sets the change time); `clusterank index check`
re-reads the file, hashes every text and compares, and checks every file's checksum.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from clusterank.cluster.kmeans import corpus_key
from clusterank.data.blind import parse_blind
from clusterank.data.corpus import Corpus
from clusterank.data.schema import ROLE_COLUMN, TEXT_COLUMN
from clusterank.embed.registry import get_embedder
from clusterank.embed.store import text_hash
from clusterank.errors import ClusterankError
from clusterank.index.persist import SavedIndex, _digest
from clusterank.workspace import Workspace, atomic_path, safe_name

log = logging.getLogger(__name__)

COPY_FORMAT = 1
COLUMNS = ("texts", "ids", "labels", "families")
"""The corpus columns a copy holds, each as `<name>.bin` (UTF-8, one value after another) + `<name>.offsets.npy`."""


def file_stamp(path: str | Path) -> list[int] | None:
    """[size, modification time, change time (ns), inode] of a regular file; None for anything else (a folder, a
    dataset name, a database URL), whose corpus is never copied."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino] if Path(path).is_file() else None


def copy_dir(workspace: Workspace, path: str | Path, blind: Sequence[str] = ()) -> Path:
    """Where the copy of one corpus file (read without the personal fields `blind` names) is kept."""
    resolved = str(Path(path).resolve())
    tag = hashlib.blake2b(f"{resolved}\0{','.join(blind)}".encode(), digest_size=4).hexdigest()
    return workspace.root / "corpora" / f"{safe_name(Path(resolved).stem)}-{tag}"


@dataclass
class FileCorpus(Corpus):
    """Profiles read from a file, with what a copy of them records: the file's stamp (`file_stamp`), taken before
    it was read, and the columns asked for."""

    stamp: list[int] | None = None
    label_column: str = ROLE_COLUMN
    path: str = ""


class _Strings(Sequence):
    """A column of a copy: string i is `blob[offsets[i]:offsets[i + 1]]`, decoded when asked for."""

    def __init__(self, folder: Path, name: str):
        self.name = name
        self._offsets = np.load(folder / f"{name}.offsets.npy", mmap_mode="r")
        with open(folder / f"{name}.bin", "rb") as f:
            self._blob = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(f.fileno()).st_size else b""

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        i += len(self) if i < 0 else 0
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} of {len(self)}")
        return self._blob[int(self._offsets[i]):int(self._offsets[i + 1])].decode("utf-8", "replace")

    def __iter__(self) -> Iterator[str]:
        ends = np.asarray(self._offsets).tolist()
        blob = self._blob
        return (blob[a:b].decode("utf-8", "replace") for a, b in zip(ends, ends[1:]))

    def __repr__(self) -> str:
        return f"<{len(self):,} {self.name} in a corpus copy>"


class CopiedCorpus(FileCorpus):
    """A corpus opened from its copy (`open_profiles`): texts, ids and labels are read per row on demand; the
    file's other columns (`frame`, filters and profile views use them) are read from the file on first use.
    `fingerprint` is the recorded corpus fingerprint (`corpus_key` of its text hashes)."""

    def __init__(self, folder: Path, meta: dict, source: str):
        self.folder, self.meta, self.source = folder, meta, source
        self.fingerprint, self.stamp, self.path = meta["fingerprint"], meta["stamp"], meta["path"]
        self.blind, self.text_column, self.label_column = tuple(meta["blind"]), meta["text_column"], meta[
            "label_column"]
        self.texts, self.ids = _Strings(folder, "texts"), _Strings(folder, "ids")
        self.labels = _Strings(folder, "labels") if "labels" in meta["columns"] else None
        self.families = _Strings(folder, "families") if "families" in meta["columns"] else None
        self._full: Corpus | None = None

    def __repr__(self) -> str:  # not the dataclass's: that one would read the file for `frame`
        return f"CopiedCorpus({self.source!r}, {len(self.texts):,} rows, copy in {str(self.folder)!r})"

    def _read_file(self) -> Corpus:
        """The corpus read from the file, once (refused if the file changed since its copy was opened)."""
        if self._full is None:
            if file_stamp(self.path) != self.stamp:
                raise ClusterankError(f"{self.path}: the file changed while this command ran (its size or time "
                                      f"differ from the saved copy's); run the command again")
            full = _load(self.path, self.text_column, self.label_column, self.blind)
            if len(full) != len(self.texts):
                raise ClusterankError(f"{self.path}: {len(full)} rows, its saved copy has {len(self.texts)}; run "
                                      f"`clusterank index check`")
            self._full = full
        return self._full

    @property
    def frame(self):
        """The file's table (other columns: filters, profile views), read from the file on first use."""
        return self._read_file().frame

    @property
    def precomputed(self) -> dict[str, np.ndarray]:
        """The file's `embeddings_<model>` columns, read from the file on first use."""
        return self._read_file().precomputed


def open_profiles(source: str | Path, *, text_column: str = TEXT_COLUMN, label_column: str = ROLE_COLUMN,
                  blind: Sequence[str] | str = (), workspace: Workspace | None = None,
                  use_copy: bool = True) -> Corpus:
    """Profiles from a file as `load_profiles` reads them, remembering the file's stamp so a saved index can keep a
    copy of them; with `use_copy`, from the workspace's copy when there is one for this file as it is now (same
    size, times and inode; same columns): then nothing is read from the file until a column other than the text,
    id and label is asked for. Other sources (folders, datasets, databases) are read with `load_profiles`.

    Raises:
        ClusterankError: whatever `load_profiles` refuses.
    """
    fields_ = parse_blind(blind)
    stamp = file_stamp(source)  # before reading: a file changed while it is read gets a new stamp
    if stamp is None:
        return _load(source, text_column, label_column, fields_)
    folder = copy_dir(workspace or Workspace.default(), source, fields_)
    meta = _read_meta(folder) if use_copy else None
    wanted = {"path": str(Path(source).resolve()), "stamp": stamp, "text_column": text_column,
              "label_column": label_column, "blind": list(fields_)}
    if meta is not None and all(meta.get(k) == v for k, v in wanted.items()) and _sizes_agree(folder, meta, warn=True):
        shown = f"{source} (blind: {', '.join(fields_)})" if fields_ else str(source)
        try:
            return CopiedCorpus(folder, meta, shown)
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable corpus copy (%s); reading %s instead", folder, exc, source)
    corpus = _load(source, text_column, label_column, fields_)
    return FileCorpus(**{f.name: getattr(corpus, f.name) for f in fields(Corpus)}, stamp=stamp,
                      label_column=label_column, path=wanted["path"])


def _load(source, text_column: str, label_column: str, blind: Sequence[str]) -> Corpus:
    from clusterank.data.loaders import load_profiles  # here, not on the way to a copy: it imports pandas

    return load_profiles(source, text_column=text_column, label_column=label_column, blind=blind)


def _read_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
        return meta if isinstance(meta, dict) and meta.get("format") == COPY_FORMAT else None
    except (OSError, ValueError):
        return None


def _sizes_agree(folder: Path, meta: dict, warn: bool = False) -> bool:
    """Whether every file of the copy has its recorded size (`warn`: one warning when not; the file is read)."""
    for name, entry in meta.get("files", {}).items():
        f = folder / name
        have = f.stat().st_size if f.exists() else None
        if have != entry["bytes"]:
            if warn:
                log.warning("%s: %s, %s bytes recorded; reading %s instead and copying it again", f,
                            "missing" if have is None else f"{have} bytes", entry["bytes"], meta["path"])
            return False
    return True


def keep_copy(corpus: Corpus, workspace: Workspace, fingerprint: str, *, force: bool = False) -> Path | None:
    """Write the workspace's copy of a corpus read by `open_profiles` when none matches it (stamp, fingerprint,
    columns), or always with `force` (`index build --rebuild`), so the next start opens the copy; a no-op for
    other corpora. Returns the copy's folder, or None.

    Atomic: an interrupted write leaves the old copy (or none), and a search then reads the file.
    """
    if not isinstance(corpus, FileCorpus) or corpus.stamp is None or isinstance(corpus, CopiedCorpus):
        return None
    folder = copy_dir(workspace, corpus.path, corpus.blind)
    meta = {"format": COPY_FORMAT, "path": corpus.path, "stamp": corpus.stamp, "text_column": corpus.text_column,
            "label_column": corpus.label_column, "blind": list(corpus.blind), "n": len(corpus),
            "fingerprint": fingerprint}
    old = _read_meta(folder)
    if not force and old is not None and all(old.get(k) == v for k, v in meta.items()) and _sizes_agree(folder, old):
        return folder
    columns = {"texts": corpus.texts, "ids": corpus.ids, "labels": corpus.labels, "families": corpus.families}
    meta["columns"] = [name for name, values in columns.items() if values is not None]
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        for name in meta["columns"]:
            _write_column(tmp, name, columns[name])
        meta["files"] = {f.name: {"bytes": f.stat().st_size, "blake2b": _digest(f)} for f in sorted(tmp.iterdir())}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    log.info("kept a copy of %s's texts, ids and labels for fast starts (%s)", corpus.path, folder)
    return folder


def _write_column(folder: Path, name: str, values: Iterable[str], chunk: int = 8192) -> None:
    values = list(values)
    ends, at = np.zeros(len(values) + 1, dtype=np.int64), 0
    with open(folder / f"{name}.bin", "wb") as f:
        for start in range(0, len(values), chunk):
            encoded = [str(v).encode("utf-8") for v in values[start:start + chunk]]
            f.write(b"".join(encoded))
            sizes = np.cumsum([len(b) for b in encoded], dtype=np.int64)
            ends[start + 1:start + 1 + len(encoded)] = at + sizes
            at += int(sizes[-1]) if len(sizes) else 0
    np.save(folder / f"{name}.offsets.npy", ends)


def check_copy(folder: Path) -> dict:
    """Check a copy's files against the sizes and checksums written with them; returns its metadata.

    Raises:
        ClusterankError: a missing, resized or damaged file, naming it.
    """
    meta = _read_meta(folder)
    if meta is None:
        raise ClusterankError(f"{folder / 'meta.json'}: unreadable corpus copy metadata; `clusterank index build` "
                              f"writes the copy again")
    for name, entry in meta["files"].items():
        f = folder / name
        have = f.stat().st_size if f.exists() else None
        problem = ("missing" if have is None else f"{have} bytes, {entry['bytes']} recorded" if have != entry[
            "bytes"] else "damaged: its checksum differs from the one recorded" if _digest(f) != entry[
                "blake2b"] else None)
        if problem:
            raise ClusterankError(f"{f}: corpus copy file {problem}; `clusterank index build --rebuild` writes the "
                                  f"copy again")
    return meta


def check_index(corpus: Corpus, model: str, *, workspace: Workspace | None = None) -> list[str]:
    """The full check a start no longer makes (`clusterank index check`): every file of the saved index of `model`
    over `corpus` against its checksum, the corpus copy's files likewise, and the corpus (read in full by the
    caller, best with `open_profiles(..., use_copy=False)`) against both: its texts, ids and labels against the
    copy, its fingerprint against theirs, each index row's text hash against the corpus row it stands for.

    Returns:
        One line per thing checked (a stale index or copy is said, not refused: the next search updates it).

    Raises:
        ClusterankError: no saved index, or the first damaged file, or a corpus file whose content differs from
            its copy although its size and times are the recorded ones — each naming the file.
    """
    workspace = workspace or Workspace.default()
    name = get_embedder(model, workspace, tables=(corpus,)).name
    source = Path(corpus.source)  # the corpus as a saved index records it (SearchPipeline.corpus_name)
    path = workspace.index_dir(name, str(source.resolve()) if source.exists() else corpus.source)
    if not (path / "meta.json").exists():
        raise ClusterankError(f"no saved index of {name} over {corpus.source} in {workspace.root}; build one with "
                              f"`clusterank index build`")
    saved = SavedIndex.open(path, model=name)
    saved.verify()
    size = sum(f["bytes"] for f in saved.meta["files"].values())
    lines = [f"{path}: {len(saved.meta['files'])} files, {size / 1e6:,.1f} MB: sizes and checksums as recorded"]
    hashes = np.asarray([text_hash(t) for t in corpus.texts], dtype="V16")
    key = corpus_key(hashes.tolist())
    folder = copy_dir(workspace, corpus.path, corpus.blind) if isinstance(corpus, FileCorpus) else None
    if folder is not None and (folder / "meta.json").exists():
        meta = check_copy(folder)
        lines.append(f"{folder}: corpus copy: sizes and checksums as recorded")
        if meta["stamp"] == corpus.stamp and meta["label_column"] == corpus.label_column:
            copied = CopiedCorpus(folder, meta, corpus.source)
            for what, mine, theirs in (("texts", copied.texts, corpus.texts), ("ids", copied.ids, corpus.ids),
                                       ("labels", copied.labels, corpus.labels),
                                       ("families", copied.families, corpus.families), ("fingerprint", [meta[
                                           "fingerprint"]], [key])):
                if (mine is None) != (theirs is None) or (mine is not None and list(mine) != list(theirs)):
                    raise ClusterankError(f"{corpus.path}: its {what} differ from its saved copy's although its size "
                                          f"and times are the recorded ones; run `clusterank index build` to bring "
                                          f"the index and the copy up to date")
            lines.append(f"{corpus.path}: the same {len(corpus):,} texts, ids and labels as its copy")
        else:
            lines.append(f"{folder}: a copy of an earlier version of the corpus file (the next search copies it again)")
    if saved.fingerprint != key:
        lines.append(f"{path}: behind the corpus, which changed since the index was built (the next search or "
                     f"`index build` brings it up to date by id)")
    elif not np.array_equal(hashes[np.asarray(saved.rows)], np.asarray(saved.hashes)):
        raise ClusterankError(f"{path / 'rows.npy'}: index rows do not match the corpus rows they stand for; rebuild "
                              f"the index with `clusterank index build --rebuild`")
    else:
        lines.append(f"{path}: up to date with the corpus' {len(corpus):,} texts, row by row")
    return lines
