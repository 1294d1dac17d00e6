"""The bundled data and the embedding cache."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from clusterank.cli.common import LangOpt, cache_app, data_app, out
from clusterank import BUNDLED_N, MAX_PROFILES, PROFILES_RANGE, SEED_RANGE, ClusterankError


@data_app.command("synth")
def data_synth(output: Path = typer.Option(..., "-o", "--output", help="Profiles file (.parquet/.csv/.jsonl)."),
               n: int = typer.Option(BUNDLED_N, "--n", help=f"Profiles to write (1 to {MAX_PROFILES:,}: they are "
                                     "generated in memory).", callback=PROFILES_RANGE.option("--n")),
               seed: int = typer.Option(42, "--seed", callback=SEED_RANGE.option("--seed")),
               queries: Optional[Path] = typer.Option(None, "--queries", help="Also write the job descriptions here."),
               lang: str = LangOpt) -> None:
    """Write the bundled synthetic profiles (and job descriptions, in --lang) to files."""
    from clusterank import bundled_queries, check_lang, generate_profiles, write_table

    code = check_lang(lang, allow_all=True)  # a bad --lang fails before anything is written
    write_table(generate_profiles(n=n, seed=seed), output)
    out.print(f"wrote {n:,} profiles to {output}")
    if queries:
        frame = bundled_queries(seed=seed, lang=code).frame
        write_table(frame, queries)
        out.print(f"wrote {len(frame)} job descriptions to {queries}" + ("" if code == "en" else f" (lang {code})"))


@cache_app.command("info")
def cache_info() -> None:
    """Where the cache is and how many vectors it holds per model."""
    from clusterank import EmbeddingStore, Workspace

    from clusterank import stored_name

    store = EmbeddingStore(Workspace.default().store_path)
    out.print(f"cache: {store.path}")
    for model_id, count in store.models().items():  # names stored before credentials were stripped, shown without
        out.print(f"  {stored_name(model_id)}: {count:,} vectors")


@cache_app.command("clear")
def cache_clear(model: str = typer.Option(..., "--model", "-m", help="Model whose vectors to delete.")) -> None:
    """Delete the cached vectors of one model."""
    from clusterank import EmbeddingStore, Workspace, stored_name

    name = stored_name(model)  # the name the vectors are filed under, never echoing a password typed in a URL
    out.print(f"deleted {EmbeddingStore(Workspace.default().store_path).clear(name):,} vectors of {name}")



@cache_app.command("check")
def cache_check() -> None:
    """Check the cache file: SQLite's integrity check and every vector (size, finite, unit length). Exit 2 if damaged."""
    from clusterank import Workspace, check_store

    report = check_store(Workspace.default().store_path)
    out.print("\n".join(report.lines()))
    if not report.ok:
        raise ClusterankError(f"{report.path} is damaged; `clusterank cache repair` keeps every intact vector")


@cache_app.command("repair")
def cache_repair() -> None:
    """Copy every intact vector into a fresh cache file and swap it in; the damaged file is kept beside it.

    Refuses while another clusterank process has the cache open; changes nothing when the cache is intact."""
    from clusterank import Workspace, repair_store

    report = repair_store(Workspace.default().store_path)
    out.print("\n".join(report.lines()))
    if report.kept_damaged_file is None:
        out.print("nothing to repair: the store is intact and was left as it was")
    else:
        out.print("repaired: the next run embeds only what was lost")
