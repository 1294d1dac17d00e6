"""The `clusterank` command line: thin commands over the public Python API.

Every bad input ends as one `error: ...` line on stderr and exit status 2; Ctrl-C keeps what was
embedded so far (the next run resumes).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import click
import typer
from rich.console import Console
from rich.table import Table

from clusterank.errors import ClusterankError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Find candidate profiles for a job description; measure which embedding model to use.")
cache_app = typer.Typer(help="Inspect or clear the embedding cache.", no_args_is_help=True)
data_app = typer.Typer(help="The bundled synthetic profile set.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
app.add_typer(data_app, name="data")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

ModelOpt = typer.Option("minilm-static", "--model", "-m", help="Embedding model id (see `clusterank models`).")
CorpusOpt = typer.Option(None, "--corpus", help="Profiles file or dataset (.jsonl/.csv/.parquet/folder/hf:<name>); "
                         "default: the bundled set.")
NOpt = typer.Option(6904, "--n", help="Size of the bundled profile set.")
TextColOpt = typer.Option("text", "--text-column", help="Column holding the text to embed.")
LabelColOpt = typer.Option("role", "--label-column", help="Column holding the role label.")


class _LineFormatter(logging.Formatter):
    """`warning: ...` for warnings and errors, the bare message for info: one unwrapped line each."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("clusterank").setLevel(logging.DEBUG if verbose else logging.INFO)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="More log lines.")) -> None:
    _setup_logging(verbose)


def _corpus(corpus: Optional[Path], n: int, text_column: str, label_column: str, n_clusters: str | None = None):
    """Load the profiles; with `n_clusters`, check k against the corpus before anything is embedded."""
    from clusterank.cluster.kmeans import check_k, parse_k
    from clusterank.data.loaders import bundled_profiles, load_profiles

    k = parse_k(n_clusters) if n_clusters is not None else None
    table = bundled_profiles(n=n) if corpus is None else load_profiles(corpus, text_column=text_column,
                                                                        label_column=label_column)
    if isinstance(k, int):
        check_k(k, len(table))
    return table


@app.command()
def demo(model: str = ModelOpt, n: int = NOpt,
         k: int = typer.Option(30, "-k", help="How many profiles to show.")) -> None:
    """Search the bundled profiles for a Product Marketing Manager, the seed's showcase."""
    from clusterank.demo import run_demo

    report = run_demo(model=model, n=n, k=k, progress=True)
    out.print(f"[bold]clusterank demo[/] - {report.corpus_size:,} bundled profiles, model "
              f"[bold]{report.model}[/] ({report.dims} dims)")
    out.print(f"\n[bold]Job description[/] (target role: {report.target_role}):\n{report.query}\n")
    out.print(f"[bold]Top {len(report.hits)}[/] (similarity = (cos + 1) / 2, the seed's scale):")
    for hit in report.hits:
        style = "green" if hit.role == report.target_role else ("red" if hit.role in report.neighbours else "")
        out.print(hit.format(), style=style or None)
    out.print(f"\nP@10: {report.precision_at_10:.2f}  ({round(report.precision_at_10 * 10)} of the top 10 are "
              f"{report.target_role}s)")
    out.print(f"Product Managers in the top {len(report.hits)}: {report.product_managers}   "
              f"all confusable neighbours ({', '.join(report.neighbours)}): {report.near_misses}")
    out.print(f"Embedding took {report.embed_seconds:.1f} s ({report.newly_embedded:,} texts embedded now, "
              f"the rest from the cache); search took {report.search_ms:.2f} ms.")


KOpt = typer.Option("10", "--k", help="Number of k-means clusters, or 'auto' (best silhouette).")
SeedOpt = typer.Option(42, "--seed", help="k-means seed (the seed's random_state=42).")


@app.command()
def search(query: str = typer.Argument(..., help="The job description."), model: str = ModelOpt,
           k: int = typer.Option(10, "-k", help="How many profiles to return."),
           corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
           label_column: str = LabelColOpt,
           route: bool = typer.Option(False, "--route", help="Search only the query's nearest clusters."),
           nprobe: str = typer.Option("1", "--nprobe", help="Clusters to search when routed: a number or 'auto'."),
           margin: float = typer.Option(0.05, "--margin", help="Cosine margin of --nprobe auto."),
           n_clusters: str = KOpt,
           rerank: str = typer.Option("none", "--rerank", help="none | llm-pairwise | rescore:<model> | "
                                      "cross-encoder:<folder-or-hub-id>"),
           rerank_top: int = typer.Option(20, "--rerank-top", help="How many retrieved hits the reranker reorders."),
           llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="OpenAI-compatible API for "
                                                      "llm-pairwise (default: the bundled model on loopback)."),
           llm_model: Optional[str] = typer.Option(None, "--llm-model", help="Model name at --llm-base-url."),
           llm_api_key_env: str = typer.Option("OPENAI_API_KEY", "--llm-api-key-env",
                                               help="Environment variable holding the API key (never stored)."),
           strategy: str = typer.Option("sliding", "--pairwise", help="allpairs (Copeland) | sliding (K passes)."),
           passes: int = typer.Option(3, "--passes", help="K of the sliding window: the top K get fixed."),
           budget: int = typer.Option(60, "--llm-budget", help="Most LLM calls per query."),
           as_json: bool = typer.Option(False, "--json", help="One JSON object per hit (for piping).")) -> None:
    """Find the profiles most similar to a job description: exact or routed, optionally reranked."""
    from clusterank.index.routed import parse_nprobe
    from clusterank.pipeline import SearchPipeline

    if not query.strip():
        raise ClusterankError("the job description is empty")
    from clusterank.rerank import get_reranker

    probe = parse_nprobe(nprobe)
    table = _corpus(corpus, n, text_column, label_column, n_clusters if route else None)
    pipe = SearchPipeline(table, model, progress=not as_json)
    reranker = None if rerank == "none" else get_reranker(
        rerank, workspace=pipe.workspace, llm_base_url=llm_base_url, llm_model=llm_model,
        llm_api_key_env=llm_api_key_env, strategy=strategy, passes=passes, budget=budget)
    hits = pipe.search(query, k=k, route=route, nprobe=probe, n_clusters=n_clusters, margin=margin,
                       reranker=reranker, rerank_top=rerank_top)
    for hit in hits:
        if as_json:
            out.print(json.dumps({"rank": hit.rank, "row": hit.row, "id": hit.id, "cosine": round(hit.cosine, 6),
                                  "similarity_percent": round(hit.percent, 2), "role": hit.role,
                                  "cluster": hit.cluster, "rerank_score": hit.rerank_score,
                                  "preview": hit.preview}))
        else:
            out.print(hit.format())
    if reranker is not None:
        logging.getLogger("clusterank").info("reranked with %s: %s", reranker.name, reranker.stats.line())


@app.command()
def clusters(model: str = ModelOpt, n_clusters: str = KOpt, seed: int = SeedOpt,
             corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
             label_column: str = LabelColOpt,
             evaluate: bool = typer.Option(False, "--eval", help="Measure what routing costs on labelled queries."),
             queries: Optional[Path] = typer.Option(None, "--queries", help="Labelled job descriptions for --eval "
                                                    "(default: the bundled ones)."),
             query_column: str = typer.Option("natural_language", "--query-column",
                                              help="Text column of --queries."),
             eval_k: int = typer.Option(10, "--eval-k", help="Cut-off of the --eval metrics."),
             margin: float = typer.Option(0.05, "--margin", help="Cosine margin of nprobe auto.")) -> None:
    """Fit k-means (stored beside the embeddings) and print one line per cluster; --eval measures routing."""
    from clusterank.cluster.describe import describe_clusters
    from clusterank.pipeline import SearchPipeline

    pipe = SearchPipeline(_corpus(corpus, n, text_column, label_column, n_clusters), model, progress=True)
    cm = pipe.clusters(n_clusters, seed)
    if pipe.k_scores:
        out.print("silhouette (cosine) by k: " + ", ".join(f"k={k}: {v:.4f}" for k, v in pipe.k_scores.items()))
        out.print(f"chosen k = {cm.k}")
    out.print(f"{cm.k} clusters of {len(pipe.corpus):,} profiles ({pipe.embedder.name}, seed {seed}):")
    for summary in describe_clusters(cm, pipe.corpus):
        out.print(summary.line())
    if evaluate:
        from clusterank.data.loaders import bundled_queries, load_queries
        from clusterank.data.roles import neighbour_map
        from clusterank.evaluate.routing import routing_cost

        if pipe.corpus.labels is None:
            raise ClusterankError(f"{pipe.corpus.source}: --eval needs a label column ({label_column!r} or Headline)")
        qs = (bundled_queries() if queries is None else
              load_queries(queries, text_column=query_column, label_column=label_column))
        if qs.labels is None:
            raise ClusterankError(f"{qs.source}: --eval needs the queries' label column {label_column!r}")
        report = routing_cost(pipe.vectors, pipe.corpus.labels, pipe.embed_queries(qs.texts), qs.labels, cm,
                              k=eval_k, neighbours=neighbour_map(), margin=margin)
        out.print(f"\nWhat routing costs ({report.n_queries} labelled queries, metrics at cut-off {eval_k}):")
        out.print(report.table())


@app.command("map")
def map_(output: Path = typer.Option(Path("map.html"), "-o", "--output", help="The HTML file to write."),
         model: str = ModelOpt, n_clusters: str = KOpt, seed: int = SeedOpt,
         query: Optional[list[str]] = typer.Option(None, "--query", "-q", help="Job description drawn as an X "
                                                   "(repeatable)."),
         method: str = typer.Option("pca", "--method", help="2-D projection: pca (the seed's) or umap."),
         png: Optional[Path] = typer.Option(None, "--png", help="Also write a static PNG of the map here."),
         corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
         label_column: str = LabelColOpt) -> None:
    """Write the interactive cluster map: a self-contained HTML file (and optionally a PNG)."""
    from clusterank.cluster.project import METHODS
    from clusterank.pipeline import SearchPipeline
    from clusterank.viz.map import build_map, write_map_html, write_map_png

    if method.lower() not in METHODS:
        raise ClusterankError(f"unknown projection {method!r}; use one of: {', '.join(METHODS)}")
    pipe = SearchPipeline(_corpus(corpus, n, text_column, label_column, n_clusters), model, progress=True)
    data = build_map(pipe, n_clusters=n_clusters, seed=seed, queries=query or None, method=method)
    write_map_html(data, output)
    out.print(f"wrote {output} ({len(data.xy):,} points, {len(data.cluster_names)} clusters)")
    if png:
        write_map_png(data, png)
        out.print(f"wrote {png}")


@app.command()
def embed(model: str = ModelOpt, corpus: Optional[Path] = CorpusOpt, n: int = NOpt,
          text_column: str = TextColOpt, label_column: str = LabelColOpt) -> None:
    """Embed a corpus into the cache (resumable; a second run embeds nothing)."""
    from clusterank.pipeline import SearchPipeline

    pipe = SearchPipeline(_corpus(corpus, n, text_column, label_column), model, progress=True)
    out.print(f"{len(pipe.corpus):,} texts embedded with {pipe.embedder.name} ({pipe.embedder.dims} dims); "
              f"cache: {pipe.store.path}")


@app.command()
def models(fmt: str = typer.Option("table", "--format", help="table | markdown | json")) -> None:
    """The model catalog: size, dimensions, token limit, licence, price, and whether it runs offline."""
    from clusterank.cost import api_price
    from clusterank.embed.catalog import CATALOG

    cols = ["id", "provider", "params_m", "dims", "max_tokens", "licence", "open_weights", "backend",
            "price_per_1m_tokens", "price_date"]
    rows = [{**m.as_row(), **dict(zip(cols[-2:], api_price(m.id) or (None, None)))} for m in CATALOG.values()]
    if fmt == "json":
        out.print(json.dumps(rows, indent=1))
        return
    cell = lambda v: "" if v is None else str(v)  # noqa: E731
    if fmt == "markdown":
        out.print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for r in rows:
            out.print("| " + " | ".join(cell(r[c]) for c in cols) + " |")
        return
    if fmt != "table":
        raise ClusterankError(f"--format must be table, markdown or json, got {fmt!r}")
    table = Table(*cols)
    for r in rows:
        table.add_row(*(cell(r[c]) for c in cols))
    out.print(table)


@app.command()
def compare(models: Optional[str] = typer.Option(None, "--models", help="Comma-separated model ids; "
                                                 "precomputed:<name> uses an embeddings_<name> column; 'all' adds "
                                                 "the slow offline models. Default: the fast offline models."),
            corpus: Optional[Path] = CorpusOpt, queries: Optional[Path] = typer.Option(
                None, "--queries", help="Labelled job descriptions (default: the bundled ones)."),
            n: int = NOpt, text_column: str = TextColOpt,
            query_column: str = typer.Option("natural_language", "--query-column", help="Text column of --queries."),
            label_column: str = LabelColOpt,
            parent_column: str = typer.Option("family", "--parent-column", help="Parent label: partial relevance."),
            relevant_ids_column: str = typer.Option("relevant_ids", "--relevant-ids-column",
                                                    help="Queries column listing relevant corpus rows (optional)."),
            n_clusters: int = typer.Option(10, "--k", help="k-means clusters for the routed pipelines."),
            margin: float = typer.Option(0.05, "--margin", help="Cosine margin of routed auto."),
            out_dir: Path = typer.Option(Path("report"), "--out", "-o", help="Folder for report.md/.html and CSV."),
            max_cost: Optional[float] = typer.Option(None, "--max-cost-per-1m", help="Budget: $ per 1M texts."),
            max_latency: Optional[float] = typer.Option(None, "--max-latency-ms", help="Budget: ms per query."),
            maps: bool = typer.Option(True, "--maps/--no-maps", help="Cluster map of each model in the report."),
            rerank: str = typer.Option("none", "--rerank", help="Adds the pipeline 'exact + <reranker>' "
                                       "(none | llm-pairwise | rescore:<model> | cross-encoder:<path>)."),
            rerank_top: int = typer.Option(20, "--rerank-top", help="How many hits the reranker reorders.")
            ) -> None:
    """Compare embedding models x pipelines on labelled queries; write a report with a recommendation."""
    from clusterank.data.loaders import bundled_queries, load_queries
    from clusterank.data.roles import neighbour_map
    from clusterank.evaluate.compare import SLOW_MODELS, compare_models, default_models
    from clusterank.evaluate.report import markdown_tables, recommend, write_report

    names = default_models() if not models else [m.strip() for m in models.split(",") if m.strip()]
    if "all" in names:
        names = [m for m in names if m != "all"] + [m for m in (*default_models(), *SLOW_MODELS) if m not in names]
    table = _corpus(corpus, n, text_column, label_column)
    qs = bundled_queries() if queries is None else load_queries(queries, text_column=query_column,
                                                               label_column=label_column)
    parents = None
    if table.frame is not None and qs.frame is not None and parent_column in table.frame.columns \
            and parent_column in qs.frame.columns:
        parents = ([str(v) for v in table.frame[parent_column]], [str(v) for v in qs.frame[parent_column]])
    ids = _relevant_ids(qs, relevant_ids_column)
    showcase = None
    if queries is None:
        from clusterank.data.synthetic import DEMO_QUERY

        showcase = DEMO_QUERY
    from clusterank.rerank import get_reranker

    reranker = None if rerank == "none" else get_reranker(rerank)
    cmp = compare_models(names, table, qs, n_clusters=n_clusters, margin=margin, parent_labels=parents,
                         relevant_ids=ids, neighbours=neighbour_map(), showcase_query=showcase, with_maps=maps,
                         progress=True, reranker=reranker, rerank_top=rerank_top)
    out.print(markdown_tables(cmp))
    text = recommend(cmp, max_cost_per_1m=max_cost, max_latency_ms=max_latency)
    out.print("\n" + text.replace("**", ""))
    paths = write_report(cmp, out_dir, text)
    out.print(f"\nwrote {paths['md']}, {paths['html']}, {paths['csv']}")


@app.command()
def cost(texts: str = typer.Option("10k,100k,1M,2.5M", "--texts", help="Corpus sizes to price (10k, 2.5M, ...)."),
         tokens_per_text: Optional[float] = typer.Option(None, "--tokens-per-text",
                                                         help="Tokens per text for every model (default 400)."),
         corpus: Optional[Path] = typer.Option(None, "--corpus", help="Your texts: tokens are counted per model "
                                               "with its own tokenizer instead of assuming --tokens-per-text."),
         text_column: str = TextColOpt,
         models: Optional[str] = typer.Option(None, "--models", help="Comma-separated: API model ids, self-hosted "
                                              "options or their models, offline models. Default: all."),
         prices: list[Path] = typer.Option([], "--prices", help="Your price file (same shape as the built-in "
                                           "prices.toml); repeat to layer several."),
         settings: list[str] = typer.Option([], "--set", help="Override one figure: "
                                            "api.text-embedding-3-large.tpm=5000000, gpu.L4.hourly_usd=0.8, "
                                            "selfhosted.335M-on-L4.texts_per_s=120, machine.hourly_usd=0."),
         gpus: Optional[int] = typer.Option(None, "--gpus", help="GPUs per self-hosted option (default: the table's)."),
         batch: bool = typer.Option(True, "--batch/--no-batch", help="Add each API's discounted batch option."),
         machine: bool = typer.Option(True, "--machine/--no-machine",
                                      help="Add rows for the offline models measured on this machine."),
         remeasure: bool = typer.Option(False, "--remeasure", help="Time this machine again, ignoring the cache."),
         output: Path = typer.Option(Path("cost.html"), "-o", "--output", help="The HTML page to write."),
         png: bool = typer.Option(True, "--png/--no-png", help="Also write the charts as a PNG beside it."),
         as_json: bool = typer.Option(False, "--json", help="Print every estimate as JSON instead of tables."),
         ) -> None:
    """What embedding 10k to 2.5M texts costs and how long it takes: API against self-hosted GPU and this machine."""
    from clusterank.cost import load_prices, measure_machine, parse_counts, plan_costs
    from clusterank.cost.estimate import check_count
    from clusterank.cost.plan import DEFAULT_TOKENS_PER_TEXT
    from clusterank.embed import available_models
    from clusterank.viz.cost import write_cost_html, write_cost_png

    if corpus is not None and tokens_per_text is not None:
        raise ClusterankError("give --tokens-per-text or --corpus, not both (--corpus counts the tokens)")
    sizes = parse_counts(texts)
    if tokens_per_text is None:
        tokens_per_text = DEFAULT_TOKENS_PER_TEXT
    check_count(tokens_per_text, "--tokens-per-text")  # before this machine is timed, not after
    table = load_prices(prices, settings)
    if gpus is not None:
        table = table.with_gpus(gpus)
    chosen = None if not models else [m.strip() for m in models.split(",") if m.strip()]
    user_texts = None
    if corpus is not None:
        from clusterank.data.loaders import load_profiles

        user_texts = list(load_profiles(corpus, text_column=text_column).texts)
    throughputs = {}
    if machine:
        offline = [m for m in available_models() if chosen is None or m in chosen]
        if offline:
            from clusterank.data.loaders import bundled_profiles

            # your texts as they are; else bundled profiles joined and cut to --tokens-per-text
            sample = user_texts if user_texts is not None else bundled_profiles().texts
            length = None if user_texts is not None else int(tokens_per_text)
            throughputs = measure_machine(offline, sample, tokens_per_text=length, remeasure=remeasure,
                                          progress=True)
    plan = plan_costs(table, sizes, tokens_per_text=tokens_per_text, texts=user_texts,
                      corpus_name=str(corpus) if corpus else "", models=chosen, machine=throughputs, batch=batch)
    if as_json:
        out.print(json.dumps(plan.rows(), indent=1))
    else:
        out.print(plan.markdown())
    html_path = write_cost_html(plan, output)
    written = [str(html_path)]
    if png:
        written.append(str(write_cost_png(plan, output.with_suffix(".png"))))
    (err if as_json else out).print(f"\nwrote {', '.join(written)}")


def _relevant_ids(queries, column: str):
    """Per-query lists of relevant corpus rows from `column`, or None when the column is absent."""
    if queries.frame is None or column not in queries.frame.columns:
        return None
    lists = []
    for i, cell in enumerate(queries.frame[column]):
        if isinstance(cell, str):
            try:
                cell = json.loads(cell) if cell.strip() else []
            except json.JSONDecodeError:
                raise ClusterankError(f"{queries.source}, column {column!r}, row {i}: not a list of row ids") from None
        try:
            lists.append([int(x) for x in (cell if cell is not None else [])])
        except (TypeError, ValueError):
            raise ClusterankError(f"{queries.source}, column {column!r}, row {i}: not a list of row ids") from None
    return lists


@data_app.command("synth")
def data_synth(output: Path = typer.Option(..., "-o", "--output", help="Profiles file (.parquet/.csv/.jsonl)."),
               n: int = NOpt, seed: int = typer.Option(42, "--seed"),
               queries: Optional[Path] = typer.Option(None, "--queries", help="Also write the job descriptions here.")
               ) -> None:
    """Write the bundled synthetic profiles (and job descriptions) to files."""
    from clusterank.data.synthetic import generate_profiles, generate_queries
    from clusterank.data.writers import write_table

    write_table(generate_profiles(n=n, seed=seed), output)
    out.print(f"wrote {n:,} profiles to {output}")
    if queries:
        frame = generate_queries(seed=seed)
        write_table(frame, queries)
        out.print(f"wrote {len(frame)} job descriptions to {queries}")


@cache_app.command("info")
def cache_info() -> None:
    """Where the cache is and how many vectors it holds per model."""
    from clusterank.embed.store import EmbeddingStore
    from clusterank.workspace import Workspace

    store = EmbeddingStore(Workspace.default().store_path)
    out.print(f"cache: {store.path}")
    for model_id, count in store.models().items():
        out.print(f"  {model_id}: {count:,} vectors")


@cache_app.command("clear")
def cache_clear(model: str = typer.Option(..., "--model", "-m", help="Model whose vectors to delete.")) -> None:
    """Delete the cached vectors of one model."""
    from clusterank.embed.store import EmbeddingStore
    from clusterank.workspace import Workspace

    out.print(f"deleted {EmbeddingStore(Workspace.default().store_path).clear(model):,} vectors of {model}")


_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, 130 when interrupted)."""
    try:
        result = app(args=argv, prog_name="clusterank", standalone_mode=False)
        if result == _INTERRUPTED:  # typer turns KeyboardInterrupt into Exit(130)
            raise KeyboardInterrupt
        return result if isinstance(result, int) else 0
    except ClusterankError as exc:
        sys.stderr.write(f"error: {exc}\n")  # one line, never wrapped
        return ClusterankError.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        sys.stderr.write("\ninterrupted: what was embedded so far is cached; run the same command again to resume\n")
        return _INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
