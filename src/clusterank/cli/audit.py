"""The bias audit: selection and scoring rates per group, impact ratios with intervals, skew@k and NDKL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from clusterank.cli.common import (CorpusOpt, DeviceOpt, LabelColOpt, LangOpt, NOpt, QueriesOpt, QueryColOpt,
                                   TextColOpt, app, corpus_from_options, out, queries_from_options)
from clusterank import DEFAULT_MODEL, ClusterankError

DEFAULT_GROUP = "name_gender"
"""The bundled profiles' group column (the name list each first name was drawn from)."""


@app.command()
def audit(group: str = typer.Option(DEFAULT_GROUP, "--group", help="Corpus column holding each profile's group; two "
                                    "columns (a,b) audit their intersections. name_gender on a corpus without it is "
                                    "inferred from a first-name or name column by the US Census 1990 lists (the "
                                    "census extra)."),
          groups: Optional[str] = typer.Option(None, "--groups", help="Groups that must have members (a,b); one "
                                               "with none stops the audit."),
          models: str = typer.Option(DEFAULT_MODEL, "--models", help="Comma-separated model ids."),
          pipelines: Optional[str] = typer.Option(None, "--pipelines", help="Comma-separated pipelines (retriever "
                                                  "spec[+reranker]). Default: exact, and role with labels."),
          k: int = typer.Option(30, "--k", "-k", help="The top k that counts as selected."),
          corpus: Optional[Path] = CorpusOpt, queries: Optional[Path] = QueriesOpt, lang: str = LangOpt,
          n: int = NOpt, text_column: str = TextColOpt, query_column: str = QueryColOpt,
          label_column: str = LabelColOpt,
          rerank_top: int = typer.Option(20, "--rerank-top", help="How many hits each reranker reorders."),
          n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples of the queries."),
          as_json: bool = typer.Option(False, "--json", help="The audit as one JSON object."),
          output: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the Markdown report here."),
          device: str = DeviceOpt) -> None:
    """Audit each model x pipeline for bias: impact ratios (NYC Local Law 144), skew@k and NDKL per group."""
    from clusterank import (SearchPipeline, audit_lines, audit_pipelines, check_device, check_groups, get_reranker,
                            group_values, parse_pipelines, split_specs, using_device, with_name_gender)

    check_device(device)
    if k < 1:
        raise ClusterankError(f"--k must be at least 1, got {k}")
    table, inferred = with_name_gender(corpus_from_options(corpus, n, text_column, label_column), group)
    values = group_values(table.frame, group, table.source)  # a missing column fails before anything is embedded
    expected = [g for g in (groups or "").split(",") if g.strip()]
    check_groups(values, expected, f"{table.source} ({group})")
    names = split_specs(models)
    if not names:
        raise ClusterankError("--models: give at least one model id")
    specs = pipelines or ("exact,role" if table.labels is not None else "exact")
    qs = queries_from_options(queries, query_column, label_column, lang)
    audits = []
    with using_device(device):
        chosen = parse_pipelines(specs, get_reranker, rerank_top)
        for name in names:
            pipe = SearchPipeline(table, name, progress=not as_json, device=device)
            audits.append(audit_pipelines(pipe, qs, group, chosen, k, expected=expected, n_boot=n_boot))
    text = "\n".join(([inferred, ""] if inferred else []) + audit_lines(audits))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
    if as_json:
        first = audits[0].to_json()
        first["rows"] = [r for a in audits for r in a.to_json()["rows"]]
        first["group_inferred"] = inferred  # None when the corpus had the column
        out.print(json.dumps(first), soft_wrap=True)
        return
    out.print(text)
    if output is not None:
        out.print(f"wrote {output}")
