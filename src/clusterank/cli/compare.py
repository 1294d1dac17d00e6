"""Choosing a model: the model catalog and the comparison of models x pipelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from clusterank.cli.judged import (JudgeChecksOpt, JudgeOpt, MaxJudgmentsOpt, PoolDepthOpt, RagasDepthOpt, RagasOpt,
                                   judged_runner)
from clusterank.cli.common import (BlindOpt, ClustersOpt, CorpusOpt, DbOpt, DeviceOpt, LabelColOpt, LangOpt, ModelOpt,
                                   NOpt, QueriesOpt, QueryColOpt, ParentOpt, RelIdsOpt, SkipOpt, TextColOpt, app,
                                   corpus_from_options, database_for, out, queries_from_options)
from clusterank import COMPARE_PIPELINES, DEFAULT_K, LABELLED_PIPELINES, SEED_RANGE, ClusterankError, Workspace


def _print_rows(rows: list[dict], cols: list[str], fmt: str) -> None:
    """Print rows as a rich table, a markdown table or JSON (`--format`).

    Raises:
        ClusterankError: another format.
    """
    if fmt not in ("table", "markdown", "json"):
        raise ClusterankError(f"--format must be table, markdown or json, got {fmt!r}")
    if fmt == "json":
        out.print(json.dumps(rows, indent=1))
        return
    from rich.table import Table

    from clusterank import markdown_table

    cells = [["" if r.get(c) is None else str(r.get(c)) for c in cols] for r in rows]
    if fmt == "markdown":
        out.print(markdown_table(cols, cells))
        return
    table = Table(*cols)
    for row in cells:
        table.add_row(*row)
    out.print(table)


@app.command()
def models(fmt: str = typer.Option("table", "--format", help="table | markdown | json")) -> None:
    """The models: the registered backends (and whether they can run here) and the catalog's facts and prices."""
    from clusterank import CATALOG, EMBEDDERS, api_price, finetuned_models

    cols = ["id", "provider", "params_m", "dims", "max_tokens", "licence", "open_weights", "backend", "status",
            "price_per_1m_tokens", "price_date"]
    rows = [{**m.as_row(), "status": EMBEDDERS[m.id].status() if m.id in EMBEDDERS else "facts only",
             **dict(zip(cols[-2:], api_price(m.id) or (None, None)))} for m in CATALOG.values()]
    rows += [{"id": f"{b.name}<...>", "provider": b.summary, "backend": b.name.rstrip(":"), "status": b.status()}
             for b in EMBEDDERS.values() if b.is_prefix]
    rows += [{"id": m.name, "provider": f"fine-tuned from {m.card.get('base')} by clusterank finetune",
              "dims": m.card.get("dims"), "max_tokens": m.card.get("max_tokens"), "backend": "st",
              "status": EMBEDDERS["st:"].status()} for m in finetuned_models()]
    _print_rows(rows, cols, fmt)


@app.command()
def backends(fmt: str = typer.Option("table", "--format", help="table | markdown | json")) -> None:
    """Every registered embedder, retriever and reranker: its spec with parameters, what it does, what it declares,
    and whether it can run here (with the install command when not)."""
    from clusterank import EMBEDDERS, RERANKERS, RETRIEVERS

    cols = ["box", "spec", "summary", "declares", "example", "status"]
    rows = [{"box": box, "spec": b.usage(), "summary": b.summary, "declares": ", ".join(b.declares()),
             "example": b.examples[0] if b.examples else "", "status": b.status()}
            for box, registry in (("embedder", EMBEDDERS), ("retriever", RETRIEVERS), ("reranker", RERANKERS))
            for b in registry.values()]
    _print_rows(rows, cols, fmt)


@app.command()
def compare(models: Optional[str] = typer.Option(None, "--models", help="Comma-separated model ids; "
                                                 "precomputed:<name> uses an embeddings_<name> column; 'all' adds "
                                                 "the slow offline models. Default: the fast offline models."),
            pipelines: Optional[str] = typer.Option(
                None, "--pipelines", help="Comma-separated pipelines: a retriever spec, optionally +<reranker> "
                "(exact+rescore:all-MiniLM-L6-v2). Default: exact, routed:nprobe=1, routed:nprobe=auto, and role "
                "(alpha by nested cross-validation) when the corpus has labels."),
            corpus: Optional[Path] = CorpusOpt, queries: Optional[Path] = QueriesOpt, lang: str = LangOpt,
            n: int = NOpt, text_column: str = TextColOpt, query_column: str = QueryColOpt,
            label_column: str = LabelColOpt,
            parent_column: str = ParentOpt,
            relevant_ids_column: str = RelIdsOpt, skip_unanswerable: bool = SkipOpt,
            n_clusters: int = typer.Option(DEFAULT_K, "--clusters", help="k-means clusters for routing retrievers."),
            out_dir: Path = typer.Option(Path("report"), "--out", "-o", help="Folder for report.md/.html and CSV."),
            max_cost: Optional[float] = typer.Option(None, "--max-cost-per-1m", help="Budget: $ per 1M texts."),
            max_latency: Optional[float] = typer.Option(None, "--max-latency-ms", help="Budget: ms per query."),
            maps: bool = typer.Option(True, "--maps/--no-maps", help="Cluster map of each model in the report."),
            rerank: str = typer.Option("none", "--rerank", help="Alias: adds the pipeline exact+<reranker> "
                                       "(llm-pairwise | rescore:<model> | cross-encoder:<path>)."),
            rerank_top: int = typer.Option(20, "--rerank-top", help="How many hits each reranker reorders."),
            hide_labels: float = typer.Option(0.2, "--hide-labels", help="Leave-labels-out share for pipelines "
                                              "that learn from labels (role, prior, adapter); 0: no such check."),
            train_queries: Optional[Path] = typer.Option(None, "--train-queries", help="Labelled job descriptions "
                                                         "that prior and adapter train on beside the corpus rows; "
                                                         "none may be a scored query (checked)."),
            device: str = DeviceOpt, blind: str = BlindOpt,
            audit_group: Optional[str] = typer.Option(None, "--audit-group", help="Add a bias audit by this corpus "
                                                      "column (a,b: intersections) to the report."),
            judge: Optional[str] = JudgeOpt, pool_depth: int = PoolDepthOpt,
            max_judgments: Optional[int] = MaxJudgmentsOpt, judge_checks: int = JudgeChecksOpt,
            ragas: bool = RagasOpt, ragas_depth: int = RagasDepthOpt, db: Optional[str] = DbOpt) -> None:
    """Compare embedding models x pipelines on labelled queries, or with --judge on LLM-judged relevance (no labels
    needed); write a report with a recommendation."""
    from clusterank import (check_device, check_spec, compare_models, expand_models, get_reranker, markdown_tables,
                            load_queries, neighbour_map, parent_labels, parse_pipelines, recommend, relevant_ids,
                            retriever_type, split_specs, using_device, write_report)

    check_device(device)  # cuda without a GPU fails before anything loads
    if ragas and judge is None:
        raise ClusterankError("--ragas is a second opinion beside --judge: give --judge local or llm:<model>@<url>")
    if not 0 <= hide_labels < 1:
        raise ClusterankError(f"--hide-labels {hide_labels:g}: give a share from 0 (off) to below 1, e.g. 0.2")
    names = expand_models(split_specs(models) if models else None)  # `api:m@url,timeout=300` keeps its options
    _check_models(names)  # an unknown name fails in one line before anything loads, not after the first model ran
    if out_dir.exists() and not out_dir.is_dir():
        raise ClusterankError(f"--out {out_dir}: is a file; the report is a folder (report.md, .html, .csv)")
    table = corpus_from_options(corpus, n, text_column, label_column, str(n_clusters))
    blind_table = corpus_from_options(corpus, n, text_column, label_column, None, blind) if blind.strip() else None
    default = COMPARE_PIPELINES + (LABELLED_PIPELINES if table.labels is not None else ())
    specs = (pipelines or ",".join(default)) + (f",exact+{rerank}" if rerank != "none" else "")
    with using_device(device):  # every local model, a rescore: reranker's too, runs there
        chosen = parse_pipelines(specs, get_reranker, rerank_top)
        for pipeline in chosen:  # nlist, k and the like against the corpus' rows, before anything is embedded
            check_spec(pipeline.retriever, len(table))
        in_db = [p.retriever for p in chosen if retriever_type(p.retriever).needs_database]
        database = database_for((in_db or [chosen[0].retriever])[0], db)  # a bad one: one line, nothing embedded
        qs = queries_from_options(queries, query_column, label_column, lang)
        showcase = None
        if queries is None:
            from clusterank import demo_query

            showcase = demo_query("en" if lang.strip().lower() == "all" else lang)
        run = compare_models if judge is None else judged_runner(judge, pool_depth, max_judgments, judge_checks, ragas,
                                                                 ragas_depth)
        cmp = run(names, table, qs, pipelines=chosen, n_clusters=n_clusters,
                             parent_labels=parent_labels(table, qs, parent_column),
                             relevant_ids=relevant_ids(qs, relevant_ids_column),
                             neighbours=neighbour_map() if queries is None else None,
                             showcase_query=showcase, with_maps=maps, progress=True,
                             skip_unanswerable=skip_unanswerable, hide_labels=hide_labels,
                             train_queries=None if train_queries is None else
                             load_queries(train_queries, text_column=query_column, label_column=label_column),
                             audit_groups=audit_group, blind_corpus=blind_table,  # --blind: blind beside plain
                             database=database)
    out.print(markdown_tables(cmp))
    for run in cmp.runs:
        for result in run.holdout:
            out.print(f"leave-labels-out, {run.model}: {result.line()}")
    text = recommend(cmp, max_cost_per_1m=max_cost, max_latency_ms=max_latency)
    out.print("\n" + text.replace("**", ""))
    paths = write_report(cmp, out_dir, text)
    Workspace.default().keep_latest_report("compare", paths["html"])  # what `clusterank serve` shows
    out.print(f"\nwrote {paths['md']}, {paths['html']}, {paths['csv']}")


def _check_models(names: list[str]) -> None:
    """Every model name has a backend whose packages are installed (what get_embedder checks first)."""
    from clusterank import find_backend, install_hint

    for name in names:
        backend, _ = find_backend(name)
        missing = backend.missing()
        if missing:
            raise ClusterankError(f"model {name!r} needs the Python package {missing[0]!r}; "
                                  f"{install_hint(backend.extra)}")


@app.command()
def tune(model: str = ModelOpt, retriever: str = typer.Option("role", "--retriever", "-r",
                                                              help="What to tune: role or soft (with any other "
                                                                   "parameters, e.g. role:min_size=10)."),
         corpus: Optional[Path] = CorpusOpt, queries: Optional[Path] = QueriesOpt, lang: str = LangOpt, n: int = NOpt,
         text_column: str = TextColOpt, query_column: str = QueryColOpt, label_column: str = LabelColOpt,
         relevant_ids_column: str = RelIdsOpt, skip_unanswerable: bool = SkipOpt, n_clusters: str = ClustersOpt,
         parent_column: str = ParentOpt,
         folds: int = typer.Option(5, "--folds", help="k of the k-fold cross-validation."),
         seed: int = typer.Option(0, "--seed", help="Seed of the split into folds (0 to 2**32-1).",
                                  callback=SEED_RANGE.option("--seed")), device: str = DeviceOpt) -> None:
    """Choose alpha of a role-aware or soft retriever by k-fold cross-validation; store it for alpha=auto."""
    from clusterank import (SearchPipeline, build_relevance, check_tunable, fold_of, parent_labels, parse_k,
                            relevant_ids, save_tuning, tune as run_tune, with_alpha)

    spec = check_tunable(retriever)
    table = corpus_from_options(corpus, n, text_column, label_column, n_clusters)
    qs = queries_from_options(queries, query_column, label_column, lang)
    parents = parent_labels(table, qs, parent_column) or (None, None)
    rel = build_relevance(len(table), table.labels, qs.labels, *parents, relevant_ids(qs, relevant_ids_column),
                          source=qs.source, drop_unscorable=skip_unanswerable)
    fold_of(rel.n_queries, folds)  # too few queries for the folds: say so before anything is embedded
    pipe = SearchPipeline(table, model, progress=True, n_clusters=parse_k(n_clusters), device=device)
    pipe.retriever(with_alpha(spec, 0.0))  # labels unfit for groups fail here, before the grid runs
    result = run_tune(pipe, qs.texts, rel, spec, folds=folds, seed=seed)
    out.print(f"{spec} on {len(table):,} profiles, {result.n_queries} labelled queries, {pipe.embedder.name}:")
    out.print(result.table())
    out.print(f"stored in {save_tuning(pipe, result)}: `--retriever {spec.split(':')[0]}` (alpha=auto) uses it")
