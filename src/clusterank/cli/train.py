"""`clusterank finetune`: fine-tune a sentence-transformers model on the corpus' labels, saved as `st:<name>`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from clusterank.cli.common import (CorpusOpt, DeviceOpt, LabelColOpt, NOpt, QueryColOpt, TextColOpt, app,
                                   corpus_from_options, out)


def _at_least(low: int | float, flag: str):
    def check(value):
        if value is not None and value < low:
            raise typer.BadParameter(f"{flag} must be at least {low}, not {value}")
        return value
    return check


def _dims(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"--matryoshka {text!r}: give dimensions as whole numbers, e.g. 384,256,128,64")
    return dims


@app.command()
def finetune(model: str = typer.Option("all-MiniLM-L6-v2", "--model", "-m", help="The sentence-transformers model "
                                       "to start from: all-MiniLM-L6-v2, all-mpnet-base-v2 or st:<folder>."),
             corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
             label_column: str = LabelColOpt,
             name: Optional[str] = typer.Option(None, "--name", help="Name of the new model in the workspace; every "
                                                "command then names it st:<name>. Default: <model>-ft."),
             train_queries: Optional[Path] = typer.Option(
                 None, "--train-queries", "--queries", help="Labelled job descriptions to train on as well; the "
                 "model then refuses to be scored on them (compare stops with an error)."),
             query_column: str = QueryColOpt,
             steps: Optional[int] = typer.Option(None, "--steps", help="Optimiser steps. Default: --epochs passes; on "
                                                 "the CPU at most ~10 minutes' worth for all-MiniLM-L6-v2 on 2 cores "
                                                 "(120 steps at 128 tokens, more for short texts).",
                                                 callback=_at_least(1, "--steps")),
             epochs: int = typer.Option(3, "--epochs", help="Passes over the labelled rows (without --steps).",
                                        callback=_at_least(1, "--epochs")),
             batch_size: int = typer.Option(32, "--batch-size", help="Pairs per step (at most one per label).",
                                            callback=_at_least(2, "--batch-size")),
             learning_rate: float = typer.Option(2e-5, "--learning-rate", callback=_at_least(1e-8, "--learning-rate"),
                                                 help="AdamW's peak rate (10% warm-up, then linear decay)."),
             max_tokens: int = typer.Option(128, "--max-tokens", help="Tokens a text is cut to while training.",
                                            callback=_at_least(8, "--max-tokens")),
             hard_negatives: bool = typer.Option(True, "--hard-negatives/--no-hard-negatives",
                                                 help="Add a row of a confusable label to each pair."),
             matryoshka: str = typer.Option("", "--matryoshka", help="Also train shorter vectors: dimensions, e.g. "
                                            "384,256,128,64 (MatryoshkaLoss)."),
             seed: int = typer.Option(0, "--seed", help="Fixes the batches and the initialisation of the run.",
                                      callback=_at_least(0, "--seed")),
             checkpoint_every: int = typer.Option(20, "--checkpoint-every", help="Steps between checkpoints (also "
                                                  "written on Ctrl-C).", callback=_at_least(1, "--checkpoint-every")),
             device: str = DeviceOpt,
             overwrite: bool = typer.Option(False, "--overwrite", help="Replace a model of that name trained "
                                            "otherwise, or discard a checkpoint of another run.")) -> None:
    """Fine-tune a sentence-transformers model on the corpus' labels (MultipleNegativesRankingLoss, hard negatives
    from confusable labels); resumable after Ctrl-C; saved in the workspace as st:<name>.

    Profiles sharing a label become positives for each other. Compare the result beside its base:
    `clusterank compare --models all-MiniLM-L6-v2,st:<name>`.
    """
    from clusterank import FinetuneSettings, finetune as run_finetune, load_queries, safe_name

    settings = FinetuneSettings(steps=steps, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                max_tokens=max_tokens, hard_negatives=hard_negatives, matryoshka=_dims(matryoshka),
                                seed=seed, checkpoint_every=checkpoint_every)
    table = corpus_from_options(corpus, n, text_column, label_column)
    queries = None if train_queries is None else load_queries(train_queries, text_column=query_column,
                                                              label_column=label_column)
    name = name or f"{safe_name(model.removeprefix('st:'))}-ft"
    result = run_finetune(model, table, name, queries=queries, settings=settings, device=device, progress=True,
                          overwrite=overwrite)
    card = result.card
    losses = card.get("losses") or [0.0]
    summary = Table("model", "base", "labelled rows", "labels", "steps", "seconds", "loss (first 10 → last 10)",
                    title="fine-tuned" if result.trained else "already fine-tuned (nothing to do)")
    summary.add_row(result.name, card["base"], f"{card['labelled_rows']:,}", str(card["labels"]), str(card["steps"]),
                    f"{card.get('seconds', 0):.0f}",
                    f"{sum(losses[:10]) / len(losses[:10]):.3f} → {sum(losses[-10:]) / len(losses[-10:]):.3f}")
    out.print(summary)
    out.print(f"saved in {result.path}; compare it with its base: "
              f"clusterank compare --models {card['base']},{result.name}")
