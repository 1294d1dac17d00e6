"""What every command shares: the typer apps, the consoles, the common options and loading the corpus."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from clusterank import (BUNDLED_N, DEFAULT_K, DEFAULT_MODEL, DEFAULT_SEED, PROFILES_RANGE, SEED_RANGE, ClusterankError,
                        is_database_url, printable)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Find candidate profiles for a job description; measure which embedding model to use.")
cache_app = typer.Typer(help="Inspect or clear the embedding cache.", no_args_is_help=True)
data_app = typer.Typer(help="The bundled synthetic profile set.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
app.add_typer(data_app, name="data")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

ModelOpt = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Embedding model id (see `clusterank models`).")


def corpus_arg(value):
    """--corpus as given: a postgresql:// URL stays text (a Path would fold its `//`), anything else is a Path."""
    return value if value is None or is_database_url(value) else Path(value)


CorpusOpt = typer.Option(None, "--corpus", parser=corpus_arg, help="Profiles file or dataset (.jsonl/.csv/.parquet/"
                         "folder/hf:<name>), or a PostgreSQL table: postgresql://user@host/db?table=profiles "
                         "(&id=<key column>; password in PGPASSWORD); default: the bundled set.")
NOpt = typer.Option(BUNDLED_N, "--n", help="Size of the bundled profile set.", callback=PROFILES_RANGE.option("--n"))
TextColOpt = typer.Option("text", "--text-column", help="Column holding the text to embed.")
LabelColOpt = typer.Option("role", "--label-column", help="Column holding the role label.")
ClustersOpt = typer.Option(str(DEFAULT_K), "--clusters", help="k-means clusters for routing retrievers and the map, "
                           "or 'auto' (best silhouette).")
SeedOpt = typer.Option(DEFAULT_SEED, "--seed", help="k-means seed (the seed's random_state=42).",
                       callback=SEED_RANGE.option("--seed"))
QueriesOpt = typer.Option(None, "--queries", help="Labelled job descriptions (default: the bundled ones).")
QueryColOpt = typer.Option("natural_language", "--query-column", help="Text column of --queries.")
LangOpt = typer.Option("en", "--lang", help="Language of the bundled job descriptions: en, zh (Chinese), es, de, uk "
                       "(Ukrainian), or all; the profiles stay English.")
ParentOpt = typer.Option("family", "--parent-column", help="Parent label (e.g. role family): partial relevance.")
SkipOpt = typer.Option(False, "--skip-unanswerable", help="Leave out queries that no profile is relevant to "
                       "(e.g. a label that occurs in no profile) instead of stopping; says how many.")
DeviceOpt = typer.Option("auto", "--device", help="Where local transformer models run: auto (a CUDA GPU when one is "
                         "visible, else the CPU) | cpu | cuda. On a GPU: fp16, batches sized by free memory. Static "
                         "(model2vec) models always run on the CPU. See docs/gpu.md.")
BlindOpt = typer.Option("", "--blind", help="Name-blind search: personal fields left out of the embedded text, "
                        "comma-separated: names, photo, email, phone, age, address, all, or a column's name.")
RelIdsOpt = typer.Option("relevant_ids", "--relevant-ids-column", help="Queries column listing relevant corpus rows "
                         "(optional; overrides the labels of the queries that have it).")
DbOpt = typer.Option(None, "--db", help="The PostgreSQL database a pgvector retriever keeps the vectors in "
                     "(postgresql://user@host/db; password in PGPASSWORD); default: $CLUSTERANK_DB.")


def database_for(spec: str, db: Optional[str]) -> Optional[str]:
    """The database `spec`'s retriever searches, `--db` over $CLUSTERANK_DB, connected to once so a bad one is one
    line before anything is embedded; None for a retriever that keeps its vectors in this process.

    Raises:
        ClusterankError: `--db` with a retriever that needs none; no database, a bad URL, no answer, wrong
            credentials (shown without credentials).
    """
    from clusterank import pgvector_database, retriever_type

    if retriever_type(spec).needs_database:
        return pgvector_database(db)
    if db is not None:
        raise ClusterankError(f"--db is for retrievers that keep the vectors in PostgreSQL (pgvector), not {spec}")
    return None


class _LineFormatter(logging.Formatter):
    """`warning: ...` for warnings and errors, the bare message for info: one unwrapped line each."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one printable line (`printable`: no escape sequence or control character a server's text
        could carry reaches the terminal)."""
        text = printable(record.getMessage(), None)
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def setup_logging(verbose: bool) -> None:
    """Log lines on stderr: info bare, warnings as `warning: ...`; `verbose` adds debug lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("clusterank").setLevel(logging.DEBUG if verbose else logging.INFO)


def corpus_from_options(corpus: Optional[Path], n: int, text_column: str, label_column: str,
                        n_clusters: str | None = None, blind: str = "", copy: bool | None = None):
    """Load the profiles (without the personal fields `blind` names: `--blind`); with `n_clusters`, check k against
    the corpus before anything is embedded. `copy` (a file only): True opens the saved copy of the file when it is
    unchanged (`open_profiles`: what `search` starts from), False reads the file and lets a saved index keep a copy
    of it (`index build`)."""
    import clusterank  # each loader imported when used: opening a copy imports no pandas

    k = clusterank.parse_k(n_clusters) if n_clusters is not None else None
    options = {"text_column": text_column, "label_column": label_column, "blind": blind}
    table = (clusterank.bundled_profiles(n=n, blind=blind) if corpus is None else clusterank.load_profiles(
        corpus, **options) if copy is None else clusterank.open_profiles(corpus, use_copy=copy, **options))
    if isinstance(k, int):
        clusterank.check_k(k, len(table))
    return table


def queries_from_options(queries: Optional[Path], query_column: str, label_column: str, lang: str = "en"):
    """The labelled job descriptions: a file, or the bundled ones in `lang` (`--lang`; not with a file)."""
    from clusterank import bundled_queries, load_queries

    if queries is not None and lang.strip().lower() != "en":
        raise ClusterankError(f"--lang {lang} picks the bundled job descriptions; a --queries file brings its own "
                              "(give one or the other)")
    return bundled_queries(lang=lang) if queries is None else load_queries(queries, text_column=query_column,
                                                                           label_column=label_column)

