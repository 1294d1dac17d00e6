"""Where clusterank keeps what it computes: the embedding store and models built on first use.

The root is `$CLUSTERANK_HOME`, else `~/.cache/clusterank`; every path below it comes from here.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path

from clusterank.errors import ClusterankError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write a file or folder into; it replaces `path` only on success.

    The temporary name keeps `path`'s suffix (writers that pick a format by suffix still work). On an
    error or an interruption the temporary file or folder is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    _remove(tmp)
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():  # a folder cannot be replaced in one step: move the old one aside first
            old = path.with_name(f".{path.stem}.old-{os.getpid()}{path.suffix}")
            _remove(old)
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove_stale_temporaries(path: Path) -> None:
    """Drop what a killed writer of `path` left beside it (`.name.tmp-<pid>`, `.name.old-<pid>` of a dead pid)."""
    for leftover in path.parent.glob(f".{glob_escape(path.stem)}.*-*{glob_escape(path.suffix)}"):
        kind, _, pid = leftover.name[len(path.stem) + 2:].removesuffix(path.suffix).partition("-")
        if kind not in ("tmp", "old") or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove(leftover)
        except PermissionError:  # alive, another user's
            pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def safe_name(name: str) -> str:
    """A model id as a folder name: anything but letters, digits, `.`, `_` and `-` becomes `_`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def default_root() -> Path:
    """The workspace root: `$CLUSTERANK_HOME` when set, else `~/.cache/clusterank`."""
    env = os.environ.get("CLUSTERANK_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "clusterank"


@dataclass(frozen=True)
class Workspace:
    """The folders and files of one workspace; created on first use."""

    root: Path

    def __post_init__(self) -> None:
        """Refuse a root that is a file (a wrong CLUSTERANK_HOME), before anything tries to create folders in it."""
        root = Path(self.root)
        if root.exists() and not root.is_dir():
            raise ClusterankError(f"the workspace {root} is a file, not a folder; set CLUSTERANK_HOME to a folder "
                                  f"(it is created if missing)")

    @classmethod
    def default(cls) -> "Workspace":
        """The workspace at `default_root()`."""
        return cls(default_root())

    @property
    def store_path(self) -> Path:
        """The SQLite file holding cached vectors keyed by (model, text hash)."""
        return self._ensure(self.root) / "embeddings.sqlite"

    @property
    def models_dir(self) -> Path:
        """Models clusterank builds itself (for example distilled static models)."""
        return self._ensure(self.root / "models")

    @property
    def llm_cache_path(self) -> Path:
        """The SQLite file of cached LLM judgments, keyed by (model, prompt hash)."""
        return self._ensure(self.root) / "llm-judgments.sqlite"

    @property
    def llm_log_path(self) -> Path:
        """Where the local LLM server writes its log."""
        return self._ensure(self.root) / "llm-server.log"

    @property
    def throughput_cache_path(self) -> Path:
        """The JSON file of this machine's measured throughputs (`clusterank cost`), keyed by model and sample."""
        return self._ensure(self.root) / "throughput.json"

    REPORT_KINDS = ("compare", "cost")
    """The report pages a workspace keeps its latest copy of."""

    def latest_report_path(self, kind: str) -> Path:
        """Where the newest `compare` report or `cost` page of this workspace is kept (what `clusterank serve`
        shows): `reports/<kind>.html`."""
        if kind not in self.REPORT_KINDS:
            raise ValueError(f"no report kind {kind!r}")
        return self._ensure(self.root / "reports") / f"{kind}.html"

    def keep_latest_report(self, kind: str, page: str | Path) -> Path:
        """Copy a freshly written report page to `latest_report_path(kind)` (atomically); returns that path."""
        target = self.latest_report_path(kind)
        with atomic_path(target) as tmp:
            shutil.copyfile(page, tmp)
        return target

    @property
    def jobs_dir(self) -> Path:
        """Status files of background jobs the server runs (one JSON file per job)."""
        return self._ensure(self.root / "jobs")

    @property
    def finetuned_dir(self) -> Path:
        """Models `clusterank finetune` trained: one folder per name (`st:<name>` loads it), and the checkpoint of
        a run still under way (`.<name>.checkpoint.pt`)."""
        return self._ensure(self.root / "models" / "finetuned")

    def model_path(self, model: str) -> Path:
        """The folder (or file) under `models_dir` where clusterank unpacks or builds `model` itself."""
        return self.models_dir / model

    def tuning_path(self, model: str, corpus_key: str) -> Path:
        """Where `clusterank tune` keeps the parameters it chose for one (embedding model, corpus), beside the
        clusters; `alpha=auto` in a spec reads them."""
        return self._ensure(self.root / "clusters" / safe_name(model)) / f"{corpus_key}-tuned.json"

    def cluster_path(self, model: str, corpus_key: str, k: int, seed: int) -> Path:
        """Where the k-means model of one (embedding model, corpus, k, seed) is kept, beside the embeddings."""
        return self._ensure(self.root / "clusters" / safe_name(model)) / f"{corpus_key}-k{k}-seed{seed}.npz"

    def fitted_arrays(self, model: str, corpus_key: str) -> list[Path]:
        """The arrays kept for one (embedding model, corpus): its k-means models and what retrievers learned from it
        (`cluster_path`, `fitted_path`; not the parameters `clusterank tune` chose)."""
        folder = self.root / "clusters" / safe_name(model)
        return sorted(folder.glob(f"{corpus_key}-*.npz")) if folder.is_dir() else []

    def fitted_path(self, model: str, corpus_key: str, key: str) -> Path:
        """Where arrays a retriever learned from one (embedding model, corpus) are kept (`prior`'s classifier),
        beside the clusters; `key` names what was learned and from which labels and settings."""
        return self._ensure(self.root / "clusters" / safe_name(model)) / f"{corpus_key}-{safe_name(key)}.npz"

    def index_dir(self, model: str, corpus_source: str) -> Path:
        """Where the saved index of one (embedding model, corpus file) lives: `indexes/<model>/<stem>-<hash>`,
        the hash being of the corpus path, so two files with one name do not share an index."""
        tag = hashlib.blake2b(str(corpus_source).encode(), digest_size=4).hexdigest()
        return self.root / "indexes" / safe_name(model) / f"{safe_name(Path(str(corpus_source)).stem)}-{tag}"

    def _ensure(self, path: Path) -> Path:
        """`path`, created if missing; one error naming the workspace when it cannot be (a file in the way, a
        read-only folder)."""
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), path)
            raise ClusterankError(f"the workspace {self.root} cannot hold the folder {path}: {blocker} is a file, "
                                  f"not a folder") from None
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            if Path(self.root).is_dir():
                raise ClusterankError(f"the workspace {self.root} is read-only: cannot create {path}; make it "
                                      f"writable or point CLUSTERANK_HOME at a writable folder") from None
            above = next((p for p in Path(self.root).parents if p.exists()), Path(self.root).parent)
            raise ClusterankError(f"cannot create the workspace {self.root}: {above} is read-only; make it writable "
                                  f"or point CLUSTERANK_HOME at a writable folder") from None
        return path
