"""Economics: what embedding N texts costs and how long it takes."""

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
         ) -> None:
    """What embedding 10k to 2.5M texts costs and how long it takes: API against self-hosted GPU and this machine."""
    from clusterank import ClusterankError, parse_counts, run_cost, write_cost_html, write_cost_png

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
