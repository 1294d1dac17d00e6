"""Saved indexes: `clusterank index build` (build, or bring up to date by profile id), `index check` (every file's
content, and the corpus against the index, in full) and `index info`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from clusterank.cli.common import CorpusOpt, LabelColOpt, ModelOpt, NOpt, TextColOpt, app, corpus_from_options, out

index_app = typer.Typer(help="Saved indexes: built once, memory-mapped by search and serve, updated by id.",
                        no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("build")
def build(model: str = ModelOpt, corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
          label_column: str = LabelColOpt,
          retriever: str = typer.Option("exact", "--retriever", "-r", help="Retrievers to save, comma-separated: "
                                        "exact (the vectors) and any of float16, int8, binary[:rescore=R], ivfpq."),
          rebuild: bool = typer.Option(False, "--rebuild", help="Write it anew (e.g. after a corrupt file).")) -> None:
    """Save the corpus' vectors (and compressed retrievers) as an index that search and serve start from.

    Run it again after the corpus changed: new profiles are embedded and added, removed ones dropped (by the
    `id` column, else by text), without re-embedding the rest.
    """
    from clusterank import SearchPipeline, check_spec, split_specs

    from clusterank import check_saveable

    specs = [check_saveable(s) for s in split_specs(retriever)]  # before anything is embedded or written
    started = time.perf_counter()
    table = corpus_from_options(corpus, n, text_column, label_column, copy=False)  # read in full; a copy is kept
    for spec in specs:  # nlist, m's range and the like against the corpus' rows, before anything is embedded
        check_spec(spec, len(table))
    pipe = SearchPipeline(table, model, progress=True, use_saved_index=not rebuild)
    saved = pipe.save_index(specs, rebuild=rebuild)
    took = time.perf_counter() - started
    table = Table("retriever", "rows", "MB on disk", title=f"saved index of {pipe.embedder.name} ({took:.1f} s)")
    for spec in saved.specs:
        table.add_row(spec, f"{len(saved):,}", f"{_spec_bytes(saved, spec) / 1e6:.2f}")
    out.print(table)
    out.print(f"saved in {saved.path}; `clusterank search` and `serve` with this model and corpus start from it")


@index_app.command("check")
def check(model: str = ModelOpt, corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
          label_column: str = LabelColOpt) -> None:
    """Check a saved index in full: every file's content against its checksum, and the corpus file, read and
    hashed anew, against the index and its copy (a start checks sizes only). Exit 2 with one line naming a
    damaged file.
    """
    from clusterank import check_index

    started = time.perf_counter()
    table = corpus_from_options(corpus, n, text_column, label_column, copy=False)
    for line in check_index(table, model):
        out.print(line, markup=False)
    out.print(f"ok ({time.perf_counter() - started:.1f} s)")


@index_app.command("info")
def info() -> None:
    """List the saved indexes in the workspace: model, corpus, rows, retrievers, size, last update."""
    from clusterank import Workspace

    root = Workspace.default().root / "indexes"
    table = Table("model", "corpus", "rows", "retrievers", "MB", "updated", title=f"saved indexes in {root}")
    for meta_path in sorted(root.glob("*/*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text())
            row = (meta["model"], meta["corpus"], f"{meta['n']:,}", ", ".join(["exact", *meta["retrievers"]]),
                   f"{sum(f['bytes'] for f in meta['files'].values()) / 1e6:.1f}", meta["updated"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            row = ("?", str(meta_path.parent), "", f"unreadable: {exc}", "", "")
        table.add_row(*row)
    out.print(table)


def _spec_bytes(saved, spec: str) -> int:
    files = {name: f["bytes"] for name, f in saved.meta["files"].items()}
    if spec == "exact":
        return files.get("vectors.npy", 0)
    entry = saved.meta["retrievers"][spec]
    return files.get(entry["codes"], 0) + files.get(entry["arrays"], 0)
