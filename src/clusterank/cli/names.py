"""`clusterank names`: the counterfactual name test (swap names, re-embed, measure how far ranks move)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from clusterank.cli.common import (CorpusOpt, DeviceOpt, LabelColOpt, LangOpt, NOpt, QueriesOpt, QueryColOpt,
                                   TextColOpt, app, corpus_from_options, err, out, queries_from_options)
from clusterank import DEFAULT_MODEL, DEFAULT_RETRIEVER, SEED_RANGE, ClusterankError

names_app = typer.Typer(help="Counterfactual name test: does a profile's rank move when only its name changes?",
                        no_args_is_help=True)
app.add_typer(names_app, name="names")


@names_app.command("swap")
def swap(models: str = typer.Option(DEFAULT_MODEL, "--models", "-m", help="Comma-separated model ids."),
         kind: str = typer.Option("gender", "--swap", help="gender (female <-> male first names) | origin (last "
                                  "names of another origin) | both."),
         blind: str = typer.Option("", "--blind", help="Also run name-blind (these fields left out of the text, "
                                   "e.g. names or names,email,phone) and show it beside the plain run."),
         corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
         label_column: str = LabelColOpt, queries: Optional[Path] = QueriesOpt, query_column: str = QueryColOpt,
         lang: str = LangOpt,
         retriever: str = typer.Option(DEFAULT_RETRIEVER, "--retriever", "-r", help="Retriever both searches use."),
         depth: int = typer.Option(50, "--depth", help="Average the rank moves of the profiles in this top."),
         top: int = typer.Option(10, "--top", help="Depth of the rank-biased overlap (p=0.9)."),
         seed: int = typer.Option(0, "--seed", help="Seed of the swap's draws.", callback=SEED_RANGE.option("--seed")),
         fmt: str = typer.Option("table", "--format", help="table | markdown | json"),
         device: str = DeviceOpt) -> None:
    """Swap every profile's name to one of another group, re-embed, and report per model how far ranks move:
    mean |Δrank| in the top --depth and RBO of the top --top, with bootstrap intervals over queries."""
    from clusterank import (SWAP_KINDS, SearchPipeline, canonical_spec, check_device, check_name_fields,
                            markdown_table, name_swap, split_specs, using_device)

    check_device(device)
    if kind not in SWAP_KINDS:
        raise ClusterankError(f"--swap {kind}: use one of {', '.join(SWAP_KINDS)}")
    if fmt not in ("table", "markdown", "json"):
        raise ClusterankError(f"--format {fmt}: use table, markdown or json")
    if not 1 <= top <= depth:
        raise ClusterankError(f"--top {top} and --depth {depth}: need 1 <= top <= depth")
    spec = canonical_spec(retriever)
    names = split_specs(models)
    plain = corpus_from_options(corpus, n, text_column, label_column)
    check_name_fields(plain, kind)  # name fields absent: one line, before anything is embedded
    tables = [plain] + ([corpus_from_options(corpus, n, text_column, label_column, blind=blind)] if blind else [])
    jobs = queries_from_options(queries, query_column, label_column, lang)
    reports = []
    with using_device(device):
        for model in names:
            for table in tables:
                pipe = SearchPipeline(table, model, progress=fmt != "json", device=device)
                reports.append(name_swap(pipe, jobs, kind=kind, seed=seed, retriever=spec, depth=depth, top=top))
                err.print(f"{pipe.embedder.name}{' (blind)' if table.blind else ''}: "
                          f"mean |Δrank| {reports[-1].mean_abs_delta}", highlight=False)
    if fmt == "json":
        out.print(json.dumps([r.as_json() for r in reports]))
        return
    rows = [r.as_row() for r in reports]
    out.print(markdown_table(list(rows[0]), [list(r.values()) for r in rows]))
    if fmt == "markdown":
        return
    groups = sorted({g for r in reports for g in r.by_group})
    out.print(f"\nmean signed rank change by original name group (positive: ranked higher after the {kind} swap):")
    for r in reports:
        label = f"{r.model}{' blind' if r.blind else ''}"
        out.print(f"  {label}: " + ", ".join(f"{g} {r.by_group[g]:+.2f}" for g in groups if g in r.by_group))
