"""Economics: what embedding N texts costs and how long it takes; with --judge, what LLM judging costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from clusterank.cli.common import TextColOpt, app, corpus_arg, err, out
from clusterank import DEFAULT_TOKENS_PER_TEXT


@app.command()
def cost(texts: str = typer.Option("10k,100k,1M,2.5M", "--texts", help="Corpus sizes to price (10k, 2.5M, ...)."),
         tokens_per_text: Optional[float] = typer.Option(None, "--tokens-per-text",
                                                         help="Tokens per text for every model "
                                                         f"(default {DEFAULT_TOKENS_PER_TEXT})."),
         corpus: Optional[Path] = typer.Option(None, "--corpus", parser=corpus_arg, help="Your texts (a file, "
                                               "or a postgresql:// table): tokens are counted per model "
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
         judge: Optional[str] = typer.Option(None, "--judge", help="Price LLM judging (`compare --judge`) instead of "
                                             "embedding: comma-separated judges: gpt-4o-mini, gpt-4.1-mini, "
                                             "claude-haiku-4-5, ... (the [judge] table), a [judge-gpu] option or a "
                                             "model it serves, local (the bundled judge: this machine and a GPU), "
                                             "llm:<model>@<url>, or all."),
         queries: Optional[str] = typer.Option(None, "--queries", help="With --judge: how many queries (default 80, "
                                               "the bundled set's), or a queries file whose adverts are counted."),
         pool_depth: int = typer.Option(10, "--pool-depth", help="With --judge: each system's top-k pooled."),
         systems: int = typer.Option(5, "--systems", help="With --judge: model x pipeline systems pooled (e.g. 5 "
                                     "models x 1 pipeline)."),
         overlap: float = typer.Option(0.5, "--overlap", help="With --judge: share of a further system's top-k "
                                       "already pooled (0: none, 1: all systems agree)."),
         pairs_per_query: Optional[float] = typer.Option(None, "--pairs-per-query", help="With --judge: a measured "
                                                         "figure instead of the pool assumption (a judged report's "
                                                         "graded pairs / queries)."),
         concurrency: int = typer.Option(4, "--concurrency", help="With --judge: API requests in flight."),
         ) -> None:
    """What embedding 10k to 2.5M texts costs and how long it takes: API against self-hosted GPU and this machine.
    With --judge: what grading a judged comparison's pooled pairs costs and takes per judge."""
    from clusterank import ClusterankError, parse_counts, run_cost, write_cost_html, write_cost_png

    if judge is not None:
        return _judge_cost(judge, queries, corpus, text_column, pool_depth, systems, overlap, pairs_per_query,
                           concurrency, prices, settings, batch, machine, remeasure, as_json)
    if any(v is not None for v in (queries, pairs_per_query)):
        raise ClusterankError("--queries and --pairs-per-query price LLM judging; give them with --judge")

    if output.is_dir():  # say so before anything is measured, not as a traceback at the end
        raise ClusterankError(f"-o {output}: is a folder; give the HTML file to write, e.g. {output / 'cost.html'}")
    chosen = [m.strip() for m in models.split(",") if m.strip()] if models else None
    plan = run_cost(parse_counts(texts), tokens_per_text=tokens_per_text, corpus=corpus, text_column=text_column,
                    models=chosen or None, price_files=prices, settings=settings, gpus=gpus, batch=batch,
                    machine=machine, remeasure=remeasure, progress=True)
    out.print(json.dumps(plan.rows(), indent=1) if as_json else plan.markdown())
    from clusterank import Workspace

    written = [str(write_cost_html(plan, output))]
    Workspace.default().keep_latest_report("cost", output)  # what `clusterank serve` shows
    if png:
        written.append(str(write_cost_png(plan, output.with_suffix(".png"))))
    (err if as_json else out).print(f"\nwrote {', '.join(written)}")


def _judge_cost(judge: str, queries: Optional[str], corpus, text_column: str, pool_depth: int, systems: int,
                overlap: float, pairs_per_query: Optional[float], concurrency: int, prices: list[Path],
                settings: list[str], batch: bool, machine: bool, remeasure: bool, as_json: bool) -> None:
    """`cost --judge`: the judging table (or JSON); the adverts from a --queries file, the profiles from --corpus."""
    from clusterank import ClusterankError, load_profiles, load_queries, parse_counts, run_judge_cost

    n_queries, query_texts, named = None, None, []
    if queries is not None:
        if Path(queries).is_file():
            query_texts = list(load_queries(queries).texts)
            named.append(f"the adverts of {queries}")
        elif queries.strip()[:1].isdigit():
            try:
                counts = parse_counts(queries)
            except ClusterankError as e:
                raise ClusterankError(f"--queries: {e}") from None
            if len(counts) != 1:
                raise ClusterankError(f"--queries {queries!r}: give one count")
            n_queries = counts[0]
        else:
            raise ClusterankError(f"--queries {queries!r}: not a count (80, 1k) and no such file")
    profile_texts = None
    if corpus is not None:
        loaded = load_profiles(corpus, text_column=text_column)
        profile_texts = list(loaded.texts)
        named.append(f"the profiles of {loaded.source}")
    plan = run_judge_cost(judge.split(","), queries=n_queries, query_texts=query_texts, profile_texts=profile_texts,
                          corpus_size=None if profile_texts is None else len(profile_texts), systems=systems,
                          pool_depth=pool_depth, overlap=overlap, pairs_per_query_=pairs_per_query,
                          concurrency=concurrency, price_files=prices, settings=settings, batch=batch,
                          machine=machine, remeasure=remeasure, texts_name=" and ".join(named), progress=True)
    out.print(json.dumps(plan.rows(), indent=1) if as_json else plan.markdown(), markup=False)
